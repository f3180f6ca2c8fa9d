//! `roger`: the Roger desktop client and the end-to-end demo.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    roger_cli::install_panic_hook();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROGER_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    roger_cli::run().await
}
