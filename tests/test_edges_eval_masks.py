"""UAED evaluation checks its masks by the training's rule (edges.data.mask_content_warnings)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from napari_srmat.edges.evaluate import evaluate_boundaries_job  # noqa: E402
from napari_srmat.jobs import Log, run_job  # noqa: E402


def _write_pairs(root: Path, seeds, inverted=()):
    """Synthetic image/mask PNGs named s<seed>; the masks of ``inverted`` exported
    inverted (grains white, boundaries black)."""
    from PIL import Image

    from napari_srmat.edges.data import synthetic_samples

    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    for seed in seeds:
        s = synthetic_samples(1, (96, 96), seed=seed, mean_grain_size_px=28)[0]
        mask = s.mask.astype(bool)
        if seed in inverted:
            mask = ~mask
        Image.fromarray((s.image.transpose(1, 2, 0) * 255).astype(np.uint8)).save(
            root / "images" / f"s{seed}.png"
        )
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / "masks" / f"s{seed}.png")
    return root


def test_inverted_test_and_validation_masks_are_warned_as_in_training(tmp_path):
    """An inverted test mask: the training warns '... is 85% boundary ...: it is not a
    boundary map (inverted?)' per mask, the evaluation only 'the ground truth ... is not a
    boundary map: no Heyn error' while its table showed F1 0.9 and AP 0.7 that mean
    nothing (failed before: no line naming the mask). Each inverted test and validation
    mask is named, before the model runs, and report.json lists the lines; a good mask is
    not named."""
    from napari_srmat.edges.infer import load_boundary_model

    test = _write_pairs(tmp_path / "test", (1, 2), inverted=(2,))
    val = _write_pairs(tmp_path / "val", (3, 4), inverted=(4,))
    told = []
    report = run_job(evaluate_boundaries_job(
        test / "images", test / "masks", val_images=val / "images", val_masks=val / "masks",
        model=load_boundary_model(device="cpu"), baseline=False, out_dir=tmp_path / "eval"),
        quiet=True, on_event=told.append)  # fmt: skip
    warnings = [e.message for e in told if isinstance(e, Log) and e.level == "warning"]
    for what, mask in (("test", test / "masks" / "s2.png"),
                       ("validation", val / "masks" / "s4.png")):  # fmt: skip
        lines = [w for w in warnings if w.startswith(f"{what} mask {mask} is ")]
        assert len(lines) == 1, warnings
        assert lines[0].endswith("it is not a boundary map (inverted?)"), lines[0]
        assert lines[0] in report["warnings"]
        assert lines[0] in json.loads((tmp_path / "eval" / "report.json").read_text())["warnings"]
    assert not [w for w in warnings if "s1.png" in w or "s3.png" in w], warnings
    first = next(i for i, e in enumerate(told) if isinstance(e, Log) and "inverted?" in e.message)
    evaluating = next(i for i, e in enumerate(told) if isinstance(e, Log)
                      and e.message.startswith("evaluating"))  # fmt: skip
    assert first < evaluating  # told before the model runs
