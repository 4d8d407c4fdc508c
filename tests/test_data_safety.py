"""Regression tests of the "data safety" issue: nonsense parameters and configs are refused
early with one clear line, and degenerate results carry a warning instead of a number
that looks valid."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_srmat.cli import main  # noqa: E402
from napari_srmat.sr import load_model  # noqa: E402

TINY_DDPM = {"block_out_channels": (8, 16), "norm_num_groups": 4}


@pytest.fixture()
def small_png(tmp_path):
    from PIL import Image

    img = (np.random.default_rng(0).random((12, 16, 3)) * 255).astype(np.uint8)
    path = tmp_path / "small.png"
    Image.fromarray(img).save(path)
    return path


# ------------------------------------------------------------ 1. sampling steps
@pytest.mark.parametrize("steps", [0, -3, 1001, 2.5, True, "10"])
def test_ddpm_sampling_steps_are_validated_by_the_library(steps):
    """Worded for each caller (errors.worded_error): the keyword in Python, the flag in
    srmat (test_cli_sr_steps_errors_name_the_flag); both at once before."""
    with pytest.raises(ValueError, match="^num_inference_steps must be an integer") as e:
        load_model("ddpm", scale=2, device="cpu", pretrained=False,
                   num_inference_steps=steps, **TINY_DDPM)
    assert "--sampling-steps" not in str(e.value)
    assert e.value.cli_message.startswith("--sampling-steps must be an integer in [1, 1000]")


def test_ddpm_steps_cannot_exceed_the_training_schedule():
    with pytest.raises(ValueError, match="num_train_timesteps") as e:
        load_model("ddpm", scale=2, device="cpu", pretrained=False, num_train_timesteps=50,
                   num_inference_steps=100, **TINY_DDPM)
    assert str(e.value) == ("num_inference_steps = 100 exceeds the model's "
                            "num_train_timesteps (50)")
    assert e.value.cli_message == "--sampling-steps = 100 exceeds the model's " \
                                  "num_train_timesteps (50)"
    m = load_model("ddpm", scale=2, device="cpu", pretrained=False, num_inference_steps=1,
                   **TINY_DDPM)
    assert m.options["num_inference_steps"] == 1


def test_diffusers_local_sampling_steps_are_validated_first(tmp_path):
    # refused before the pipeline directory is even looked at
    with pytest.raises(ValueError, match="num_inference_steps"):
        load_model("diffusers-local", checkpoint=tmp_path, device="cpu", num_inference_steps=0)


@pytest.mark.parametrize("name", ["bicubic", "lanczos", "cnn", "onestep"])
def test_sampling_steps_refused_for_models_without_them(name):
    with pytest.raises(ValueError, match=f"{name} has no sampling steps") as e:
        load_model(name, scale=2, device="cpu", pretrained=False, num_inference_steps=5)
    assert str(e.value).startswith("num_inference_steps applies to diffusion models")
    assert e.value.cli_message.startswith("--sampling-steps applies to diffusion models")


def test_sampling_steps_refused_for_a_cnn_checkpoint(tmp_path):
    from napari_srmat.sr import save_model_checkpoint

    m = load_model("cnn", scale=2, device="cpu", pretrained=False, n_feats=8, n_blocks=1)
    path = save_model_checkpoint(m, tmp_path / "ck")
    with pytest.raises(ValueError, match="cnn has no sampling steps"):
        load_model(checkpoint=path, device="cpu", num_inference_steps=5)


def test_cli_sr_steps_errors_name_the_flag(small_png, tmp_path, capsys):
    rc = main(["sr", "run", str(small_png), str(tmp_path / "a.zarr"), "--model", "ddpm",
               "--sampling-steps", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "srmat sr run: error:" in err and "--sampling-steps" in err
    assert "Traceback" not in err and "num_inference_steps" not in err  # the flag only
    # the old name --steps is a hidden alias of --sampling-steps
    rc = main(["sr", "run", str(small_png), str(tmp_path / "b.zarr"), "--model", "bicubic",
               "--steps", "5"])
    err = capsys.readouterr().err
    assert rc == 2 and "--sampling-steps" in err and "bicubic has no sampling steps" in err
    assert "num_inference_steps" not in err
    assert not (tmp_path / "b.zarr").exists()


# ------------------------------------------------------- 2. checkpoint configs
class _Allocated(BaseException):
    """Raised by the allocation guard (a BaseException: no loader may swallow it)."""


class _AllocationGuard:
    """Count the elements of every parameter/buffer a module registers on a real device.

    Meta tensors (shape checks) are free; anything else beyond ``budget`` elements
    aborts the test at once, so an unchecked loader cannot eat the machine's memory.
    """

    def __init__(self, checkpoint) -> None:
        from safetensors import safe_open

        with safe_open(str(checkpoint / "model.safetensors"), framework="pt") as f:
            numel = sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys())
        # building the real network once is fine; a multiple of the weights is not
        self.budget = 3 * numel + 100_000
        self.numel = 0

    def _hook(self, module, name, tensor):
        if tensor is not None and tensor.device.type != "meta":
            self.numel += tensor.numel()
            if self.numel > self.budget:
                raise _Allocated(f"{self.numel} elements allocated before the config was "
                                 "checked against the weights")

    def __enter__(self):
        from torch.nn.modules.module import (
            register_module_buffer_registration_hook,
            register_module_parameter_registration_hook,
        )

        self._handles = [register_module_parameter_registration_hook(self._hook),
                         register_module_buffer_registration_hook(self._hook)]
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        return False


def _edit_config(ckpt, **changes):
    path = ckpt / "config.json"
    cfg = json.loads(path.read_text())
    for key, value in changes.items():
        section, _, field = key.rpartition("__")
        (cfg[section] if section else cfg)[field] = value
    path.write_text(json.dumps(cfg))


def _tiny_sr_checkpoint(tmp_path, name="cnn"):
    from napari_srmat.sr import save_model_checkpoint

    arch = {"cnn": {"n_feats": 8, "n_blocks": 1}}.get(name, TINY_DDPM)
    m = load_model(name, scale=2, device="cpu", pretrained=False, **arch)
    return save_model_checkpoint(m, tmp_path / name)


def _tiny_uaed_checkpoint(tmp_path):
    from napari_srmat.checkpoint import save_checkpoint
    from napari_srmat.edges.model import UAEDNet, default_arch_config

    return save_checkpoint(tmp_path / "uaed", UAEDNet("tiny").state_dict(),
                           default_arch_config("tiny"))


@pytest.mark.parametrize("text", ["[1, 2]", "3", '"cnn"', "null"])
def test_checkpoint_config_must_be_a_json_object(tmp_path, text, small_png, capsys):
    from napari_srmat.checkpoint import CheckpointError, load_checkpoint
    from napari_srmat.edges import load_boundary_model

    sr = _tiny_sr_checkpoint(tmp_path)
    uaed = _tiny_uaed_checkpoint(tmp_path)
    for ck in (sr, uaed):
        (ck / "config.json").write_text(text)
        with pytest.raises(CheckpointError, match="JSON object"):
            load_checkpoint(ck)
    with pytest.raises(CheckpointError, match="JSON object"):
        load_model(checkpoint=sr, device="cpu")
    with pytest.raises(CheckpointError, match="JSON object"):
        load_boundary_model(uaed, device="cpu")
    rc = main(["sr", "run", str(small_png), str(tmp_path / "o.zarr"), "--checkpoint", str(sr)])
    err = capsys.readouterr().err
    assert rc == 2 and "srmat sr run: error:" in err and "JSON object" in err


@pytest.mark.parametrize("section", ["arch", "options"])
def test_checkpoint_config_sections_must_be_objects(tmp_path, section):
    from napari_srmat.checkpoint import CheckpointError

    ck = _tiny_sr_checkpoint(tmp_path)
    _edit_config(ck, **{section: [1, 2]})
    with pytest.raises(CheckpointError, match=section):
        load_model(checkpoint=ck, device="cpu")


def test_a_checkpoint_without_its_scale_is_refused_not_run_at_x4(tmp_path, small_png, capsys):
    """A config.json without "scale" was taken as x4: a x2 ddpm (whose weights are the
    same at every scale) super-resolved x4 without a word."""
    from napari_srmat.checkpoint import CheckpointError

    ck = _tiny_sr_checkpoint(tmp_path, "ddpm")
    cfg = json.loads((ck / "config.json").read_text())
    assert cfg.pop("scale") == 2
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="no 'scale'"):
        load_model(checkpoint=ck, device="cpu")
    out = tmp_path / "o.zarr"
    rc = main(["sr", "run", str(small_png), str(out), "--checkpoint", str(ck)])
    err = capsys.readouterr().err
    assert rc == 2 and "no 'scale'" in err and "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("section, field", [("arch", "res_scal"),
                                            ("options", "num_inference_step")])
def test_a_misspelt_config_field_is_refused_not_left_at_its_default(tmp_path, section, field):
    from napari_srmat.checkpoint import CheckpointError

    ck = _tiny_sr_checkpoint(tmp_path, "ddpm")
    _edit_config(ck, **{f"{section}__{field}": 2})
    with pytest.raises(CheckpointError, match=f"config.json '{section}'.*'{field}'"):
        load_model(checkpoint=ck, device="cpu")


@pytest.mark.parametrize("name, options, message", [
    ("ddpm", {"num_inference_step": 3}, "ddpm has no option 'num_inference_step'"),
    ("cnn", {"n_feat": 16}, "cnn has no option 'n_feat'"),
    ("cnn", {"color_fix": "none"}, "color_fix applies to onestep, ddpm, diffusers-local only"),
    ("bicubic", {"seed": 1}, "bicubic does not take it"),
])
def test_misspelt_or_foreign_model_options_are_refused(name, options, message):
    """load_model("ddpm", num_inference_step=3) sampled the default 20 steps, and an option
    of another model was dropped, without a word."""
    with pytest.raises(ValueError, match=message) as e:
        load_model(name, scale=2, device="cpu", pretrained=False, **options)
    assert "--" not in str(e.value)  # a Python caller is told its keyword, not a flag


def test_cli_no_color_fix_of_a_model_without_one_is_refused(small_png, tmp_path, capsys):
    out = tmp_path / "o.zarr"
    rc = main(["sr", "run", str(small_png), str(out), "--model", "bicubic", "--no-color-fix"])
    err = capsys.readouterr().err
    assert rc == 2 and "--no-color-fix" in err and "bicubic does not take it" in err
    assert "color_fix applies" not in err  # the flag only (both were named)
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("name, changes, field", [
    ("cnn", {"arch__n_feats": 100_000}, "n_feats"),
    ("cnn", {"arch__n_blocks": 10_000}, "n_blocks"),
    ("cnn", {"arch__n_feats": 100_000, "arch__n_blocks": 10_000}, "n_blocks"),
    ("cnn", {"in_channels": 100_000}, "in_channels"),
    ("onestep", {"arch__block_out_channels": [100_000, 100_000]}, "block_out_channels"),
    ("onestep", {"arch__layers_per_block": 10_000}, "layers_per_block"),
    ("ddpm", {"arch__num_train_timesteps": 200_000}, "num_train_timesteps"),
    ("ddpm", {"options__num_inference_steps": 0}, "num_inference_steps"),
    ("cnn", {"arch__n_feats": "wide"}, "n_feats"),
    ("onestep", {"arch__block_out_channels": 7}, "block_out_channels"),
])
def test_enormous_or_bad_sr_architecture_is_refused_before_allocating(tmp_path, name,
                                                                     changes, field):
    from napari_srmat.checkpoint import CheckpointError

    ck = _tiny_sr_checkpoint(tmp_path, name)
    _edit_config(ck, **changes)
    with _AllocationGuard(ck), pytest.raises(CheckpointError, match=field):
        load_model(checkpoint=ck, device="cpu")


@pytest.mark.parametrize("changes, field", [
    ({"decoder_channels": [100_000] * 5}, "decoder_channels"),
    ({"in_channels": 100_000}, "in_channels"),
    ({"encoder": "efficientnet-b7"}, "encoder"),
    ({"decoder_channels": 5}, "decoder_channels"),
])
def test_enormous_or_bad_uaed_architecture_is_refused_before_allocating(tmp_path, changes,
                                                                       field):
    from napari_srmat.checkpoint import CheckpointError
    from napari_srmat.edges import load_boundary_model

    ck = _tiny_uaed_checkpoint(tmp_path)
    _edit_config(ck, **changes)
    with _AllocationGuard(ck), pytest.raises(CheckpointError, match=field):
        load_boundary_model(ck, device="cpu")


def test_honest_checkpoints_still_load_under_the_guard(tmp_path):
    from napari_srmat.edges import load_boundary_model

    x = np.random.default_rng(0).random((1, 3, 8, 8), dtype=np.float32)
    for name in ("cnn", "onestep", "ddpm"):
        ck = _tiny_sr_checkpoint(tmp_path, name)
        with _AllocationGuard(ck):
            m = load_model(checkpoint=ck, device="cpu")
        assert m.name == name and m.predict(x).shape == (1, 3, 16, 16)
    ck = _tiny_uaed_checkpoint(tmp_path)
    with _AllocationGuard(ck):
        b = load_boundary_model(ck, device="cpu")
    assert b.predict(x)[0].shape == (1, 1, 8, 8)


@pytest.mark.parametrize("changes, field", [
    ({"threshold": 1.5}, "threshold"),
    ({"threshold": "high"}, "threshold"),
    ({"threshold_heyn": None}, "threshold_heyn"),
    ({"tta": "flips"}, "tta"),
])
def test_uaed_stored_thresholds_are_validated(tmp_path, changes, field):
    from napari_srmat.checkpoint import CheckpointError
    from napari_srmat.edges import load_boundary_model

    ck = _tiny_uaed_checkpoint(tmp_path)
    _edit_config(ck, **changes)
    with pytest.raises(CheckpointError, match=field):
        load_boundary_model(ck, device="cpu")


# ------------------------------------------------------------- 3. pixel sizes
BAD_PIXEL_SIZES = [float("inf"), float("nan"), 0.0, -1.0, float("-inf")]


@pytest.mark.parametrize("px", BAD_PIXEL_SIZES + ["0.5", True])
def test_check_pixel_size_is_the_one_rule(px):
    from napari_srmat.io import PixelSizeError, check_pixel_size

    assert issubclass(PixelSizeError, ValueError)
    with pytest.raises(PixelSizeError, match="pixel_size_um must be a finite positive"):
        check_pixel_size(px)
    assert check_pixel_size(None) is None and check_pixel_size(np.float32(0.25)) == 0.25


def test_a_0d_array_is_taken_as_its_number(tmp_path):
    """A pixel size given as a 0-d array (np.array(0.5): a loaded .npy, a reduction) was
    refused as 'pixel_size_um must be a finite positive number (micrometres per pixel),
    got array(0.5)' by measure_grain_size, super_resolve, predict_boundaries,
    plan_rescan and write_ome_zarr; now it is its number there and in check_number."""
    from napari_srmat.errors import check_number
    from napari_srmat.io import (
        PixelSizeError,
        check_pixel_size,
        check_pixel_size_yx,
        read_image,
        write_ome_zarr,
    )
    from napari_srmat.metrics.heyn import measure_intercepts

    got = check_pixel_size(np.array(0.5))
    assert got == 0.5 and type(got) is float
    assert check_pixel_size_yx(np.array(0.5)) == 0.5
    assert check_pixel_size_yx((np.array(0.25), np.float32(0.5))) == (0.25, 0.5)
    got = check_number("n_lines", np.array(3), lo=1, integer=True)
    assert got == 3 and type(got) is int
    for bad in (np.array(True), np.array(np.nan), np.array(-1.0)):
        with pytest.raises(PixelSizeError, match=r"got array\("):
            check_pixel_size(bad)
    m = np.zeros((40, 40), bool)
    m[:, 5::10] = True
    assert (measure_intercepts(m, pixel_size_um=np.array(0.5)).mean_intercept_um
            == measure_intercepts(m, pixel_size_um=0.5).mean_intercept_um)
    write_ome_zarr(np.zeros((8, 8), np.uint8), tmp_path / "a.zarr",
                   pixel_size_um=np.array(0.5))
    assert read_image(tmp_path / "a.zarr").pixel_size_um == 0.5


@pytest.mark.parametrize("px", BAD_PIXEL_SIZES)
def test_library_entries_refuse_bad_pixel_sizes(tmp_path, px):
    from napari_srmat.audit import AuditSession, summarize
    from napari_srmat.io import OmeZarrStreamWriter, PixelSizeError, write_ome_zarr
    from napari_srmat.metrics.heyn import measure_intercepts
    from napari_srmat.synth import generate_microstructure
    from napari_srmat.tiling import tiled_apply

    m = np.zeros((40, 40), bool)
    m[:, 5::10] = True
    with pytest.raises(PixelSizeError):
        measure_intercepts(m, pixel_size_um=px)
    with pytest.raises(PixelSizeError):
        generate_microstructure((32, 32), mean_grain_size_px=8, pixel_size_um=px)
    with pytest.raises(PixelSizeError):
        write_ome_zarr(np.zeros((8, 8), np.uint8), tmp_path / "a.zarr", pixel_size_um=px)
    with pytest.raises(PixelSizeError):
        OmeZarrStreamWriter(tmp_path / "b.zarr", (8, 8), np.uint8, chunks=(8, 8),
                            pixel_size_um=px)
    with pytest.raises(PixelSizeError):
        tiled_apply(np.zeros((8, 8), np.float32), lambda b: b, pixel_size_um=px)
    assert not list(tmp_path.iterdir())  # nothing half-written
    lr = np.zeros((8, 8), np.uint8)
    with pytest.raises(PixelSizeError):
        AuditSession.create(lr, np.zeros((16, 16), np.uint8), [], pixel_size_um=px)
    session = AuditSession.create(lr, np.zeros((16, 16), np.uint8), [])
    with pytest.raises(PixelSizeError):
        summarize(session, pixel_size_um=px)


@pytest.mark.parametrize("px", BAD_PIXEL_SIZES + ["0.5"])
def test_predict_boundaries_refuses_bad_pixel_sizes_without_out(px):
    """Without ``out`` the pixel size of predict_boundaries was never checked (-1 ran and
    returned maps); it goes through the one rule, before the model is loaded."""
    import napari_srmat as srmat
    from napari_srmat.io import PixelSizeError

    with pytest.raises(PixelSizeError, match="pixel_size_um must be a finite positive"):
        srmat.predict_boundaries(np.zeros((16, 16), np.uint8), pixel_size_um=px)


@pytest.mark.parametrize("argv", [
    ["heyn", "{mask}", "--pixel-size-um", "inf"],
    ["heyn", "{mask}", "--pixel-size-um", "nan"],
    ["synth", "{out}", "--size-px", "32", "--pixel-size-um", "inf"],
    ["demo", "--out", "{out}", "--stages", "heyn", "--pixel-size-um", "inf"],
    ["demo", "--out", "{out}", "--stages", "heyn", "--pixel-size-um", "-2"],
    ["audit", "report", "{mask}", "--out", "{out}/r.md", "--pixel-size", "inf"],
    ["audit", "report", "{mask}", "--out", "{out}/r.md", "--pixel-size", "0"],
])
def test_cli_pixel_size_flags_refuse_nonsense(tmp_path, capsys, argv):
    from PIL import Image

    mask = tmp_path / "mask.png"
    m = np.zeros((40, 40), np.uint8)
    m[:, 5::10] = 255
    Image.fromarray(m).save(mask)
    out = tmp_path / "out"
    argv = [a.format(mask=mask, out=out) for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2
    # the flag's names, the one typed among them (audit's --sr-pixel-size-um/
    # --pixel-size-um/--pixel-size since e3feb45)
    assert f"srmat {argv[0]}" in err
    assert re.search(r"error: argument (--[\w-]+/)*--pixel-size(-um)?[/:]", err), err
    assert "finite positive" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "--help" in err  # no usage block
    assert not out.exists()


@pytest.mark.gui
@pytest.mark.parametrize("text", ["inf", "nan", "0", "-1"])
def test_heyn_widget_refuses_bad_typed_pixel_sizes(make_napari_viewer, text):
    pytest.importorskip("napari")
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget
    from napari_srmat.widgets.layers import WidgetInputError

    w = GrainSizeWidget(make_napari_viewer())
    w.pixel_size.setText(text)
    with pytest.raises(WidgetInputError, match="finite positive"):
        w.pixel_size_um()


# ------------------------------------------------ 3. degenerate Heyn measurements
def _stripes(shape=(100, 100), period=10):
    m = np.zeros(shape, bool)
    m[:, 5::period] = True
    return m


@pytest.mark.parametrize("shape", [(1, 1), (2, 40), (40, 2)])
def test_masks_too_small_for_test_lines_are_refused(shape):
    from napari_srmat.metrics.heyn import MIN_MASK_SIDE, HeynError, measure_intercepts

    for value in (True, False):
        with pytest.raises(HeynError, match=f"at least {MIN_MASK_SIDE} x {MIN_MASK_SIDE} px"):
            measure_intercepts(np.full(shape, value))


def test_segments_outside_the_mask_are_refused():
    from napari_srmat.metrics.heyn import HeynError, measure_intercepts

    with pytest.raises(HeynError, match="no test line lies inside"):
        measure_intercepts(_stripes(), pattern="segments",
                           segments=[[[200, 200], [300, 300]]])


@pytest.mark.parametrize("skeletonize", [False, True])
def test_all_boundary_mask_reports_no_grain_size(skeletonize):
    from napari_srmat.metrics.heyn import measure_intercepts

    r = measure_intercepts(np.ones((100, 100), bool), pixel_size_um=1.0,
                           skeletonize=skeletonize)
    assert r.degenerate and r.mean_intercept_px is None
    assert r.astm_g is None and r.mean_intercept_um is None
    assert any("not a boundary map" in w for w in r.warnings)
    d = r.to_dict()
    assert d["mean_intercept_px"] is None and d["astm_g"] is None and d["warnings"]
    # a real boundary map is not flagged
    ok = measure_intercepts(_stripes(), pixel_size_um=1.0)
    assert not ok.degenerate and ok.warnings == [] and ok.mean_intercept_px > 0
    assert ok.astm_g is not None


def test_heyn_cli_warns_and_withholds_degenerate_figures(tmp_path, capsys):
    from PIL import Image

    full, stripes = tmp_path / "full.png", tmp_path / "stripes.png"
    Image.fromarray(np.full((80, 80), 255, np.uint8)).save(full)
    Image.fromarray(_stripes((80, 80)).astype(np.uint8) * 255).save(stripes)
    # the JSON is printed, and the exit status says that no grain size was measured
    assert main(["heyn", str(full), str(stripes), "--pixel-size-um", "0.5", "--json"]) == 2
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert out["mean_intercept_px"] is None and out["astm_g"] is None
    assert out["image_mean_intercept_px"] is None and out["warnings"]
    assert out["per_image"][0]["mean_intercept_px"] is None
    assert out["per_image"][0]["warnings"]
    assert out["per_image"][1]["mean_intercept_px"] is not None
    assert "warning" in cap.err and "not a boundary map" in cap.err
    assert cap.err.strip().splitlines()[-1].startswith(
        "srmat heyn: error: no grain size measured: 1 of 2 mask(s) are not boundary maps")
    assert main(["heyn", str(full), "--pixel-size-um", "0.5"]) == 2
    cap = capsys.readouterr()
    assert "ASTM G" not in cap.out and "not a boundary map" in cap.err
    one = tmp_path / "one.png"
    Image.fromarray(np.full((1, 1), 255, np.uint8)).save(one)
    assert main(["heyn", str(one)]) == 2
    assert "at least 3 x 3 px" in capsys.readouterr().err


def test_heyn_cli_without_any_grain_size_exits_nonzero(tmp_path, capsys):
    """srmat heyn on masks without a boundary (an empty mask, a --threshold above the
    map) printed 'pooled: no boundary intersections found' and exited 0: a script or a
    batch went on as if the specimen were measured. The per-image results are still
    printed (one JSON object with --json), then one error line and exit 2; a set where
    one mask is empty still measures the others (exit 0, a warning)."""
    from PIL import Image

    empty, stripes = tmp_path / "empty.png", tmp_path / "stripes.png"
    Image.fromarray(np.zeros((80, 80), np.uint8)).save(empty)
    Image.fromarray(_stripes((80, 80)).astype(np.uint8) * 255).save(stripes)
    assert main(["heyn", str(empty), "--pixel-size-um", "0.5"]) == 2
    cap = capsys.readouterr()
    assert f"{empty}: no valid mean intercept" in cap.out and "pooled" not in cap.out
    last = cap.err.strip().splitlines()[-1]
    assert last.startswith("srmat heyn: error: no grain size measured: no test line "
                           "crosses a boundary in the mask") and "Traceback" not in cap.err
    again = tmp_path / "empty 2.png"  # the same pixels, another field (one file twice is
    Image.fromarray(np.zeros((80, 80), np.uint8)).save(again)  # refused)
    assert main(["heyn", str(empty), str(again), "--threshold", "0.5", "--json"]) == 2
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert out["mean_intercept_px"] is None and out["n_images"] == 2
    assert "any of the 2 masks" in cap.err and "--threshold 0.5" in cap.err
    assert main(["heyn", str(empty), str(stripes), "--json"]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out)["mean_intercept_px"] > 0 and "error" not in cap.err
    assert "no test line crosses a boundary" in cap.err  # the warning about empty.png


def test_heyn_error_withholds_degenerate_predictions():
    from napari_srmat.metrics.heyn import heyn_error

    gt = [_stripes(), _stripes()]
    out = heyn_error([np.ones((100, 100), bool), _stripes()], gt, pattern="grid", n_lines=10)
    assert out["heyn_pred_px"] is None and out["heyn_error_pct"] is None
    assert out["delta_px"] is None and out["heyn_gt_px"] is not None
    assert any("not a boundary map" in w for w in out["warnings"])
    good = heyn_error([_stripes(), _stripes()], gt, pattern="grid", n_lines=10)
    assert good["heyn_error_pct"] == pytest.approx(0.0) and good["warnings"] == []


@pytest.mark.gui
def test_heyn_widget_shows_a_warning_not_a_number_for_an_all_boundary_layer(
        make_napari_viewer, qtbot):
    pytest.importorskip("napari")
    from napari_srmat.widgets.heyn_widget import GrainSizeWidget

    viewer = make_napari_viewer()
    layer = viewer.add_labels(np.ones((60, 60), np.uint8), name="full",
                              metadata={"pixel_size_um": 0.5})
    w = GrainSizeWidget(viewer)
    w.layer_combo.value = layer
    w.run()
    qtbot.waitUntil(lambda: w.measurement is not None, timeout=20000)
    st = w.measurement.stats
    assert st["astm_g"] is None and st["mean_intercept_um"] is None and st["warnings"]
    assert "not a boundary map" in w.status.text()


# ------------------------------------------------ 4. degenerate probability maps
def _maps(n=2, size=96):
    from _helpers import fake_predictions

    return fake_predictions(n, size=size)


def test_evaluate_maps_constant_map_reports_no_heyn_error():
    from napari_srmat.metrics.edges import evaluate_maps

    _, masks = _maps()
    const = [np.full(m.shape, 0.5) for m in masks]
    res = evaluate_maps(const, masks)
    assert res["ap"] is not None  # AP of a constant map is what it is (the positive rate)
    assert res["heyn_error_pct"] is None and res["heyn_pred_px"] is None
    assert res["heyn_gt_px"] is not None
    assert any("constant" in w for w in res["warnings"])
    assert all(r["heyn_error_pct"] is None for r in res["per_image"])
    json.dumps(res)


@pytest.mark.parametrize("threshold, phrase", [(0.0, "every pixel"), (1.0, "no pixel")])
def test_evaluate_maps_threshold_at_the_edge_reports_no_heyn_error(threshold, phrase):
    from napari_srmat.metrics.edges import evaluate_maps

    probs, masks = _maps()
    probs = [np.clip(p, 0.01, 0.99) for p in probs]
    res = evaluate_maps(probs, masks, threshold=threshold)
    assert res["heyn_error_pct"] is None and res["heyn_pred_px"] is None
    assert any(phrase in w for w in res["warnings"])
    good = evaluate_maps(probs, masks)
    assert good["heyn_error_pct"] is not None and good["warnings"] == []


def test_eval_maps_cli_constant_map(tmp_path, capsys):
    from PIL import Image

    _, masks = _maps(1)
    for d in ("prob", "masks"):
        (tmp_path / d).mkdir()
    Image.fromarray(masks[0]).save(tmp_path / "masks" / "a.png")
    Image.fromarray(np.full(masks[0].shape, 128, np.uint8)).save(tmp_path / "prob" / "a.png")
    argv = ["eval-maps", "--prob", str(tmp_path / "prob"), "--masks", str(tmp_path / "masks")]
    assert main(argv + ["--json"]) == 0
    cap = capsys.readouterr()
    res = json.loads(cap.out)
    assert res["heyn_error_pct"] is None and res["warnings"]
    assert "constant" in cap.err
    assert main(argv) == 0
    cap = capsys.readouterr()
    assert "error " not in cap.out.split("Heyn")[-1] and "%" not in cap.out
    assert "constant" in cap.err


def test_edges_evaluate_withholds_degenerate_heyn_figures():
    from napari_srmat.edges.evaluate import evaluate_probability_maps

    probs, masks = _maps()
    masks = [m > 0 for m in masks]
    const = [np.full(m.shape, 0.3, np.float32) for m in masks]
    summary, rows, _ = evaluate_probability_maps(const, masks, 0.0)
    for key in ("heyn_pred_px", "delta_px", "heyn_error_pct", "heyn_grid_pred_px",
                "grid_delta_px", "heyn_grid_error_pct"):
        assert summary[key] is None, key
    assert summary["heyn_gt_px"] is not None and summary["warnings"]
    assert all(r["heyn_error_pct"] is None for r in rows)
    # threshold 0 on a real map: every pixel is boundary
    summary, _, _ = evaluate_probability_maps(probs, masks, 0.0)
    assert summary["heyn_error_pct"] is None
    assert any("every pixel" in w for w in summary["warnings"])
    ok, _, _ = evaluate_probability_maps(probs, masks, 0.5)
    assert ok["heyn_error_pct"] is not None and ok["warnings"] == []


def test_heyn_calibrated_threshold_never_picks_a_degenerate_threshold():
    from napari_srmat.edges.evaluate import heyn_calibrated_threshold

    probs, masks = _maps()
    masks = [m > 0 for m in masks]
    const = [np.full(m.shape, 0.3, np.float32) for m in masks]
    thr, err, warns = heyn_calibrated_threshold(const, masks, return_warnings=True)
    assert thr is None and err is None and "no candidate" in warns[0]
    # 0.0 binarises everything: not a candidate, although it is in the list
    thr, err = heyn_calibrated_threshold(probs, masks, thresholds=np.array([0.0, 0.3, 0.5]))
    assert thr in (0.3, 0.5) and err is not None
    thr, _, warns = heyn_calibrated_threshold(probs, masks, thresholds=np.array([0.5, 0.6]),
                                              return_warnings=True)
    assert thr is not None and any("edge of the search range" in w for w in warns)


def test_experiment_table_prints_withheld_figures_as_na():
    from napari_srmat.studies.sr_vs_original import format_table

    row = {"heyn_pred_px": None, "heyn_gt_px": 10.0, "delta_px": None, "heyn_error_pct": None,
           "heyn_grid_error_pct": None, "ap": 0.2, "roc_auc": 0.5,
           "warnings": ["the probability maps are constant"]}
    table = format_table({"SR": row})
    assert "n/a" in table and "constant" in table


def test_edges_eval_cli_prints_na_for_withheld_figures(tmp_path, capsys):
    from PIL import Image

    from napari_srmat.synth import generate_microstructure

    for d in ("images", "masks"):
        (tmp_path / d).mkdir()
    ms = generate_microstructure((64, 64), mean_grain_size_px=14, seed=3)
    Image.fromarray(ms.image).save(tmp_path / "images" / "a.png")
    Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(tmp_path / "masks" / "a.png")
    rc = main(["edges", "eval", "--images", str(tmp_path / "images"), "--masks",
               str(tmp_path / "masks"), "--threshold", "0", "--no-baseline"])
    cap = capsys.readouterr()
    assert rc == 0 and "heyn_error_pct=n/a" in cap.out and "every pixel" in cap.err


def test_eval_maps_plot_never_replaces_a_file_it_did_not_write(tmp_path, capsys):
    """``srmat eval-maps --plot``: a user's PNG is never replaced (not even with
    --overwrite), a figure napari-srmat wrote only with --overwrite, and the figure may
    not be written into an input folder."""
    from PIL import Image

    from napari_srmat.metrics.edges import PR_ROC_FIGURE
    from napari_srmat.outputs import is_our_figure

    probs, masks = _maps(2)
    for d in ("prob", "masks"):
        (tmp_path / d).mkdir()
    for i, (p, m) in enumerate(zip(probs, masks)):
        Image.fromarray((np.clip(p, 0, 1) * 255).astype(np.uint8)).save(
            tmp_path / "prob" / f"a{i}.png")
        Image.fromarray(m).save(tmp_path / "masks" / f"a{i}.png")
    argv = ["eval-maps", "--prob", str(tmp_path / "prob"), "--masks", str(tmp_path / "masks"),
            "--lines", "20"]
    mine = tmp_path / "holiday.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(mine)
    before = mine.read_bytes()
    assert main(argv + ["--plot", str(mine)]) == 2
    err = capsys.readouterr().err  # not "pass --overwrite": that would not help
    assert "not written by napari-srmat" in err and "--overwrite" not in err
    assert main(argv + ["--plot", str(mine), "--overwrite"]) == 2
    assert "not written by napari-srmat" in capsys.readouterr().err
    assert mine.read_bytes() == before
    curves = tmp_path / "curves.png"
    assert main(argv + ["--plot", str(curves)]) == 0 and is_our_figure(curves, PR_ROC_FIGURE)
    assert main(argv + ["--plot", str(curves)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(argv + ["--plot", str(curves), "--overwrite"]) == 0
    victim = tmp_path / "prob" / "a0.png"
    kept = victim.read_bytes()
    assert main(argv + ["--plot", str(victim), "--overwrite"]) == 2
    assert "input" in capsys.readouterr().err and victim.read_bytes() == kept
    # a figure of another kind is not replaced by this command's figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from napari_srmat.outputs import save_figure_png

    fig = Figure()
    FigureCanvasAgg(fig)
    other = save_figure_png(fig, tmp_path / "other.png", kind="something else")
    assert main(argv + ["--plot", str(other), "--overwrite"]) == 2
    assert is_our_figure(other, "something else")


def test_save_figure_png_checks_just_before_writing(tmp_path):
    """The library's figure writer itself never replaces a file napari-srmat did not
    write (a file created while a long job ran), and replaces its own only when asked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from napari_srmat.outputs import OutputExistsError, is_our_figure, save_figure_png

    fig = Figure()
    FigureCanvasAgg(fig)
    user = tmp_path / "user.png"
    user.write_bytes(b"\x89PNG not ours")
    with pytest.raises(OutputExistsError, match="not written by napari-srmat"):
        save_figure_png(fig, user, kind="x", overwrite=True)
    assert user.read_bytes() == b"\x89PNG not ours"
    ours = save_figure_png(fig, tmp_path / "ours.png", kind="x")
    with pytest.raises(OutputExistsError, match="exists"):
        save_figure_png(fig, ours, kind="x")
    assert save_figure_png(fig, ours, kind="x", overwrite=True) == ours and is_our_figure(ours)



@pytest.mark.parametrize("argv, message", [
    (["heyn", "{mask}", "--pixel-size-um", "1e300"], "between 1e-05 and 100000"),
    (["heyn", "{mask}", "--pixel-size-um", "1e-300"], "between 1e-05 and 100000"),
    (["heyn", "{mask}", "--lines", "100000000"],
     "argument --lines: the number of test lines must be an integer in [1, 100000]"),
    (["register", "{image}", "{image}", "--scale", "0.01"],
     "scale must be a number in [0.0625, 16]"),
    (["plan-rescan", "{image}", "--roi-size-px", "100000"], "larger than the image"),
    (["heyn", "{mask}", "--seed", "-1"], "argument --seed: seed must be an integer >= 0"),
    (["synth", "{mask}.d", "--seed", "x"], "argument --seed: seed must be an integer >= 0"),
    (["grain-size", "{image}", "--bogus"], "unrecognized arguments: --bogus (see `srmat "
                                           "grain-size --help`)"),
])
def test_absurd_sizes_are_refused_before_any_work(tmp_path, capsys, argv, message):
    """Numbers that would make a command run for minutes or exhaust memory (found by a
    bad-input sweep: 1e8 test lines, a 100x registration enlargement, a ROI larger than
    the image, pixel sizes that overflow G) get one clear line and exit status 2."""
    from PIL import Image

    mask = tmp_path / "mask.png"
    m = np.zeros((64, 64), np.uint8)
    m[:, 5::10] = 255
    Image.fromarray(m).save(mask)
    image = tmp_path / "image.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)).save(image)
    argv = [a.format(mask=mask, image=image) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"srmat {argv[0]}")


def test_histogram_bins_are_bounded():
    from napari_srmat.metrics.edges import MAX_BINS, EdgeHistogram, EdgeMetricsError

    assert EdgeHistogram(MAX_BINS).n_bins == MAX_BINS
    with pytest.raises(EdgeMetricsError, match=r"an integer in \[2, "):
        EdgeHistogram(MAX_BINS + 1)


def test_console_warnings_are_one_line(capsys):
    """From the console, a Python warning reads ``srmat CMD: warning: ...`` on one line,
    without the source line Python would print after it."""
    import warnings

    from napari_srmat.cli import _one_line_warnings

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        _one_line_warnings("srmat sr")
        warnings.warn("no shipped weights for 'cnn' x2:\n  the network is untrained", UserWarning,
                      stacklevel=2)
    err = capsys.readouterr().err
    assert err == "srmat sr: warning: no shipped weights for 'cnn' x2: the network is untrained\n"


def test_damaged_files_are_named_in_one_line(tmp_path, capsys):
    """A truncated training image and a Zarr mask with a damaged chunk are reported as
    unreadable, with their path, instead of an internal error."""
    from PIL import Image

    from napari_srmat.io import write_ome_zarr

    good = tmp_path / "train" / "a.png"
    good.parent.mkdir()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(good)
    (tmp_path / "train" / "b.png").write_bytes(good.read_bytes()[:60])
    rc = main(["sr", "train", "--data", str(tmp_path / "train"), "--out", str(tmp_path / "run"),
               "--steps", "1", "--patch", "32"])  # a.png holds a patch: b.png is reached
    err = capsys.readouterr().err
    assert rc == 2 and "b.png" in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("srmat sr train: error:")
    mask = np.zeros((64, 64), np.uint8)
    mask[:, ::8] = 255
    store = tmp_path / "mask.zarr"
    write_ome_zarr(mask, store, chunks=32)
    chunk = next(p for p in sorted((store / "0").rglob("*")) if p.is_file()
                 and not p.name.startswith("."))
    chunk.write_bytes(b"\x00garbage" * 3)
    rc = main(["heyn", str(store), "--threshold", "0.5"])
    err = capsys.readouterr().err
    assert rc == 2 and "mask.zarr" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["sr", "run", "{image}", "{out}", "--model", "bicubic", "--overlap", "-1"],
     "argument --overlap: an integer >= 0, got -1"),
    (["demo", "--out", "{out}", "--stages", ","], "no demo stage"),
    (["demo", "--out", "{out}", "--size", "100000000"], "--size must be between 32 and 4096"),
    # refused only after the demo folder and its micrograph were written
    (["demo", "--out", "{out}", "--size", "64", "--device", "bogus"],
     "srmat demo: error: unknown device 'bogus'"),
    (["experiment", "sr-vs-original", "--data", "{data}", "--out", "{out}2",
      "--max-images", "-1"], "argument --max-images: an integer >= 1, got -1"),
])
def test_silent_misreadings_are_refused(tmp_path, capsys, argv, message):
    """Values that were silently changed or ignored (an overlap of -1 became 21, an empty
    stage list ran nothing, --max-images -1 dropped the last image) are refused."""
    from PIL import Image

    image = tmp_path / "image.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(image)
    argv = [a.format(image=image, out=tmp_path / "out", data=tmp_path) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:  # refused by argparse
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


@pytest.mark.parametrize("extra, message", [
    ([], ": folder not found"),  # no train/ split in --data
    (["--sr-model", "bogus"], "unknown SR model 'bogus'"),
])
def test_sr_vs_original_failing_on_its_data_or_model_leaves_no_folder(tmp_path, capsys,
                                                                      extra, message):
    """`srmat experiment sr-vs-original --data EMPTY --out OUT` said 'folder not found:
    EMPTY/train/images' (exit 2) but left OUT behind (its marker only): the folder was
    created before the data and the SR model were loaded."""
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    rc = main(["experiment", "sr-vs-original", "--data", str(data), "--out",
               str(tmp_path / "out"), "--device", "cpu", *extra])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.mark.parametrize("argv, message", [
    (["sr", "run", "{image}", "{out}", "--model", "bicubic", "--tile", "0"],
     "srmat sr run: error: argument --tile: an integer >= 1, got 0"),
    (["sr", "run", "{image}", "{out}", "--model", "bicubic", "--tile", "64"],
     "srmat sr run: error: --tile 64 must be larger than 2 x --overlap 32"),
    (["sr", "run", "{image}", "{out}", "--model", "cnn", "--tile", "20", "--overlap", "4"],
     "--tile 20 must be larger than 2 x the model's receptive field"),
    (["sr", "run", "{image}", "{out}", "--model", "bicubic", "--batch-size", "0"],
     "argument --batch-size: an integer >= 1, got 0"),
    (["sr", "run", "{image}", "{out}", "--model", "bicubic", "--scale", "-2"],
     "argument --scale: an integer >= 1, got -2"),
    (["sr", "train", "--synthetic", "1", "--out", "{out}", "--batch-size", "0"],
     "argument --batch-size: an integer >= 1, got 0"),
    (["sr", "train", "--synthetic", "1", "--out", "{out}", "--train-steps", "-3"],
     "argument --train-steps: an integer >= 1, got -3"),
    (["sr", "train", "--synthetic", "1", "--out", "{out}", "--scale", "3"],
     "argument --scale: invalid choice: 3"),
    (["sr", "train", "--synthetic", "1", "--out", "{out}", "--patch", "20"],
     "--patch 20 must be a positive multiple of 4 x --scale (16)"),
    (["sr", "train", "--synthetic", "1", "--out", "{out}", "--val-every", "0"],
     "argument --val-every: an integer >= 1, got 0"),
    (["sr", "train", "--synthetic", "-1", "--out", "{out}"],
     "argument --synthetic: an integer >= 0, got -1"),
    (["sr", "train", "--synthetic", "1", "--out", "{out}", "--time-limit", "-1"],
     "argument --time-limit: a finite number > 0"),
    (["sr", "train", "--synthetic", "1", "--out", "{out}", "--lr", "nan"],
     "argument --lr: the learning rate must be a finite number >= 0"),
    # AdamW's first step (10 x the rate) overflowed float32: 'internal error: RuntimeError'
    (["sr", "train", "--synthetic", "1", "--out", "{out}", "--lr", "1e40"],
     "argument --lr: the learning rate must be a finite number >= 0 and at most 3.4e+37"),
    (["edges", "pretrain", "{image}", "--out", "{out}", "--lr", "1e38"],
     "argument --lr: the learning rate must be a finite number >= 0 and at most 3.4e+37"),
    (["audit", "candidates", "{image}", "{image}", "--out", "{out}.json", "--tile", "7"],
     "argument --tile: an integer >= 16, got 7"),
    (["audit", "candidates", "{image}", "{image}", "--out", "{out}.json", "--scale", "0"],
     "argument --scale: an integer >= 1, got 0"),
    (["audit", "candidates", "{image}", "{image}", "--out", "{out}.json", "--tolerance-px",
      "-1"], "argument --tolerance-px: a finite number >= 0"),
    (["audit", "candidates", "{image}", "{image}", "--out", "{out}.json", "--min-score",
      "nan"], "argument --min-score: a finite number, got nan"),
    (["audit", "candidates", "{image}", "{image}", "--out", "{out}.json",
      "--residual-floor", "2"], "argument --residual-floor: 'auto' or a number in (0, 1]"),
    (["edges", "train", "--data", "{out}", "--epochs", "0"],
     "srmat edges train: error: argument --epochs: an integer >= 1, got 0"),
    (["edges", "train", "--data", "{out}", "--steps-per-epoch", "0"],
     "argument --steps-per-epoch: an integer >= 1, got 0"),
    (["edges", "train", "--data", "{out}", "--crop", "16"],
     "argument --crop: an integer >= 32, got 16"),
    (["edges", "train", "--data", "{out}", "--pretrain-epochs", "-1"],
     "argument --pretrain-epochs: an integer >= 0, got -1"),
    (["edges", "train", "--data", "{out}", "--lr", "inf"],
     "argument --lr: the learning rate must be a finite number >= 0"),
    (["edges", "pretrain", "{image}", "--out", "{out}", "--steps", "0"],
     "argument --steps: an integer >= 1, got 0"),
    (["edges", "pretrain", "{image}", "--out", "{out}", "--mask-ratio", "1"],
     "argument --mask-ratio: a number between 0 and 1 (exclusive), got 1.0"),
    (["edges", "pretrain", "{image}", "--out", "{out}", "--crop", "100"],
     "srmat edges pretrain: error: --crop 100 must be a multiple of --patch 16, at least 2 x "
     "--patch"),
    (["edges", "predict", "{image}", "--out", "{out}", "--tile", "0"],
     "argument --tile: an integer >= 1, got 0"),
    (["edges", "predict", "{image}", "--out", "{out}", "--tile", "64"],
     "srmat edges predict: error: --tile 64 must be larger than 2 x --overlap 32"),
    (["edges", "eval", "--images", "{out}", "--masks", "{out}", "--threshold", "1.5"],
     "argument --threshold: threshold must be a number in [0, 1], got 1.5"),
    (["experiment", "sr-vs-original", "--out", "{out}", "--epochs", "0"],
     "argument --epochs: an integer >= 1, got 0"),
    (["experiment", "sr-vs-original", "--out", "{out}", "--max-images", "0"],
     "argument --max-images: an integer >= 1, got 0"),
    (["experiment", "sr-vs-original", "--out", "{out}", "--train-crop", "8"],
     "argument --train-crop: an integer >= 32, got 8"),
])
def test_bad_numbers_name_the_flag(tmp_path, capsys, argv, message):
    """Bad numbers given to srmat sr run / sr train / audit candidates were told with the
    library's parameter names ('tile (0) must be larger than 2 * overlap', 'batch_size
    must be >= 1', 'steps and batch_size must be >= 1', 'tolerance_px must be ...',
    'residual_floor and std_floor must be in (0, 1]'), and --val-every 0 crashed the
    training; so did srmat edges train / pretrain / predict / eval and srmat experiment
    sr-vs-original ('epochs and batch_size must be >= 1', 'steps_per_epoch must be >= 1',
    'crop 100 is not a multiple of the patch side 16', 'tile must be larger than
    2*overlap', the last only after upscaling every image): every one is now one line
    naming the flag, before anything is written."""
    from PIL import Image

    image = tmp_path / "image.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(image)
    argv = [a.format(image=image, out=tmp_path / "out") for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's error (the one line is printed first)
        rc = exc.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and message in lines[0], err
    for name in ("tile_size", "batch_size", "tolerance_px", "min_score", "residual_floor",
                 "time_limit_s", "steps and", "epochs and", "steps_per_epoch",
                 "mask_ratio", "max_images", "2*overlap", "patch side"):
        assert name not in err
    assert not any(tmp_path.glob("out*"))


def test_damaged_zarr_metadata_names_the_store(tmp_path, capsys):
    from napari_srmat.io import write_ome_zarr

    store = tmp_path / "scan.ome.zarr"
    write_ome_zarr(np.zeros((64, 64), np.uint8), store, chunks=32)
    (store / "0" / ".zarray").write_text("{bad")
    rc = main(["info", str(store)])
    err = capsys.readouterr().err
    assert rc == 2 and "scan.ome.zarr" in err and "not valid JSON" in err
    assert len(err.strip().splitlines()) == 1


def test_grain_size_error_names_the_image_of_several(tmp_path, capsys):
    from PIL import Image

    good = tmp_path / "good.png"
    m = np.zeros((40, 40), np.uint8)
    m[:, 5::10] = 255
    Image.fromarray(m).save(good)
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tiny)
    rc = main(["grain-size", "--mask", str(good), str(tiny)])
    err = capsys.readouterr().err
    assert rc == 2 and f"{tiny}: " in err and "too small" in err


def test_heyn_error_names_the_mask_of_several(tmp_path, capsys):
    """srmat heyn said 'mask of 1 x 1 px is too small ...' without saying which of the
    masks it was; every per-file error now starts with the file's path (the rule of
    srmat grain-size)."""
    from PIL import Image

    good = tmp_path / "good.png"
    m = np.zeros((40, 40), np.uint8)
    m[:, 5::10] = 255
    Image.fromarray(m).save(good)
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tiny)
    rc = main(["heyn", str(good), str(tiny)])
    # the good mask's warnings (no pixel size) come before; one error line
    err = [line for line in capsys.readouterr().err.splitlines() if ": error: " in line]
    assert rc == 2 and len(err) == 1
    assert err[0].startswith(f"srmat heyn: error: {tiny}: ") and "too small" in err[0]


def _cli_options(parser, name):
    """(command, action) of every argument of ``parser`` and its subcommands."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                yield from _cli_options(subparser, f"{name} {sub}")
        else:
            yield name, action


def test_help_of_every_command_explains_every_option():
    """Every option of every srmat command says what it is (several had no help at all,
    e.g. srmat demo --pixel-size-um and srmat synth --boundary-width, which did not state
    their units, and some 40 options of srmat edges train / pretrain / predict / eval
    and srmat experiment), pixel sizes state micrometres, and no help shows a doubled
    '%%' (srmat grain-size's description read 'a 95%% interval')."""
    import argparse

    from napari_srmat.cli import build_parser
    from napari_srmat.cli.sr import build_sr_parser

    options = [*_cli_options(build_parser(), "srmat"), *_cli_options(build_sr_parser(),
                                                                     "srmat sr")]
    seen = {name for name, _ in options}
    assert {"srmat heyn", "srmat sr train", "srmat edges train", "srmat edges pretrain",
            "srmat edges predict", "srmat edges eval", "srmat experiment sr-vs-original",
            "srmat experiment three-arm", "srmat audit candidates"} <= seen
    silent = [(name, a.option_strings or a.dest) for name, a in options
              if not isinstance(a, argparse._HelpAction) and not a.help]
    assert silent == []
    for name, a in options:
        if any("pixel-size" in o for o in a.option_strings):
            assert "µm" in a.help or " um" in a.help, (name, a.help)
    parsers = [build_parser(), build_sr_parser()]
    while parsers:
        p = parsers.pop()
        assert "%%" not in p.format_help(), p.prog
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                parsers.extend(a.choices.values())


@pytest.mark.parametrize("command", ["heyn", "grain-size --mask", "eval-maps"])
@pytest.mark.parametrize("flag, value, message", [
    ("--lines", "0", "argument --lines: the number of test lines must be an integer in "
                     "[1, 100000], got 0"),
    ("--lines", "2.5", "argument --lines: the number of test lines must be an integer"),
    ("--margin", "nan", "argument --margin: margin must be a number in [0, 0.5), got nan"),
    ("--margin", "0.5", "argument --margin: margin must be a number in [0, 0.5), got 0.5"),
])
def test_heyn_flags_are_checked_once_before_any_file(tmp_path, capsys, command, flag,
                                                      value, message):
    """--lines and --margin were checked while measuring each file: the error named the
    library's n_lines and (srmat heyn, grain-size) the first file as if it were bad, and
    srmat grain-size repeated it for every image. Now argparse refuses the flag once,
    before any file is read."""
    from PIL import Image

    mask = tmp_path / "mask.png"
    m = np.zeros((64, 64), np.uint8)
    m[:, 5::10] = 255
    Image.fromarray(m).save(mask)
    files = {"heyn": [str(mask), str(mask)], "grain-size": [str(mask), str(mask)],
             "eval-maps": ["--prob", str(tmp_path), "--masks", str(tmp_path)]}
    if command == "eval-maps" and flag == "--margin":
        pytest.skip("srmat eval-maps has no --margin")
    argv = [*command.split(), *files[command.split()[0]], flag, value]
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and message in err[0]
    assert str(mask) not in err[0]


@pytest.mark.parametrize("command", ["heyn", "eval-maps"])
@pytest.mark.parametrize("value", ["2", "nan", "-0.1"])
def test_threshold_flag_is_checked_once_before_any_file(tmp_path, capsys, command, value):
    """srmat heyn --threshold 2 was checked per file, with the first mask's path in front
    as if the file were bad (and not at all on a boolean mask); both commands now refuse
    it once, naming the flag."""
    from PIL import Image

    mask = tmp_path / "mask.png"
    m = np.zeros((64, 64), np.uint8)
    m[:, 5::10] = 255
    Image.fromarray(m).save(mask)
    files = {"heyn": [str(mask)], "eval-maps": ["--prob", str(tmp_path), "--masks",
                                                str(tmp_path)]}
    with pytest.raises(SystemExit) as info:
        main([command, *files[command], "--threshold", value])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1
    assert "argument --threshold: threshold must be a number in [0, 1]" in err[0]
    assert str(mask) not in err[0]


def test_output_piped_into_head_ends_quietly(tmp_path):
    """`srmat info X | head -3` printed 'srmat info: error: [Errno 32] Broken pipe' once the
    reader had gone; a closed stdout now ends the command quietly with 141 (128 + SIGPIPE,
    what a shell reports for such a pipeline)."""
    import os
    import subprocess
    import sys

    from PIL import Image

    image = tmp_path / "image.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(image)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "napari_srmat", "info", str(image), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before the command writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""
