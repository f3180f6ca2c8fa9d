//! The trusted origins of pairing payloads come from region discovery: a QR code is accepted
//! only when it points at the API origin of a region the discovery list names.

use url::Host;

use super::payload::{PairingPolicy, Scheme, TrustedOrigin};
use crate::discovery::Region;
use crate::net::is_loopback;

/// The pairing policy implied by a (validated) region list. HTTPS regions are trusted by host
/// name and port; plain-HTTP loopback regions only when `allow_insecure_loopback` is set.
pub fn policy_from_regions(regions: &[Region], allow_insecure_loopback: bool) -> PairingPolicy {
    let trusted = regions
        .iter()
        .filter_map(|r| {
            let url = &r.api_url;
            let host = match url.host()? {
                Host::Domain(d) => d.to_ascii_lowercase(),
                Host::Ipv4(ip) => ip.to_string(),
                // As a payload's authority spells it: bracketed.
                Host::Ipv6(ip) => format!("[{ip}]"),
            };
            match url.scheme() {
                "https" => Some(TrustedOrigin {
                    region_id: r.id.clone(),
                    scheme: Scheme::Https,
                    host,
                    port: url.port(),
                }),
                "http" if is_loopback(url) => Some(TrustedOrigin {
                    region_id: r.id.clone(),
                    scheme: Scheme::Http,
                    host,
                    port: url.port_or_known_default(),
                }),
                _ => None,
            }
        })
        .collect();
    PairingPolicy {
        trusted,
        allow_insecure_loopback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairing::{parse_pairing_payload, PayloadError};
    use url::Url;

    fn region(id: &str, api: &str) -> Region {
        Region {
            id: id.into(),
            display_name: id.into(),
            api_url: Url::parse(api).unwrap(),
            issuer: api.trim_end_matches('/').into(),
            events_url: Url::parse("amqps://eu.amqp.myq.cloud").unwrap(),
        }
    }

    #[test]
    fn discovered_regions_are_the_only_trusted_hosts() {
        let regions = [
            region("eu", "https://eu.roger.myq.cloud/"),
            region("us", "https://us.roger.myq.cloud/"),
        ];
        let policy = policy_from_regions(&regions, false);
        let ok = parse_pairing_payload(
            "https://us.roger.myq.cloud/pair?v=1&code=BCDF-GHJK",
            &policy,
        )
        .unwrap();
        assert_eq!(ok.region_id, "us");
        assert_eq!(
            parse_pairing_payload(
                "https://eu.roger.myq.cloud.evil.example/pair?v=1&code=BCDF-GHJK",
                &policy
            ),
            Err(PayloadError::UntrustedHost)
        );
    }

    #[test]
    fn loopback_regions_need_the_switch() {
        let regions = [region("eu", "http://127.0.0.1:41234/")];
        let payload = "http://127.0.0.1:41234/pair?v=1&code=BCDF-GHJK";
        assert!(parse_pairing_payload(payload, &policy_from_regions(&regions, true)).is_ok());
        assert!(parse_pairing_payload(payload, &policy_from_regions(&regions, false)).is_err());
    }

    #[test]
    fn an_ipv6_loopback_region_is_trusted_like_an_ipv4_one() {
        let regions = [region("eu", "http://[::1]:41235/")];
        let payload = "http://[::1]:41235/pair?v=1&code=BCDF-GHJK";
        let parsed = parse_pairing_payload(payload, &policy_from_regions(&regions, true)).unwrap();
        assert_eq!(parsed.origin.to_url(), "http://[::1]:41235");
        assert!(parse_pairing_payload(payload, &policy_from_regions(&regions, false)).is_err());
    }
}
