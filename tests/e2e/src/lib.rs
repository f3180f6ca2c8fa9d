//! Shared helpers of the end-to-end tests (in `tests/`): the core's configuration for a running
//! reference cloud.

use roger_core::Config;
use roger_sim::CloudHandle;

/// A core configuration whose every base URL points at `cloud` on loopback, with plain HTTP to
/// loopback explicitly allowed (the only place it is).
pub fn core_config(cloud: &CloudHandle) -> Config {
    let mut config = Config::production();
    config.discovery_url = cloud.discovery_url.clone();
    config.allow_insecure_loopback = true;
    config.microsoft.authority = cloud.identity().authority("organizations");
    config.microsoft.expected_issuer = format!("{}{{tenantid}}/v2.0", cloud.identity_url);
    config.microsoft.client.client_id = cloud.identity().client_id().to_owned();
    config.graph_url = cloud.graph_url.clone();
    config
}
