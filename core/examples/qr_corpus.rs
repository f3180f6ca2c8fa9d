//! Writes the synthetic QR corpus: `manifest.csv` + `corpus/*.png`.
//!
//! ```text
//! cargo run --release -p roger-core --features corpus --example qr_corpus -- <out-dir> [frames-per-condition]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use roger_core::qr::corpus::{write_corpus, CorpusSpec};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: qr_corpus <out-dir> [frames-per-condition (default 20)]");
        return ExitCode::FAILURE;
    };
    let per = match args.next().map(|s| s.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("frames-per-condition must be a positive number");
            return ExitCode::FAILURE;
        }
    };
    let spec = CorpusSpec::benchmark(per);
    match write_corpus(&dir, &spec) {
        Ok(n) => {
            println!("wrote {n} frames to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
