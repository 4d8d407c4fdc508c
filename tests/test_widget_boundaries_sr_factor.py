"""The Boundaries widget's scale check of an SR layer reads its recorded factor f
(``metadata["sr_factor"]``, the one the Simple tab reads): it suggests 1 / f, the
field's own pixels, as ``srmat edges predict`` / ``srmat grain-size`` on the SR store
do. Until s51 F3 ``boundaries_job`` got the layer's pixels only and suggested the
estimate's scale (0.57 for a x2 store, 0.29 for x4; docs/grain_size.md "A
super-resolved field")."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import configure

torch = pytest.importorskip("torch")

from napari_srmat.widgets.boundaries_widget import BoundariesWidget  # noqa: E402

pytestmark = pytest.mark.gui

FACTOR = 2


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """An untrained tiny UAED checkpoint (fast to run; its maps do not matter here)."""
    from napari_srmat.checkpoint import save_checkpoint
    from napari_srmat.edges.model import build_uaed, default_arch_config

    torch.manual_seed(0)
    cfg = default_arch_config("tiny")
    path = tmp_path_factory.mktemp("ck") / "uaed_tiny"
    save_checkpoint(path, build_uaed(cfg).state_dict(), {**cfg, "threshold": 0.4})
    return path


def test_boundaries_of_an_sr_layer_are_checked_at_its_fields_pixels(
        make_napari_viewer, qtbot, tiny_checkpoint):
    """A x2 bicubic SR layer (added as the SR widget adds its result) of a 256² synthetic
    field of ~48 px grains: the widget's scale check suggested 0.492 (the estimate's
    scale, the factor unseen) where the Simple tab and the CLI run 1/2. Now 0.5 with the
    factor named, in every layer's ``native_scale`` and the status line; the scripting
    helper (``add_boundary_layers``) alike."""
    from PIL import Image

    from napari_srmat.grainsize import check_native_scale
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.layers import add_boundary_layers, add_super_resolution_result

    viewer = make_napari_viewer()
    lr_image = generate_microstructure((256, 256), mean_grain_size_px=48, seed=0).image
    lr = viewer.add_image(lr_image, name="field", rgb=True)
    up = np.asarray(Image.fromarray(lr_image).resize((256 * FACTOR,) * 2, Image.BICUBIC))
    sr = add_super_resolution_result(viewer, lr, up, FACTOR, model_name="bicubic")
    expected = check_native_scale(up, upscale_factor=FACTOR)
    assert expected.suggested_inference_scale == 1 / FACTOR
    w = BoundariesWidget(viewer)
    qtbot.addWidget(w)
    configure(w, sr, checkpoint=str(tiny_checkpoint), device="cpu", tile=256, overlap=16)
    w.run()
    qtbot.waitUntil(lambda: w.layers is not None, timeout=120_000)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=10_000)
    for role in ("boundary probability", "uncertainty", "boundaries"):
        told = viewer.layers[f"{sr.name} {role}"].metadata["native_scale"]
        assert told["suggested_inference_scale"] == 1 / FACTOR, told
        assert told == expected.to_dict()
    assert f"(1/{FACTOR}: this x{FACTOR} super-resolution" in w.status.text()
    scripted = add_boundary_layers(viewer, sr, checkpoint=tiny_checkpoint, device="cpu",
                                   tile=256, overlap=16)
    assert scripted.boundaries.metadata["native_scale"] == expected.to_dict()
