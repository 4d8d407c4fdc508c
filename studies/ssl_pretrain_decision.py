"""Does self-supervised pretraining on the scans in no split help? A pre-stated decision.

Issue 12 names "self-supervised or synthetic pretraining on all unlabeled scans" among
the ways to a model that generalises across scans. Synthetic pretraining is in every
recipe; self-training on pseudo-labels was tried and not adopted. Here the ``ssl``
variant of ``benchmarks/cv_uaed.py`` starts the ``plain`` recipe (synthetic pretraining,
80 epochs, same five leave-scan-out folds of tbm/train + val, seed 0) from one
masked-image-modelling pretraining (``napari_srmat.edges.pretrain``: 16 px squares of
128 px crops hidden at ratio 0.5, the boundary output trained to give back their
standardised grey level; 2000 steps of 4 crops) on the 20 scans in no split
(``extra_0`` … ``extra_8`` and ``scan_32`` … ``scan_42``; no copy of a scan with
regions, the test scans' bytes hashed only). tbm/test is not opened.

Decision rule, written and committed before the pretraining ran (the rule of the
input-normalisation, zoom, clDice and epochs decisions): adopt the pretraining for the
shipped recipe only if (1) the native per-image ℓ̄ error is lower than ``plain``'s by
more than one standard deviation of the paired per-fold differences, (2) the
whole-measurement error (all inputs) is not higher by more than one standard deviation
of its paired differences, and (3) AP is not lower by more than 0.01 on average.
Adopting would mean retraining the shipped weights from the pretraining (about 2
CPU-hours, or the GPU).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/cv_uaed.py --work out/cv_uaed \\
        --variants ssl --out benchmarks/cv_uaed_ssl.json
    OMP_NUM_THREADS=1 PYTHONPATH=src python studies/grain_size_c_inference_scale.py \\
        --work out/cv_uaed --variant ssl
    PYTHONPATH=src python studies/ssl_pretrain_decision.py --work out/cv_uaed

Writes studies/results/ssl_pretrain_decision.json.
"""

from __future__ import annotations

from input_norm_decision import one_repetition_main

CANDIDATE = "ssl"


def main(argv=None) -> int:
    return one_repetition_main(argv, __doc__.splitlines()[0], CANDIDATE, "native",
                               "ssl_pretrain_decision")


if __name__ == "__main__":  # its own options (and --help): main's parser
    raise SystemExit(main())
