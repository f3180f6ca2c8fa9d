//! The session's event stream (`GET /api/v1/session/events`, Server-Sent Events): one
//! background task follows it for every subscriber. It resumes with `Last-Event-ID` after a
//! dropped connection (exponential backoff with jitter), passes each event on once and in order,
//! refetches the state on `resync`, takes a connection that carries nothing, not even a
//! keep-alive, for `idle_timeout` for dead, and stops on sign-out.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast;

use super::model::{Job, JobState, PrinterSession, Scan, ScanState};
use super::{jobs, scan, Inner, PrinterError};
use crate::auth::AuthState;
use crate::error::Error;

/// Largest event accepted (events are a few hundred bytes).
const MAX_EVENT: usize = 16 * 1024;

/// A change of the printer session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SessionChange {
    /// The user is logged in at the printer.
    Started,
    /// The printer finished its login: it may now scan and submit.
    Upgraded,
    /// The session ended.
    Ended,
    /// A change this version does not know.
    #[serde(other)]
    Unknown,
}

/// What the UI hears.
#[derive(Debug, Clone, PartialEq)]
pub enum PrinterEvent {
    /// A job changed state.
    Job {
        /// The server's event id.
        event_id: u64,
        /// The job.
        job_id: String,
        /// Its new state.
        state: JobState,
    },
    /// A scan changed state.
    Scan {
        /// The server's event id.
        event_id: u64,
        /// The scan.
        scan_id: String,
        /// Its new state.
        state: ScanState,
    },
    /// The printer session changed.
    Session {
        /// The server's event id.
        event_id: u64,
        /// The session.
        session_id: String,
        /// Its printer.
        printer_id: String,
        /// What happened.
        change: SessionChange,
    },
    /// Events were missed (the server's backlog no longer reached back, or this subscriber fell
    /// behind): the state was fetched afresh and is given here whole.
    Resynced {
        /// The printer session.
        session: Option<PrinterSession>,
        /// The jobs, newest first.
        jobs: Vec<Job>,
        /// The scans.
        scans: Vec<Scan>,
    },
    /// The stream is connected (again).
    Connected,
    /// The connection dropped; the next attempt is in `retry_in`.
    Disconnected {
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// The Roger account signed out: the stream has stopped.
    SignedOut,
}

/// A subscriber's view of the events.
pub struct EventSubscription {
    rx: broadcast::Receiver<PrinterEvent>,
}

impl EventSubscription {
    pub(crate) fn new(rx: broadcast::Receiver<PrinterEvent>) -> Self {
        Self { rx }
    }

    /// The next event; `None` once the service is gone. A subscriber that fell more than 1,024
    /// events behind misses them and is told so by a [`PrinterEvent::Resynced`] with nothing in
    /// it (refetch what you show).
    pub async fn next(&mut self) -> Option<PrinterEvent> {
        match self.rx.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(PrinterEvent::Resynced {
                session: None,
                jobs: Vec::new(),
                scans: Vec::new(),
            }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobData {
    job_id: String,
    state: JobState,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScanData {
    scan_id: String,
    state: ScanState,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionData {
    session_id: String,
    printer_id: String,
    state: SessionChange,
}

/// Why one connection ended.
enum Ended {
    /// Dropped, timed out or refused for now: reconnect after a delay.
    Retry(String),
    /// Signed out: stop.
    SignedOut,
}

fn signed_in(inner: &Inner) -> bool {
    matches!(
        inner.api.accounts().roger().state(),
        AuthState::SignedIn { .. }
    )
}

/// Follows the stream until sign-out.
pub(crate) async fn run(inner: Arc<Inner>) {
    let mut failures: u32 = 0;
    inner.reconcile().await;
    loop {
        if !signed_in(&inner) {
            inner.emit(PrinterEvent::SignedOut);
            return;
        }
        match connect(&inner, &mut failures).await {
            Ended::SignedOut => {
                inner.emit(PrinterEvent::SignedOut);
                return;
            }
            Ended::Retry(why) => {
                failures = failures.saturating_add(1);
                let delay = backoff(&inner.options, failures);
                tracing::info!(reason = %why, delay_ms = delay.as_millis() as u64, "event stream dropped");
                inner.emit(PrinterEvent::Disconnected { retry_in: delay });
                let mut auth = inner.api.accounts().roger().subscribe();
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = auth.wait_for(|s| matches!(s, AuthState::SignedOut { .. })) => {}
                }
            }
        }
    }
}

/// `min · 2^(n-1)`, capped, then a random 50–100 % of it (so clients do not come back at once).
fn backoff(options: &super::PrintServiceOptions, failures: u32) -> Duration {
    let exp = options
        .min_backoff
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(options.max_backoff);
    let jitter = 0.5 + 0.5 * random_unit();
    exp.mul_f64(jitter)
}

fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// One connection: open, then pass events on until it ends.
async fn connect(inner: &Arc<Inner>, failures: &mut u32) -> Ended {
    const CTX: &str = "following the session's events";
    let url = match inner.api.url("session/events").await {
        Ok(u) => u,
        Err(Error::SignedOut(_)) => return Ended::SignedOut,
        Err(e) => return Ended::Retry(e.to_string()),
    };
    let http = inner.stream_http.clone();
    let resume = inner.last_event_id.load(Ordering::SeqCst);
    let response = inner
        .api
        .accounts()
        .roger()
        .send(CTX, |token| {
            let request = http
                .get(url.clone())
                .bearer_auth(token)
                .header(reqwest::header::ACCEPT, "text/event-stream")
                .header(reqwest::header::CACHE_CONTROL, "no-cache");
            if resume > 0 {
                request.header("Last-Event-ID", resume.to_string())
            } else {
                request
            }
        })
        .await;
    let response = match response {
        Ok(r) => r,
        Err(Error::SignedOut(_)) => return Ended::SignedOut,
        Err(e) => return Ended::Retry(e.to_string()),
    };
    let response = match crate::net::check_status(CTX, response).await {
        Ok(r) => r,
        Err(Error::SignedOut(_) | Error::Http { status: 401, .. }) => return Ended::SignedOut,
        Err(e) => return Ended::Retry(e.to_string()),
    };
    let is_sse = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
    if !is_sse {
        return Ended::Retry("the answer is not an event stream".into());
    }
    inner.emit(PrinterEvent::Connected);

    // Idle detection on the bytes, so keep-alive comments (which the parser swallows) count.
    let idle = inner.options.idle_timeout;
    let bytes = futures::stream::unfold(response.bytes_stream(), move |mut body| async move {
        match tokio::time::timeout(idle, body.next()).await {
            Ok(Some(chunk)) => Some((chunk.map_err(|e| e.without_url().to_string()), body)),
            Ok(None) => None,
            Err(_) => Some((
                Err("no data or keep-alive within the idle timeout".into()),
                body,
            )),
        }
    });
    let mut events = Box::pin(bytes.eventsource());
    let mut auth = inner.api.accounts().roger().subscribe();
    loop {
        let next = tokio::select! {
            next = events.next() => next,
            _ = auth.wait_for(|s| matches!(s, AuthState::SignedOut { .. })) => return Ended::SignedOut,
        };
        let event = match next {
            None => return Ended::Retry("the server closed the stream".into()),
            Some(Err(e)) => return Ended::Retry(e.to_string()),
            Some(Ok(event)) => event,
        };
        if event.data.len() > MAX_EVENT {
            return Ended::Retry("an event was too large".into());
        }
        if event.event == "resync" {
            resync(inner).await;
            *failures = 0;
            continue;
        }
        // Ids are numeric and increase: anything at or below the last one was seen already.
        let Ok(id) = event.id.trim().parse::<u64>() else {
            tracing::warn!("event without a numeric id ignored");
            continue;
        };
        if id <= inner.last_event_id.load(Ordering::SeqCst) {
            continue;
        }
        inner.last_event_id.store(id, Ordering::SeqCst);
        *failures = 0;
        dispatch(inner, id, &event.event, &event.data).await;
    }
}

/// Turns one event into a [`PrinterEvent`] and does what the core itself must do about it.
async fn dispatch(inner: &Arc<Inner>, id: u64, name: &str, data: &str) {
    match name {
        "job" => match serde_json::from_str::<JobData>(data) {
            Ok(d) => {
                inner.job_changed(&d.job_id, d.state).await;
                inner.emit(PrinterEvent::Job {
                    event_id: id,
                    job_id: d.job_id,
                    state: d.state,
                });
            }
            Err(e) => tracing::warn!(error = %e, "malformed job event ignored"),
        },
        "scan" => match serde_json::from_str::<ScanData>(data) {
            Ok(d) => inner.emit(PrinterEvent::Scan {
                event_id: id,
                scan_id: d.scan_id,
                state: d.state,
            }),
            Err(e) => tracing::warn!(error = %e, "malformed scan event ignored"),
        },
        "session" => match serde_json::from_str::<SessionData>(data) {
            Ok(d) => {
                if d.state == SessionChange::Ended {
                    inner.session.send_replace(None);
                } else if let Err(e) = inner.refresh_session().await {
                    tracing::info!(error = %e, "cannot read the session after its event");
                }
                inner.emit(PrinterEvent::Session {
                    event_id: id,
                    session_id: d.session_id,
                    printer_id: d.printer_id,
                    change: d.state,
                });
            }
            Err(e) => tracing::warn!(error = %e, "malformed session event ignored"),
        },
        _ => tracing::debug!(event = name, "unknown event ignored"),
    }
}

/// Refetches the session, jobs and scans, runs due after-print actions, and says so.
async fn resync(inner: &Arc<Inner>) {
    let fetched: Result<_, PrinterError> = async {
        let session = inner.refresh_session().await?;
        let jobs = jobs::list(&inner.api).await?;
        let scans = scan::list(&inner.api).await?;
        Ok((session, jobs, scans))
    }
    .await;
    match fetched {
        Ok((session, jobs, scans)) => {
            for job in &jobs {
                inner.job_changed(&job.id, job.state).await;
            }
            inner.emit(PrinterEvent::Resynced {
                session,
                jobs,
                scans,
            });
        }
        Err(e) => {
            tracing::info!(error = %e, "resync failed");
            inner.emit(PrinterEvent::Resynced {
                session: inner.session.borrow().clone(),
                jobs: Vec::new(),
                scans: Vec::new(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let options = super::super::PrintServiceOptions {
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            ..Default::default()
        };
        for failures in 1..=10u32 {
            let d = backoff(&options, failures);
            let full =
                Duration::from_millis(100 * (1 << (failures - 1))).min(Duration::from_secs(2));
            assert!(d >= full / 2 && d <= full, "{failures}: {d:?} vs {full:?}");
        }
        assert!(backoff(&options, u32::MAX) <= Duration::from_secs(2));
    }
}
