//! Property tests: the pairing payload parser never panics on arbitrary input and never accepts a
//! host that is not on the trusted list.

use proptest::prelude::*;
use roger_core::pairing::{
    parse_manual_entry, parse_pairing_payload, PairingPolicy, TrustedOrigin,
};

const TRUSTED: [&str; 2] = ["eu.roger.myq.cloud", "us.roger.myq.cloud"];

fn policy() -> PairingPolicy {
    PairingPolicy::new(vec![
        TrustedOrigin::https("eu", TRUSTED[0]),
        TrustedOrigin::https("us", TRUSTED[1]),
    ])
}

fn code_char() -> impl Strategy<Value = char> {
    prop::sample::select(
        "BCDFGHJKLMNPQRSTVWXZbcdfghjklmnpqrstvwxz"
            .chars()
            .collect::<Vec<_>>(),
    )
}

fn valid_code() -> impl Strategy<Value = String> {
    prop::collection::vec(code_char(), 8).prop_map(|c| {
        let s: String = c.into_iter().collect();
        format!("{}-{}", &s[..4], &s[4..])
    })
}

/// Hosts built to look like a trusted one: suffixes, prefixes, userinfo, ports, look-alike
/// characters, trailing dots, IP literals, case changes.
fn adversarial_host() -> impl Strategy<Value = String> {
    let base = prop::sample::select(TRUSTED.to_vec());
    let junk = "[a-z0-9.@:%\\-\\[\\]\\\\]{0,12}";
    (base, junk, junk, 0..12usize).prop_map(|(b, pre, post, kind)| match kind {
        0 => format!("{b}.{post}"),
        1 => format!("{pre}{b}"),
        2 => format!("{b}@{post}"),
        3 => format!("{pre}@{b}"),
        4 => format!("{b}:{post}"),
        5 => format!("{b}."),
        6 => b.replacen('e', "е", 1), // Cyrillic
        7 => b.replacen('o', "0", 1),
        8 => format!("{pre}{b}{post}"),
        9 => "127.0.0.1".to_string(),
        10 => format!("[{pre}]"),
        _ => b.to_uppercase(),
    })
}

fn accepted_host_is_trusted(input: &str) {
    if let Ok(p) = parse_pairing_payload(input, &policy()) {
        assert!(TRUSTED.contains(&p.origin.host.as_str()), "{input}");
        assert_eq!(p.user_code.raw().len(), 8);
        // The accepted text really names that host (case-insensitively) right after the scheme.
        let lower = input.trim().to_ascii_lowercase();
        let after = lower.strip_prefix("https://").expect("https only");
        let host_part = &after[..after.find('/').expect("path")];
        assert!(
            host_part == p.origin.host || host_part == format!("{}:443", p.origin.host),
            "{input}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,400}") {
        accepted_host_is_trusted(&s);
        let _ = parse_manual_entry(&s, "eu", &policy());
    }

    #[test]
    fn url_shaped_strings_never_panic(
        scheme in prop::sample::select(vec!["https://", "http://", "HTTPS://", "https:/", "https:\\\\", ""]),
        host in "[a-zA-Z0-9.@:\\[\\]%-]{0,30}",
        path in prop::sample::select(vec!["/pair", "/pair/", "/PAIR", "", "/", "//pair", "/pair\\"]),
        query in "[?&=a-zA-Z0-9%#-]{0,40}",
    ) {
        accepted_host_is_trusted(&format!("{scheme}{host}{path}{query}"));
    }

    #[test]
    fn adversarial_hosts_are_rejected(host in adversarial_host(), code in valid_code()) {
        let s = format!("https://{host}/pair?v=1&code={code}");
        let r = parse_pairing_payload(&s, &policy());
        let trusted = TRUSTED.iter().any(|t| t.eq_ignore_ascii_case(&host) || format!("{t}:443").eq_ignore_ascii_case(&host));
        prop_assert_eq!(r.is_ok(), trusted, "{}: {:?}", s, r);
    }

    #[test]
    fn valid_payloads_round_trip(idx in 0..2usize, code in valid_code(), swap in any::<bool>()) {
        let q = if swap { format!("code={code}&v=1") } else { format!("v=1&code={code}") };
        let s = format!("https://{}/pair?{q}", TRUSTED[idx]);
        let p = parse_pairing_payload(&s, &policy()).expect("valid payload");
        prop_assert_eq!(p.user_code.display(), code.to_uppercase());
        prop_assert_eq!(p.user_code.raw(), code.to_uppercase().replace('-', ""));
        // Manual entry of the same code gives the same result.
        let m = parse_manual_entry(&code, &p.region_id, &policy()).expect("typed code");
        prop_assert_eq!(m, p);
    }

    #[test]
    fn mutated_codes_never_accept_foreign_characters(code in "[A-Za-z0-9 _.-]{0,12}") {
        if let Ok(c) = roger_core::pairing::UserCode::parse(&code) {
            prop_assert!(c.raw().bytes().all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(&b)));
            prop_assert_eq!(c.raw().len(), 8);
        }
    }
}
