"""The top-level notebook API: lazy (no Qt / napari / torch on import) and working."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import napari_srmat

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light():
    code = ("import sys, napari_srmat; heavy = [m for m in ('torch', 'qtpy', 'PyQt5', "
            "'PyQt6', 'PySide2', 'PySide6', 'napari', 'dask', 'skimage') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == ""


def test_cli_help_does_not_load_torch():
    """Building srmat's parsers imported torch (edges defaults read from edges.infer and
    edges.pretrain): every command, --help included, took ~3 s more to start."""
    code = ("import sys\nfrom napari_srmat.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stderr.strip().splitlines()[-1] == "False"


def test_all_names_resolve_to_the_library_functions():
    from napari_srmat import audit, edges, grainsize, io, sr

    for name in napari_srmat.__all__:
        assert getattr(napari_srmat, name) is not None, name
    assert napari_srmat.read_image is io.read_image
    assert napari_srmat.super_resolve is sr.super_resolve
    assert napari_srmat.predict_boundaries is edges.predict_boundaries
    assert napari_srmat.measure_grain_size is grainsize.measure_grain_size
    assert napari_srmat.find_hallucination_candidates is audit.find_candidates
    assert set(napari_srmat.__all__) <= set(dir(napari_srmat))
    # tab completion offers the API, not the helpers the package imports for itself
    shown = {n for n in dir(napari_srmat) if not n.startswith("__")}
    assert not shown & {"Any", "annotations", "importlib", "_API"}
    # and the public submodules loaded, packages or not: ``napari_srmat.gr<TAB>`` after
    # ``import napari_srmat.grainsize`` (hidden while only packages were shown)
    importlib.import_module("napari_srmat._atomic")
    importlib.import_module("napari_srmat.jobs")

    shown = {n for n in dir(napari_srmat) if not n.startswith("__")}
    assert {"grainsize", "jobs", "io", "sr"} <= shown and "_atomic" not in shown
    assert all(getattr(napari_srmat, n).__name__ == f"napari_srmat.{n}"
               for n in shown - set(napari_srmat.__all__))
    with pytest.raises(AttributeError):
        napari_srmat.not_a_function  # noqa: B018


def test_notebook_example_end_to_end(tmp_path):
    """``examples/notebook_api.py`` on a small synthetic micrograph: real outputs."""
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import notebook_api
    finally:
        sys.path.remove(str(ROOT / "examples"))
    res = notebook_api.run(256, grain_px=28.0, pixel_size_um=0.5, folder=tmp_path)
    truth = res["true_mean_intercept_px"]
    assert res["shape"] == [256, 256, 3] and res["pixel_size_um"] == pytest.approx(0.5)
    assert res["heyn_true_boundaries_px"] == pytest.approx(truth, rel=0.1)
    gs = res["grain_size"]
    assert gs["mean_intercept_px"] == pytest.approx(truth, rel=0.25)
    lo, hi = gs["mean_intercept_ci95_px"]
    assert lo <= truth <= hi
    assert gs["mean_intercept_um"] == pytest.approx(gs["mean_intercept_px"] * 0.5)
    assert np.isfinite(gs["astm_g"])
    assert 0.01 < res["boundary_fraction"] < 0.3
    assert res["sr_shape"] == [256, 256, 3]  # 64 px x4
    assert res["n_audit_candidates"] >= 0


def test_every_image_argument_takes_a_micrograph_list_or_array(tmp_path):
    """What ``read_image`` returns (and nested lists) go straight into the notebook API:
    its data are used, and its pixel size where the function takes one."""
    import napari_srmat as srmat

    ms = srmat.generate_microstructure((64, 64), mean_grain_size_px=12, seed=0)
    srmat.write_ome_zarr(ms.boundaries.astype(np.uint8) * 255, tmp_path / "m.ome.zarr",
                         pixel_size_um=0.5)
    srmat.write_ome_zarr(ms.image, tmp_path / "i.ome.zarr")
    mask, img = srmat.read_image(tmp_path / "m.ome.zarr"), srmat.read_image(tmp_path / "i.ome.zarr")
    res = srmat.measure_intercepts(mask)
    ref = srmat.measure_intercepts(ms.boundaries, pixel_size_um=0.5)
    assert res.pixel_size_um == pytest.approx(0.5) and res.astm_g == pytest.approx(ref.astm_g)
    assert srmat.binarize_boundaries(mask, 0.5, skeletonize=False).tolist() == \
        ms.boundaries.tolist()
    grey = ms.image[..., 0]
    cands = srmat.find_hallucination_candidates(grey[::2, ::2].tolist(), img)
    ref_cands = srmat.find_hallucination_candidates(grey[::2, ::2], ms.image)
    assert cands.sr_shape == (64, 64) and cands.to_dict() == ref_cands.to_dict()
    prob, _ = srmat.predict_boundaries(grey.tolist())
    assert prob == pytest.approx(srmat.predict_boundaries(grey)[0], abs=1e-6)
    with pytest.raises(TypeError, match="image is None"):
        srmat.predict_boundaries(None)
    with pytest.raises(TypeError, match="lr is a path"):
        srmat.find_hallucination_candidates(str(tmp_path / "i.ome.zarr"), img)


def test_plain_versions_show_and_check_the_job_keywords():
    """measure_grain_size, predict_boundaries, find_hallucination_candidates and
    plan_rescan were ``f(image, **kwargs)``: help() showed one line ("same arguments" as a
    job the user never called), inspect.signature / completion showed ``**kwargs``, and a
    guessed keyword failed as "measure_grain_size_job() got an unexpected keyword
    argument". They carry the job's signature and Parameters, and errors name them."""
    import inspect

    for name, keyword in (("measure_grain_size", "pixel_size_um"),
                          ("super_resolve", "scale"),
                          ("predict_boundaries", "tile"),
                          ("find_hallucination_candidates", "tolerance_px"),
                          ("plan_rescan", "dwell_ratio")):
        fn = getattr(napari_srmat, name)
        assert keyword in inspect.signature(fn).parameters, name
        doc = inspect.getdoc(fn)  # what help() shows
        assert f"\n{keyword}" in doc and "Parameters\n----------" in doc, name
    with pytest.raises(TypeError, match=r"^measure_grain_size\(\) got an unexpected keyword "
                       r"argument 'pixel_size' \(did you mean 'pixel_size_um'\?\)$"):
        napari_srmat.measure_grain_size(np.zeros((64, 64), bool), mask=True, pixel_size=0.5)
    with pytest.raises(TypeError, match=r"^plan_rescan\(\) got an unexpected keyword "
                       r"argument 'dwell' \(did you mean 'dwell_ratio'\?\)$"):
        napari_srmat.plan_rescan(np.zeros((32, 32)), dwell=2)
    with pytest.raises(TypeError, match=r"^find_candidates\(\) missing a required argument: 'sr'"):
        napari_srmat.find_hallucination_candidates(np.zeros((32, 32)))


def test_every_public_function_shows_an_example():
    """read_mask, binarize_boundaries, super_resolve, predict_boundaries and
    find_hallucination_candidates had no Examples section (help() showed no call to copy
    into a notebook). Each function of __all__ has one (test_docstring_examples runs
    them), after its Parameters and Returns."""
    import inspect

    from napari_srmat.jobs import _section

    for name in napari_srmat.__all__:
        if name == "__version__":
            continue
        doc = inspect.getdoc(getattr(napari_srmat, name))
        examples = _section(doc, "Examples")
        assert examples is not None and ">>> " in examples, f"{name}: no Examples"
        assert doc.index("\nExamples\n") > doc.index("\nReturns\n"), name


def test_every_public_function_says_what_it_returns():
    """help() of super_resolve, predict_boundaries, find_hallucination_candidates and
    plan_rescan showed the job's Parameters but no Returns section (the job's said it: an
    array or the store's path, (prob, uncertainty), a CandidateList, a RescanPlan, None
    when stopped), so a notebook user could not tell what came back. Every function of
    __all__ has numpydoc Parameters and Returns sections."""
    import inspect

    from napari_srmat.jobs import _section

    for name in napari_srmat.__all__:
        if name == "__version__":
            continue
        doc = inspect.getdoc(getattr(napari_srmat, name))
        for title in ("Parameters", "Returns"):
            assert _section(doc, title) is not None, f"{name}: no {title} section"
    doc = inspect.getdoc(napari_srmat.plan_rescan)
    # numpydoc order: Parameters, Returns, Raises, then the function's own Examples
    order = [doc.index(f"\n{t}\n---") for t in ("Parameters", "Returns", "Raises", "Examples")]
    assert order == sorted(order)
    assert "RescanPlan or None" in _section(doc, "Returns")


def test_super_resolve_takes_the_scale_of_a_named_model():
    """super_resolve(image, "bicubic", scale=2) failed with "super_resolve_job() got an
    unexpected keyword argument 'scale'"; a loaded model's scale cannot be overridden."""
    from napari_srmat.sr import SRError, load_model

    image = np.zeros((8, 12))
    assert napari_srmat.super_resolve(image, "bicubic", scale=2).shape == (16, 24)
    assert napari_srmat.super_resolve(image, "bicubic", scale=4).shape == (32, 48)
    with pytest.raises(SRError, match="does not match the loaded model's x4"):
        napari_srmat.super_resolve(image, load_model("bicubic", scale=4), scale=2)


def test_boundary_model_argument_takes_a_checkpoint_path_and_names_itself():
    """super_resolve(model="cnn") takes a name, but predict_boundaries / measure_grain_size
    given a str failed deep inside ("'str' object has no attribute 'exposure_gain'" /
    "... 'config'"). One rule (edges.infer.as_boundary_model): None, a checkpoint path or
    a BoundaryModel; anything else is a TypeError naming ``model``."""
    from napari_srmat.checkpoint import CheckpointError
    from napari_srmat.edges.infer import default_checkpoint_path

    img = (np.indices((32, 32)).sum(0) * 2).astype(np.uint8)  # a ramp (not binary) ...
    img[:, ::8] = 255  # ... with dark-to-bright lines
    ref, _ = napari_srmat.predict_boundaries(img)
    got, _ = napari_srmat.predict_boundaries(img, model=str(default_checkpoint_path()))
    np.testing.assert_array_equal(got, ref)
    for fn in (napari_srmat.predict_boundaries, napari_srmat.measure_grain_size):
        with pytest.raises(TypeError, match=r"^model must be a BoundaryModel .* got int"):
            fn(img, model=3)
        with pytest.raises(CheckpointError, match="^cnn: checkpoint not found$"):
            fn(img, model="cnn")


def _flag_calls():
    """One call per yes/no argument of the notebook API, with tiny inputs."""
    img = np.zeros((32, 32), np.uint8)
    img[:, ::8] = 255
    prob = np.zeros((16, 16), np.float32)
    mask = np.zeros((16, 16), bool)
    mask[:, ::4] = True
    return [
        ("skeletonize", lambda v: napari_srmat.binarize_boundaries(prob, 0.5, skeletonize=v)),
        ("skeletonize", lambda v: napari_srmat.measure_intercepts(mask, skeletonize=v)),
        ("exclude_twins", lambda v: napari_srmat.measure_intercepts(mask, exclude_twins=v)),
        ("triple_points", lambda v: napari_srmat.measure_intercepts(mask, triple_points=v)),
        ("fit_scale", lambda v: napari_srmat.register_images(img, img, fit_scale=v)),
        ("refine", lambda v: napari_srmat.register_images(img, img, refine=v)),
        ("whole_image", lambda v: napari_srmat.super_resolve(img, "bicubic", whole_image=v)),
        ("previews", lambda v: napari_srmat.predict_boundaries(img, previews=v)),
        ("error_map", lambda v: napari_srmat.predict_boundaries(img, error_map=v)),
        ("rgb", lambda v: napari_srmat.generate_microstructure((32, 32), mean_grain_size_px=8,
                                                               rgb=v)),
        # checked before the file is looked at: it need not exist
        ("return_pixel_size", lambda v: napari_srmat.read_mask("unread.png",
                                                               return_pixel_size=v)),
    ]


@pytest.mark.parametrize("index", range(len(_flag_calls())))
def test_yes_no_arguments_refuse_strings(index):
    """A string is truthy: ``error_map="no"`` returned a third map, ``rgb="no"`` a colour
    image, ``skeletonize="no"`` thinned the mask (another mean intercept), ``fit_scale`` /
    ``refine`` / ``whole_image`` / ``previews="no"`` did what was declined, all without a
    word. Every yes/no argument of the notebook API takes True or False only
    (``errors.check_flag``), refused before any pixel is read."""
    name, call = _flag_calls()[index]
    with pytest.raises(ValueError, match=rf"^{name} must be True or False, got 'no'$"):
        call("no")


@pytest.mark.parametrize("kw, match", [
    (dict(tile=256.5), r"^tile must be an integer, got 256.5$"),
    (dict(overlap=float("nan")), r"^overlap must be an integer, got nan$"),
    (dict(overlap=2.5), r"^overlap must be an integer, got 2.5$"),
    (dict(batch_size=2.5), r"^batch_size must be an integer >= 1, got 2.5$"),
])
def test_super_resolve_refuses_fractional_tiling_numbers(kw, match):
    """``tile=256.5`` / ``batch_size=2.5`` were cast with int() (tile=1.5 was then reported
    as "tile (1) must be larger ..."), and ``overlap=nan`` failed inside int() with "cannot
    convert float NaN to integer", naming no argument. Whole numbers given as floats
    (``tile=512.0``) still work."""
    from napari_srmat.sr import SRError

    image = np.zeros((8, 12))
    with pytest.raises(SRError, match=match):
        napari_srmat.super_resolve(image, "bicubic", **kw)
    assert napari_srmat.super_resolve(image, "bicubic", tile=512.0, batch_size=2.0
                                      ).shape == (32, 48)


@pytest.mark.parametrize("kw, match", [
    (dict(area_weight=float("nan")), r"^area_weight must be a number >= 0, got nan$"),
    (dict(prior_weight=-1), r"^prior_weight must be a number >= 0, got -1$"),
    (dict(boundary_threshold=2), r"^boundary_threshold must be a number in \[0, 1\], got 2$"),
    (dict(lr_threshold_factor=float("nan")), r"^lr_threshold_factor must be a number >= 0"),
    (dict(support_energy_floor=0), r"^support_energy_floor must be a number > 0, got 0$"),
    (dict(min_support_deficit=float("nan")), r"^min_support_deficit must be a number >= 0"),
    (dict(min_new_length_px=-1), r"^min_new_length_px must be a number >= 0, got -1$"),
    (dict(new_kind_min_px=float("nan")), r"^new_kind_min_px must be a number >= 0, got nan$"),
    (dict(link_px=2.5), r"^link_px must be an integer >= 0, got 2.5$"),
    (dict(halo=-1), r"^halo must be an integer >= 0, got -1$"),
    (dict(tile=20.5), r"^tile must be an integer >= 16, got 20.5$"),
])
def test_hallucination_search_refuses_bad_score_options(kw, match):
    """The score options of find_hallucination_candidates were cast with float() / int()
    unchecked: ``area_weight=nan`` listed every suspicious piece (NaN compares False
    against ``min_score``), a negative weight or length turned a rule around, ``link_px=2.5``
    became 2 and ``halo=-1`` 0, silently."""
    from napari_srmat.audit import AuditInputError

    lr = np.zeros((16, 16), np.uint8)
    lr[:, ::4] = 255
    sr = napari_srmat.super_resolve(lr, "bicubic", scale=2)
    with pytest.raises(AuditInputError, match=match):
        napari_srmat.find_hallucination_candidates(lr, sr, **kw)
    with pytest.raises(TypeError, match=r"^boundary_fn must be a callable .* got str$"):
        napari_srmat.find_hallucination_candidates(lr, sr, boundary_fn="uaed")


def test_predict_boundaries_checks_the_worker_device_name():
    """super_resolve refused ``worker_device="tpu"``; predict_boundaries took it (and used
    it only with a scheduler). Both check the name by the same rule
    (``device.check_device_name``)."""
    img = np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError, match=r"^unknown worker_device 'tpu'; use auto, cpu"):
        napari_srmat.predict_boundaries(img, worker_device="tpu")


@pytest.mark.parametrize("kw, match", [
    (dict(mean_grain_size_px="12"), r"^mean_grain_size_px must be a number >= 4, got '12'$"),
    (dict(mean_grain_size_px=12, size_spread="0.5"),
     r"^size_spread must be in \[0.0, 1.0\], got '0.5'$"),
    (dict(mean_grain_size_px=12, noise=True), r"^noise must be in \[0.0, 1.0\], got True$"),
])
def test_generate_microstructure_refuses_non_numbers(kw, match):
    """``mean_grain_size_px="12"`` failed with "'>=' not supported between instances of
    'str' and 'int'" (no argument named), ``size_spread="0.5"`` and ``noise=True`` were
    taken as 0.5 and 1.0."""
    from napari_srmat.synth import SynthError

    with pytest.raises(SynthError, match=match):
        napari_srmat.generate_microstructure((48, 48), **kw)


def test_image_arguments_take_torch_tensors_and_xarray(tmp_path):
    """A PyTorch tensor failed in every function with "Cannot interpret 'torch.uint8' as a
    data type" (a numpy message naming no argument), and write_ome_zarr of an xarray
    DataArray with dask's "You must specify a chunks= keyword argument". A CPU tensor is
    read as its numpy array; one that cannot be (requires grad, on a GPU) is a TypeError
    naming the argument and ``.detach().cpu().numpy()``."""
    torch = pytest.importorskip("torch")
    grey = np.zeros((16, 16), np.uint8)
    grey[:, ::4] = 255
    ref = napari_srmat.super_resolve(grey, "bicubic", scale=2)
    np.testing.assert_array_equal(
        napari_srmat.super_resolve(torch.from_numpy(grey), "bicubic", scale=2), ref)
    mask = torch.from_numpy(grey > 0)
    assert napari_srmat.measure_intercepts(mask).mean_intercept_px == \
        napari_srmat.measure_intercepts(grey > 0).mean_intercept_px > 0
    with pytest.raises(TypeError, match=r"^image has dtype torch.float32, not a numpy dtype.*"
                       r"image\.detach\(\)\.cpu\(\)\.numpy\(\)"):
        napari_srmat.super_resolve(torch.rand(16, 16, requires_grad=True), "bicubic")
    xr = pytest.importorskip("xarray")
    path = napari_srmat.write_ome_zarr(xr.DataArray(grey, dims=("y", "x")), tmp_path / "x.zarr")
    np.testing.assert_array_equal(napari_srmat.read_image(path).data.compute(), grey)


def test_empty_or_folder_only_paths_are_refused_by_name(tmp_path, monkeypatch):
    """``Path("")`` is the current folder: ``read_image("")`` said ". is a folder", and
    ``write_ome_zarr(x, "", overwrite=True)`` / ``super_resolve(x, out="")`` /
    ``predict_boundaries(x, out=".")`` failed inside pathlib with "PosixPath('.') has an
    empty name". An empty path, and an output that names no entry of its own, are refused
    in one line; nothing in the current folder is touched."""
    from napari_srmat.outputs import OutputError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("keep")
    image = np.zeros((8, 8), np.uint8)
    for fn in (napari_srmat.read_image, napari_srmat.read_mask):
        with pytest.raises(ValueError, match=rf"^path is empty; {fn.__name__} takes a path"):
            fn("")
    with pytest.raises(ValueError, match=r"^path is empty; write_ome_zarr takes a path"):
        napari_srmat.write_ome_zarr(image, "", overwrite=True)
    names_no_entry = r"^output path '.*' names no file or folder of its own"
    for out in ("", ".", ".."):
        with pytest.raises(OutputError, match=names_no_entry):
            napari_srmat.super_resolve(image, "bicubic", out=out, overwrite=True)
        with pytest.raises(OutputError, match=names_no_entry):
            napari_srmat.predict_boundaries(image, out=out, overwrite=True)
    with pytest.raises(OutputError, match=names_no_entry):
        napari_srmat.write_ome_zarr(image, ".", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8,
                    reason="long double is float64 on this platform")
def test_write_ome_zarr_refuses_long_double_before_writing(tmp_path):
    """A float128 (numpy.longdouble) array failed inside zarr with "No Zarr data type found
    that matches dtype('float128')"; it is a TypeError naming the dtypes OME-Zarr stores,
    and nothing is created."""
    with pytest.raises(TypeError, match=r"^pixels of dtype float128 cannot be stored in "
                       r"OME-Zarr \(float16, float32 or float64\)"):
        napari_srmat.write_ome_zarr(np.zeros((8, 8), np.longdouble), tmp_path / "x.zarr")
    assert list(tmp_path.iterdir()) == []


def test_masked_arrays_with_masked_pixels_are_refused():
    """A numpy masked array was read through np.asarray, which drops the mask: the masked
    pixels (a scale bar, a label) were measured like the others without a word. One with
    masked pixels is refused, naming ``.filled`` and ``exclusion=``; one without is
    its data."""
    mask = np.zeros((32, 32), bool)
    mask[:, ::6] = True
    hidden = np.ma.masked_array(mask, mask=np.zeros_like(mask))
    hidden[:8] = np.ma.masked
    with pytest.raises(ValueError, match=r"^boundary mask is a masked array with masked "
                       r"pixels: .*\.filled\(value\) \(measure_intercepts leaves a region "
                       r"out with exclusion=\)$"):
        napari_srmat.measure_intercepts(hidden)
    with pytest.raises(ValueError, match=r"^image is a masked array with masked pixels"):
        napari_srmat.super_resolve(hidden.astype(np.float32), "bicubic")
    plain = np.ma.masked_array(mask)
    assert napari_srmat.measure_intercepts(plain).mean_intercept_px == \
        napari_srmat.measure_intercepts(mask).mean_intercept_px


def test_write_ome_zarr_refuses_more_levels_than_halvings(tmp_path):
    """``n_levels=100`` on a 40 x 50 image wrote 100 levels, 94 of them the same 1 x 1 px
    level, each recorded at twice the previous pixel size. At most the levels down to
    1 x 1 px are written; more is refused before the store is created."""
    import zarr

    image = np.zeros((40, 50), np.uint8)
    with pytest.raises(ValueError, match=r"^n_levels must be at most 7 for a 40 x 50 px "
                       r"image \(halved until it is 1 x 1 px\), got 100$"):
        napari_srmat.write_ome_zarr(image, tmp_path / "a.zarr", n_levels=100)
    assert not (tmp_path / "a.zarr").exists()
    group = zarr.open_group(napari_srmat.write_ome_zarr(image, tmp_path / "b.zarr",
                                                        n_levels=7), mode="r")
    assert group["6"].shape == (1, 1)


def test_read_image_refuses_a_store_without_pixels(tmp_path):
    """A Zarr array of shape (0, 32) was read as a (0, 32) image (and by read_mask as an
    empty mask); it is an ImageReadError naming the file and the shape."""
    import zarr

    from napari_srmat.io import ImageReadError

    path = tmp_path / "empty.zarr"
    zarr.open_array(str(path), mode="w", shape=(0, 32), dtype="u1")
    for fn in (napari_srmat.read_image, napari_srmat.read_mask):
        with pytest.raises(ImageReadError, match=r"the image has no pixels "
                           r"\(shape \(0, 32\)\)$") as exc:
            fn(path)
        assert str(path) in str(exc.value)


def test_hallucination_search_checks_what_the_callbacks_return():
    """What boundary_fn / degrade_fn returned was used unchecked: boundary_fn=
    predict_boundaries (a (probability, uncertainty) tuple) failed inside numpy ("setting
    an array element with a sequence"), NaN read as "no boundary" and 0-255 values as
    boundary everywhere, silently; a degrade_fn of the wrong shape failed in numpy
    broadcasting and NaN residuals were dropped from the floor estimate."""
    from napari_srmat.audit import AuditInputError, default_boundary_map

    lr = np.zeros((16, 16), np.uint8)
    lr[:, ::4] = 255
    sr = napari_srmat.super_resolve(lr, "bicubic", scale=2)
    find = napari_srmat.find_hallucination_candidates
    for fn, match in (
            (lambda im: (default_boundary_map(im), None),
             r"^boundary_fn must return one \(H, W\) map, got a tuple of 2 \(predict_boundaries"),
            (lambda im: default_boundary_map(im) * 255,
             r"^boundary_fn must return boundary strengths in \[0, 1\], got values in "),
            (lambda im: np.full(im.shape[:2], np.nan), r"^boundary_fn returned NaN or Inf")):
        with pytest.raises(AuditInputError, match=match):
            find(lr, sr, boundary_fn=fn)
    shape = r"^degrade_fn must return the LR image of an SR tile: shape \(16, 16\) for an SR "
    with pytest.raises(AuditInputError, match=shape + r"tile \(32, 32\) at scale 2; got \(3, 3\)"):
        find(lr, sr, degrade_fn=lambda im, s: np.zeros((3, 3)))
    with pytest.raises(AuditInputError, match=r"^degrade_fn returned NaN or Inf values$"):
        find(lr, sr, degrade_fn=lambda im, s: np.full((16, 16), np.nan))
    assert find(lr, sr, boundary_fn=default_boundary_map).scale == 2


def test_super_resolve_checks_the_scale_given_with_a_loaded_model():
    """With a loaded model, ``scale`` was compared through int(): ``scale=2.5`` and
    ``scale="2"`` ran a x2 model without a word, ``scale=nan`` failed inside int()."""
    from napari_srmat.sr import ScaleError, load_model

    model = load_model("bicubic", scale=2)
    image = np.zeros((8, 8))
    for bad in (2.5, "2", float("nan")):
        with pytest.raises(ScaleError, match=r"^scale must be an integer >= 1, got "):
            napari_srmat.super_resolve(image, model, scale=bad)
    assert napari_srmat.super_resolve(image, model, scale=2.0).shape == (16, 16)


def _unreadable(shape, dtype):
    """A Dask array of ``shape`` whose pixels cannot be computed: the test fails, rather
    than allocating, if anything reads them."""
    import dask.array as da

    def boom(block):
        raise AssertionError("a pixel of the huge Dask array was computed")

    return da.zeros(shape, chunks=4096, dtype=dtype).map_blocks(boom, dtype=dtype)


def test_whole_array_functions_refuse_what_memory_cannot_hold(monkeypatch):
    """binarize_boundaries and measure_intercepts on a 200000² Dask map, and
    generate_microstructure with that shape, failed with numpy's "Unable to allocate N
    GiB" after part of the work; they are refused from the shape and dtype (the estimates
    rules), in one line naming the function, the bytes, the memory and what to do."""
    from napari_srmat import estimates
    from napari_srmat.grainsize import GrainSizeError
    from napari_srmat.metrics.edges import EdgeMetricsError
    from napari_srmat.metrics.heyn import HeynError
    from napari_srmat.synth.generator import SynthError

    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 64 * 2**30)
    side = 200000
    tail = r"of memory, more than 50% of the 64\.0 GiB available: "
    with pytest.raises(EdgeMetricsError, match=r"^binarize_boundaries needs 596\.0 GiB "
                       + tail + "binarize fields or crops of it$"):
        napari_srmat.binarize_boundaries(_unreadable((side, side), np.float32), 0.5)
    with pytest.raises(HeynError, match=r"^measure_intercepts needs 372\.5 GiB " + tail
                       + "measure fields or crops of it$"):
        napari_srmat.measure_intercepts(_unreadable((side, side), np.uint8))
    with pytest.raises(SynthError, match=r"^generate_microstructure needs 1\.3 TiB " + tail
                       + "render it lazily"):
        napari_srmat.generate_microstructure((side, side))
    with pytest.raises(GrainSizeError, match=r"^measure_grain_size needs 372\.5 GiB " + tail
                       + "measure fields or crops of it$"):  # before the mask is read
        napari_srmat.measure_grain_size(_unreadable((side, side), np.uint8), mask=True)
    # what fits is not refused (the same rule, the patched memory)
    m = np.zeros((64, 64), np.uint8)
    m[:, ::8] = 255
    assert napari_srmat.binarize_boundaries(m, 0.5, skeletonize=False).sum() == 8 * 64


def test_a_mask_already_in_memory_is_not_counted_twice(monkeypatch):
    """measure_intercepts counted a numpy mask's own bytes as if it were read again:
    a 60000² bool mask held in memory (3.4 GiB) was refused as "needs 10.1 GiB" with
    16.9 GiB available, though measuring it took 0.02 GiB more. Held arrays count only
    the working memory; lazy ones their read as well; twin exclusion its label maps."""
    from napari_srmat import estimates
    from napari_srmat.estimates import plan_mask_measurement

    side = 60000
    held = plan_mask_measurement((side, side), bool, held=True).output_bytes
    lazy = plan_mask_measurement((side, side), bool).output_bytes
    assert lazy - held == estimates.LAZY_READ_COPIES * side * side  # a bool map's read
    assert plan_mask_measurement((side, side), np.uint8, to_float=True).output_bytes \
        - plan_mask_measurement((side, side), np.uint8).output_bytes \
        == side * side * estimates.FLOAT_COPY_BYTES_PER_PX
    assert plan_mask_measurement((side, side), bool, held=True, twins=True).output_bytes \
        - held == side * side * estimates.TWIN_LABEL_BYTES_PER_PX
    # a held mask is measured where the same mask as a Dask array (read whole) is not
    import dask.array as da

    from napari_srmat.metrics.heyn import HeynError

    m = np.zeros((64, 64), bool)
    m[:, ::8] = True
    small = plan_mask_measurement(m.shape, bool, held=True).output_bytes
    monkeypatch.setattr(estimates, "available_memory_bytes", lambda: 2 * small)
    assert napari_srmat.measure_intercepts(m, pattern="grid", n_lines=4, margin=0
                                           ).n_intersections > 0
    with pytest.raises(HeynError, match="^measure_intercepts needs 28.0 KiB of memory"):
        napari_srmat.measure_intercepts(da.from_array(m, chunks=32), pattern="grid")


@pytest.mark.parametrize("call", ["super_resolve", "predict_boundaries", "write_ome_zarr",
                                  "measure_grain_size mask", "find_hallucination_candidates",
                                  "plan_rescan"])
@pytest.mark.parametrize("stop", ["yes", 1])
def test_a_stop_that_is_no_stop_token_is_refused(call, stop, tmp_path):
    """A junk stop= failed with AttributeError ('str' object has no attribute
    'stop_requested') in the tiled functions and the writer, and was ignored on the mask
    path; the one rule (jobs.check_stop) refuses it naming stop."""
    from napari_srmat.jobs import StopToken

    img = np.zeros((32, 32), np.float32)
    img[:, ::8] = 1.0
    run = {
        "super_resolve": lambda s: napari_srmat.super_resolve(img, "bicubic", stop=s),
        "predict_boundaries": lambda s: napari_srmat.predict_boundaries(img, stop=s),
        "write_ome_zarr": lambda s: napari_srmat.write_ome_zarr(
            img, tmp_path / f"{type(s).__name__}.ome.zarr", stop=s),
        "measure_grain_size mask": lambda s: napari_srmat.measure_grain_size(
            img > 0.5, mask=True, stop=s),
        "find_hallucination_candidates": lambda s: napari_srmat.find_hallucination_candidates(
            img[::2, ::2], img, stop=s),
        "plan_rescan": lambda s: napari_srmat.plan_rescan(img, "bicubic", scale=2, stop=s),
    }[call]
    with pytest.raises(TypeError, match=r"^stop must be None or a napari_srmat\.jobs\."
                       r"StopToken, got (?:'yes' \(str\)|1 \(int\))$"):
        run(stop)
    if call not in ("predict_boundaries", "plan_rescan"):  # a StopToken is taken
        run(StopToken())
    # the class instead of an instance has the attribute (a property object, truthy):
    # the job stopped at once and returned None without an error
    with pytest.raises(TypeError, match=r"got <class 'napari_srmat\.jobs\.StopToken'> "
                                        r"\(type\)$"):
        run(StopToken)


@pytest.mark.parametrize("job", ["train_boundaries_job", "masked_pretrain_job",
                                 "evaluate_boundaries_job", "evaluate_maps_job",
                                 "train_sr_job"])
@pytest.mark.parametrize("stop", ["yes", "class"])
def test_training_and_evaluation_jobs_refuse_a_stop_that_is_no_stop_token(job, stop,
                                                                          tmp_path):
    """The training and evaluation jobs skipped jobs.check_stop: stop="yes" failed with
    AttributeError once the data had loaded (the run folder already made), and the class
    StopToken instead of StopToken() stopped the run at its first step as if asked."""
    from PIL import Image

    from napari_srmat.edges import evaluate_boundaries_job, train_boundaries_job
    from napari_srmat.edges.pretrain import masked_pretrain_job
    from napari_srmat.jobs import StopToken, run_job
    from napari_srmat.metrics.edges import evaluate_maps_job
    from napari_srmat.sr import train_sr_job

    img = np.zeros((64, 64), np.uint8)
    img[:, ::8] = 255
    mask = img > 0
    for d in ("images", "masks"):
        (tmp_path / d).mkdir()
    Image.fromarray(img).save(tmp_path / "images" / "a.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(tmp_path / "masks" / "a.png")
    out = tmp_path / "out"
    make = {
        "train_boundaries_job": lambda s: train_boundaries_job(
            {"train_images": [img], "train_masks": [mask], "out": str(out), "epochs": 1,
             "steps_per_epoch": 1, "crop": 32, "device": "cpu"}, stop=s),
        "masked_pretrain_job": lambda s: masked_pretrain_job(
            {"images": [img], "out": str(out), "steps": 1, "crop": 32, "patch": 16}, stop=s),
        "evaluate_boundaries_job": lambda s: evaluate_boundaries_job(
            tmp_path / "images", tmp_path / "masks", out_dir=out, device="cpu", stop=s),
        "evaluate_maps_job": lambda s: evaluate_maps_job([img], [mask], stop=s),
        "train_sr_job": lambda s: train_sr_job(
            {"data": [str(tmp_path / "images")], "out": str(out), "steps": 1,
             "batch_size": 1, "patch": 32, "device": "cpu"}, stop=s),
    }[job]
    with pytest.raises(TypeError, match=r"^stop must be None or a napari_srmat\.jobs\."
                                        r"StopToken, got "):
        run_job(make("yes" if stop == "yes" else StopToken), quiet=True)
    assert not out.exists()


@pytest.mark.parametrize("func", ["super_resolve", "predict_boundaries"])
@pytest.mark.parametrize("out, kind", [(5, "an int"), (b"x.ome.zarr", "a bytes")])
def test_an_out_that_is_no_path_names_out(func, out, kind):
    """out=5 or out=b"..." gave pathlib's TypeError ("expected str, bytes or os.PathLike
    object, not int"), which names no argument; the path rule now names out."""
    img = np.zeros((32, 32), np.float32)
    args = (img, "bicubic") if func == "super_resolve" else (img,)
    # predict_boundaries writes a folder of stores: its hint must not name one store
    what = (r"the path of an OME-Zarr store to write, e\.g\. super_resolve\(\.\.\., "
            r"out='result\.ome\.zarr'\)" if func == "super_resolve" else
            r"the path of an output folder \(prob\.ome\.zarr, uncertainty\.ome\.zarr\), "
            r"e\.g\. predict_boundaries\(\.\.\., out='edges_out'\)")
    with pytest.raises(TypeError, match=rf"^out is {kind}; {func} takes out=None \(the result "
                       rf"in memory\) or {what}"):
        getattr(napari_srmat, func)(*args, out=out)
