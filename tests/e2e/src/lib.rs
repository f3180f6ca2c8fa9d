//! Shared helpers of the end-to-end tests (in `tests/`): the core's configuration for a running
//! reference cloud.

use roger_core::Config;
use roger_sim::CloudHandle;
use url::Url;

/// A core configuration whose every base URL points at `cloud` on loopback, with plain HTTP to
/// loopback explicitly allowed (the only place it is).
pub fn core_config(cloud: &CloudHandle) -> Config {
    let mut config = Config::production();
    config.discovery_url = cloud.discovery_url.clone();
    config.allow_insecure_loopback = true;
    // Until the Microsoft identity emulator joins the cloud: a closed loopback port.
    if let Ok(url) = Url::parse("http://127.0.0.1:9/organizations/v2.0") {
        config.microsoft.authority = url;
    }
    if let Ok(url) = Url::parse("http://127.0.0.1:9/v1.0/") {
        config.graph_url = url;
    }
    config
}
