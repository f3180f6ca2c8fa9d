//! Printing: each job released to the printer is marked `printing`, its document downloaded
//! from the pre-authenticated `downloadUrl` (no Authorization header, one redirect followed to
//! the content host), its size checked, and the job marked `printed` — or `failed` with a reason.

use reqwest::header::LOCATION;
use reqwest::Method;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::client::{transfer_url, transport, CallError};
use super::session::{Family, Live, Over};
use super::status::{fail, report, Work};
use super::{hex, Ctx, PrintedJob};

/// `GET /api/v1/printer/jobs`.
#[derive(Deserialize)]
struct PrinterJobs {
    jobs: Vec<PrinterJob>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrinterJob {
    id: String,
    file_name: String,
    size: Option<u64>,
    state: String,
    download_url: Option<String>,
    #[serde(default)]
    options: JobOptions,
}

#[derive(Default, Deserialize)]
struct JobOptions {
    copies: Option<u32>,
}

/// Whether an id has the protocol's shape (it goes into a request path).
pub(crate) fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Prints every job released to the printer that it has not handled yet.
pub(crate) async fn print_released(ctx: &Ctx, live: &mut Live) -> Result<(), Over> {
    let list = match live
        .call(
            ctx,
            Family::Release,
            Method::GET,
            "api/v1/printer/jobs",
            None,
        )
        .await?
    {
        Ok(Some(value)) => value,
        Ok(None) => return Ok(()),
        Err(CallError::Unauthorized) => return Err(Over::Ended),
        Err(error) => {
            tracing::debug!(%error, "listing printer jobs failed");
            return Ok(());
        }
    };
    let Ok(list) = serde_json::from_value::<PrinterJobs>(list) else {
        tracing::warn!("unexpected shape of the printer's job list");
        return Ok(());
    };
    for job in list.jobs {
        if !valid_id(&job.id) || live.handled_jobs.contains(&job.id) {
            continue;
        }
        live.handled_jobs.insert(job.id.clone());
        if job.state == "releasing" {
            if !report(ctx, live, Work::Job, &job.id, "printing", None).await? {
                continue;
            }
        } else if job.state != "printing" {
            continue;
        }
        let outcome = match (&job.download_url, job.size) {
            (Some(url), Some(size)) if size <= ctx.config.max_document_bytes => {
                download(ctx, url, size).await
            }
            (Some(_), Some(_)) => Err("document too large for this printer".to_string()),
            _ => Err("job has no download URL or size".to_string()),
        };
        match outcome {
            Ok((size, sha256)) => {
                if report(ctx, live, Work::Job, &job.id, "printed", None).await? {
                    let printed = PrintedJob {
                        job_id: job.id,
                        file_name: job.file_name.chars().take(255).collect(),
                        size,
                        sha256,
                        copies: job.options.copies.unwrap_or(1),
                    };
                    ctx.update(|s| s.printed.push(printed));
                }
            }
            Err(reason) => fail(ctx, live, Work::Job, job.id, reason).await?,
        }
    }
    Ok(())
}

/// Downloads a document, checking it is exactly `expected` bytes: `(size, sha256)`.
async fn download(ctx: &Ctx, raw_url: &str, expected: u64) -> Result<(u64, String), String> {
    let mut url = transfer_url(raw_url)?;
    let mut redirects = 0;
    let mut response = loop {
        let response = ctx
            .transfer
            .get(url.clone())
            .send()
            .await
            .map_err(|e| format!("download: {}", transport(&e)))?;
        if !response.status().is_redirection() {
            break response;
        }
        if redirects == 1 {
            return Err("download: more than one redirect".into());
        }
        redirects += 1;
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or("download: redirect without a location")?;
        let next = url
            .join(location)
            .map_err(|_| "download: bad redirect location".to_string())?;
        url = transfer_url(next.as_str())?;
    };
    let status = response.status();
    if !status.is_success() {
        return Err(format!("download: HTTP {}", status.as_u16()));
    }
    if let Some(announced) = response.content_length().filter(|&len| len != expected) {
        return Err(format!(
            "size mismatch: the job says {expected} bytes, the download {announced}"
        ));
    }
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("download: {}", transport(&e)))?
    {
        total += chunk.len() as u64;
        if total > expected {
            return Err(format!(
                "size mismatch: the download is longer than the job's {expected} bytes"
            ));
        }
        hasher.update(&chunk);
    }
    if total != expected {
        return Err(format!(
            "size mismatch: the job says {expected} bytes, the download has {total}"
        ));
    }
    Ok((total, hex(&hasher.finalize())))
}
