//! The one configuration record: every base URL, client registration, timeout and switch.

use std::time::Duration;
use url::Url;

use crate::error::ConfigError;
use crate::net::UrlPolicy;

/// Everything the core needs to know about the services it talks to.
///
/// [`Config::production`] points at the real hosts; tests and the demo point every URL at the
/// reference cloud on loopback and set [`Config::allow_insecure_loopback`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL of region discovery; the list is at `{discovery_url}regions`.
    pub discovery_url: Url,
    /// A region fixed by managed configuration (MDM); discovery is then only used to learn its URLs.
    pub preset_region: Option<String>,
    /// The phone app's registration at the Roger authorization servers.
    pub roger: OAuthClientConfig,
    /// The app's registration at the Microsoft identity platform (OneDrive).
    pub microsoft: MicrosoftConfig,
    /// Base URL of Microsoft Graph, e.g. `https://graph.microsoft.com/v1.0/`.
    pub graph_url: Url,
    /// Network timeouts.
    pub timeouts: Timeouts,
    /// How long a fetched region list is fresh before it is fetched again.
    pub region_cache_ttl: Duration,
    /// Refresh an access token this long before it expires (absorbs latency and clock skew).
    pub token_refresh_margin: Duration,
    /// Allow plain HTTP to 127.0.0.1 / ::1 (tests and the demo only). Everything else is HTTPS.
    pub allow_insecure_loopback: bool,
}

/// An OAuth 2.0 public client registration.
#[derive(Debug, Clone)]
pub struct OAuthClientConfig {
    /// The client id.
    pub client_id: String,
    /// The registered redirect URI (a private-use scheme on phones, loopback for the CLI).
    pub redirect_uri: Url,
    /// Scopes asked for at sign-in.
    pub scopes: Vec<String>,
}

/// The Microsoft identity platform and the app's registration there.
#[derive(Debug, Clone)]
pub struct MicrosoftConfig {
    /// The authority, e.g. `https://login.microsoftonline.com/organizations/v2.0`; its OpenID
    /// configuration is at `{authority}/.well-known/openid-configuration`.
    pub authority: Url,
    /// The issuer the metadata must name. Multi-tenant authorities publish the template
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`.
    pub expected_issuer: String,
    /// The app's registration.
    pub client: OAuthClientConfig,
}

/// Network timeouts for every request the core makes.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// Whole request, for API calls (not for streaming transfers).
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

/// Scopes the app asks Microsoft for: least privilege for the "Print" and "Scan" folders.
pub const GRAPH_SCOPES: [&str; 3] = ["Files.ReadWrite", "offline_access", "User.Read"];

/// Scopes the app asks Roger for.
pub const ROGER_SCOPES: [&str; 4] = ["print", "scan", "pair", "offline_access"];

fn parse_static(url: &str) -> Url {
    // Only called on the literals below, which are valid URLs.
    Url::parse(url).unwrap_or_else(|e| unreachable!("invalid built-in URL {url}: {e}"))
}

/// The Microsoft client id [`Config::production`] carries until the app sets its own
/// registration (Microsoft Entra admin center → App registrations). [`Config::validate`]
/// refuses it, so no build reaches users signing in as nobody's app.
pub const PLACEHOLDER_MICROSOFT_CLIENT_ID: &str = "00000000-0000-0000-0000-000000000000";

impl Config {
    /// The production services of the seed: discovery at `https://discovery.myq.cloud/`,
    /// Microsoft's multi-tenant authority and Graph v1.0. The app must set
    /// `microsoft.client.client_id` to its own registration before [`Config::validate`] passes.
    pub fn production() -> Self {
        Self {
            discovery_url: parse_static("https://discovery.myq.cloud/"),
            preset_region: None,
            roger: OAuthClientConfig {
                client_id: "roger-mobile".into(),
                redirect_uri: parse_static("com.myq.roger:/oauth2redirect"),
                scopes: ROGER_SCOPES.iter().map(|s| s.to_string()).collect(),
            },
            microsoft: MicrosoftConfig {
                authority: parse_static("https://login.microsoftonline.com/organizations/v2.0"),
                expected_issuer: "https://login.microsoftonline.com/{tenantid}/v2.0".into(),
                client: OAuthClientConfig {
                    client_id: PLACEHOLDER_MICROSOFT_CLIENT_ID.into(),
                    redirect_uri: parse_static("msauth.com.myq.roger://auth"),
                    scopes: GRAPH_SCOPES.iter().map(|s| s.to_string()).collect(),
                },
            },
            graph_url: parse_static("https://graph.microsoft.com/v1.0/"),
            timeouts: Timeouts::default(),
            region_cache_ttl: Duration::from_secs(24 * 3600),
            token_refresh_margin: Duration::from_secs(60),
            allow_insecure_loopback: false,
        }
    }

    /// The URL policy this config implies.
    pub fn url_policy(&self) -> UrlPolicy {
        UrlPolicy {
            allow_insecure_loopback: self.allow_insecure_loopback,
        }
    }

    /// Checks every URL against the policy (HTTPS, or loopback HTTP when allowed) and the
    /// registrations for obvious mistakes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let policy = self.url_policy();
        for (name, url) in [
            ("discovery_url", &self.discovery_url),
            ("microsoft.authority", &self.microsoft.authority),
            ("graph_url", &self.graph_url),
        ] {
            policy
                .check(url)
                .map_err(|reason| ConfigError::InsecureUrl {
                    field: name,
                    reason,
                })?;
        }
        for (name, client) in [
            ("roger", &self.roger),
            ("microsoft", &self.microsoft.client),
        ] {
            if client.client_id.trim().is_empty() {
                return Err(ConfigError::Missing { field: name });
            }
            if client.redirect_uri.fragment().is_some() {
                return Err(ConfigError::Invalid {
                    field: name,
                    reason: "a redirect URI must not have a fragment",
                });
            }
        }
        if self.microsoft.client.client_id.trim() == PLACEHOLDER_MICROSOFT_CLIENT_ID {
            return Err(ConfigError::Invalid {
                field: "microsoft client id",
                reason: "still the placeholder; set the app's own registration at Microsoft",
            });
        }
        if self.timeouts.connect.is_zero() || self.timeouts.request.is_zero() {
            return Err(ConfigError::Invalid {
                field: "timeouts",
                reason: "timeouts must be positive",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Production with the app's own Microsoft registration, as an app configures it.
    fn production() -> Config {
        let mut c = Config::production();
        c.microsoft.client.client_id = "6731de76-14a6-49ae-97bc-6eba6914391e".into();
        c
    }

    #[test]
    fn production_needs_the_apps_own_microsoft_client_id() {
        let err = Config::production().validate().unwrap_err();
        assert!(err.to_string().contains("placeholder"), "{err}");
        production().validate().unwrap();
    }

    #[test]
    fn production_config_is_valid_and_https_only() {
        let c = production();
        c.validate().unwrap();
        assert_eq!(c.discovery_url.scheme(), "https");
        assert!(!c.allow_insecure_loopback);
    }

    #[test]
    fn plain_http_is_refused_unless_loopback_is_explicitly_allowed() {
        let mut c = production();
        c.discovery_url = Url::parse("http://127.0.0.1:8080/").unwrap();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::InsecureUrl {
                field: "discovery_url",
                ..
            })
        ));
        c.allow_insecure_loopback = true;
        c.validate().unwrap();
        c.graph_url = Url::parse("http://example.com/").unwrap();
        assert!(c.validate().is_err());
    }

    #[test]
    fn graph_scopes_are_least_privilege() {
        let c = Config::production();
        assert_eq!(
            c.microsoft.client.scopes,
            ["Files.ReadWrite", "offline_access", "User.Read"]
        );
    }
}
