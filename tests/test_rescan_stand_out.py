"""With ``stand_out_only`` the rescan plan stops where no block's uncertainty stands out
from the image's typical blocks, its budget a cap (s51 X2 #2; not the default: its study's
check failed, studies/rescan_stand_out.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_srmat.cli import main
from napari_srmat.sr import rescan
from napari_srmat.sr.rescan import plan_rescan

SIZE, ROI, BUDGET = 128, 16, 0.5
PATCH = (64, 96, 32, 64)  # y0, y1, x0, x1: block-aligned, 4 blocks of 16 px


@pytest.fixture(scope="module")
def fine_patch_lr():
    """Coarse grains (24 px) with a 32 x 32 px patch of fine grains (4 px): the SR is
    least sure in the patch, ordinary elsewhere. In focus (blur 0: an LR's)."""
    from napari_srmat.synth import generate_microstructure

    img = generate_microstructure((SIZE, SIZE), mean_grain_size_px=24, seed=1,
                                  blur=0.0).image.copy()
    y0, y1, x0, x1 = PATCH
    img[y0:y1, x0:x1] = generate_microstructure((y1 - y0, x1 - x0), mean_grain_size_px=4,
                                                seed=2, blur=0.0).image
    return img


KW = dict(scale=4, budget=BUDGET, roi_px=ROI, device="cpu", pixel_size_um=1.0)


@pytest.fixture(scope="module")
def filled(fine_patch_lr):
    return plan_rescan(fine_patch_lr, "cnn", **KW)


@pytest.fixture(scope="module")
def plans(fine_patch_lr, filled):
    return plan_rescan(fine_patch_lr, "cnn", stand_out_only=True, **KW), filled


def test_a_plan_stops_below_its_budget_where_nothing_more_stands_out(plans):
    """Failed before (no stand_out_only): the plan filled its budget (0.5 of the image)
    with ordinary coarse grains after the fine patch."""
    plan, _ = plans
    cover = np.zeros((SIZE, SIZE), bool)
    for y0, x0, y1, x1 in plan.rois:
        cover[y0:y1, x0:x1] = True
    y0, y1, x0, x1 = PATCH
    assert plan.rois and cover[y0:y1, x0:x1].any()  # in the fine patch only
    cover[y0:y1, x0:x1] = False
    assert not cover.any()  # the rest stands out no more than typical
    assert plan.roi_fraction < BUDGET
    assert plan.stand_out_threshold is not None
    assert all(s > plan.stand_out_threshold for s in plan.scores)
    notes = [n for n in plan.warnings if rescan.STOPS_BELOW_BUDGET in n]
    assert len(notes) == 1
    assert notes[0].startswith(f"{len(plan.rois)} region(s) "
                               f"({plan.roi_fraction:.1%} of the image) stand out")
    d = plan.to_dict()
    assert d["stand_out_threshold"] == plan.stand_out_threshold
    assert d["stand_out_only"] is True
    json.dumps(d)


def test_by_default_the_plan_fills_its_budget_as_before(filled):
    """Guard: passed before (the default plan is unchanged)."""
    y0, y1, x0, x1 = PATCH
    assert filled.roi_fraction >= BUDGET - 2 * ROI * ROI / SIZE**2
    assert filled.roi_fraction <= BUDGET
    cover = np.zeros((SIZE, SIZE), bool)
    for r0, c0, r1, c1 in filled.rois:
        cover[r0:r1, c0:c1] = True
    assert cover[y0:y1, x0:x1].all()  # the fine patch is in it
    assert getattr(filled, "stand_out_threshold", None) is None
    assert not any("stand out" in n for n in filled.warnings)


def test_the_stop_changes_no_uncertainty(plans):
    """Failed before (no stand_out_only)."""
    stopped, filled = plans
    assert filled.stand_out_only is False and stopped.stand_out_only is True
    np.testing.assert_array_equal(filled.uncertainty, stopped.uncertainty)
    cover = np.zeros((2, SIZE, SIZE), bool)
    for i, plan in enumerate((stopped, filled)):
        for y0, x0, y1, x1 in plan.rois:
            cover[i, y0:y1, x0:x1] = True
    assert not (cover[0] & ~cover[1]).any()  # a part of the full plan


def test_stand_out_threshold_is_robust_to_the_outliers_it_finds():
    """Failed before (no such function): median + k * 1.4826 * MAD, NaN of nothing."""
    scores = np.array([1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 5.0, 6.0])
    thr = rescan.stand_out_threshold(scores)
    med = np.median(scores)
    mad = np.median(np.abs(scores - med))
    assert thr == pytest.approx(med + rescan.STAND_OUT_MADS * 1.4826 * mad)
    assert (scores > thr).sum() == 2
    assert np.isnan(rescan.stand_out_threshold(np.array([])))
    assert np.isnan(rescan.stand_out_threshold(np.array([np.nan])))


def test_stand_out_notes_say_when_the_budget_cut_the_plan():
    """Failed before (no such function)."""
    [note] = rescan.stand_out_notes(0, 0.0, 0, True, 0.002, 32)
    assert note.startswith("no block's SR uncertainty stands out")
    [note] = rescan.stand_out_notes(3, 0.1, 5, True, 0.002, 32)
    assert note.startswith("5 more block(s) of 32 px stand out")
    assert rescan.stand_out_notes(3, 0.1, 0, False, 0.002, 32) == []


def test_cli_stand_out_only(fine_patch_lr, tmp_path, capsys):
    """Failed before: no --stand-out-only."""
    from PIL import Image

    path = tmp_path / "lr.png"
    Image.fromarray(fine_patch_lr).save(path)
    args = ["plan-rescan", str(path), "--model", "bicubic", "--roi-size-px", str(ROI),
            "--budget", "0.5", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["stand_out_only"] is False
    assert main([*args, "--stand-out-only"]) == 0
    assert json.loads(capsys.readouterr().out)["stand_out_only"] is True


def test_one_median_plus_mads_rule_for_the_rescan_and_the_audit(monkeypatch):
    """Failed before (s51 F8 #3: the audit floor had its own literal 1.4826, the rescan
    MAD_TO_SIGMA): both call robust_stats.median_plus_mads, same numbers."""
    from napari_srmat import robust_stats
    from napari_srmat.audit import detector

    calls = []

    def spy(median, mad, k):
        calls.append(k)
        return robust_stats.median_plus_mads(median, mad, k)

    monkeypatch.setattr(detector, "median_plus_mads", spy)
    monkeypatch.setattr(rescan, "median_plus_mads", spy)
    rng = np.random.default_rng(0)
    lr = rng.random((32, 32)).astype(np.float32)
    sr = np.repeat(np.repeat(lr, 2, 0), 2, 1) + 0.05 * rng.random((64, 64), np.float32)
    detector.estimate_residual_floor(lr, sr, 2)
    scores = np.array([1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 5.0, 6.0])
    thr = rescan.stand_out_threshold(scores)
    assert calls == [4.0, rescan.STAND_OUT_MADS]
    med = np.median(scores)
    assert thr == robust_stats.median_plus_mads(med, np.median(np.abs(scores - med)),
                                                rescan.STAND_OUT_MADS)
    assert robust_stats.MAD_TO_SIGMA == 1.4826


def test_a_plan_at_its_budget_does_not_say_it_stops_below_it():
    """Failed before (s51 F8 #1, review R9 oof_case.py): left half blurred (sigma 2),
    budget 0.125: the out-of-focus blocks fill the budget, the default and stand-out plans
    are one, yet the stand-out plan said it "stops below its budget"."""
    from scipy import ndimage as ndi

    from napari_srmat.synth import generate_microstructure

    img = generate_microstructure((128, 128), mean_grain_size_px=24, seed=5,
                                  blur=0.0).image.astype(np.float32)
    img[:, :64] = ndi.gaussian_filter(img[:, :64], (2.0, 2.0, 0) if img.ndim == 3 else 2.0)
    img = img.clip(0, 255).astype(np.uint8)
    kw = dict(scale=4, budget=0.125, roi_px=16, device="cpu", pixel_size_um=1.0)
    filled = plan_rescan(img, "cnn", **kw)
    stand_out = plan_rescan(img, "cnn", stand_out_only=True, **kw)
    assert stand_out.rois == filled.rois
    assert stand_out.roi_fraction == pytest.approx(0.125)
    assert not any(rescan.STOPS_BELOW_BUDGET in n for n in stand_out.warnings)


def test_equal_scores_have_no_block_that_stands_out():
    """Failed before (s51 F8 #2: MAD 0 made the threshold the median, so 1.0001 stood
    out of [1, 1, 1, ...]): the MAD is at least MIN_MAD_FRACTION of the median."""
    scores = np.array([1.0] * 9 + [1.0001])
    thr = rescan.stand_out_threshold(scores)
    assert thr == pytest.approx(1.0 + rescan.STAND_OUT_MADS * 1.4826
                                * rescan.MIN_MAD_FRACTION)
    assert not (scores > thr).any()
    assert (np.array([1.0] * 9 + [2.0]) > thr).sum() == 1  # a real outlier still does


def test_too_few_blocks_to_judge_fill_the_budget_and_say_so():
    """Failed before (s51 F8 #2: with 2 blocks none can ever stand out, with 1 the
    threshold is its own score; the plan proposed nothing for them): under
    MIN_STAND_OUT_BLOCKS eligible blocks the stand-out plan is the default plan, with
    TOO_FEW_TO_JUDGE."""
    from napari_srmat.synth import generate_microstructure

    img = generate_microstructure((32, 16), mean_grain_size_px=4, seed=3,
                                  blur=0.0).image
    kw = dict(scale=4, budget=0.5, roi_px=16, device="cpu", pixel_size_um=1.0)
    filled = plan_rescan(img, "cnn", **kw)
    plan = plan_rescan(img, "cnn", stand_out_only=True, **kw)
    assert plan.rois == filled.rois and plan.rois
    assert plan.stand_out_threshold is None and plan.stand_out_only is True
    [note] = [n for n in plan.warnings if n.startswith("too few blocks")]
    assert note in [rescan.TOO_FEW_TO_JUDGE.format(n=n)
                    for n in range(1, rescan.MIN_STAND_OUT_BLOCKS)]
    assert not any(rescan.STOPS_BELOW_BUDGET in n for n in plan.warnings)
