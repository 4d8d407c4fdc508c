"""Strips: does the too-few-grains rule of the scale check hold for non-square images?

``MIN_JUDGED_GRAINS`` was chosen on square crops (``studies/scale_estimate_crop_size.py``):
below 3.5 grains across by its own estimate, 91-97 % of them were misjudged. A strip
(its smaller side across a whole region) holds more grains in the window the estimate
reads than its short side counts, and reads less short. This study measures, on strips
and on square crops of the same sides, how often the crops each rule flags are misjudged:
the smaller side alone (the rule of c969416) and the window read as a square
(``grainsize.judged_side``, what ``too_few_grains`` uses; the same side for a square).

Data: tbm/val and every third tbm/train region (never tbm/test) as they are (256 px;
strips of 32-128 px) and up-sampled x4 (1024 px, bilinear: a super-resolved-like image;
strips of 128-512 px); horizontal and vertical strips and squares at the start, the
centre and the end. Misjudged as in the crop study: the estimate off the whole region's
by more than 1.3 x either way, or another scale warning than the whole region's.

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/scale_estimate_strips.py  # ~3 CPU-min

Writes studies/results/scale_estimate_strips.json.
"""

from __future__ import annotations

import numpy as np
from _common import no_options, save, tbm_pairs
from scale_estimate_crop_size import OFF_FACTOR, estimate_and_warning

SIDES = {"tbm": (32, 48, 64, 96, 128), "tbm_x4_up": (128, 192, 256, 384, 512)}
PLACES = (0.0, 0.5, 1.0)


def _rows(img: np.ndarray, kind: str) -> list[dict]:
    from napari_srmat.grainsize import MIN_JUDGED_GRAINS, judged_side

    full, full_warned = estimate_and_warning(img)
    n = img.shape[0]
    rows = []
    for side in SIDES[kind]:
        for f in PLACES:
            o = round((n - side) * f)
            for shape, crop in (("strip", img[o:o + side]), ("strip", img[:, o:o + side]),
                                ("square", img[o:o + side, o:o + side])):
                est, warned = estimate_and_warning(crop)
                if est is None:
                    continue
                ratio = est / full
                rows.append({"kind": kind, "shape": shape, "side": side, "ratio": ratio,
                             "misjudged": bool(not 1 / OFF_FACTOR <= ratio <= OFF_FACTOR
                                               or warned != full_warned),
                             "smaller_side": side < MIN_JUDGED_GRAINS * est,
                             "window": judged_side(crop.shape) < MIN_JUDGED_GRAINS * est})
    return rows


def _rule(rows: list[dict], rule: str) -> dict:
    flagged = [r for r in rows if r[rule]]
    kept = [r for r in rows if not r[rule]]

    def pct(sel):
        return round(100 * float(np.mean([r["misjudged"] for r in sel])), 1) if sel else None

    return {"flagged": len(flagged), "misjudged_pct_of_flagged": pct(flagged),
            "misjudged_pct_of_kept": pct(kept),
            "ratio_median_of_flagged": round(float(np.median([r["ratio"] for r in flagged])), 3)
            if flagged else None}


def main() -> int:
    from napari_srmat.grainsize import resample
    from napari_srmat.io import read_image, to_float01

    rows: list[dict] = []
    for _, image_path, _ in tbm_pairs(every_train=3):
        img = to_float01(np.asarray(read_image(image_path).data)[..., :3])
        rows += _rows(img, "tbm") + _rows(resample(img, 4), "tbm_x4_up")
        print(image_path.stem, len(rows), flush=True)
    result = {"data": "tbm/val and every third tbm/train region (never test), as they are "
                      "and x4 up; strips (smaller side across the region) and squares",
              "misjudged": f"estimate off the whole image's by > {OFF_FACTOR}x either way, "
                           "or another scale warning than the whole image's"}
    for kind in SIDES:
        for shape in ("strip", "square"):
            sel = [r for r in rows if r["kind"] == kind and r["shape"] == shape]
            result[f"{kind} {shape}"] = {
                "n": len(sel),
                "misjudged_pct": round(100 * float(np.mean([r["misjudged"] for r in sel])), 1),
                **{rule: _rule(sel, rule) for rule in ("smaller_side", "window")}}
    save("scale_estimate_strips", result)
    for key, value in result.items():
        print(key, value)
    return 0


if __name__ == "__main__":
    no_options(__doc__)
    raise SystemExit(main())
