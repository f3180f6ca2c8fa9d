//! `roger-sim`: runs the reference Roger cloud on loopback until Ctrl-C.

use clap::Parser;
use roger_sim::{Cloud, MfpConfig, SimConfig};

/// Reference Roger cloud (discovery, OAuth, pairing, print and scan) on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Access token lifetime, seconds.
    #[arg(long)]
    access_token_secs: Option<u64>,
    /// Refresh token lifetime (sliding), seconds.
    #[arg(long)]
    refresh_token_secs: Option<u64>,
    /// Authorization code lifetime, seconds.
    #[arg(long)]
    authorization_code_secs: Option<u64>,
    /// Device code / QR lifetime, seconds.
    #[arg(long)]
    device_code_secs: Option<u64>,
    /// Device polling interval, seconds.
    #[arg(long)]
    poll_interval_secs: Option<u64>,
    /// Waiting-job expiry, seconds.
    #[arg(long)]
    job_expiry_secs: Option<u64>,
    /// Do not start the simulated MFPs of the seeded printers (contoso-reception, fabrikam-lobby).
    #[arg(long)]
    no_mfps: bool,
}

impl Args {
    fn into_config(self) -> SimConfig {
        let mut config = SimConfig::default();
        if !self.no_mfps {
            config.mfps = MfpConfig::seeded();
        }
        let lifetimes = &mut config.lifetimes;
        let pairs = [
            (self.access_token_secs, &mut lifetimes.access_token_secs),
            (self.refresh_token_secs, &mut lifetimes.refresh_token_secs),
            (
                self.authorization_code_secs,
                &mut lifetimes.authorization_code_secs,
            ),
            (self.device_code_secs, &mut lifetimes.device_code_secs),
            (
                self.poll_interval_secs,
                &mut lifetimes.device_poll_interval_secs,
            ),
            (self.job_expiry_secs, &mut lifetimes.job_expiry_secs),
        ];
        for (value, field) in pairs {
            if let Some(value) = value {
                *field = value;
            }
        }
        config
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "roger_sim=info".into()),
        )
        .init();
    let config = Args::parse().into_config();
    let accounts: Vec<String> = config
        .regions
        .iter()
        .flat_map(|r| r.tenants.iter().map(move |t| (r, t)))
        .flat_map(|(r, t)| {
            t.users.iter().map(move |u| {
                format!(
                    "  {:<3} {:<10} {:<26} password grant: {}",
                    r.id,
                    t.id,
                    u.email,
                    if t.password_grant { "yes" } else { "no" }
                )
            })
        })
        .collect();
    let cloud = Cloud::start(config).await?;
    println!("Roger reference cloud\n{cloud}");
    println!("Seeded accounts (test passwords: see SimConfig::default):");
    for line in accounts {
        println!("{line}");
    }
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    cloud.shutdown().await;
    Ok(())
}
