"""The adaptive data-consistency floor far above its usual range is told."""

from __future__ import annotations

import numpy as np

import napari_srmat as srmat
from napari_srmat.audit import find_candidates_job, resolve_degrade
from napari_srmat.audit.detector import RESIDUAL_FLOOR_HIGH
from napari_srmat.jobs import Log, run_job


def _floor_warnings(lr, sr) -> list[str]:
    events = []
    run_job(find_candidates_job(lr, sr, scale=4), quiet=True, on_event=events.append)
    return [
        e.message
        for e in events
        if isinstance(e, Log) and e.level == "warning" and "floor" in e.message
    ]


def test_an_lr_of_another_degradation_is_told_by_its_high_floor():
    """E6's leftover: an LR made by plain subsampling raised the adaptive floor about ten
    times (tbm val: 0.087-0.110 against 0.010) and hid even injected lines there, nothing
    said. Now a floor above RESIDUAL_FLOOR_HIGH is a warning naming it and the likely
    cause; the LR of the detector's degradation gives none (guard)."""
    hr = srmat.generate_microstructure((256, 256), seed=0).image
    warned = _floor_warnings(np.ascontiguousarray(hr[::4, ::4]), hr)
    assert len(warned) == 1
    assert "another degradation" in warned[0] and f"{RESIDUAL_FLOOR_HIGH:g}" in warned[0]
    assert "\n" not in warned[0]
    assert _floor_warnings(resolve_degrade()(hr, 4), hr) == []


def test_a_high_floor_names_a_misregistered_sr_too():
    """Was (W1): the warning asked only whether the LR was made by another degradation,
    but an SR shifted (2, 2) SR px against an LR of the detector's degradation gives a
    floor of 0.111-0.124 (gain x1.1: 0.096-0.103, blur sigma 2: 0.079). Now the one line
    names a misregistered, intensity-shifted or blurred SR as well. Was (R8): "shifted 2 SR
    px or more", but (1, 1) gives 0.056-0.063 and (2, 0) 0.070-0.077, above 0.05 too; now
    "shifted by more than about 1 SR px"."""
    hr = srmat.generate_microstructure((256, 256), seed=0).image
    lr = resolve_degrade()(hr, 4)
    warned = _floor_warnings(lr, np.ascontiguousarray(np.roll(hr, 2, axis=(0, 1))))
    assert len(warned) == 1 and "\n" not in warned[0]
    assert "shifted by more than about 1 SR px" in warned[0]
    assert "within 1 SR px of the LR along one axis" in warned[0]
    for cause in ("another degradation", "misregistered", "intensity-shifted", "blurred"):
        assert cause in warned[0]
