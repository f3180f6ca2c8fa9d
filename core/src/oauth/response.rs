//! The token response (RFC 6749 §5.1) as deployed servers send it: lifetimes as numbers or as
//! numeric strings (`"3599"`), `token_type` in any case, `scope` as a space-delimited string or
//! an array. A field that cannot be understood is dropped with a warning instead of making the
//! whole response unparsable, because a 200 may carry a rotated refresh token that must not be
//! lost.

use std::time::Duration;

use oauth2::basic::BasicTokenType;
use oauth2::{AccessToken, RefreshToken, Scope, TokenResponse};
use serde::{Deserialize, Deserializer, Serialize};

use crate::secret::Secret;

/// A successful token response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TokenBody {
    access_token: AccessToken,
    #[serde(default = "bearer", deserialize_with = "token_type")]
    token_type: BasicTokenType,
    #[serde(default, deserialize_with = "seconds")]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
    #[serde(default, rename = "scope", deserialize_with = "scopes")]
    scopes: Option<Vec<Scope>>,
    /// Lifetime of the refresh token in seconds (Roger, and Microsoft for some clients).
    #[serde(default, deserialize_with = "seconds")]
    pub(super) refresh_token_expires_in: Option<u64>,
}

impl TokenResponse for TokenBody {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

/// `Bearer` in any case (RFC 6749 §5.1: case-insensitive); other types are kept as named.
fn token_type<'de, D: Deserializer<'de>>(d: D) -> Result<BasicTokenType, D::Error> {
    let name = String::deserialize(d)?;
    Ok(match name.to_ascii_lowercase().as_str() {
        "bearer" => BasicTokenType::Bearer,
        "mac" => BasicTokenType::Mac,
        _ => BasicTokenType::Extension(name),
    })
}

/// A non-negative number of seconds: a JSON integer, a whole-valued float, or a string of
/// digits. Anything else is treated as absent (with a warning), never as a parse failure.
fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let parsed = match &value {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0)
                // Saturating float-to-int conversion: huge values become u64::MAX, clamped later.
                .map(|f| f as u64)
        }),
        serde_json::Value::String(s) => {
            let s = s.trim();
            (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
        }
        _ => None,
    };
    if parsed.is_none() {
        tracing::warn!("ignoring a token lifetime that is not a number of seconds");
    }
    Ok(parsed)
}

/// `scope` as RFC 6749's space-delimited string, or as an array of strings (sent by some
/// servers); anything else is treated as absent.
fn scopes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Scope>>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let names: Option<Vec<String>> = match value {
        serde_json::Value::String(s) => {
            Some(s.split_ascii_whitespace().map(str::to_owned).collect())
        }
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    };
    Ok(names.map(|n| n.into_iter().map(Scope::new).collect()))
}

/// The refresh token of a 200 response that could not be parsed as a whole (say, without an
/// access token): the server may have rotated, so the new refresh token must still be kept.
pub(super) fn salvage_refresh_token(body: &[u8]) -> Option<Secret> {
    #[derive(Deserialize)]
    struct Salvage {
        refresh_token: String,
    }
    let salvage: Salvage = serde_json::from_slice(body).ok()?;
    let token = salvage.refresh_token;
    let plausible = !token.is_empty() && token.len() <= 8 * 1024 && token.is_ascii();
    plausible.then(|| Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> TokenBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn lifetimes_as_numbers_strings_or_whole_floats() {
        for (expires_in, want) in [
            ("3599", Some(3599)),
            ("\"3599\"", Some(3599)),
            ("\" 3599 \"", Some(3599)),
            ("3599.0", Some(3599)),
            ("null", None),
            ("\"soon\"", None),
            ("-5", None),
            ("1.5", None),
            ("\"99999999999999999999999\"", None),
            ("{}", None),
        ] {
            let body = parse(&format!(
                r#"{{"access_token":"a","token_type":"bearer","expires_in":{expires_in},"refresh_token_expires_in":{expires_in}}}"#
            ));
            assert_eq!(body.expires_in, want, "{expires_in}");
            assert_eq!(body.refresh_token_expires_in, want, "{expires_in}");
        }
    }

    #[test]
    fn token_type_any_case_and_scope_as_string_or_array() {
        let body = parse(r#"{"access_token":"a","token_type":"BEARER","scope":"a b  c"}"#);
        assert_eq!(body.token_type, BasicTokenType::Bearer);
        let names = |b: &TokenBody| {
            b.scopes
                .as_ref()
                .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(names(&body).unwrap(), ["a", "b", "c"]);
        let body = parse(r#"{"access_token":"a","token_type":"Bearer","scope":["x","y"]}"#);
        assert_eq!(names(&body).unwrap(), ["x", "y"]);
        let body = parse(r#"{"access_token":"a"}"#);
        assert_eq!(body.token_type, BasicTokenType::Bearer);
        assert!(body.scopes.is_none() && body.refresh_token.is_none());
    }

    #[test]
    fn a_refresh_token_is_salvaged_from_an_otherwise_broken_answer() {
        let salvaged = salvage_refresh_token(br#"{"refresh_token":"rt-2","expires_in":[]}"#);
        assert_eq!(salvaged.unwrap().expose(), "rt-2");
        assert!(salvage_refresh_token(b"<html>").is_none());
        assert!(salvage_refresh_token(br#"{"refresh_token":""}"#).is_none());
        assert!(salvage_refresh_token(br#"{"refresh_token":7}"#).is_none());
    }
}
