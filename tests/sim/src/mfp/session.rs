//! A logged-in session: poll the jobs released to the printer and the scans asked of it, keep
//! the tokens fresh (sliding refresh), log out on request, notice when the session ends.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::Method;
use tokio::sync::mpsc;

use super::client::{CallError, Tokens};
use super::device::Session;
use super::{jobs, scan, Command, Ctx, MfpError, MfpState};

/// Tokens are refreshed this long (protocol time) before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Which token family a call uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Step 1, `jobs.release`.
    Release,
    /// Step 2, `jobs.submit scan`.
    Submit,
}

/// Why the session is over for the MFP.
pub(crate) enum Over {
    /// The server no longer knows its tokens (ended by the phone, another login, expiry).
    Ended,
}

/// The open session and what the MFP has already handled in it.
pub(crate) struct Live {
    pub session: Session,
    pub handled_jobs: HashSet<String>,
    pub handled_scans: HashSet<String>,
}

impl Live {
    fn tokens(&mut self, family: Family) -> Option<&mut Tokens> {
        match family {
            Family::Release => Some(&mut self.session.release),
            Family::Submit => self.session.submit.as_mut(),
        }
    }

    /// Refreshes one family: `Ok(false)` if it cannot be refreshed (the family is then gone);
    /// `Err(Over)` if that family was step 1 (the session is over).
    pub(crate) async fn refresh(&mut self, ctx: &Ctx, family: Family) -> Result<bool, Over> {
        let refresh = self.tokens(family).and_then(|t| t.refresh.clone());
        let Some(refresh) = refresh else {
            return self.lose(ctx, family);
        };
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];
        match ctx.api.token(&form, ctx.time.now()).await {
            Ok(granted) => {
                // Rotation: the new refresh token replaces the spent one before any other use.
                if let Some(tokens) = self.tokens(family) {
                    *tokens = granted.tokens;
                }
                ctx.update(|s| s.stats.refreshes += 1);
                Ok(true)
            }
            // A transient failure: keep the tokens, try again on the next round.
            Err(CallError::Transport(_)) => Ok(false),
            Err(error) => {
                tracing::info!(printer = %ctx.config.printer_id, %error, "token refresh refused");
                self.lose(ctx, family)
            }
        }
    }

    fn lose(&mut self, ctx: &Ctx, family: Family) -> Result<bool, Over> {
        match family {
            Family::Release => Err(Over::Ended),
            Family::Submit => {
                self.session.submit = None;
                let (id, rights) = (self.session.id.clone(), self.session.rights());
                ctx.set_state(MfpState::SessionOpen {
                    session_id: id,
                    rights,
                });
                Ok(false)
            }
        }
    }

    /// Refreshes every family whose access token is about to expire (this also keeps the
    /// sliding refresh tokens alive while the printer is in use).
    async fn refresh_due(&mut self, ctx: &Ctx) -> Result<(), Over> {
        for family in [Family::Release, Family::Submit] {
            let due = self
                .tokens(family)
                .is_some_and(|t| ctx.time.now().plus(REFRESH_MARGIN) >= t.expires_at);
            if due {
                self.refresh(ctx, family).await?;
            }
        }
        Ok(())
    }

    /// A bearer call with one refresh-and-retry on 401. `Ok(None)` for a 204, and for a call
    /// of a family that is gone.
    pub(crate) async fn call(
        &mut self,
        ctx: &Ctx,
        family: Family,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Result<Option<serde_json::Value>, CallError>, Over> {
        for attempt in 0..2 {
            let Some(access) = self.tokens(family).map(|t| t.access.clone()) else {
                return Ok(Ok(None));
            };
            match ctx.api.call(method.clone(), path, &access, body).await {
                Err(CallError::Unauthorized) if attempt == 0 => {
                    if !self.refresh(ctx, family).await? {
                        return Ok(Err(CallError::Unauthorized));
                    }
                }
                other => return Ok(other),
            }
        }
        Ok(Err(CallError::Unauthorized))
    }
}

/// Serves one session until it ends. `false` if the handle is gone.
pub(crate) async fn serve(
    ctx: &Ctx,
    session: Session,
    commands: &mut mpsc::Receiver<Command>,
) -> bool {
    tracing::info!(printer = %ctx.config.printer_id, "MFP session opened");
    ctx.update(|s| {
        s.qr = None;
        s.state = MfpState::SessionOpen {
            session_id: session.id.clone(),
            rights: session.rights(),
        };
        s.stats.sessions_opened += 1;
    });
    let mut live = Live {
        session,
        handled_jobs: HashSet::new(),
        handled_scans: HashSet::new(),
    };
    let alive = loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::EndSession(reply)) => {
                    let result = logout(ctx, &mut live).await;
                    // Unreachable server: the session may still be open, keep serving it.
                    let over = !matches!(result, Err(MfpError::EndFailed(_)));
                    let _ = reply.send(result);
                    if over {
                        break true;
                    }
                    continue;
                }
                None => break false,
            },
            () = tokio::time::sleep(ctx.config.timing.session_poll) => {}
        }
        if round(ctx, &mut live).await.is_err() {
            tracing::info!(printer = %ctx.config.printer_id, "MFP session ended by the server");
            break true;
        }
    };
    ctx.update(|s| s.stats.sessions_ended += 1);
    alive
}

/// One look at the session: refresh, print released jobs, carry out scans.
async fn round(ctx: &Ctx, live: &mut Live) -> Result<(), Over> {
    live.refresh_due(ctx).await?;
    jobs::print_released(ctx, live).await?;
    if live.session.submit.is_some() {
        scan::serve_scans(ctx, live).await?;
    }
    Ok(())
}

/// `DELETE /api/v1/session` with the step-1 token.
async fn logout(ctx: &Ctx, live: &mut Live) -> Result<(), MfpError> {
    match live
        .call(ctx, Family::Release, Method::DELETE, "api/v1/session", None)
        .await
    {
        Ok(Ok(_)) => {
            tracing::info!(printer = %ctx.config.printer_id, "MFP logged the user out");
            Ok(())
        }
        Ok(Err(CallError::Status { status: 404, .. })) | Err(Over::Ended) => {
            Err(MfpError::NoSession)
        }
        Ok(Err(CallError::Unauthorized)) => Err(MfpError::NoSession),
        Ok(Err(error)) => Err(MfpError::EndFailed(error.to_string())),
    }
}
