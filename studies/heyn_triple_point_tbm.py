"""How much did the Heyn triple-point fix (aeb8d59) move ℓ̄ on the hand-drawn TBM masks?

aeb8d59 stopped the zig-zag bridge of tilted test lines from joining two
runs across the corner of a third grain (a lost crossing at a triple point; random lines
on thinned synthetic masks read ℓ̄ long, studies/heyn_thinned_mask_bias.py). Here the
hand-drawn masks of tbm/train and tbm/val (never tbm/test) are measured with the code as
it is and with the bridge as it was before (``_common.bridge_across_third_grains``; the
rest of ``metrics.heyn`` is unchanged since), on the same lines:

* ``protocol``: the boundary benchmark's Heyn protocol ``edges.thresholds.HEYN_KW``
  (random lines, skeletonized), behind every per-image and pooled ℓ̄ error of
  docs/boundaries.md;
* ``studies_truth``: the truth of the grain-size studies (``_common.gt_intercept``:
  ``GT_LINES`` random lines, seed 1234, 5 % margin, skeletonized), behind
  ``MODEL_LOG_ERROR_95`` (studies/grain_size_calibration.py).

Reported per setting: each mask's ℓ̄ change ``(now / before - 1)`` in %, its mean, range
and quantiles, the pooled change of the mean ℓ̄, how many masks changed at all and how
many more crossings each counts now; for the protocol, the areas of the grains between
the runs kept apart (``kept_apart_grain_area_px2``: real grains or holes of the
skeleton?).

``shipped``: the shipped weights at their operating point (``model.binarize``: TTA and
threshold rule of the checkpoint) on tbm/val (tbm/train, in sample, beside it), the
per-image and pooled ℓ̄ error of ``edges.evaluate.operating_point_report`` (the
``operating_point`` of ``srmat edges eval``) counted now and before, on the same maps: the
prediction and the truth are both counted by the protocol, so the change of the error is
what the fix does to the documented errors; and the rule's parameters fitted on that
split (``fit_threshold_rule``; the shipped c was fitted on tbm/val) with either counting.
Quoted in docs/boundaries.md ("Counting at triple points") and docs/heyn.md.

The old counting is exact: ``bridge_across_third_grains`` gave the same crossings and ℓ̄
as the module at ``aeb8d59^`` (``git show``) on all 63 masks for these settings, the grid
and E112 scoring (checked at aeb8d59).

    PYTHONPATH=src python studies/heyn_triple_point_tbm.py   # ~2 CPU-min

Writes studies/results/heyn_triple_point_tbm.json.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import numpy as np
from _common import DATA, GT_LINES, HEYN, SPLITS, bridge_across_third_grains, q, save, tbm_pairs


def _settings() -> dict[str, dict]:
    from napari_srmat.edges.thresholds import HEYN_KW

    return {"protocol": dict(HEYN_KW), "studies_truth": {**HEYN, "n_lines": GT_LINES}}


@contextmanager
def _kept_apart(areas: list[int]) -> Iterator[None]:
    """Record, for every pair of runs the rule keeps apart inside the block, the area
    (px²) of the whole mask's 4-connected grain that holds the pixel between them (a
    spurious hole of the skeleton would be a few px²)."""
    from scipy import ndimage as ndi

    import napari_srmat.metrics.heyn as heyn

    third_grain = heyn._third_grain

    def spy(mask, gap, *args, **kw):
        out = third_grain(mask, gap, *args, **kw)
        if out.any():
            grains, _ = ndi.label(~mask, structure=ndi.generate_binary_structure(2, 1))
            sizes = np.bincount(grains.ravel())
            areas.extend(int(a) for a in sizes[grains[gap[0][out], gap[1][out]]])
        return out

    heyn._third_grain = spy
    try:
        yield
    finally:
        heyn._third_grain = third_grain


def _summary(rows: list[dict], key: str) -> dict:
    ok = [r for r in rows if r[key]["now_px"] is not None and r[key]["before_px"] is not None]
    change = np.array([r[key]["change_pct"] for r in ok])
    now = np.mean([r[key]["now_px"] for r in ok])
    before = np.mean([r[key]["before_px"] for r in ok])
    more = [r[key]["crossings_now"] - r[key]["crossings_before"] for r in ok]
    return {"n_masks": len(ok), "n_changed": int((change != 0).sum()),
            "more_crossings_per_mask": {"mean": round(float(np.mean(more)), 1),
                                        "min": float(min(more)), "max": float(max(more))},
            "change_pct": {"mean": round(float(change.mean()), 2),
                           "min": round(float(change.min()), 2),
                           "max": round(float(change.max()), 2),
                           "q10_50_90": [round(x, 2) for x in q(change)]},
            "mean_intercept_px": {"before": round(float(before), 3), "now": round(float(now), 3)},
            "pooled_change_pct": round(float(100 * (now / before - 1)), 2)}


def _shipped(split: str) -> dict:
    """Error of the shipped weights' operating point on ``split``, counted now and before."""
    from napari_srmat.edges.data import list_image_mask_pairs, load_pairs
    from napari_srmat.edges.evaluate import _model_probs, operating_point_report
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.edges.thresholds import fit_threshold_rule

    assert split in SPLITS  # never tbm/test
    model = load_boundary_model(None, device="cpu")
    samples = load_pairs(list_image_mask_pairs(DATA / split / "images", DATA / split / "masks"))
    probs = _model_probs(model, samples)
    args = (model, probs, [s.mask for s in samples], [s.name for s in samples])
    now = operating_point_report(*args)
    refit = {"now": fit_threshold_rule(model.threshold_rule, *args[1:3])}
    with bridge_across_third_grains():
        before = operating_point_report(*args)
        refit["before"] = fit_threshold_rule(model.threshold_rule, *args[1:3])
    keys = ("heyn_per_image_error_pct", "heyn_pooled_error_pct", "n_images")
    rows = [{"name": a["name"], **{f"{k}_{when}": r[k] for when, r in (("now", a), ("before", b))
                                   for k in ("l_pred_px", "l_true_px")}}
            for a, b in zip(now["per_image"], before["per_image"])]
    change = {side: [100 * (r[f"l_{side}_px_now"] / r[f"l_{side}_px_before"] - 1) for r in rows
                     if r[f"l_{side}_px_now"] is not None and r[f"l_{side}_px_before"] is not None]
              for side in ("pred", "true")}
    return {"threshold_rule": now["threshold_rule"], "threshold_params": now["threshold_params"],
            "tta": now["tta"], "now": {k: now[k] for k in keys},
            "before": {k: before[k] for k in keys}, "refit_on_this_split": refit,
            "l_change_pct_mean": {k: round(float(np.mean(v)), 2) for k, v in change.items()},
            "per_image": rows}


def main() -> None:
    from napari_srmat.io import read_mask
    from napari_srmat.metrics.heyn import measure_intercepts

    settings = _settings()
    rows = []
    areas: list[int] = []
    for split, _image, path in tbm_pairs():
        mask = read_mask(path)
        row = {"split": split, "mask": path.name}
        for key, kw in settings.items():
            with _kept_apart(areas) if key == "protocol" else nullcontext():
                now = measure_intercepts(mask, **kw)
            with bridge_across_third_grains():
                before = measure_intercepts(mask, **kw)
            a, b = now.mean_intercept_px, before.mean_intercept_px
            row[key] = {"now_px": a, "before_px": b,
                        "crossings_now": now.intersection_count,
                        "crossings_before": before.intersection_count,
                        "change_pct": None if a is None or b is None else 100 * (a / b - 1)}
        rows.append(row)
        print(row, flush=True)
    summary = {key: {split: _summary([r for r in rows if r["split"] in splits], key)
                     for split, splits in (("train+val", ("train", "val")), ("train", ("train",)),
                                           ("val", ("val",)))}
               for key in settings}
    a = np.array(areas)
    summary["protocol"]["kept_apart_grain_area_px2"] = {
        "n": int(a.size),
        "q05_10_25_50": [float(x) for x in np.quantile(a, (0.05, 0.1, 0.25, 0.5))],
        "share_at_most_20_px2_pct": round(float(100 * (a <= 20).mean()), 1)}
    print(summary)
    shipped = {split: _shipped(split) for split in ("val", "train")}
    for split, v in shipped.items():
        print(split, "now", v["now"], "before", v["before"])
    save("heyn_triple_point_tbm", {"settings": settings, "summary": summary,
                                   "shipped": shipped, "masks": rows})


if __name__ == "__main__":
    from _common import no_options

    no_options(__doc__)
    main()
