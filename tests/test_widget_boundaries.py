"""Boundaries (UAED) widget: probability/uncertainty layers and the live threshold."""

from __future__ import annotations

import numpy as np
import pytest
from _helpers import add_gigapixel_mosaic, configure

torch = pytest.importorskip("torch")

from napari_srmat.checkpoint import save_checkpoint  # noqa: E402
from napari_srmat.edges.evaluate import binarize as binarize_boundaries  # noqa: E402
from napari_srmat.edges.model import build_uaed, default_arch_config  # noqa: E402
from napari_srmat.widgets.boundaries_widget import BoundariesWidget  # noqa: E402
from napari_srmat.widgets.layers import add_boundary_layers, run_steps  # noqa: E402

pytestmark = pytest.mark.gui

THRESHOLD = 0.37
HEYN_THRESHOLD = 0.29
THRESHOLD_D4 = 0.41


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """An untrained tiny UAED checkpoint with a stored threshold (fast to run)."""
    torch.manual_seed(0)
    cfg = default_arch_config("tiny")
    net = build_uaed(cfg)
    path = tmp_path_factory.mktemp("ck") / "uaed_tiny"
    save_checkpoint(path, net.state_dict(), {
        **cfg, "threshold": THRESHOLD, "threshold_tta": "none", "threshold_none": THRESHOLD,
        "threshold_heyn": HEYN_THRESHOLD, "threshold_d4": THRESHOLD_D4})
    return path


def _image(shape=(96, 80)):
    rng = np.random.default_rng(0)
    img = rng.integers(60, 200, (*shape, 3)).astype(np.uint8)
    img[:, ::16] = 10
    img[::20] = 10
    return img


def _predicted(viewer, layer, qtbot, checkpoint) -> BoundariesWidget:
    """A widget that has predicted ``layer`` with the tiny checkpoint (64 px tiles)."""
    w = BoundariesWidget(viewer)
    qtbot.addWidget(w)
    configure(w, layer, checkpoint=str(checkpoint), device="cpu", tile=64, overlap=16)
    w.run()
    qtbot.waitUntil(lambda: w.layers is not None, timeout=60_000)
    return w


def test_widget_adds_probability_uncertainty_and_thresholded_layers(
    make_napari_viewer, qtbot, tiny_checkpoint
):
    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan", scale=(0.5, 0.5),
                             translate=(3.0, 4.0))
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    prob = viewer.layers["scan boundary probability"]
    unc = viewer.layers["scan uncertainty"]
    bnd = viewer.layers["scan boundaries"]
    for lay in (prob, unc, bnd):
        assert lay.data.shape == (96, 80)
        np.testing.assert_allclose(lay.scale, (0.5, 0.5))
        np.testing.assert_allclose(lay.translate, (3.0, 4.0))
    assert prob.colormap.name == "magma" and prob.blending == "additive"
    assert not unc.visible
    # colour bars with their own corners (ticks follow the contrast limits); a hidden
    # map's is made when it is shown (test_widget_boundaries_result_turns.py)
    assert prob.colorbar.visible and not unc.colorbar.visible
    assert w.layers.error is None  # the tiny checkpoint has no error model
    assert str(prob.colorbar.position) != str(unc.colorbar.position)
    assert tuple(prob.contrast_limits) == (0.0, 1.0)
    p = np.asarray(prob.data)
    assert p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1
    assert np.all(np.asarray(unc.data) > 0)
    # default threshold = the model's
    assert w.threshold == pytest.approx(THRESHOLD, abs=1e-3)
    expect = binarize_boundaries(p, THRESHOLD, skeletonize=True)
    np.testing.assert_array_equal(bnd.data > 0, np.asarray(expect, bool))

    # moving the slider re-thresholds the boundary layer live
    t = float(np.quantile(p, 0.8))
    w.slider.setValue(round(t * 1000))
    t = w.threshold
    assert w.threshold_pending  # computed in a worker thread, not on the GUI thread
    qtbot.waitUntil(lambda: not w.threshold_pending, timeout=10_000)
    expect = np.asarray(binarize_boundaries(p, t, skeletonize=True), bool)
    np.testing.assert_array_equal(bnd.data > 0, expect)
    assert bnd.metadata["threshold"] == pytest.approx(t)
    assert prob.metadata["threshold"] == pytest.approx(t)
    # skeletonize off gives the plain thresholded (thicker) mask
    w.skeletonize.setChecked(False)
    qtbot.waitUntil(lambda: not w.threshold_pending, timeout=10_000)
    np.testing.assert_array_equal(bnd.data > 0, p >= t)
    assert (bnd.data > 0).sum() >= expect.sum()
    # the preset buttons restore the checkpoint's thresholds
    w.skeletonize.setChecked(True)
    w.heyn_btn.click()
    assert w.threshold == pytest.approx(HEYN_THRESHOLD, abs=1e-3)
    qtbot.waitUntil(lambda: not w.threshold_pending, timeout=10_000)
    np.testing.assert_array_equal(
        bnd.data > 0, np.asarray(binarize_boundaries(p, w.threshold, skeletonize=True), bool))
    w.f1_btn.click()
    assert w.threshold == pytest.approx(THRESHOLD, abs=1e-3)
    qtbot.waitUntil(lambda: not w.threshold_pending, timeout=10_000)
    assert "Heyn-calibrated 0.290" in w.status.text()
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)

    # 8x test-time augmentation: another map, the threshold calibrated for it, and no
    # Heyn-calibrated preset (the checkpoint has one only for its own mode)
    w.tta.setCurrentText("8 flips/rotations (8x slower)")
    w.run()
    qtbot.waitUntil(lambda: w.maps is not None and w.maps.tta == "d4", timeout=60_000)
    assert w.threshold == pytest.approx(THRESHOLD_D4, abs=1e-3)
    assert not w.heyn_btn.isEnabled()
    assert not np.allclose(np.asarray(viewer.layers["scan boundary probability"].data), p)
    # the uncertainty layer, updated in place, shows the new map's range (it kept the first
    # run's colour range, and its colour bar those numbers)
    assert viewer.layers["scan uncertainty"] is unc
    assert unc.contrast_limits[1] == pytest.approx(float(np.nanmax(np.asarray(unc.data))))
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)


def test_scripted_boundaries_match_widget_defaults(make_napari_viewer, tiny_checkpoint):
    viewer = make_napari_viewer()
    layer = viewer.add_image(_image((64, 64)), rgb=True, name="s")
    out = add_boundary_layers(viewer, layer, checkpoint=tiny_checkpoint, device="cpu",
                              tile=64, overlap=16)
    assert out.probability.metadata["threshold"] == pytest.approx(THRESHOLD)
    assert out.boundaries.data.shape == (64, 64)
    # running again replaces the layers instead of piling up copies
    add_boundary_layers(viewer, layer, checkpoint=tiny_checkpoint, device="cpu", tile=64,
                        overlap=16, threshold=0.9)
    assert len([x for x in viewer.layers if x.name.startswith("s ")]) == 3
    assert viewer.layers["s boundaries"].metadata["threshold"] == pytest.approx(0.9)


def test_a_users_layer_of_the_same_name_is_never_overwritten(make_napari_viewer,
                                                             tiny_checkpoint):
    """A hand-drawn boundary map the user called "s boundaries" (the name the widget
    gives its own) keeps its pixels: the prediction adds its layer beside it, and a
    second run updates its own layer, not the user's."""
    viewer = make_napari_viewer()
    layer = viewer.add_image(_image((64, 64)), rgb=True, name="s")
    drawn = np.zeros((64, 64), np.uint8)
    drawn[10, :] = 1
    mine = viewer.add_labels(drawn.copy(), name="s boundaries")
    for threshold in (None, 0.9):
        out = add_boundary_layers(viewer, layer, checkpoint=tiny_checkpoint, device="cpu",
                                  tile=64, overlap=16, threshold=threshold)
        assert out.boundaries is not mine and mine in viewer.layers
        np.testing.assert_array_equal(mine.data, drawn)
    assert out.boundaries.metadata["threshold"] == pytest.approx(0.9)
    assert len([x for x in viewer.layers if x.name.startswith("s boundaries")]) == 2


def test_slider_storm_keeps_the_gui_thread_free_and_shows_the_last_threshold(
    make_napari_viewer, qtbot, tiny_checkpoint
):
    """Many slider moves: each is handled without thresholding on the GUI thread, and
    the layer ends at the last value (stale results from earlier moves are dropped)."""
    import time

    import napari_srmat.widgets.boundaries_widget as bw

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    p = np.asarray(viewer.layers["scan boundary probability"].data)
    main_thread_calls = []
    real = bw.threshold_boundaries

    def spy(*a, **k):
        import threading

        if threading.current_thread() is threading.main_thread():
            main_thread_calls.append(1)
        time.sleep(0.05)  # a slow skeletonization
        return real(*a, **k)

    bw.threshold_boundaries = spy
    try:
        for q in np.linspace(0.5, 0.9, 12):
            w.slider.setValue(round(float(np.quantile(p, q)) * 1000))
        qtbot.waitUntil(lambda: not w.threshold_pending, timeout=20_000)
    finally:
        bw.threshold_boundaries = real
    assert not main_thread_calls
    t = w.threshold
    bnd = viewer.layers["scan boundaries"]
    assert bnd.metadata["threshold"] == pytest.approx(t)
    np.testing.assert_array_equal(
        bnd.data > 0, np.asarray(binarize_boundaries(p, t, skeletonize=True), bool))
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)


def test_big_input_refused_or_asked_before_starting(make_napari_viewer, monkeypatch):
    from napari_srmat import estimates
    from napari_srmat.widgets._common import WidgetInputError

    viewer = make_napari_viewer()
    w = BoundariesWidget(viewer)
    configure(w, add_gigapixel_mosaic(viewer), device="cpu",
              tta="8 flips/rotations (8x slower)")  # long on any CPU (<= 16 cores)
    asked = []
    w.ask = lambda title, text: asked.append(text) or False
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 2 * 2**30)
    # the command it names must be one srmat takes (it said `IMAGE OUT`: --out is required)
    with pytest.raises(WidgetInputError, match="srmat edges predict IMAGE --out DIR"):
        w.run()
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 64 * 2**30)
    assert w.run() is None  # asked, answered No
    assert len(asked) == 1 and "boundary prediction" in asked[0]
    assert w.worker is None


def test_shipped_model_starts_at_its_per_image_operating_point(make_napari_viewer, qtbot):
    from napari_srmat.edges import load_boundary_model

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = BoundariesWidget(viewer)
    w.layer_combo.value = layer
    w.device.setCurrentText("cpu")
    w.run()
    qtbot.waitUntil(lambda: w.layers is not None and w.run_btn.isEnabled(), timeout=60_000)
    model = load_boundary_model(device="cpu")
    assert model.threshold_rule != "global"  # the shipped default: a threshold per image
    p = np.asarray(w.maps.prob)
    t = model.image_threshold(p)
    assert w.maps.threshold == pytest.approx(t) and w.threshold == pytest.approx(t, abs=1e-3)
    assert w.maps.f1_threshold == pytest.approx(model.threshold)
    np.testing.assert_array_equal(w.layers.boundaries.data > 0,
                                  np.asarray(binarize_boundaries(p, t, skeletonize=True), bool))
    assert f"operating point {model.threshold_rule}" in w.status.text()
    # the error-probability layer: where the binarised map is likely wrong, at its threshold
    from napari_srmat.edges.uncertainty import error_probability

    err = viewer.layers["scan error probability"]
    # its colour bar made when it is shown (test_widget_boundaries_result_turns.py)
    assert w.layers.error is err and not err.visible and not err.colorbar.visible
    np.testing.assert_allclose(err.data, error_probability(p, model.error_model, threshold=t),
                               atol=1e-6)
    w.f1_btn.click()
    assert w.threshold == pytest.approx(model.threshold, abs=1e-3)
    qtbot.waitUntil(lambda: not w.threshold_pending, timeout=10_000)
    # hidden, it keeps its threshold (not recomputed per slider move); shown, it follows
    assert err.metadata["threshold"] == pytest.approx(t)
    shown = w.layers.boundaries.metadata["threshold"]
    err.visible = True
    assert err.colorbar.visible
    qtbot.waitUntil(lambda: err.metadata["threshold"] == shown, timeout=10_000)
    np.testing.assert_allclose(
        err.data, error_probability(p, model.error_model, threshold=shown), atol=1e-6)
    assert not np.allclose(err.data, error_probability(p, model.error_model, threshold=t))


@pytest.mark.parametrize("shape", [(3, 64, 64), (64, 64, 2)])
def test_a_stack_is_refused_not_read_as_channels(make_napari_viewer, qtbot, shape):
    """A non-RGB 3-D layer (a z/time stack, or grey + alpha that napari shows as a
    2-plane stack) was read as an (H, W, C) image: the prediction failed with 'expected
    1 to 4 channels, got 64'. Now refused before any job, naming the shape."""
    from napari_srmat.widgets._common import WidgetInputError

    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros(shape, np.uint8), name="stack")
    w = BoundariesWidget(viewer)
    qtbot.addWidget(w)
    w.layer_combo.value = layer
    with pytest.raises(WidgetInputError, match=rf"layer 'stack' has shape \({shape[0]}, "
                                               r".*not one 2-D micrograph"):
        w.run()
    assert w.worker is None


@pytest.mark.parametrize("gone", ["boundaries", "cleared"])
def test_slider_never_brings_back_a_deleted_layer(make_napari_viewer, qtbot,
                                                  tiny_checkpoint, gone):
    """After the user deleted '<layer> boundaries' (or cleared the layer list, the
    probability map with it), moving the threshold slider added the boundaries layer
    back by itself. A deleted layer comes back with a new Run only; the slider says so
    in one line."""
    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)
    if gone == "cleared":
        viewer.layers.clear()
    else:
        viewer.layers.remove("scan boundaries")
    names = [lay.name for lay in viewer.layers]
    w.slider.setValue(600)
    qtbot.waitUntil(lambda: not w.threshold_pending, timeout=10_000)
    assert [lay.name for lay in viewer.layers] == names
    assert w.status.text().startswith("threshold not applied: the ")
    assert "\n" not in w.status.text()
    # a new Run adds the layers again, and the slider drives them
    if gone == "cleared":
        layer = viewer.add_image(_image(), rgb=True, name="scan")
        w.layer_combo.value = layer
    w.run()
    qtbot.waitUntil(lambda: "scan boundaries" in viewer.layers, timeout=60_000)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)
    p = np.asarray(viewer.layers["scan boundary probability"].data)
    w.set_threshold(0.6)
    qtbot.waitUntil(lambda: not w.threshold_pending, timeout=10_000)
    expect = np.asarray(binarize_boundaries(p, 0.6, skeletonize=True), bool)
    np.testing.assert_array_equal(viewer.layers["scan boundaries"].data > 0, expect)


def test_slider_leaves_a_renamed_boundaries_layer_alone(make_napari_viewer, qtbot,
                                                        tiny_checkpoint, monkeypatch):
    """A '<layer> boundaries' layer the user renamed ("run 1", to keep it) is theirs, as
    for the other result layers: the slider kept writing its masks into it, also one
    thresholded while the layer was renamed."""
    import threading

    import napari_srmat.widgets.boundaries_widget as bw

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)
    kept = viewer.layers["scan boundaries"]
    before = np.array(kept.data)
    gate = threading.Event()
    real = bw.threshold_boundaries
    monkeypatch.setattr(bw, "threshold_boundaries",
                        lambda *a, **k: gate.wait(10) and real(*a, **k))
    late = w.set_threshold(0.6)  # on its way (held) when the user renames the layer
    kept.name = "run 1"
    meta = dict(kept.metadata)
    with qtbot.waitSignal(late.finished, timeout=10_000):
        gate.set()
    assert not w.threshold_pending
    assert w.set_threshold(0.7) is None  # later moves start nothing
    np.testing.assert_array_equal(kept.data, before)
    assert kept.metadata == meta
    assert "scan boundaries" not in viewer.layers
    assert "'scan boundaries' was removed or renamed" in w.status.text()


def test_a_0_255_float_layer_is_offered_divided_by_255(make_napari_viewer, qtbot,
                                                       tiny_checkpoint):
    """As in the Simple grain-size tab: a float layer in 0..255 is not refused outright;
    No starts nothing, Yes predicts exactly the maps of the 8-bit image."""
    viewer = make_napari_viewer()
    image = _image((64, 64))
    eight_bit = viewer.add_image(image, rgb=True, name="u8")
    floats = viewer.add_image(image.astype(np.float64), rgb=True, name="f")
    asked = []
    w = BoundariesWidget(viewer)
    qtbot.addWidget(w)
    configure(w, floats, checkpoint=str(tiny_checkpoint), device="cpu", tile=64, overlap=16)
    w.ask = lambda title, text: asked.append(text) or False
    assert w.run() is None and w.worker is None
    assert len(asked) == 1 and "divided by 255" in asked[0]
    assert w.status.text().startswith("not started")
    w.ask = lambda title, text: True
    w.run()
    qtbot.waitUntil(lambda: w.layers is not None, timeout=60_000)
    from_floats = np.asarray(w.maps.prob)
    reference = _predicted(viewer, eight_bit, qtbot, tiny_checkpoint)
    np.testing.assert_allclose(from_floats, np.asarray(reference.maps.prob), atol=1e-6)


def test_a_slider_mask_of_the_previous_prediction_is_not_shown_over_a_new_one(
        make_napari_viewer, qtbot, tiny_checkpoint, monkeypatch):
    """Moving the slider while a new prediction ran thresholded the previous maps in a
    worker; when the new prediction arrived first at that same threshold, the late mask
    of the previous image replaced the new boundaries. A mask is shown only over the maps
    it was made from."""
    import threading
    from dataclasses import replace

    import napari_srmat.widgets.boundaries_widget as bw

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)
    gate = threading.Event()
    real = bw.threshold_boundaries
    monkeypatch.setattr(bw, "threshold_boundaries",
                        lambda *a, **k: gate.wait(10) and real(*a, **k))
    stale = w.set_threshold(0.6)  # thresholds the current maps in a worker (held)
    # meanwhile a new prediction (every pixel boundary) arrives, its operating point the
    # threshold asked for
    new = replace(w.maps, prob=np.ones_like(np.asarray(w.maps.prob)), threshold=0.6)
    fresh = np.ones(np.shape(new.prob), bool)
    run_steps(w._on_result((new, fresh, True, None)))  # its steps at once
    with qtbot.waitSignal(stale.finished, timeout=10_000):
        gate.set()  # the previous maps' mask is delivered now, late
    assert not w.threshold_pending
    np.testing.assert_array_equal(viewer.layers["scan boundaries"].data > 0, fresh)


def test_an_input_layer_deleted_while_predicting_gets_no_result(make_napari_viewer, qtbot,
                                                                tiny_checkpoint):
    """The probability, uncertainty and boundary layers were added over an image that no
    longer existed (the grain-size tabs already skipped this), and the status said done."""
    from napari_srmat.widgets.boundaries_widget import BoundariesWidget

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image((256, 256)), rgb=True, name="scan", scale=(0.5, 0.5))
    w = BoundariesWidget(viewer)
    qtbot.addWidget(w)
    configure(w, layer, checkpoint=str(tiny_checkpoint), device="cpu", tile=64, overlap=16)
    w.run()
    viewer.layers.remove(layer)
    qtbot.waitUntil(lambda: not w._job_on, timeout=60_000)  # the job's end (its steps run)
    assert len(viewer.layers) == 0 and w.layers is None
    assert not w.run_btn.isEnabled()  # no image layer left to predict on
    assert "'scan' was removed while the job ran" in w.status.text()


def test_an_enlarged_input_is_warned_in_the_status_a_native_one_is_not(
        make_napari_viewer, qtbot, tiny_checkpoint):
    """The widget runs the model at the layer's pixels: on an x4 enlarged micrograph (as
    an x4 SR layer) it said 'done' and nothing else, and a Heyn measurement of its
    boundaries read ℓ̄ far too short. The status now carries the scale check's warning
    (what to run instead), and every layer the input's scale check; the native
    micrograph gets none. The scripting helper keeps it alike."""
    from PIL import Image

    from napari_srmat.grainsize import check_native_scale
    from napari_srmat.synth import generate_microstructure

    native = generate_microstructure((192, 192), mean_grain_size_px=40, seed=0).image
    up = np.asarray(Image.fromarray(native[:64, :64]).resize((256, 256), Image.BICUBIC))
    viewer = make_napari_viewer()
    for name, image in (("native", native), ("up", up)):
        layer = viewer.add_image(image, rgb=True, name=name)
        w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
        qtbot.waitUntil(lambda w=w: w.run_btn.isEnabled(), timeout=10_000)
        expected = check_native_scale(image)
        for role in ("boundary probability", "uncertainty", "boundaries"):
            assert viewer.layers[f"{name} {role}"].metadata["native_scale"] == \
                expected.to_dict()
        if name == "native":
            assert expected.warning is None and "warning" not in w.status.text()
        else:
            assert expected.warning.startswith("grains look ~")
            assert w.status.text().startswith("done: TTA ") and w.status.text().endswith(
                f"; warning: {expected.warning}")
    scripted = add_boundary_layers(viewer, viewer.layers["up"], checkpoint=tiny_checkpoint,
                                   device="cpu", tile=64, overlap=16)
    assert scripted.boundaries.metadata["native_scale"]["warning"] == expected.warning


def test_a_rerun_after_a_stop_ends_with_the_done_line_of_every_widget(
        make_napari_viewer, qtbot, tiny_checkpoint, monkeypatch):
    """Stopped, then run again: the Boundaries widget predicts in memory (no output store),
    so the rerun computes every tile again (no ``Progress.resumed``) and its end line says
    no resume. It ended ``done (TTA none; max-F1 threshold 0.370, ...)``, where the SR and
    Train widgets say ``done: <result>`` and ``done (resumed: ...): <result>``; it is the
    one done line of every widget now (``ProgressForwarder.done_line``), which would carry
    a resume the job told."""
    import napari_srmat.widgets.boundaries_widget as bw
    from napari_srmat.jobs import Progress

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image((256, 256)), rgb=True, name="scan")
    w = BoundariesWidget(viewer)
    qtbot.addWidget(w)
    configure(w, layer, checkpoint=str(tiny_checkpoint), device="cpu", tile=64, overlap=16)
    real = bw.boundaries_job
    tiles: list[Progress] = []

    def job(image, *, stop, **kwargs):  # the real job; the first run stopped after a tile
        gen = real(image, stop=stop, **kwargs)
        try:
            event = next(gen)
            while True:
                if isinstance(event, Progress) and event.stage == "tiles":
                    tiles.append(event)
                    if first_run and event.done:
                        stop.request_stop()
                event = gen.send((yield event))
        except StopIteration as end:
            return end.value

    first_run = True
    monkeypatch.setattr(bw, "boundaries_job", job)
    w.run()
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=60_000)
    assert w.status.text() == "stopped" and w.layers is None
    assert tiles and tiles[-1].done < tiles[-1].total
    first_run = False
    tiles.clear()
    w.run()
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=60_000)
    assert w.layers is not None and tiles[-1].done == tiles[-1].total
    assert not any(t.resumed for t in tiles)  # computed again: nothing to tell
    assert w.status.text().startswith(f"done: TTA none; max-F1 threshold {THRESHOLD:.3f}")
    assert "resumed" not in w.status.text()


def test_boundary_maps_stay_on_their_image_when_it_is_placed_by_hand(make_napari_viewer):
    """The image's ``scale`` or ``translate`` set by hand (not Calibration) left its
    boundary probability, uncertainty, boundaries and error maps at the old place: at
    1 -> 0.5 µm/px they covered twice the image. They now keep its place, snap back when
    one is moved alone, and are free once the image is gone."""
    from _helpers import assert_on_layer

    from napari_srmat.widgets.layers import BoundaryMaps, add_boundary_result

    viewer = make_napari_viewer()
    image = viewer.add_image(_image(), name="scan")
    zeros = np.zeros(image.data.shape[:2], np.float32)
    maps = add_boundary_result(viewer, image, BoundaryMaps(prob=zeros, uncertainty=zeros,
                                                           threshold=0.5))
    made = [maps.probability, maps.uncertainty, maps.boundaries]
    image.scale, image.units = (0.5, 0.5), ("micrometer", "micrometer")  # by hand
    image.translate = (3.0, -2.0)
    for lay in made:
        assert_on_layer(lay, image)
    maps.uncertainty.scale = (2.0, 2.0)  # moved alone: back on the image
    assert_on_layer(maps.uncertainty, image)
    # a second run writes into the same layers: still on the image, linked once
    again = add_boundary_result(viewer, image, BoundaryMaps(prob=zeros, uncertainty=zeros,
                                                            threshold=0.5))
    assert again.probability is maps.probability
    image.scale = (0.25, 0.25)
    for lay in made:
        assert_on_layer(lay, image)
    viewer.layers.remove(image)
    maps.boundaries.scale = (1.0, 1.0)
    np.testing.assert_allclose(maps.boundaries.scale, (1.0, 1.0))


def test_maps_the_slider_thresholded_are_freed_after_a_new_prediction(
        make_napari_viewer, qtbot, tiny_checkpoint):
    """Each slider move thresholds the maps in a napari worker, and napari keeps every
    worker it made for the viewer's session, with the arguments it was given: the
    probability and uncertainty maps of every earlier prediction the slider had touched
    lived for the session (two float32 images each). A threshold worker holds its maps
    only while it runs now (``start_function``)."""
    import gc
    import weakref
    from dataclasses import replace

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)
    old = weakref.ref(w.maps)
    w.set_threshold(0.6)
    qtbot.waitUntil(lambda: not w.threshold_pending, timeout=10_000)
    new = replace(w.maps, prob=np.ones_like(np.asarray(w.maps.prob)), threshold=0.6)
    # its steps at once
    run_steps(w._on_result((new, np.ones(np.shape(new.prob), bool), True, None)))
    del new
    for _ in range(3):
        qtbot.wait(10)
        gc.collect()
    assert old() is None


def test_a_result_written_again_keeps_its_layers_links(make_napari_viewer, monkeypatch):
    """The Boundaries widget's result written into the same layers again keeps each
    layer's link to the input (keep_on_layer) instead of disconnecting and connecting its
    handlers anew (napari looks each up among the layer's listeners: ~8 ms of the slot
    for three layers); the layers still follow the input's calibration, and a result on
    another input links them to it."""
    from napari_srmat.widgets import layers as layers_mod

    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    img = viewer.add_image(rng.random((32, 32)).astype(np.float32), name="img",
                           scale=(0.5, 0.5))
    maps = layers_mod.BoundaryMaps(prob=rng.random((32, 32)).astype(np.float32),
                                   uncertainty=np.zeros((32, 32), np.float32),
                                   threshold=0.5)
    first = layers_mod.add_boundary_result(viewer, img, maps)
    relinked: list[object] = []
    real = layers_mod.follow_calibration

    def counted(layer, callback, on, *args, **kwargs):
        relinked.append((layer.name, on))
        return real(layer, callback, on, *args, **kwargs)

    monkeypatch.setattr(layers_mod, "follow_calibration", counted)
    again = layers_mod.add_boundary_result(viewer, img, maps)
    assert again.probability is first.probability
    assert relinked == []
    img.scale = (0.25, 0.25)
    for made in (again.probability, again.uncertainty, again.boundaries):
        np.testing.assert_allclose(made.scale, (0.25, 0.25))
        assert layers_mod.kept_on(viewer, made) == (img, 1.0)
    other = viewer.add_image(rng.random((32, 32)).astype(np.float32), name="other",
                             scale=(2.0, 2.0))
    moved = layers_mod.add_boundary_result(viewer, other, maps)
    assert relinked  # a new input: new links
    np.testing.assert_allclose(moved.probability.scale, (2.0, 2.0))
    assert layers_mod.kept_on(viewer, moved.probability) == (other, 1.0)


def test_the_uncertainty_layer_is_added_without_reading_the_map(make_napari_viewer):
    """add_boundary_result (the Boundaries widget's result slot, on the GUI thread) set
    the uncertainty layer's contrast limit to ``np.nanmax`` of the map: a pass over the
    whole map there (a dask map was computed twice: its size, then its max; 80 ms for a
    numpy map of 16384² px, one-off). The limits are now measured where the map is made
    (:func:`boundaries_job`: ``BoundaryMaps.uncertainty_limits``, in the worker), and
    the slot reads no pixel of it (the layer starts hidden: napari does not either).
    Failed before: the map's blocks were computed in the slot."""
    da = pytest.importorskip("dask.array")
    from napari_srmat.widgets.layers import (
        UNKNOWN_UNCERTAINTY_LIMITS,
        BoundaryMaps,
        add_boundary_result,
        uncertainty_contrast_limits,
    )

    viewer = make_napari_viewer()
    image = viewer.add_image(_image(), name="scan")
    shape = image.data.shape[:2]
    values = np.linspace(0.0, 2.5, shape[0] * shape[1], dtype=np.float32).reshape(shape)
    values[0, 0] = np.nan
    computed: list[tuple[int, ...]] = []

    def counted(block):
        computed.append(block.shape)
        return block

    unc = da.from_array(values, chunks=32).map_blocks(counted, dtype=np.float32)
    zeros = np.zeros(shape, np.float32)
    limits = uncertainty_contrast_limits(unc)  # where the map is made: one pass
    assert limits == (0.0, pytest.approx(2.5))
    computed.clear()
    layers = add_boundary_result(viewer, image, BoundaryMaps(
        prob=zeros, uncertainty=unc, threshold=0.5, uncertainty_limits=limits),
        boundaries=np.zeros(shape, np.uint8))
    assert computed == []
    np.testing.assert_allclose(layers.uncertainty.contrast_limits, limits)
    # maps made without boundaries_job: the default limits, the map still not read
    again = add_boundary_result(viewer, image, BoundaryMaps(
        prob=zeros, uncertainty=unc, threshold=0.5), boundaries=np.zeros(shape, np.uint8))
    assert computed == []
    assert tuple(again.uncertainty.contrast_limits) == UNKNOWN_UNCERTAINTY_LIMITS


def test_the_widget_s_threshold_of_a_map_is_map_threshold(tmp_path, monkeypatch):
    """The Boundaries job gave its map the threshold rule's value of the whole map
    (``model.image_threshold``), where ``srmat edges predict`` and the error map take
    ``BoundaryModel.map_threshold`` (an evenly strided sample of a map above
    ``THRESHOLD_SAMPLE_PIXELS``, 16 MP): on such a map the widget's threshold was not the
    command's. Here the limit is 1024 px (a 64 x 64 map sampled every 2nd pixel) and the
    map's odd rows are boundary: the sample's Otsu threshold is far from the whole map's;
    the job's is the sample's now."""
    from napari_srmat import edges
    from napari_srmat.edges import infer, load_boundary_model
    from napari_srmat.jobs import run_job
    from napari_srmat.widgets.layers import boundaries_job

    torch.manual_seed(0)
    cfg = default_arch_config("tiny")
    path = tmp_path / "uaed_otsu"
    save_checkpoint(path, build_uaed(cfg).state_dict(), {
        **cfg, "threshold": THRESHOLD, "threshold_tta": "none", "threshold_none": THRESHOLD,
        "threshold_rules": {"none": {"otsu_scaled": {"c": 1.0}}}})
    rng = np.random.default_rng(0)
    prob = rng.uniform(0.0, 0.3, (64, 64)).astype(np.float32)
    prob[1::2] = rng.uniform(0.7, 1.0, (32, 64))  # rows the 2-pixel sample never sees

    def predicted(image, model, **kwargs):
        yield from ()
        return prob, np.zeros_like(prob)

    monkeypatch.setattr(edges, "predict_boundaries_job", predicted)
    monkeypatch.setattr(infer, "THRESHOLD_SAMPLE_PIXELS", 1024)
    maps = run_job(boundaries_job(_image((64, 64)), checkpoint=path, device="cpu"),
                   quiet=True)
    model = load_boundary_model(path, device="cpu")
    assert model.threshold_rule == maps.threshold_rule == "otsu_scaled"
    assert maps.threshold == model.map_threshold(prob)
    assert abs(model.image_threshold(prob) - maps.threshold) > 0.1


def test_a_checkpoint_typed_with_tilde_is_read_from_the_home_folder(
        make_napari_viewer, qtbot, tiny_checkpoint, tmp_path, monkeypatch):
    """Every path field reads ``~`` as home (``_paths.typed_path``); the Checkpoint field
    was only stripped, so ``~/models/uaed_tiny`` named no folder and the run failed."""
    import shutil

    shutil.copytree(tiny_checkpoint, tmp_path / "models" / "uaed_tiny")
    monkeypatch.setenv("HOME", str(tmp_path))
    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = BoundariesWidget(viewer)
    qtbot.addWidget(w)
    configure(w, layer, checkpoint="  ~/models/uaed_tiny ", device="cpu", tile=64, overlap=16)
    w.run()
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=60_000)
    assert w.layers is not None
    assert w.status.text().startswith(f"done: TTA none; max-F1 threshold {THRESHOLD:.3f}")


def test_a_slider_drag_computes_the_latest_threshold_not_every_tick(
        make_napari_viewer, qtbot, tiny_checkpoint, monkeypatch):
    """Each slider tick started its own worker and every stale request was thresholded
    in full (a 40-tick drag over a 2000² map showed its last threshold 146 s later). One
    worker runs at a time and only the latest request waits: 30 ticks while one runs
    cost 2 thresholdings, and the layer ends at the last threshold (failed before: 31)."""
    import threading

    import napari_srmat.widgets.boundaries_widget as bw

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)
    gate = threading.Event()
    calls = []
    real = bw._thresholded

    def counted(*args):
        calls.append(args[1])
        gate.wait(10)
        return real(*args)

    monkeypatch.setattr(bw, "_thresholded", counted)
    for value in range(400, 700, 10):  # a drag: 30 ticks while the first one runs
        w.slider.setValue(value)
    gate.set()
    qtbot.waitUntil(lambda: not w.threshold_pending, timeout=10_000)
    qtbot.waitUntil(lambda: w._thresholding is None, timeout=10_000)
    assert calls == [0.4, 0.69]
    p = np.asarray(w.maps.prob)
    bnd = viewer.layers["scan boundaries"]
    assert bnd.metadata["threshold"] == 0.69
    np.testing.assert_array_equal(
        bnd.data > 0, np.asarray(binarize_boundaries(p, 0.69, skeletonize=True), bool))


def test_a_hidden_error_map_is_computed_when_shown(make_napari_viewer, qtbot,
                                                   tiny_checkpoint):
    """The slider recomputed the error-probability map (0.75-1.8 s of CPU on a 2000²
    map) at every move although its layer is hidden by default. It is computed when the
    layer is shown, at the threshold the boundaries show (failed before: computed at
    the move)."""
    calls = []

    def counted(maps, threshold):
        calls.append(threshold)
        return np.full(np.shape(maps.prob), threshold, np.float32)

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)
    _with_error_map(w, counted)
    shape = np.shape(w.maps.prob)
    error = viewer.layers["scan error probability"]
    assert not error.visible
    w.set_threshold(0.6)
    qtbot.waitUntil(lambda: not w.threshold_pending, timeout=10_000)
    qtbot.waitUntil(lambda: w._thresholding is None, timeout=10_000)
    assert calls == []
    assert viewer.layers["scan boundaries"].metadata["threshold"] == 0.6
    error.visible = True
    qtbot.waitUntil(lambda: error.metadata.get("threshold") == 0.6, timeout=10_000)
    assert calls == [0.6]
    np.testing.assert_array_equal(np.asarray(error.data), np.full(shape, 0.6, np.float32))
    w.set_threshold(0.7)  # shown: computed with the boundaries
    qtbot.waitUntil(lambda: error.metadata.get("threshold") == 0.7, timeout=10_000)
    assert calls == [0.6, 0.7]


def _with_error_map(w, error_map):
    """``w``'s maps again, with ``error_map`` as their error map (an error model named)."""
    from dataclasses import dataclass, fields

    from napari_srmat.widgets.layers import BoundaryMaps

    @dataclass
    class Maps(BoundaryMaps):
        def error_map(self, threshold):
            return error_map(self, threshold)

    maps = Maps(**{f.name: getattr(w.maps, f.name) for f in fields(w.maps)})
    maps.error_model = {"params": "stand-in"}
    shape = np.shape(maps.prob)
    # its steps at once
    run_steps(w._on_result((maps, np.zeros(shape, bool), True, np.zeros(shape, np.float32))))


def test_a_failing_thresholding_is_told_once_not_retried(make_napari_viewer, qtbot,
                                                          tiny_checkpoint):
    """A threshold worker that raised left its request pending and its end started it
    again, without end (R7: 1054 error-map calls in 3 s, a napari error each). The failed
    request is dropped: one call, one error, the status names the threshold; a new move
    tries again (failed before: the worker never ended)."""
    calls = []

    def failing(maps, threshold):
        calls.append(threshold)
        raise ValueError("no error map here")

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)
    _with_error_map(w, failing)
    viewer.layers["scan error probability"].visible = True  # computed only when shown
    bnd = viewer.layers["scan boundaries"]
    before = bnd.metadata["threshold"]
    with qtbot.captureExceptions() as caught:
        w.set_threshold(0.6)
        qtbot.waitUntil(lambda: w._thresholding is None, timeout=10_000)
    assert calls == [0.6]
    assert [raised for raised, *_ in caught] == [ValueError]
    assert not w.threshold_pending
    assert bnd.metadata["threshold"] == before
    assert w.status.text() == "threshold 0.600 failed: no error map here"
    with qtbot.captureExceptions() as caught:
        w.set_threshold(0.7)
        qtbot.waitUntil(lambda: w._thresholding is None, timeout=10_000)
    assert calls == [0.6, 0.7] and len(caught) == 1


def _gated(monkeypatch):
    """``_thresholded`` held until the returned event is set; the thresholds it got."""
    import threading

    import napari_srmat.widgets.boundaries_widget as bw

    gate, calls, real = threading.Event(), [], bw._thresholded

    def held(*args):
        calls.append(args[1])
        assert gate.wait(10)
        return real(*args)

    monkeypatch.setattr(bw, "_thresholded", held)
    return gate, calls


def test_a_quit_threshold_worker_leaves_the_slider_working(
        make_napari_viewer, qtbot, tiny_checkpoint, monkeypatch):
    """A quit threshold worker (napari quits them) sends neither returned nor errored:
    the widget waited for it for ever and the slider was dead, a new Run did not help.
    Its end is heard: its request is dropped and told, the next move is shown (failed
    before: the quit worker stayed the running one)."""
    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)
    gate, calls = _gated(monkeypatch)
    worker = w.set_threshold(0.6)
    worker.quit()
    gate.set()
    qtbot.waitUntil(lambda: w._thresholding is None, timeout=10_000)
    assert not w.threshold_pending
    assert w.status.text() == "threshold 0.600 not applied: its worker was stopped"
    w.set_threshold(0.7)
    qtbot.waitUntil(lambda: not w.threshold_pending, timeout=10_000)
    assert calls == [0.6, 0.7]
    assert viewer.layers["scan boundaries"].metadata["threshold"] == 0.7


def test_a_request_waiting_when_the_boundaries_layer_goes_is_dropped(
        make_napari_viewer, qtbot, tiny_checkpoint, monkeypatch):
    """A request waiting for the running thresholding when the boundaries layer was
    removed stayed pending for ever (``threshold_pending`` True, nothing to show it in).
    It is dropped, and the status says why (failed before: still pending)."""
    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)
    gate, calls = _gated(monkeypatch)
    w.set_threshold(0.6)
    w.set_threshold(0.7)  # waits
    viewer.layers.remove("scan boundaries")
    gate.set()
    qtbot.waitUntil(lambda: w._thresholding is None, timeout=10_000)
    assert calls == [0.6]
    assert not w.threshold_pending
    assert "'scan boundaries' was removed or renamed" in w.status.text()


def test_closing_the_dock_quits_the_thresholding(make_napari_viewer, qtbot,
                                                 tiny_checkpoint, monkeypatch):
    """Closing the dock left the slider's worker running and its waiting request was
    started at its end (R7: a failing one went on after the close). The close quits and
    forgets it: no further thresholding, no layer changed (failed before: the worker
    was still the widget's after the close)."""
    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = _predicted(viewer, layer, qtbot, tiny_checkpoint)
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=10_000)
    bnd = viewer.layers["scan boundaries"]
    before = bnd.metadata["threshold"]
    gate, calls = _gated(monkeypatch)
    worker = w.set_threshold(0.6)
    w.set_threshold(0.7)  # waits
    w.close()
    assert w._thresholding is None
    gate.set()
    qtbot.waitUntil(lambda: not worker.is_running, timeout=10_000)
    qtbot.wait(100)  # its end's events
    assert calls == [0.6]
    assert bnd.metadata["threshold"] == before


def test_a_worker_quit_after_its_dock_was_deleted_tells_nothing(
        make_napari_viewer, qtbot, tiny_checkpoint, monkeypatch):
    """A closed viewer deletes its docks without closing them and quits its workers: the
    end of a thresholding quit so is heard now, and must not write into the deleted
    widget (failed before this guard: RuntimeError, wrapped C/C++ object deleted)."""
    from qtpy.QtCore import QEvent
    from qtpy.QtWidgets import QApplication, QWidget

    from napari_srmat.widgets._worker import qt_alive

    viewer = make_napari_viewer()
    layer = viewer.add_image(_image(), rgb=True, name="scan")
    w = BoundariesWidget(viewer)  # not qtbot's: it closes its widgets at the end
    configure(w, layer, checkpoint=str(tiny_checkpoint), device="cpu", tile=64, overlap=16)
    w.run()
    qtbot.waitUntil(lambda: w.layers is not None and w.run_btn.isEnabled(), timeout=60_000)
    gate, calls = _gated(monkeypatch)
    worker = w.set_threshold(0.6)
    parent = QWidget()
    w.setParent(parent)  # docked
    parent.deleteLater()  # the widget goes with it (no shut_down)
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not qt_alive(w)
    with qtbot.captureExceptions() as caught:
        worker.quit()
        gate.set()
        qtbot.waitUntil(lambda: not worker.is_running, timeout=10_000)
        qtbot.wait(100)  # its end's events
    assert calls == [0.6] and caught == []
