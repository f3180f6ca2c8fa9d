//! Strict parsing of the printer's pairing QR payload.
//!
//! The MFP runs the OAuth 2.0 device authorization grant (RFC 8628) and shows its
//! `verification_uri_complete` as a QR code. The reference server emits exactly
//!
//! ```text
//! https://<region-host>/pair?v=1&code=XXXX-XXXX
//! ```
//!
//! where the user code is 8 characters from the RFC 8628 §6.1 alphabet `BCDFGHJKLMNPQRSTVWXZ`.
//! Anything a camera reads is untrusted: this module accepts only that shape, on an origin that is
//! on the trusted region list, and turns every rejection into a typed [`PayloadError`]. Parsing is
//! pure: no rejection (and no acceptance) sends a network request.
//!
//! The parser works on the raw text rather than through a general URL parser on purpose: URL
//! parsers repair their input (strip tabs and newlines, turn `\` into `/`, map Unicode hosts to
//! punycode, percent-decode), and each repair is a way to make an untrusted string look trusted.

use std::fmt;

/// Longest payload (in bytes) we look at. A real payload is under 64 bytes; anything much longer
/// is some other QR code, and refusing it early bounds the work done on untrusted input.
pub const MAX_PAYLOAD_LEN: usize = 256;

/// Longest typed user code (in bytes, separators and spaces included) accepted by manual entry.
pub const MAX_TYPED_CODE_LEN: usize = 32;

/// RFC 8628 §6.1 user-code alphabet: base-20 consonants, no vowels (no accidental words), no
/// look-alike characters.
pub const USER_CODE_ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

/// Number of characters of a user code (without separators).
pub const USER_CODE_LEN: usize = 8;

/// The only payload version this build understands (`v=1`).
pub const PAYLOAD_VERSION: u32 = 1;

/// URL scheme of a trusted origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `https`, the only scheme accepted in production.
    Https,
    /// `http`, accepted only for loopback origins when [`PairingPolicy::allow_insecure_loopback`]
    /// is set (tests against the local reference server).
    Http,
}

impl Scheme {
    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }
}

/// One trusted Roger region origin (from region discovery or managed configuration).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrustedOrigin {
    /// Region identifier, e.g. `eu`.
    pub region_id: String,
    /// URL scheme.
    pub scheme: Scheme,
    /// Host name, lower-case ASCII, e.g. `eu.roger.myq.cloud`; `127.0.0.1` or `[::1]` for loopback.
    pub host: String,
    /// Port, `None` for the scheme's default port.
    pub port: Option<u16>,
}

impl TrustedOrigin {
    /// An `https` origin on the default port.
    pub fn https(region_id: impl Into<String>, host: impl Into<String>) -> Self {
        TrustedOrigin {
            region_id: region_id.into(),
            scheme: Scheme::Https,
            host: canonical_host(host.into()),
            port: None,
        }
    }

    /// A plain-HTTP loopback origin (`127.0.0.1` or `[::1]`), for the local reference server.
    /// Accepted only when the policy allows insecure loopback.
    pub fn loopback_http(region_id: impl Into<String>, host: impl Into<String>, port: u16) -> Self {
        TrustedOrigin {
            region_id: region_id.into(),
            scheme: Scheme::Http,
            host: canonical_host(host.into()),
            port: Some(port),
        }
    }

    fn effective_port(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }

    /// The origin as a URL prefix, e.g. `https://eu.roger.myq.cloud` or `http://127.0.0.1:8080`.
    pub fn to_url(&self) -> String {
        match self.port {
            Some(p) if p != self.scheme.default_port() => {
                format!("{}://{}:{}", self.scheme.as_str(), self.host, p)
            }
            _ => format!("{}://{}", self.scheme.as_str(), self.host),
        }
    }

    fn is_loopback(&self) -> bool {
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    }
}

/// A host as a parsed URL spells it: lower case, IPv6 literals bracketed and compressed
/// (`::1`, `[0:0::1]` → `[::1]`), so a configured origin matches what a payload's URL holds.
fn canonical_host(host: String) -> String {
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::Ipv6Addr>() {
        Ok(ip) => format!("[{ip}]"),
        Err(_) => host.trim().to_ascii_lowercase(),
    }
}

impl fmt::Display for TrustedOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_url())
    }
}

/// Which origins a pairing payload may point at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairingPolicy {
    /// The trusted region origins. A payload must match one exactly (scheme, host, port).
    pub trusted: Vec<TrustedOrigin>,
    /// Accept `http://127.0.0.1:<port>` and `http://[::1]:<port>` origins that are in
    /// [`trusted`](Self::trusted). Off in production; tests against the loopback reference server
    /// turn it on explicitly.
    pub allow_insecure_loopback: bool,
}

impl PairingPolicy {
    /// A production policy over the given origins (no insecure loopback).
    pub fn new(trusted: Vec<TrustedOrigin>) -> Self {
        PairingPolicy {
            trusted,
            allow_insecure_loopback: false,
        }
    }

    /// The trusted origin of a region, if it is on the list and usable under this policy.
    pub fn origin_for_region(&self, region_id: &str) -> Option<&TrustedOrigin> {
        self.trusted
            .iter()
            .find(|o| o.region_id == region_id && self.usable(o))
    }

    /// Whether a configured origin may be used at all under this policy: `https` with a DNS host
    /// name, or `http` on loopback with the switch on. IP literals are never trusted otherwise.
    fn usable(&self, o: &TrustedOrigin) -> bool {
        match o.scheme {
            Scheme::Https => is_dns_host(&o.host),
            Scheme::Http => self.allow_insecure_loopback && o.is_loopback() && o.port.is_some(),
        }
    }
}

/// A validated, normalised RFC 8628 user code.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserCode {
    raw: [u8; USER_CODE_LEN],
}

impl UserCode {
    /// Normalises and validates a user code per RFC 8628 §6.1: case-insensitive, `-` and spaces
    /// ignored, exactly [`USER_CODE_LEN`] characters from [`USER_CODE_ALPHABET`].
    pub fn parse(input: &str) -> Result<UserCode, PayloadError> {
        if input.len() > MAX_TYPED_CODE_LEN {
            return Err(PayloadError::Malformed(MalformedReason::UserCode));
        }
        let mut raw = [0u8; USER_CODE_LEN];
        let mut n = 0;
        for b in input.bytes() {
            if b == b'-' || b == b' ' {
                continue;
            }
            let up = b.to_ascii_uppercase();
            if !USER_CODE_ALPHABET.as_bytes().contains(&up) || n == USER_CODE_LEN {
                return Err(PayloadError::Malformed(MalformedReason::UserCode));
            }
            raw[n] = up;
            n += 1;
        }
        if n != USER_CODE_LEN {
            return Err(PayloadError::Malformed(MalformedReason::UserCode));
        }
        Ok(UserCode { raw })
    }

    /// The code as sent to the server: 8 upper-case characters, no separator (`BCDFGHJK`).
    pub fn raw(&self) -> &str {
        // The bytes come from the ASCII alphabet only.
        std::str::from_utf8(&self.raw).unwrap_or_default()
    }

    /// The code as shown to the user: two groups of four (`BCDF-GHJK`).
    pub fn display(&self) -> String {
        let r = self.raw();
        format!("{}-{}", &r[..4], &r[4..])
    }
}

impl fmt::Debug for UserCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The code is a short-lived credential: keep it out of debug logs.
        f.write_str("UserCode(****-****)")
    }
}

/// A validated pairing payload: where to approve, and which code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingPayload {
    /// Region of the trusted origin the payload points at.
    pub region_id: String,
    /// The trusted origin (scheme, host, port) the payload points at.
    pub origin: TrustedOrigin,
    /// The normalised user code.
    pub user_code: UserCode,
    /// Payload format version (`v`); always [`PAYLOAD_VERSION`] for an accepted payload.
    pub version: u32,
}

/// Why a payload (or a typed code) was refused. Every variant means: no request was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not an `http(s)` URL to `/pair`: some other QR code (a web site, Wi-Fi credentials, text).
    #[error("this QR code is not a Roger pairing code")]
    NotARogerCode,
    /// A pairing URL whose origin is not one of the trusted Roger region origins.
    #[error("this QR code points at a host that is not a trusted Roger server")]
    UntrustedHost,
    /// A pairing URL on a trusted origin whose parameters or user code are wrong.
    #[error("the pairing code is malformed ({0})")]
    Malformed(MalformedReason),
    /// A pairing URL of a format version this app does not know (an app update may be needed).
    #[error("unsupported pairing code version {version}")]
    UnsupportedVersion {
        /// The version the payload announced.
        version: u32,
    },
}

/// What exactly was malformed (for logs and tests; the UI treats them alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedReason {
    /// A missing query, a fragment, or parameters other than exactly `v` and `code`.
    #[error("unexpected query parameters")]
    Parameters,
    /// `v` is not a small decimal number.
    #[error("bad version parameter")]
    Version,
    /// The user code is not 8 characters of the RFC 8628 alphabet.
    #[error("bad user code")]
    UserCode,
    /// Characters no pairing URL contains (control characters, spaces, percent-escapes, non-ASCII).
    #[error("unexpected characters")]
    Characters,
    /// The typed region is not on the trusted list.
    #[error("unknown region")]
    Region,
}

/// Parses and validates a scanned pairing payload against the trusted origins of `policy`.
///
/// Accepts exactly `https://<trusted-host>[:<trusted-port>]/pair?v=1&code=<user code>` (the two
/// parameters in either order); scheme and host are case-insensitive, the user code is normalised
/// per RFC 8628 §6.1. Surrounding ASCII whitespace (a trailing newline in the QR text) is ignored.
pub fn parse_pairing_payload(
    input: &str,
    policy: &PairingPolicy,
) -> Result<PairingPayload, PayloadError> {
    if input.len() > MAX_PAYLOAD_LEN {
        return Err(PayloadError::NotARogerCode);
    }
    let s = input.trim_matches(|c: char| c.is_ascii_whitespace());

    // Scheme.
    let (scheme, rest) = if let Some(rest) = strip_prefix_ci(s, "https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = strip_prefix_ci(s, "http://") {
        (Scheme::Http, rest)
    } else {
        return Err(PayloadError::NotARogerCode);
    };

    // Authority ends at the first '/', '?' or '#'. A '\' is not a separator here (URL parsers
    // treat it as '/' for http(s)); it simply stays in the authority and fails the host match.
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(auth_end);

    // Path must be exactly /pair.
    let path_end = after.find(['?', '#']).unwrap_or(after.len());
    let (path, after_path) = after.split_at(path_end);
    if path != "/pair" {
        return Err(PayloadError::NotARogerCode);
    }

    let origin = match_origin(scheme, authority, policy)?;

    // Only printable ASCII from here on (no spaces, controls, non-ASCII look-alikes).
    if !after_path.bytes().all(|b| b.is_ascii_graphic()) || after_path.contains('%') {
        return Err(PayloadError::Malformed(MalformedReason::Characters));
    }
    if after_path.contains('#') {
        return Err(PayloadError::Malformed(MalformedReason::Parameters));
    }
    let query = after_path
        .strip_prefix('?')
        .ok_or(PayloadError::Malformed(MalformedReason::Parameters))?;

    let mut version: Option<&str> = None;
    let mut code: Option<&str> = None;
    for pair in query.split('&') {
        let (key, value) = pair
            .split_once('=')
            .ok_or(PayloadError::Malformed(MalformedReason::Parameters))?;
        let slot = match key {
            "v" => &mut version,
            "code" => &mut code,
            _ => return Err(PayloadError::Malformed(MalformedReason::Parameters)),
        };
        if slot.replace(value).is_some() {
            return Err(PayloadError::Malformed(MalformedReason::Parameters));
        }
    }
    let version = version.ok_or(PayloadError::Malformed(MalformedReason::Parameters))?;
    let version = parse_version(version)?;
    if version != PAYLOAD_VERSION {
        return Err(PayloadError::UnsupportedVersion { version });
    }
    let code = code.ok_or(PayloadError::Malformed(MalformedReason::Parameters))?;
    // In the URL only '-' separates groups (a space would have been rejected above).
    let user_code = UserCode::parse(code)?;

    Ok(PairingPayload {
        region_id: origin.region_id.clone(),
        origin: origin.clone(),
        user_code,
        version,
    })
}

/// Typed fallback when the camera fails: the user types the code shown under the QR.
///
/// `region_id` is the region the user is signed in to. The code goes through the same
/// normalisation and validation as a scanned one, and the origin must be on the trusted list. If
/// the user pasted a whole pairing URL instead of a code, it is parsed as a scanned payload.
pub fn parse_manual_entry(
    typed: &str,
    region_id: &str,
    policy: &PairingPolicy,
) -> Result<PairingPayload, PayloadError> {
    let typed = typed.trim_matches(|c: char| c.is_ascii_whitespace());
    if typed.contains("://") {
        return parse_pairing_payload(typed, policy);
    }
    let user_code = UserCode::parse(typed)?;
    let origin = policy
        .origin_for_region(region_id)
        .ok_or(PayloadError::Malformed(MalformedReason::Region))?;
    Ok(PairingPayload {
        region_id: origin.region_id.clone(),
        origin: origin.clone(),
        user_code,
        version: PAYLOAD_VERSION,
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

fn parse_version(v: &str) -> Result<u32, PayloadError> {
    if v.is_empty() || v.len() > 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PayloadError::Malformed(MalformedReason::Version));
    }
    v.parse()
        .map_err(|_| PayloadError::Malformed(MalformedReason::Version))
}

/// Matches the authority (`host[:port]`) of a payload against the usable trusted origins.
fn match_origin<'p>(
    scheme: Scheme,
    authority: &str,
    policy: &'p PairingPolicy,
) -> Result<&'p TrustedOrigin, PayloadError> {
    // Userinfo ('@'), non-ASCII (IDN look-alikes), escapes and controls never match.
    if authority.is_empty()
        || !authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    {
        return Err(PayloadError::UntrustedHost);
    }
    let (host, port) = split_host_port(authority).ok_or(PayloadError::UntrustedHost)?;
    let port = port.unwrap_or(scheme.default_port());
    policy
        .trusted
        .iter()
        .find(|o| {
            o.scheme == scheme
                && policy.usable(o)
                && o.host.eq_ignore_ascii_case(host)
                && o.effective_port() == port
        })
        .ok_or(PayloadError::UntrustedHost)
}

/// Splits `host[:port]` / `[v6]:port`; `None` on an empty or invalid port.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (h, rest) = authority.split_at(end + 1);
        match rest {
            "" => (h, None),
            _ => (h, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(p.parse::<u16>().ok()?)
        }
    };
    Some((host, port))
}

/// A DNS host name (not an IP literal): dot-separated LDH labels, the last one not all digits,
/// no trailing dot.
fn is_dns_host(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let ldh = labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    let last_numeric = labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    ldh && !last_numeric && labels.len() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_corpus_draws_user_codes_from_the_pairing_alphabet() {
        assert_eq!(roger_qr::corpus::USER_CODE_ALPHABET, USER_CODE_ALPHABET);
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(7);
        for _ in 0..50 {
            let payload = roger_qr::corpus::random_payload(&mut rng);
            assert!(
                parse_pairing_payload(&payload, &policy()).is_ok(),
                "{payload}"
            );
        }
    }

    fn policy() -> PairingPolicy {
        PairingPolicy::new(vec![
            TrustedOrigin::https("eu", "eu.roger.myq.cloud"),
            TrustedOrigin::https("us", "us.roger.myq.cloud"),
        ])
    }

    fn loopback_policy(allow: bool) -> PairingPolicy {
        PairingPolicy {
            trusted: vec![
                TrustedOrigin::loopback_http("local", "127.0.0.1", 8443),
                TrustedOrigin::loopback_http("local6", "[::1]", 9000),
            ],
            allow_insecure_loopback: allow,
        }
    }

    #[test]
    fn accepts_reference_payload() {
        let p = parse_pairing_payload(
            "https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK",
            &policy(),
        )
        .unwrap();
        assert_eq!(p.region_id, "eu");
        assert_eq!(p.origin.to_url(), "https://eu.roger.myq.cloud");
        assert_eq!(p.user_code.raw(), "BCDFGHJK");
        assert_eq!(p.user_code.display(), "BCDF-GHJK");
        assert_eq!(p.version, 1);
    }

    #[test]
    fn normalises_code_and_case() {
        for s in [
            "HTTPS://US.Roger.MyQ.Cloud/pair?v=1&code=bcdf-ghjk",
            "https://us.roger.myq.cloud/pair?code=BCDFGHJK&v=1",
            "https://us.roger.myq.cloud:443/pair?v=1&code=b-c-d-f-g-h-j-k",
            "  https://us.roger.myq.cloud/pair?v=1&code=BCDF-GHJK\r\n",
        ] {
            let p = parse_pairing_payload(s, &policy()).unwrap();
            assert_eq!(p.region_id, "us", "{s}");
            assert_eq!(p.user_code.raw(), "BCDFGHJK", "{s}");
        }
    }

    #[test]
    fn not_a_roger_code() {
        for s in [
            "",
            "hello",
            "WIFI:S:net;T:WPA;P:secret;;",
            "ftp://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK",
            "javascript:alert(1)",
            "https://eu.roger.myq.cloud/",
            "https://eu.roger.myq.cloud/pair/?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud/Pair?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud/pairing?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud/x/../pair?v=1&code=BCDF-GHJK",
            "https://example.com/",
            "eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK",
        ] {
            assert_eq!(
                parse_pairing_payload(s, &policy()),
                Err(PayloadError::NotARogerCode),
                "{s}"
            );
        }
        let long = format!(
            "https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK&{}",
            "a".repeat(300)
        );
        assert_eq!(
            parse_pairing_payload(&long, &policy()),
            Err(PayloadError::NotARogerCode)
        );
    }

    #[test]
    fn untrusted_hosts() {
        for s in [
            "https://evil.com/pair?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud.evil.com/pair?v=1&code=BCDF-GHJK",
            "https://evil-eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK",
            "https://xeu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK",
            "https://roger.myq.cloud/pair?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud@evil.com/pair?v=1&code=BCDF-GHJK",
            "https://user:pw@eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud./pair?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud:8443/pair?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud:/pair?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud:99999/pair?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud:+443/pair?v=1&code=BCDF-GHJK",
            "https://еu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK", // Cyrillic 'е'
            "https://eu.roger.myq.cloud%2eevil.com/pair?v=1&code=BCDF-GHJK",
            "https://xn--u-0tb.roger.myq.cloud/pair?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud\\@evil.com/pair?v=1&code=BCDF-GHJK",
            "https://93.184.216.34/pair?v=1&code=BCDF-GHJK",
            "https://[::1]/pair?v=1&code=BCDF-GHJK",
            "https://127.0.0.1/pair?v=1&code=BCDF-GHJK",
            "https:///pair?v=1&code=BCDF-GHJK",
            "http://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud\t/pair?v=1&code=BCDF-GHJK",
        ] {
            assert_eq!(
                parse_pairing_payload(s, &policy()),
                Err(PayloadError::UntrustedHost),
                "{s}"
            );
        }
    }

    #[test]
    fn malformed() {
        for s in [
            "https://eu.roger.myq.cloud/pair",
            "https://eu.roger.myq.cloud/pair?",
            "https://eu.roger.myq.cloud/pair?v=1",
            "https://eu.roger.myq.cloud/pair?code=BCDF-GHJK",
            "https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJ",
            "https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJKL",
            "https://eu.roger.myq.cloud/pair?v=1&code=ABCD-EFGH",
            "https://eu.roger.myq.cloud/pair?v=1&code=BCDF GHJK",
            "https://eu.roger.myq.cloud/pair?v=1&code=BCDF%2DGHJK",
            "https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK&x=1",
            "https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud/pair?v=1&v=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud/pair?v=1&code=BCDF-GHJK#frag",
            "https://eu.roger.myq.cloud/pair?v=1&&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud/pair?v=one&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud/pair?v=&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud/pair?v=-1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud/pair?V=1&code=BCDF-GHJK",
            "https://eu.roger.myq.cloud/pair?v=1&code=ＢCDF-GHJK",
        ] {
            assert!(
                matches!(
                    parse_pairing_payload(s, &policy()),
                    Err(PayloadError::Malformed(_))
                ),
                "{s}: {:?}",
                parse_pairing_payload(s, &policy())
            );
        }
    }

    #[test]
    fn unsupported_version() {
        assert_eq!(
            parse_pairing_payload(
                "https://eu.roger.myq.cloud/pair?v=2&code=BCDF-GHJK",
                &policy()
            ),
            Err(PayloadError::UnsupportedVersion { version: 2 })
        );
        // The version is checked before the code: a v2 code may have another shape.
        assert_eq!(
            parse_pairing_payload(
                "https://eu.roger.myq.cloud/pair?v=2&code=whatever",
                &policy()
            ),
            Err(PayloadError::UnsupportedVersion { version: 2 })
        );
    }

    #[test]
    fn loopback_only_when_allowed() {
        let s = "http://127.0.0.1:8443/pair?v=1&code=BCDF-GHJK";
        let s6 = "http://[::1]:9000/pair?v=1&code=BCDF-GHJK";
        assert_eq!(
            parse_pairing_payload(s, &loopback_policy(false)),
            Err(PayloadError::UntrustedHost)
        );
        assert_eq!(
            parse_pairing_payload(s6, &loopback_policy(false)),
            Err(PayloadError::UntrustedHost)
        );
        let p = parse_pairing_payload(s, &loopback_policy(true)).unwrap();
        assert_eq!(p.region_id, "local");
        assert_eq!(p.origin.to_url(), "http://127.0.0.1:8443");
        assert_eq!(
            parse_pairing_payload(s6, &loopback_policy(true))
                .unwrap()
                .region_id,
            "local6"
        );
        // However the configuration spells the IPv6 loopback, it is the one in the payload.
        for spelled in ["::1", "[0:0::1]", " [::1] "] {
            let policy = PairingPolicy {
                trusted: vec![TrustedOrigin::loopback_http("local6", spelled, 9000)],
                allow_insecure_loopback: true,
            };
            assert!(parse_pairing_payload(s6, &policy).is_ok(), "{spelled}");
        }
        for bad in [
            "http://127.0.0.1:8444/pair?v=1&code=BCDF-GHJK",
            "http://127.0.0.1/pair?v=1&code=BCDF-GHJK",
            "https://127.0.0.1:8443/pair?v=1&code=BCDF-GHJK",
            "http://127.0.0.2:8443/pair?v=1&code=BCDF-GHJK",
            "http://localhost:8443/pair?v=1&code=BCDF-GHJK",
            "http://[::1]:8443/pair?v=1&code=BCDF-GHJK",
            "http://[::1]9000/pair?v=1&code=BCDF-GHJK",
        ] {
            assert_eq!(
                parse_pairing_payload(bad, &loopback_policy(true)),
                Err(PayloadError::UntrustedHost),
                "{bad}"
            );
        }
        // A non-loopback http origin on the list is never usable.
        let mut p = policy();
        p.allow_insecure_loopback = true;
        p.trusted.push(TrustedOrigin {
            region_id: "x".into(),
            scheme: Scheme::Http,
            host: "x.roger.myq.cloud".into(),
            port: Some(80),
        });
        assert_eq!(
            parse_pairing_payload("http://x.roger.myq.cloud/pair?v=1&code=BCDF-GHJK", &p),
            Err(PayloadError::UntrustedHost)
        );
    }

    #[test]
    fn configured_non_default_port() {
        let mut p = policy();
        p.trusted.push(TrustedOrigin {
            region_id: "lab".into(),
            scheme: Scheme::Https,
            host: "lab.roger.myq.cloud".into(),
            port: Some(8443),
        });
        assert!(parse_pairing_payload(
            "https://lab.roger.myq.cloud:8443/pair?v=1&code=BCDF-GHJK",
            &p
        )
        .is_ok());
        assert_eq!(
            parse_pairing_payload("https://lab.roger.myq.cloud/pair?v=1&code=BCDF-GHJK", &p),
            Err(PayloadError::UntrustedHost)
        );
    }

    #[test]
    fn manual_entry() {
        let p = parse_manual_entry(" bcdf ghjk ", "eu", &policy()).unwrap();
        assert_eq!(p.user_code.display(), "BCDF-GHJK");
        assert_eq!(p.origin.host, "eu.roger.myq.cloud");
        assert_eq!(
            parse_manual_entry("BCDF-GHJ", "eu", &policy()),
            Err(PayloadError::Malformed(MalformedReason::UserCode))
        );
        assert_eq!(
            parse_manual_entry("BCDF-GHJK", "mars", &policy()),
            Err(PayloadError::Malformed(MalformedReason::Region))
        );
        assert_eq!(
            parse_manual_entry("https://evil.com/pair?v=1&code=BCDF-GHJK", "eu", &policy()),
            Err(PayloadError::UntrustedHost)
        );
        assert_eq!(
            parse_manual_entry(&"B".repeat(100), "eu", &policy()),
            Err(PayloadError::Malformed(MalformedReason::UserCode))
        );
    }

    #[test]
    fn debug_does_not_leak_code() {
        let c = UserCode::parse("BCDF-GHJK").unwrap();
        assert!(!format!("{c:?}").contains("BCDF"));
    }
}
