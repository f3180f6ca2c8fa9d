//! Writes a QR corpus: `manifest.csv` + `corpus/*.png`.
//!
//! ```text
//! cargo run --release -p roger-core --features corpus --example qr_corpus -- <out-dir> [frames-per-condition] [--camera tuning|held-out] [--streams]
//! ```
//!
//! Without `--camera`: the synthetic corpus (12 conditions, default 20 frames per condition and
//! size). With it: the camera-model corpus of that split (11 conditions, severities 1 to 3 in
//! turn, default 9 frames per condition and size). With `--streams` too: handheld streams of
//! that split's hard conditions, 10 frames each (default 6 streams per condition and size).

use std::path::PathBuf;
use std::process::ExitCode;

use roger_core::qr::camera::{
    write_camera_corpus, write_camera_streams, CameraSpec, Split, STREAM_FRAMES,
};
use roger_core::qr::corpus::{write_corpus, CorpusSpec};

fn main() -> ExitCode {
    let mut dir = None;
    let mut per = None;
    let mut split = None;
    let mut streams = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--streams" {
            streams = true;
        } else if a == "--camera" {
            match args.next().as_deref().and_then(Split::from_name) {
                Some(s) => split = Some(s),
                None => {
                    eprintln!("--camera takes tuning or held-out");
                    return ExitCode::FAILURE;
                }
            }
        } else if dir.is_none() {
            dir = Some(PathBuf::from(a));
        } else {
            match a.parse::<usize>() {
                Ok(n) if n > 0 => per = Some(n),
                _ => {
                    eprintln!("frames-per-condition must be a positive number");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!(
            "usage: qr_corpus <out-dir> [frames-per-condition] [--camera tuning|held-out] [--streams]"
        );
        return ExitCode::FAILURE;
    };
    let written = match split {
        Some(s) if streams => write_camera_streams(
            &dir,
            &CameraSpec::streams(s, per.unwrap_or(6)),
            STREAM_FRAMES,
        ),
        Some(s) => write_camera_corpus(&dir, &CameraSpec::benchmark(s, per.unwrap_or(9))),
        None if streams => {
            eprintln!("--streams needs --camera tuning|held-out");
            return ExitCode::FAILURE;
        }
        None => write_corpus(&dir, &CorpusSpec::benchmark(per.unwrap_or(20))),
    };
    match written {
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
