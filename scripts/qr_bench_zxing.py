#!/usr/bin/env python3
"""Reference decoder for the QR benchmark: zxing-cpp (PyPI `zxing-cpp`) on the same corpus.

Usage: scripts/qr_bench_zxing.py <folder> [--results out.csv]

<folder> holds manifest.csv (file,condition,width,height,payload) and the frames under corpus/
as 8-bit grayscale PNG. Frames are loaded first; only the decode call is timed. Prints the
per-condition decode rate and the median / p95 time per frame size; --results writes the
per-frame results (file,ok,ms) that `qr_bench --reference zxing-cpp=<csv>` merges into its table.
"""
import csv
import statistics
import sys
import time
from collections import defaultdict, OrderedDict

import numpy as np
import zxingcpp
from PIL import Image


def pct(values, q):
    v = sorted(values)
    return v[round((len(v) - 1) * q)] if v else float("nan")


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
        ok = any(b.text == r["payload"] for b in found)
        out.append((r, ok, ms))
    if results:
        with open(results, "w") as fh:
            fh.write("file,ok,ms\n")
            for r, ok, ms in out:
                fh.write(f"{r['file']},{int(ok)},{ms:.3f}\n")
    by_cond = OrderedDict()
    for r, ok, _ in out:
        by_cond.setdefault(r["condition"], []).append(ok)
    print(f"zxing-cpp {zxingcpp.__version__ if hasattr(zxingcpp, '__version__') else ''}: {len(out)} frames")
    print("| condition | frames | zxing-cpp |")
    print("|---|---:|---:|")
    for c, v in by_cond.items():
        print(f"| {c} | {len(v)} | {100 * sum(v) / len(v):.1f}% |")
    allv = [ok for _, ok, _ in out]
    print(f"| **all** | {len(allv)} | {100 * sum(allv) / max(len(allv), 1):.1f}% |")
    by_size = defaultdict(list)
    for r, _, ms in out:
        by_size[(int(r["width"]), int(r["height"]))].append(ms)
    print()
    print("| frame size | zxing-cpp median / p95 (ms) |")
    print("|---|---:|")
    for (w, h), v in sorted(by_size.items()):
        print(f"| {w}x{h} | {pct(v, 0.5):.2f} / {pct(v, 0.95):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
