#!/usr/bin/env python3
"""Reference decoder for the QR benchmark: zxing-cpp (PyPI `zxing-cpp`) on the same corpus.

Usage: scripts/qr_bench_zxing.py <folder> [--results out.csv]

<folder> holds manifest.csv (read by column name: at least `file` and `payload`; `condition`,
`width`, `height`, `severity`, `payload2`..., `other_payloads` optional) and the frames under
corpus/ (PNG or JPEG). Frames are loaded first; only the decode call is timed. Prints the
per-condition rate (the `payload` column among the results) and the median / p95 time per frame
size; --results writes the per-frame results (file,ms,texts with texts a JSON array of every
decoded text) that `qr_bench --reference zxing-cpp=<csv>` judges with its own rules (the
pairing code among the results, wrong reads).
"""
import csv
import json
import sys
import time
from collections import defaultdict, OrderedDict
from importlib.metadata import version

import numpy as np
import zxingcpp
from PIL import Image


def pct(values, q):
    v = sorted(values)
    return v[round((len(v) - 1) * q)] if v else float("nan")


def expected(r):
    out = [r["payload"]]
    out += [v for k, v in r.items() if k and k.startswith("payload") and k[7:].isdigit() and v]
    out += (r.get("other_payloads") or "").split()
    return out


def main():
    args = sys.argv[1:]
    results = None
    if "--results" in args:
        i = args.index("--results")
        results = args[i + 1]
        del args[i : i + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    folder = args[0]
    with open(f"{folder}/manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    fmt = zxingcpp.BarcodeFormat.QRCode
    out = []
    for r in rows:
        img = np.asarray(Image.open(f"{folder}/corpus/{r['file']}").convert("L"))
        img = np.ascontiguousarray(img)
        t = time.perf_counter()
        found = zxingcpp.read_barcodes(img, formats=fmt)
        ms = (time.perf_counter() - t) * 1e3
        texts = [b.text for b in found]
        out.append((r, texts, ms))
    if results:
        with open(results, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["file", "ms", "texts"])
            for r, texts, ms in out:
                w.writerow([r["file"], f"{ms:.3f}", json.dumps(texts)])
    by_cond = OrderedDict()
    wrong = 0
    for r, texts, _ in out:
        by_cond.setdefault(r.get("condition", "all"), []).append(r["payload"] in texts)
        exp = expected(r)
        wrong += any(t not in exp for t in texts)
    print(f"zxing-cpp {version('zxing-cpp')}: {len(out)} frames, {wrong} with a wrong read")
    print("| condition | frames | zxing-cpp |")
    print("|---|---:|---:|")
    for c, v in by_cond.items():
        print(f"| {c} | {len(v)} | {100 * sum(v) / len(v):.1f}% |")
    allv = [r["payload"] in texts for r, texts, _ in out]
    print(f"| **all** | {len(allv)} | {100 * sum(allv) / max(len(allv), 1):.1f}% |")
    by_size = defaultdict(list)
    for r, texts, ms in out:
        by_size[(int(r.get("width") or 0), int(r.get("height") or 0))].append(ms)
    print()
    print("| frame size | zxing-cpp median / p95 (ms) |")
    print("|---|---:|")
    for (w, h), v in sorted(by_size.items()):
        print(f"| {w}x{h} | {pct(v, 0.5):.2f} / {pct(v, 0.95):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
