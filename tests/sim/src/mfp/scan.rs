//! Scanning: each scan asked of the printer is marked `scanning`, a multi-page PDF is generated
//! (deterministic per MFP seed and scan id) and uploaded to the scan's `uploadUrl` following
//! Microsoft Graph upload sessions — `PUT` with `Content-Range`, fragments multiples of 320 KiB
//! except the last, `nextExpectedRanges` read from each `202`, resumption after a failed fragment
//! from a `GET` on the upload URL — and the scan is marked `uploaded`, or `failed` with a reason.
//!
//! The PDF is written by hand (about a hundred lines: catalog, pages, one 8-bit grayscale image
//! per page, a Helvetica caption, an exact cross-reference table) rather than with a PDF crate:
//! the output must be byte-for-byte deterministic and its size controlled, and the sim needs no
//! PDF reading.

use std::time::Duration;

use reqwest::header::{CONTENT_RANGE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::client::{read_bounded, transfer_url, transport};
use super::jobs::valid_id;
use super::qr::SplitMix;
use super::session::{Family, Live, Over};
use super::status::{fail, report, Work};
use super::{hex, Ctx, ScanUpload};

/// What the simulated scanner produces: `pages` grayscale pages of `width_px × height_px`
/// (uncompressed in the PDF, so the file is about `pages × width × height` bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanSettings {
    /// Pages per scan (1..=50).
    pub pages: u32,
    /// Page image width in pixels (16..=2480).
    pub width_px: u32,
    /// Page image height in pixels (16..=3508).
    pub height_px: u32,
    /// Seed of the page contents (mixed with the scan id).
    pub seed: u64,
}

impl Default for ScanSettings {
    /// Three A4 pages at 75 dpi: about 1.6 MB, six 320 KiB fragments.
    fn default() -> Self {
        Self {
            pages: 3,
            width_px: 620,
            height_px: 877,
            seed: 0x5ca9_0000,
        }
    }
}

/// Largest JSON answer read from an upload session.
const MAX_UPLOAD_ANSWER: usize = 256 * 1024;

/// A multi-page PDF of "scanned" pages, deterministic for equal inputs. `caption` is printed at
/// the foot of each page (ASCII letters, digits and spaces are kept).
pub fn generate_pdf(settings: &ScanSettings, scan_id: &str, caption: &str) -> Vec<u8> {
    let pages = settings.pages.clamp(1, 50);
    let (w, h) = (
        settings.width_px.clamp(16, 2480),
        settings.height_px.clamp(16, 3508),
    );
    let mut seed = settings.seed;
    for b in scan_id.bytes() {
        seed = seed.rotate_left(7) ^ u64::from(b);
    }
    let caption: String = caption
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ' || *c == '-')
        .take(80)
        .collect();

    // Objects: 1 catalog, 2 pages, 3 font, 4 info, then per page: page, contents, image.
    let mut out: Vec<u8> = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets: Vec<usize> = Vec::new();
    let object = |out: &mut Vec<u8>, offsets: &mut Vec<usize>, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    let page_ids: Vec<u32> = (0..pages).map(|i| 5 + 3 * i).collect();
    let kids: Vec<String> = page_ids.iter().map(|id| format!("{id} 0 R")).collect();
    object(&mut out, &mut offsets, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(
        &mut out,
        &mut offsets,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        )
        .as_bytes(),
    );
    object(
        &mut out,
        &mut offsets,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    );
    object(
        &mut out,
        &mut offsets,
        b"<< /Producer (roger-sim MFP simulator) /Title (Scan) >>",
    );
    // A4 in points.
    let (pw, ph) = (595, 842);
    for (index, page_id) in page_ids.iter().enumerate() {
        let number = index + 1;
        object(
            &mut out,
            &mut offsets,
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw} {ph}] \
                 /Resources << /XObject << /Im1 {} 0 R >> /Font << /F1 3 0 R >> >> \
                 /Contents {} 0 R >>",
                page_id + 2,
                page_id + 1
            )
            .as_bytes(),
        );
        let text = format!(
            "q {pw} 0 0 {ph} 0 0 cm /Im1 Do Q\nBT /F1 8 Tf 36 14 Td (Page {number} of {pages} - {caption}) Tj ET"
        );
        object(
            &mut out,
            &mut offsets,
            format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()).as_bytes(),
        );
        let image = page_image(w, h, seed ^ (number as u64).wrapping_mul(0x9e37_79b9));
        let mut body = format!(
            "<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray \
             /BitsPerComponent 8 /Length {} >>\nstream\n",
            image.len()
        )
        .into_bytes();
        body.extend_from_slice(&image);
        body.extend_from_slice(b"\nendstream");
        object(&mut out, &mut offsets, &body);
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for offset in &offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A "scanned" page: off-white paper with sensor noise, a heading and lines of words.
fn page_image(w: u32, h: u32, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix::new(seed);
    let (w, h) = (w as usize, h as usize);
    let mut pixels = vec![0u8; w * h];
    for p in pixels.iter_mut() {
        *p = 236 + (rng.next_u64() % 14) as u8;
    }
    let margin = w / 10;
    let line_h = (h / 60).max(3);
    let mut y = h / 12;
    let mut fill = |x0: usize, y0: usize, x1: usize, y1: usize, luma: u8| {
        for row in pixels.chunks_exact_mut(w).take(y1.min(h)).skip(y0) {
            for p in &mut row[x0.min(w)..x1.min(w)] {
                *p = luma;
            }
        }
    };
    // Heading.
    fill(margin, y, w / 2, y + 2 * line_h, 40);
    y += 4 * line_h;
    while y + line_h < h - h / 12 {
        let mut x = margin;
        let line_end = w - margin - (rng.next_u64() % (w as u64 / 5 + 1)) as usize;
        while x < line_end {
            let word = 3 + (rng.next_u64() % (w as u64 / 12 + 1)) as usize;
            fill(x, y, (x + word).min(line_end), y + line_h * 2 / 3, 55);
            x += word + line_h;
        }
        y += if rng.next_u64().is_multiple_of(9) {
            3 * line_h
        } else {
            2 * line_h
        };
    }
    pixels
}

/// `GET /api/v1/printer/scans`.
#[derive(Deserialize)]
struct PrinterScans {
    scans: Vec<PrinterScan>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrinterScan {
    id: String,
    state: String,
    upload_url: Option<String>,
    file_name: Option<String>,
}

/// Carries out every scan asked of the printer that it has not handled yet.
pub(crate) async fn serve_scans(ctx: &Ctx, live: &mut Live) -> Result<(), Over> {
    let list = match live
        .call(
            ctx,
            Family::Submit,
            Method::GET,
            "api/v1/printer/scans",
            None,
        )
        .await?
    {
        Ok(Some(value)) => value,
        Ok(None) => return Ok(()),
        Err(error) => {
            tracing::debug!(%error, "listing printer scans failed");
            return Ok(());
        }
    };
    let Ok(list) = serde_json::from_value::<PrinterScans>(list) else {
        tracing::warn!("unexpected shape of the printer's scan list");
        return Ok(());
    };
    for scan in list.scans {
        if !valid_id(&scan.id) || live.handled_scans.contains(&scan.id) {
            continue;
        }
        live.handled_scans.insert(scan.id.clone());
        if scan.state == "requested" {
            if !report(ctx, live, Work::Scan, &scan.id, "scanning", None).await? {
                continue;
            }
        } else if scan.state != "scanning" {
            continue;
        }
        let (settings, id, caption) = (
            ctx.config.scan.clone(),
            scan.id.clone(),
            ctx.config.printer_id.clone(),
        );
        // A few megapixels of page images: off the async workers.
        let pdf = match tokio::task::spawn_blocking(move || generate_pdf(&settings, &id, &caption))
            .await
        {
            Ok(pdf) => pdf,
            Err(_) => continue,
        };
        let outcome = match &scan.upload_url {
            Some(url) => upload(ctx, url, &pdf).await,
            None => Err("scan has no upload URL".to_string()),
        };
        match outcome {
            Ok(done) => {
                if report(ctx, live, Work::Scan, &scan.id, "uploaded", None).await? {
                    let file_name = done
                        .item_name
                        .or(scan.file_name)
                        .unwrap_or_else(|| format!("scan-{}.pdf", scan.id))
                        .chars()
                        .take(255)
                        .collect();
                    let uploaded = ScanUpload {
                        scan_id: scan.id,
                        file_name,
                        size: pdf.len() as u64,
                        sha256: hex(&Sha256::digest(&pdf)),
                        chunks: done.chunks,
                        resumes: done.resumes,
                        pages: ctx.config.scan.pages.clamp(1, 50),
                    };
                    ctx.update(|s| s.uploaded.push(uploaded));
                }
            }
            Err(reason) => fail(ctx, live, Work::Scan, scan.id, reason).await?,
        }
    }
    Ok(())
}

/// A finished upload.
struct Uploaded {
    chunks: u32,
    resumes: u32,
    item_name: Option<String>,
}

/// Uploads `data` to a Graph upload session.
async fn upload(ctx: &Ctx, raw_url: &str, data: &[u8]) -> Result<Uploaded, String> {
    let url = transfer_url(raw_url)?;
    let total = data.len();
    if total == 0 {
        return Err("nothing to upload".into());
    }
    let fragment = ctx.config.fragment();
    let mut offset = 0usize;
    let mut chunks = 0u32;
    let mut resumes = 0u32;
    let mut failures = 0u32;
    // Each step either advances or counts a failure; this bounds a server that never advances.
    let max_steps = total / fragment + 2 * ctx.config.max_retries as usize + 4;
    for _ in 0..max_steps {
        let end = (offset + fragment).min(total);
        let sent = ctx
            .transfer
            .put(url.clone())
            .header(CONTENT_RANGE, format!("bytes {offset}-{}/{total}", end - 1))
            .body(data[offset..end].to_vec())
            .send()
            .await;
        let failure = match sent {
            Ok(response) => {
                let status = response.status();
                let retry_after = retry_after(&response);
                match status {
                    StatusCode::ACCEPTED => {
                        let answer = json_answer(response).await?;
                        chunks += 1;
                        failures = 0;
                        offset = next_expected(&answer, total)?
                            .ok_or("upload session expects nothing more but did not finish")?;
                        continue;
                    }
                    StatusCode::OK | StatusCode::CREATED => {
                        let answer = json_answer(response).await.unwrap_or(Value::Null);
                        chunks += 1;
                        if end != total {
                            return Err("upload session finished before the last byte".into());
                        }
                        let item_name = answer
                            .get("name")
                            .and_then(Value::as_str)
                            .filter(|n| !n.is_empty() && n.len() <= 1024)
                            .map(str::to_string);
                        return Ok(Uploaded {
                            chunks,
                            resumes,
                            item_name,
                        });
                    }
                    StatusCode::NOT_FOUND => {
                        return Err("upload session not found or expired".into());
                    }
                    // The server has other bytes than we thought: ask where it stands.
                    StatusCode::RANGE_NOT_SATISFIABLE => (None, format!("HTTP {status}")),
                    s if s == StatusCode::REQUEST_TIMEOUT
                        || s == StatusCode::TOO_MANY_REQUESTS
                        || s.is_server_error() =>
                    {
                        (retry_after, format!("HTTP {}", s.as_u16()))
                    }
                    s => return Err(format!("upload refused: HTTP {}", s.as_u16())),
                }
            }
            Err(error) => (None, transport(&error)),
        };
        failures += 1;
        if failures > ctx.config.max_retries {
            return Err(format!("upload failed: {}", failure.1));
        }
        let pause = failure
            .0
            .unwrap_or_else(|| Duration::from_secs(1 << failures.min(5)));
        ctx.time.wait(pause).await;
        // Resume: the upload URL tells which bytes it still expects.
        offset = match status_of(ctx, &url, total).await {
            Ok(Some(next)) => next,
            Ok(None) => return Err("upload session expects nothing more but did not finish".into()),
            Err(StatusCode::NOT_FOUND) => return Err("upload session not found or expired".into()),
            Err(_) => offset,
        };
        resumes += 1;
    }
    Err("upload did not make progress".into())
}

/// `GET` on the upload URL: the first byte the session still expects (`None`: nothing).
async fn status_of(ctx: &Ctx, url: &url::Url, total: usize) -> Result<Option<usize>, StatusCode> {
    let response = ctx
        .transfer
        .get(url.clone())
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    if response.status() != StatusCode::OK {
        return Err(response.status());
    }
    let answer = json_answer(response)
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    next_expected(&answer, total).map_err(|_| StatusCode::BAD_GATEWAY)
}

async fn json_answer(response: reqwest::Response) -> Result<Value, String> {
    let body = read_bounded(response, MAX_UPLOAD_ANSWER).await?;
    serde_json::from_slice(&body).map_err(|_| "upload session answered no JSON".to_string())
}

/// The start of the first range in `nextExpectedRanges` (`"12345-"` or `"12345-67890"`).
fn next_expected(answer: &Value, total: usize) -> Result<Option<usize>, String> {
    let ranges = answer
        .get("nextExpectedRanges")
        .and_then(Value::as_array)
        .ok_or("upload session answer without nextExpectedRanges")?;
    let Some(first) = ranges.first() else {
        return Ok(None);
    };
    let start = first
        .as_str()
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&s| s < total)
        .ok_or("malformed nextExpectedRanges")?;
    Ok(Some(start))
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(120)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Checks the cross-reference table: every entry points at its `N 0 obj`.
    fn check_xref(pdf: &[u8]) -> usize {
        let tail = std::str::from_utf8(&pdf[pdf.len() - 64..]).expect("ASCII trailer end");
        let startxref: usize = tail
            .rsplit("startxref\n")
            .next()
            .and_then(|t| t.lines().next())
            .and_then(|n| n.parse().ok())
            .expect("startxref");
        let text = std::str::from_utf8(&pdf[startxref..]).expect("ASCII xref and trailer");
        assert!(text.starts_with("xref\n0 "));
        let mut lines = text.lines().skip(1);
        let count: usize = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap();
        let entries: Vec<&str> = lines.take(count).collect();
        assert_eq!(entries[0], "0000000000 65535 f ");
        for (n, entry) in entries.iter().enumerate().skip(1) {
            assert_eq!(entry.len(), 19, "each entry is 20 bytes with its newline");
            let offset: usize = entry[..10].parse().unwrap();
            let header = format!("{n} 0 obj\n");
            assert_eq!(&pdf[offset..offset + header.len()], header.as_bytes());
        }
        count
    }

    #[test]
    fn pdf_is_well_formed_deterministic_and_sized() {
        let settings = ScanSettings::default();
        let pdf = generate_pdf(&settings, "scn_1", "contoso-reception");
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        assert_eq!(check_xref(&pdf), 1 + 4 + 3 * 3);
        let text = String::from_utf8_lossy(&pdf[..512]);
        assert!(text.contains("/Count 3"));
        assert_eq!(pdf, generate_pdf(&settings, "scn_1", "contoso-reception"));
        assert_ne!(pdf, generate_pdf(&settings, "scn_2", "contoso-reception"));
        assert!((1_000_000..2_500_000).contains(&pdf.len()), "{}", pdf.len());
    }

    #[test]
    fn next_expected_ranges() {
        let answer = json!({"nextExpectedRanges": ["327680-"]});
        assert_eq!(next_expected(&answer, 1_000_000), Ok(Some(327_680)));
        let answer = json!({"nextExpectedRanges": ["10-20", "30-"]});
        assert_eq!(next_expected(&answer, 100), Ok(Some(10)));
        assert_eq!(
            next_expected(&json!({"nextExpectedRanges": []}), 10),
            Ok(None)
        );
        assert!(next_expected(&json!({"nextExpectedRanges": ["200-"]}), 100).is_err());
        assert!(next_expected(&json!({}), 100).is_err());
    }
}
