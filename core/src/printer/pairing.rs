//! Approving a printer's login from the phone (RFC 8628 §5.4): look the code up, show the user
//! what they approve, then approve or deny. Only a [`PairingPreview`] can be approved.

use std::time::{Duration, Instant, SystemTime};

use reqwest::Method;
use serde::Deserialize;

use super::api::{segment, RogerApi};
use super::error::{pairing_outcome, PairingError, PrinterError};
use super::model::{Printer, MAX_TEXT};
use crate::pairing::PairingPayload;

/// The organisation a printer belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// Name to show.
    pub name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Lookup {
    printer: Option<Printer>,
    tenant: Option<Tenant>,
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    expires_at: Option<String>,
    expires_in: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Decision {
    printer_id: String,
    status: String,
}

/// What the user is about to approve: show it, with the time left, and ask before approving.
/// It can be used once, by [`super::PrintService::approve`] or [`super::PrintService::deny`].
#[derive(Debug)]
pub struct PairingPreview {
    user_code: String,
    display_code: String,
    region_id: String,
    printer: Printer,
    tenant: Tenant,
    client_id: String,
    client_name: Option<String>,
    scopes: Vec<String>,
    expires_at: Option<SystemTime>,
    deadline: Instant,
}

impl PairingPreview {
    /// The code, as the printer shows it (`BCDF-GHJK`).
    pub fn display_code(&self) -> &str {
        &self.display_code
    }
    /// The region of the printer.
    pub fn region_id(&self) -> &str {
        &self.region_id
    }
    /// The printer asking to log in.
    pub fn printer(&self) -> &Printer {
        &self.printer
    }
    /// Its organisation.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }
    /// The printer's OAuth client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// The printer's client name, when the server gives one.
    pub fn client_name(&self) -> Option<&str> {
        self.client_name.as_deref()
    }
    /// What the printer asks to do (`jobs.release`, ...).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }
    /// When the code expires, as the server says (for display).
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
    /// Time left to approve, counted on this device's monotonic clock from the lookup.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
    /// Whether the code has run out.
    pub fn is_expired(&self) -> bool {
        self.remaining().is_zero()
    }
}

fn text_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_TEXT && !s.chars().any(char::is_control)
}

/// Refuses a payload of another region than the signed-in account's, before anything is sent.
async fn check_region(api: &RogerApi, payload: &PairingPayload) -> Result<(), PrinterError> {
    let region = api.accounts().signed_in_region().await?;
    if region.id != payload.region_id {
        return Err(PairingError::WrongRegion {
            code_region: payload.region_id.clone(),
            account_region: region.id,
        }
        .into());
    }
    Ok(())
}

/// Looks the code up: the printer, its tenant, what it asks for and the time left.
pub(crate) async fn preview(
    api: &RogerApi,
    payload: &PairingPayload,
) -> Result<PairingPreview, PrinterError> {
    check_region(api, payload).await?;
    let code = payload.user_code.raw().to_owned();
    let path = format!(
        "pairings/{}",
        segment(&code).ok_or(PairingError::UnknownCode)?
    );
    let started = Instant::now();
    let lookup: Lookup = api
        .get("looking up the pairing code", &path)
        .await
        .map_err(pairing_outcome)?;
    let invalid = |why: &str| {
        PrinterError::Core(crate::error::Error::invalid(
            "looking up the pairing code",
            why,
        ))
    };
    let printer = lookup.printer.ok_or_else(|| invalid("no printer"))?;
    let tenant = lookup.tenant.ok_or_else(|| invalid("no tenant"))?;
    if !text_ok(&lookup.client_id)
        || !text_ok(&tenant.id)
        || !text_ok(&tenant.name)
        || lookup.scopes.len() > 32
        || !lookup.scopes.iter().all(|s| text_ok(s))
        || lookup.client_name.as_deref().is_some_and(|n| !text_ok(n))
    {
        return Err(invalid(
            "a field is empty, too long or has control characters",
        ));
    }
    // RFC 8628 codes live minutes; a longer claim is capped rather than trusted.
    let left = Duration::from_secs(lookup.expires_in.min(3600));
    if left.is_zero() {
        return Err(PairingError::Expired.into());
    }
    Ok(PairingPreview {
        display_code: payload.user_code.display(),
        user_code: code,
        region_id: payload.region_id.clone(),
        printer,
        tenant,
        client_id: lookup.client_id,
        client_name: lookup.client_name,
        scopes: lookup.scopes,
        expires_at: lookup
            .expires_at
            .as_deref()
            .and_then(super::model::parse_time),
        deadline: started + left,
    })
}

/// Approves (`true`) or denies the previewed login.
pub(crate) async fn decide(
    api: &RogerApi,
    preview: PairingPreview,
    approve: bool,
) -> Result<(), PrinterError> {
    if preview.is_expired() {
        return Err(PairingError::Expired.into());
    }
    let verb = if approve { "approve" } else { "deny" };
    let context = if approve {
        "approving the printer login"
    } else {
        "denying the printer login"
    };
    let path = format!(
        "pairings/{}/{verb}",
        segment(&preview.user_code).ok_or(PairingError::UnknownCode)?
    );
    let decision: Decision = api
        .json(context, Method::POST, &path, Some(&serde_json::json!({})))
        .await
        .map_err(|e| match pairing_outcome(e) {
            // The preview proved the code existed: a server that forgets a code once it ran
            // out (RFC 8628 allows it) says "unknown" where the user needs "expired".
            PrinterError::Pairing(PairingError::UnknownCode) => PairingError::Expired.into(),
            other => other,
        })?;
    let expected = if approve { "approved" } else { "denied" };
    if decision.printer_id != preview.printer.id || decision.status != expected {
        return Err(PrinterError::Core(crate::error::Error::invalid(
            context,
            "the answer names another printer or decision",
        )));
    }
    Ok(())
}
