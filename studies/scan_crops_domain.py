"""Do regions cut from the JPEG scans fool the boundary model? Out of fold.

The tbm regions (PNG) are also inside the full scans of ``../shared/data/scans``
(``scan_N.jpg``, JPEG), at the position their name gives
(``SCAN-Y-X``). A region cut from such a scan file is what a laboratory gets from its
own scans, so the pair (PNG region, the same pixels of the JPEG scan) with one hand-drawn
mask tells whether the file a region comes from shifts the model's ℓ̄ (issue 12: on
unseen scans ℓ̄ came out too long). tbm/train + val only; of scans 13, 24 and 28 (the test
regions) nothing but the file hash is read (to find copies).

For each leave-scan-out fold model of ``benchmarks/cv_uaed.py`` (variants and
repetitions in :data:`MODELS`), the held-out regions are predicted as cut from the JPEG
scan (TTA ``none``), and the per-image ℓ̄ error of each rule is computed with its
parameters cross-fitted on the other folds' *PNG* maps (as the shipped calibration on
PNG regions would be applied to a scan's regions) and on the other folds' JPEG maps.
Also written: how well each region matches its scan crop (mean absolute difference at
the named position and the best shift within ±3 px), and which scan files are
byte-identical.

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/scan_crops_domain.py --out-root out

Writes studies/results/scan_crops_domain.json (≈ 3 CPU-min).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from _common import DATA, ROOT, TEST_SCANS, load_fold_model, save

sys.path.insert(0, str(ROOT / "benchmarks"))

#: Fold models judged: (work folder under ``--out-root``, variant).
MODELS = (("cv_uaed", "plain"), ("cv_uaed", "augment"), ("cv_uaed", "norm"),
          ("cv_uaed_s1", "plain"))
RULES = ("otsu_scaled", "quantile", "global", "heyn_global")
SHIFT = 3


def load_scan(scans: dict, scan: str) -> np.ndarray:
    """``scans/scan_SCAN.jpg`` (cached in ``scans``); the test scans are refused."""
    from napari_srmat.io import read_array

    if scan in TEST_SCANS:
        raise SystemExit(f"scan {scan} is a test scan")
    if scan not in scans:
        scans[scan] = read_array(DATA.parent / "scans" / f"scan_{scan}.jpg")
    return scans[scan]


def scan_crop(scans: dict, name: str, size: int = 256) -> np.ndarray:
    """The pixels of region ``SCAN-Y-X`` in ``scans/scan_SCAN.jpg`` (uint8, H x W x 3)."""
    scan, y, x = name.split("-")
    crop = load_scan(scans, scan)[int(y):int(y) + size, int(x):int(x) + size, :3]
    if crop.shape[:2] != (size, size):
        raise SystemExit(f"region {name} is not inside its scan")
    return crop


def alignment(region: np.ndarray, scans: dict, name: str) -> dict:
    """Mean absolute difference (8-bit levels) at the named position and the best shift."""
    at = float(np.abs(scan_crop(scans, name).astype(np.float32) - region).mean())
    full = scans[name.split("-")[0]][..., :3]
    y, x = (int(v) for v in name.split("-")[1:])
    ref = region.astype(np.float32)
    best = (np.inf, 0, 0)
    for dy in range(-SHIFT, SHIFT + 1):
        for dx in range(-SHIFT, SHIFT + 1):
            if y + dy < 0 or x + dx < 0:
                continue
            c = full[y + dy:y + dy + ref.shape[0], x + dx:x + dx + ref.shape[1]]
            if c.shape[:2] == ref.shape[:2]:
                best = min(best, (float(np.abs(c - ref).mean()), dy, dx))
    return {"mad_at_name": round(at, 3), "best": {"mad": round(best[0], 3), "dy": best[1],
                                                   "dx": best[2]}}


def identical_scans() -> list[list[str]]:
    """Groups of byte-identical files in ``scans/`` (every file is hashed, nothing else is
    read from the test scans)."""
    from cv_uaed import file_digest

    groups: dict[str, list[str]] = {}
    for p in sorted((DATA.parent / "scans").iterdir()):
        groups.setdefault(file_digest(p), []).append(p.name)
    return [g for g in groups.values() if len(g) > 1]


def judge(out_root: Path, work: str, variant: str, samples: dict, scans: dict) -> dict:
    """Per rule: out-of-fold per-image error on PNG regions and on their JPEG scan crops."""
    from cv_uaed import _oof_maps

    from napari_srmat.edges.thresholds import InterceptTable

    folder = out_root / work
    folds = json.loads((folder / "folds.json").read_text())
    names = [n for f in folds for n in f]
    fold_of = np.array([k for k, f in enumerate(folds) for _ in f])
    png, _ = _oof_maps(folder, variant, folds, "none")
    jpg = {}
    for k, fold in enumerate(folds):
        model = load_fold_model(folder, k, variant)
        for n in fold:
            x = scan_crop(scans, n).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
            jpg[n] = model.predict(x, gain=1.0)[0][0, 0]  # crops: as stored, no gain
    masks = [samples[n].mask for n in names]
    t_png = InterceptTable([png[n] for n in names], masks)
    t_jpg = InterceptTable([jpg[n] for n in names], masks)
    true = np.asarray(t_png.true)
    out = {}
    for rule in RULES:
        err = {"png": np.zeros(len(names)), "jpg_png_fit": np.zeros(len(names)),
               "jpg_jpg_fit": np.zeros(len(names))}
        signed = {"png": np.full(len(names), np.nan), "jpg_png_fit": np.full(len(names),
                                                                             np.nan)}
        per_fold = {key: [] for key in err}
        for k in range(len(folds)):
            held, cal = np.flatnonzero(fold_of == k), np.flatnonzero(fold_of != k)
            prm_png, prm_jpg = t_png.fit(rule, cal), t_jpg.fit(rule, cal)
            for key, table, prm in (("png", t_png, prm_png), ("jpg_png_fit", t_jpg, prm_png),
                                    ("jpg_jpg_fit", t_jpg, prm_jpg)):
                e = table.errors(rule, prm, held, exact=True)["per_image_errors"]
                err[key][held] = e
                per_fold[key].append(round(100 * float(np.mean(e)), 3))
            for key, table in (("png", t_png), ("jpg_png_fit", t_jpg)):
                for i in held:
                    lp = table.predicted(rule, prm_png, int(i), exact=True)
                    if lp is not None:
                        signed[key][i] = (lp - true[i]) / true[i]
        out[rule] = {**{f"{key}_per_image_pct": {"all_images": round(100 * float(v.mean()), 3),
                                                 "per_fold": per_fold[key]}
                        for key, v in err.items()},
                     **{f"{key}_bias_pct": round(100 * float(np.nanmean(v)), 3)
                        for key, v in signed.items()},
                     "jpg_minus_png_per_fold_pct": [round(a - b, 3) for a, b in zip(
                         per_fold["jpg_png_fit"], per_fold["png"])],
                     "jpg_minus_png_folds_better": int(sum(
                         a < b for a, b in zip(per_fold["jpg_png_fit"], per_fold["png"])))}
        print(work, variant, rule, {k: v["all_images"] for k, v in out[rule].items()
                                    if isinstance(v, dict)}, flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-root", type=Path, default=Path("out"),
                    help="folder holding cv_uaed/ and cv_uaed_s1/ of benchmarks/cv_uaed.py")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from cv_uaed import list_images

    from napari_srmat.edges.data import load_pairs
    from napari_srmat.io import read_array

    pairs = list_images(DATA)
    samples = {s.name: s for s in load_pairs(pairs)}
    scans: dict = {}
    align = {}
    for img, _ in pairs:
        align[img.stem] = alignment(read_array(img)[..., :3].astype(np.float32), scans, img.stem)
    mads = [a["mad_at_name"] for a in align.values()]
    report = {"identical_scan_files": identical_scans(),
              "alignment": {"what": "mean |region - scan crop| in 8-bit levels (RGB)",
                            "mad_at_name_median": round(float(np.median(mads)), 3),
                            "mad_at_name_max": round(float(np.max(mads)), 3),
                            "best_shift_is_named_position": sum(
                                a["best"]["dy"] == 0 and a["best"]["dx"] == 0
                                for a in align.values()),
                            "n_regions": len(align), "per_region": align},
              "models": {f"{w}/{v}": judge(args.out_root, w, v, samples, scans)
                         for w, v in MODELS}}
    save("scan_crops_domain", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
