//! State-change events of a region and their Server-Sent Events stream
//! (`GET /api/v1/session/events`).
//!
//! Every event gets the next id of the region (monotonic). A bounded backlog lets a client that
//! reconnects with `Last-Event-ID` receive what it missed; when the backlog no longer reaches back
//! that far, the stream starts with a `resync` event telling the client to fetch state afresh.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use serde::{Serialize, Serializer};
use tokio::sync::broadcast;

use crate::auth::Caller;
use crate::clock::SimTime;
use crate::error::ApiError;
use crate::region::Shared;
use crate::store::{JobState, ScanState};

/// What changed.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum EventPayload {
    /// A job changed state.
    #[serde(rename_all = "camelCase")]
    Job { job_id: String, state: JobState },
    /// A scan changed state.
    #[serde(rename_all = "camelCase")]
    Scan { scan_id: String, state: ScanState },
    /// A printer session started, gained rights (step 2) or ended.
    #[serde(rename_all = "camelCase")]
    Session {
        session_id: String,
        printer_id: String,
        state: SessionChange,
    },
}

impl EventPayload {
    fn name(&self) -> &'static str {
        match self {
            EventPayload::Job { .. } => "job",
            EventPayload::Scan { .. } => "scan",
            EventPayload::Session { .. } => "session",
        }
    }
}

/// Session event kinds.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SessionChange {
    Started,
    Upgraded,
    Ended,
}

/// One event, for one user.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: u64,
    pub user_id: String,
    pub at: SimTime,
    #[serde(flatten)]
    pub payload: EventPayload,
}

/// The region's event sequence: a bounded backlog plus a live feed.
pub struct EventLog {
    next_id: u64,
    capacity: usize,
    backlog: VecDeque<Arc<Event>>,
    live: broadcast::Sender<Arc<Event>>,
}

impl EventLog {
    /// An empty log keeping at most `capacity` events.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            next_id: 1,
            capacity,
            backlog: VecDeque::with_capacity(capacity),
            live: broadcast::channel(capacity.max(16)).0,
        }
    }

    /// Records an event and sends it to live streams.
    pub fn push(&mut self, user_id: &str, payload: EventPayload, at: SimTime) {
        let event = Arc::new(Event {
            id: self.next_id,
            user_id: user_id.to_string(),
            at,
            payload,
        });
        self.next_id += 1;
        if self.backlog.len() == self.capacity {
            self.backlog.pop_front();
        }
        self.backlog.push_back(event.clone());
        // No receiver is not an error: nobody is listening.
        let _ = self.live.send(event);
    }

    /// The user's events after `after`, and whether some events after `after` are gone.
    fn replay(&self, user_id: &str, after: u64) -> (Vec<Arc<Event>>, bool) {
        let first_kept = self.backlog.front().map_or(self.next_id, |e| e.id);
        let gap = after.saturating_add(1) < first_kept || after >= self.next_id;
        let events = self
            .backlog
            .iter()
            .filter(|e| e.id > after && e.user_id == user_id)
            .cloned()
            .collect();
        (events, gap)
    }

    /// The id the next event will get (for tests: "everything so far" is `next_id() - 1`).
    pub fn next_id(&self) -> u64 {
        self.next_id
    }
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLog")
            .field("next_id", &self.next_id)
            .field("backlog", &self.backlog.len())
            .finish()
    }
}

impl Serialize for EventLog {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.backlog.iter().map(|e| &**e))
    }
}

fn to_sse(event: &Event) -> SseEvent {
    SseEvent::default()
        .id(event.id.to_string())
        .event(event.payload.name())
        .json_data(event)
        .unwrap_or_else(|_| SseEvent::default().comment("unserialisable event"))
}

/// `GET /api/v1/session/events`: the caller's job, scan and session events as SSE.
pub async fn stream_events(
    State(state): State<Shared>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    caller.require_user_scope("print")?;
    let after = match headers.get("last-event-id") {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| ApiError::invalid("Last-Event-ID must be an event id"))?,
    };
    let user_id = caller.user_id.clone();
    let (replayed, gap, live) = {
        let store = state.lock();
        let (replayed, gap) = store.events.replay(&user_id, after);
        (replayed, gap && after > 0, store.events.live.subscribe())
    };
    let last_sent = replayed.last().map_or(after, |e| e.id);
    let resync = gap.then(|| SseEvent::default().event("resync").data("{}"));
    let backlog = stream::iter(
        resync
            .into_iter()
            .chain(replayed.iter().map(|e| to_sse(e)))
            .map(Ok)
            .collect::<Vec<_>>(),
    );
    let shutdown = state.shutdown.clone();
    let live = stream::unfold(
        (live, last_sent, shutdown, user_id),
        |(mut live, last_sent, mut shutdown, user_id)| async move {
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return None,
                    received = live.recv() => match received {
                        Ok(event) if event.id > last_sent && event.user_id == user_id => {
                            let sse = to_sse(&event);
                            return Some((Ok(sse), (live, event.id, shutdown, user_id)));
                        }
                        Ok(_) => continue,
                        // Lagged or closed: end the stream; the client resumes with Last-Event-ID.
                        Err(_) => return None,
                    }
                }
            }
        },
    );
    let keep_alive = KeepAlive::new()
        .interval(state.config.sse_keep_alive)
        .text("keep-alive");
    let events = backlog.chain(live);
    let limit = state.faults.stream_cut().map_or(usize::MAX, |n| n as usize);
    let counted = state.clone();
    // A fault switch may cut the stream after `limit` events: the server closes the response.
    let events = events.take(limit).enumerate().map(move |(i, event)| {
        if i + 1 == limit {
            counted.faults.count_cut_stream();
        }
        event
    });
    Ok(Sse::new(events).keep_alive(keep_alive))
}
