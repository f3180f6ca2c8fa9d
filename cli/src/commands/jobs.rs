//! `print`, `jobs`, `release`, `cancel`.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

use roger_core::onedrive::{AfterPrint, CancelFlag};
use roger_core::printer::{
    check_options, Duplex, JobState, LocalFile, PrintOptions, PrinterError, PrinterEvent,
    ReleaseIntent,
};

use crate::args::{AfterArg, DuplexArg, Folder, Global, PrintArgs, ReleaseArgs};
use crate::commands::files::{find_in, parse_item, ONEDRIVE_PREFIX};
use crate::context::Context;
use crate::failure::{Exit, Failure};
use crate::output::{job_json, job_line, print_json, state_name};

/// How long `release --wait` follows the printer.
const PRINT_WAIT: Duration = Duration::from_secs(600);

fn options(args: &PrintArgs) -> PrintOptions {
    PrintOptions {
        copies: args.copies,
        duplex: match args.duplex {
            DuplexArg::Off => Duplex::None,
            DuplexArg::Long => Duplex::LongEdge,
            DuplexArg::Short => Duplex::ShortEdge,
        },
        color: args.color,
        page_ranges: args.pages.clone(),
        media: args.media.clone(),
    }
}

fn after(arg: Option<AfterArg>, default: AfterPrint) -> AfterPrint {
    match arg {
        None => default,
        Some(AfterArg::Keep) => AfterPrint::Keep,
        Some(AfterArg::Delete) => AfterPrint::Delete,
        Some(AfterArg::Move) => AfterPrint::MoveToPrinted,
    }
}

/// A transfer's progress bar (on stderr, for people at a terminal) and its cancellation on
/// Ctrl-C.
pub struct TransferUi {
    /// Set on Ctrl-C.
    pub cancel: CancelFlag,
    bar: indicatif::ProgressBar,
    watcher: tokio::task::JoinHandle<()>,
}

impl TransferUi {
    /// Shows a bar labelled `label` unless the output is JSON or stderr is not a terminal.
    pub fn start(json: bool, label: &str) -> Self {
        let bar = if json || !std::io::stderr().is_terminal() {
            indicatif::ProgressBar::hidden()
        } else {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
                "{label} {{bar:30}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} {{eta}}"
            )) {
                bar.set_style(style);
            }
            bar
        };
        let cancel = CancelFlag::new();
        let flag = cancel.clone();
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.cancel();
            }
        });
        Self {
            cancel,
            bar,
            watcher,
        }
    }

    /// Shows `done` of `total` bytes.
    pub fn update(&self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
    }

    /// Removes the bar and stops listening for Ctrl-C.
    pub fn finish(self) {
        self.watcher.abort();
        self.bar.finish_and_clear();
    }
}

/// `roger print`.
pub async fn print(global: &Global, args: PrintArgs) -> Result<(), Failure> {
    let ctx = Context::open(global, None)?;
    let service = ctx.printer().await?;
    let options = options(&args);
    // Refused before anything is uploaded.
    check_options(&options).map_err(PrinterError::from)?;
    let job = match args.source.strip_prefix(ONEDRIVE_PREFIX) {
        Some(rest) => {
            let name = match parse_item(&args.source) {
                Some((Folder::Print, name)) => name,
                _ => rest,
            };
            let item = find_in(&ctx, Folder::Print, name).await?;
            service
                .print_onedrive(&item.id, &options, after(args.after, AfterPrint::Keep))
                .await?
        }
        None => {
            let path = Path::new(&args.source);
            if !path.is_file() {
                return Err(Failure::new(
                    Exit::BadInput,
                    format!(
                        "There is no file {}: give a local file, or onedrive:Print/<name>.",
                        path.display()
                    ),
                ));
            }
            let ui = TransferUi::start(ctx.json, "upload");
            let progress = |done: u64, total: u64| ui.update(done, total);
            let queued = service
                .print_local(
                    LocalFile {
                        path,
                        name: args.name.as_deref(),
                        progress: &progress,
                        cancel: &ui.cancel,
                    },
                    &options,
                    after(args.after, AfterPrint::Delete),
                )
                .await;
            ui.finish();
            queued?
        }
    };
    if ctx.json {
        print_json(&job_json(&job));
    } else {
        println!("Queued: {}", job_line(&job));
        println!("Release it at a printer with `roger release {}`.", job.id);
    }
    Ok(())
}

/// `roger jobs`.
pub async fn jobs(global: &Global) -> Result<(), Failure> {
    let ctx = Context::open(global, None)?;
    let jobs = ctx.printer().await?.jobs().await?;
    if ctx.json {
        print_json(&json!(jobs.iter().map(job_json).collect::<Vec<_>>()));
    } else if jobs.is_empty() {
        println!("No jobs. Queue one with `roger print <file>`.");
    } else {
        for job in &jobs {
            println!("{}", job_line(job));
        }
    }
    Ok(())
}

fn is_final(state: JobState) -> bool {
    matches!(
        state,
        JobState::Printed | JobState::Failed | JobState::Cancelled | JobState::Expired
    )
}

/// `roger release`.
pub async fn release(global: &Global, args: ReleaseArgs) -> Result<(), Failure> {
    let ctx = Context::open(global, None)?;
    let service = ctx.printer().await?;
    if service.session().await?.is_none() {
        return Err(PrinterError::NoSession.into());
    }
    let intent = if args.all {
        match service.release_all_intent().await? {
            Some(intent) => intent,
            None => {
                if ctx.json {
                    print_json(&json!({ "released": [] }));
                } else {
                    println!("No job is waiting.");
                }
                return Ok(());
            }
        }
    } else {
        ReleaseIntent::new(&args.ids)?
    };
    let mut events = service.subscribe();
    if args.wait {
        service.start_events();
    }
    let released = service.release(&intent).await?;
    let mut finals = Vec::new();
    if args.wait {
        let mut open: HashSet<String> = released.jobs.iter().map(|j| j.id.clone()).collect();
        if !ctx.json {
            println!(
                "Released {} job(s) to {}; waiting for the printer…",
                open.len(),
                released.printer_id
            );
        }
        let waited = tokio::time::timeout(PRINT_WAIT, async {
            // Events tell at once; a poll now and then covers a job that printed before the
            // stream was connected.
            let mut poll = tokio::time::interval(Duration::from_secs(2));
            while !open.is_empty() {
                let states: Vec<(String, JobState)> = tokio::select! {
                    event = events.next() => match event {
                        Some(PrinterEvent::Job { job_id, state, .. }) => vec![(job_id, state)],
                        Some(PrinterEvent::Resynced { jobs, .. }) => {
                            jobs.into_iter().map(|j| (j.id, j.state)).collect()
                        }
                        Some(PrinterEvent::SignedOut) | None => break,
                        Some(_) => continue,
                    },
                    _ = poll.tick() => match service.jobs().await {
                        Ok(jobs) => jobs.into_iter().map(|j| (j.id, j.state)).collect(),
                        Err(_) => continue,
                    },
                };
                for (id, state) in states {
                    if is_final(state) && open.remove(&id) {
                        if !ctx.json {
                            println!("  {id}: {}", state_name(&state));
                        }
                        finals.push((id, state));
                    }
                }
            }
        })
        .await;
        service.stop_events();
        if waited.is_err() || !open.is_empty() {
            return Err(Failure::new(
                Exit::Network,
                "The printer did not report every job printed in time: see `roger jobs`.",
            ));
        }
        // After-print actions of the printed jobs run here, before the process ends.
        service.reconcile_after_print().await;
    }
    if ctx.json {
        print_json(&json!({
            "clientRequestId": released.client_request_id,
            "sessionId": released.session_id,
            "printerId": released.printer_id,
            "released": released.jobs.iter().map(|j| json!({
                "id": j.id,
                "state": finals.iter().find(|(id, _)| *id == j.id)
                    .map_or_else(|| state_name(&j.state), |(_, s)| state_name(s)),
            })).collect::<Vec<_>>(),
        }));
    } else if !args.wait {
        for job in &released.jobs {
            println!(
                "Released {} to {} ({}).",
                job.id,
                released.printer_id,
                state_name(&job.state)
            );
        }
    }
    if finals.iter().any(|(_, s)| *s != JobState::Printed) {
        return Err(Failure::new(
            Exit::Printer,
            "Not every job printed: see `roger jobs` for the reason.",
        ));
    }
    Ok(())
}

/// `roger cancel`.
pub async fn cancel(global: &Global, id: &str) -> Result<(), Failure> {
    let ctx = Context::open(global, None)?;
    let job = ctx.printer().await?.cancel(id).await?;
    if ctx.json {
        print_json(&job_json(&job));
    } else {
        println!("Cancelled: {}", job_line(&job));
    }
    Ok(())
}
