//! Printer sessions: a user logged in at one printer. One active session per user and per
//! printer; ending one revokes the printer's tokens of that session.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::clock::SimTime;
use crate::error::{ApiError, ErrorCode};
use crate::events::{EventPayload, SessionChange};
use crate::printers::printer_json;
use crate::region::Shared;
use crate::secret::new_id;
use crate::store::{JobState, PrinterSession, ScanState, Store};

impl Store {
    /// Opens a session for `user_id` at `printer_id`, ending the user's and the printer's
    /// previous sessions. Returns its id.
    pub fn open_session(&mut self, user_id: &str, printer_id: &str, now: SimTime) -> String {
        let previous: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.user_id == user_id || s.printer_id == printer_id)
            .map(|s| s.id.clone())
            .collect();
        for id in previous {
            self.end_session(&id, now);
        }
        let id = new_id("ses");
        self.sessions.insert(
            id.clone(),
            PrinterSession {
                id: id.clone(),
                user_id: user_id.to_string(),
                printer_id: printer_id.to_string(),
                started_at: now,
                rights: BTreeSet::from(["jobs.release".to_string()]),
            },
        );
        self.events.push(
            user_id,
            EventPayload::Session {
                session_id: id.clone(),
                printer_id: printer_id.to_string(),
                state: SessionChange::Started,
            },
            now,
        );
        tracing::info!(session = %id, printer = %printer_id, "printer session opened");
        id
    }

    /// Ends a session: revokes its printer tokens and credential, puts released jobs the
    /// printer has not started back to waiting, fails its open scans.
    pub fn end_session(&mut self, session_id: &str, now: SimTime) {
        let Some(session) = self.sessions.remove(session_id) else {
            return;
        };
        self.tokens
            .retain(|_, t| t.subject.session_id() != Some(session_id));
        self.session_credentials
            .retain(|_, c| c.session_id != session_id);
        let unstarted: Vec<String> = self
            .jobs
            .values()
            .filter(|j| {
                j.session_id.as_deref() == Some(session_id) && j.state == JobState::Releasing
            })
            .map(|j| j.id.clone())
            .collect();
        for id in unstarted {
            if let Some(job) = self.jobs.get_mut(&id) {
                job.printer_id = None;
                job.session_id = None;
            }
            self.set_job_state(&id, JobState::Waiting, None, now);
        }
        let open_scans: Vec<String> = self
            .scans
            .values()
            .filter(|s| s.session_id == session_id && !s.state.is_final())
            .map(|s| s.id.clone())
            .collect();
        for id in open_scans {
            self.set_scan_state(&id, ScanState::Failed, Some("session ended".into()), now);
        }
        self.events.push(
            &session.user_id,
            EventPayload::Session {
                session_id: session.id.clone(),
                printer_id: session.printer_id.clone(),
                state: SessionChange::Ended,
            },
            now,
        );
        tracing::info!(session = %session.id, "printer session ended");
    }

    /// The caller's session: the printer token's own, or the user's active one.
    pub fn session_of(&self, caller: &Caller) -> Option<&PrinterSession> {
        match &caller.printer {
            Some(p) => self.sessions.get(&p.session_id),
            None => self.session_of_user(&caller.user_id),
        }
    }
}

fn no_session() -> ApiError {
    ApiError::not_found(ErrorCode::NoActiveSession, "no active printer session")
}

/// `GET /api/v1/session`: the caller's active printer session.
pub async fn current(State(state): State<Shared>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require_either("print", "jobs.release")?;
    let store = state.lock();
    let session = store.session_of(&caller).ok_or_else(no_session)?;
    let printer = store
        .printers
        .get(&session.printer_id)
        .map(printer_json)
        .unwrap_or(Value::Null);
    Ok(Json(json!({
        "id": session.id,
        "printer": printer,
        "startedAt": session.started_at,
        "rights": session.rights,
    })))
}

/// `DELETE /api/v1/session`: ends the caller's session (user logout at the printer, from the
/// phone or from the printer itself).
pub async fn end(State(state): State<Shared>, caller: Caller) -> Result<StatusCode, ApiError> {
    caller.require_either("print", "jobs.release")?;
    let mut store = state.lock();
    let id = store.session_of(&caller).ok_or_else(no_session)?.id.clone();
    store.end_session(&id, state.now());
    Ok(StatusCode::NO_CONTENT)
}
