//! QR decoding benchmark over a corpus folder: plain rqrr against our pipeline, per condition
//! (and per severity when the manifest has one), decode time only (frames are loaded into
//! memory first).
//!
//! ```text
//! cargo run --release -p roger-core --example qr_bench -- <folder> [--reference NAME=results.csv] [--results out.csv] [--no-plain] [--any-code] [--stages] [--roi] [--work] [--unbounded] [--within N] [--every-pass]
//! ```
//!
//! `<folder>` holds `manifest.csv` and the frames under `corpus/` (PNG or JPEG). The manifest
//! is read by column name, so any outside corpus with at least `file` and `payload` works:
//!
//! - `file`: the frame, under `corpus/`;
//! - `payload`: a code shown in the frame; further codes shown in `payload2`, `payload3`, ...
//!   or in `other_payloads` (separated by spaces);
//! - `condition`, `severity` (optional): rows of the report;
//! - `width`, `height` (optional): checked against the decoded frame.
//!
//! Any other column is ignored. A frame is **read** when a decoder returns the pairing code
//! among its results: an expected payload that is a valid Roger pairing code (if none is, the
//! `payload` column). A **wrong read** is a returned text the frame does not show (it must
//! never happen: every run counts them).
//!
//! `--reference` adds the per-frame results of another decoder (as written by
//! `scripts/qr_bench_zxing.py`: `file,ms,texts` with `texts` a JSON array, or `file,ok,ms`)
//! judged by the same rules; `--results` writes ours per frame; `--no-plain` skips plain rqrr.
//! Our pipeline looks for a pairing code as the phone's `FrameScanner` does (`scan_until`: a
//! step that reads only other codes does not end the scan); `--any-code` stops at any code.
//! `--stages` counts which pipeline step read each frame; `--roi` also times the next frame of
//! a steady stream (the same frame scanned again with the previous region of interest, as
//! `FrameScanner` does); `--work` reports the counted work per frame against the per-frame
//! budget; `--unbounded` lifts that budget (to check that it changes no result).
//!
//! A manifest with `stream` and `frame` columns (written by `qr_corpus --streams`) also gets
//! the handheld-stream report: each stream fed in frame order to a fresh `FrameScanner`, with
//! the frames to first read and the time to first read, next to the reference's results on
//! the same frames (`--within N`: the target number of frames, default 10; `--every-pass`:
//! both full-resolution passes on every frame instead of in turns).

mod streams;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use roger_core::pairing::payload::{parse_pairing_payload, PairingPolicy, TrustedOrigin};
use roger_core::qr::{self, luma_from_encoded, LumaImage, PipelineOptions, Work, WorkBudget};

struct Entry {
    file: String,
    condition: String,
    severity: Option<String>,
    size: Option<(usize, usize)>,
    /// Every code the frame shows.
    expected: Vec<String>,
    /// The codes that count as a read (the pairing codes among `expected`).
    pairing: Vec<String>,
    /// The handheld stream the frame belongs to, and its index there.
    stream: Option<String>,
    frame: Option<usize>,
}

/// The production regions: what a phone accepts as a pairing code.
fn roger_policy() -> PairingPolicy {
    PairingPolicy::new(vec![
        TrustedOrigin::https("eu", "eu.roger.myq.cloud"),
        TrustedOrigin::https("us", "us.roger.myq.cloud"),
    ])
}

fn read_manifest(dir: &Path, policy: &PairingPolicy) -> Result<Vec<Entry>, String> {
    let path = dir.join("manifest.csv");
    let mut rd = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = rd
        .headers()
        .map_err(|e| format!("manifest.csv: {e}"))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let file_c = col("file").ok_or("manifest.csv: no `file` column")?;
    let payload_c = col("payload").ok_or("manifest.csv: no `payload` column")?;
    let (cond_c, sev_c, w_c, h_c) = (
        col("condition"),
        col("severity"),
        col("width"),
        col("height"),
    );
    let others_c = col("other_payloads");
    let (stream_c, frame_c) = (col("stream"), col("frame"));
    let extra_c: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            let h = h.trim();
            h.len() > "payload".len()
                && h.starts_with("payload")
                && h["payload".len()..].bytes().all(|b| b.is_ascii_digit())
        })
        .map(|(i, _)| i)
        .collect();
    let mut out = Vec::new();
    for (i, rec) in rd.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("manifest.csv line {line}: {e}"))?;
        let get = |c: usize| rec.get(c).unwrap_or("").to_string();
        let num = |c: Option<usize>| -> Result<Option<usize>, String> {
            match c.map(|c| rec.get(c).unwrap_or("").trim()) {
                None | Some("") => Ok(None),
                Some(v) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("manifest.csv line {line}: not a number: {v}")),
            }
        };
        let size = match (num(w_c)?, num(h_c)?) {
            (Some(w), Some(h)) => Some((w, h)),
            _ => None,
        };
        let mut expected = vec![get(payload_c)];
        for &c in &extra_c {
            expected.push(get(c));
        }
        if let Some(c) = others_c {
            expected.extend(get(c).split_whitespace().map(str::to_string));
        }
        expected.retain(|p| !p.is_empty());
        let mut pairing: Vec<String> = expected
            .iter()
            .filter(|p| parse_pairing_payload(p, policy).is_ok())
            .cloned()
            .collect();
        if pairing.is_empty() {
            pairing.push(get(payload_c));
        }
        out.push(Entry {
            file: get(file_c),
            condition: cond_c.map_or_else(|| "all".into(), get),
            severity: sev_c.map(get).filter(|s| !s.is_empty()),
            size,
            expected,
            pairing,
            stream: stream_c.map(get).filter(|s| !s.is_empty()),
            frame: num(frame_c)?,
        });
    }
    Ok(out)
}

/// One decoder's result on one frame.
#[derive(Default, Clone, Copy)]
struct Res {
    ok: bool,
    /// Returned a text the frame does not show.
    wrong: bool,
    ms: f64,
}

fn judge<'a>(e: &Entry, texts: impl IntoIterator<Item = &'a str>, ms: f64) -> Res {
    let mut r = Res {
        ms,
        ..Default::default()
    };
    for t in texts {
        r.ok |= e.pairing.iter().any(|p| p == t);
        r.wrong |= !e.expected.iter().any(|p| p == t);
    }
    r
}

fn read_reference(path: &Path, entries: &[Entry]) -> Result<HashMap<String, Res>, String> {
    let mut rd = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = rd.headers().map_err(|e| e.to_string())?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let file_c = col("file").ok_or("reference: no `file` column")?;
    let ms_c = col("ms").ok_or("reference: no `ms` column")?;
    let (texts_c, ok_c) = (col("texts"), col("ok"));
    let by_file: HashMap<&str, &Entry> = entries.iter().map(|e| (e.file.as_str(), e)).collect();
    let mut out = HashMap::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        let file = rec.get(file_c).unwrap_or("");
        let Some(e) = by_file.get(file) else {
            continue;
        };
        let ms = rec
            .get(ms_c)
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        let res = match texts_c.and_then(|c| rec.get(c)) {
            Some(t) => {
                let texts: Vec<String> = serde_json::from_str(t)
                    .map_err(|err| format!("{}: texts of {file}: {err}", path.display()))?;
                judge(e, texts.iter().map(String::as_str), ms)
            }
            None => Res {
                ok: ok_c.and_then(|c| rec.get(c)) == Some("1"),
                wrong: false,
                ms,
            },
        };
        out.insert(file.to_string(), res);
    }
    Ok(out)
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i]
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: qr_bench <folder> [--reference NAME=results.csv] [--results out.csv] [--no-plain] [--any-code] [--stages] [--roi] [--work] [--unbounded] [--within N] [--every-pass]";

struct Row {
    size: (usize, usize),
    plain: Option<Res>,
    ours: Res,
    reference: Option<Res>,
    work: Work,
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let mut reference: Option<(String, PathBuf)> = None;
    let mut results: Option<PathBuf> = None;
    let (mut stages, mut roi, mut work, mut unbounded, mut no_plain, mut any_code) =
        (false, false, false, false, false, false);
    let mut within = 10usize;
    let mut every_pass = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--reference" => {
                let v = args.next().ok_or("--reference NAME=path")?;
                let (n, p) = v.split_once('=').ok_or("--reference NAME=path")?;
                reference = Some((n.to_string(), PathBuf::from(p)));
            }
            "--results" => results = Some(PathBuf::from(args.next().ok_or("--results path")?)),
            "--stages" => stages = true,
            "--roi" => roi = true,
            "--work" => work = true,
            "--unbounded" => unbounded = true,
            "--no-plain" => no_plain = true,
            "--any-code" => any_code = true,
            "--every-pass" => every_pass = true,
            "--within" => {
                within = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--within takes a number of frames")?;
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}\n{USAGE}")),
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let dir = dir.ok_or(USAGE)?;
    let policy = roger_policy();
    let entries = read_manifest(&dir, &policy)?;
    // What the phone does: look for a pairing code (`FrameScanner`), or any code.
    let pairing = |t: &str| parse_pairing_payload(t, &policy).is_ok();
    let any = |_: &str| true;
    let accept: &dyn Fn(&str) -> bool = if any_code { &any } else { &pairing };
    let reference = match &reference {
        Some((n, p)) => Some((n.clone(), read_reference(p, &entries)?)),
        None => None,
    };

    let mut opts = PipelineOptions::default();
    if unbounded {
        opts.budget = WorkBudget {
            cross_checks: usize::MAX,
            placements: usize::MAX,
            decodes: usize::MAX,
        };
    }
    let mut rows: Vec<Row> = Vec::new();
    // Time of the next frame of a steady stream: the same frame again, with the region the
    // first scan reported as region of interest (what `FrameScanner` does).
    let mut roi_ms: Vec<((usize, usize), f64)> = Vec::new();
    let mut stage_count: BTreeMap<String, usize> = BTreeMap::new();
    for e in &entries {
        let bytes = std::fs::read(dir.join("corpus").join(&e.file))
            .map_err(|err| format!("{}: {err}", e.file))?;
        let img: LumaImage =
            luma_from_encoded(&bytes).map_err(|err| format!("{}: {err}", e.file))?;
        if e.size.is_some_and(|s| s != (img.width, img.height)) {
            return Err(format!("{}: size differs from the manifest", e.file));
        }
        let f = img.as_frame();

        let plain = (!no_plain).then(|| {
            let t = Instant::now();
            let codes = qr::decode_plain(&f);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            judge(e, codes.iter().map(|c| c.text.as_str()), ms)
        });

        let t = Instant::now();
        let out = qr::scan_until(&f, &opts, None, accept);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let ours = judge(e, out.codes.iter().map(|c| c.text.as_str()), ms);
        if roi && ours.ok {
            let t = Instant::now();
            let again = qr::scan_until(&f, &opts, out.region, accept);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if judge(e, again.codes.iter().map(|c| c.text.as_str()), ms).ok {
                roi_ms.push(((img.width, img.height), ms));
            }
        }
        let st = match (ours.ok, out.stage) {
            (true, Some(s)) => format!("{s:?}"),
            _ => "none".into(),
        };
        *stage_count
            .entry(format!("{}:{}", e.condition, st))
            .or_default() += 1;
        rows.push(Row {
            size: (img.width, img.height),
            plain,
            ours,
            reference: reference
                .as_ref()
                .and_then(|(_, m)| m.get(&e.file).copied()),
            work: out.work,
        });
    }

    if let Some(p) = results {
        let mut out = std::fs::File::create(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let mut w = || -> std::io::Result<()> {
            writeln!(
                out,
                "file,ours_ok,ours_wrong,ours_ms,passes,cross_checks,placements,decodes"
            )?;
            for (e, r) in entries.iter().zip(&rows) {
                writeln!(
                    out,
                    "{},{},{},{:.3},{},{},{},{}",
                    e.file,
                    r.ours.ok as u8,
                    r.ours.wrong as u8,
                    r.ours.ms,
                    r.work.passes,
                    r.work.cross_checks,
                    r.work.placements,
                    r.work.decodes
                )?;
            }
            Ok(())
        };
        w().map_err(|e| e.to_string())?;
    }

    let ref_name = reference.as_ref().map(|(n, _)| n.clone());
    println!("frames: {} from {}", entries.len(), dir.display());
    println!();
    let mut conds: Vec<&str> = Vec::new();
    for e in &entries {
        if !conds.contains(&e.condition.as_str()) {
            conds.push(&e.condition);
        }
    }
    let mut groups: Vec<(String, Vec<usize>)> = conds
        .iter()
        .map(|c| {
            let idx = (0..entries.len())
                .filter(|&i| entries[i].condition == *c)
                .collect();
            (c.to_string(), idx)
        })
        .collect();
    groups.push(("**all**".into(), (0..entries.len()).collect()));
    let worst = rate_table("condition", &groups, &rows, no_plain, ref_name.as_deref());

    if entries.iter().any(|e| e.severity.is_some()) {
        let mut keys: Vec<(String, String)> = Vec::new();
        for e in &entries {
            let k = (
                e.condition.clone(),
                e.severity.clone().unwrap_or_else(|| "-".into()),
            );
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys.sort();
        let sev: Vec<(String, Vec<usize>)> = keys
            .iter()
            .map(|(c, s)| {
                let idx = (0..entries.len())
                    .filter(|&i| {
                        entries[i].condition == *c
                            && entries[i].severity.as_deref().unwrap_or("-") == s
                    })
                    .collect();
                (format!("{c} / {s}"), idx)
            })
            .collect();
        rate_table(
            "condition / severity",
            &sev,
            &rows,
            no_plain,
            ref_name.as_deref(),
        );
        let mut levels: Vec<String> = keys.iter().map(|k| k.1.clone()).collect();
        levels.sort();
        levels.dedup();
        let by_level: Vec<(String, Vec<usize>)> = levels
            .iter()
            .map(|s| {
                let idx = (0..entries.len())
                    .filter(|&i| entries[i].severity.as_deref().unwrap_or("-") == s)
                    .collect();
                (s.clone(), idx)
            })
            .collect();
        rate_table("severity", &by_level, &rows, no_plain, ref_name.as_deref());
    }

    let wrong =
        |f: &dyn Fn(&Row) -> Option<Res>| rows.iter().filter_map(f).filter(|r| r.wrong).count();
    print!("wrong reads (frames): ours {}", wrong(&|r| Some(r.ours)));
    if !no_plain {
        print!(", plain rqrr {}", wrong(&|r| r.plain));
    }
    if let Some(n) = &ref_name {
        print!(", {n} {}", wrong(&|r| r.reference));
    }
    println!();
    println!();

    // Times per frame size.
    let mut sizes: Vec<(usize, usize)> = rows.iter().map(|r| r.size).collect();
    sizes.sort();
    sizes.dedup();
    print!("| frame size |");
    if !no_plain {
        print!(" plain rqrr median / p95 (ms) |");
    }
    print!(" ours median / p95 (ms) |");
    if let Some(n) = &ref_name {
        print!(" {n} median / p95 (ms) | ours / {n} median | ours / {n} p95 |");
    }
    println!();
    print!("|---|");
    if !no_plain {
        print!("---:|");
    }
    print!("---:|");
    if ref_name.is_some() {
        print!("---:|---:|---:|");
    }
    println!();
    for s in sizes {
        let of = |f: &dyn Fn(&Row) -> Option<f64>| -> Vec<f64> {
            rows.iter().filter(|r| r.size == s).filter_map(f).collect()
        };
        print!("| {}x{} |", s.0, s.1);
        if !no_plain {
            let mut a = of(&|r| r.plain.map(|p| p.ms));
            print!(" {:.2} / {:.2} |", pct(&mut a, 0.5), pct(&mut a, 0.95));
        }
        let mut b = of(&|r| Some(r.ours.ms));
        let (bm, bp) = (pct(&mut b, 0.5), pct(&mut b, 0.95));
        print!(" {bm:.2} / {bp:.2} |");
        if ref_name.is_some() {
            let mut z = of(&|r| r.reference.map(|x| x.ms));
            let (zm, zp) = (pct(&mut z, 0.5), pct(&mut z, 0.95));
            print!(" {zm:.2} / {zp:.2} | {:.2}x | {:.2}x |", bm / zm, bp / zp);
        }
        println!();
    }
    if roi {
        println!();
        println!("| frame size | ours, next frame of a steady stream (ROI) median / p95 (ms) |");
        println!("|---|---:|");
        let mut sizes: Vec<(usize, usize)> = rows.iter().map(|r| r.size).collect();
        sizes.sort();
        sizes.dedup();
        for s in sizes {
            let mut v: Vec<f64> = roi_ms
                .iter()
                .filter(|(z, _)| *z == s)
                .map(|(_, ms)| *ms)
                .collect();
            println!(
                "| {}x{} | {:.2} / {:.2} |",
                s.0,
                s.1,
                pct(&mut v, 0.5),
                pct(&mut v, 0.95)
            );
        }
    }
    if ref_name.is_some() {
        println!();
        println!("worst condition gap (ours - reference): {worst:+.1} points");
    }
    if work {
        work_table(&rows, &opts.budget);
    }
    if stages {
        println!();
        for (k, v) in &stage_count {
            println!("{k}: {v}");
        }
    }
    if entries.iter().any(|e| e.stream.is_some()) {
        let r = reference.as_ref().map(|(n, m)| (n.as_str(), m));
        streams::report(&dir, &entries, r, &policy, within, !every_pass)?;
    }
    Ok(())
}

/// Prints read rates per group; returns the worst gap ours - reference over all groups but
/// the last (the overall row).
fn rate_table(
    what: &str,
    groups: &[(String, Vec<usize>)],
    rows: &[Row],
    no_plain: bool,
    ref_name: Option<&str>,
) -> f64 {
    print!("| {what} | frames |");
    if !no_plain {
        print!(" plain rqrr |");
    }
    print!(" ours |");
    if let Some(n) = ref_name {
        print!(" {n} | ours - {n} |");
    }
    println!();
    print!("|---|---:|");
    if !no_plain {
        print!("---:|");
    }
    print!("---:|");
    if ref_name.is_some() {
        print!("---:|---:|");
    }
    println!();
    let rate = |idx: &[usize], f: &dyn Fn(&Row) -> bool| -> f64 {
        let ok = idx.iter().filter(|&&i| f(&rows[i])).count();
        ok as f64 * 100.0 / idx.len().max(1) as f64
    };
    let mut worst = f64::MAX;
    for (gi, (label, idx)) in groups.iter().enumerate() {
        print!("| {label} | {} |", idx.len());
        if !no_plain {
            print!(" {:.1}% |", rate(idx, &|r| r.plain.is_some_and(|p| p.ok)));
        }
        let o = rate(idx, &|r| r.ours.ok);
        print!(" {o:.1}% |");
        if ref_name.is_some() {
            let z = rate(idx, &|r| r.reference.is_some_and(|p| p.ok));
            print!(" {z:.1}% | {:+.1} |", o - z);
            if gi + 1 < groups.len() {
                worst = worst.min(o - z);
            }
        }
        println!();
    }
    println!();
    worst
}

fn work_table(rows: &[Row], b: &WorkBudget) {
    println!();
    println!(
        "Work per frame (budget: {} cross-checks, {} placements, {} decodes), median / p95 / max:",
        b.cross_checks, b.placements, b.decodes
    );
    println!();
    println!("| frames | n | cross-checks | placements | decodes | cut short |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut sizes: Vec<(usize, usize)> = rows.iter().map(|r| r.size).collect();
    sizes.sort();
    sizes.dedup();
    for s in sizes {
        for read in [true, false] {
            let sel: Vec<Work> = rows
                .iter()
                .filter(|r| r.ours.ok == read && r.size == s)
                .map(|r| r.work)
                .collect();
            if sel.is_empty() {
                continue;
            }
            let stat = |f: &dyn Fn(&Work) -> usize| {
                let mut v: Vec<f64> = sel.iter().map(|wk| f(wk) as f64).collect();
                format!(
                    "{} / {} / {}",
                    pct(&mut v, 0.5),
                    pct(&mut v, 0.95),
                    pct(&mut v, 1.0)
                )
            };
            println!(
                "| {}x{} {} | {} | {} | {} | {} | {} |",
                s.0,
                s.1,
                if read { "read" } else { "not read" },
                sel.len(),
                stat(&|wk| wk.cross_checks),
                stat(&|wk| wk.placements),
                stat(&|wk| wk.decodes),
                sel.iter().filter(|wk| wk.cut_short).count()
            );
        }
    }
}
