//! `regions`, `login`, `status`, `onedrive link`, `logout`.

use serde_json::json;

use roger_core::auth::AuthState;

use crate::args::{Global, LoginArgs};
use crate::context::Context;
use crate::failure::Failure;
use crate::login::{browser_sign_in, password_sign_in, Loopback, Target};
use crate::output::{auth_json, auth_line, print_json, session_json, session_line};

/// `roger regions`.
pub async fn regions(global: &Global) -> Result<(), Failure> {
    let ctx = Context::open(global, None)?;
    let regions = ctx.accounts.regions().await?;
    if ctx.json {
        print_json(&json!(regions
            .iter()
            .map(|r| json!({ "id": r.id, "name": r.display_name, "apiUrl": r.api_url.as_str() }))
            .collect::<Vec<_>>()));
    } else {
        for r in &regions {
            println!("{:<6} {:<24} {}", r.id, r.display_name, r.api_url);
        }
    }
    Ok(())
}

/// The region to sign in to: the one asked for, the preset one, or the only one there is.
async fn region_for_login(ctx: &Context, asked: Option<String>) -> Result<Option<String>, Failure> {
    if asked.is_some() {
        return Ok(asked);
    }
    if ctx.accounts.config().preset_region.is_some() {
        return Ok(None);
    }
    let regions = ctx.accounts.regions().await?;
    match regions.as_slice() {
        [only] => Ok(Some(only.id.clone())),
        _ => Err(Failure::new(
            crate::failure::Exit::Usage,
            format!(
                "Choose a region with --region: {}.",
                regions
                    .iter()
                    .map(|r| format!("{} ({})", r.id, r.display_name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// `roger login`.
pub async fn login(global: &Global, args: LoginArgs) -> Result<(), Failure> {
    let loopback = if args.password {
        None
    } else {
        Some(Loopback::bind().await?)
    };
    let ctx = Context::open(global, loopback.as_ref().map(|l| &l.redirect))?;
    let region = region_for_login(&ctx, args.region).await?;
    let state = match loopback {
        None => password_sign_in(&ctx, region.as_deref(), args.username.as_deref()).await?,
        Some(loopback) => {
            browser_sign_in(
                &ctx,
                loopback,
                Target::Roger,
                region.as_deref(),
                args.no_browser,
            )
            .await?
        }
    };
    report_sign_in(&ctx, "Roger", &state);
    if !ctx.json {
        if let AuthState::SignedOut { .. } = ctx.accounts.microsoft().state() {
            println!("Next: `roger onedrive link` to print from and scan to OneDrive.");
        }
    }
    Ok(())
}

fn report_sign_in(ctx: &Context, what: &str, state: &AuthState) {
    if ctx.json {
        print_json(&auth_json(state));
    } else {
        println!("{what}: {}.", auth_line(state));
    }
}

/// `roger onedrive link`.
pub async fn onedrive_link(global: &Global, no_browser: bool) -> Result<(), Failure> {
    let loopback = Loopback::bind().await?;
    let ctx = Context::open(global, Some(&loopback.redirect))?;
    let state = browser_sign_in(&ctx, loopback, Target::Microsoft, None, no_browser).await?;
    report_sign_in(&ctx, "OneDrive", &state);
    Ok(())
}

/// `roger status`.
pub async fn status(global: &Global) -> Result<(), Failure> {
    let ctx = Context::open(global, None)?;
    let roger = ctx.accounts.roger().state();
    let microsoft = ctx.accounts.microsoft().state();
    // The session is the server's to tell; a failure to ask is shown, not fatal.
    let session = match &roger {
        AuthState::SignedIn { .. } => Some(ctx.printer().await?.session().await),
        AuthState::SignedOut { .. } => None,
    };
    let printer: Result<Option<_>, Failure> = match session {
        Some(Ok(s)) => Ok(s),
        Some(Err(e)) => Err(Failure::from(e)),
        None => Ok(None),
    };
    if ctx.json {
        let printer = match &printer {
            Ok(Some(s)) => session_json(s),
            Ok(None) => serde_json::Value::Null,
            Err(f) => json!({ "error": f.message }),
        };
        print_json(&json!({
            "deployment": ctx.accounts.config().discovery_url.as_str(),
            "roger": auth_json(&roger),
            "onedrive": auth_json(&microsoft),
            "printerSession": printer,
        }));
        return Ok(());
    }
    println!("Deployment: {}", ctx.accounts.config().discovery_url);
    println!("Roger:      {}", auth_line(&roger));
    let onedrive = match &microsoft {
        AuthState::SignedIn { .. } => auth_line(&microsoft).replacen("signed in", "linked", 1),
        AuthState::SignedOut { .. } => "not linked (`roger onedrive link`)".to_owned(),
    };
    println!("OneDrive:   {onedrive}");
    let printer = match (&roger, printer) {
        (AuthState::SignedOut { .. }, _) => "sign in first".to_owned(),
        (_, Ok(Some(s))) => session_line(&s),
        (_, Ok(None)) => "not logged in at a printer (`roger pair`)".to_owned(),
        (_, Err(f)) => f.message,
    };
    println!("Printer:    {printer}");
    Ok(())
}

/// `roger logout`.
pub async fn logout(global: &Global) -> Result<(), Failure> {
    let ctx = Context::open(global, None)?;
    // The tokens are gone once this returns; the revocation at the servers runs on, so give it
    // a moment before the process ends.
    let revocation = ctx.accounts.sign_out().await?;
    revocation.wait(std::time::Duration::from_secs(5)).await;
    if ctx.json {
        print_json(&json!({ "signedOut": true }));
    } else {
        println!("Signed out of Roger and OneDrive; the tokens are gone from this computer.");
    }
    Ok(())
}
