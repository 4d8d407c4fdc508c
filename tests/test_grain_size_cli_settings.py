"""``srmat grain-size --json``'s ``settings`` name the boundary model it loaded as the
Simple tab's report does (:func:`napari_srmat.grainsize.measured_settings`).

Before: the command recorded the checkpoint path only: the shipped weights and a user's
weights trained into their folder were told apart by nothing, and a measurement in the
GUI, the CLI and a notebook did not record the same settings.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from napari_srmat.cli import main

pytest.importorskip("torch")

#: The keys ``settings`` had before the model's name and digest were added (kept).
OLD_IMAGE_KEYS = ["mask", "pattern", "lines", "seed", "margin", "mask_scale", "checkpoint", "tta",
                  "threshold", "threshold_rule", "threshold_params"]


def _micrograph(tmp_path):
    from napari_srmat.synth import generate_microstructure

    path = tmp_path / "micrograph.png"
    ms = generate_microstructure((160, 160), mean_grain_size_px=24, seed=3)
    Image.fromarray(ms.image).save(path)
    return path


def _mask(tmp_path):
    """A boundary mask (PNG) of the same synthetic structure as :func:`_micrograph`."""
    from napari_srmat.synth import generate_microstructure

    path = tmp_path / "mask.png"
    ms = generate_microstructure((160, 160), mean_grain_size_px=24, seed=3)
    Image.fromarray(ms.boundaries.astype(np.uint8) * 255).save(path)
    return path


def _json(capsys, argv) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _settings(capsys, argv) -> dict:
    return _json(capsys, argv)["settings"]


def test_srmat_grain_size_names_the_shipped_model_and_its_digest(tmp_path, capsys):
    from napari_srmat.grainsize import (
        MEASURED_SETTING_KEYS,
        SHIPPED_BOUNDARY_MODEL,
        SHIPPED_BOUNDARY_WEIGHTS_SHA256,
    )

    settings = _settings(capsys, ["grain-size", str(_micrograph(tmp_path)), "--json",
                                  "--device", "cpu"])
    assert list(settings) == OLD_IMAGE_KEYS + list(MEASURED_SETTING_KEYS)
    assert settings["boundary model"] == SHIPPED_BOUNDARY_MODEL
    assert settings["boundary model weights sha256"] == SHIPPED_BOUNDARY_WEIGHTS_SHA256
    assert settings["skeletonize"] is True


def test_srmat_grain_size_names_a_users_weights_by_their_folder(tmp_path, capsys):
    """Tiny weights of the user's, saved as a checkpoint (safetensors + config.json):
    named by their folder and their digest, as measured_settings names them."""
    import torch

    from napari_srmat.checkpoint import save_checkpoint
    from napari_srmat.edges.infer import load_boundary_model
    from napari_srmat.edges.model import UAEDNet, default_arch_config
    from napari_srmat.grainsize import SHIPPED_BOUNDARY_WEIGHTS_SHA256, measured_settings

    torch.manual_seed(0)
    folder = tmp_path / "my weights"
    save_checkpoint(folder, UAEDNet("tiny").state_dict(),
                    {**default_arch_config("tiny"), "threshold": 0.5})
    assert {p.name for p in folder.iterdir()} >= {"model.safetensors", "config.json"}
    path = _micrograph(tmp_path)
    argv = ["grain-size", str(path), "--json", "--device", "cpu", "--checkpoint", str(folder)]
    code = main(argv)  # an untrained model may find no grain size (exit 2): still recorded
    out = json.loads(capsys.readouterr().out)
    assert code in (0, 2) and not out["errors"]
    settings = out["settings"]
    expected = measured_settings(load_boundary_model(folder, device="cpu"))
    assert {k: settings[k] for k in expected} == expected
    assert settings["boundary model"] == settings["checkpoint"]
    assert "my weights" in settings["boundary model"]
    assert settings["boundary model weights sha256"] != SHIPPED_BOUNDARY_WEIGHTS_SHA256


def test_a_masks_settings_name_no_model_and_record_its_thinning(tmp_path, capsys):
    """--mask runs no model: no model rows; but its masks are thinned as an image's map
    is (measure_grain_size's MEASURED_SKELETONIZE), and ``skeletonize`` says so. Failed
    before: a mask run's settings had no ``skeletonize`` (KeyError)."""
    from napari_srmat.grainsize import MEASURED_SETTING_KEYS, MEASURED_SKELETONIZE

    settings = _settings(capsys, ["grain-size", str(_mask(tmp_path)), "--mask", "--json"])
    assert not set(MEASURED_SETTING_KEYS[:2]) & set(settings)
    assert settings["skeletonize"] is MEASURED_SKELETONIZE


def test_a_masks_recorded_thinning_is_what_it_measured(tmp_path):
    """The ``skeletonize`` a mask run records is what measure_grain_size(mask=True)
    does: its ℓ̄ of a mask with 3 px wide lines is srmat heyn's with that thinning."""
    from napari_srmat.grainsize import MEASURED_SKELETONIZE, measure_grain_size
    from napari_srmat.metrics.heyn import measure_intercepts

    m = np.zeros((200, 200), bool)
    for k in range(3):
        m[:, 5 + k::20] = True
        m[5 + k::20, :] = True
    got = measure_grain_size(m, mask=True, pattern="grid", n_lines=9, margin=0)
    kw = {"pattern": "grid", "n_lines": 9, "margin": 0}
    thinned = measure_intercepts(m, skeletonize=MEASURED_SKELETONIZE, **kw)
    as_given = measure_intercepts(m, skeletonize=not MEASURED_SKELETONIZE, **kw)
    assert got.mean_intercept_px == pytest.approx(thinned.mean_intercept_px)
    assert got.mean_intercept_px != pytest.approx(as_given.mean_intercept_px)


def test_method_runs_record_the_same_settings(tmp_path, capsys):
    """``--method``'s JSON (fields and a specimen summary) records the settings a run
    without it records for the same images, beside ``summary``: the model's name, its
    weights' digest and the thinning (measured_settings). Failed before: the JSON had no
    ``settings`` (KeyError), so the model and its weights were named nowhere."""
    from napari_srmat.grainsize import MEASURED_SETTING_KEYS

    image = str(_micrograph(tmp_path))
    alone = _settings(capsys, ["grain-size", image, "--json", "--device", "cpu",
                               "--pattern", "grid"])
    for method in ("intercept", "planimetric"):
        out = _json(capsys, ["grain-size", image, "--json", "--device", "cpu", "--method",
                             method])
        assert out["summary"] is not None
        assert out["settings"] == alone
        assert list(out["settings"])[-3:] == list(MEASURED_SETTING_KEYS)


def test_method_mask_runs_record_the_fields_thinning(tmp_path, capsys):
    """``--method --mask`` measures masks as given (1 px lines, the planimetric grain
    map) and thins probability maps given with ``--threshold``: its ``skeletonize`` says
    which, by the rule the fields are measured with (a mask run's keys otherwise)."""
    from napari_srmat.grainsize import MEASURED_SKELETONIZE

    mask = str(_mask(tmp_path))
    alone = _settings(capsys, ["grain-size", mask, "--mask", "--json", "--pattern", "grid"])
    out = _json(capsys, ["grain-size", mask, "--mask", "--json", "--method", "intercept"])
    assert out["settings"] == {**alone, "skeletonize": False}
    thr = _json(capsys, ["grain-size", mask, "--mask", "--json", "--method", "intercept",
                         "--threshold", "0.5"])
    assert thr["settings"]["skeletonize"] is MEASURED_SKELETONIZE
    assert thr["settings"]["threshold"] == 0.5


def _documented_settings_keys() -> list[str]:
    """The keys docs/grain_size.md's ``settings`` table names, in its order."""
    import re
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "grain_size.md").read_text("utf-8")
    section = text[text.index("`settings` records"):text.index("Bad input (missing")]
    keys = []
    for row in re.findall(r"^\| (`[^|]+`) \|", section, flags=re.MULTILINE):
        keys += re.findall(r"`([^`]+)`", row)
    return keys


def test_the_docs_settings_table_names_every_key(tmp_path, capsys):
    """docs/grain_size.md's table names an image run's settings keys, and a mask
    run's are its first three rows' and ``skeletonize`` (as it says), with or without
    ``--method``. Failed before: the table named only the three measured_settings keys
    (the others, and --mask's threshold, were prose)."""
    image, mask = str(_micrograph(tmp_path)), str(_mask(tmp_path))
    documented = _documented_settings_keys()
    for method in ([], ["--method", "intercept"]):
        runs = (_settings(capsys, ["grain-size", image, "--json", "--device", "cpu", *method]),
                _settings(capsys, ["grain-size", mask, "--mask", "--json", *method]))
        assert sorted(runs[0]) == sorted(documented)
        # mask; pattern, lines, seed, margin; threshold; mask_scale; skeletonize
        assert sorted(runs[1]) == sorted(documented[:7] + ["skeletonize"])


def test_a_clusters_settings_name_the_weights_its_workers_measured_with(
        tmp_path, capsys, monkeypatch):
    """With ``--scheduler`` the workers load the model themselves: one whose weights are
    not the starting process's (another napari-srmat or checkpoint installed there) is
    refused, as a tiled prediction's workers are (``WorkerModel``). Failed before: the
    command measured with the worker's weights and its settings named the starting
    process's (the shipped digest, loaded again after the run), exit 0."""
    import torch

    import napari_srmat.cli.grainsize as cli_grainsize

    real = cli_grainsize._boundary_model
    on_worker = []

    def boundary_model(*args):
        model = real(*args)
        if on_worker:  # the worker's installation has other weights
            with torch.no_grad():
                next(model.net.parameters()).add_(0.01)
        return model

    monkeypatch.setattr(cli_grainsize, "_boundary_model", boundary_model)
    _map_in_process(monkeypatch, on_worker)
    rc = main(["grain-size", str(_micrograph(tmp_path)), "--json", "--device", "cpu",
               "--scheduler", "local:1"])
    out, err = capsys.readouterr()
    assert rc == 2, out
    assert "differ from the starting process's" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _map_in_process(monkeypatch, on_worker: list) -> None:
    """``--scheduler``'s tasks run here, one by one, with ``on_worker`` non-empty while
    a task (the worker's side: its model loaded and checked) runs; no worker model kept."""
    import napari_srmat.tiling._distributed as dist

    def map_job(fn, items, scheduler, *, on_result, **kwargs):
        for i, item in enumerate(items):
            on_worker.append(1)
            try:
                result = fn(item)
            finally:
                on_worker.clear()
            on_result(i, result)
        return None
        yield  # a job generator

    monkeypatch.setattr(dist, "map_job", map_job)
    monkeypatch.setattr(dist, "_WORKER_MODELS", {})


def test_a_cluster_run_digests_the_starting_models_weights_once(
        tmp_path, capsys, monkeypatch):
    """``--scheduler --json``: the weights digest the workers are checked against is the
    one ``settings`` names, computed once in the starting process (0.36 s each for an
    efficientnet-b7 UAED on a CPU). Failed before: computed twice (the worker check,
    then ``measured_settings``), 2 != 1."""
    import napari_srmat.checkpoint as checkpoint
    import napari_srmat.edges.infer as infer
    from napari_srmat.grainsize import SHIPPED_BOUNDARY_WEIGHTS_SHA256

    on_worker: list = []
    here: list = []
    real = checkpoint.network_digest

    def counted(net):
        if not on_worker:  # the starting process's, not a worker's check of its own
            here.append(1)
        return real(net)

    for module in (checkpoint, infer):
        monkeypatch.setattr(module, "network_digest", counted)
    _map_in_process(monkeypatch, on_worker)
    settings = _settings(capsys, ["grain-size", str(_micrograph(tmp_path)), "--json",
                                  "--device", "cpu", "--scheduler", "local:1"])
    assert settings["boundary model weights sha256"] == SHIPPED_BOUNDARY_WEIGHTS_SHA256
    assert len(here) == 1
