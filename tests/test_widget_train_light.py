"""The Train & evaluate widget's form reads what it offers from torch-free modules: the
GUI thread never imports torch to fill a list (docs/widgets/responsiveness.md)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui

_SCRIPT = """
import sys
from qtpy.QtWidgets import QApplication
app = QApplication([])
from napari.components import ViewerModel
from napari_srmat.widgets.train_widget import UAED_TRAIN, TrainEvaluateWidget
w = TrainEvaluateWidget(ViewerModel())
w.kind.setCurrentText(UAED_TRAIN)
print("encoders", [w.model.itemText(i) for i in range(w.model.count())],
      "torch", "torch" in sys.modules)
"""


def test_choosing_uaed_training_imports_no_torch(tmp_path):
    """Job = 'UAED training' imported edges.model (torch) on the GUI thread to list the
    encoder names: a stall of 1.2 s CPU (failed before: torch True). The names come from
    edges.config now."""
    from napari_srmat.edges.config import ENCODER_NAMES

    script = tmp_path / "kind.py"
    script.write_text(_SCRIPT)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env
    )
    assert f"encoders {list(ENCODER_NAMES)} torch False" in proc.stdout, proc.stdout + proc.stderr


def test_the_encoder_names_are_the_model_s_presets():
    """The torch-free list is the model registry's names, in its order (guard)."""
    pytest.importorskip("torch")
    from napari_srmat.edges.config import ENCODER_NAMES
    from napari_srmat.edges.model import ENCODER_PRESETS

    assert ENCODER_NAMES == tuple(ENCODER_PRESETS)
