"""How far apart are genuine and swapped pairs at the registration's swap check?

Synthetic grey micrographs (``generate_microstructure``, 28 px grains, seeds 1-3): an LR
overview (the HR field ×1/2 or ×1/4, area interpolation; gamma 0.5, Gaussian blur σ 2
and pixel noise σ 0 ... 0.5 added, clipped to [0, 1]) and a 260 px HR crop inside it.
Genuine: the LR as MOVING, the crop as FIXED (FIXED lies inside MOVING, so the other
order is tried); swapped: the crop as MOVING, the LR as FIXED. Reported per pair: the
other order's correlation (``ncc``, the number :data:`MIN_SWAPPED_NCC` is compared
with), the order's own, whether ``LOOK_SWAPPED`` was raised, the SSIM of the match and
whether the scale found is the true one (within 2 %). Summaries: the highest other-order
ncc of a genuine pair and the lowest of a swapped pair whose true order matched (the
margin around ``MIN_SWAPPED_NCC``); the SSIMs of genuine matches at the true scale (what
an SSIM floor against the spurious swapped matches would also reject).

    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/registration_swap_margin.py  # ~3 CPU-min

Writes studies/results/registration_swap_margin.json.
"""

from __future__ import annotations

import warnings

import numpy as np

NOISES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.5)
SCALES = (2, 4)
SEEDS = (1, 2, 3)
CROP_PX = 260


def _pair(seed: int, scale: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """(LR overview, HR crop inside it) as float32 grey images."""
    import cv2
    from scipy import ndimage as ndi

    from napari_srmat.synth import generate_microstructure

    hr = (
        generate_microstructure(
            (768, 768), mean_grain_size_px=28, seed=seed, rgb=False
        ).image.astype(np.float32)
        / 255
    )
    lr = cv2.resize(hr, (768 // scale,) * 2, interpolation=cv2.INTER_AREA) ** 0.5
    lr = ndi.gaussian_filter(lr, 2) + np.random.default_rng(seed).normal(0, noise, lr.shape)
    return np.clip(lr, 0, 1).astype(np.float32), hr[400 : 400 + CROP_PX, 100 : 100 + CROP_PX]


def _register(moving: np.ndarray, fixed: np.ndarray) -> dict:
    """The registration and the correlations of its coarse searches (the first is the
    order's own, one from FIXED into MOVING the other order's)."""
    from napari_srmat.sr import registration as reg_module

    calls: list[tuple[bool, tuple | None, np.ndarray]] = []
    search = reg_module._search

    def recorded(m, f, scales):
        found = search(m, f, scales)
        calls.append((not calls or m is calls[0][2], found, m))
        return found

    reg_module._search = recorded
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reg = reg_module.register_images(moving, fixed)
    finally:
        reg_module._search = search
    own = calls[0][1]
    other = next((found for same, found, _ in calls if not same), None)
    return {
        "scale": reg.scale,
        "ssim": reg.ssim,
        "ncc": reg.ncc,
        "trusted": reg.trusted,
        "doubts": list(reg.doubts),
        "own_coarse_ncc": own[0] if own else None,
        "other_ncc": other[0] if other else None,
        "other_scale": other[1] if other else None,
    }


def main() -> int:
    from _common import no_options, save

    no_options(__doc__)
    from napari_srmat.sr.registration import LOOK_SWAPPED, MIN_MATCH_SSIM, MIN_SWAPPED_NCC

    rows = []
    for scale in SCALES:
        for noise in NOISES:
            for seed in SEEDS:
                lr, crop = _pair(seed, scale, noise)
                for order, (moving, fixed) in (("genuine", (lr, crop)), ("swapped", (crop, lr))):
                    row = {
                        "order": order,
                        "true_scale": scale,
                        "noise": noise,
                        "seed": seed,
                        **_register(moving, fixed),
                    }
                    row["looks_swapped"] = LOOK_SWAPPED in row["doubts"]
                    truth = scale if order == "genuine" else 1 / scale
                    row["true_scale_found"] = abs(row["scale"] / truth - 1) < 0.02
                    rows.append(row)
                    print(
                        {
                            k: (round(v, 3) if isinstance(v, float) else v)
                            for k, v in row.items()
                            if k != "doubts"
                        },
                        flush=True,
                    )
    genuine = [r for r in rows if r["order"] == "genuine"]
    swapped = [r for r in rows if r["order"] == "swapped"]
    matched_true = [
        r
        for r in swapped
        if r["other_ncc"] is not None and abs(r["other_scale"] / r["true_scale"] - 1) < 0.05
    ]
    genuine_true = [r for r in genuine if r["true_scale_found"]]
    summary = {
        "MIN_SWAPPED_NCC": MIN_SWAPPED_NCC,
        "MIN_MATCH_SSIM": MIN_MATCH_SSIM,
        "genuine_pairs": len(genuine),
        "genuine_told_swapped": sum(r["looks_swapped"] for r in genuine),
        "genuine_highest_other_ncc": max(r["other_ncc"] or 0 for r in genuine),
        "swapped_pairs": len(swapped),
        "swapped_told_swapped": sum(r["looks_swapped"] for r in swapped),
        "swapped_trusted": sum(r["trusted"] for r in swapped),
        "genuine_trusted_ssim": sorted(r["ssim"] for r in genuine if r["trusted"]),
        "swapped_true_order_found_by_other_search": len(matched_true),
        "swapped_lowest_other_ncc_at_true_scale": min(
            (r["other_ncc"] for r in matched_true), default=None
        ),
        "swapped_other_ncc_by_noise": {
            str(n): min((r["other_ncc"] or 0) for r in swapped if r["noise"] == n) for n in NOISES
        },
        "genuine_other_ncc_by_noise": {
            str(n): max((r["other_ncc"] or 0) for r in genuine if r["noise"] == n) for n in NOISES
        },
        "genuine_ssim_at_true_scale_by_noise": {
            str(n): min((r["ssim"] for r in genuine_true if r["noise"] == n), default=None)
            for n in NOISES
        },
        "swapped_spurious_match_ssim": sorted(
            r["ssim"] for r in swapped if not r["true_scale_found"]
        ),
    }
    print(summary)
    save(
        "registration_swap_margin",
        {"noises": NOISES, "scales": SCALES, "seeds": SEEDS, "summary": summary, "rows": rows},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
