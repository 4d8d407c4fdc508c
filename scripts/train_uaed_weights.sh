#!/usr/bin/env bash
# Reproduce the shipped default UAED weights (src/napari_srmat/weights/uaed_default/).
# CPU only: about 55 min (stage 1) + 45 min (stage 2) + 15 min (stage 3) + 15 min (stage 4) on a shared 2-core machine.
#   stage 1: 6 synthetic pretraining epochs, then 70 epochs on tbm/train (lr 1e-3, cosine)
#   stage 2: warm restart of the same run to 140 epochs (resume; the cosine schedule is
#            recomputed for 140 epochs, so the learning rate jumps to ~5e-4 and anneals again)
#   stage 3, 4: the same to 210 and 280 epochs (these ran with 2 threads)
#   export:  fp16, thresholds calibrated on tbm/val for TTA none and d4, default TTA d4
# Usage: scripts/train_uaed_weights.sh [DATA_ROOT] [RUN_DIR]
set -euo pipefail
DATA_ROOT=${1:-../shared/data/tbm}
RUN_DIR=${2:-/tmp/uaed_default_run}
OUT_DIR=src/napari_srmat/weights/uaed_default

for EPOCHS in 70 140 210 280; do
python - "$DATA_ROOT" "$RUN_DIR" "$EPOCHS" <<'PY'
import sys

import torch

torch.set_num_threads(1)
from napari_srmat.edges.train import train_boundaries_job
from napari_srmat.jobs import run_job

config = dict(
    data_root=sys.argv[1], out=sys.argv[2], encoder="tiny",
    pretrain_synthetic=48, pretrain_epochs=6, epochs=int(sys.argv[3]),
    batch_size=2, crop=128, lr=1e-3, weight_decay=5e-4,
    ema_decay=0.99, seed=0, num_threads=1, device="cpu", resume=True,
)
res = run_job(train_boundaries_job(config))
print("best val AP", res.best_val_ap, "threshold", res.threshold, res.best_checkpoint)
PY
done

# fp16 export of the best (EMA) weights, selected on val AP; thresholds chosen on val
OMP_NUM_THREADS=1 python -m napari_srmat.edges.export "$RUN_DIR/best" "$OUT_DIR" --fp16 \
    --calibrate "$DATA_ROOT/val" --tta d4
