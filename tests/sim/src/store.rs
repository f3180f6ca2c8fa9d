//! Everything one region keeps, in memory: the records, the housekeeping that expires them, and
//! the dump of what is retained.
//!
//! Secrets (tokens, codes, client secrets, passwords) are stored only as hashes. Document content
//! never reaches the server; transfer URLs of a job or scan are dropped once it reaches a final state.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use serde::Serialize;

use crate::clock::SimTime;
use crate::config::{Capabilities, RegionConfig, SimConfig};
use crate::events::{EventLog, EventPayload};
use crate::oauth::IssuedTokens;
use crate::secret::{hash_password, new_id, SecretHash};

/// How long an expired device grant is kept so that polling and lookups can say "expired".
const EXPIRED_DEVICE_GRANT_GRACE: Duration = Duration::from_secs(600);
/// Release responses kept per user for idempotent replays.
const RELEASES_KEPT_PER_USER: usize = 100;

/// A customer organisation.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub domain: String,
    pub password_grant: bool,
}

/// A user account: e-mail, name and a password hash, nothing else.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
}

/// A printer and its client credentials (secret hashed).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Printer {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub model: String,
    pub location: String,
    pub client_id: String,
    pub client_secret_hash: SecretHash,
    pub capabilities: Capabilities,
}

/// Access or refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// On whose behalf a token acts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Subject {
    /// The user, through the phone app or CLI.
    #[serde(rename_all = "camelCase")]
    User { user_id: String },
    /// A printer, for the user of one printer session.
    #[serde(rename_all = "camelCase")]
    PrinterSession {
        printer_id: String,
        user_id: String,
        session_id: String,
    },
}

impl Subject {
    /// The user the token acts for.
    pub fn user_id(&self) -> &str {
        match self {
            Subject::User { user_id } | Subject::PrinterSession { user_id, .. } => user_id,
        }
    }

    /// The printer session the token is bound to, if any.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Subject::User { .. } => None,
            Subject::PrinterSession { session_id, .. } => Some(session_id),
        }
    }
}

/// An issued token, keyed by the hash of its value.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub kind: TokenKind,
    /// Tokens descending from one grant share a family; revoking it revokes them all.
    pub family_id: String,
    pub client_id: String,
    pub subject: Subject,
    pub scopes: BTreeSet<String>,
    pub issued_at: SimTime,
    pub expires_at: SimTime,
    /// A refresh token already exchanged; presenting it again revokes the family.
    pub rotated: bool,
}

/// An authorization code, keyed by its hash.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub user_id: String,
    pub scopes: BTreeSet<String>,
    pub expires_at: SimTime,
    /// Set when redeemed: the family a replay of the code revokes.
    pub redeemed_family: Option<String>,
}

/// Where a device authorization stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum DeviceStatus {
    Pending,
    #[serde(rename_all = "camelCase")]
    Approved {
        user_id: String,
    },
    Denied,
    /// Tokens were issued; the device code is spent.
    Consumed,
}

/// An RFC 8628 device authorization, keyed by the hash of its device code.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceGrant {
    pub printer_id: String,
    pub client_id: String,
    /// Normalised (no dash); the code a person reads is not a bearer secret on its own.
    pub user_code: String,
    pub scopes: BTreeSet<String>,
    pub expires_at: SimTime,
    pub interval_secs: u64,
    pub last_poll: Option<SimTime>,
    pub status: DeviceStatus,
}

/// The one-time credential of step 2, keyed by its hash; removed when used.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionCredential {
    pub session_id: String,
    pub printer_id: String,
    pub expires_at: SimTime,
}

/// A user logged in at a printer. Only active sessions are kept.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrinterSession {
    pub id: String,
    pub user_id: String,
    pub printer_id: String,
    pub started_at: SimTime,
    /// Scopes the printer holds in this session: `jobs.release`, then `jobs.submit` and `scan`.
    pub rights: BTreeSet<String>,
}

/// Print job states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JobState {
    Waiting,
    Releasing,
    Printing,
    Printed,
    Failed,
    Cancelled,
    Expired,
}

impl JobState {
    /// No further change is possible.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Printed | JobState::Failed | JobState::Cancelled | JobState::Expired
        )
    }
}

/// Duplex mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Duplex {
    #[default]
    None,
    LongEdge,
    ShortEdge,
}

/// Print options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobOptions {
    pub copies: u16,
    pub duplex: Duplex,
    pub color: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_ranges: Option<String>,
    /// Media size asked for, one of the printer's `mediaSizes` (checked at release).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<String>,
}

/// Where a job's document lives, so a client releasing it later can fetch a fresh download URL:
/// opaque OneDrive ids only, never a path or a name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSource {
    /// The OneDrive drive id, when the client gave it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::validate::present"
    )]
    pub drive_id: Option<String>,
    /// The OneDrive item id.
    pub item_id: String,
}

/// What the printer needs to fetch a job's document; dropped when the job is final.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTransfer {
    pub download_url: String,
    pub size: u64,
    pub content_type: String,
    pub source: Option<JobSource>,
}

/// A print job. The server keeps its file name; never its content.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub owner_id: String,
    pub file_name: String,
    pub options: JobOptions,
    pub state: JobState,
    pub created_at: SimTime,
    pub updated_at: SimTime,
    pub expires_at: SimTime,
    pub printer_id: Option<String>,
    pub session_id: Option<String>,
    pub failure_reason: Option<String>,
    pub transfer: Option<JobTransfer>,
}

/// Scan states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScanState {
    Requested,
    Scanning,
    Uploaded,
    Failed,
}

impl ScanState {
    /// No further change is possible.
    pub fn is_final(self) -> bool {
        matches!(self, ScanState::Uploaded | ScanState::Failed)
    }
}

/// Where the printer uploads a scan; dropped when the scan is final.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanTransfer {
    pub upload_url: String,
    pub file_name: Option<String>,
}

/// A scan request. Once final, the server keeps its timestamps only.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scan {
    pub id: String,
    pub owner_id: String,
    pub printer_id: String,
    pub session_id: String,
    pub profile_id: String,
    pub state: ScanState,
    pub requested_at: SimTime,
    pub updated_at: SimTime,
    pub failure_reason: Option<String>,
    pub transfer: Option<ScanTransfer>,
}

/// A stored release response, replayed for the same `clientRequestId`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRecord {
    /// Sorted job ids of the request.
    pub job_ids: Vec<String>,
    pub response: serde_json::Value,
    pub at: SimTime,
}

/// All state of one region.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    pub tenants: BTreeMap<String, Tenant>,
    pub users: BTreeMap<String, User>,
    pub printers: BTreeMap<String, Printer>,
    pub tokens: HashMap<SecretHash, TokenRecord>,
    pub auth_codes: HashMap<SecretHash, AuthCode>,
    pub device_grants: HashMap<SecretHash, DeviceGrant>,
    pub session_credentials: HashMap<SecretHash, SessionCredential>,
    pub sessions: BTreeMap<String, PrinterSession>,
    pub jobs: BTreeMap<String, Job>,
    /// user id → clientRequestId → stored response.
    pub releases: HashMap<String, BTreeMap<String, ReleaseRecord>>,
    pub scans: BTreeMap<String, Scan>,
    /// user id → times of wrong user codes within the rate-limit window.
    pub pairing_misses: HashMap<String, VecDeque<SimTime>>,
    pub events: EventLog,
    /// Rotated refresh token (hash) → the pair it was exchanged for, kept in the clear only for
    /// the reuse grace window so a repeated request gets the same answer. Never dumped.
    #[serde(skip)]
    pub rotation_grace: HashMap<SecretHash, RotationGrace>,
}

/// The answer to a refresh, kept for the reuse grace window.
#[derive(Debug, Clone)]
pub struct RotationGrace {
    pub until: SimTime,
    pub successor: IssuedTokens,
}

impl Store {
    /// A store seeded with the region's tenants, users and printers.
    pub fn seed(region: &RegionConfig, config: &SimConfig) -> Self {
        let mut store = Store {
            tenants: BTreeMap::new(),
            users: BTreeMap::new(),
            printers: BTreeMap::new(),
            tokens: HashMap::new(),
            auth_codes: HashMap::new(),
            device_grants: HashMap::new(),
            session_credentials: HashMap::new(),
            sessions: BTreeMap::new(),
            jobs: BTreeMap::new(),
            releases: HashMap::new(),
            scans: BTreeMap::new(),
            pairing_misses: HashMap::new(),
            events: EventLog::new(config.limits.event_backlog),
            rotation_grace: HashMap::new(),
        };
        for tenant in &region.tenants {
            store.tenants.insert(
                tenant.id.clone(),
                Tenant {
                    id: tenant.id.clone(),
                    name: tenant.name.clone(),
                    domain: tenant.domain.to_ascii_lowercase(),
                    password_grant: tenant.password_grant,
                },
            );
            for user in &tenant.users {
                let id = new_id("usr");
                store.users.insert(
                    id.clone(),
                    User {
                        id,
                        tenant_id: tenant.id.clone(),
                        email: user.email.to_ascii_lowercase(),
                        name: user.name.clone(),
                        password_hash: hash_password(
                            &user.password,
                            config.password_hash_iterations,
                        ),
                    },
                );
            }
            for printer in &tenant.printers {
                store.printers.insert(
                    printer.id.clone(),
                    Printer {
                        id: printer.id.clone(),
                        tenant_id: tenant.id.clone(),
                        name: printer.name.clone(),
                        model: printer.model.clone(),
                        location: printer.location.clone(),
                        client_id: printer.client_id.clone(),
                        client_secret_hash: SecretHash::of(&printer.client_secret),
                        capabilities: printer.capabilities.clone(),
                    },
                );
            }
        }
        store
    }

    /// The user with this e-mail (case-insensitive).
    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    /// The printer registered as this OAuth client.
    pub fn printer_by_client(&self, client_id: &str) -> Option<&Printer> {
        self.printers.values().find(|p| p.client_id == client_id)
    }

    /// The user's active printer session.
    pub fn session_of_user(&self, user_id: &str) -> Option<&PrinterSession> {
        self.sessions.values().find(|s| s.user_id == user_id)
    }

    /// Removes every token of a family.
    pub fn revoke_family(&mut self, family_id: &str) {
        self.tokens.retain(|_, t| t.family_id != family_id);
        self.rotation_grace
            .retain(|_, g| g.successor.family_id != family_id);
    }

    /// Expires what is due at `now` and forgets what is no longer needed.
    pub fn sweep(&mut self, now: SimTime, config: &SimConfig) {
        self.tokens.retain(|_, t| t.expires_at > now);
        self.rotation_grace.retain(|_, g| g.until > now);
        self.auth_codes.retain(|_, c| c.expires_at > now);
        self.session_credentials.retain(|_, c| c.expires_at > now);
        self.device_grants
            .retain(|_, g| g.expires_at.plus(EXPIRED_DEVICE_GRANT_GRACE) > now);
        let window = Duration::from_secs(config.rate_limits.pairing_window_secs);
        self.pairing_misses.retain(|_, misses| {
            while misses.front().is_some_and(|t| t.plus(window) <= now) {
                misses.pop_front();
            }
            !misses.is_empty()
        });
        let due: Vec<String> = self
            .jobs
            .values()
            .filter(|j| j.state == JobState::Waiting && j.expires_at <= now)
            .map(|j| j.id.clone())
            .collect();
        for id in due {
            self.set_job_state(&id, JobState::Expired, None, now);
        }
    }

    /// Moves a job to `state` (no legality check), drops its transfer data once final and
    /// emits the event.
    pub fn set_job_state(
        &mut self,
        id: &str,
        state: JobState,
        reason: Option<String>,
        now: SimTime,
    ) {
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        job.state = state;
        job.updated_at = now;
        if reason.is_some() {
            job.failure_reason = reason;
        }
        if state.is_final() {
            job.transfer = None;
        }
        let owner = job.owner_id.clone();
        let payload = EventPayload::Job {
            job_id: id.to_string(),
            state,
        };
        self.events.push(&owner, payload, now);
    }

    /// Moves a scan to `state` (no legality check), drops its transfer data once final and
    /// emits the event.
    pub fn set_scan_state(
        &mut self,
        id: &str,
        state: ScanState,
        reason: Option<String>,
        now: SimTime,
    ) {
        let Some(scan) = self.scans.get_mut(id) else {
            return;
        };
        scan.state = state;
        scan.updated_at = now;
        if reason.is_some() {
            scan.failure_reason = reason;
        }
        if state.is_final() {
            scan.transfer = None;
        }
        let owner = scan.owner_id.clone();
        let payload = EventPayload::Scan {
            scan_id: id.to_string(),
            state,
        };
        self.events.push(&owner, payload, now);
    }

    /// Keeps a release response for replays, bounded per user.
    pub fn remember_release(&mut self, user_id: &str, request_id: &str, record: ReleaseRecord) {
        let records = self.releases.entry(user_id.to_string()).or_default();
        records.insert(request_id.to_string(), record);
        while records.len() > RELEASES_KEPT_PER_USER {
            let oldest = records
                .iter()
                .min_by_key(|(_, r)| r.at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(key) => records.remove(&key),
                None => break,
            };
        }
    }

    /// Everything this store holds, as JSON: what the retention test audits.
    pub fn dump(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}
