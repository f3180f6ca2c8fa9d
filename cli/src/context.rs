//! The core, opened for one command: the deployment's configuration, the secure store, the
//! accounts and, when a command needs them, OneDrive and the printer session.

use std::path::PathBuf;
use std::sync::Arc;

use url::Url;

use roger_core::accounts::{Accounts, OpenOptions};
use roger_core::onedrive::OneDrive;
use roger_core::printer::{PrintService, PrintServiceOptions};
use roger_core::store::{KeyringStore, MemoryStore, SecureStore};
use roger_core::Config;

use crate::args::{Global, StoreKind};
use crate::failure::Failure;
use crate::settings::{deployment_name, profile_dir, Settings};

/// The opened core.
pub struct Context {
    /// The accounts.
    pub accounts: Arc<Accounts>,
    /// This deployment's directory.
    pub dir: PathBuf,
    /// JSON output.
    pub json: bool,
}

/// The configuration the global options and the settings file give.
pub fn config(global: &Global) -> Result<Config, Failure> {
    let mut settings = match &global.config {
        Some(path) => Settings::read(path)?,
        None => Settings::default(),
    };
    if let Some(url) = &global.discovery_url {
        settings.discovery_url = Some(url.clone());
    }
    settings.allow_insecure_loopback |= global.allow_insecure_loopback;
    settings.config()
}

impl Context {
    /// Opens the core. `redirect` replaces the registered loopback redirect (a sign-in uses
    /// the port it listens on).
    pub fn open(global: &Global, redirect: Option<&Url>) -> Result<Self, Failure> {
        let mut config = config(global)?;
        if let Some(redirect) = redirect {
            config.roger.redirect_uri = redirect.clone();
            config.microsoft.client.redirect_uri = redirect.clone();
        }
        let dir = profile_dir(global.data_dir.as_deref(), &config)?;
        let store: Arc<dyn SecureStore> = match global.store {
            StoreKind::Keyring => Arc::new(KeyringStore::platform(format!(
                "roger-cli {}",
                deployment_name(&config)
            ))?),
            StoreKind::Memory => Arc::new(MemoryStore::new()),
        };
        let accounts = Accounts::open(
            config,
            store,
            OpenOptions {
                data_dir: Some(&dir),
                clock: None,
            },
        )?;
        Ok(Self {
            accounts: Arc::new(accounts),
            dir,
            json: global.json,
        })
    }

    /// OneDrive of the linked Microsoft account.
    pub fn drive(&self) -> Result<Arc<OneDrive>, Failure> {
        Ok(Arc::new(OneDrive::new(
            self.accounts.config(),
            self.accounts.microsoft().clone(),
        )?))
    }

    /// The printer session of the signed-in Roger account. Runs after-print actions of jobs
    /// that ended since the last command.
    pub async fn printer(&self) -> Result<PrintService, Failure> {
        let service = PrintService::new(
            self.accounts.clone(),
            self.drive()?,
            PrintServiceOptions {
                data_dir: Some(self.dir.clone()),
                ..PrintServiceOptions::default()
            },
        )?;
        if !service.pending_after_print().is_empty() {
            service.reconcile_after_print().await;
        }
        Ok(service)
    }
}
