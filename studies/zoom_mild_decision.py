"""Do mild zooms in training make the whole measurement less dependent on its scale guess?

The whole measurement (``measure_grain_size``) resamples every image so that its
autocorrelation estimate of ℓ̄ becomes 26 px. The estimate is off by a factor e^δ with a
log spread of about 0.21, and the ``plain`` model, trained on regions of ℓ̄ 24-27 px,
finds grains of about the size it was trained on (ℓ̄ grows only as the true size^0.41):
out of fold the scale choice costs about 4 points per image (13.9 % against 9.9 % with the
scale known; docs/boundaries.md, "Inside the whole measurement"). Zooms of ×0.5-×2
(``zoom``) made the model follow the size better but find boundaries worse. ``zoom_mild``
zooms each training crop by ×0.8-×1.25 only (log-uniform), about the range of grain sizes
the model meets after the measurement's resampling.

Protocol: the ``zoom_mild`` variant of ``benchmarks/cv_uaed.py``, the ``plain`` recipe
otherwise (same five leave-scan-out folds of tbm/train + val, seed 0, 80 epochs; tbm/test
is not opened), judged by ``studies/grain_size_c_inference_scale.py --variant zoom_mild``
(native scale and the whole measurement at u = 0.5, 1, 2; c cross-fitted) and by the AP of
its out-of-fold maps, paired per fold with ``plain``.

Decision rule, written and committed before any ``zoom_mild`` fold model was trained:
adopt ``zoom_mild`` for the shipped recipe only if (1) its whole-measurement per-image
error (all inputs) is lower than ``plain``'s by more than one standard deviation of the
paired per-fold differences, (2) its native per-image error is not higher by more than
one standard deviation of its paired differences, and (3) its AP is not lower by more
than 0.01 on average. Adopting would mean retraining the shipped weights with
``scale_augment=(0.8, 1.25)`` and recalibrating them (about 2 CPU-hours, or the GPU);
one repetition of five folds is what this session's CPU allows.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py --work out/cv_uaed \\
        --variants zoom_mild --out benchmarks/cv_uaed_zoom_mild.json
    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/grain_size_c_inference_scale.py \\
        --work out/cv_uaed --variant zoom_mild
    PYTHONPATH=src python studies/zoom_mild_decision.py --work out/cv_uaed

Writes studies/results/zoom_mild_decision.json.
"""

from __future__ import annotations

from input_norm_decision import one_repetition_main

CANDIDATE = "zoom_mild"


def main(argv=None) -> int:
    return one_repetition_main(argv, __doc__.splitlines()[0], CANDIDATE, "measurement",
                               "zoom_mild_decision")


if __name__ == "__main__":  # its own options (and --help): main's parser
    raise SystemExit(main())
