#!/usr/bin/env bash
# Reproduce the shipped default UAED weights (src/napari_srmat/weights/uaed_default/).
# CPU only, one thread, about 30-40 minutes on a shared 2-core machine.
# Usage: scripts/train_uaed_weights.sh [DATA_ROOT] [RUN_DIR]
set -euo pipefail
DATA_ROOT=${1:-../shared/data/tbm}
RUN_DIR=${2:-/tmp/uaed_default_run}
OUT_DIR=src/napari_srmat/weights/uaed_default

python - "$DATA_ROOT" "$RUN_DIR" <<'PY'
import sys

import torch

torch.set_num_threads(1)
from napari_srmat.edges.train import train_boundaries_job
from napari_srmat.jobs import run_job

config = dict(
    data_root=sys.argv[1], out=sys.argv[2], encoder="tiny",
    pretrain_synthetic=48, pretrain_epochs=6, epochs=70,
    batch_size=2, crop=128, lr=1e-3, weight_decay=5e-4,
    ema_decay=0.99, seed=0, num_threads=1, device="cpu",
)
res = run_job(train_boundaries_job(config))
print("best val AP", res.best_val_ap, "threshold", res.threshold, res.best_checkpoint)
PY

# fp16 export of the best (EMA) weights, selected on val AP
python -m napari_srmat.edges.export "$RUN_DIR/best" "$OUT_DIR" --fp16
