//! `roger demo`: starts the reference cloud on loopback and walks the flow with the real core.
//!
//! Every step goes over real sockets. The demo keeps its secrets in an in-memory store so it
//! never touches the desktop keyring.

use std::sync::Arc;

use anyhow::{anyhow, Context};
use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::store::MemoryStore;
use roger_core::Config;
use roger_sim::{Cloud, CloudHandle, SimConfig};

/// The demo user of the reference cloud (test data, not a real account).
const DEMO_USER: (&str, &str) = ("alice@contoso.example", "alice-password");

fn core_config(cloud: &CloudHandle) -> Config {
    let mut config = Config::production();
    config.discovery_url = cloud.discovery_url.clone();
    config.allow_insecure_loopback = true;
    config
}

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

pub async fn run(serve: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let cloud = Cloud::start(SimConfig::default())
        .await
        .context("starting the reference cloud")?;
    println!(
        "Reference cloud up on loopback in {} ms:",
        started.elapsed().as_millis()
    );
    for (name, url) in cloud.urls() {
        println!("  {name:<24} {url}");
    }

    let accounts = Accounts::open(
        core_config(&cloud),
        Arc::new(MemoryStore::new()),
        OpenOptions::default(),
    )?;

    step(1, "Region discovery");
    for region in accounts.regions().await? {
        println!(
            "  {:<4} {:<16} api {}  issuer {}",
            region.id, region.display_name, region.api_url, region.issuer
        );
    }

    step(
        2,
        "Sign in to Roger (authorization code + PKCE S256, region eu)",
    );
    let authorize = accounts.begin_sign_in(Some("eu")).await?;
    println!(
        "  open in the system browser: {}{}?…",
        authorize.origin().ascii_serialization(),
        authorize.path()
    );
    let eu = cloud
        .region("eu")
        .ok_or_else(|| anyhow!("the cloud has no eu region"))?;
    let redirect = eu
        .browser_login(&authorize, DEMO_USER.0, DEMO_USER.1)
        .map_err(|e| anyhow!("scripted browser login: {e}"))?;
    println!(
        "  the browser returns to {}:{}?code=…&state=…&iss=…",
        redirect.scheme(),
        redirect.path()
    );
    let state = accounts.complete_sign_in(redirect.as_str()).await?;
    println!("  {state:?}");

    step(3, "An authorised call (printers of the tenant)");
    let region = accounts.signed_in_region().await?;
    let url = region.api_url.join("api/v1/printers")?;
    let http = accounts.http().clone();
    let response = accounts
        .roger()
        .send("listing printers", |token| {
            http.get(url.clone()).bearer_auth(token)
        })
        .await?;
    let body: serde_json::Value = response.error_for_status()?.json().await?;
    for printer in body["printers"].as_array().into_iter().flatten() {
        println!(
            "  {:<20} {:<28} {}",
            printer["id"].as_str().unwrap_or("?"),
            printer["name"].as_str().unwrap_or("?"),
            printer["location"].as_str().unwrap_or("")
        );
    }

    step(
        4,
        "Access token expires (reference cloud clock +21 min): silent refresh",
    );
    cloud
        .clock()
        .advance(std::time::Duration::from_secs(21 * 60));
    let response = accounts
        .roger()
        .send("listing printers", |token| {
            http.get(url.clone()).bearer_auth(token)
        })
        .await?;
    println!(
        "  HTTP {} after {} refresh request(s) at the server",
        response.status().as_u16(),
        eu.stats().refresh_requests()
    );

    step(5, "Sign out: revoke and wipe");
    accounts.sign_out().await?;
    println!("  {:?}", accounts.roger().state());

    if serve {
        println!("\nServing until Ctrl-C…");
        tokio::signal::ctrl_c().await?;
    }
    cloud.shutdown().await;
    println!("\nDemo finished.");
    Ok(())
}
