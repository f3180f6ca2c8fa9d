//! `roger-sim`: runs the reference Roger cloud on loopback until Ctrl-C.

use std::sync::Arc;

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
    /// Run the simulated MFPs 100 times faster than real time (tests).
    #[arg(long)]
    fast_mfps: bool,
    /// Also serve the control API for tests in other languages (browser step, MFP screen and
    /// output, OneDrive seeding, clock) on 127.0.0.1.
    #[arg(long)]
    control: bool,
    /// Print the URLs as one JSON line on stdout (for test harnesses), nothing else.
    #[arg(long)]
    json: bool,
}

impl Args {
    fn into_config(self) -> SimConfig {
        let mut config = SimConfig::default();
        if !self.no_mfps {
            config.mfps = MfpConfig::seeded();
            if self.fast_mfps {
                config.mfps = config.mfps.into_iter().map(MfpConfig::fast).collect();
            }
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
        // Stdout carries the URLs (one JSON line with --json): logs go to stderr.
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let (json, control) = (args.json, args.control);
    let config = args.into_config();
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
    let cloud = Arc::new(Cloud::start(config).await?);
    let control_server = if control {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/", listener.local_addr()?);
        let app = roger_sim::control::router(cloud.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Some((url, task))
    } else {
        None
    };
    if json {
        let mut urls: serde_json::Map<String, serde_json::Value> = cloud
            .urls()
            .into_iter()
            .map(|(name, url)| (name, url.as_str().into()))
            .collect();
        if let Some((url, _)) = &control_server {
            urls.insert("control".into(), url.as_str().into());
        }
        let identity = cloud.identity();
        urls.insert(
            "microsoft authority".into(),
            identity.authority("organizations").as_str().into(),
        );
        urls.insert("microsoft client id".into(), identity.client_id().into());
        println!("{}", serde_json::Value::Object(urls));
    } else {
        println!("Roger reference cloud\n{cloud}");
        if let Some((url, _)) = &control_server {
            println!("control      {url}");
        }
        println!("Seeded accounts (test passwords: see SimConfig::default):");
        for line in accounts {
            println!("{line}");
        }
        println!("Press Ctrl-C to stop.");
    }
    std::io::Write::flush(&mut std::io::stdout())?;
    tokio::signal::ctrl_c().await?;
    if let Some((_, task)) = control_server {
        task.abort();
        let _ = task.await;
    }
    if let Ok(cloud) = Arc::try_unwrap(cloud) {
        cloud.shutdown().await;
    }
    Ok(())
}
