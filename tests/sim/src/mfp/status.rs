//! What the MFP reports back about a print job or a scan: state transitions and failures.

use reqwest::Method;
use serde_json::json;

use super::client::CallError;
use super::session::{Family, Live, Over};
use super::{Ctx, TransferFailure};

/// A piece of work the MFP reports on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Work {
    /// A released print job (`/api/v1/printer/jobs/{id}/status`, release rights).
    Job,
    /// A scan request (`/api/v1/printer/scans/{id}/status`, submit rights).
    Scan,
}

impl Work {
    fn collection(self) -> &'static str {
        match self {
            Work::Job => "jobs",
            Work::Scan => "scans",
        }
    }

    fn family(self) -> Family {
        match self {
            Work::Job => Family::Release,
            Work::Scan => Family::Submit,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Work::Job => "job",
            Work::Scan => "scan",
        }
    }
}

/// `POST /api/v1/printer/{jobs|scans}/{id}/status`; `Ok(false)` if the server refused the
/// transition, `Err(Over::Ended)` if the session's token is no longer accepted.
pub(crate) async fn report(
    ctx: &Ctx,
    live: &mut Live,
    work: Work,
    id: &str,
    state: &str,
    reason: Option<&str>,
) -> Result<bool, Over> {
    let mut body = json!({ "state": state });
    if let Some(reason) = reason {
        body["reason"] = reason.chars().take(256).collect::<String>().into();
    }
    let path = format!("api/v1/printer/{}/{id}/status", work.collection());
    match live
        .call(ctx, work.family(), Method::POST, &path, Some(&body))
        .await?
    {
        Ok(_) => Ok(true),
        Err(CallError::Unauthorized) => Err(Over::Ended),
        Err(error) => {
            tracing::info!(%error, state, kind = work.kind(), "status report refused");
            Ok(false)
        }
    }
}

/// Reports `id` failed with `reason` and records the failure for tests to observe.
pub(crate) async fn fail(
    ctx: &Ctx,
    live: &mut Live,
    work: Work,
    id: String,
    reason: String,
) -> Result<(), Over> {
    tracing::info!(printer = %ctx.config.printer_id, %reason, kind = work.kind(), "work failed");
    report(ctx, live, work, &id, "failed", Some(&reason)).await?;
    let failure = TransferFailure {
        kind: work.kind(),
        id,
        reason,
    };
    ctx.update(|s| s.failures.push(failure));
    Ok(())
}
