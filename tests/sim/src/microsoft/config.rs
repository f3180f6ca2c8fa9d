//! What the Microsoft identity and Graph emulator serves: the app registration, lifetimes and
//! the OneDrive limits it enforces.

/// Application (client) id of the Roger public client in the emulated Microsoft directory
/// (one registration for the phone app and the desktop CLI, like a real Entra app).
pub const MICROSOFT_CLIENT_ID: &str = "4f6b6e8a-52c1-4d0e-9a7b-6f2d3c1e0b57";
/// Redirect URI of the phone app in the Microsoft registration (MSAL's `msauth.<bundle id>://auth`).
pub const MICROSOFT_APP_REDIRECT_URI: &str = "msauth.com.myq.roger://auth";
/// Loopback redirect URI of the CLI; any port is accepted.
pub const MICROSOFT_LOOPBACK_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// 320 KiB: upload-session fragments must be multiples of it (except the last).
pub const FRAGMENT_UNIT: u64 = 320 * 1024;

/// The Microsoft identity platform and Graph OneDrive emulator.
#[derive(Clone, Debug)]
pub struct MicrosoftConfig {
    /// The public client's application id.
    pub client_id: String,
    /// Its registered redirect URIs, matched exactly (the loopback one with any port).
    pub redirect_uris: Vec<String>,
    /// Access tokens (`expires_in` and `ext_expires_in`). Microsoft's default is 60–90 minutes,
    /// 75 on average: the emulator uses a fixed value.
    pub access_token_secs: u64,
    /// Refresh tokens expire after this much inactivity (sliding, AADSTS700082).
    pub refresh_token_secs: u64,
    /// Authorization codes (Microsoft: about 10 minutes).
    pub authorization_code_secs: u64,
    /// Pre-authenticated download URLs (`@microsoft.graph.downloadUrl`, the `/content` redirect).
    pub download_url_secs: u64,
    /// Upload sessions expire this long after creation or after their last fragment.
    pub upload_session_secs: u64,
    /// Largest body of a simple upload (`PUT …/content`): Graph documents 250 MB.
    pub simple_upload_max_bytes: u64,
    /// Fragments must be smaller than this (Graph: "less than 60 MiB").
    pub max_fragment_bytes: u64,
    /// Largest file the emulator stores (it keeps bytes in memory).
    pub max_file_bytes: u64,
    /// Each user's drive quota.
    pub drive_quota_bytes: u64,
    /// Page size of children listings without `$top` (Graph: 200).
    pub default_page_size: usize,
    /// Largest accepted `$top` (OneDrive: 1000).
    pub max_page_size: usize,
}

impl Default for MicrosoftConfig {
    fn default() -> Self {
        Self {
            client_id: MICROSOFT_CLIENT_ID.into(),
            redirect_uris: vec![
                MICROSOFT_APP_REDIRECT_URI.into(),
                MICROSOFT_LOOPBACK_REDIRECT_URI.into(),
            ],
            access_token_secs: 75 * 60,
            refresh_token_secs: 90 * 24 * 3600,
            authorization_code_secs: 600,
            download_url_secs: 3600,
            upload_session_secs: 3600,
            simple_upload_max_bytes: 250_000_000,
            max_fragment_bytes: 60 * 1024 * 1024,
            max_file_bytes: 512 * 1024 * 1024,
            drive_quota_bytes: 1 << 40,
            default_page_size: 200,
            max_page_size: 1000,
        }
    }
}

impl MicrosoftConfig {
    /// Refuses values the emulator cannot work with.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.client_id.is_empty() || self.redirect_uris.is_empty() {
            return Err(
                "the Microsoft app registration needs a client id and a redirect URI".into(),
            );
        }
        if self.default_page_size == 0 || self.max_page_size < self.default_page_size {
            return Err("Microsoft page sizes must be 1 <= default <= max".into());
        }
        if self.max_fragment_bytes <= FRAGMENT_UNIT {
            return Err("the fragment limit must exceed 320 KiB".into());
        }
        let lifetimes = [
            self.access_token_secs,
            self.refresh_token_secs,
            self.authorization_code_secs,
            self.download_url_secs,
            self.upload_session_secs,
        ];
        if lifetimes.contains(&0) {
            return Err("Microsoft lifetimes must be positive".into());
        }
        Ok(())
    }
}
