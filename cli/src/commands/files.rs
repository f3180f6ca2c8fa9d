//! `ls`, `download`, `scan`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use roger_core::onedrive::DriveItem;

use crate::args::{DownloadArgs, Folder, Global, ScanArgs};
use crate::commands::jobs::TransferUi;
use crate::context::Context;
use crate::failure::{Exit, Failure};
use crate::output::{item_json, print_json, profile_json, size};

/// The prefix that names a file in OneDrive instead of a local one.
pub const ONEDRIVE_PREFIX: &str = "onedrive:";

/// Finds a file by name in a listing: the exact name, else the one name that matches without
/// regard to case (as OneDrive compares names).
fn find_by_name<'a>(items: &'a [DriveItem], name: &str) -> Option<&'a DriveItem> {
    items.iter().find(|i| i.name == name).or_else(|| {
        let mut matches = items.iter().filter(|i| i.name.eq_ignore_ascii_case(name));
        match (matches.next(), matches.next()) {
            (Some(one), None) => Some(one),
            _ => None,
        }
    })
}

fn not_found(folder: Folder, name: &str) -> Failure {
    let folder = folder_name(folder);
    Failure::new(
        Exit::NotFound,
        format!(
            "There is no file \"{name}\" in OneDrive \"{folder}\": see `roger ls {}`.",
            folder.to_lowercase()
        ),
    )
}

/// The item called `name` (see [`find_by_name`]) in one of the app's folders.
pub async fn find_in(ctx: &Context, folder: Folder, name: &str) -> Result<DriveItem, Failure> {
    let items = list(ctx, folder).await?;
    find_by_name(&items, name)
        .cloned()
        .ok_or_else(|| not_found(folder, name))
}

fn folder_name(folder: Folder) -> &'static str {
    match folder {
        Folder::Print => "Print",
        Folder::Scan => "Scan",
    }
}

async fn list(ctx: &Context, folder: Folder) -> Result<Vec<DriveItem>, Failure> {
    let drive = ctx.drive()?;
    Ok(match folder {
        Folder::Print => drive.list_print().await?,
        Folder::Scan => drive.list_scans().await?,
    })
}

/// `roger ls`.
pub async fn ls(global: &Global, folder: Folder) -> Result<(), Failure> {
    let ctx = Context::open(global, None)?;
    let items = list(&ctx, folder).await?;
    let name = folder_name(folder);
    if ctx.json {
        print_json(&json!(items
            .iter()
            .map(|i| item_json(name, i))
            .collect::<Vec<_>>()));
    } else if items.is_empty() {
        println!("OneDrive \"{name}\" is empty.");
    } else {
        for item in &items {
            println!(
                "{:>10}  {:<20}  {name}/{}",
                size(item.size),
                item.last_modified,
                item.name
            );
        }
    }
    Ok(())
}

/// Splits `[onedrive:]Print/<name>` or `[onedrive:]Scan/<name>`.
pub fn parse_item(text: &str) -> Option<(Folder, &str)> {
    let text = text.strip_prefix(ONEDRIVE_PREFIX).unwrap_or(text);
    let (folder, name) = text.split_once('/')?;
    let folder = if folder.eq_ignore_ascii_case("print") {
        Folder::Print
    } else if folder.eq_ignore_ascii_case("scan") {
        Folder::Scan
    } else {
        return None;
    };
    (!name.is_empty() && !name.contains('/')).then_some((folder, name))
}

/// Where a download goes: `dest` itself, or the item's name inside `dest` (or the current
/// directory) when that is a directory.
fn destination(dest: Option<&Path>, name: &str) -> PathBuf {
    // The name comes from the server: only its last component is used.
    let safe = Path::new(name)
        .file_name()
        .map_or_else(|| PathBuf::from("download"), PathBuf::from);
    match dest {
        Some(d) if d.is_dir() => d.join(safe),
        Some(d) => d.to_path_buf(),
        None => safe,
    }
}

/// `roger download`.
pub async fn download(global: &Global, args: DownloadArgs) -> Result<(), Failure> {
    let (folder, name) = parse_item(&args.item).ok_or_else(|| {
        Failure::new(
            Exit::Usage,
            format!(
                "`{}` is not a OneDrive item: write Print/<name> or Scan/<name>.",
                args.item
            ),
        )
    })?;
    let ctx = Context::open(global, None)?;
    let item = find_in(&ctx, folder, name).await?;
    if item.is_folder() {
        return Err(not_found(folder, name));
    }
    let folder = folder_name(folder);
    let dest = destination(args.dest.as_deref(), &item.name);
    if dest.exists() && !args.force {
        return Err(Failure::new(
            Exit::BadInput,
            format!(
                "{} already exists: give another destination, or --force to replace it.",
                dest.display()
            ),
        ));
    }
    let ui = TransferUi::start(ctx.json, "download");
    let progress = |done: u64, total: u64| ui.update(done, total);
    let written = ctx
        .drive()?
        .download_to_file(&item.id, &dest, &progress, &ui.cancel)
        .await;
    ui.finish();
    let written = written?;
    if ctx.json {
        print_json(&json!({
            "item": item_json(folder, &item),
            "path": dest.display().to_string(),
            "bytes": written,
        }));
    } else {
        println!(
            "Downloaded {folder}/{} to {} ({}).",
            item.name,
            dest.display(),
            size(written)
        );
    }
    Ok(())
}

/// `roger scan`.
pub async fn scan(global: &Global, args: ScanArgs) -> Result<(), Failure> {
    let ctx = Context::open(global, None)?;
    let service = ctx.printer().await?;
    let profiles = service.scan_profiles().await?;
    if args.list_profiles {
        if ctx.json {
            print_json(&json!(profiles
                .iter()
                .map(profile_json)
                .collect::<Vec<_>>()));
        } else {
            for p in &profiles {
                println!("{:<16} {:<24} {}", p.id, p.name, p.format);
            }
        }
        return Ok(());
    }
    let profile = match &args.profile {
        Some(wanted) => profiles.iter().find(|p| p.id == *wanted).or_else(|| {
            profiles
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(wanted))
        }),
        None => profiles.first(),
    }
    .ok_or_else(|| {
        Failure::new(
            Exit::NotFound,
            "There is no such scan profile: see `roger scan --list-profiles`.",
        )
    })?;
    let spinner = if ctx.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    spinner.set_message(format!(
        "scanning with {}: place the document on the printer",
        profile.name
    ));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let scanned = tokio::select! {
        scanned = service.scan(&profile.id) => scanned,
        _ = tokio::signal::ctrl_c() => {
            spinner.finish_and_clear();
            return Err(Failure::new(
                Exit::Cancelled,
                "Stopped waiting; the printer may still finish the scan into OneDrive \"Scan\".",
            ));
        }
    };
    spinner.finish_and_clear();
    let scanned = scanned?;
    if ctx.json {
        print_json(&json!({
            "scanId": scanned.scan_id,
            "profile": profile.id,
            "item": item_json("Scan", &scanned.item),
        }));
    } else {
        println!(
            "Scanned into OneDrive \"Scan/{}\" ({}).",
            scanned.item.name,
            size(scanned.item.size)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_named_by_folder_and_name() {
        assert_eq!(
            parse_item("onedrive:Scan/a b.pdf"),
            Some((Folder::Scan, "a b.pdf"))
        );
        assert_eq!(parse_item("print/x.pdf"), Some((Folder::Print, "x.pdf")));
        assert_eq!(parse_item("Documents/x.pdf"), None);
        assert_eq!(parse_item("Scan/"), None);
        assert_eq!(parse_item("Scan/a/b"), None);
        assert_eq!(parse_item("x.pdf"), None);
    }

    #[test]
    fn a_server_name_cannot_leave_the_destination() {
        assert_eq!(
            destination(None, "../../etc/passwd"),
            PathBuf::from("passwd")
        );
        let dir = std::env::temp_dir();
        assert_eq!(destination(Some(&dir), "a.pdf"), dir.join("a.pdf"));
        assert_eq!(
            destination(Some(Path::new("out.pdf")), "a.pdf"),
            PathBuf::from("out.pdf")
        );
    }
}
