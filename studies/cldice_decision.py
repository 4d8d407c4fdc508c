"""Does training for connectivity (clDice) measure grain size better? A pre-stated decision.

Issue 12 asks to "measure boundary continuity and fix it (e.g. ... training for
connectivity), judged by Heyn error, not only AP". Gaps in a predicted boundary merge
two grains along a test line and lengthen ℓ̄; the weighted BCE of the UAED loss pays for
a gap by its few pixels only. The ``cldice`` variant of ``benchmarks/cv_uaed.py`` adds
``0.2 x soft_cldice_loss(sigmoid(mu), mask)`` (``napari_srmat.edges.loss``; clDice,
Shit et al., CVPR 2021: 1 − harmonic mean of topology precision and sensitivity of soft
skeletons) to the ``plain`` recipe; 0.2, chosen before training, puts the term (clDice
of a fair map, roughly 0.3-0.5) at the order of the weighted BCE at the end of a
``plain`` run (0.15). The whole measurement is judged with the former ``current`` scale
policy, as in the other model decisions. Same five leave-scan-out folds of
tbm/train + val (seed 0), 80 epochs, tbm/test not opened; judged by the out-of-fold maps
(``benchmarks/cv_uaed_cldice.json``: every threshold rule, endpoints and fragments per
100 px of boundary) and ``studies/grain_size_c_inference_scale.py --variant cldice``
(native scale and the whole measurement; c cross-fitted), paired per fold with ``plain``.

Decision rule, written and committed before any ``cldice`` fold model was trained (the
input-normalisation rule): adopt ``cldice`` for the shipped recipe only if (1) its native
per-image ℓ̄ error is lower than ``plain``'s by more than one standard deviation of the
paired per-fold differences, (2) its whole-measurement error (all inputs) is not higher
by more than one standard deviation of its paired differences, and (3) its AP is not
lower by more than 0.01 on average. Adopting would mean retraining the shipped weights
with ``connectivity_weight=0.2`` and recalibrating them (about 2 CPU-hours, or the GPU).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py --work out/cv_uaed \\
        --variants cldice --out benchmarks/cv_uaed_cldice.json
    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/grain_size_c_inference_scale.py \\
        --work out/cv_uaed --variant cldice
    PYTHONPATH=src python studies/cldice_decision.py --work out/cv_uaed

Writes studies/results/cldice_decision.json.
"""

from __future__ import annotations

from input_norm_decision import one_repetition_main

CANDIDATE = "cldice"


def main(argv=None) -> int:
    return one_repetition_main(argv, __doc__.splitlines()[0], CANDIDATE, "native",
                               "cldice_decision")


if __name__ == "__main__":  # its own options (and --help): main's parser
    raise SystemExit(main())
