"""UAED network, loss and checkpoint loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from napari_srmat.checkpoint import CheckpointError, save_checkpoint
from napari_srmat.edges.infer import BoundaryModel, load_boundary_model
from napari_srmat.edges.loss import (
    ada_schedule,
    class_balanced_weights,
    cosine_weight,
    soft_cldice_loss,
    soft_dice_loss,
    soft_skeleton,
    uaed_loss,
)
from napari_srmat.edges.model import UAEDNet, build_uaed, default_arch_config

# the CI/dev machines are small and shared: one thread is much faster than two there
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return UAEDNet("tiny").eval()


@pytest.mark.parametrize("shape", [(37, 53), (64, 64), (16, 99)])
def test_shapes_centre_crop_and_positive_sigma(tiny, shape):
    x = torch.rand(2, 3, *shape)
    with torch.no_grad():
        logit, sigma = tiny(x)
    assert logit.shape == (2, 1, *shape)
    assert sigma.shape == (2, 1, *shape)
    assert torch.isfinite(logit).all()
    assert (sigma > 0).all()
    assert (sigma >= 1e-3 - 1e-7).all()


def test_centre_crop_matches_padded_input(tiny):
    # an input already a multiple of the stride is not padded: cropping a padded
    # result back must give the same values as running the model on the same pixels
    x = torch.rand(1, 3, 48, 48)
    with torch.no_grad():
        full, _ = tiny(x)
        # 40x40 gets reflect-padded by 4 px each side -> the centre must come from x[4:44]
        # only when x is itself the reflection; check that the output is aligned
        sub = x[:, :, 4:44, 4:44]
        padded = torch.nn.functional.pad(sub, (4, 4, 4, 4), mode="reflect")
        out_pad, _ = tiny(padded)
        out_sub, _ = tiny(sub)
    assert torch.allclose(out_sub, out_pad[:, :, 4:44, 4:44], atol=1e-5)
    assert full.shape[-2:] == (48, 48)


def test_heads_are_independent(tiny):
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        logit, sigma = tiny(x)
        tiny.std_head.bias += 1.0
        logit2, sigma2 = tiny(x)
        tiny.std_head.bias -= 1.0
    assert torch.allclose(logit, logit2, rtol=0, atol=1e-6)
    assert (sigma2 > sigma).all()


def test_bad_input_and_encoder():
    with pytest.raises(ValueError, match="expected input"):
        UAEDNet("tiny")(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="unknown encoder"):
        UAEDNet("resnet-9000")
    with pytest.raises(ValueError, match="not 'uaed-unetpp'"):
        build_uaed({"model": "srcnn"})


def test_efficientnet_like_encoder_builds():
    net = UAEDNet("efficientnet-b0").eval()
    with torch.no_grad():
        logit, sigma = net(torch.rand(1, 3, 40, 44))
    assert logit.shape == (1, 1, 40, 44) and (sigma > 0).all()
    assert net.multiple == 32


def test_class_balanced_weights():
    t = torch.zeros(1, 1, 10, 10)
    t[..., :2, :] = 1  # 20 positives, 80 negatives
    w = class_balanced_weights(t)
    assert torch.allclose(w[t > 0.5], torch.tensor(0.8))
    assert torch.allclose(w[t < 0.5], torch.tensor(1.1 * 0.2))


def test_schedules():
    assert ada_schedule(0, 10, 2.0) == pytest.approx(0.2)
    assert ada_schedule(9, 10, 2.0) == pytest.approx(2.0)
    assert cosine_weight(0, 11, 1.0, 0.1) == pytest.approx(1.0)
    assert cosine_weight(10, 11, 1.0, 0.1) == pytest.approx(0.1)
    assert cosine_weight(5, 11, 1.0, 0.1) == pytest.approx(0.55)


def test_loss_matches_formula_without_sampling():
    torch.manual_seed(1)
    logit = torch.randn(1, 1, 8, 8)
    sigma = torch.rand(1, 1, 8, 8) + 0.1
    target = (torch.rand(1, 1, 8, 8) > 0.7).float()
    loss, parts = uaed_loss(logit, sigma, target, epoch=1, n_epochs=4, ada_max=1.0,
                            std_weight=1.0, std_weight_final=0.0, sample=False)
    w = class_balanced_weights(target) * torch.exp(sigma * 0.5)
    p = torch.sigmoid(logit)
    bce = -(target * torch.log(p) + (1 - target) * torch.log(1 - p))
    expected_bce = (w * bce).sum() / 64
    expected_std = (class_balanced_weights(target) * sigma**2).sum() / 64
    sw = cosine_weight(1, 4, 1.0, 0.0)
    assert parts["bce"] == pytest.approx(float(expected_bce), rel=1e-5)
    assert float(loss) == pytest.approx(float(expected_bce + sw * expected_std), rel=1e-5)


def test_connectivity_term_pays_for_gaps():
    """clDice: a gap in a boundary costs in proportion to the skeleton length it cuts;
    the term adds to the UAED loss with its weight and passes its own gradients to the
    logits of the gap."""
    target = torch.zeros(1, 1, 32, 32)
    target[..., 14:18, :] = 1
    gapped = target.clone()
    gapped[..., 12:16] = 0  # 4 of 32 columns: 12.5 % of the boundary pixels
    assert float(soft_cldice_loss(target, target)) < 1e-6
    assert float(soft_cldice_loss(gapped, target)) > 0.05
    skel = soft_skeleton(target)
    assert float(skel[..., :4, :].sum()) == 0 and float(skel[..., 15:17, :].sum()) > 16
    logit = torch.where(gapped > 0, 4.0, -4.0).requires_grad_(True)
    sigma = torch.full_like(logit, 0.1)
    kw = {"epoch": 0, "n_epochs": 1, "sample": False}
    base, parts0 = uaed_loss(logit, sigma, target, **kw)
    with_term, parts = uaed_loss(logit, sigma, target, connectivity_weight=0.5, **kw)
    assert "cldice" not in parts0
    assert float((with_term - base).detach()) == pytest.approx(0.5 * parts["cldice"], rel=1e-5)
    (grad_term,) = torch.autograd.grad(soft_cldice_loss(torch.sigmoid(logit), target), logit)
    assert float(grad_term[..., 14:18, 12:16].abs().sum()) > 0
    assert float(grad_term[..., 14:18, 12:16].sum()) < 0  # raising the gap's logits helps


def test_overlap_term_prices_false_boundaries_like_missed_ones():
    """The soft Dice term is added with its weight; 64 false boundary pixels raise it by
    more than half as much as 64 missed ones, while the class-balanced BCE prices the
    false ones over three times lower."""
    target = torch.zeros(1, 1, 32, 32)
    target[..., 14:18, :] = 1
    exact = torch.where(target > 0, 8.0, -8.0)
    false_pos = exact.clone()
    false_pos[..., 10:12, :] = 8.0  # 64 background pixels marked
    missed = exact.clone()
    missed[..., 14:16, :] = -8.0  # 64 boundary pixels missed
    sigma = torch.full_like(exact, 0.1)
    kw = {"epoch": 0, "n_epochs": 1, "sample": False}

    def terms(logit):
        base, _ = uaed_loss(logit, sigma, target, **kw)
        with_term, parts = uaed_loss(logit, sigma, target, overlap_weight=0.5, **kw)
        assert float(with_term - base) == pytest.approx(0.5 * parts["dice"], rel=1e-5)
        return float(base), parts["dice"]

    bce_exact, dice_exact = terms(exact)
    bce_fp, dice_fp = terms(false_pos)
    bce_fn, dice_fn = terms(missed)
    assert dice_exact < 0.01
    assert 0 < dice_fn - dice_exact < 2 * (dice_fp - dice_exact)
    assert bce_fn - bce_exact > 3 * (bce_fp - bce_exact) > 0
    _, parts0 = uaed_loss(exact, sigma, target, **kw)
    assert "dice" not in parts0
    logit = torch.zeros_like(target, requires_grad=True)
    (grad,) = torch.autograd.grad(soft_dice_loss(torch.sigmoid(logit), target), logit)
    assert float(grad[target > 0].mean()) < 0 < float(grad[target == 0].mean())


def test_loss_shape_mismatch():
    with pytest.raises(ValueError, match="same shape"):
        uaed_loss(torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 5),
                  epoch=0, n_epochs=1)


def test_loss_decreases_on_tiny_synthetic_set():
    torch.manual_seed(0)
    net = UAEDNet("tiny")
    x = torch.rand(2, 3, 32, 32) * 0.2
    y = torch.zeros(2, 1, 32, 32)
    y[:, :, 14:18, :] = 1  # a horizontal boundary band
    x[:, :, 14:18, :] += 0.6
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss, _ = uaed_loss(*net(x), y, epoch=0, n_epochs=1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    net.eval()
    with torch.no_grad():
        logit, sigma = net(x)
    assert (sigma > 0).all()
    assert torch.sigmoid(logit)[y > 0.5].mean() > torch.sigmoid(logit)[y < 0.5].mean()


# ---------------------------------------------------------------- checkpoints


def _save_tiny(path, **extra):
    torch.manual_seed(0)
    net = UAEDNet("tiny")
    save_checkpoint(path, net.state_dict(), {**default_arch_config("tiny"), **extra})
    return net


def test_load_checkpoint_roundtrip(tmp_path):
    net = _save_tiny(tmp_path / "ck", threshold=0.37).eval()
    m = load_boundary_model(tmp_path / "ck", device="cpu")
    assert isinstance(m, BoundaryModel)
    assert m.threshold == pytest.approx(0.37)
    x = np.random.default_rng(0).random((1, 3, 24, 40), dtype=np.float32)
    prob, sigma = m.predict(x)
    with torch.no_grad():
        logit, s_ref = net(torch.from_numpy(x))
    assert prob.shape == (1, 1, 24, 40) and sigma.shape == (1, 1, 24, 40)
    np.testing.assert_allclose(prob, torch.sigmoid(logit).numpy(), atol=1e-6)
    np.testing.assert_allclose(sigma, s_ref.numpy(), atol=1e-6)
    assert ((prob >= 0) & (prob <= 1)).all() and (sigma > 0).all()
    # grey input is repeated to 3 channels
    pg, _ = m.predict(x[:, :1])
    pr, _ = m.predict(np.repeat(x[:, :1], 3, axis=1))
    np.testing.assert_allclose(pg, pr, atol=1e-6)


def test_training_run_dir_resolves_to_best(tmp_path):
    _save_tiny(tmp_path / "run" / "best")
    m = load_boundary_model(tmp_path / "run", device="cpu")
    assert m.path.endswith("best")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_boundary_model(tmp_path / "nope", device="cpu")
    with pytest.raises(CheckpointError, match="not found"):  # a typo, not a pickle
        load_boundary_model(tmp_path / "weights.pth", device="cpu")
    (tmp_path / "weights.pth").write_bytes(b"not loaded")
    with pytest.raises(CheckpointError, match="pickle"):
        load_boundary_model(tmp_path / "weights.pth", device="cpu")


def test_mismatched_checkpoint(tmp_path):
    _save_tiny(tmp_path / "ck")
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    cfg["encoder"] = "small"  # config no longer matches the tensors
    (tmp_path / "ck" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_boundary_model(tmp_path / "ck", device="cpu")
    cfg["encoder"] = "efficientnet-b0"
    (tmp_path / "ck" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="missing tensor"):
        load_boundary_model(tmp_path / "ck", device="cpu")
    cfg["model"] = "other"
    (tmp_path / "ck" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="uaed-unetpp"):
        load_boundary_model(tmp_path / "ck", device="cpu")


def test_fp16_export_loads_as_float32(tmp_path):
    from napari_srmat.edges.export import export_checkpoint

    net = _save_tiny(tmp_path / "ck").eval()
    export_checkpoint(tmp_path / "ck", tmp_path / "half", fp16=True)
    m = load_boundary_model(tmp_path / "half", device="cpu")
    assert m.config["dtype"] == "float16"
    assert next(m.net.parameters()).dtype == torch.float32
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        ref = torch.sigmoid(net(x)[0])
    prob, _ = m.predict(x)
    assert torch.allclose(prob, ref, atol=5e-3)


def test_export_never_replaces_a_folder_or_file_of_the_users(tmp_path):
    """``export SRC DST`` replaced DST whole: a folder of the user's lost every file in
    it, a file was renamed to a hidden ``.DST.*.old``. Only a checkpoint folder (or an
    empty one) is replaced."""
    from napari_srmat.edges.export import export_checkpoint
    from napari_srmat.outputs import OutputExistsError

    _save_tiny(tmp_path / "ck")
    mine = tmp_path / "mine"
    (mine / "photos").mkdir(parents=True)
    (mine / "notes.txt").write_text("keep")
    (mine / "photos" / "a.jpg").write_bytes(b"x")
    with pytest.raises(OutputExistsError, match="not a checkpoint folder .*notes.txt"):
        export_checkpoint(tmp_path / "ck", mine)
    assert (mine / "notes.txt").read_text() == "keep" and (mine / "photos" / "a.jpg").exists()
    (tmp_path / "file.txt").write_text("keep")
    with pytest.raises(OutputExistsError, match="is a file"):
        export_checkpoint(tmp_path / "ck", tmp_path / "file.txt")
    assert (tmp_path / "file.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck", "file.txt", "mine"]
    # an earlier export (also one a file browser looked into), or an empty folder, is
    # replaced
    (tmp_path / "empty").mkdir()
    for dst in (tmp_path / "ck16", tmp_path / "ck16", tmp_path / "empty"):
        if dst.is_dir() and any(dst.iterdir()):
            (dst / ".DS_Store").write_bytes(b"finder")
        export_checkpoint(tmp_path / "ck", dst, fp16=True)
        assert load_boundary_model(dst, device="cpu").config["dtype"] == "float16"


def test_export_refuses_a_name_kept_for_another_outputs_bookkeeping(tmp_path, capsys):
    """Every output refuses names like ``x.partial`` / ``x.lock`` (8a1e973: a later run
    into ``x`` deletes or moves them), but ``python -m napari_srmat.edges.export SRC
    ck.partial`` wrote a checkpoint there."""
    from napari_srmat.edges.export import main as export_main

    _save_tiny(tmp_path / "ck")
    for name in ("ck2.partial", "ck2.LOCK"):
        assert export_main([str(tmp_path / "ck"), str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert "kept for the bookkeeping" in err and err.count("\n") == 1, err
        assert not (tmp_path / name).exists()
    assert export_main([str(tmp_path / "ck"), str(tmp_path / "ck2")]) == 0


def test_export_refuses_a_link_first_and_a_folder_named_like_a_checkpoint_file(tmp_path,
                                                                               capsys):
    """check_replaceable_checkpoint let a DST that is a symbolic link through: the export
    ran (and calibrated) before the swap refused it, so a calibration error was reported
    instead, minutes later. And a folder holding only a subfolder called config.json
    counted as a checkpoint folder: the export deleted the files in that subfolder."""
    from napari_srmat.edges.export import export_checkpoint
    from napari_srmat.edges.export import main as export_main
    from napari_srmat.outputs import OutputExistsError

    _save_tiny(tmp_path / "ck")
    _save_tiny(tmp_path / "target")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "target", target_is_directory=True)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert export_main([str(tmp_path / "ck"), str(link), "--calibrate",
                        str(tmp_path / "no_val")]) == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and err.count("\n") == 1, err
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == before
    mine = tmp_path / "mine"
    (mine / "config.json").mkdir(parents=True)
    (mine / "config.json" / "notes.txt").write_text("keep")
    with pytest.raises(OutputExistsError, match="not a checkpoint folder .*config.json"):
        export_checkpoint(tmp_path / "ck", mine)
    assert (mine / "config.json" / "notes.txt").read_text() == "keep"
