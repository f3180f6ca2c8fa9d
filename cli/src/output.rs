//! What the commands print: a line for people, or one JSON document for scripts. The JSON
//! field names are part of the command line's contract (camelCase, as the Roger API).

use std::time::SystemTime;

use serde_json::{json, Value};

use roger_core::auth::AuthState;
use roger_core::onedrive::DriveItem;
use roger_core::printer::{Duplex, Job, PairingPreview, PrinterSession, Right, ScanProfile};

/// Prints a JSON document on stdout.
pub fn print_json(value: &Value) {
    // Serialising a `Value` cannot fail.
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// RFC 3339, UTC, to the second.
pub fn time(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// A state as the API names it (`waiting`, `printed`, ...).
pub fn state_name<T: serde::Serialize>(state: &T) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A job.
pub fn job_json(job: &Job) -> Value {
    json!({
        "id": job.id,
        "fileName": job.file_name,
        "state": state_name(&job.state),
        "size": job.size,
        "options": serde_json::to_value(&job.options).unwrap_or(Value::Null),
        "createdAt": time(job.created_at),
        "expiresAt": job.expires_at.map(time),
        "printerId": job.printer_id,
        "failureReason": job.failure_reason,
    })
}

/// One line for a job.
pub fn job_line(job: &Job) -> String {
    let mut how = vec![format!(
        "{} {}",
        job.options.copies,
        if job.options.copies == 1 {
            "copy"
        } else {
            "copies"
        }
    )];
    match job.options.duplex {
        Duplex::None => {}
        Duplex::LongEdge => how.push("duplex long edge".into()),
        Duplex::ShortEdge => how.push("duplex short edge".into()),
    }
    if job.options.color {
        how.push("colour".into());
    }
    if let Some(pages) = &job.options.page_ranges {
        how.push(format!("pages {pages}"));
    }
    format!(
        "{:<14} {:<10} {:<36} {}",
        job.id,
        state_name(&job.state),
        job.file_name,
        how.join(", ")
    )
}

/// A OneDrive item.
pub fn item_json(folder: &str, item: &DriveItem) -> Value {
    json!({
        "id": item.id,
        "name": item.name,
        "path": format!("{folder}/{}", item.name),
        "size": item.size,
        "lastModified": item.last_modified,
        "mimeType": item.mime_type,
        "folder": item.is_folder(),
        "printability": format!("{:?}", item.printability),
    })
}

/// A sign-in state.
pub fn auth_json(state: &AuthState) -> Value {
    match state {
        AuthState::SignedIn {
            account_id,
            username,
            region,
        } => json!({
            "signedIn": true,
            "accountId": account_id,
            "username": username,
            "region": region,
        }),
        AuthState::SignedOut { reason } => json!({
            "signedIn": false,
            "reason": reason.to_string(),
        }),
    }
}

/// Who is signed in, for people.
pub fn auth_line(state: &AuthState) -> String {
    match state {
        AuthState::SignedIn {
            username,
            region,
            account_id,
        } => {
            let who = username
                .as_deref()
                .or(account_id.as_deref())
                .unwrap_or("an account");
            match region {
                Some(region) => format!("signed in as {who} (region {region})"),
                None => format!("signed in as {who}"),
            }
        }
        AuthState::SignedOut { reason } => reason.to_string(),
    }
}

fn right_name(right: &Right) -> &'static str {
    match right {
        Right::Release => "release",
        Right::Submit => "submit",
        Right::Scan => "scan",
    }
}

/// A printer session.
pub fn session_json(session: &PrinterSession) -> Value {
    json!({
        "id": session.id,
        "printerId": session.printer.as_ref().map(|p| &p.id),
        "printerName": session.printer.as_ref().map(|p| &p.name),
        "startedAt": time(session.started_at),
        "rights": session.rights.iter().map(right_name).collect::<Vec<_>>(),
    })
}

/// A printer session, for people.
pub fn session_line(session: &PrinterSession) -> String {
    let at = match &session.printer {
        Some(p) => format!("{} ({})", p.name, p.id),
        None => "a printer".to_owned(),
    };
    let rights: Vec<&str> = session.rights.iter().map(right_name).collect();
    format!(
        "logged in at {at} since {}, can {}",
        time(session.started_at),
        if rights.is_empty() {
            "nothing yet".to_owned()
        } else {
            rights.join(", ")
        }
    )
}

/// A pairing preview.
pub fn preview_json(preview: &PairingPreview) -> Value {
    let printer = preview.printer();
    json!({
        "code": preview.display_code(),
        "region": preview.region_id(),
        "printer": {
            "id": printer.id,
            "name": printer.name,
            "model": printer.model,
            "location": printer.location,
        },
        "tenant": { "id": preview.tenant().id, "name": preview.tenant().name },
        "client": preview.client_name().unwrap_or(preview.client_id()),
        "scopes": preview.scopes(),
        "expiresInSecs": preview.remaining().as_secs(),
    })
}

/// A scan profile.
pub fn profile_json(profile: &ScanProfile) -> Value {
    json!({
        "id": profile.id,
        "name": profile.name,
        "format": profile.format,
        "resolutionDpi": profile.resolution_dpi,
        "colorMode": profile.color_mode,
    })
}

/// Bytes for people: `512 B`, `4.2 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_well() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(5 * 1024 * 1024 + 17), "5.0 MiB");
        assert_eq!(
            time(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400)),
            "1970-01-02T00:00:00Z"
        );
    }
}
