//! Validation of the authorization response the shell hands back after the browser step
//! (RFC 6749 §4.1.2, RFC 9207 `iss`, RFC 9700 §4.7 CSRF). Nothing is sent before it passes.

use url::Url;

use crate::error::SignInError;
use crate::secret::Secret;

/// Longest redirect URL accepted.
const MAX_REDIRECT_LEN: usize = 8 * 1024;

/// What the redirect must match.
#[derive(Debug)]
pub struct ExpectedRedirect<'a> {
    /// The registered redirect URI.
    pub redirect_uri: &'a Url,
    /// The `state` sent with the authorization request.
    pub state: &'a Secret,
    /// The issuer the request went to.
    pub issuer: &'a str,
    /// Whether the issuer always sends `iss` (its metadata says so).
    pub iss_required: bool,
}

/// A validated authorization response.
#[derive(Debug)]
pub struct AuthorizationResponse {
    /// The authorization code.
    pub code: Secret,
}

/// Whether `actual` is the expected issuer. Multi-tenant Microsoft authorities publish the
/// template `…/{tenantid}/v2.0`; there the placeholder stands for one tenant id segment
/// (letters, digits, `-`), nothing else.
pub fn issuer_matches(expected: &str, actual: &str) -> bool {
    match expected.split_once("{tenantid}") {
        None => expected == actual,
        Some((prefix, suffix)) => actual
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .is_some_and(|tenant| {
                !tenant.is_empty()
                    && tenant.len() <= 64
                    && tenant
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }),
    }
}

/// Checks the redirect: same redirect URI, matching `state`, matching `iss`, no `error`, a code.
pub fn check_redirect(
    redirect: &str,
    expected: &ExpectedRedirect<'_>,
) -> Result<AuthorizationResponse, SignInError> {
    if redirect.len() > MAX_REDIRECT_LEN {
        return Err(SignInError::RedirectMismatch);
    }
    let url = Url::parse(redirect).map_err(|_| SignInError::RedirectMismatch)?;
    let reg = expected.redirect_uri;
    let same_target = url.scheme() == reg.scheme()
        && url.host_str() == reg.host_str()
        && url.port_or_known_default() == reg.port_or_known_default()
        && url.path() == reg.path()
        && url.username().is_empty()
        && url.password().is_none();
    if !same_target {
        return Err(SignInError::RedirectMismatch);
    }
    let mut state = None;
    let mut code = None;
    let mut iss = None;
    let mut error = None;
    for (k, v) in url.query_pairs() {
        let slot = match k.as_ref() {
            "state" => &mut state,
            "code" => &mut code,
            "iss" => &mut iss,
            "error" => &mut error,
            _ => continue,
        };
        if slot.is_some() {
            // A repeated parameter is ambiguous: refuse rather than guess.
            return Err(SignInError::RedirectMismatch);
        }
        *slot = Some(v.into_owned());
    }
    match state {
        Some(s) if expected.state.ct_eq(&s) => {}
        _ => return Err(SignInError::StateMismatch),
    }
    match iss {
        Some(i) if issuer_matches(expected.issuer, &i) => {}
        Some(_) => return Err(SignInError::IssuerMismatch),
        None if expected.iss_required => return Err(SignInError::IssuerMismatch),
        None => {}
    }
    if let Some(e) = error {
        let e: String = e
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect();
        return Err(SignInError::Refused(e));
    }
    match code {
        Some(c) if !c.is_empty() && c.len() <= 2048 => Ok(AuthorizationResponse {
            code: Secret::new(c),
        }),
        _ => Err(SignInError::MissingCode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(redirect: &str) -> Result<AuthorizationResponse, SignInError> {
        let reg = Url::parse("com.myq.roger:/oauth2redirect").unwrap();
        let state = Secret::new("st4te");
        check_redirect(
            redirect,
            &ExpectedRedirect {
                redirect_uri: &reg,
                state: &state,
                issuer: "https://eu.roger.myq.cloud",
                iss_required: true,
            },
        )
    }

    #[test]
    fn tenant_templates_match_one_tenant_segment_only() {
        let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(issuer_matches(
            t,
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
        ));
        assert!(!issuer_matches(
            t,
            "https://login.microsoftonline.com//v2.0"
        ));
        assert!(!issuer_matches(
            t,
            "https://login.microsoftonline.com/a/b/v2.0"
        ));
        assert!(!issuer_matches(t, "https://evil.example/x/v2.0"));
        assert!(issuer_matches("https://as.example", "https://as.example"));
        assert!(!issuer_matches("https://as.example", "https://as.example/"));
    }

    #[test]
    fn accepts_the_matching_response() {
        let r = check("com.myq.roger:/oauth2redirect?code=abc&state=st4te&iss=https%3A%2F%2Feu.roger.myq.cloud").unwrap();
        assert_eq!(r.code.expose(), "abc");
    }

    #[test]
    fn rejects_each_kind_of_mismatch() {
        use SignInError::*;
        let iss = "iss=https%3A%2F%2Feu.roger.myq.cloud";
        let cases = [
            (format!("com.myq.roger:/other?code=a&state=st4te&{iss}"), RedirectMismatch),
            (format!("https://evil.example/oauth2redirect?code=a&state=st4te&{iss}"), RedirectMismatch),
            (format!("com.myq.roger:/oauth2redirect?code=a&state=wrong&{iss}"), StateMismatch),
            (format!("com.myq.roger:/oauth2redirect?code=a&{iss}"), StateMismatch),
            ("com.myq.roger:/oauth2redirect?code=a&state=st4te&iss=https%3A%2F%2Fus.roger.myq.cloud".into(), IssuerMismatch),
            ("com.myq.roger:/oauth2redirect?code=a&state=st4te".into(), IssuerMismatch),
            (format!("com.myq.roger:/oauth2redirect?state=st4te&{iss}"), MissingCode),
            (format!("com.myq.roger:/oauth2redirect?code=a&code=b&state=st4te&{iss}"), RedirectMismatch),
            (format!("com.myq.roger:/oauth2redirect?error=access_denied&state=st4te&{iss}"), Refused("access_denied".into())),
            ("not a url".into(), RedirectMismatch),
        ];
        for (url, want) in cases {
            assert_eq!(check(&url).unwrap_err(), want, "{url}");
        }
    }
}
