//! `roger`: the Roger desktop client on the core, and the demo of the whole system.
//!
//! The binary is a thin `main`; everything is here so that tests can use the settings of a
//! reference cloud and the exit codes.

pub mod args;
mod commands;
mod context;
#[cfg(feature = "demo")]
mod demo;
pub mod failure;
mod login;
mod output;
pub mod settings;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command, OnedriveCommand};
use failure::{Exit, Failure};

/// Runs one command line; returns the process's exit code. Errors are one line on stderr.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    match dispatch(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if json {
                let doc = serde_json::json!({
                    "error": failure.message,
                    "exitCode": failure.exit as u8,
                });
                println!("{doc}");
            }
            eprintln!("roger: {}", failure.message);
            ExitCode::from(failure.exit as u8)
        }
    }
}

async fn dispatch(cli: Cli) -> Result<(), Failure> {
    let g = &cli.global;
    match cli.command {
        Command::Regions => commands::account::regions(g).await,
        Command::Login(args) => commands::account::login(g, args).await,
        Command::Status => commands::account::status(g).await,
        Command::Onedrive(OnedriveCommand::Link { no_browser }) => {
            commands::account::onedrive_link(g, no_browser).await
        }
        Command::Logout => commands::account::logout(g).await,
        Command::Print(args) => commands::jobs::print(g, args).await,
        Command::Jobs => commands::jobs::jobs(g).await,
        Command::Release(args) => commands::jobs::release(g, args).await,
        Command::Cancel { id } => commands::jobs::cancel(g, &id).await,
        Command::Pair(args) => commands::pair::pair(g, args).await,
        Command::Ls { folder } => commands::files::ls(g, folder).await,
        Command::Download(args) => commands::files::download(g, args).await,
        Command::Scan(args) => commands::files::scan(g, args).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "roger", &mut std::io::stdout());
            Ok(())
        }
        #[cfg(feature = "demo")]
        Command::Demo { serve } => demo::run(serve)
            .await
            .map_err(|e| Failure::new(Exit::Failure, format!("{e:#}"))),
    }
}

/// A panic is a bug: say so in one line, without a backtrace, and exit 1.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("roger: internal error{place}; please report it.");
        std::process::exit(Exit::Failure as i32);
    }));
}
