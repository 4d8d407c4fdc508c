"""The public notebook API of napari-srmat, end to end on a synthetic micrograph.

Every step is one top-level function of ``napari_srmat`` (the same functions the
``srmat`` command line and the napari widgets call); no Qt, no napari, CPU only, well
under a minute. Paste the cells into a notebook, or run::

    python examples/notebook_api.py            # prints a short report
    python examples/notebook_api.py --json     # the numbers as one JSON object

The synthetic micrograph knows its true mean lineal intercept, so each grain-size
figure below can be checked against the truth.
"""

# %% imports
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import napari_srmat as srmat


def run(size: int = 256, grain_px: float = 28.0, pixel_size_um: float = 0.5,
        folder: str | Path | None = None) -> dict:
    """Run the chain and return its numbers (also used by the tests)."""
    folder = Path(folder or tempfile.mkdtemp(prefix="srmat-notebook-"))
    out: dict = {}

    # %% 1. a synthetic micrograph with known boundaries, saved with its pixel size
    ms = srmat.generate_microstructure((size, size), mean_grain_size_px=grain_px, seed=0)
    out["true_mean_intercept_px"] = float(ms.mean_intercept_px)
    path = srmat.write_ome_zarr(ms.image, folder / "micrograph.ome.zarr",
                                pixel_size_um=pixel_size_um, overwrite=True)

    # %% 2. read it back: lazy Dask levels and the pixel size from the metadata
    micrograph = srmat.read_image(path)
    out["shape"] = list(micrograph.data.shape)
    out["pixel_size_um"] = micrograph.pixel_size_um

    # %% 3. Heyn lineal intercepts on the true boundaries (ASTM E112)
    heyn = srmat.measure_intercepts(ms.boundaries, skeletonize=True,
                                    pixel_size_um=micrograph.pixel_size_um)
    out["heyn_true_boundaries_px"] = heyn.mean_intercept_px

    # %% 4. grain size of the micrograph itself: boundary model + Heyn lines, with a 95 % CI
    gs = srmat.measure_grain_size(micrograph)
    out["grain_size"] = {k: gs.to_dict()[k] for k in (
        "mean_intercept_px", "mean_intercept_ci95_px", "mean_intercept_um", "astm_g",
        "astm_g_ci95", "inference_scale", "warnings")}

    # %% 5. boundary probability and uncertainty maps at the micrograph's own scale; the
    # boundaries step 4 counted are gs.boundaries, at gs.inference_scale (binarised by the
    # model's rule region by region: gs.threshold is the median of those thresholds, an
    # operating point for maps at that scale, not for these)
    prob, uncertainty = srmat.predict_boundaries(np.asarray(micrograph.data))
    out["boundary_fraction"] = float(np.mean(gs.boundaries))
    out["mean_probability"] = float(np.mean(prob))
    out["mean_uncertainty"] = float(np.mean(uncertainty))

    # %% 6. super-resolve a 4x smaller copy, then audit the SR result for hallucinations
    lr = np.asarray(ms.image)[::4, ::4]
    sr = srmat.super_resolve(lr)
    out["sr_shape"] = list(np.shape(sr))
    candidates = srmat.find_hallucination_candidates(lr, sr)
    out["n_audit_candidates"] = len(candidates)
    out["top_candidates"] = [{"bbox": c.bbox, "kind": c.kind, "score": round(c.score, 1)}
                             for c in list(candidates)[:3]]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=256, help="image side (px)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res = run(args.size, folder=tmp)
    if args.json:
        print(json.dumps(res, indent=1, default=float))
        return
    gs = res["grain_size"]
    print(f"true mean intercept        {res['true_mean_intercept_px']:.1f} px")
    print(f"Heyn on true boundaries    {res['heyn_true_boundaries_px']:.1f} px")
    lo, hi = gs["mean_intercept_ci95_px"] or (float("nan"), float("nan"))
    print(f"measured from the image    {gs['mean_intercept_px']:.1f} px "
          f"(95 % CI {lo:.1f}-{hi:.1f}), G = {gs['astm_g']:.2f}")
    print(f"super-resolved {res['shape'][0] // 4} px -> {res['sr_shape'][0]} px; "
          f"{res['n_audit_candidates']} regions to audit")
    for w in gs["warnings"]:
        print(f"warning: {w}")


if __name__ == "__main__":
    main()
