"""Unknown keys of a training config given as a dict: one rule for the SR and the
boundary training, the plain functions' (a TypeError with the closest field)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from napari_srmat.edges.train import train_boundaries_job  # noqa: E402
from napari_srmat.sr.train import train_sr_job  # noqa: E402


@pytest.mark.parametrize(
    ("job", "key", "closest"),
    [
        (train_sr_job, "stpes", "steps"),  # until 2026-12-07 the config constructor's
        (train_sr_job, "train_steps", None),  # raw TypeError, never a hint
        (train_boundaries_job, "epoch", "epochs"),  # until 2026-12-07 a ValueError
        (train_boundaries_job, "data", "data_root"),
    ],
)
def test_an_unknown_training_option_names_the_job_and_the_closest_field(job, key, closest):
    with pytest.raises(TypeError) as exc:
        next(job({key: 3}))
    msg = str(exc.value)
    assert msg.startswith(f"{job.__name__}() got an unexpected keyword argument '{key}'")
    assert msg.endswith(f"(did you mean '{closest}'?)" if closest else f"'{key}'")
