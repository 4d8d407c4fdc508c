"""Does ``seed_layout="poisson"`` remove the lattice order of the generator's structures?

studies/grid_interval_aliasing.py found that ``generate_microstructure``'s default layout
(one seed jittered inside each cell of an h grid) leaves a row's crossing density periodic
in its row with period h, 14-29 % ((max - min) / mean over the h phases y mod h), against
3-13 % on Voronoi maps of hard-core random seeds (the noise of about 10-40 rows a phase).
This study measures the same quantity, with that study's function
(``grid_interval_aliasing.row_phase_amplitude``) on the same maps (768², h in its
``SPACINGS``, its exploration and confirmation structure seeds, boundary masks thinned as
``srmat grain-size --mask`` thins), for each seed layout of the generator; columns too
(``x mod h``). It also records the exact ℓ̄ (``mean_intercept_px``) over h of each
layout on ``INTERCEPT_MAPS`` 1024² maps of 32 px grains at ``size_spread`` 0, 0.3
(default) and 1.
"""

from __future__ import annotations

import numpy as np
from _common import no_options, save, thinned_boundaries
from grid_interval_aliasing import MAP, SEEDS, SPACINGS, row_phase_amplitude

INTERCEPT_MAPS = 4
SPREADS = (0.0, 0.3, 1.0)


def phase_amplitudes(layout: str, structures) -> dict:
    """Mean row and column phase amplitude over ``structures``, by h."""
    out = {}
    for h in SPACINGS:
        rows, cols = [], []
        for s in structures:
            mask = thinned_boundaries((MAP, MAP), h, s, seed_layout=layout)
            rows.append(row_phase_amplitude(mask, h))
            cols.append(row_phase_amplitude(mask.T, h))
        out[f"h{h}"] = {"rows": round(float(np.mean(rows)), 3),
                        "columns": round(float(np.mean(cols)), 3)}
    return out


def intercepts_over_h() -> dict:
    """ℓ̄ / h of each layout and size_spread: each map's and their mean."""
    from napari_srmat.synth import generate_microstructure

    out: dict = {}
    for layout in ("lattice", "poisson"):
        for spread in SPREADS:
            v = [generate_microstructure((1024, 1024), mean_grain_size_px=32, seed=s,
                                         size_spread=spread, rgb=False,
                                         seed_layout=layout).mean_intercept_px / 32
                 for s in range(INTERCEPT_MAPS)]
            out[f"{layout} spread {spread}"] = {"maps": [round(x, 3) for x in v],
                                                "mean": round(float(np.mean(v)), 3)}
    return out


def main() -> None:
    out: dict = {"intercept_over_h": intercepts_over_h()}
    print(out)
    for name, seeds in SEEDS.items():
        out[name] = {"structures": list(seeds["structures"]),
                     **{layout: phase_amplitudes(layout, seeds["structures"])
                        for layout in ("lattice", "poisson")}}
        print(name, out[name])
    save("seed_layout_rows", out)


if __name__ == "__main__":
    no_options(__doc__)
    main()
