//! The printer login: device authorization grant (RFC 8628) with a QR code on screen, then
//! step 2 (the session credential traded for `jobs.submit scan`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::client::{CallError, Tokens};
use super::qr::QrModules;
use super::{Command, Ctx, MfpState, QrDisplay};

/// RFC 8628 §3.5: `slow_down` adds 5 seconds to the interval.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// RFC 8628 §3.2: the default interval when the server gives none.
const DEFAULT_INTERVAL_SECS: u64 = 5;
/// The MFP never polls faster than this, whatever the server says.
const MIN_INTERVAL_SECS: u64 = 1;
/// Longest code lifetime the MFP believes.
const MAX_CODE_LIFETIME_SECS: u64 = 3600;
/// Longest interval the MFP believes.
const MAX_INTERVAL_SECS: u64 = 300;
/// Step-2 scopes.
const STEP2_SCOPE: &str = "jobs.submit scan";

/// A logged-in printer session.
pub(crate) struct Session {
    pub id: String,
    /// Step 1 (`jobs.release`).
    pub release: Tokens,
    /// Step 2 (`jobs.submit scan`), if it succeeded.
    pub submit: Option<Tokens>,
}

impl Session {
    pub(crate) fn rights(&self) -> Vec<String> {
        let mut rights = vec!["jobs.release".to_string()];
        if self.submit.is_some() {
            rights.extend(["jobs.submit".to_string(), "scan".to_string()]);
        }
        rights
    }
}

/// How one code ended.
enum CodeOutcome {
    /// Approved: the step-1 token response.
    Approved(super::client::Granted),
    /// Expired, denied or unusable: take a new code.
    NewCode,
}

/// Shows codes until one is approved, then does step 2. `Ok(None)` when the handle is gone;
/// `Err` for a failure worth a pause (wrong credentials, server unreachable).
pub(crate) async fn login(
    ctx: &Ctx,
    commands: &mut mpsc::Receiver<Command>,
    early_polls: &mut u32,
) -> Result<Option<Session>, String> {
    let mut transient = 0u32;
    loop {
        let auth = match ctx.api.device_authorization().await {
            Ok(auth) => auth,
            Err(CallError::Transport(e)) if transient < ctx.config.max_retries => {
                transient += 1;
                tracing::debug!(error = %e, "device authorization: retrying");
                if !ctx
                    .pause(Duration::from_secs(1 << transient.min(5)), commands)
                    .await
                {
                    return Ok(None);
                }
                continue;
            }
            Err(e) => return Err(format!("device authorization: {e}")),
        };
        transient = 0;
        let outcome = match show_and_poll(ctx, commands, early_polls, auth).await? {
            Some(outcome) => outcome,
            None => return Ok(None),
        };
        let granted = match outcome {
            CodeOutcome::Approved(granted) => granted,
            CodeOutcome::NewCode => continue,
        };
        let Some(session_id) = granted.session_id.clone() else {
            return Err("device grant succeeded without roger_session_id".into());
        };
        let submit = match &granted.session_credential {
            Some(credential) => step2(ctx, &session_id, credential).await,
            None => None,
        };
        return Ok(Some(Session {
            id: session_id,
            release: granted.tokens,
            submit,
        }));
    }
}

/// Shows one code and polls until it is approved, expires or is denied. `Ok(None)`: the handle
/// is gone.
async fn show_and_poll(
    ctx: &Ctx,
    commands: &mut mpsc::Receiver<Command>,
    early_polls: &mut u32,
    auth: super::client::DeviceAuthorization,
) -> Result<Option<CodeOutcome>, String> {
    let payload = auth
        .verification_uri_complete
        .clone()
        .ok_or("the server gave no verification_uri_complete to show as a QR code")?;
    let user_code = auth.user_code.clone();
    if user_code.len() > 32 || user_code.chars().any(char::is_control) {
        return Err("implausible user code".into());
    }
    let modules = QrModules::encode(&payload)?;
    let lifetime = Duration::from_secs(auth.expires_in.clamp(1, MAX_CODE_LIFETIME_SECS));
    let expires_at = ctx.time.now().plus(lifetime);
    let png = modules.to_png();
    ctx.update(|s| {
        s.qr = Some(QrDisplay {
            verification_uri_complete: payload,
            user_code: user_code.clone(),
            expires_at,
            png,
            modules: Arc::new(modules),
        });
        s.state = MfpState::ShowingCode {
            user_code: user_code.clone(),
        };
        s.stats.codes_shown += 1;
    });
    tracing::debug!(printer = %ctx.config.printer_id, "showing a new login code");

    let mut interval = Duration::from_secs(
        auth.interval
            .unwrap_or(DEFAULT_INTERVAL_SECS)
            .clamp(MIN_INTERVAL_SECS, MAX_INTERVAL_SECS),
    );
    let mut wait_first = true;
    let mut transient = 0u32;
    loop {
        if wait_first {
            // A code past its lifetime is not worth a poll: rotate it.
            let remaining = ctx.time.now().until(expires_at);
            if remaining.is_zero() {
                ctx.update(|s| s.stats.expired_codes += 1);
                return Ok(Some(CodeOutcome::NewCode));
            }
            let backoff = interval * (1 << transient.min(4));
            if !ctx.pause(backoff.min(remaining), commands).await {
                return Ok(None);
            }
            if ctx.time.now() >= expires_at {
                ctx.update(|s| s.stats.expired_codes += 1);
                return Ok(Some(CodeOutcome::NewCode));
            }
        }
        wait_first = true;
        ctx.update(|s| {
            s.stats.polls += 1;
            s.state = MfpState::Polling {
                user_code: user_code.clone(),
                interval_secs: interval.as_secs(),
            };
        });
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", auth.device_code.as_str()),
        ];
        match ctx.api.token(&form, ctx.time.now()).await {
            Ok(granted) => {
                if !granted.tokens.scope.split(' ').any(|s| s == "jobs.release") {
                    return Err("device grant gave no jobs.release scope".into());
                }
                return Ok(Some(CodeOutcome::Approved(granted)));
            }
            Err(CallError::OAuth { error, .. }) => {
                transient = 0;
                match error.as_str() {
                    "authorization_pending" => {
                        ctx.update(|s| s.stats.pending += 1);
                        if *early_polls > 0 {
                            *early_polls -= 1;
                            wait_first = false;
                        }
                    }
                    "slow_down" => {
                        interval =
                            (interval + SLOW_DOWN_STEP).min(Duration::from_secs(MAX_INTERVAL_SECS));
                        ctx.update(|s| {
                            s.stats.slow_downs += 1;
                            s.state = MfpState::Polling {
                                user_code: user_code.clone(),
                                interval_secs: interval.as_secs(),
                            };
                        });
                    }
                    "expired_token" => {
                        ctx.update(|s| s.stats.expired_codes += 1);
                        return Ok(Some(CodeOutcome::NewCode));
                    }
                    "access_denied" => {
                        ctx.update(|s| s.stats.denied_codes += 1);
                        return Ok(Some(CodeOutcome::NewCode));
                    }
                    // Unknown or already redeemed device code: start again with a new one.
                    "invalid_grant" => return Ok(Some(CodeOutcome::NewCode)),
                    other => return Err(format!("device token request: {other}")),
                }
            }
            // RFC 8628 §3.5: on a failed connection, back off exponentially.
            Err(CallError::Transport(_) | CallError::Invalid(_))
                if transient < ctx.config.max_retries =>
            {
                transient += 1;
            }
            Err(e) => return Err(format!("device token request: {e}")),
        }
    }
}

/// Step 2: trades the one-time session credential for `jobs.submit scan`. `None` if refused
/// (the session then stays open with `jobs.release` only).
async fn step2(ctx: &Ctx, session_id: &str, credential: &str) -> Option<Tokens> {
    let username = format!("session:{session_id}");
    let form = [
        ("grant_type", "password"),
        ("username", username.as_str()),
        ("password", credential),
        ("scope", STEP2_SCOPE),
    ];
    match ctx.api.token(&form, ctx.time.now()).await {
        Ok(granted) => Some(granted.tokens),
        Err(error) => {
            tracing::warn!(printer = %ctx.config.printer_id, %error, "printer login step 2 failed");
            None
        }
    }
}
