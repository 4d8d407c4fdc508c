"""`srmat edges eval`: an earlier evaluation in --out is replaced only with --overwrite, and
the operating-point line says how many images its ℓ̄ errors rest on (s51 X1 #5, #9; E9)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


def _pairs(root, n=1, size=64):
    from PIL import Image

    from napari_srmat.edges.data import synthetic_samples

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir(parents=True)
    for i, s in enumerate(synthetic_samples(n, (size, size), seed=30,
                                            mean_grain_size_px=20)):
        img = (s.image.transpose(1, 2, 0) * 255).astype(np.uint8)
        Image.fromarray(img).save(root / "images" / f"s{i}.png")
        Image.fromarray(s.mask.astype(np.uint8) * 255).save(root / "masks" / f"s{i}.png")
    return root


def _eval(root, out, *extra):
    from napari_srmat.cli import main

    return main(["edges", "eval", "--images", str(root / "images"), "--masks",
                 str(root / "masks"), "--out", str(out), "--no-baseline",
                 "--threshold-rule", "global", "--device", "cpu", *extra])


def test_eval_into_an_earlier_evaluation_needs_overwrite(tmp_path, capsys):
    """``srmat edges eval --out DIR`` replaced an earlier evaluation in DIR without a
    word (training and plan-rescan need --overwrite): now refused in one line naming
    --overwrite, the earlier files untouched; with --overwrite it is replaced."""
    root = _pairs(tmp_path / "test")
    out = tmp_path / "ev"
    assert _eval(root, out) == 0
    report = (out / "report.json").read_bytes()
    capsys.readouterr()
    rc = _eval(root, out, "--threshold", "0.9")
    err = capsys.readouterr().err
    assert rc != 0 and "Traceback" not in err
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert len(lines) == 1 and str(out) in lines[0] and "--overwrite" in lines[0]
    assert (out / "report.json").read_bytes() == report
    assert _eval(root, out, "--threshold", "0.9", "--overwrite") == 0
    assert json.loads((out / "report.json").read_text())["threshold"] == 0.9


def test_eval_overwrite_never_replaces_a_folder_of_the_users(tmp_path, capsys):
    """A folder napari-srmat did not write is refused, with the new --overwrite too, and
    left as it was (guard: without --overwrite, which eval did not take, this passed
    before 2026-12-07, s51 E9)."""
    root = _pairs(tmp_path / "test")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    for extra in ((), ("--overwrite",)):
        assert _eval(root, mine, *extra) != 0
        assert "will not be replaced" in capsys.readouterr().err
        assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_the_python_evaluation_takes_overwrite_too(tmp_path):
    """evaluate_boundaries(out_dir=) into an earlier evaluation: refused naming
    overwrite=True, replaced with it."""
    from napari_srmat.edges.evaluate import evaluate_boundaries
    from napari_srmat.outputs import OutputExistsError

    root = _pairs(tmp_path / "test")
    kw = dict(baseline=False, threshold_rule="global", device="cpu", out_dir=tmp_path / "ev")
    evaluate_boundaries(root / "images", root / "masks", **kw)
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        evaluate_boundaries(root / "images", root / "masks", **kw)
    evaluate_boundaries(root / "images", root / "masks", overwrite=True, **kw)


def test_the_operating_point_line_says_how_many_images_it_rests_on(tmp_path, capsys,
                                                                    monkeypatch):
    """A weak model's summary read "per-image 148.4 %, pooled 245.3 %" from 1 of 3 images
    (n_invalid 2 in the JSON) without saying so; then " from 1 of 3 images (2 without a
    valid ℓ̄)", though the per-image mean counts those 2 as 100 % (s51 F9 #2)."""
    import napari_srmat.edges.evaluate as evaluate
    from napari_srmat.cli import main

    keys = ("ap", "roc_auc", "f1", "threshold", "heyn_pred_px", "heyn_gt_px",
            "heyn_error_pct", "heyn_grid_error_pct")
    report = {**dict.fromkeys(keys), "ap": 0.2, "threshold": 0.5, "operating_point": {
        "threshold_rule": "global", "tta": "none", "heyn_per_image_error_pct": 148.4,
        "heyn_pooled_error_pct": 245.3, "n_images": 3, "n_invalid": 2}}

    def job(*args, **kwargs):
        return report
        yield  # a job

    monkeypatch.setattr(evaluate, "evaluate_boundaries_job", job)
    root = tmp_path
    assert main(["edges", "eval", "--images", str(root), "--masks", str(root)]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines()
            if ln.startswith("operating point")][0]
    assert "148.4" in line and line.endswith(
        "; per-image over 3 images (2 without a valid ℓ̄ counted as 100 %); pooled from 1")
    report["operating_point"]["n_invalid"] = 0
    assert main(["edges", "eval", "--images", str(root), "--masks", str(root)]) == 0
    assert "from" not in capsys.readouterr().out.splitlines()[-1]


def test_the_per_image_figure_counts_an_image_without_a_valid_l_as_100_pct():
    """s51 F9 #2: the per-image mean of the line's basis is over all images, the images
    without a valid predicted ℓ̄ counted as 100 %; only the pooled one leaves them out."""
    from napari_srmat.edges.evaluate import operating_point_basis
    from napari_srmat.edges.thresholds import intercept_errors

    e = intercept_errors([34.53, None, None], [10.0, 10.0, 10.0])
    assert e["per_image"] == pytest.approx((2.453 + 1 + 1) / 3)
    basis = operating_point_basis({"n_images": 3, "n_invalid": e["n_invalid"]})
    assert "per-image over 3 images (2 without a valid ℓ̄ counted as 100 %)" in basis
    assert basis.endswith("pooled from 1")


def test_an_evaluation_stopped_while_written_is_written_again(tmp_path, capsys):
    """s51 F9 #3 (review R7 of dd39424c): a Ctrl-C while the evaluation was written (no
    report.json yet) left a folder a rerun refused as one that "holds an evaluation".
    Such a folder (our marker and our files only) is written again without --overwrite;
    one with a file of the user's is still refused."""
    root = _pairs(tmp_path / "test")
    out = tmp_path / "ev"
    assert _eval(root, out) == 0
    (out / "report.json").unlink()  # what a Ctrl-C before the last file leaves
    (out / "roc.png").unlink()
    capsys.readouterr()
    assert _eval(root, out) == 0, capsys.readouterr().err
    assert "ap" in json.loads((out / "report.json").read_text())
    (out / "report.json").unlink()
    (out / "notes.txt").write_text("keep")
    assert _eval(root, out) != 0
    assert (out / "notes.txt").read_text() == "keep"


def test_an_evaluation_stopped_while_a_figure_was_written_is_written_again(tmp_path, capsys):
    """Review R10 of 1cb40b44: the figures are written through ``atomic_path``, whose
    temporary files are ``.pr.png.<8 hex>.tmp.png`` (``_atomic.is_temp_file``), not
    ``….tmp``: a Ctrl-C while ``pr.png`` was written left a folder a rerun still refused."""
    root = _pairs(tmp_path / "test")
    out = tmp_path / "ev"
    assert _eval(root, out) == 0
    (out / "report.json").unlink()
    (out / "roc.png").unlink()
    (out / "pr.png").rename(out / ".pr.png.0123abcd.tmp.png")
    capsys.readouterr()
    assert _eval(root, out) == 0, capsys.readouterr().err
    assert (out / "report.json").is_file() and (out / "pr.png").is_file()
