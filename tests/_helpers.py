"""Helpers shared by several test modules (importable: pytest puts ``tests/`` on sys.path)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

# Keys that ``evaluate_maps`` and ``srmat eval-maps --json`` report.
EVAL_MAPS_KEYS = (
    "ap",
    "roc_auc",
    "threshold",
    "f1",
    "precision",
    "recall",
    "heyn_pred_px",
    "heyn_gt_px",
    "heyn_error_pct",
    "n_images",
    "per_image",
)


def thread_spy(real: Callable, calls: list, label: str | None = None) -> Callable:
    """``real`` wrapped to record which thread called it: each call appends to ``calls``
    whether it ran on the GUI (main) thread (``(label, on_gui_thread)`` where a label is
    given), then returns ``real``'s result. Set it in place of ``real`` with
    ``monkeypatch.setattr`` (also as a class's method: ``self`` is passed on)."""

    def spy(*args: Any, **kwargs: Any) -> Any:
        on_gui_thread = threading.current_thread() is threading.main_thread()
        calls.append(on_gui_thread if label is None else (label, on_gui_thread))
        return real(*args, **kwargs)

    return spy


def spy_threads(monkeypatch, owner: Any, name: str, calls: list | None = None, *,
                label: str | None = None) -> list:
    """Replace ``owner.name`` (a module's function, a class's method) by its
    :func:`thread_spy` for the test; returns ``calls``, the list of the callers' threads
    (a new one unless given: several spies may share one)."""
    calls = [] if calls is None else calls
    monkeypatch.setattr(owner, name, thread_spy(getattr(owner, name), calls, label))
    return calls


def fake_predictions(
    n: int,
    *,
    seed: int = 0,
    size: int = 160,
    grain: float = 20,
    gain: float = 1.6,
    blur: float = 1.0,
    noise: float = 0.08,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Noisy blurred boundary maps of synthetic microstructures and their uint8 masks.

    Returns ``probs`` (float in [0, 1]) and ``masks`` (0/255), one per image; image
    ``i`` is ``generate_microstructure`` with seed ``seed * 10 + i``.
    """
    from scipy.ndimage import gaussian_filter

    from napari_srmat.synth import generate_microstructure

    rng = np.random.default_rng(seed)
    masks, probs = [], []
    for i in range(n):
        ms = generate_microstructure((size, size), mean_grain_size_px=grain, seed=seed * 10 + i)
        p = gaussian_filter(ms.boundaries.astype(float), blur) * gain
        probs.append(np.clip(p + rng.normal(0, noise, p.shape), 0, 1))
        masks.append(ms.boundaries.astype(np.uint8) * 255)
    return probs, masks


def configure(widget, layer=None, **values) -> None:
    """Set a widget's input layer and its controls by attribute name: a combo box gets
    the text (``setCurrentText``), a line edit the text (``setText``), a spin box the
    value (``setValue``), a check box the state (``setChecked``); e.g.
    ``configure(w, layer, model="cnn", tile=48)``."""
    if layer is not None:
        widget.layer_combo.value = layer
    for name, value in values.items():
        control = getattr(widget, name)
        for setter, getter in (("setChecked", "isChecked"), ("setCurrentText", "currentText"),
                               ("setText", "text"), ("setValue", "value")):
            if hasattr(control, setter):
                getattr(control, setter)(value)
                assert getattr(control, getter)() == value, f"{name} did not take {value!r}"
                break
        else:
            raise TypeError(f"{name} is not a combo box, line edit, spin box or check box")


def add_gigapixel_mosaic(viewer):
    """A lazy 24000 x 24000 RGB mosaic (Dask zeros, 2048 px chunks) as an image layer."""
    import dask.array as da

    mosaic = da.zeros((24000, 24000, 3), dtype=np.uint8, chunks=(2048, 2048, 3))
    return viewer.add_image(mosaic, rgb=True, name="mosaic")


def drive_and_stop(gen, stop, when):
    """Run a job generator, asking ``stop`` to stop at the first ``Progress`` event for
    which ``when(event)`` is true (an int ``n``: ``event.done == n``); returns
    ``(events, result)``."""
    from napari_srmat.jobs import Progress

    if isinstance(when, int):
        n = when
        when = lambda event: event.done == n  # noqa: E731
    events = []
    try:
        while True:
            event = next(gen)
            events.append(event)
            if isinstance(event, Progress) and when(event):
                stop.request_stop()
    except StopIteration as end:
        return events, end.value


def tiny_refsr_and_references(tmp_path):
    """A small untrained ``refsr`` x2 checkpoint and a folder of two synthetic HR
    references (grains of 10 and 40 px): ``(checkpoint_dir, reference_dir)``."""
    from PIL import Image

    from napari_srmat.sr import load_model
    from napari_srmat.sr.registry import save_model_checkpoint
    from napari_srmat.synth import generate_microstructure

    ckpt = tmp_path / "refsr"
    save_model_checkpoint(load_model("refsr", scale=2, pretrained=False, device="cpu",
                                     n_feats=8, n_blocks=1, t_feats=8, v_feats=2), ckpt)
    refs = tmp_path / "refs"
    refs.mkdir()
    for i, size in enumerate((10, 40)):
        img = generate_microstructure((96, 96), seed=i, mean_grain_size_px=size).image
        Image.fromarray(img).save(refs / f"ref_{size}.png")
    return ckpt, refs


def count_zarr_reads(monkeypatch) -> list:
    """The keys of the Zarr pixel reads from now on (a list filled as they happen; not
    the empty reads that probe a store's dtype): a memory refusal reads none."""
    import zarr

    reads: list = []
    real = zarr.Array.__getitem__

    def counted(self, key):
        pixels = real(self, key)
        if np.size(pixels):
            reads.append(key)
        return pixels

    monkeypatch.setattr(zarr.Array, "__getitem__", counted)
    return reads


def assert_on_layer(derived, source, factor: float = 1.0) -> None:
    """Assert that ``derived`` (a layer made from ``source`` at ``factor``: 4 for a x4 SR
    result, 1 for a map or overlay on its pixels) lies where ``source`` is now: its
    pixels' outer edges on ``source``'s, its scale ``source``'s / ``factor`` and the same
    units (last two axes)."""
    edges = np.array([[-0.5, -0.5], [7.5, 5.5]])  # a few source pixels' outer edges
    for corner in edges:
        np.testing.assert_allclose(
            np.asarray(derived.data_to_world((corner + 0.5) * factor - 0.5))[-2:],
            np.asarray(source.data_to_world(corner))[-2:], atol=1e-9,
            err_msg=f"{derived.name} is not on {source.name}")
    np.testing.assert_allclose(derived.scale[-2:], np.asarray(source.scale[-2:]) / factor)
    assert [str(u) for u in derived.units[-2:]] == [str(u) for u in source.units[-2:]]


def measured_scan(viewer, qtbot):
    """A boundary Labels layer "scan" (a 96 px microstructure) measured by a
    GrainSizeWidget (waited for); returns the layer and the widget."""
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    ms = generate_microstructure((96, 96), mean_grain_size_px=12, seed=0)
    scan = viewer.add_labels(ms.boundaries.astype(np.uint8), name="scan")
    g = GrainSizeWidget(viewer)
    qtbot.addWidget(g)
    g.layer_combo.value = scan
    g.run()
    qtbot.waitUntil(lambda: g.measurement is not None, timeout=30_000)
    return scan, g


def simple_tab_on_micrograph(viewer, qtbot):
    """A 128 px RGB microstructure "micrograph" (0.5 µm pixels recorded) chosen in the
    Simple tab of a new GrainSizeWidget (not run); returns the microstructure, the
    layer, the widget and the tab."""
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    ms = generate_microstructure((128, 128), mean_grain_size_px=32, seed=5)
    layer = viewer.add_image(ms.image, name="micrograph", rgb=True,
                             metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    qtbot.addWidget(w)
    panel = w.simple
    panel.image_combo.value = layer
    return ms, layer, w, panel
