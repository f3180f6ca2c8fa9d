//! QR decoding benchmark over a corpus folder: plain rqrr against our pipeline, per condition,
//! decode time only (frames are loaded into memory first).
//!
//! ```text
//! cargo run --release -p roger-core --example qr_bench -- <folder> [--reference NAME=results.csv] [--results out.csv] [--stages] [--roi] [--work] [--unbounded]
//! ```
//!
//! `<folder>` holds `manifest.csv` (`file,condition,width,height,payload`) and the frames under
//! `corpus/` as 8-bit grayscale PNG; any outside corpus in that layout works. `--reference` adds
//! the per-frame results of another decoder (as written by `scripts/qr_bench_zxing.py`:
//! `file,ok,ms`) as a third column; `--results` writes ours per frame; `--stages` counts which
//! pipeline step read each frame; `--roi` also times the next frame of a steady stream (the
//! same frame scanned again with the previous region of interest, as `FrameScanner` does);
//! `--work` reports the counted work per frame against the per-frame budget; `--unbounded`
//! lifts that budget (to check that it changes no result).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use roger_core::qr::{self, luma_from_encoded, LumaImage, PipelineOptions, Work, WorkBudget};

struct Entry {
    file: String,
    condition: String,
    width: usize,
    height: usize,
    payload: String,
}

fn read_manifest(dir: &Path) -> Result<Vec<Entry>, String> {
    let text = std::fs::read_to_string(dir.join("manifest.csv"))
        .map_err(|e| format!("manifest.csv: {e}"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        // The payload is the last column and may itself contain commas.
        let mut parts = line.splitn(5, ',');
        let mut next = || {
            parts
                .next()
                .ok_or(format!("manifest line {}: too few columns", i + 1))
        };
        let file = next()?.to_string();
        let condition = next()?.to_string();
        let width = next()?
            .parse()
            .map_err(|_| format!("line {}: width", i + 1))?;
        let height = next()?
            .parse()
            .map_err(|_| format!("line {}: height", i + 1))?;
        let payload = next()?.to_string();
        out.push(Entry {
            file,
            condition,
            width,
            height,
            payload,
        });
    }
    Ok(out)
}

#[derive(Default, Clone)]
struct Res {
    ok: bool,
    ms: f64,
}

fn read_reference(path: &Path) -> Result<BTreeMap<String, Res>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut p = line.split(',');
        let (Some(f), Some(ok), Some(ms)) = (p.next(), p.next(), p.next()) else {
            continue;
        };
        out.insert(
            f.to_string(),
            Res {
                ok: ok == "1",
                ms: ms.parse().unwrap_or(f64::NAN),
            },
        );
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

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let mut reference: Option<(String, PathBuf)> = None;
    let mut results: Option<PathBuf> = None;
    let mut stages = false;
    let mut roi = false;
    let mut work = false;
    let mut unbounded = false;
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
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let dir = dir.ok_or(
        "usage: qr_bench <folder> [--reference NAME=results.csv] [--results out.csv] [--stages] [--roi] [--work] [--unbounded]",
    )?;
    let entries = read_manifest(&dir)?;
    let reference = match &reference {
        Some((n, p)) => Some((n.clone(), read_reference(p)?)),
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
    let mut works: Vec<(usize, bool, Work)> = Vec::new();
    let mut rows: Vec<(usize, Res, Res)> = Vec::new();
    // Time of the next frame of a steady stream: the same frame again, with the region the
    // first scan reported as region of interest (what `FrameScanner` does).
    let mut roi_ms: Vec<(usize, f64)> = Vec::new();
    let mut stage_count: BTreeMap<String, usize> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let bytes = std::fs::read(dir.join("corpus").join(&e.file))
            .map_err(|err| format!("{}: {err}", e.file))?;
        let img: LumaImage =
            luma_from_encoded(&bytes).map_err(|err| format!("{}: {err}", e.file))?;
        if img.width != e.width || img.height != e.height {
            return Err(format!("{}: size differs from the manifest", e.file));
        }
        let f = img.as_frame();

        let t = Instant::now();
        let plain = qr::decode_plain(&f);
        let plain_ms = t.elapsed().as_secs_f64() * 1e3;
        let plain_ok = plain.iter().any(|c| c.text == e.payload);

        let t = Instant::now();
        let ours = qr::scan(&f, &opts);
        let ours_ms = t.elapsed().as_secs_f64() * 1e3;
        let ours_ok = ours.codes.iter().any(|c| c.text == e.payload);
        works.push((i, ours_ok, ours.work));
        if roi && ours_ok {
            let t = Instant::now();
            let again = qr::scan_with_roi(&f, &opts, ours.region);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if again.codes.iter().any(|c| c.text == e.payload) {
                roi_ms.push((i, ms));
            }
        }
        let st = match (ours_ok, ours.stage) {
            (true, Some(s)) => format!("{s:?}"),
            _ => "none".into(),
        };
        *stage_count
            .entry(format!("{}:{}", e.condition, st))
            .or_default() += 1;
        rows.push((
            i,
            Res {
                ok: plain_ok,
                ms: plain_ms,
            },
            Res {
                ok: ours_ok,
                ms: ours_ms,
            },
        ));
    }

    if let Some(p) = results {
        let mut out = std::fs::File::create(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        writeln!(
            out,
            "file,plain_ok,plain_ms,ours_ok,ours_ms,passes,cross_checks,placements,decodes"
        )
        .map_err(|e| e.to_string())?;
        for ((i, a, b), (_, _, wk)) in rows.iter().zip(&works) {
            writeln!(
                out,
                "{},{},{:.3},{},{:.3},{},{},{},{}",
                entries[*i].file,
                a.ok as u8,
                a.ms,
                b.ok as u8,
                b.ms,
                wk.passes,
                wk.cross_checks,
                wk.placements,
                wk.decodes
            )
            .map_err(|e| e.to_string())?;
        }
    }

    let ref_name = reference.as_ref().map(|(n, _)| n.clone());
    let get_ref = |i: usize| -> Option<Res> {
        reference
            .as_ref()
            .and_then(|(_, m)| m.get(&entries[i].file).cloned())
    };

    // Rates per condition.
    let mut conds: Vec<String> = Vec::new();
    for e in &entries {
        if !conds.contains(&e.condition) {
            conds.push(e.condition.clone());
        }
    }
    println!("frames: {} from {}", entries.len(), dir.display());
    println!();
    print!("| condition | frames | plain rqrr | ours |");
    if let Some(n) = &ref_name {
        print!(" {n} | ours - {n} |");
    }
    println!();
    print!("|---|---:|---:|---:|");
    if ref_name.is_some() {
        print!("---:|---:|");
    }
    println!();
    let rate = |sel: &dyn Fn(usize) -> bool, which: u8| -> (f64, usize) {
        let mut n = 0;
        let mut ok = 0;
        for (i, a, b) in &rows {
            if !sel(*i) {
                continue;
            }
            let r = match which {
                0 => a.ok,
                1 => b.ok,
                _ => get_ref(*i).is_some_and(|r| r.ok),
            };
            n += 1;
            ok += r as usize;
        }
        (
            if n == 0 {
                f64::NAN
            } else {
                ok as f64 * 100.0 / n as f64
            },
            n,
        )
    };
    let mut worst_gap: f64 = f64::MAX;
    for c in conds.iter().map(Some).chain([None]) {
        let sel = |i: usize| c.is_none_or(|c| &entries[i].condition == c);
        let (p, n) = rate(&sel, 0);
        let (o, _) = rate(&sel, 1);
        let label = c.map_or("**all**".to_string(), |c| c.clone());
        print!("| {label} | {n} | {p:.1}% | {o:.1}% |");
        if ref_name.is_some() {
            let (z, _) = rate(&sel, 2);
            print!(" {z:.1}% | {:+.1} |", o - z);
            if c.is_some() {
                worst_gap = worst_gap.min(o - z);
            }
        }
        println!();
    }
    println!();

    // Times per frame size.
    let mut sizes: Vec<(usize, usize)> = Vec::new();
    for e in &entries {
        if !sizes.contains(&(e.width, e.height)) {
            sizes.push((e.width, e.height));
        }
    }
    sizes.sort();
    print!("| frame size | plain rqrr median / p95 (ms) | ours median / p95 (ms) |");
    if let Some(n) = &ref_name {
        print!(" {n} median / p95 (ms) | ours / {n} (median) |");
    }
    println!();
    print!("|---|---:|---:|");
    if ref_name.is_some() {
        print!("---:|---:|");
    }
    println!();
    for (w, h) in sizes {
        let idx: Vec<usize> = rows
            .iter()
            .map(|r| r.0)
            .filter(|&i| entries[i].width == w && entries[i].height == h)
            .collect();
        let mut a: Vec<f64> = idx.iter().map(|&i| rows[i].1.ms).collect();
        let mut b: Vec<f64> = idx.iter().map(|&i| rows[i].2.ms).collect();
        print!(
            "| {w}x{h} | {:.2} / {:.2} | {:.2} / {:.2} |",
            pct(&mut a, 0.5),
            pct(&mut a, 0.95),
            pct(&mut b, 0.5),
            pct(&mut b, 0.95)
        );
        if ref_name.is_some() {
            let mut z: Vec<f64> = idx
                .iter()
                .filter_map(|&i| get_ref(i).map(|r| r.ms))
                .collect();
            let zm = pct(&mut z, 0.5);
            print!(
                " {:.2} / {:.2} | {:.2}x |",
                zm,
                pct(&mut z, 0.95),
                pct(&mut b, 0.5) / zm
            );
        }
        println!();
    }
    if roi {
        println!();
        println!("| frame size | ours, next frame of a steady stream (ROI) median / p95 (ms) |");
        println!("|---|---:|");
        let mut sizes: Vec<(usize, usize)> = entries.iter().map(|e| (e.width, e.height)).collect();
        sizes.sort();
        sizes.dedup();
        for (w, h) in sizes {
            let mut v: Vec<f64> = roi_ms
                .iter()
                .filter(|(i, _)| entries[*i].width == w && entries[*i].height == h)
                .map(|(_, ms)| *ms)
                .collect();
            println!(
                "| {w}x{h} | {:.2} / {:.2} |",
                pct(&mut v, 0.5),
                pct(&mut v, 0.95)
            );
        }
    }
    if ref_name.is_some() {
        println!();
        println!("worst condition gap (ours - reference): {worst_gap:+.1} points");
    }
    if work {
        println!();
        let b = opts.budget;
        println!(
            "Work per frame (budget: {} cross-checks, {} placements, {} decodes), median / p95 / max:",
            b.cross_checks, b.placements, b.decodes
        );
        println!();
        println!("| frames | n | cross-checks | placements | decodes | cut short |");
        println!("|---|---:|---:|---:|---:|---:|");
        let mut sizes: Vec<(usize, usize)> = entries.iter().map(|e| (e.width, e.height)).collect();
        sizes.sort();
        sizes.dedup();
        for (w, h) in sizes {
            for read in [true, false] {
                let sel: Vec<Work> = works
                    .iter()
                    .filter(|(i, ok, _)| {
                        *ok == read && entries[*i].width == w && entries[*i].height == h
                    })
                    .map(|(_, _, wk)| *wk)
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
                    "| {w}x{h} {} | {} | {} | {} | {} | {} |",
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
    if stages {
        println!();
        for (k, v) in &stage_count {
            println!("{k}: {v}");
        }
    }
    Ok(())
}
