//! `pair`: log in at a printer from a photo of its QR code, or the code typed.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use roger_core::pairing::{
    parse_manual_entry, parse_pairing_payload, policy_from_regions, PairingPayload, PairingPolicy,
    PayloadError,
};
use roger_core::printer::{PairingPreview, PrinterSession};
use roger_core::qr::{scan_until, FullResolution, LumaFrame, PipelineOptions, WorkBudget};

use crate::args::{Global, PairArgs};
use crate::context::Context;
use crate::failure::{Exit, Failure};
use crate::output::{preview_json, print_json, session_json, session_line};

/// How long to wait for the printer to open the session after approval.
const SESSION_WAIT: Duration = Duration::from_secs(60);
/// Largest image file read (a phone photo is a few MiB).
const MAX_IMAGE_BYTES: u64 = 64 * 1024 * 1024;
/// Longest side of an image decoded, in pixels (a 48-megapixel photo fits).
const MAX_IMAGE_SIDE: u32 = 12_000;
/// Most memory the image decoder may take.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Reads the pairing code from a photo or screenshot: every code in the image is read with a
/// generous budget (a still image is not a camera stream), and the trusted Roger code among
/// them is kept.
pub fn read_image(path: &Path, policy: &PairingPolicy) -> Result<PairingPayload, Failure> {
    let unreadable = |why: String| {
        Failure::new(
            Exit::BadInput,
            format!(
                "Cannot read the image {} ({why}): give a PNG or JPEG photo of the printer's screen.",
                path.display()
            ),
        )
    };
    let size = std::fs::metadata(path)
        .map_err(|e| unreadable(e.to_string()))?
        .len();
    if size > MAX_IMAGE_BYTES {
        return Err(unreadable("larger than 64 MiB".into()));
    }
    let mut reader = image::ImageReader::open(path)
        .map_err(|e| unreadable(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| unreadable(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let luma = reader
        .decode()
        .map_err(|e| unreadable(e.to_string()))?
        .to_luma8();
    let (w, h) = luma.dimensions();
    let frame = LumaFrame::packed(luma.as_raw(), w as usize, h as usize)
        .map_err(|e| unreadable(e.to_string()))?;
    let budget = WorkBudget::default();
    let options = PipelineOptions {
        plain_fallback: true,
        budget: WorkBudget {
            cross_checks: budget.cross_checks * 8,
            placements: budget.placements * 4,
            decodes: budget.decodes * 4,
        },
        // One still image, not a stream: every full-resolution pass.
        full_resolution: FullResolution::Both,
    };
    let outcome = scan_until(&frame, &options, None, &|text| {
        parse_pairing_payload(text, policy).is_ok()
    });
    let mut first_error: Option<PayloadError> = None;
    for code in &outcome.codes {
        match parse_pairing_payload(&code.text, policy) {
            Ok(payload) => return Ok(payload),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Err(Failure::new(
            Exit::BadInput,
            format!(
                "No QR code found in {}: take the photo closer and straight on, or type the code with --code.",
                path.display()
            ),
        )),
    }
}

fn confirm(preview: &PairingPreview) -> Result<bool, Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::new(
            Exit::Usage,
            "Approval needs a yes: run again with --yes, or in a terminal.",
        ));
    }
    eprint!("Log in at {}? [y/N] ", preview.printer().name);
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::new(Exit::Usage, format!("Cannot read the answer ({e}).")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}

fn show_preview(preview: &PairingPreview) {
    let printer = preview.printer();
    println!("Printer  {} ({})", printer.name, printer.id);
    if let Some(model) = &printer.model {
        println!("Model    {model}");
    }
    if let Some(location) = &printer.location {
        println!("Location {location}");
    }
    println!("Tenant   {}", preview.tenant().name);
    println!(
        "Client   {} asks for {}",
        preview.client_name().unwrap_or(preview.client_id()),
        preview.scopes().join(" ")
    );
    let left = preview.remaining().as_secs();
    println!(
        "Code     {} (expires in {}:{:02})",
        preview.display_code(),
        left / 60,
        left % 60
    );
}

/// `roger pair`.
pub async fn pair(global: &Global, args: PairArgs) -> Result<(), Failure> {
    let ctx = Context::open(global, None)?;
    let region = ctx.accounts.signed_in_region().await?;
    let regions = ctx.accounts.regions().await?;
    let policy = policy_from_regions(&regions, ctx.accounts.config().allow_insecure_loopback);
    let payload = match (&args.image, &args.code) {
        (Some(path), _) => read_image(path, &policy)?,
        (None, Some(code)) => parse_manual_entry(code, &region.id, &policy)?,
        (None, None) => {
            return Err(Failure::new(
                Exit::Usage,
                "Give a photo of the printer's code, or --code.",
            ))
        }
    };
    let service = ctx.printer().await?;
    let preview = service.preview(&payload).await?;
    if !ctx.json {
        show_preview(&preview);
    }
    let preview_doc = preview_json(&preview);
    if !args.yes && !confirm(&preview)? {
        service.deny(preview).await?;
        return Err(Failure::new(
            Exit::Cancelled,
            "Not approved; the printer was told no.",
        ));
    }
    service.approve(preview).await?;
    let session = wait_for_session(&service).await?;
    if ctx.json {
        print_json(&json!({ "preview": preview_doc, "session": session_json(&session) }));
    } else {
        println!("Approved: {}.", session_line(&session));
        println!("Release your jobs with `roger release --all`.");
    }
    Ok(())
}

/// Waits until the printer has opened the session the approval started.
async fn wait_for_session(
    service: &roger_core::printer::PrintService,
) -> Result<PrinterSession, Failure> {
    let deadline = tokio::time::Instant::now() + SESSION_WAIT;
    loop {
        if let Some(session) = service.session().await? {
            return Ok(session);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Failure::new(
                Exit::Printer,
                "Approved, but the printer did not open the session: check its screen and try again.",
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
