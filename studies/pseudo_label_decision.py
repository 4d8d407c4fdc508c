"""Does self-training on unlabeled scans generalise better to unseen scans? Out of fold.

Compares the ``pseudo`` variant of ``benchmarks/cv_uaed.py`` with ``plain`` over the
five leave-scan-out folds of tbm/train + val (seed 0; same folds, recipe, epochs and
seed; tbm/test is not opened), at the shipped operating point (``otsu_scaled``, TTA
``none``, c cross-fitted on the other folds). ``pseudo``: each fold model is trained from
scratch on its labeled regions plus 36 regions of the 9 unlabeled ``extra_*`` scans in
no split (``scans/extra_0`` … ``extra_8``; ``extra_9`` is a copy of ``scan_10`` and is left
out), labeled by the same fold's ``plain`` model (TTA ``d4``, its cross-fitted
``otsu_scaled`` c, thinned and widened to 3 px): no label and no image of the held-out
fold enters a student. The student sees about 1.7x the training steps of ``plain``.

Decision rule, written before any ``pseudo`` fold model was trained (the rule of
``encoder_decision.py``): train the shipped model with pseudo-labeled scans only if the
per-image ℓ̄ error is lower by more than one standard deviation of the paired per-fold
differences and AP is not lower by more than 0.01 (then the whole measurement would
still need re-checking with the new weights before shipping).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py --work out/cv_uaed \\
        --variants pseudo --stage train --train-folds 0,1,2     # and 3,4 on a second core
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py --work out/cv_uaed \\
        --variants pseudo --stage eval --out benchmarks/cv_uaed_pseudo.json
    PYTHONPATH=src python studies/pseudo_label_decision.py --out-root out

Writes studies/results/pseudo_label_decision.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _common import DATA, ROOT
from encoder_decision import run_decision

CANDIDATE = ("cv_uaed_pseudo.json", "pseudo")


def mask_geometry(masks) -> dict:
    """Mean width (mask pixels per skeleton pixel) and boundary fraction of masks."""
    from skimage.morphology import skeletonize

    width = [m.sum() / max(int(skeletonize(m).sum()), 1) for m in masks]
    frac = [m.mean() for m in masks]
    return {"n": len(width), "width_px_median": round(float(np.median(width)), 3),
            "width_px_q10_q90": [round(float(x), 3) for x in np.quantile(width, (0.1, 0.9))],
            "boundary_fraction_median": round(float(np.median(frac)), 4)}


def pseudo_label_geometry(args) -> dict:
    """The hand-drawn masks of tbm/train + val and each fold's pseudo-labels, compared."""
    if args.out_root is None:
        return {}
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from cv_uaed import list_images

    from napari_srmat.edges.data import load_pairs

    work = args.out_root / "cv_uaed" / "pseudo"
    pseudo = [m.astype(bool) for k in range(5)
              for m in np.load(work / f"fold-{k}" / "pseudo.npz")["masks"]]
    return {"mask_geometry": {
        "hand_drawn_train_val": mask_geometry([s.mask for s in load_pairs(list_images(DATA))]),
        "pseudo_labels_all_folds": mask_geometry(pseudo)}}


def main(argv=None) -> int:
    return run_decision(
        "pseudo_label_decision", CANDIDATE, argv, description=__doc__.splitlines()[0],
        add_arguments=lambda ap: ap.add_argument(
            "--out-root", type=Path, default=None,
            help="folder holding cv_uaed/pseudo/fold-k/pseudo.npz: also compare the "
                 "pseudo-labels' width and boundary fraction with the hand-drawn masks'"),
        extend=pseudo_label_geometry)


if __name__ == "__main__":  # its own options (and --help): main's parser
    raise SystemExit(main())
