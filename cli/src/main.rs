//! `roger`: the Roger desktop client and the end-to-end demo.

#[cfg(feature = "demo")]
mod demo;

use clap::{Parser, Subcommand};

/// Roger cloud print from the terminal.
#[derive(Debug, Parser)]
#[command(name = "roger", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the reference cloud on loopback and walk the whole flow against it.
    #[cfg(feature = "demo")]
    Demo {
        /// Keep the reference cloud running after the walk-through, until Ctrl-C.
        #[arg(long)]
        serve: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROGER_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        #[cfg(feature = "demo")]
        Command::Demo { serve } => demo::run(serve).await,
    }
}
