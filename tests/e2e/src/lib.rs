//! Shared helpers of the end-to-end tests (in `tests/`): the core's configuration for a running
//! reference cloud.

use roger_core::accounts::Accounts;
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

/// Signs `accounts` in to Microsoft (OneDrive) as `user`, playing the browser step.
pub async fn sign_in_microsoft(
    cloud: &CloudHandle,
    accounts: &Accounts,
    user: &str,
    password: &str,
) {
    let url = accounts.begin_microsoft_sign_in().await.unwrap();
    let redirect = cloud
        .identity()
        .browser_login(&url, user, password)
        .unwrap();
    accounts.complete_sign_in(redirect.as_str()).await.unwrap();
}

/// Signs `accounts` in to Roger in `region` as `user`, playing the browser step.
pub async fn sign_in_roger(
    cloud: &CloudHandle,
    accounts: &Accounts,
    region: &str,
    user: &str,
    password: &str,
) {
    let url = accounts.begin_sign_in(Some(region)).await.unwrap();
    let redirect = cloud
        .region(region)
        .unwrap()
        .browser_login(&url, user, password)
        .unwrap();
    accounts.complete_sign_in(redirect.as_str()).await.unwrap();
}

/// A retry policy with short waits for tests: enough attempts and total wait to ride out the
/// emulator's faults (a `Retry-After` of a few seconds included), without slowing a run down.
pub fn fast_retry() -> roger_core::onedrive::RetryPolicy {
    roger_core::onedrive::RetryPolicy {
        max_attempts: 8,
        max_total_wait: std::time::Duration::from_secs(20),
        base_backoff: std::time::Duration::from_millis(10),
        max_backoff: std::time::Duration::from_millis(100),
    }
}
