//! Which deployment the client talks to: production by default, or what a settings file and
//! the command line say (a staging deployment, the reference cloud on loopback).
//!
//! The settings file is TOML; every field is optional and falls back to production:
//!
//! ```toml
//! discovery_url = "https://discovery.myq.cloud/"
//! region = "eu"                      # a fixed region (skips the choice at login)
//! allow_insecure_loopback = false    # plain HTTP to 127.0.0.1 / ::1 (the reference cloud only)
//! graph_url = "https://graph.microsoft.com/v1.0/"
//!
//! [roger]
//! client_id = "roger-mobile"
//!
//! [microsoft]
//! authority = "https://login.microsoftonline.com/organizations/v2.0"
//! expected_issuer = "https://login.microsoftonline.com/{tenantid}/v2.0"
//! client_id = "..."
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use url::Url;

use roger_core::Config;

use crate::failure::{Exit, Failure};

/// The loopback redirect registered for the desktop client at both authorization servers. The
/// port is left out: RFC 8252 §7.3 has the server accept any port, and the client picks a free
/// one for each sign-in.
pub const LOOPBACK_REDIRECT: &str = "http://127.0.0.1/callback";

/// The contents of a settings file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Base URL of region discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<Url>,
    /// A fixed region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Plain HTTP to loopback addresses (the reference cloud only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_loopback: bool,
    /// Base URL of Microsoft Graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_url: Option<Url>,
    /// The Roger registration.
    #[serde(default, skip_serializing_if = "RogerSettings::is_empty")]
    pub roger: RogerSettings,
    /// The Microsoft registration.
    #[serde(default, skip_serializing_if = "MicrosoftSettings::is_empty")]
    pub microsoft: MicrosoftSettings,
}

/// The client's registration at the Roger authorization servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RogerSettings {
    /// The client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl RogerSettings {
    fn is_empty(&self) -> bool {
        self.client_id.is_none()
    }
}

/// The Microsoft identity platform and the client's registration there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MicrosoftSettings {
    /// The authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<Url>,
    /// The issuer its metadata must name (`{tenantid}` as a template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_issuer: Option<String>,
    /// The client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl MicrosoftSettings {
    fn is_empty(&self) -> bool {
        self.authority.is_none() && self.expected_issuer.is_none() && self.client_id.is_none()
    }
}

impl Settings {
    /// Reads a settings file.
    pub fn read(path: &Path) -> Result<Self, Failure> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::new(
                Exit::Usage,
                format!("Cannot read the settings file {}: {e}.", path.display()),
            )
        })?;
        toml::from_str(&text).map_err(|e| {
            Failure::new(
                Exit::Usage,
                format!(
                    "The settings file {} is not valid: {}; fix it or leave it out.",
                    path.display(),
                    e.message()
                ),
            )
        })
    }

    /// Writes the settings as TOML.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = toml::to_string(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    /// The core's configuration: production, overridden by these settings. The redirect URIs
    /// are the loopback ones of the desktop registration.
    pub fn config(&self) -> Result<Config, Failure> {
        let mut config = Config::production();
        let loopback = Url::parse(LOOPBACK_REDIRECT)
            .map_err(|e| Failure::new(Exit::Failure, format!("Internal error: {e}.")))?;
        config.roger.redirect_uri = loopback.clone();
        config.microsoft.client.redirect_uri = loopback;
        if let Some(url) = &self.discovery_url {
            config.discovery_url = with_trailing_slash(url.clone());
        }
        config.preset_region = self.region.clone();
        config.allow_insecure_loopback = self.allow_insecure_loopback;
        if let Some(url) = &self.graph_url {
            config.graph_url = with_trailing_slash(url.clone());
        }
        if let Some(id) = &self.roger.client_id {
            config.roger.client_id = id.clone();
        }
        if let Some(authority) = &self.microsoft.authority {
            config.microsoft.authority = authority.clone();
        }
        if let Some(issuer) = &self.microsoft.expected_issuer {
            config.microsoft.expected_issuer = issuer.clone();
        }
        if let Some(id) = &self.microsoft.client_id {
            config.microsoft.client.client_id = id.clone();
        }
        config.validate().map_err(|e| {
            Failure::new(
                Exit::Usage,
                format!("The deployment settings are refused: {e}."),
            )
        })?;
        Ok(config)
    }

    /// The settings that point at a running reference cloud.
    #[cfg(feature = "demo")]
    pub fn for_reference_cloud(cloud: &roger_sim::CloudHandle) -> Self {
        let config = roger_e2e::core_config(cloud);
        Self {
            discovery_url: Some(config.discovery_url),
            region: None,
            allow_insecure_loopback: true,
            graph_url: Some(config.graph_url),
            roger: RogerSettings { client_id: None },
            microsoft: MicrosoftSettings {
                authority: Some(config.microsoft.authority),
                expected_issuer: Some(config.microsoft.expected_issuer),
                client_id: Some(config.microsoft.client.client_id),
            },
        }
    }
}

fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// Where the client keeps its files for one deployment: a directory per discovery origin, so
/// production and a test deployment never share state.
pub fn profile_dir(base: Option<&Path>, config: &Config) -> Result<PathBuf, Failure> {
    let base = match base {
        Some(dir) => dir.to_path_buf(),
        None => directories::ProjectDirs::from("cloud", "myq", "roger")
            .map(|d| d.data_dir().to_path_buf())
            .ok_or_else(|| {
                Failure::new(
                    Exit::Usage,
                    "No home directory is known; pass --data-dir.".to_owned(),
                )
            })?,
    };
    Ok(base.join(deployment_name(config)))
}

/// A file-name-safe name of the deployment, e.g. `discovery.myq.cloud` or `127.0.0.1_41234`.
pub fn deployment_name(config: &Config) -> String {
    let url = &config.discovery_url;
    let mut name = url.host_str().unwrap_or("deployment").to_owned();
    if let Some(port) = url.port() {
        name.push('_');
        name.push_str(&port.to_string());
    }
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deployment's own Microsoft registration, which every usable settings file names.
    const OWN_MICROSOFT: &str =
        "[microsoft]\nclient_id = \"6731de76-14a6-49ae-97bc-6eba6914391e\"\n";

    fn parse(top: &str) -> Settings {
        toml::from_str(&format!("{top}\n{OWN_MICROSOFT}")).unwrap()
    }

    #[test]
    fn the_placeholder_microsoft_registration_is_refused() {
        let settings: Settings = toml::from_str("").unwrap();
        let failure = settings.config().unwrap_err();
        assert_eq!(failure.exit, Exit::Usage);
    }

    #[test]
    fn an_empty_file_is_production_with_loopback_redirects() {
        let config = parse("").config().unwrap();
        assert_eq!(
            config.discovery_url.as_str(),
            "https://discovery.myq.cloud/"
        );
        assert_eq!(config.roger.redirect_uri.as_str(), LOOPBACK_REDIRECT);
        assert!(!config.allow_insecure_loopback);
        assert_eq!(deployment_name(&config), "discovery.myq.cloud");
    }

    #[test]
    fn plain_http_needs_the_loopback_switch() {
        let failure = parse("discovery_url = \"http://127.0.0.1:8080\"")
            .config()
            .unwrap_err();
        assert_eq!(failure.exit, Exit::Usage);
        let config =
            parse("discovery_url = \"http://127.0.0.1:8080\"\nallow_insecure_loopback = true")
                .config()
                .unwrap();
        assert_eq!(config.discovery_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(deployment_name(&config), "127.0.0.1_8080");
        // The switch never opens plain HTTP to another host.
        assert!(
            parse("discovery_url = \"http://example.com/\"\nallow_insecure_loopback = true")
                .config()
                .is_err()
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(toml::from_str::<Settings>("discovery = \"https://x/\"").is_err());
    }

    #[test]
    fn written_settings_read_back() {
        let settings = Settings {
            discovery_url: Some(Url::parse("https://d.example/").unwrap()),
            region: Some("eu".into()),
            microsoft: MicrosoftSettings {
                client_id: Some("abc".into()),
                ..MicrosoftSettings::default()
            },
            ..Settings::default()
        };
        let dir = std::env::temp_dir().join(format!("roger-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.toml");
        settings.write(&path).unwrap();
        assert_eq!(Settings::read(&path).unwrap(), settings);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
