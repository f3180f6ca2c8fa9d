//! The handheld-stream report: every stream fed frame by frame to a fresh `FrameScanner`, as
//! the phone feeds it (the region of interest carried from frame to frame, each distinct
//! pairing code reported once), next to the reference decoder's result on each frame.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use roger_core::pairing::payload::{parse_pairing_payload, PairingPolicy};
use roger_core::qr::{luma_from_encoded, FrameScanner, ScanEvent, ScannerConfig, SubmitOutcome};

use super::{pct, Entry, Res};

/// One decoder on one stream.
#[derive(Default, Clone, Copy)]
struct Run {
    /// Index of the first frame that gave the pairing code.
    first: Option<usize>,
    /// Decode time of the frames up to and including that one (all frames if none).
    ms: f64,
    /// A pairing code other than the one shown was reported.
    wrong: bool,
}

struct Stream<'a> {
    name: String,
    condition: String,
    frames: Vec<&'a Entry>,
}

/// Prints the stream tables for the entries that name a stream; `within` is the target number
/// of frames.
pub(crate) fn report(
    dir: &Path,
    entries: &[Entry],
    reference: Option<(&str, &HashMap<String, Res>)>,
    policy: &PairingPolicy,
    within: usize,
    alternate_passes: bool,
) -> Result<(), String> {
    let mut streams: Vec<Stream<'_>> = Vec::new();
    for e in entries {
        let Some(name) = &e.stream else { continue };
        match streams.iter_mut().find(|s| &s.name == name) {
            Some(s) => s.frames.push(e),
            None => streams.push(Stream {
                name: name.clone(),
                condition: e.condition.clone(),
                frames: vec![e],
            }),
        }
    }
    for s in &mut streams {
        s.frames.sort_by_key(|e| e.frame.unwrap_or(0));
    }

    let mut ours: Vec<Run> = Vec::new();
    let mut theirs: Vec<Option<Run>> = Vec::new();
    // Per-frame times of the frames each scanner was fed (until its first read), by size.
    let mut frame_ms: Vec<((usize, usize), f64)> = Vec::new();
    for s in &streams {
        let expected = s.frames[0]
            .pairing
            .iter()
            .find_map(|p| parse_pairing_payload(p, policy).ok());
        let mut config = ScannerConfig::new(policy.clone());
        config.alternate_passes = alternate_passes;
        let scanner = FrameScanner::new(config);
        let mut run = Run::default();
        for (k, e) in s.frames.iter().enumerate() {
            let bytes = std::fs::read(dir.join("corpus").join(&e.file))
                .map_err(|err| format!("{}: {err}", e.file))?;
            let img = luma_from_encoded(&bytes).map_err(|err| format!("{}: {err}", e.file))?;
            let t = Instant::now();
            let out = scanner.submit(&img.as_frame());
            let ms = t.elapsed().as_secs_f64() * 1e3;
            run.ms += ms;
            frame_ms.push(((img.width, img.height), ms));
            if let SubmitOutcome::Processed(Some(ScanEvent::Paired(p))) = out {
                if Some(&p) == expected.as_ref() {
                    run.first = Some(k);
                    break;
                }
                run.wrong = true;
            }
        }
        ours.push(run);
        theirs.push(reference.map(|(_, m)| {
            let mut r = Run::default();
            for (k, e) in s.frames.iter().enumerate() {
                let Some(x) = m.get(&e.file) else { continue };
                r.ms += x.ms;
                r.wrong |= x.wrong;
                if x.ok {
                    r.first = Some(k);
                    break;
                }
            }
            r
        }));
    }

    let ref_name = reference.map(|(n, _)| n);
    println!();
    println!(
        "Handheld streams: {} streams of up to {} frames; a stream is read when the pairing code \
         is reported within {within} frames. Frames to first read and time to first read \
         (the decode time of every frame up to it) over the streams read.",
        streams.len(),
        streams.iter().map(|s| s.frames.len()).max().unwrap_or(0)
    );
    println!();
    let mut conds: Vec<&str> = Vec::new();
    for s in &streams {
        if !conds.contains(&s.condition.as_str()) {
            conds.push(&s.condition);
        }
    }
    print!("| condition | streams | ours: read within {within} | frames to first read, median / p95 | time to first read, median / p95 (ms) |");
    if let Some(n) = ref_name {
        print!(" {n}: read within {within} | frames | time (ms) |");
    }
    println!();
    print!("|---|---:|---:|---:|---:|");
    if ref_name.is_some() {
        print!("---:|---:|---:|");
    }
    println!();
    let mut rows: Vec<(String, Vec<usize>)> = conds
        .iter()
        .map(|c| {
            let idx = (0..streams.len())
                .filter(|&i| streams[i].condition == *c)
                .collect();
            (c.to_string(), idx)
        })
        .collect();
    rows.push(("**all**".into(), (0..streams.len()).collect()));
    for (label, idx) in &rows {
        print!("| {label} | {} |", idx.len());
        cells(idx.iter().map(|&i| ours[i]), within);
        if ref_name.is_some() {
            cells(idx.iter().filter_map(|&i| theirs[i]), within);
        }
        println!();
    }
    let wrong = |v: &mut dyn Iterator<Item = Run>| v.filter(|r| r.wrong).count();
    print!(
        "\nwrong reads (streams): ours {}",
        wrong(&mut ours.iter().copied())
    );
    if let Some(n) = ref_name {
        print!(", {n} {}", wrong(&mut theirs.iter().flatten().copied()));
    }
    println!();

    let mut sizes: Vec<(usize, usize)> = frame_ms.iter().map(|(s, _)| *s).collect();
    sizes.sort();
    sizes.dedup();
    println!();
    println!("| frame size | ours per frame in a stream, median / p95 (ms) |");
    println!("|---|---:|");
    for size in sizes {
        let mut v: Vec<f64> = frame_ms
            .iter()
            .filter(|(s, _)| *s == size)
            .map(|(_, m)| *m)
            .collect();
        println!(
            "| {}x{} | {:.2} / {:.2} |",
            size.0,
            size.1,
            pct(&mut v, 0.5),
            pct(&mut v, 0.95)
        );
    }
    Ok(())
}

/// Read rate within `within` frames, frames to first read and time to first read.
fn cells(runs: impl Iterator<Item = Run>, within: usize) {
    let runs: Vec<Run> = runs.collect();
    let read: Vec<&Run> = runs
        .iter()
        .filter(|r| r.first.is_some_and(|k| k < within))
        .collect();
    let mut frames: Vec<f64> = read
        .iter()
        .filter_map(|r| r.first.map(|k| (k + 1) as f64))
        .collect();
    let mut ms: Vec<f64> = read.iter().map(|r| r.ms).collect();
    print!(
        " {:.1}% | {:.0} / {:.0} | {:.2} / {:.2} |",
        100.0 * read.len() as f64 / runs.len().max(1) as f64,
        pct(&mut frames, 0.5),
        pct(&mut frames, 0.95),
        pct(&mut ms, 0.5),
        pct(&mut ms, 0.95)
    );
}
