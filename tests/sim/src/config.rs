//! What the reference cloud serves: lifetimes, limits, regions, tenants, users and printers.
//!
//! [`SimConfig::default`] is a small realistic world (two regions, three tenants, a few users and
//! printers) that the tests and the demo share; every field is public so a test can change it.

use std::time::Duration;

use serde::Serialize;

pub use crate::microsoft::config::{
    MicrosoftConfig, FRAGMENT_UNIT, MICROSOFT_APP_REDIRECT_URI, MICROSOFT_CLIENT_ID,
    MICROSOFT_LOOPBACK_REDIRECT_URI,
};

/// Client id of the public client (the phone app and the desktop CLI).
pub const PUBLIC_CLIENT_ID: &str = "roger-mobile";
/// Redirect URI registered for the phone app (private-use scheme, RFC 8252 §7.1).
pub const APP_REDIRECT_URI: &str = "com.myq.roger:/oauth2redirect";
/// Loopback redirect URI registered for the CLI; any port is accepted (RFC 8252 §7.3).
pub const LOOPBACK_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// Everything the reference cloud needs to start.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Lifetimes of codes, tokens and jobs.
    pub lifetimes: Lifetimes,
    /// Rate limits on guessable inputs.
    pub rate_limits: RateLimits,
    /// Bounds on request sizes and stored counts.
    pub limits: Limits,
    /// The public client (phone app and CLI).
    pub public_client: PublicClient,
    /// Scan profiles offered in every region.
    pub scan_profiles: Vec<ScanProfile>,
    /// The regions, each served on its own loopback port.
    pub regions: Vec<RegionConfig>,
    /// PBKDF2 iterations for password hashes (kept low: this is a test server).
    pub password_hash_iterations: u32,
    /// Interval of the keep-alive comments on event streams.
    pub sse_keep_alive: Duration,
    /// Seeded printers that run a simulated MFP (started after the regions, on the cloud's
    /// clock). None by default, so tests that drive a printer's client by hand have it to
    /// themselves; [`crate::mfp::MfpConfig::seeded`] gives the demo's two.
    pub mfps: Vec<crate::mfp::MfpConfig>,
    /// The Microsoft identity and Graph OneDrive emulator.
    pub microsoft: MicrosoftConfig,
}

/// Lifetimes, in seconds, of everything that expires.
#[derive(Clone, Debug)]
pub struct Lifetimes {
    /// Access tokens (`expires_in`); the seed says about 20 minutes.
    pub access_token_secs: u64,
    /// Refresh tokens, sliding: counted again from each use; the seed says 3 months.
    pub refresh_token_secs: u64,
    /// Authorization codes.
    pub authorization_code_secs: u64,
    /// Device codes and their user codes (RFC 8628 `expires_in`).
    pub device_code_secs: u64,
    /// Minimum polling interval given to devices (RFC 8628 `interval`).
    pub device_poll_interval_secs: u64,
    /// The one-time session credential a printer trades in step 2.
    pub session_credential_secs: u64,
    /// Waiting print jobs expire this long after creation.
    pub job_expiry_secs: u64,
    /// Reuse grace of a rotated refresh token: presented again by the same client within this
    /// many seconds, while its successor is still unused, it gets the same new pair instead of
    /// revoking the family (the answer to the first presentation may have been lost). 0 is
    /// strict reuse detection.
    pub refresh_reuse_grace_secs: u64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access_token_secs: 20 * 60,
            refresh_token_secs: 90 * 24 * 3600,
            authorization_code_secs: 60,
            device_code_secs: 120,
            device_poll_interval_secs: 5,
            session_credential_secs: 60,
            job_expiry_secs: 7 * 24 * 3600,
            refresh_reuse_grace_secs: 30,
        }
    }
}

/// Rate limits.
#[derive(Clone, Debug)]
pub struct RateLimits {
    /// Wrong user codes a user may try per window before getting 429.
    pub pairing_misses: u32,
    /// The window of `pairing_misses`, in seconds.
    pub pairing_window_secs: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            pairing_misses: 5,
            pairing_window_secs: 60,
        }
    }
}

/// Bounds on input and stored state.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Most jobs a user may have that are not in a final state.
    pub max_open_jobs_per_user: usize,
    /// Most job ids in one release request.
    pub max_release_batch: usize,
    /// Events kept per region for `Last-Event-ID` resumption.
    pub event_backlog: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_open_jobs_per_user: 200,
            max_release_batch: 50,
            event_backlog: 512,
        }
    }
}

/// The registered public client.
#[derive(Clone, Debug)]
pub struct PublicClient {
    /// `client_id`.
    pub client_id: String,
    /// Name shown to users.
    pub name: String,
    /// Registered redirect URIs, matched exactly (a loopback one with any port).
    pub redirect_uris: Vec<String>,
}

/// A scan profile (what the server "checks" per the seed; the scan itself is the MFP's).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanProfile {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// File format: `pdf`, `jpeg`, `tiff`.
    pub format: String,
    /// Resolution in dots per inch.
    pub resolution_dpi: u32,
    /// `color`, `grayscale` or `monochrome`.
    pub color_mode: String,
    /// Both sides.
    pub duplex: bool,
}

/// One region (its own origin and issuer).
#[derive(Clone, Debug)]
pub struct RegionConfig {
    /// Short id, e.g. `eu`.
    pub id: String,
    /// Name shown to users, e.g. `Europe`.
    pub display_name: String,
    /// Tenants hosted in this region.
    pub tenants: Vec<TenantConfig>,
    /// A path for the region's OAuth issuer (e.g. `/o`), for servers whose issuer is not the bare
    /// origin. Its metadata is then published only where many deployed servers put it, appended
    /// to the issuer (`/o/.well-known/oauth-authorization-server`), not at the RFC 8414 §3.1
    /// inserted location. `None` (the default): the issuer is the region's API base URL.
    pub issuer_path: Option<String>,
}

/// A tenant (customer organisation).
#[derive(Clone, Debug)]
pub struct TenantConfig {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail domain of its users; the password grant finds the tenant by it.
    pub domain: String,
    /// Whether the legacy resource-owner password grant is allowed for its users.
    pub password_grant: bool,
    /// Its users.
    pub users: Vec<UserConfig>,
    /// Its printers, each a confidential OAuth client.
    pub printers: Vec<PrinterConfig>,
}

/// A user account.
#[derive(Clone, Debug)]
pub struct UserConfig {
    /// E-mail, also the login name.
    pub email: String,
    /// Full name.
    pub name: String,
    /// Password; the server stores only a hash of it.
    pub password: String,
}

/// A printer (MFP) registered in a tenant.
#[derive(Clone, Debug)]
pub struct PrinterConfig {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Model.
    pub model: String,
    /// Where it stands.
    pub location: String,
    /// Its OAuth `client_id`.
    pub client_id: String,
    /// Its OAuth `client_secret`; the server stores only a hash of it.
    pub client_secret: String,
    /// What it can do.
    pub capabilities: Capabilities,
}

/// Printer capabilities.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Prints in colour.
    pub color: bool,
    /// Prints on both sides.
    pub duplex: bool,
    /// Staples.
    pub staple: bool,
    /// Media sizes, e.g. `A4`.
    pub media_sizes: Vec<String>,
}

impl SimConfig {
    /// The region with this id.
    pub fn region(&self, id: &str) -> Option<&RegionConfig> {
        self.regions.iter().find(|r| r.id == id)
    }

    /// The region with this id, to change it.
    pub fn region_mut(&mut self, id: &str) -> Option<&mut RegionConfig> {
        self.regions.iter_mut().find(|r| r.id == id)
    }

    /// The tenant with this id in any region, to change it.
    pub fn tenant_mut(&mut self, id: &str) -> Option<&mut TenantConfig> {
        self.regions
            .iter_mut()
            .flat_map(|r| r.tenants.iter_mut())
            .find(|t| t.id == id)
    }
}

impl RegionConfig {
    /// The tenant with this id, to change it.
    pub fn tenant_mut(&mut self, id: &str) -> Option<&mut TenantConfig> {
        self.tenants.iter_mut().find(|t| t.id == id)
    }
}

fn user(email: &str, name: &str, password: &str) -> UserConfig {
    UserConfig {
        email: email.into(),
        name: name.into(),
        password: password.into(),
    }
}

fn printer(id: &str, name: &str, model: &str, location: &str, colour: bool) -> PrinterConfig {
    PrinterConfig {
        id: id.into(),
        name: name.into(),
        model: model.into(),
        location: location.into(),
        client_id: format!("mfp-{id}"),
        client_secret: format!("{id}-secret"),
        capabilities: Capabilities {
            color: colour,
            duplex: true,
            staple: colour,
            media_sizes: ["A4", "A3", "Letter"].map(String::from).to_vec(),
        },
    }
}

fn profile(id: &str, name: &str, format: &str, dpi: u32, color: &str, duplex: bool) -> ScanProfile {
    ScanProfile {
        id: id.into(),
        name: name.into(),
        format: format.into(),
        resolution_dpi: dpi,
        color_mode: color.into(),
        duplex,
    }
}

impl Default for SimConfig {
    /// The seeded world. Users and passwords (test data only):
    ///
    /// | region | tenant | password grant | users | printers |
    /// |---|---|---|---|---|
    /// | eu | contoso | no | alice@contoso.example / `alice-password`, bob@contoso.example / `bob-password` | `contoso-reception` (colour), `contoso-floor2` (mono) |
    /// | eu | fabrikam | yes | carol@fabrikam.example / `carol-password` | `fabrikam-lobby` |
    /// | us | northwind | yes | dave@northwind.example / `dave-password` | `northwind-hq` |
    ///
    /// Printer `X` has client id `mfp-X` and client secret `X-secret`.
    fn default() -> Self {
        Self {
            lifetimes: Lifetimes::default(),
            rate_limits: RateLimits::default(),
            limits: Limits::default(),
            public_client: PublicClient {
                client_id: PUBLIC_CLIENT_ID.into(),
                name: "Roger".into(),
                redirect_uris: vec![APP_REDIRECT_URI.into(), LOOPBACK_REDIRECT_URI.into()],
            },
            scan_profiles: vec![
                profile(
                    "document-pdf",
                    "Document PDF",
                    "pdf",
                    300,
                    "grayscale",
                    true,
                ),
                profile("photo-colour", "Photo colour", "jpeg", 600, "color", false),
                profile(
                    "archive-tiff",
                    "Archive TIFF",
                    "tiff",
                    400,
                    "monochrome",
                    true,
                ),
            ],
            regions: vec![
                RegionConfig {
                    id: "eu".into(),
                    display_name: "Europe".into(),
                    issuer_path: None,
                    tenants: vec![
                        TenantConfig {
                            id: "contoso".into(),
                            name: "Contoso Ltd".into(),
                            domain: "contoso.example".into(),
                            password_grant: false,
                            users: vec![
                                user("alice@contoso.example", "Alice Martin", "alice-password"),
                                user("bob@contoso.example", "Bob Dupont", "bob-password"),
                            ],
                            printers: vec![
                                printer(
                                    "contoso-reception",
                                    "Reception MFP",
                                    "MyQ-ready A3 colour MFP",
                                    "Dublin HQ, ground floor, reception",
                                    true,
                                ),
                                printer(
                                    "contoso-floor2",
                                    "Floor 2 MFP",
                                    "MyQ-ready A4 mono MFP",
                                    "Dublin HQ, 2nd floor, kitchen",
                                    false,
                                ),
                            ],
                        },
                        TenantConfig {
                            id: "fabrikam".into(),
                            name: "Fabrikam SARL".into(),
                            domain: "fabrikam.example".into(),
                            password_grant: true,
                            users: vec![user(
                                "carol@fabrikam.example",
                                "Carol Novak",
                                "carol-password",
                            )],
                            printers: vec![printer(
                                "fabrikam-lobby",
                                "Lobby MFP",
                                "MyQ-ready A3 colour MFP",
                                "Lyon office, lobby",
                                true,
                            )],
                        },
                    ],
                },
                RegionConfig {
                    id: "us".into(),
                    display_name: "United States".into(),
                    issuer_path: None,
                    tenants: vec![TenantConfig {
                        id: "northwind".into(),
                        name: "Northwind Traders".into(),
                        domain: "northwind.example".into(),
                        password_grant: true,
                        users: vec![user(
                            "dave@northwind.example",
                            "Dave Miller",
                            "dave-password",
                        )],
                        printers: vec![printer(
                            "northwind-hq",
                            "HQ MFP",
                            "MyQ-ready A3 colour MFP",
                            "Seattle HQ, 3rd floor",
                            true,
                        )],
                    }],
                },
            ],
            password_hash_iterations: 1_000,
            sse_keep_alive: Duration::from_secs(15),
            mfps: Vec::new(),
            microsoft: MicrosoftConfig::default(),
        }
    }
}
