"""``srmat edges predict --json``: the threshold it reports is the one its rule gives the
image, not the checkpoint's max-F1 threshold beside the rule's name."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")

from napari_srmat.cli import main  # noqa: E402
from napari_srmat.edges.infer import load_boundary_model  # noqa: E402
from napari_srmat.io import read_image  # noqa: E402
from napari_srmat.synth import generate_microstructure  # noqa: E402


@pytest.fixture(scope="module")
def micrograph(tmp_path_factory):
    """A synthetic micrograph whose grains the model is reliable at, as a PNG."""
    path = tmp_path_factory.mktemp("edges_predict") / "grains.png"
    Image.fromarray(generate_microstructure((192, 192), mean_grain_size_px=40, seed=0).image).save(
        path
    )
    return path


def _predict(path, out, capsys, *rule: str) -> dict:
    argv = ["edges", "predict", str(path), "--out", str(out), "--device", "cpu", "--json"]
    assert main([*argv, *rule]) == 0
    return json.loads(capsys.readouterr().out)


def test_srmat_edges_predict_reports_the_threshold_its_rule_gives_the_image(
    tmp_path, capsys, micrograph
):
    """The default rule (otsu_scaled: a threshold per image) was reported with the
    checkpoint's max-F1 threshold as "threshold" (failed before). "threshold" is the
    rule's for this image, that of its probability map; the checkpoint's is
    "checkpoint_threshold"; with the global rule they are the same."""
    report = _predict(micrograph, tmp_path / "maps", capsys)
    model = load_boundary_model(None, device="cpu")
    assert report["threshold_rule"] == model.threshold_rule == "otsu_scaled"
    prob = np.asarray(read_image(tmp_path / "maps" / "prob.ome.zarr").data)
    assert report["threshold"] == model.image_threshold(prob)
    assert report["checkpoint_threshold"] == model.threshold
    assert report["threshold"] != model.threshold
    plain = _predict(micrograph, tmp_path / "global", capsys, "--threshold-rule", "global")
    assert plain["threshold"] == plain["checkpoint_threshold"] == model.threshold


def test_srmat_edges_predict_without_json_reads_no_map_back(tmp_path, capsys, micrograph,
                                                            monkeypatch):
    """The report's threshold (and the previews' means) read the whole probability map
    back after the job: 0.87 s and 130 MB at peak on a 12000² map, for a report that only
    ``--json`` prints. Without it, the rule's threshold is not computed."""
    from napari_srmat.edges import infer

    asked = []
    real = infer.BoundaryModel.image_threshold

    def image_threshold(self, prob):
        asked.append(1)
        return real(self, prob)

    monkeypatch.setattr(infer.BoundaryModel, "image_threshold", image_threshold)
    out = tmp_path / "maps"
    argv = ["edges", "predict", str(micrograph), "--out", str(out), "--device", "cpu"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("wrote ")
    assert (out / "prob.ome.zarr").is_dir()
    assert asked == []
    _predict(micrograph, tmp_path / "json", capsys)
    assert asked  # the --json report still gives it
