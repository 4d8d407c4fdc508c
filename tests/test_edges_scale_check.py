"""The boundary model run at an image's own pixels says when its grains are of a size it
is not reliable at (``srmat edges predict``, ``predict_boundaries``; the rule of
:class:`napari_srmat.grainsize.NativeScale`, the whole measurement's).

Until then a x4 SR output went through ``srmat edges predict`` and Heyn without a word:
on the synthetic sample micrograph (true ℓ̄ 26.8 px) 14.5 input px; on a tbm/val region (29.0 px)
9.6 px; on its x4 reduced copy 118 px.
"""

from __future__ import annotations

import json
import threading
import warnings

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")

from napari_srmat.cli import main  # noqa: E402
from napari_srmat.edges.infer import (  # noqa: E402
    NATIVE_SCALE_KEY,
    load_boundary_model,
    predict_boundaries,
    predict_boundaries_job,
)
from napari_srmat.grainsize import (  # noqa: E402
    COARSE_INPUT_INTERCEPT_PX,
    RELIABLE_INTERCEPT_PX,
    check_native_scale,
    choose_inference_scale,
    is_scale_warning,
)
from napari_srmat.jobs import Stopped, StopToken, run_job  # noqa: E402
from napari_srmat.outputs import read_marker  # noqa: E402
from napari_srmat.synth import generate_microstructure  # noqa: E402


def _resized(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` resized by ``factor`` (PIL bicubic, antialiased when reducing)."""
    h, w = image.shape[:2]
    size = (round(w * factor), round(h * factor))
    return np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))


@pytest.fixture(scope="module")
def native() -> np.ndarray:
    """A synthetic micrograph whose grains the model is reliable at (true ℓ̄ 32.7 px)."""
    return generate_microstructure((192, 192), mean_grain_size_px=40, seed=0).image


def test_edges_predict_warns_on_an_enlarged_and_a_coarse_image_not_a_native_one(
        tmp_path, capsys, native):
    """`srmat edges predict` of the x4 enlarged copy (as an x4 SR output) and of the x4
    reduced copy warns in one line on stderr and in --json's warnings, with what to do
    (srmat grain-size; super-resolve first), and records the estimate in the JSON and
    the folder's marker; the native image gets no warning. The maps are those of the
    model without the check."""
    runs = {}
    for name, image in (("native", native), ("up4", _resized(native, 4)),
                        ("down4", _resized(native, 0.25))):
        Image.fromarray(image).save(tmp_path / f"{name}.png")
        argv = ["edges", "predict", str(tmp_path / f"{name}.png"), "--out",
                str(tmp_path / name), "--device", "cpu", "--json"]
        assert main(argv) == 0
        runs[name] = rep = json.loads(capsys.readouterr().out)
        marker = read_marker(tmp_path / name)[NATIVE_SCALE_KEY]
        assert marker["estimated_intercept_px"] == rep["estimated_intercept_px"]
        assert marker["suggested_inference_scale"] == rep["suggested_inference_scale"] \
            == choose_inference_scale(rep["estimated_intercept_px"],
                                      sharpness=rep["estimated_sharpness"])
        assert [marker["warning"]] == rep["warnings"] or (
            marker["warning"] is None and rep["warnings"] == [])
    assert runs["native"]["warnings"] == []
    lo, hi = RELIABLE_INTERCEPT_PX
    assert lo <= runs["native"]["estimated_intercept_px"] <= hi
    [up] = runs["up4"]["warnings"]
    assert is_scale_warning(up) and "srmat grain-size" in up and "too short" in up
    assert runs["up4"]["suggested_inference_scale"] < 0.5
    [down] = runs["down4"]["warnings"]
    assert is_scale_warning(down) and "super-resolve first" in down
    assert runs["down4"]["estimated_intercept_px"] < COARSE_INPUT_INTERCEPT_PX
    # a rerun on the complete folder writes nothing and warns again
    assert main(["edges", "predict", str(tmp_path / "up4.png"), "--out",
                 str(tmp_path / "up4"), "--device", "cpu", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["nothing_to_do"] and again["warnings"] == [up]
    # the console prints it in one line (a new folder: the same warning)
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "napari_srmat", "edges", "predict",
                          str(tmp_path / "down4.png"), "--out", str(tmp_path / "d2"),
                          "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    told = [line for line in res.stderr.splitlines() if ": warning: " in line]
    assert told == [f"srmat edges predict: warning: {down}"]
    # what is computed does not change
    from napari_srmat.io import read_image

    model = load_boundary_model(device="cpu")
    expected = predict_boundaries(_resized(native, 0.25), model, scale_check=False)[0]
    np.testing.assert_array_equal(np.asarray(read_image(runs["down4"]["prob"]).data),
                                  expected)


def test_predict_boundaries_warns_and_the_whole_measurement_does_not_check_twice(
        monkeypatch, native):
    """The library issues the warning (a UserWarning: a notebook sees it); the whole
    measurement, which chose its own scale, runs the model without a second estimate."""
    import napari_srmat.grainsize as grainsize

    model = load_boundary_model(device="cpu")
    up = _resized(native[:96, :96], 4)
    with pytest.warns(UserWarning, match="^grains look ~.*srmat grain-size"):
        predict_boundaries(up, model)
    suggested = check_native_scale(up).suggested_inference_scale
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        predict_boundaries(native, model)  # no warning
    calls = []
    real = grainsize.check_native_scale
    monkeypatch.setattr(grainsize, "check_native_scale",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        res = grainsize.measure_grain_size(up, model=model, pixel_size_um=1.0)
    assert calls == [] and res.inference_scale == suggested < 1  # the scale it suggests


def test_a_stop_during_the_scale_estimate_writes_nothing(tmp_path, native):
    """A stop requested before the tiles: the job stops during the estimate, before the
    output folder's staging is created."""
    token = StopToken()
    token.request_stop()
    gen = predict_boundaries_job(native, load_boundary_model(device="cpu"),
                                 out=tmp_path / "out", stop=token)
    events = []
    assert run_job(gen, quiet=True, on_event=events.append) is None
    stops = [e for e in events if isinstance(e, Stopped)]
    assert len(stops) == 1 and "scale estimate" in stops[0].message
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_the_check_reads_central_windows_of_a_lazy_gigapixel_image(monkeypatch):
    """A 32768 x 32768 RGB image (3.2 GB) held lazily (dask): the check reads the
    central window, and with grains too large for it 2x2-averaged windows around the
    centre, never the whole image."""
    import dask.array as da

    import napari_srmat.grainsize as grainsize

    monkeypatch.setattr(grainsize, "ACF_WINDOW", 128)  # grains > window / 8: 3 levels
    tile = generate_microstructure((1024, 1024), mean_grain_size_px=48, seed=0).image
    read, lock = [], threading.Lock()

    def reading(block, block_info=None):
        with lock:
            read.append(block_info[0]["chunk-location"][:2])
        return block

    lazy = da.tile(da.from_array(tile, chunks=(512, 512, 3)), (32, 32, 1)).map_blocks(
        reading, dtype=np.uint8)
    assert lazy.shape == (32768, 32768, 3)
    scale = check_native_scale(lazy)
    assert scale.estimated_intercept_px is not None and scale.estimated_intercept_px > 16
    assert 0 < len(set(read)) <= 16  # of 4096 blocks
    centre = lazy.numblocks[0] // 2
    assert all(abs(y - centre) <= 2 and abs(x - centre) <= 2 for y, x in read)


def test_real_regions_as_they_are_enlarged_and_reduced(shared_data):
    """tbm/val regions as they are get no warning; their x4 bicubic SR (srmat sr run
    --model bicubic) and their x4 reduced copies all do (no model is run)."""
    from napari_srmat.io import read_image
    from napari_srmat.sr import super_resolve

    paths = sorted((shared_data / "tbm" / "val" / "images").glob("*.png"))
    assert paths
    for path in paths:
        region = np.asarray(read_image(path).data)[..., :3]
        assert check_native_scale(region).warning is None, path.name
        sr = super_resolve(region, model="bicubic", scale=4)  # float in [0, 1]
        warned = check_native_scale(sr).warning
        assert warned is not None and "srmat grain-size" in warned, path.name
        coarse = check_native_scale(_resized(region, 0.25)).warning
        assert coarse is not None and "super-resolve first" in coarse, path.name


@pytest.mark.parametrize("kind", ["zarr", "numpy"])
def test_the_check_of_a_zarr_or_numpy_image_reads_central_windows_only(monkeypatch, kind):
    """A zarr array (which ``predict_boundaries(out=)`` streams tile by tile) or a numpy
    image whose grains are large for the window: each level of the estimate reads only
    the central region it averages, lazily. The 2x2 block means were those of the whole
    image in float32 (dask inputs only were lazy): a zarr array was read whole into
    memory, a numpy one copied whole as float32 (4 bytes a pixel and channel)."""
    import tracemalloc

    import zarr

    import napari_srmat.grainsize as grainsize

    monkeypatch.setattr(grainsize, "ACF_WINDOW", 128)  # grains > window / 8: 3 levels
    tile = generate_microstructure((512, 512), mean_grain_size_px=48, seed=0).image
    image = np.tile(tile, (8, 8, 1))  # 4096 x 4096 RGB
    expected = check_native_scale(image).estimated_intercept_px
    if kind == "zarr":
        z = zarr.create_array(store=zarr.storage.MemoryStore(), shape=image.shape,
                              chunks=(256, 256, 3), dtype=image.dtype)
        z[:] = image

        class Counted:  # the zarr array, counting the pixels read from it
            def __init__(self, a):
                self.a, self.shape, self.dtype, self.ndim = a, a.shape, a.dtype, a.ndim
                self.chunks, self.read = a.chunks, 0

            def __getitem__(self, key):
                block = self.a[key]
                self.read += block.size
                return block

        counted = Counted(z)
        scale = check_native_scale(counted)
        assert counted.read < image.size / 8
    else:  # its peak memory: a float32 copy of it is 4 x image.size bytes
        tracemalloc.start()
        scale, (_, peak) = check_native_scale(image), tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < image.size
    assert scale.estimated_intercept_px == expected and expected > 16


def test_too_coarse_by_the_estimate_is_said_in_the_measurement_s_words(native):
    """One warning for one rule: an image whose estimate is below MIN_INPUT_INTERCEPT_PX
    gets the same line from the boundary maps' check as from the whole measurement (here
    measured at a threshold no pixel reaches: no intercepts, so the estimate is what it
    tells). They were two wordings of it ('too coarse for the boundary model and to
    measure' / 'too coarse to measure')."""
    from napari_srmat.grainsize import MIN_INPUT_INTERCEPT_PX, measure_grain_size

    coarse = _resized(native, 0.25)
    scale = check_native_scale(coarse)
    assert scale.estimated_intercept_px < MIN_INPUT_INTERCEPT_PX
    res = measure_grain_size(coarse, model=load_boundary_model(device="cpu"),
                             threshold=0.9999999, pixel_size_um=1.0)
    assert res.inference_intercept_px is None and res.probability.max() < 0.9999999
    assert scale.warning in res.warnings


def test_the_demo_stopped_in_its_boundary_step_returns_its_report(monkeypatch, tmp_path):
    """A stop requested while the demo loads the boundary model is seen by the scale
    estimate, and predict_boundaries_job returns None: the demo unpacked it as the maps
    (TypeError: cannot unpack non-iterable NoneType). It now stops with its report."""
    import napari_srmat.edges as edges
    from napari_srmat.studies.demo import run_demo_job

    token, real = StopToken(), edges.load_boundary_model

    def loading(*args, **kwargs):  # Stop clicked while the model loads
        model = real(*args, **kwargs)
        token.request_stop()
        return model

    monkeypatch.setattr(edges, "load_boundary_model", loading)
    events = []
    report = run_job(run_demo_job(tmp_path / "demo", steps=("boundaries",), device="cpu",
                                  stop=token), quiet=True, on_event=events.append)
    assert isinstance(report, dict) and "boundaries" not in report
    assert any(isinstance(e, Stopped) and "boundary prediction" in e.message
               for e in events)
    assert not (tmp_path / "demo" / "boundary_probability.png").exists()


def test_a_crop_of_a_few_grains_is_not_judged(shared_data):
    """A small central crop of the x4 bicubic SR of a tbm/val region (grains ~100 px)
    was misjudged: at 64 px its estimate read 20 px (no warning, and the measurement
    up-sampled it x1.29 more), at 48 px 14 px ("super-resolve first" of an image that is
    super-resolved already). Such a crop holds fewer than MIN_JUDGED_GRAINS grains by
    its own estimate: it is left at its own scale with "not enough image to judge"."""
    from napari_srmat.grainsize import MIN_JUDGED_GRAINS, measure_grain_size
    from napari_srmat.io import read_image
    from napari_srmat.sr import super_resolve

    path = shared_data / "tbm" / "val" / "images" / "15-0-1024.png"
    sr = super_resolve(np.asarray(read_image(path).data)[..., :3], model="bicubic", scale=4)
    assert "srmat grain-size" in check_native_scale(sr).warning  # the whole SR image
    for side in (48, 64):
        y = (sr.shape[0] - side) // 2
        crop = sr[y:y + side, y:y + side]
        scale = check_native_scale(crop)
        assert scale.warning.startswith("not enough image to judge"), scale.warning
        assert is_scale_warning(scale.warning) and f"under the {MIN_JUDGED_GRAINS:g}" in \
            scale.warning
        assert scale.estimated_intercept_px is None and scale.suggested_inference_scale == 1
    res = measure_grain_size(crop, model=load_boundary_model(device="cpu"))
    assert res.inference_scale == 1 and res.estimated_intercept_px is None
    [note] = [w for w in res.warnings if w.startswith("not enough image to judge")]
    assert note.endswith("measured at the input's scale; measure a larger field of the "
                         "micrograph")


def test_a_folder_completed_before_the_check_gets_it_on_a_rerun(tmp_path, capsys, native):
    """`srmat edges predict` rerun on a folder it completed before the scale check existed
    (its marker has no ``native_scale``) told nothing and reported the figures as null.
    The rerun now checks the input, tells its warning, reports the figures and keeps the
    check in the marker (the rest of the marker and the maps untouched)."""
    image = tmp_path / "up4.png"
    Image.fromarray(_resized(native, 4)).save(image)
    out = tmp_path / "maps"
    argv = ["edges", "predict", str(image), "--out", str(out), "--device", "cpu", "--json"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    [told] = first["warnings"]
    assert is_scale_warning(told) and first["estimated_intercept_px"] is not None
    marker_path = out / ".srmat_output.json"
    old = read_marker(out)
    old.pop(NATIVE_SCALE_KEY)  # as written before the check existed
    marker_path.write_text(json.dumps(old, indent=1))
    maps = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
            and p != marker_path}
    # a stop during that check leaves the folder as it was
    from napari_srmat.io import read_image

    token, events = StopToken(), []
    token.request_stop()
    assert run_job(predict_boundaries_job(read_image(image), load_boundary_model(device="cpu"),
                                          out=out, stop=token),
                   quiet=True, on_event=events.append) is None
    assert any(isinstance(e, Stopped) and "scale estimate" in e.message for e in events)
    assert read_marker(out) == old
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["nothing_to_do"] and again["warnings"] == [told]
    for key in ("estimated_intercept_px", "estimated_sharpness", "suggested_inference_scale"):
        assert again[key] == first[key], key
    marker = read_marker(out)
    assert marker.pop(NATIVE_SCALE_KEY)["warning"] == told and marker == old
    assert maps == {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
                    and p != marker_path}
    # a third run reads it from the marker: the input's pixels are not read again
    import napari_srmat.grainsize as grainsize

    def unread(*args, **kwargs):
        raise AssertionError("the input was checked again")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grainsize, "check_native_scale", unread)
        assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == [told]


def test_a_strip_of_many_grains_is_judged(shared_data):
    """192 x 1024 strips of the x4 bicubic SR of the tbm/val regions (grains 80-108 px by
    the whole SR's estimate) hold ~2 grains across their short side but ~5 across the
    window the estimate reads, and their estimates are 0.65-1.13 x the whole's (15-0-0:
    1.05 and 1.06 x). too_few_grains took the short side alone: every strip got 'not
    enough image to judge' and the model run at scale 1, where it reads large grains
    short, instead of down-sampled as the whole SR (x0.21-0.5 from the strip's estimate,
    x0.24-0.33 from the whole's). The grains are now counted on the window read, as a
    square (judged_side): the strips are judged; a square crop of that side of 15-0-0 is not."""
    from napari_srmat.grainsize import too_few_grains
    from napari_srmat.io import read_image
    from napari_srmat.sr import super_resolve

    paths = sorted((shared_data / "tbm" / "val" / "images").glob("*.png"))
    assert paths
    for path in paths:
        sr = super_resolve(np.asarray(read_image(path).data)[..., :3], model="bicubic",
                           scale=4)
        whole = check_native_scale(sr)
        assert "srmat grain-size" in whole.warning and whole.suggested_inference_scale < 0.5
        c = (sr.shape[0] - 192) // 2
        for strip in (sr[c:c + 192], sr[:, c:c + 192]):
            scale = check_native_scale(strip)
            assert scale.estimated_intercept_px is not None, (path.name, scale.warning)
            assert "srmat grain-size" in scale.warning, path.name
            assert scale.suggested_inference_scale < 2 * whole.suggested_inference_scale
            if path.stem == "15-0-0":  # as close as that, but a square of its side is not
                ratio = scale.estimated_intercept_px / whole.estimated_intercept_px
                assert 1 / 1.3 < ratio < 1.3
                assert too_few_grains((192, 192), scale.estimated_intercept_px)


@pytest.mark.parametrize("side", [349, 347, 300])
def test_the_too_few_grains_warning_never_says_as_many_as_it_needs(side):
    """An image that holds 3.49 grains across by its estimate was told '~3.5 grains ...
    under the 3.5 it needs' (the count rounded up to the rule): the count is rounded
    down, so the warning never names as many grains as the rule asks for."""
    import re

    from napari_srmat.grainsize import MIN_JUDGED_GRAINS, _not_enough_image, too_few_grains

    assert too_few_grains((side, side), 100.0)
    [count] = re.findall(r"hold only ~([0-9.]+) grains", _not_enough_image((side, side), 100.0))
    assert float(count) < MIN_JUDGED_GRAINS and float(count) <= side / 100.0
