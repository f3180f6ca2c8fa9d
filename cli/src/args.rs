//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use url::Url;

const EXIT_CODES: &str = "\
Exit codes:
  0   done
  1   the service failed or answered something unexpected; retry later
  2   bad command line or settings file
  3   not signed in, or the session ended: run `roger login` (or `roger onedrive link`)
  4   the network or the service cannot be reached
  5   the service is busy; retry after the time given
  6   no such job, file, folder or region
  7   an input that cannot work: unreadable image, no QR code, not a Roger code, an option the printer lacks
  8   the printer side refused: no printer session, code expired or used, other organisation
  9   the system keyring failed
  10  stopped by you: declined, Ctrl-C, cancelled transfer

Environment: ROGER_CONFIG (settings file), ROGER_DISCOVERY_URL, ROGER_DATA_DIR, ROGER_LOG (log filter, e.g. debug).";

/// Roger cloud print from the terminal: queue documents for printing, release them at the
/// printer you logged in to with its QR code, scan into OneDrive.
#[derive(Debug, Parser)]
#[command(
    name = "roger",
    version,
    about,
    after_long_help = EXIT_CODES,
    after_help = "Run `roger help <command>` for examples; `roger --help` lists the exit codes."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
pub struct Global {
    /// A settings file (TOML) naming the deployment: discovery URL, region, client ids.
    #[arg(long, global = true, env = "ROGER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Region discovery of another deployment (staging, the reference cloud).
    #[arg(long, global = true, env = "ROGER_DISCOVERY_URL", value_name = "URL")]
    pub discovery_url: Option<Url>,
    /// Allow plain HTTP to 127.0.0.1 / ::1 (the reference cloud only; never another host).
    #[arg(long, global = true)]
    pub allow_insecure_loopback: bool,
    /// Where tokens are kept: the system keyring, or memory (gone when the command ends).
    #[arg(long, global = true, value_enum, default_value_t = StoreKind::Keyring)]
    pub store: StoreKind,
    /// Directory for the client's files (after-print actions, install marker).
    #[arg(long, global = true, env = "ROGER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Machine-readable output: one JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Where secrets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// The system keyring (Keychain, Credential Manager, Secret Service / kernel keyring).
    Keyring,
    /// Memory only: every command starts signed out (tests, one-off runs).
    Memory,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the regions of the deployment.
    #[command(after_help = "Example:\n  roger regions --json")]
    Regions,
    /// Sign in to Roger in the system browser (or with a password).
    #[command(
        after_help = "Examples:\n  roger login --region eu\n  roger login --no-browser\n  \
                            printf '%s\\n' \"$PASSWORD\" | roger login --password --username alice@contoso.example"
    )]
    Login(LoginArgs),
    /// Show who is signed in, the OneDrive link and the printer session.
    #[command(after_help = "Example:\n  roger status --json")]
    Status,
    /// OneDrive: link the Microsoft account whose "Print" and "Scan" folders are used.
    #[command(subcommand)]
    Onedrive(OnedriveCommand),
    /// Sign out of Roger and OneDrive, and forget the tokens.
    Logout,
    /// Queue a local file or a OneDrive "Print" file, to release at any printer later.
    #[command(
        after_help = "Examples:\n  roger print report.pdf --copies 2 --duplex long\n  \
                            roger print 'onedrive:Print/Quarterly report.pdf' --color --pages 1-3,5"
    )]
    Print(PrintArgs),
    /// List your print jobs, newest first.
    #[command(after_help = "Example:\n  roger jobs --json")]
    Jobs,
    /// Release waiting jobs at the printer you are logged in to.
    #[command(
        after_help = "Examples:\n  roger release --all --wait\n  roger release 3f2a91 7c01de"
    )]
    Release(ReleaseArgs),
    /// Cancel a job that has not printed.
    #[command(after_help = "Example:\n  roger cancel 3f2a91")]
    Cancel {
        /// The job id (see `roger jobs`).
        id: String,
    },
    /// Log in at a printer from a photo of its QR code (or the code typed).
    #[command(
        after_help = "Examples:\n  roger pair photo.jpg\n  roger pair --code BDWP-HQPK --yes"
    )]
    Pair(PairArgs),
    /// List the files in OneDrive "Print" or "Scan".
    #[command(after_help = "Examples:\n  roger ls print\n  roger ls scan --json")]
    Ls {
        /// The folder.
        #[arg(value_enum)]
        folder: Folder,
    },
    /// Download a file from OneDrive "Print" or "Scan".
    #[command(
        after_help = "Examples:\n  roger download 'Scan/Scan 2026-12-07 0930.pdf'\n  \
                            roger download 'onedrive:Print/report.pdf' ~/Downloads/"
    )]
    Download(DownloadArgs),
    /// Scan at the printer you are logged in to, into OneDrive "Scan".
    #[command(after_help = "Examples:\n  roger scan\n  roger scan --profile color-pdf")]
    Scan(ScanArgs),
    /// Print shell completions.
    #[command(
        after_help = "Example:\n  roger completions bash > ~/.local/share/bash-completion/completions/roger"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Start the reference cloud on loopback and walk the whole story against it.
    #[cfg(feature = "demo")]
    #[command(after_help = "Examples:\n  roger demo\n  roger demo --serve")]
    Demo {
        /// Keep the reference cloud running after the walk-through, until Ctrl-C, and write
        /// a settings file for trying every command against it.
        #[arg(long)]
        serve: bool,
    },
}

/// `roger login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The region (see `roger regions`); needed when the deployment has several.
    #[arg(long)]
    pub region: Option<String>,
    /// Print the sign-in URL instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Legacy password sign-in (only where the organisation allows it); the password is read
    /// from the terminal without echo, or from the first line of stdin.
    #[arg(long)]
    pub password: bool,
    /// The user name for --password (asked for when left out).
    #[arg(long, requires = "password")]
    pub username: Option<String>,
}

/// `roger onedrive ...`.
#[derive(Debug, Subcommand)]
pub enum OnedriveCommand {
    /// Sign in to Microsoft in the system browser.
    #[command(after_help = "Example:\n  roger onedrive link")]
    Link {
        /// Print the sign-in URL instead of opening a browser.
        #[arg(long)]
        no_browser: bool,
    },
}

/// `roger print`.
#[derive(Debug, Args)]
pub struct PrintArgs {
    /// A local file, or `onedrive:Print/<name>` for a file already in OneDrive "Print".
    pub source: String,
    /// Copies, 1-999.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=999))]
    pub copies: u16,
    /// Print on both sides.
    #[arg(long, value_enum, default_value_t = DuplexArg::Off)]
    pub duplex: DuplexArg,
    /// Colour (black and white otherwise).
    #[arg(long)]
    pub color: bool,
    /// Pages, e.g. `1-3,5`.
    #[arg(long, value_name = "RANGES")]
    pub pages: Option<String>,
    /// Media size, e.g. A4.
    #[arg(long)]
    pub media: Option<String>,
    /// What to do with the OneDrive file once printed (local files: deleted by default,
    /// OneDrive files: kept).
    #[arg(long, value_enum)]
    pub after: Option<AfterArg>,
    /// Name in OneDrive for a local file (its own name by default).
    #[arg(long)]
    pub name: Option<String>,
}

/// Sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DuplexArg {
    /// One side.
    Off,
    /// Both sides, flipped on the long edge.
    Long,
    /// Both sides, flipped on the short edge.
    Short,
}

/// After-print action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AfterArg {
    /// Leave the file in "Print".
    Keep,
    /// Delete it.
    Delete,
    /// Move it into "Printed".
    Move,
}

/// `roger release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Job ids to release.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub ids: Vec<String>,
    /// Release every waiting job.
    #[arg(long)]
    pub all: bool,
    /// Wait until the printer has printed them.
    #[arg(long)]
    pub wait: bool,
}

/// `roger pair`.
#[derive(Debug, Args)]
pub struct PairArgs {
    /// A photo or screenshot of the printer's screen (PNG or JPEG).
    #[arg(required_unless_present = "code", conflicts_with = "code")]
    pub image: Option<PathBuf>,
    /// The code shown under the QR code, typed.
    #[arg(long)]
    pub code: Option<String>,
    /// Approve without asking.
    #[arg(long, short)]
    pub yes: bool,
}

/// A OneDrive folder of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Folder {
    /// "Print": documents to print.
    Print,
    /// "Scan": scans.
    Scan,
}

/// `roger download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// `Print/<name>` or `Scan/<name>` (optionally prefixed by `onedrive:`).
    pub item: String,
    /// A file or directory (the current directory by default).
    pub dest: Option<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

/// `roger scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The scan profile, by id or name (the first one by default).
    #[arg(long)]
    pub profile: Option<String>,
    /// List the profiles instead of scanning.
    #[arg(long)]
    pub list_profiles: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn release_needs_ids_or_all_but_not_both() {
        assert!(Cli::try_parse_from(["roger", "release"]).is_err());
        assert!(Cli::try_parse_from(["roger", "release", "a", "--all"]).is_err());
        assert!(Cli::try_parse_from(["roger", "release", "--all"]).is_ok());
    }

    #[test]
    fn copies_are_bounded() {
        assert!(Cli::try_parse_from(["roger", "print", "f.pdf", "--copies", "0"]).is_err());
        assert!(Cli::try_parse_from(["roger", "print", "f.pdf", "--copies", "1000"]).is_err());
    }
}
