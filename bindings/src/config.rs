//! The configuration record the host builds: every base URL and registration of the core.

use roger_core::Config;
use url::Url;

use crate::error::RogerError;

/// Everything the core needs to know about the services it talks to. Start from
/// [`production_config`] and change what your deployment needs.
#[derive(Debug, Clone, uniffi::Record)]
pub struct RogerConfig {
    /// Base URL of region discovery.
    pub discovery_url: String,
    /// A region fixed by managed configuration (MDM), if any.
    pub preset_region: Option<String>,
    /// The app's client id at the Roger authorization servers.
    pub roger_client_id: String,
    /// The app's registered redirect URI there (a private-use scheme).
    pub roger_redirect_uri: String,
    /// The Microsoft identity authority, e.g. `https://login.microsoftonline.com/organizations/v2.0`.
    pub microsoft_authority: String,
    /// The issuer its metadata must name (`{tenantid}` stands for any tenant).
    pub microsoft_expected_issuer: String,
    /// The app's client id at Microsoft.
    pub microsoft_client_id: String,
    /// The app's redirect URI at Microsoft.
    pub microsoft_redirect_uri: String,
    /// Base URL of Microsoft Graph, e.g. `https://graph.microsoft.com/v1.0/`.
    pub graph_url: String,
    /// The app's private data directory (install marker, pending after-print actions).
    pub app_data_dir: String,
    /// Allow plain HTTP to 127.0.0.1 / ::1: tests against a local reference cloud only.
    pub allow_insecure_loopback: bool,
}

/// The production services, with the app's private data directory. Set `microsoft_client_id`
/// to the app's own registration at Microsoft: the placeholder it carries is refused.
#[uniffi::export]
pub fn production_config(app_data_dir: String) -> RogerConfig {
    let c = Config::production();
    RogerConfig {
        discovery_url: c.discovery_url.to_string(),
        preset_region: c.preset_region,
        roger_client_id: c.roger.client_id,
        roger_redirect_uri: c.roger.redirect_uri.to_string(),
        microsoft_authority: c.microsoft.authority.to_string(),
        microsoft_expected_issuer: c.microsoft.expected_issuer,
        microsoft_client_id: c.microsoft.client.client_id,
        microsoft_redirect_uri: c.microsoft.client.redirect_uri.to_string(),
        graph_url: c.graph_url.to_string(),
        app_data_dir,
        allow_insecure_loopback: false,
    }
}

fn url(field: &str, value: &str) -> Result<Url, RogerError> {
    Url::parse(value).map_err(|e| RogerError::Configuration {
        detail: format!("{field}: {e}"),
    })
}

impl RogerConfig {
    /// The core's config, checked.
    pub(crate) fn into_core(self) -> Result<Config, RogerError> {
        if self.app_data_dir.trim().is_empty() {
            return Err(RogerError::Configuration {
                detail: "app_data_dir is required".into(),
            });
        }
        let mut c = Config::production();
        c.discovery_url = url("discovery_url", &self.discovery_url)?;
        c.preset_region = self.preset_region;
        c.roger.client_id = self.roger_client_id;
        c.roger.redirect_uri = url("roger_redirect_uri", &self.roger_redirect_uri)?;
        c.microsoft.authority = url("microsoft_authority", &self.microsoft_authority)?;
        c.microsoft.expected_issuer = self.microsoft_expected_issuer;
        c.microsoft.client.client_id = self.microsoft_client_id;
        c.microsoft.client.redirect_uri =
            url("microsoft_redirect_uri", &self.microsoft_redirect_uri)?;
        c.graph_url = url("graph_url", &self.graph_url)?;
        c.allow_insecure_loopback = self.allow_insecure_loopback;
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_round_trips_and_insecure_urls_are_refused() {
        assert!(matches!(
            production_config("/data".into()).into_core(),
            Err(RogerError::Configuration { detail }) if detail.contains("placeholder")
        ));
        let own = |dir: &str| RogerConfig {
            microsoft_client_id: "6731de76-14a6-49ae-97bc-6eba6914391e".into(),
            ..production_config(dir.into())
        };
        assert!(own("/data").into_core().is_ok());
        let mut c = own("/data");
        c.graph_url = "http://graph.example/v1.0/".into();
        assert!(matches!(
            c.into_core(),
            Err(RogerError::Configuration { .. })
        ));
        let mut c = own("/data");
        c.discovery_url = "not a url".into();
        assert!(matches!(
            c.into_core(),
            Err(RogerError::Configuration { detail }) if detail.starts_with("discovery_url")
        ));
        assert!(own(" ").into_core().is_err());
    }
}
