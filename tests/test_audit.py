"""Tests of the hallucination-audit detector, session log, report and CLI."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from napari_srmat.audit import (
    AddedRegion,
    AuditFileError,
    AuditInputError,
    AuditSession,
    Candidate,
    find_candidates,
    find_candidates_job,
    inject_false_boundaries,
    recall_at,
    resolve_degrade,
    write_report,
)
from napari_srmat.audit.detector import degrade
from napari_srmat.cli.audit import pooled_lines
from napari_srmat.jobs import Progress, Stopped, StopToken


def _grains(shape=(128, 128), n=14, seed=0):
    """Voronoi 'micrograph': coloured grains, thin dark boundaries, mild texture."""
    rng = np.random.default_rng(seed)
    H, W = shape
    pts = rng.uniform(0, [H, W], size=(n, 2))
    yy, xx = np.mgrid[0:H, 0:W]
    d = (yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2
    lab = np.argmin(d, axis=-1)
    cols = rng.uniform(0.3, 0.9, size=(n, 3))
    img = cols[lab]
    bnd = np.zeros((H, W), bool)
    bnd[:-1] |= lab[:-1] != lab[1:]
    bnd[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    img[bnd] *= 0.6
    img += rng.normal(0, 0.01, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8), bnd


@pytest.fixture(scope="module")
def pair():
    hr, bnd = _grains((192, 192), seed=3)
    lr = resolve_degrade()(hr, 4)
    return lr, hr, bnd


def test_perfect_sr_gives_near_zero_candidates(pair):
    lr, hr, _ = pair
    cands = find_candidates(lr, hr, scale=4)
    assert len(cands) == 0
    # even without the score threshold nothing scores meaningfully
    all_c = find_candidates(lr, hr, scale=4, min_score=0.0)
    assert all(c.score < 10.0 for c in all_c)
    assert cands.total_boundary_length_px > 100  # the boundary map did see boundaries


def test_inject_false_boundaries_takes_the_one_seed_rule():
    """seed=-1 failed with numpy's 'expected non-negative integer', 2.5 and 3.0 with
    'SeedSequence expects int or sequence of ints': the one seed rule
    (errors.check_seed), 3.0 used as 3."""
    img = np.full((64, 64), 200, np.uint8)
    for seed in (-1, 2.5, "1"):
        with pytest.raises(AuditInputError,
                           match=rf"^seed must be an integer >= 0, got {re.escape(repr(seed))}$"):
            inject_false_boundaries(img, n_lines=2, seed=seed)
    a, la = inject_false_boundaries(img, n_lines=2, seed=3.0)
    b, lb = inject_false_boundaries(img, n_lines=2, seed=3)
    assert np.array_equal(a, b) and [ln.bbox for ln in la] == [ln.bbox for ln in lb]
    assert len(la) == 2


def test_injected_lines_are_top_ranked(pair):
    lr, hr, bnd = pair
    sr, lines = inject_false_boundaries(hr, bnd, n_lines=4, seed=5, min_distance_px=6)
    assert len(lines) >= 3
    cands = find_candidates(lr, sr, scale=4)
    assert recall_at(cands, lines, 2 * len(lines)) >= 0.9
    assert cands[0].score >= cands[-1].score
    assert [c.score for c in cands] == sorted((c.score for c in cands), reverse=True)
    assert [c.id for c in cands] == list(range(1, len(cands) + 1))
    top = cands[0]
    assert top.kind in ("new_boundary", "data_inconsistency")
    x0, y0, x1, y1 = top.bbox
    assert 0 <= x0 < x1 <= sr.shape[1] and 0 <= y0 < y1 <= sr.shape[0]
    assert any(c.new_boundary_length_px > 5 for c in cands)


def test_sample_spread_candidate(pair):
    lr, hr, _ = pair
    std = np.zeros(hr.shape[:2], np.float32)
    std[40:60, 100:130] = 0.2
    cands = find_candidates(lr, hr, scale=4, sr_std=std)
    assert len(cands) == 1
    c = cands[0]
    assert c.kind == "sample_spread"
    assert c.bbox == [100, 40, 130, 60]


def test_tiled_equals_untiled():
    hr, bnd = _grains((320, 384), n=30, seed=7)
    lr = degrade(hr, 4)
    sr, lines = inject_false_boundaries(hr, bnd, n_lines=8, seed=2, min_distance_px=6)
    kw = {"scale": 4, "degrade_fn": degrade, "min_score": 1.0}
    whole = find_candidates(lr, sr, tile=2048, **kw)
    events = []
    from napari_srmat.jobs import run_job

    tiled = run_job(find_candidates_job(lr, sr, tile=96, **kw), quiet=True,
                    on_event=events.append)
    n_prog = [e for e in events if isinstance(e, Progress)]
    assert n_prog[-1].total == 4 * 4  # 96-px tiles over 320x384
    assert len(whole) >= len(lines) - 1
    assert len(tiled) == len(whole)
    # same regions with close scores; matched by bbox, not by rank (two close scores may
    # swap places between the tiled and the whole-image float sums)
    tiled_by_bbox = {tuple(c.bbox): c for c in tiled}
    assert set(tiled_by_bbox) == {tuple(c.bbox) for c in whole}
    for a in whole:
        assert tiled_by_bbox[tuple(a.bbox)].score == pytest.approx(a.score, rel=0.05)
    assert tiled.total_boundary_length_px == pytest.approx(whole.total_boundary_length_px,
                                                           rel=0.02)
    # lazy (Dask) inputs are read tile by tile and give the same result
    import dask.array as da

    lazy = find_candidates(da.from_array(lr, chunks=(40, 40, 3)),
                           da.from_array(sr, chunks=(160, 160, 3)), tile=96, **kw)
    assert [c.bbox for c in lazy] == [c.bbox for c in tiled]


def test_custom_boundary_fn_and_stop(pair):
    lr, hr, bnd = pair
    sr, lines = inject_false_boundaries(hr, bnd, n_lines=3, seed=1, min_distance_px=6)
    calls = []

    def my_map(img):
        calls.append(img.shape)
        from scipy import ndimage as ndi

        g = ndi.gaussian_gradient_magnitude(np.asarray(img, np.float32).mean(axis=-1), 1.0)
        return np.clip(g / 0.05, 0, 1)

    cands = find_candidates(lr, sr, boundary_fn=my_map, tile=96)
    assert calls and all(len(s) == 3 for s in calls)
    assert recall_at(cands, lines, 2 * len(lines)) >= 0.6
    token = StopToken()
    token.request_stop()
    gen = find_candidates_job(lr, sr, stop=token)
    events = []
    try:
        while True:
            events.append(next(gen))
    except StopIteration as st:
        assert st.value is None
    assert any(isinstance(e, Stopped) for e in events)


@pytest.mark.parametrize("shapes", [((32, 32), (100, 100)), ((32, 32), (128, 96)),
                                    ((32, 32, 3), (64, 64, 3, 1))])
def test_bad_shapes(shapes):
    a, b = np.zeros(shapes[0], np.uint8), np.zeros(shapes[1], np.uint8)
    with pytest.raises(AuditInputError, match="scale|shape"):
        find_candidates(a, b)
    with pytest.raises(ValueError):
        find_candidates(np.zeros((32, 32)), np.zeros((128, 128)), scale=3)


@pytest.mark.parametrize("which", ["lr", "sr"])
@pytest.mark.parametrize("shape", [(64,), ()])
def test_an_image_that_is_not_2d_is_named_not_an_index_error(which, shape):
    """A 1-D or 0-D lr/sr (a row or a number out of a notebook) failed in the memory
    check with Python's 'IndexError: tuple index out of range' (bad-input sweep)."""
    images = {"lr": np.zeros((32, 32), np.uint8), "sr": np.zeros((64, 64), np.uint8)}
    images[which] = np.zeros(shape, np.uint8)
    with pytest.raises(AuditInputError, match=rf"^{which} must be \(H, W\) or \(H, W, C\), "
                       rf"got shape {re.escape(str(shape))}$"):
        find_candidates(images["lr"], images["sr"])


def test_an_lr_image_smaller_than_any_model_input_is_refused():
    """A 1 x 1 or 4 x 4 px lr (a wrong crop) was audited at scale 96 or 24 without a word
    and gave no candidates; super_resolve refuses such an input (io.check_image_side)."""
    sr = np.zeros((96, 96), np.uint8)
    for side in (1, 4):
        with pytest.raises(ValueError, match=rf"^lr is {side} x {side} px, smaller than the "
                           r"smallest image side napari-srmat takes \(8 px\)$"):
            find_candidates(np.zeros((side, side), np.uint8), sr)
    assert find_candidates(np.zeros((8, 8), np.uint8), sr).scale == 12


def test_swapped_lr_and_sr_are_named_as_such():
    with pytest.raises(AuditInputError, match="sr is smaller than lr: are they swapped"):
        find_candidates(np.zeros((128, 128), np.uint8), np.zeros((32, 32), np.uint8))


@pytest.mark.parametrize("kw, match", [
    ({"tolerance_px": -1.0}, "tolerance_px"), ({"tolerance_px": float("nan")}, "tolerance_px"),
    ({"min_score": float("nan")}, "min_score"), ({"residual_floor": 2.0}, "residual_floor"),
    ({"residual_floor": float("nan")}, "residual_floor"), ({"residual_floor": "x"}, "auto"),
])
def test_bad_numbers_are_refused(kw, match):
    """Out-of-range settings (found by a bad-input sweep) are refused, not used."""
    with pytest.raises(AuditInputError, match=match):
        find_candidates(np.zeros((32, 32), np.uint8), np.zeros((64, 64), np.uint8), **kw)


@pytest.mark.parametrize("which", ["lr", "sr"])
def test_nan_pixels_are_told_as_nan_not_as_a_mismatched_pair(pair, which, tmp_path, capsys):
    """With Inf and -Inf pixels (or many NaN) the data-consistency floor estimated first
    came out above 1 and `srmat audit candidates` said 'degrade(sr) does not match lr
    anywhere ... is sr the super-resolution of this lr?', after a warning 'invalid value
    encountered in reduce': the estimate refuses such pixels as the tile loop does."""
    import tifffile

    from napari_srmat.cli import main

    lr, hr, _ = pair
    kw = {"lr": lr.astype(np.float32) / 255, "sr": hr.astype(np.float32) / 255}
    kw[which][:, :8] = np.inf
    kw[which][:, 8:16] = -np.inf
    with pytest.raises(AuditInputError, match=f"^{which} has NaN or Inf pixels"):
        find_candidates(kw["lr"], kw["sr"])
    for name, arr in kw.items():
        tifffile.imwrite(tmp_path / f"{name}.tif", arr)
    rc = main(["audit", "candidates", str(tmp_path / "lr.tif"), str(tmp_path / "sr.tif"),
               "--out", str(tmp_path / "a.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and "warning" not in err
    assert err.splitlines()[-1].startswith(  # the file named after its role
        f"srmat audit candidates: error: {which} {tmp_path / (which + '.tif')} has NaN or Inf "
        "pixels")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr.tif", "sr.tif"]


def test_scale_must_be_an_integer_and_an_inconsistent_pair_is_named(tmp_path, capsys):
    """scale=2.5 / "4" / 0 were cast with int() ("sr shape ... is not lr shape ... x scale
    2", a scale the user did not give); an SR that matches its LR nowhere (a mask
    subsampled as "LR") failed with "residual_floor and std_floor must be in (0, 1], got
    1.8 and 0.03", blaming options left at their defaults."""
    lr, sr = np.zeros((32, 32), np.uint8), np.zeros((128, 128), np.uint8)
    assert find_candidates(lr, sr, scale=4.0).scale == 4
    for bad in (2.5, "4", 0):
        with pytest.raises(AuditInputError, match=rf"^scale must be an integer >= 1, got "
                           rf"{bad!r}$"):
            find_candidates(lr, sr, scale=bad)
    mask = np.zeros((128, 128), bool)
    mask[::6] = mask[:, ::6] = True
    with pytest.raises(AuditInputError, match=r"^degrade\(sr\) does not match lr anywhere .*"
                       r"residual_floor='auto'.* is sr the super-resolution of this lr"
                       r".*\(A fixed floor searches anyway: pass residual_floor=F, a number "
                       r"in \(0, 1\]\.\)$") as info:
        find_candidates(mask[::4, ::4], mask)
    # srmat audit candidates is told its flag, not the keyword (both were in one line)
    assert "--" not in str(info.value)
    assert "floor, --residual-floor auto, is" in info.value.cli_message
    assert info.value.cli_message.endswith(
        "(A fixed floor searches anyway: pass --residual-floor F, a number in (0, 1].)")
    from PIL import Image

    from napari_srmat.cli import main

    Image.fromarray(mask[::4, ::4]).save(tmp_path / "lr.png")
    Image.fromarray(mask).save(tmp_path / "sr.png")
    rc = main(["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
               "--out", str(tmp_path / "a.json")])
    err = capsys.readouterr().err.splitlines()[-1]
    assert rc == 2 and err.startswith("srmat audit candidates: error: degrade(sr ")
    assert "floor, --residual-floor auto, is" in err and "residual_floor" not in err
    assert err.endswith("pass --residual-floor F, a number in (0, 1].)")


@pytest.mark.parametrize("which", ["lr", "sr", "sr_std"])
def test_nan_pixels_are_refused(pair, which):
    """NaN pixels gave no candidates at all, without an error (a bad-input sweep)."""
    lr, hr, _ = pair
    kw = {"lr": lr.astype(np.float32), "sr": hr.astype(np.float32) / 255,
          "sr_std": np.full(hr.shape[:2], 0.01, np.float32)}
    kw[which][5, 7] = np.nan
    with pytest.raises(AuditInputError, match=f"^{which} has NaN or Inf pixels"):
        find_candidates(kw["lr"], kw["sr"], sr_std=kw["sr_std"])


# ------------------------------------------------------------------- session


def _session(tmp_path, n=5, fill=0):
    lr = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
    sr = np.full((64, 64, 3), fill, np.uint8)
    cands = [Candidate(id=i + 1, bbox=[i, i, i + 10, i + 8], score=100.0 - 10 * i,
                       kind="new_boundary", new_boundary_length_px=10.0 + i) for i in range(n)]
    s = AuditSession.create(lr, sr, cands, reviewer="ana", sr_model={"name": "bicubic"})
    s.total_boundary_length_px = 1000.0
    return lr, sr, s


def test_session_round_trip_and_resume(tmp_path):
    lr, sr, s = _session(tmp_path)
    path = tmp_path / "audit.json"
    s.save(path)
    s.decide("real", note="twin boundary")
    s.decide("hallucinated")
    s.add_region([1, 2, 11, 12], length_px=15.0)
    assert s.position == 2
    assert (tmp_path / "audit.json.bak").exists()
    csv_text = (tmp_path / "audit.csv").read_text()
    assert "twin boundary" in csv_text and csv_text.count("\n") == 1 + 5 + 1

    r = AuditSession.load(path, lr=lr, sr=sr)
    assert r.position == 2
    assert r.current.id == 3
    assert {k: v.verdict for k, v in r.decisions.items()} == {1: "real", 2: "hallucinated"}
    assert r.decisions[1].note == "twin boundary" and r.decisions[1].reviewer == "ana"
    assert [c.id for c in r.candidates] == [1, 2, 3, 4, 5]
    assert r.added_regions[0].bbox == [1, 2, 11, 12]
    assert r.progress_text() == "2/5 reviewed"
    r.decide("unsure")
    r2 = AuditSession.load(path)
    assert len(r2.decisions) == 3 and r2.position == 3
    # the .bak holds the previous version
    bak = json.loads((tmp_path / "audit.json.bak").read_text())
    assert len(bak["decisions"]) == 2


def test_session_bad_verdict_and_ids(tmp_path):
    _, _, s = _session(tmp_path)
    with pytest.raises(ValueError, match="verdict"):
        s.decide("maybe")
    with pytest.raises(ValueError, match="no candidate"):
        s.decide("real", candidate_id=99)


@pytest.mark.parametrize("key, value, told", [
    ("decisions", [1], "decisions must be an object of candidate id: verdict, got list"),
    ("total_boundary_length_px", "x", "total_boundary_length_px must be a number >= 0"),
    ("scale", -3, "scale must be an integer >= 1, got -3"),
    ("sr_shape", "x", "sr_shape must be [height, width]"),
    ("pixel_size_um", -1, "pixel_size_um must be a finite positive number"),
    ("position", -1, "position must be an integer >= 0"),
])
def test_malformed_session_fields_are_one_error_naming_the_file(tmp_path, capsys, key, value,
                                                                told):
    """A session JSON with "decisions": [1] or a text total_boundary_length_px crashed
    `srmat audit report` ('internal error: AttributeError' / 'TypeError', exit 1); a
    negative scale, a text sr_shape or a negative pixel size failed later without naming
    the file ('negative dimensions are not allowed'). All are a malformed session."""
    from napari_srmat.cli import main

    _, _, s = _session(tmp_path)
    path = tmp_path / "audit.json"
    s.save(path)
    d = json.loads(path.read_text())
    d[key] = value
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(AuditFileError) as info:
        AuditSession.load(bad)
    assert str(info.value).startswith(f"{bad}: malformed audit session: ")
    assert told in str(info.value)
    rc = main(["audit", "report", str(bad), "--out", str(tmp_path / "r.md")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and told in err and "Traceback" not in err
    assert not (tmp_path / "r.md").exists()


@pytest.mark.parametrize("field, value", [("relative_path", 5), ("path", ["sr.png"])])
def test_an_image_path_that_is_not_text_is_a_malformed_session(tmp_path, capsys, field,
                                                               value):
    """A session edited by hand whose SR image's relative_path (or path) is not text,
    the image being no longer at its path, crashed load and `srmat audit report`
    ('internal error: TypeError', exit 1). It is a malformed session, in one line."""
    from napari_srmat.cli import main

    _, _, s = _session(tmp_path)
    s.images["sr"]["path"] = str(tmp_path / "moved-away.png")
    path = s.save(tmp_path / "audit.json")
    d = json.loads(path.read_text())
    d["images"]["sr"][field] = value
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    told = f"the sr image's {field} must be text, got {value!r}"
    with pytest.raises(AuditFileError, match=f"^{bad}: malformed audit session: "):
        AuditSession.load(bad)
    rc = main(["audit", "report", str(bad), "--out", str(tmp_path / "r.md")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and told in err and "Traceback" not in err

def test_corrupt_and_mismatched_files(tmp_path):
    lr, sr, s = _session(tmp_path)
    path = tmp_path / "audit.json"
    s.save(path)
    original = path.read_bytes()
    # mismatched checksum
    other = sr.copy()
    other[0, 0, 0] = 1
    with pytest.raises(AuditFileError, match="SR image does not match"):
        AuditSession.load(path, lr=lr, sr=other)
    assert path.read_bytes() == original
    # corrupt JSON
    bad = tmp_path / "bad.json"
    bad.write_text(original.decode()[:-40])
    with pytest.raises(AuditFileError, match="cannot read"):
        AuditSession.load(bad)
    assert bad.read_text() == original.decode()[:-40]
    # wrong schema version / malformed record
    d = json.loads(original)
    d["schema_version"] = 99
    bad.write_text(json.dumps(d))
    with pytest.raises(AuditFileError, match="schema_version"):
        AuditSession.load(bad)
    d = json.loads(original)
    d["candidates"][0]["bbox"] = [5, 5, 1]
    bad.write_text(json.dumps(d))
    with pytest.raises(AuditFileError, match="malformed"):
        AuditSession.load(bad)
    assert isinstance(AuditFileError("x"), ValueError)
    # a failing save leaves the original untouched
    s.candidates[0].score = object()  # not JSON serialisable -> save fails early
    with pytest.raises((TypeError, ValueError)):
        s.decide("real")
    assert path.read_bytes() == original


def test_report(tmp_path, pair):
    lr, hr, bnd = pair
    sr, lines = inject_false_boundaries(hr, bnd, n_lines=3, seed=5, min_distance_px=6)
    cands = find_candidates(lr, sr, scale=4)
    s = AuditSession.create(lr, sr, cands, reviewer="bo")
    s.save(tmp_path / "a.json")
    s.decide("hallucinated")
    if len(cands) > 1:
        s.decide("real")
    res = write_report(s, tmp_path / "rep.md", images=[(lr, sr)])
    text = (tmp_path / "rep.md").read_text()
    assert "per megapixel" in text
    pooled = res["pooled"]
    assert pooled["counts"]["hallucinated"] == 1
    exp_len = cands[0].new_boundary_length_px
    assert pooled["hallucinated_length_px"] == pytest.approx(exp_len)
    assert pooled["hallucinated_px_per_megapixel"] == pytest.approx(
        exp_len / (sr.shape[0] * sr.shape[1] / 1e6))
    assert pooled["hallucinated_fraction"] == pytest.approx(
        exp_len / cands.total_boundary_length_px)
    thumbs = list((tmp_path / "rep_thumbs").glob("*.png"))
    assert len(thumbs) == len(cands)
    # the report again with fewer thumbnails: the ones it no longer links are gone (they
    # stayed beside it); a file of the user's in the folder is not touched
    assert len(cands) > 1
    (tmp_path / "rep_thumbs" / "mine.png").write_bytes(b"not ours")
    write_report(s, tmp_path / "rep.md", images=[(lr, sr)], max_thumbnails=1)
    left = sorted(p.name for p in (tmp_path / "rep_thumbs").glob("*.png"))
    assert left == sorted([f"s1_c{cands[0].id}.png", "mine.png"])
    assert f"rep_thumbs/s1_c{cands[0].id}.png" in (tmp_path / "rep.md").read_text()
    # the same numbers for another image (one image twice is refused)
    s2 = AuditSession.from_dict(json.loads(json.dumps(s.to_dict())))
    s2.images["sr"]["sha256"] = "sha256:" + "0" * 64
    res2 = write_report([s, s2], tmp_path / "rep2.md", pixel_size_um=0.5, thumbnails=False)
    px = 0.5e-3
    area = 2 * sr.shape[0] * sr.shape[1] * px * px
    assert res2["pooled"]["hallucinated_per_mm2"] == pytest.approx(2 * exp_len * px / area)
    assert "per mm^2" in (tmp_path / "rep2.md").read_text()
    # a region the reviewer added has its own column: the candidates' hallucinated count
    # beside a length that also held the added regions read as one region making it all
    s.add_region([2, 2, 20, 20], length_px=25.0)
    res3 = write_report(s, tmp_path / "rep3.md", thumbnails=False)
    assert res3["pooled"]["counts"]["hallucinated"] == 1
    assert res3["pooled"]["added_regions"]["hallucinated"] == 1
    assert res3["pooled"]["hallucinated_length_px"] == pytest.approx(exp_len + 25.0)
    text = (tmp_path / "rep3.md").read_text()
    [header] = [ln for ln in text.splitlines() if ln.startswith("| image |")]
    [pooled_row] = [ln for ln in text.splitlines() if ln.startswith("| **pooled**")]
    heads = [c.strip() for c in header.split("|")[1:-1]]
    cells = dict(zip(heads, (c.strip() for c in pooled_row.split("|")[1:-1])))
    assert cells["candidates hallucinated"] == "1" and cells["candidates real"] == "1"
    assert cells["reviewer-added hallucinated"] == "1"
    # candidates left unreviewed: a lower bound (only the confirmed ones counted)
    assert cells["halluc. length px"] == f"≥ {exp_len + 25.0:.0f}"


def test_cli_candidates_and_report(tmp_path, pair, capsys):
    from PIL import Image

    from napari_srmat.cli import main

    lr, hr, bnd = pair
    sr, lines = inject_false_boundaries(hr, bnd, n_lines=3, seed=5, min_distance_px=6)
    Image.fromarray((np.clip(lr, 0, 1) * 255).round().astype(np.uint8)).save(tmp_path / "lr.png")
    Image.fromarray(sr).save(tmp_path / "sr.png")
    out = tmp_path / "audit.json"
    rc = main(["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
               "--out", str(out), "--json", "--quiet"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["candidates"] and res["scale"] == 4
    assert recall_at([Candidate.from_dict(c) for c in res["candidates"]], lines, 6) >= 0.9
    s = AuditSession.load(out, lr=tmp_path / "lr.png", sr=tmp_path / "sr.png")
    assert len(s.candidates) == len(res["candidates"])
    # existing output is not overwritten without --overwrite
    rc = main(["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
               "--out", str(out), "--json", "--quiet"])
    assert rc == 2
    rc = main(["audit", "report", str(out), "--out", str(tmp_path / "r.md"), "--json"])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["pooled"]["counts"]["unreviewed"] == len(res["candidates"])
    assert Path(rep["report"]).exists()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["audit", "report", str(bad), "--out", str(tmp_path / "x.md")]) == 2


def test_cli_candidates_refuses_a_users_csv_before_the_search(tmp_path, capsys, monkeypatch):
    """The session's CSV log goes beside it (OUT.csv); a file of the user's under that
    name was found only when the search had ended (minutes on a large SR image), then
    refused. It is refused first now, and left as it was."""
    from PIL import Image

    import napari_srmat.audit as audit
    from napari_srmat.cli import main

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(tmp_path / "lr.png")
    Image.fromarray(rng.integers(0, 255, (128, 128), dtype=np.uint8)).save(tmp_path / "sr.png")
    mine = tmp_path / "audit.csv"
    mine.write_text("my own notes\n")

    def no_search(*a, **k):
        raise AssertionError("the search ran before the outputs were checked")

    monkeypatch.setattr(audit, "find_candidates_job", no_search)
    rc = main(["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
               "--out", str(tmp_path / "audit.json"), "--json", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert f"{mine} exists and is not an audit session file" in err
    assert mine.read_text() == "my own notes\n" and not (tmp_path / "audit.json").exists()


def test_a_users_file_named_like_the_sessions_bak_is_not_replaced(tmp_path, capsys,
                                                                   monkeypatch):
    """A save keeps the previous JSON as PATH.bak; a file of the user's under that name
    (not an audit session) was overwritten by the first decision (library, widget) or a
    second search (`srmat audit candidates --overwrite`), with no word. It is refused as
    a user's JSON or CSV is, before anything is written, and left as it was."""
    import re

    from PIL import Image

    import napari_srmat.audit as audit
    from napari_srmat.cli import main
    from napari_srmat.outputs import OutputExistsError

    _, _, s = _session(tmp_path)
    path = tmp_path / "audit.json"
    mine = tmp_path / "audit.json.bak"
    mine.write_text("my own notes\n")
    with pytest.raises(OutputExistsError,
                       match=f"^{re.escape(str(mine))} exists and is not an audit session"):
        s.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json.bak"]
    # a session saved before the file was put there: its next decision is refused
    mine.unlink()
    s.save(path)
    mine.write_text("my own notes\n")
    saved = path.read_bytes()
    with pytest.raises(OutputExistsError):
        s.decide("real")
    assert not s.decisions and path.read_bytes() == saved
    assert mine.read_text() == "my own notes\n"
    # the CLI: refused before the search, in one line
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(tmp_path / "lr.png")
    Image.fromarray(rng.integers(0, 255, (128, 128), dtype=np.uint8)).save(tmp_path / "sr.png")

    def no_search(*a, **k):
        raise AssertionError("the search ran before the outputs were checked")

    monkeypatch.setattr(audit, "find_candidates_job", no_search)
    rc = main(["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
               "--out", str(path), "--overwrite", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 2 and err.count("\n") == 1
    assert f"{mine} exists and is not an audit session file" in err
    assert mine.read_text() == "my own notes\n" and path.read_bytes() == saved


@pytest.mark.realdata
def test_real_images(shared_data):
    """Injected false boundaries on real regions (tbm/val: tbm/test is opened only by
    studies/final_test_table.py) are found; the true SR of the HR image gives none."""
    from PIL import Image

    imgs = sorted((shared_data / "tbm" / "val" / "images").glob("*.png"))
    deg = resolve_degrade()
    n_inj = n_hit = n_perfect = 0
    for p in imgs:
        hr = np.asarray(Image.open(p).convert("RGB"))
        m = np.asarray(Image.open(shared_data / "tbm" / "val" / "masks" / p.name))
        m = m[..., 0] if m.ndim == 3 else m
        lr = deg(hr, 4)
        n_perfect += len(find_candidates(lr, hr, scale=4))
        sr, lines = inject_false_boundaries(hr, m > 127, n_lines=4, seed=11)
        if not lines:  # grains too small for a false line inside one
            continue
        cands = find_candidates(lr, sr, scale=4)
        n_inj += len(lines)
        n_hit += round(recall_at(cands, lines, 2 * len(lines)) * len(lines))
    assert n_perfect <= 1
    assert n_inj >= 5 and n_hit / n_inj >= 0.9


def test_residual_floor_adapts(pair):
    from napari_srmat.audit.detector import estimate_residual_floor

    lr, hr, _ = pair
    assert estimate_residual_floor(lr, hr, 4) == pytest.approx(0.01)
    noisy = np.clip(hr / 255.0 + np.random.default_rng(0).normal(0, 0.15, hr.shape), 0, 1)
    f = estimate_residual_floor(lr, noisy, 4)
    assert f > 0.02
    # a globally noisy (but unbiased) SR: the adaptive floor flags a small part of the
    # image, a fixed low floor flags (nearly) all of it
    area = hr.shape[0] * hr.shape[1]
    flagged_auto = sum(c.n_pixels for c in find_candidates(lr, noisy, scale=4))
    flagged_fixed = sum(c.n_pixels for c in find_candidates(lr, noisy, scale=4,
                                                            residual_floor=0.01))
    assert flagged_fixed > 0.8 * area
    assert flagged_auto < 0.2 * area
    with pytest.raises(ValueError, match="residual_floor"):
        find_candidates(lr, hr, scale=4, residual_floor="sometimes")


@pytest.mark.parametrize("other_px", [None, 0.5])
def test_report_density_column_has_one_unit(tmp_path, other_px):
    """Images that do not share one known pixel size: every row of the density column is
    per megapixel (a row in mm per mm^2 under a 'px per MP' header was 250x off)."""
    _, _, a = _session(tmp_path)
    _, _, b = _session(tmp_path, fill=1)  # another image
    a.pixel_size_um, b.pixel_size_um = 0.25, other_px
    for s in (a, b):
        s.decide("hallucinated", save=False)
    res = write_report([a, b], tmp_path / "rep.md", thumbnails=False)
    per_mp = 10.0 / (64 * 64 / 1e6)  # candidate 1: 10 px of new boundary on a 64 x 64 SR
    rows = [r for r in (tmp_path / "rep.md").read_text().splitlines() if r.startswith("| ")]
    assert "px per MP" in rows[0]
    for row in rows[1:4]:  # image 1, image 2, pooled: 4 candidates each left unreviewed
        cell = row.split("|")[8].strip()
        assert cell.startswith("≥ ") and float(cell[2:]) == pytest.approx(per_mp, rel=1e-3)
    text = (tmp_path / "rep.md").read_text()
    assert "do not share one known pixel size" in text and "Pixel size unknown" not in text
    assert res["per_image"][0]["hallucinated_per_mm2"] == pytest.approx(10 * 0.25e-3 / (
        64 * 64 * 0.25e-3 ** 2))


def test_session_file_named_csv_is_refused(tmp_path, capsys):
    """A session saved as 'audit.csv' had its JSON replaced by the CSV log at once: the
    next decision failed ('not an audit session file') and the session was lost."""
    from PIL import Image

    from napari_srmat.cli import main

    lr, sr, s = _session(tmp_path)
    with pytest.raises(ValueError, match=r"ends in \.csv"):
        s.save(tmp_path / "audit.csv")
    assert not (tmp_path / "audit.csv").exists()
    s.save(tmp_path / "audit.json")
    s.decide("real")
    assert AuditSession.load(tmp_path / "audit.json").decisions[1].verdict == "real"
    # the CLI refuses it before the search, in one line
    Image.fromarray(lr).save(tmp_path / "lr.png")
    Image.fromarray(sr).save(tmp_path / "sr.png")
    rc = main(["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
               "--out", str(tmp_path / "out.CSV"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "ends in .csv" in err and "Traceback" not in err
    assert not (tmp_path / "out.CSV").exists()


def test_write_report_never_replaces_a_users_file(tmp_path):
    """write_report('notes.md') replaced a user's file (only the CLI checked)."""
    from napari_srmat.outputs import OutputExistsError

    _, _, s = _session(tmp_path)
    s.save(tmp_path / "audit.json")
    notes = tmp_path / "notes.md"
    notes.write_text("my notes\n")
    with pytest.raises(OutputExistsError, match="not written by napari-srmat"):
        write_report(s, notes, thumbnails=False)
    assert notes.read_text() == "my notes\n"
    with pytest.raises(ValueError, match="input"):  # the session itself
        write_report(s, tmp_path / "audit.json", thumbnails=False)
    assert AuditSession.load(tmp_path / "audit.json").candidates
    write_report(s, tmp_path / "rep.md", thumbnails=False)
    s.decide("hallucinated")
    res = write_report(s, tmp_path / "rep.md", thumbnails=False)  # ours: regenerated
    assert res["pooled"]["counts"]["hallucinated"] == 1


def test_session_takes_the_sr_files_pixel_size(tmp_path, capsys):
    """AuditSession.create(Micrograph, ...) raised "'Micrograph' object is not
    subscriptable"; from paths, and in `srmat audit candidates`, the SR file's pixel size
    was dropped, so the report was per megapixel although the file knew it."""
    from napari_srmat.cli import main
    from napari_srmat.io import read_image, write_ome_zarr

    _, _, s = _session(tmp_path)
    sr, _ = _grains((64, 64))
    lr = (resolve_degrade()(sr, 4) * 255).round().astype(np.uint8)
    s = AuditSession.create(lr, sr, s.candidates)
    write_ome_zarr(lr, tmp_path / "lr.ome.zarr", pixel_size_um=1.0)
    write_ome_zarr(sr, tmp_path / "sr.ome.zarr", pixel_size_um=0.25)
    lr_m, sr_m = read_image(tmp_path / "lr.ome.zarr"), read_image(tmp_path / "sr.ome.zarr")
    a = AuditSession.create(lr_m, sr_m, s.candidates)
    assert a.pixel_size_um == 0.25
    assert a.images["sr"]["sha256"] == s.images["sr"]["sha256"]  # the pixels' checksum
    a.save(tmp_path / "a.json")
    AuditSession.load(tmp_path / "a.json", lr=lr_m, sr=sr_m)  # a Micrograph resumes too
    b = AuditSession.create(tmp_path / "lr.ome.zarr", tmp_path / "sr.ome.zarr", s.candidates)
    assert b.pixel_size_um == 0.25
    assert AuditSession.create(lr_m, sr_m, s.candidates, pixel_size_um=0.3).pixel_size_um \
        == 0.3  # the user's wins
    out = tmp_path / "cli.json"
    rc = main(["audit", "candidates", str(tmp_path / "lr.ome.zarr"),
               str(tmp_path / "sr.ome.zarr"), "--out", str(out), "--quiet"])
    assert rc == 0 and json.loads(out.read_text())["pixel_size_um"] == 0.25
    rc = main(["audit", "candidates", str(tmp_path / "lr.ome.zarr"),
               str(tmp_path / "sr.ome.zarr"), "--out", str(out), "--quiet", "--overwrite",
               "--pixel-size-um", "0.5"])
    assert rc == 0 and json.loads(out.read_text())["pixel_size_um"] == 0.5
    assert "the file records 0.25 µm per pixel" in capsys.readouterr().err


def test_candidates_json_lists_its_warnings(tmp_path, capsys):
    """srmat audit candidates --json had no 'warnings': its pixel-size note (a given
    --pixel-size-um the SR file contradicts) went to stderr only, so a batch script
    reading stdout never saw it. It is now listed under 'warnings' (still printed), as
    srmat register --json lists its own; empty when there is none."""
    from napari_srmat.cli import main
    from napari_srmat.io import write_ome_zarr

    sr, _ = _grains((64, 64))
    lr = (resolve_degrade()(sr, 4) * 255).round().astype(np.uint8)
    write_ome_zarr(lr, tmp_path / "lr.ome.zarr", pixel_size_um=1.0)
    write_ome_zarr(sr, tmp_path / "sr.ome.zarr", pixel_size_um=0.25)
    base = ["audit", "candidates", str(tmp_path / "lr.ome.zarr"),
            str(tmp_path / "sr.ome.zarr"), "--quiet", "--json"]
    assert main([*base, "--out", str(tmp_path / "a.json")]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []
    assert main([*base, "--out", str(tmp_path / "b.json"), "--pixel-size-um", "0.5"]) == 0
    captured = capsys.readouterr()
    warnings, = json.loads(captured.out)["warnings"]
    assert warnings.startswith("the file records 0.25 µm per pixel")
    assert f"srmat audit candidates: note: {warnings}" in " ".join(captured.err.split())


def test_a_negative_sr_std_is_refused(tmp_path, capsys):
    """A negative sr_std (a signed map, e.g. a difference of two SR samples) was accepted
    and read as no uncertainty at all: the search gave its candidates without a word. It
    is now refused (AuditInputError; srmat audit candidates: one line naming the file);
    a zero std still passes."""
    from napari_srmat.audit.detector import AuditInputError
    from napari_srmat.cli import main
    from napari_srmat.io import write_ome_zarr

    sr, _ = _grains((64, 64))
    lr = (resolve_degrade()(sr, 4) * 255).round().astype(np.uint8)
    find_candidates(lr, sr, scale=4, sr_std=np.zeros(sr.shape[:2], np.float32))
    for std in (np.full(sr.shape[:2], -0.5, np.float32), np.full(sr.shape[:2], -3, np.int16)):
        with pytest.raises(AuditInputError, match="sr_std has negative values"):
            find_candidates(lr, sr, scale=4, sr_std=std)
    write_ome_zarr(lr, tmp_path / "lr.ome.zarr")
    write_ome_zarr(sr, tmp_path / "sr.ome.zarr")
    std_file = tmp_path / "std.ome.zarr"
    write_ome_zarr(np.full(sr.shape[:2], -0.5, np.float32), std_file)
    rc = main(["audit", "candidates", str(tmp_path / "lr.ome.zarr"),
               str(tmp_path / "sr.ome.zarr"), "--sr-std", str(std_file), "--quiet",
               "--out", str(tmp_path / "a.json")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"sr_std {std_file} has negative values" in err
    assert not (tmp_path / "a.json").exists()


def test_report_links_and_cells_survive_spaces_and_line_breaks(tmp_path):
    """A report named 'my report.md' linked its thumbnails as '(my report_thumbs/...)',
    which Markdown does not read as a link (no pictures); a note with a line break
    ended its table row in the middle."""
    import re
    from urllib.parse import unquote

    lr = np.zeros((16, 16), np.uint8)
    sr = np.zeros((64, 64), np.uint8)
    cands = [Candidate(id=1, bbox=[4, 4, 20, 20], score=50.0, kind="new_boundary",
                       new_boundary_length_px=10.0)]
    s = AuditSession.create(lr, sr, cands)
    s.decide("hallucinated", note="twin?\nor a | scratch", save=False)
    folder = tmp_path / "Prüfung µm"
    write_report(s, folder / "my report.md", images=[(lr, sr)])
    text = (folder / "my report.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[c1\]\(([^)\s]+)\)", text)
    assert len(links) == 1 and (folder / unquote(links[0])).is_file()
    row = next(line for line in text.splitlines() if line.startswith("| 1 | 1 |"))
    assert "twin? or a / scratch" in row and row.endswith("|")


def test_a_save_never_replaces_decisions_another_program_saved(tmp_path):
    """Two napari windows (or two reviewers) on one session file: each decision saved the
    whole session over the other's, and the other's decisions were silently lost."""
    _, _, s = _session(tmp_path)
    path = tmp_path / "audit.json"
    s.save(path)
    a, b = AuditSession.load(path), AuditSession.load(path)
    a.decide("real")  # a's first save: the file is as a read it
    a.decide("unsure")
    with pytest.raises(AuditFileError, match="changed by another program"):
        b.decide("hallucinated", candidate_id=3)
    assert {k: d.verdict for k, d in AuditSession.load(path).decisions.items()} == {
        1: "real", 2: "unsure"}
    b = AuditSession.load(path)  # read again: its saves go on
    b.decide("hallucinated", candidate_id=3)
    assert len(AuditSession.load(path).decisions) == 3
    b.save(tmp_path / "copy.json")  # another file: no conflict
    b.decide("real", candidate_id=4)
    assert len(AuditSession.load(tmp_path / "copy.json").decisions) == 4


def test_pooled_fraction_counts_an_image_without_boundaries(tmp_path):
    """A featureless image (no boundary at all, total length 0) made the pooled
    'fraction of all boundary length' n/a for the whole report."""
    from napari_srmat.audit import CandidateList

    _, _, s = _session(tmp_path)  # 1000 px of boundary
    s.decide("hallucinated", save=False)  # 10 px
    lr = np.zeros((16, 16), np.uint8)
    empty = AuditSession.create(lr, np.zeros((64, 64), np.uint8),
                                CandidateList([], total_boundary_length_px=0.0, scale=4))
    res = write_report([s, empty], tmp_path / "r.md", thumbnails=False)
    assert res["pooled"]["hallucinated_fraction"] == pytest.approx(10 / 1000)
    assert res["per_image"][1]["hallucinated_fraction"] is None
    unknown = AuditSession.create(lr, np.zeros((64, 64), np.uint8), [])  # no total
    assert write_report([s, unknown], tmp_path / "r.md", thumbnails=False)[
        "pooled"]["hallucinated_fraction"] is None


def test_added_region_is_clipped_to_the_sr_image(tmp_path):
    """A rectangle drawn beside or across the edge of the SR image was logged as is: its
    bbox diagonal, outside the image, counted as hallucinated boundary length."""
    _, _, s = _session(tmp_path)  # SR 64 x 64
    r = s.add_region([50, -10, 90, 20], save=False)
    assert r.bbox == [50, 0, 64, 20]
    assert r.estimated_length_px == pytest.approx(np.hypot(14, 20))
    with pytest.raises(ValueError, match="no area inside the SR image"):
        s.add_region([70, 5, 90, 20], save=False)
    assert len(s.added_regions) == 1


def test_report_thumbnails_only_of_the_audited_images(tmp_path):
    """The report drew its thumbnails from the files the session names even when they had
    been replaced since the audit (same names, other pixels): crops the reviewer never
    saw, beside the verdicts."""
    from PIL import Image

    lr = np.random.default_rng(0).integers(0, 255, (16, 16), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    Image.fromarray(lr).save(tmp_path / "lr.png")
    Image.fromarray(sr).save(tmp_path / "sr.png")
    cands = [Candidate(id=1, bbox=[4, 4, 20, 20], score=50.0, kind="new_boundary",
                       new_boundary_length_px=10.0)]
    s = AuditSession.create(tmp_path / "lr.png", tmp_path / "sr.png", cands)
    write_report(s, tmp_path / "r.md")
    assert "![c1]" in (tmp_path / "r.md").read_text()
    Image.fromarray(255 - sr).save(tmp_path / "sr.png")  # replaced after the audit
    write_report(s, tmp_path / "r.md")
    text = (tmp_path / "r.md").read_text()
    assert "![c1]" not in text
    assert "thumbnails skipped: the SR image is not the audited one" in text
    write_report(s, tmp_path / "r.md", images=[(lr, 255 - sr)])  # given: checked too
    assert "![c1]" not in (tmp_path / "r.md").read_text()


def _grey_png(path, side, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((side, side)) * 255).astype(np.uint8)).save(path)
    return str(path)


@pytest.mark.parametrize("extra, std_side, told", [
    (["--scale", "3"], None, "sr {sr} shape (32, 32) is not lr {lr} shape (8, 8) x scale 3"),
    ([], 16, "sr_std {std} shape (16, 16) != sr {sr} shape (32, 32)"),
])
def test_cli_candidates_shape_errors_name_the_files(tmp_path, capsys, extra, std_side, told):
    """The shape errors named roles ("sr shape ... is not lr shape ..."), not files."""
    from napari_srmat.cli import main

    lr, sr = _grey_png(tmp_path / "lr.png", 8), _grey_png(tmp_path / "sr.png", 32, 1)
    std = _grey_png(tmp_path / "std.png", std_side, 2) if std_side else None
    argv = ["audit", "candidates", lr, sr, "--out", str(tmp_path / "a.json"), "--quiet",
            *extra, *(["--sr-std", std] if std else [])]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"srmat audit candidates: error: {told.format(lr=lr, sr=sr, std=std)}\n"


def test_cli_candidates_refuses_images_under_the_least_side(tmp_path, capsys):
    """A 3 x 3 LR and its 9 x 9 SR were audited ("0 candidate(s)"); other commands refuse
    an image under io.MIN_IMAGE_SIDE (io.check_image_side), and so does this one."""
    from PIL import Image

    from napari_srmat.cli import main
    from napari_srmat.io import MIN_IMAGE_SIDE

    lr = _grey_png(tmp_path / "lr.png", 3)
    Image.fromarray(np.kron(np.asarray(Image.open(lr)), np.ones((3, 3), np.uint8))).save(
        tmp_path / "sr.png")
    out = tmp_path / "a.json"
    assert main(["audit", "candidates", lr, str(tmp_path / "sr.png"), "--out", str(out),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{lr} is 3 x 3 px, smaller than" in err
    assert f"({MIN_IMAGE_SIDE} px)" in err and not out.exists()


def test_cli_candidates_without_an_integer_scale_says_what_to_do(tmp_path, capsys):
    """An LR/SR pair whose sizes are no integer multiple was told to 'pass scale=', which
    cannot help (a given scale fails the next check); it is told to crop or resize."""
    from PIL import Image

    from napari_srmat.cli import main

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8)).save(tmp_path / "lr.png")
    Image.fromarray(rng.integers(0, 255, (50, 50), dtype=np.uint8)).save(tmp_path / "sr.png")
    rc = main(["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
               "--out", str(tmp_path / "a.json"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "cannot infer an integer scale" in err and "crop or resize" in err
    assert "pass scale" not in err
    assert "Traceback" not in err and not (tmp_path / "a.json").exists()


def test_a_replaced_reviewed_session_is_kept_past_the_next_decision(tmp_path, capsys):
    """A new session saved over a reviewed one (a new search in the widget, `srmat audit
    candidates --overwrite`, `AuditSession.create(...).save(path)`) left the review only
    in PATH.bak, which the first decision of the new session replaced by the new empty
    session: the review was gone. It is now kept under its own name, never rotated."""
    from napari_srmat.audit.session import replaced_session_path

    lr, sr, s = _session(tmp_path)
    path = tmp_path / "audit.json"
    s.save(path)
    s.decide("real")
    s.decide("hallucinated")
    s.add_region([1, 2, 11, 12])
    assert s.kept_replaced is None  # its own saves keep nothing more than the .bak
    reviewed = path.read_bytes()
    kept = replaced_session_path(path)
    assert kept.name.startswith("audit.json.") and kept.name.endswith("Z.bak")
    new = AuditSession.create(lr, sr, s.candidates)
    new.created = "2026-12-05T08:00:00+00:00"  # another run
    new.save(path)
    assert new.kept_replaced == kept and kept.read_bytes() == reviewed
    new.decide("unsure")
    new.decide("unsure")
    assert kept.read_bytes() == reviewed  # never rotated
    assert len(json.loads((tmp_path / "audit.json.bak").read_text())["decisions"]) == 1
    # a third run over the second keeps the second under its own name, the first stays
    third = AuditSession.create(lr, sr, s.candidates)
    third.save(path)
    assert third.kept_replaced.name == "audit.json.20261205T080000Z.bak"
    assert kept.read_bytes() == reviewed
    # an unreviewed session replaced: only the usual .bak
    fourth = AuditSession.create(lr, sr, s.candidates)
    fourth.created = "2026-12-06T08:00:00+00:00"
    fourth.save(tmp_path / "other.json")
    AuditSession.create(lr, sr, s.candidates).save(tmp_path / "other.json")
    assert sorted(p.name for p in tmp_path.glob("other.json*")) == ["other.json",
                                                                    "other.json.bak"]

    # the CLI's --overwrite says where the review went
    from PIL import Image

    from napari_srmat.cli import main

    Image.fromarray(lr).save(tmp_path / "lr.png")
    Image.fromarray(np.kron(lr, np.ones((4, 4, 1), np.uint8))).save(tmp_path / "sr.png")
    out = tmp_path / "cli.json"
    args = ["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
            "--out", str(out), "--quiet", "--min-score", "0"]
    assert main(args) == 0
    s = AuditSession.load(out)
    s.add_region([1, 2, 11, 12])
    capsys.readouterr()
    assert main([*args, "--overwrite"]) == 0
    err = capsys.readouterr().err
    kept = list(tmp_path.glob("cli.json.*Z.bak"))
    assert len(kept) == 1 and f"is kept as {kept[0]}" in err
    assert len(json.loads(kept[0].read_text())["added_regions"]) == 1


def test_a_failed_save_records_nothing_and_keeps_the_position(tmp_path, monkeypatch):
    """decide() recorded the verdict and moved to the next candidate before saving: when
    the save failed (a folder in the .bak's place, the CSV log held by another program,
    a full disk), the session had moved on and the next verdict went to a candidate the
    reviewer never saw; a failed add_region and its retry saved the region twice; a CSV
    that could not be written left the JSON already replaced."""
    import napari_srmat.audit.session as session_mod

    _, _, s = _session(tmp_path)
    path = tmp_path / "audit.json"
    s.save(path)
    s.decide("real")
    original = path.read_bytes()
    blocker = tmp_path / "audit.json.bak"
    blocker.unlink()
    blocker.mkdir()
    (blocker / "x").write_text("")  # a non-empty folder: the .bak cannot be replaced
    with pytest.raises(OSError):
        s.decide("hallucinated", note="seen")
    assert s.position == 1 and set(s.decisions) == {1}
    with pytest.raises(OSError):
        s.decide("unsure", candidate_id=1)  # a changed verdict is not lost either
    assert s.decisions[1].verdict == "real"
    with pytest.raises(OSError):
        s.add_region([1, 2, 11, 12])
    assert s.added_regions == []
    assert path.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    (blocker / "x").unlink()
    blocker.rmdir()
    s.add_region([1, 2, 11, 12])  # the retry adds it once
    s.decide("hallucinated")
    saved = AuditSession.load(path)
    assert len(saved.added_regions) == 1 and saved.position == 2
    assert {k: d.verdict for k, d in saved.decisions.items()} == {1: "real", 2: "hallucinated"}

    # the CSV log cannot be written after the JSON was: the JSON is put back
    original = path.read_bytes()
    real = session_mod.atomic_write_text

    def csv_held(p, text, *a, **k):
        if str(p).endswith(".csv"):
            raise PermissionError(13, "Permission denied", str(p))
        return real(p, text, *a, **k)

    monkeypatch.setattr(session_mod, "atomic_write_text", csv_held)
    with pytest.raises(PermissionError):
        s.decide("unsure")
    assert path.read_bytes() == original and s.position == 2 and 3 not in s.decisions
    monkeypatch.setattr(session_mod, "atomic_write_text", real)
    s.decide("unsure")  # the session goes on saving over its own file
    assert len(AuditSession.load(path).decisions) == 3


def test_cli_candidates_takes_the_sr_model_the_sr_file_records(tmp_path):
    """`srmat audit candidates` recorded no SR model unless --sr-model was given, though
    an `srmat sr run` store records the model (and its settings) that made it."""
    from napari_srmat.cli import main
    from napari_srmat.io import write_ome_zarr
    from napari_srmat.sr import super_resolve

    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    write_ome_zarr(lr, tmp_path / "lr.ome.zarr")
    super_resolve(lr, "bicubic", out=tmp_path / "sr.ome.zarr")
    args = ["audit", "candidates", str(tmp_path / "lr.ome.zarr"), str(tmp_path / "sr.ome.zarr"),
            "--quiet"]
    assert main([*args, "--out", str(tmp_path / "a.json")]) == 0
    model = AuditSession.load(tmp_path / "a.json").sr_model
    assert model["name"] == "bicubic" and model["settings"]["scale"] == 4
    assert main([*args, "--out", str(tmp_path / "b.json"), "--sr-model", "mine"]) == 0
    assert AuditSession.load(tmp_path / "b.json").sr_model == {"name": "mine"}


def test_report_reads_and_upscales_only_the_thumbnail_windows(tmp_path, monkeypatch, pair):
    """`srmat audit report` read both whole images as float32 and bicubic-upscaled the
    whole LR to draw the thumbnails, even for a session without candidates (a 6144^2 RGB
    SR: 87 s and 2.1 GB). Now only each thumbnail's windows are read and upscaled (the
    same pixels as the whole-image upscale), and nothing is read without candidates."""
    import napari_srmat.audit.report as report_mod
    from napari_srmat.audit.detector import upscale_bicubic
    from napari_srmat.io import write_ome_zarr

    lr, hr, _ = pair  # 48 x 48 -> 192 x 192 RGB
    write_ome_zarr(lr, tmp_path / "lr.ome.zarr")
    write_ome_zarr(hr, tmp_path / "sr.ome.zarr")
    cands = [Candidate(id=1, bbox=[0, 2, 20, 30], score=9.0, kind="new_boundary",
                       new_boundary_length_px=5.0),
             Candidate(id=2, bbox=[100, 90, 130, 120], score=8.0, kind="new_boundary",
                       new_boundary_length_px=5.0)]
    s = AuditSession.create(tmp_path / "lr.ome.zarr", tmp_path / "sr.ome.zarr", cands)
    upscaled = []
    real_up = report_mod.upscale_bicubic
    monkeypatch.setattr(report_mod, "upscale_bicubic",
                        lambda im, sc: upscaled.append(im.shape) or real_up(im, sc))
    write_report(s, tmp_path / "r.md")
    assert len(upscaled) == 2 and all(sh[0] < 48 and sh[1] < 48 for sh in upscaled)
    # the crops are those of the whole-image upscale
    full = upscale_bicubic(lr, 4)
    for c in cands:
        lr_c, sr_c, (cx0, cy0) = report_mod._thumb_crops(lr, hr, 4, c.bbox)
        h, w = lr_c.shape[:2]
        np.testing.assert_allclose(lr_c, full[cy0:cy0 + h, cx0:cx0 + w], atol=1 / 255)
        np.testing.assert_array_equal(sr_c, hr[cy0:cy0 + h, cx0:cx0 + w] / np.float32(255))
    # a session without candidates reads no image for thumbnails (the SR file's
    # calibration is still looked at, its metadata only: sr_file_pixel_size)
    empty = AuditSession.create(tmp_path / "lr.ome.zarr", tmp_path / "sr.ome.zarr", [])
    read = []
    monkeypatch.setattr(report_mod, "_read_image", lambda *a, **k: read.append(a) or 1 / 0)
    write_report(empty, tmp_path / "r.md")
    assert read == [] and "thumbnails skipped" not in (tmp_path / "r.md").read_text()


def test_report_refuses_one_image_twice(tmp_path, capsys):
    """`srmat audit report a.json a.json` (or two sessions of one SR image) pooled that
    image's area and hallucinated length twice, silently."""
    from napari_srmat.cli import main

    lr, sr, s = _session(tmp_path)
    s.save(tmp_path / "a.json")
    other = AuditSession.create(lr, sr, s.candidates)
    other.save(tmp_path / "b.json")
    for args in (["a.json", "a.json"], ["a.json", "b.json"]):
        rc = main(["audit", "report", *(str(tmp_path / a) for a in args),
                   "--out", str(tmp_path / "r.md")])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
        assert f"{tmp_path / args[1]} audits the same SR image as {tmp_path / 'a.json'}" in err
    assert not (tmp_path / "r.md").exists()
    with pytest.raises(ValueError, match="session 2 audits the same SR image as session 1"):
        write_report([_session(tmp_path)[2], _session(tmp_path)[2]], tmp_path / "r.md")


def test_cli_candidates_refuses_one_file_as_lr_and_sr(tmp_path, capsys):
    """`srmat audit candidates a.png a.png` searched an image against itself (the widget
    refuses one layer as both); now one line, exit 2, nothing written."""
    from PIL import Image

    from napari_srmat.cli import main

    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
    for sr in ("a.png", "link.png"):
        rc = main(["audit", "candidates", str(tmp_path / "a.png"), str(tmp_path / sr),
                   "--out", str(tmp_path / "s.json"), "--quiet"])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
        assert err.rstrip().endswith(
            f"image {tmp_path / 'a.png'} is given twice (also as {tmp_path / sr}): "
            "the low-resolution scan is LR, its super-resolved image SR: give their two "
            "files"), err
    assert not (tmp_path / "s.json").exists()


def test_cli_candidates_two_files_without_inodes_are_two_images(tmp_path, capsys,
                                                                monkeypatch):
    """Some filesystems (FAT, some network shares and FUSE mounts) give every file inode
    0: `srmat audit candidates` told its LR and SR apart with its own Path.samefile, and
    refused two different files as "the same file" (failed before: rc 2). It now applies
    the commands' one rule, cli.check_distinct_inputs, which compares their paths there."""
    import os

    from PIL import Image

    from napari_srmat.cli import main

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(tmp_path / "lr.png")
    Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(tmp_path / "sr.png")
    real_stat = os.stat

    def stat_without_inodes(path, *args, **kwargs):
        st = real_stat(path, *args, **kwargs)
        return os.stat_result((st.st_mode, 0, *tuple(st)[2:]))

    monkeypatch.setattr(os, "stat", stat_without_inodes)
    rc = main(["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
               "--out", str(tmp_path / "s.json"), "--quiet"])
    err = capsys.readouterr().err
    assert "given twice" not in err and "same file" not in err, err
    assert rc == 0, err


def test_cli_uaed_records_the_boundary_model(tmp_path):
    """`srmat audit candidates --uaed ...` recorded "boundary_fn": "boundary_fn" (the name
    of the CLI's local function): the session did not say which map the search used."""
    from PIL import Image

    from napari_srmat.cli import main

    lr = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(lr).save(tmp_path / "lr.png")
    Image.fromarray(np.kron(lr, np.ones((4, 4, 1), np.uint8))).save(tmp_path / "sr.png")
    assert main(["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
                 "--out", str(tmp_path / "a.json"), "--uaed", "default", "--quiet"]) == 0
    det = AuditSession.load(tmp_path / "a.json").detector
    assert det["boundary_fn"] == "uaed"
    model = det["boundary_model"]
    assert Path(model["checkpoint"]).name == "uaed_default"
    assert model["threshold"] == det["boundary_threshold"] and model["tta"]


def test_cli_device_is_where_the_uaed_model_runs(tmp_path, capsys, monkeypatch):
    """README: every command takes `--device auto|cpu|cuda`; `srmat audit candidates`, the
    one that runs the UAED model with --uaed, had none (argparse: unrecognized arguments).
    It now reaches the model; a device it cannot use is refused before any image is read,
    and --device without --uaed is refused rather than ignored."""
    from PIL import Image

    import napari_srmat.edges as edges
    from napari_srmat.cli import main

    lr = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(lr).save(tmp_path / "lr.png")
    Image.fromarray(np.kron(lr, np.ones((4, 4, 1), np.uint8))).save(tmp_path / "sr.png")
    real, devices = edges.load_boundary_model, []

    def spy(*args, **kwargs):
        devices.append(kwargs.get("device"))
        return real(*args, **kwargs)

    monkeypatch.setattr(edges, "load_boundary_model", spy)
    cmd = ["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
           "--out", str(tmp_path / "a.json"), "--quiet"]
    assert main([*cmd, "--uaed", "default", "--device", "cpu"]) == 0
    assert devices == ["cpu"]
    capsys.readouterr()
    for extra, words in ((["--uaed", "default", "--device", "gpu"], "unknown --device"),
                         (["--device", "cpu"], "--device is where the UAED model")):
        rc = main([*cmd, "--overwrite", *extra])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and words in err, err
    assert devices == ["cpu"]  # refused before the model was loaded


def test_report_of_an_unreviewed_session_says_n_a_not_0(tmp_path):
    """A session whose candidates were not reviewed at all reported a hallucinated length
    of 0 and 0.00 % (read as "no hallucination found"); it is n/a, and so is the pooled
    row it is part of (any of its candidates may be hallucinated)."""
    _, _, todo = _session(tmp_path)
    res = write_report(todo, tmp_path / "r.md", thumbnails=False)
    row = [ln for ln in (tmp_path / "r.md").read_text().splitlines()
           if ln.startswith("| image 1 |")][0]
    assert [c.strip() for c in row.split("|")[7:10]] == ["n/a", "n/a", "n/a"]
    for key in ("hallucinated_length_px", "hallucinated_px_per_megapixel",
                "hallucinated_fraction"):
        assert res["per_image"][0][key] is None and res["pooled"][key] is None
    _, _, done = _session(tmp_path, fill=1)
    done.decide("hallucinated", save=False)
    alone = write_report(done, tmp_path / "r.md", thumbnails=False)["pooled"]
    both = write_report([done, todo], tmp_path / "r.md", thumbnails=False)["pooled"]
    for key in ("hallucinated_length_px", "hallucinated_px_per_megapixel",
                "hallucinated_fraction"):
        assert alone[key] > 0 and both[key] is None
    assert both["n_images"] == 2 and both["counts"]["unreviewed"] == 4 + 5
    assert both["n_images_known"] == 1 and both["area_px"] == 2 * alone["area_px"]
    # no candidates at all: nothing suspicious found, a known 0
    empty = AuditSession.create(np.zeros((16, 16), np.uint8), np.zeros((64, 64), np.uint8), [])
    assert write_report(empty, tmp_path / "r.md", thumbnails=False)["pooled"][
        "hallucinated_length_px"] == 0


def test_pooled_figures_of_an_unfinished_review_are_n_a_not_0(tmp_path, capsys):
    """A session with unreviewed candidates (no verdict yet) beside one with no candidates
    pooled to "hallucinated boundary: 0 px, 0 mm per mm^2, 0.00%" over "2 images": the
    unreviewed image was left out of the length without a word, and the pooled
    ``area_px`` was the other image's only. The pooled figures are n/a while an image is
    not reviewed yet, the text says in how many images, ``n_images_known`` counts those
    whose figures are known and ``area_px`` covers every image. Failed before."""
    from napari_srmat.cli import main

    lr = np.zeros((16, 16), np.uint8)
    todo = AuditSession.create(lr, np.full((64, 64), 7, np.uint8), [
        Candidate(id=i, bbox=[i, i, i + 8, i + 8], score=50.0 - i, kind="new_boundary",
                  new_boundary_length_px=10.0) for i in (1, 2)], pixel_size_um=0.25)
    clean = AuditSession.create(lr, np.full((64, 64), 9, np.uint8), [], pixel_size_um=0.25)
    for s in (todo, clean):
        s.total_boundary_length_px = 500.0
    todo.save(tmp_path / "todo.json")
    clean.save(tmp_path / "clean.json")
    res = write_report([todo, clean], tmp_path / "r.md", thumbnails=False)
    pooled = res["pooled"]
    for key in ("hallucinated_length_px", "hallucinated_per_mm2",
                "hallucinated_px_per_megapixel", "hallucinated_fraction"):
        assert pooled[key] is None, key
    assert (pooled["n_images"], pooled["n_images_known"]) == (2, 1)
    assert pooled["area_px"] == 2 * 64 * 64
    row = [ln for ln in (tmp_path / "r.md").read_text().splitlines()
           if ln.startswith("| **pooled** |")][0]
    assert [c.strip() for c in row.split("|")[7:10]] == ["n/a", "n/a", "n/a"]
    assert "no verdict or region yet in 1 of 2 images" in (tmp_path / "r.md").read_text()
    assert main(["audit", "report", str(tmp_path / "todo.json"), str(tmp_path / "clean.json"),
                 "--out", str(tmp_path / "r.md"), "--no-thumbnails"]) == 0
    out = capsys.readouterr().out
    assert "hallucinated boundary: n/a (no verdict or region yet in 1 of 2 images)" in out
    assert "0.00%" not in out
    # every image reviewed (the clean one has nothing to review): a known figure again
    todo.decide("real", save=False)
    pooled = write_report([todo, clean], tmp_path / "r.md", thumbnails=False)["pooled"]
    assert pooled["n_images_known"] == 2 and pooled["hallucinated_length_px"] == 0


def test_a_partly_reviewed_image_reads_as_a_lower_bound_not_a_clean_0(tmp_path, capsys):
    """Some candidates reviewed (all real so far), the others not: the report, its pooled
    row and ``srmat audit report`` read "0 px ... 0.00%" like a finished clean review.
    Only the confirmed hallucinations are counted while candidates are unreviewed: the
    figures are lower bounds, marked "≥" in the table (with a note) and "at least" in
    the CLI line, and ``hallucinated_lower_bound`` says so; every candidate reviewed, the
    figures are exact again. Failed before; so did its unsure part (an unsure verdict,
    whose length is not counted, read as exact)."""
    from napari_srmat.audit.report import lower_bound_reason, summarize
    from napari_srmat.cli import main

    _, _, s = _session(tmp_path)  # 5 candidates, 10-14 px each, of 1000 px of boundary
    s.save(tmp_path / "a.json")
    s.decide("real")
    s.decide("real")
    res = write_report(s, tmp_path / "r.md", thumbnails=False)
    for row in (res["per_image"][0], res["pooled"]):
        assert row["hallucinated_length_px"] == 0 and row["hallucinated_lower_bound"]
    text = (tmp_path / "r.md").read_text()
    for label in ("image 1", "**pooled**"):
        [row] = [ln for ln in text.splitlines() if ln.startswith(f"| {label} |")]
        assert [c.strip() for c in row.split("|")[7:10]] == ["≥ 0", "≥ 0", "≥ 0.00%"]
    assert "≥ marks a lower bound" in text
    assert main(["audit", "report", str(tmp_path / "a.json"), "--out",
                 str(tmp_path / "r.md"), "--no-thumbnails"]) == 0
    out = capsys.readouterr().out
    assert ("hallucinated boundary: at least 0 px, 0 px per megapixel, 0.00% of the "
            "boundary length (a lower bound: 3 candidates not reviewed yet)") in out
    # a confirmed hallucination: still a lower bound, of its length
    s.decide("hallucinated")  # candidate 3, 12 px
    pooled = write_report(s, tmp_path / "r.md", thumbnails=False)["pooled"]
    assert pooled["hallucinated_length_px"] == 12 and pooled["hallucinated_lower_bound"]
    # every candidate has a verdict, one of them unsure: its length is left out of the
    # hallucinated one, which stays a lower bound (updated on purpose 2026-12-07: an
    # unsure verdict read as exact)
    s.decide("real")
    s.decide("unsure")
    res = write_report(s, tmp_path / "r.md", thumbnails=False)
    for row in (res["per_image"][0], res["pooled"]):
        assert row["hallucinated_lower_bound"] and lower_bound_reason(row) == "1 unsure"
    assert "at least 12 px" in pooled_lines(res["pooled"])[1]
    assert "(a lower bound: 1 unsure)" in pooled_lines(res["pooled"])[1]
    # every candidate judged real or hallucinated: exact figures, no mark
    s.decide("real", candidate_id=5)
    res = write_report(s, tmp_path / "r.md", thumbnails=False)
    assert not res["per_image"][0]["hallucinated_lower_bound"]
    assert not res["pooled"]["hallucinated_lower_bound"]
    assert "≥" not in (tmp_path / "r.md").read_text()
    assert "at least" not in "\n".join(pooled_lines(res["pooled"]))
    # an added region judged unsure: a lower bound too, and both kinds are counted
    s.add_region([1, 2, 11, 12], verdict="unsure", length_px=5.0)
    assert lower_bound_reason(summarize(s)) == "1 unsure"
    s.decide("unsure", candidate_id=5)
    assert lower_bound_reason(summarize(s)) == "2 unsure"


def test_a_bbox_estimated_added_region_is_told_as_an_estimate_that_can_overstate(tmp_path):
    """An added region without a length counts its bbox diagonal as hallucinated length:
    a bound box's diagonal overstates a straight boundary that does not cross it corner to
    corner and understates a winding one. The report's note under the table says both
    (until 2026-12-07 only the image's section said how many lengths were estimated, not
    that they can overstate; then the note said "overstate" alone). Failed before."""
    from napari_srmat.audit.report import summarize

    _, _, s = _session(tmp_path)
    for _ in range(5):
        s.decide("real")
    s.add_region([1, 2, 11, 12])  # no length: the diagonal, 14.1 px
    res = write_report(s, tmp_path / "r.md", thumbnails=False)
    assert res["per_image"][0]["length_from_bbox_estimate"] == 1
    text = (tmp_path / "r.md").read_text()
    [note] = [ln for ln in text.splitlines()
              if "bbox diagonal" in ln and "can overstate or understate" in ln]
    assert note.startswith("The length of 1 reviewer-added region"), note
    s.add_region([20, 20, 30, 30], length_px=9.0)  # measured: no further estimate
    s2 = summarize(s)
    assert s2["length_from_bbox_estimate"] == 1


def test_pooled_lines_of_an_older_pooled_summary_say_unknown_not_key_error():
    """A pooled summary written before ``n_images_known`` (an older ``srmat audit report
    --json``) made ``pooled_lines`` raise KeyError. It is read: unknown while it counts
    unreviewed candidates (its pooled length left images without a verdict out without a
    word), its figures once every candidate was reviewed. Failed before."""
    older = {"n_images": 2, "counts": {"real": 1, "hallucinated": 1, "unsure": 0,
                                       "unreviewed": 3},
             "added_regions": {"real": 0, "hallucinated": 0, "unsure": 0},
             "hallucinated_length_px": 10.0, "area_px": 8192.0,
             "hallucinated_px_per_megapixel": 1220.7, "hallucinated_fraction": 0.01}
    lines = pooled_lines(older)
    assert lines[1].startswith("hallucinated boundary: n/a (unknown: a summary of an older "
                               "version"), lines
    older["counts"]["unreviewed"] = 0
    assert pooled_lines(older)[1] == ("hallucinated boundary: 10 px, 1221 px per megapixel, "
                                      "1.00% of the boundary length")


def test_public_audit_examples_run_in_a_notebook_namespace():
    """The docstring example of ``find_candidates`` (``srmat.find_hallucination_candidates``
    for a notebook user) called ``find_candidates(...)``, a NameError after ``import
    napari_srmat as srmat``. The examples of the public names of the detector, the report
    and ``srmat audit``'s helpers run in an empty namespace: they import what they use.
    Failed before; so did the session's (``AuditSession.snapshot`` used
    ``AuditSession`` and ``Candidate`` unimported: NameError)."""
    import doctest
    import importlib

    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran = []
    for module_name in ("napari_srmat.audit.detector", "napari_srmat.audit.report",
                        "napari_srmat.audit.session", "napari_srmat.cli.audit",
                        "napari_srmat.io._mask"):  # s51 F4 #6: its examples too
        module = importlib.import_module(module_name)
        for name in module.__all__:
            for test in finder.find(getattr(module, name), name, module=module, globs={}):
                if test.examples:
                    runner.run(test)
                    ran.append(test.name)
    assert {"find_candidates", "pooled_lines", "AuditSession.snapshot", "read_mask",
            "as_bool_mask"} <= set(ran)
    assert runner.summarize(verbose=False).failed == 0


def test_session_regions_once_removable_and_candidates_of_this_sr_image(tmp_path):
    """add_region took the same box twice (a double click), an added region could not be
    removed, and create() took a CandidateList found on another SR image."""
    from napari_srmat.audit import CandidateList

    lr, sr, s = _session(tmp_path)
    path = tmp_path / "a.json"
    s.save(path)
    s.add_region([1, 2, 11, 12])
    with pytest.raises(ValueError, match=r"already added \(r1\)"):
        s.add_region([1, 2, 11, 12])
    s.add_region([20, 2, 31, 12])
    assert s.remove_region().id == 2 and [r.id for r in s.added_regions] == [1]
    assert [r["id"] for r in json.loads(path.read_text())["added_regions"]] == [1]
    with pytest.raises(ValueError, match="no added region r7"):
        s.remove_region(7)
    s.remove_region(1)
    with pytest.raises(ValueError, match="no added region to remove"):
        s.remove_region()
    other = CandidateList(s.candidates, sr_shape=(96, 64), scale=4)
    with pytest.raises(ValueError, match=r"found on an SR image of 96 x 64 px, not on this "
                       r"one \(64 x 64 px\)"):
        AuditSession.create(lr, sr, other)
    assert len(AuditSession.create(lr, sr, CandidateList(s.candidates, sr_shape=(64, 64),
                                                         scale=4)).candidates) == 5


def test_an_audit_too_large_for_memory_is_refused_before_reading(pair, tmp_path, capsys,
                                                                   monkeypatch):
    """srmat audit candidates read both images whole with no memory check: a 60000² SR
    image ran out of memory after minutes of reading (helper-89). The search's memory
    (estimates.plan_audit) is now checked before any pixel is read, by the library and
    the command alike; arrays already in memory are not counted twice."""
    import dask.array as da
    from PIL import Image

    import napari_srmat.estimates as estimates
    from napari_srmat.audit.detector import AuditInputError
    from napari_srmat.cli import main
    from napari_srmat.estimates import AUDIT_WORK_BYTES_PER_SR_PX, MEMORY_FRACTION

    lr, hr, _ = pair
    work = hr.shape[0] * hr.shape[1] * AUDIT_WORK_BYTES_PER_SR_PX
    whole = work + lr.nbytes + hr.nbytes
    # enough for the work on arrays in memory, not for reading lazy images whole
    monkeypatch.setattr(estimates, "available_memory_bytes",
                        lambda: int((work + 1) / MEMORY_FRACTION) + 1)
    assert whole > work + 1
    find_candidates(lr, hr, scale=4)  # numpy arrays: only the work is counted
    with pytest.raises(AuditInputError, match="find_candidates needs .* audit a region"):
        find_candidates(da.from_array(lr), da.from_array(hr), scale=4)
    from napari_srmat.io import to_uint8

    Image.fromarray(to_uint8(lr)).save(tmp_path / "lr.png")
    Image.fromarray(to_uint8(hr)).save(tmp_path / "sr.png")
    read = []
    import napari_srmat.io as io_mod

    real_read_window = io_mod.read_window
    monkeypatch.setattr(io_mod, "read_window", lambda *a, **k: read.append(a) or
                        real_read_window(*a, **k))
    assert main(["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
                 "--out", str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "audit a region" in err and "needs" in err
    assert read == [] and not (tmp_path / "a.json").exists()


def test_report_tells_apart_sr_images_of_one_file_name(tmp_path):
    """Two models' outputs saved as cnn/sr.png and ddpm/sr.png: the report's rows and
    sections were both named 'sr.png' (which numbers were whose could not be told)."""
    sessions = []
    for k, model in enumerate(("cnn", "ddpm")):
        s = _session(tmp_path, fill=k)[2]
        s.images["sr"]["path"] = str(tmp_path / model / "sr.png")
        s.decide("hallucinated" if k else "real", save=False)
        sessions.append(s)
    write_report(sessions, tmp_path / "rep.md", thumbnails=False)
    lines = (tmp_path / "rep.md").read_text().splitlines()
    rows = [r.split("|")[1].strip() for r in lines if r.startswith("| ")][1:4]
    assert rows == ["cnn/sr.png", "ddpm/sr.png", "**pooled**"]
    assert [r for r in lines if r.startswith("## ")] == ["## cnn/sr.png", "## ddpm/sr.png"]


def test_report_names_every_reviewer_of_the_verdicts(tmp_path):
    """A session made by ana and resumed by bob: the report said 'Reviewer: ana' over
    bob's verdicts (the per-candidate table names no reviewer)."""
    s = _session(tmp_path)[2]
    s.decide("real", save=False)
    s.decide("hallucinated", reviewer="bob", save=False)
    res = write_report(s, tmp_path / "rep.md", thumbnails=False)
    assert res["per_image"][0]["reviewers"] == ["ana", "bob"]
    assert "Reviewers: ana, bob;" in (tmp_path / "rep.md").read_text()
    only_bob = _session(tmp_path)[2]
    only_bob.add_region([1, 2, 11, 12], reviewer="bob", save=False)
    write_report(only_bob, tmp_path / "rep.md", thumbnails=False)
    assert "Reviewer: bob;" in (tmp_path / "rep.md").read_text()


def test_a_changed_verdict_is_appended_to_the_log_not_replaced(tmp_path, monkeypatch):
    """ana judged candidate 1 real, bob changed it to hallucinated: the saved session
    held only bob's verdict (a snapshot), so the audit trail lost who decided what
    first. Every verdict, added and removed region is appended to the session's log
    (time, reviewer); the current verdict is the latest; the report shows the change."""
    import napari_srmat.audit.session as session_mod

    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.save(path)
    s.decide("real", candidate_id=1, note="twin", advance=False)
    s.decide("hallucinated", candidate_id=1, reviewer="bob", note="new line")
    s.add_region([1, 2, 11, 12])
    s.remove_region(reviewer="bob")
    monkeypatch.setattr(session_mod, "atomic_write_text", _fail)
    with pytest.raises(OSError):  # not saved: not in the log either
        s.decide("unsure", candidate_id=1)
    monkeypatch.undo()
    r = AuditSession.load(path)
    assert r.decisions[1].verdict == "hallucinated" and r.decisions[1].reviewer == "bob"
    assert [(e["action"], e.get("candidate", e.get("id", e.get("region"))),
             e.get("verdict"), e["reviewer"]) for e in r.log] == [
        ("verdict", 1, "real", "ana"), ("verdict", 1, "hallucinated", "bob"),
        ("add_region", 1, "hallucinated", "ana"), ("remove_region", 1, None, "bob")]
    assert r.log[0]["note"] == "twin" and all(e["timestamp"] for e in r.log)
    r.decide("real", candidate_id=2)  # a resumed session appends to the log it read
    assert len(AuditSession.load(path).log) == 5
    res = write_report(r, tmp_path / "rep.md", thumbnails=False)
    assert res["per_image"][0]["verdicts_changed"] == 1
    text = (tmp_path / "rep.md").read_text()
    assert "1 verdict(s) changed" in text
    row = next(line for line in text.splitlines() if line.startswith("| 1 | 1 |"))
    assert f"hallucinated (changed; earlier: real (ana, {r.log[0]['timestamp']}))" in row
    # a log that does not lead to the decisions (edited by hand) is refused
    d = json.loads(path.read_text())
    d["log"][1]["verdict"] = "unsure"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(AuditFileError, match="log does not lead to the decisions"):
        AuditSession.load(bad)


def _fail(*args, **kwargs):
    raise OSError(28, "No space left on device")


def test_a_session_of_schema_1_is_read_and_its_log_started(tmp_path):
    """Sessions saved before the log (schema_version 1: current verdicts only) still
    load; their log is rebuilt from the verdicts, the report says earlier changes are
    not recorded, and the next save writes version 2 with the log."""
    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.save(path)
    s.decide("real")
    s.add_region([1, 2, 11, 12])
    d = json.loads(path.read_text())
    d["schema_version"] = 1
    del d["log"], d["log_rebuilt"]
    path.write_text(json.dumps(d))
    old = AuditSession.load(path)
    assert old.decisions[1].verdict == "real" and old.log_rebuilt
    assert [e["action"] for e in old.log] == ["verdict", "add_region"]
    old.decide("hallucinated", candidate_id=1)
    saved = json.loads(path.read_text())
    assert saved["schema_version"] == 2 and len(saved["log"]) == 3 and saved["log_rebuilt"]
    write_report(AuditSession.load(path), tmp_path / "rep.md", thumbnails=False)
    assert "changes made before it was resumed are not recorded" in (
        tmp_path / "rep.md").read_text()


def test_report_pixel_size_says_when_it_overrides_the_sessions(tmp_path, capsys):
    """`srmat audit report --pixel-size-um 0.5` over a session that records 0.25 µm
    replaced it without a word (every density 2x off on a typo). A one-line warning
    says so, and the report notes which size was used; an agreeing size says nothing."""
    from napari_srmat.cli import main

    s = _session(tmp_path)[2]
    s.pixel_size_um = 0.25
    s.decide("hallucinated", save=False)
    path = s.save(tmp_path / "audit.json")
    rep = tmp_path / "rep.md"
    assert main(["audit", "report", str(path), "--out", str(rep), "--pixel-size-um",
                 "0.5", "--no-thumbnails"]) == 0
    err = capsys.readouterr().err
    told = f"the given pixel size 0.5 µm was used, not the one recorded in {path} (0.25 µm)"
    assert err == f"srmat audit report: warning: {told}\n"
    assert ("Pixel size: 0.5 µm (SR grid; given for this report)." in rep.read_text()
            and told in rep.read_text())
    assert main(["audit", "report", str(path), "--out", str(rep), "--pixel-size-um",
                 "0.25", "--no-thumbnails"]) == 0
    assert capsys.readouterr().err == "" and "Note:" not in rep.read_text()
    # --json lists the warning under 'warnings' (empty without one)
    assert main(["audit", "report", str(path), "--out", str(rep), "--pixel-size-um",
                 "0.5", "--no-thumbnails", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == [told]
    assert main(["audit", "report", str(path), "--out", str(rep), "--no-thumbnails",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []


def test_a_session_moved_with_its_images_finds_them(tmp_path, capsys):
    """A project folder (images in img/, the session in log/) moved elsewhere: the
    session kept the old absolute paths, so `srmat audit report` drew no thumbnail
    ('images not available') and later saves kept recording where the images were. The
    images are found relative to the session (only files with the audited pixels), the
    recorded paths are updated with a note, and the verdicts are kept."""
    from PIL import Image

    from napari_srmat.cli import main

    lr, sr, s0 = _session(tmp_path)
    sr = sr.copy()
    sr[::7] = 200  # not one grey level: its thumbnails differ from another image's
    a = tmp_path / "a"
    (a / "img").mkdir(parents=True)
    (a / "log").mkdir()
    Image.fromarray(lr).save(a / "img" / "lr.png")
    Image.fromarray(sr).save(a / "img" / "sr.png")
    s = AuditSession.create(a / "img" / "lr.png", a / "img" / "sr.png", s0.candidates,
                            reviewer="ana")
    s.save(a / "log" / "audit.json")
    s.decide("hallucinated")
    b = tmp_path / "b"
    a.rename(b)
    rep = tmp_path / "rep.md"
    assert main(["audit", "report", str(b / "log" / "audit.json"), "--out", str(rep)]) == 0
    err = capsys.readouterr().err
    moved = str((b / "img" / "sr.png").resolve())
    assert err.count("srmat audit report: note: ") == 2 and moved in err
    assert "thumbnails skipped" not in rep.read_text() and "![c1]" in rep.read_text()
    r = AuditSession.load(b / "log" / "audit.json")
    assert r.images["sr"]["path"] == moved and r.decisions[1].verdict == "hallucinated"
    r.decide("real")  # the next save records where the images are now
    assert json.loads((b / "log" / "audit.json").read_text())["images"]["sr"]["path"] == moved
    # an image moved alone is taken where it is given (array + the file it came from)
    (b / "img" / "sr.png").rename(tmp_path / "elsewhere.png")
    r = AuditSession.load(b / "log" / "audit.json", sr=sr, sr_path=tmp_path / "elsewhere.png")
    assert r.images["sr"]["path"] == str((tmp_path / "elsewhere.png").resolve())
    assert len(r.relocated) == 1 and len(r.decisions) == 2
    # another image where the SR image should be is not the audited one: not taken
    Image.fromarray(np.zeros_like(sr)).save(b / "img" / "sr.png")
    b.rename(tmp_path / "c")
    r = AuditSession.load(tmp_path / "c" / "log" / "audit.json")
    assert r.images["sr"]["path"] == moved and len(r.relocated) == 1  # the LR only
    assert r.images["lr"]["path"] == str((tmp_path / "c" / "img" / "lr.png").resolve())


def test_a_session_reached_through_a_linked_folder_finds_its_moved_images(tmp_path):
    """A session saved through a folder link (a home folder that is a link, /home/ana ->
    /data/ana) recorded its images relative to the link ('../../data/proj/img/sr.png', the
    images' real paths against the link's), so once the project folder moved that path
    led back to where the images had been and they were not found. The path is relative
    to the session's real folder ('img/sr.png')."""
    from PIL import Image

    lr, sr, s0 = _session(tmp_path)
    (tmp_path / "data" / "proj" / "img").mkdir(parents=True)
    (tmp_path / "home").symlink_to("data")
    proj = tmp_path / "home" / "proj"
    Image.fromarray(lr).save(proj / "img" / "lr.png")
    Image.fromarray(sr).save(proj / "img" / "sr.png")
    s = AuditSession.create(proj / "img" / "lr.png", proj / "img" / "sr.png", s0.candidates)
    s.save(proj / "audit.json")
    assert json.loads((proj / "audit.json").read_text())["images"]["sr"][
        "relative_path"] == str(Path("img", "sr.png"))
    (tmp_path / "data" / "proj").rename(tmp_path / "data" / "moved")
    r = AuditSession.load(tmp_path / "home" / "moved" / "audit.json")
    assert len(r.relocated) == 2
    assert r.images["sr"]["path"] == str(
        (tmp_path / "data" / "moved" / "img" / "sr.png").resolve())


def test_a_session_moved_with_its_zarr_stores_finds_them(tmp_path):
    """A project folder with the session and its OME-Zarr stores (what `srmat sr run`
    writes) moved elsewhere: load looked only for image *files*, so stores (folders)
    were not found and the session kept the old paths. Stores are found as files are."""
    from napari_srmat.io import write_ome_zarr

    lr, sr, s0 = _session(tmp_path, fill=7)
    a = tmp_path / "a"
    write_ome_zarr(lr, a / "lr.ome.zarr", pixel_size_um=1.0)
    write_ome_zarr(sr, a / "sr.ome.zarr", pixel_size_um=0.25)
    s = AuditSession.create(a / "lr.ome.zarr", a / "sr.ome.zarr", s0.candidates)
    s.save(a / "audit.json")
    a.rename(tmp_path / "b")
    r = AuditSession.load(tmp_path / "b" / "audit.json")
    assert len(r.relocated) == 2
    assert r.images["sr"]["path"] == str((tmp_path / "b" / "sr.ome.zarr").resolve())


def test_a_given_image_file_that_does_not_exist_is_not_recorded(tmp_path):
    """The widget passes the file its layer was opened from; a layer whose file was
    deleted or moved since it was opened replaced the session's recorded path by that
    missing file, with a note that it 'is used' (and the next save took the relative path
    from it). Only a file that exists is recorded."""
    from PIL import Image

    lr, sr, s0 = _session(tmp_path, fill=3)
    (tmp_path / "img").mkdir()
    Image.fromarray(sr).save(tmp_path / "img" / "sr.png")
    s = AuditSession.create(lr, tmp_path / "img" / "sr.png", s0.candidates)
    path = s.save(tmp_path / "audit.json")
    recorded = s.images["sr"]["path"]
    (tmp_path / "img").rename(tmp_path / "away")
    r = AuditSession.load(path, sr=sr, sr_path=tmp_path / "gone" / "sr.png")
    assert r.relocated == [] and r.images["sr"]["path"] == recorded


def test_a_session_saved_as_another_sessions_backup_is_kept_when_that_backup_rotates(tmp_path):
    """A reviewed session saved as audit.json.bak (a name a save of audit.json uses for its
    previous version) was replaced by that save's rotation: ana's verdicts were gone. It
    is now kept under its own name first (PATH.<created>.bak) and the save says so; the
    session's own earlier saves rotate through PATH.bak as before."""
    _, _, a = _session(tmp_path)
    a.save(tmp_path / "audit.json.bak")
    a.decide("hallucinated", note="ana's work")
    _, _, b = _session(tmp_path, fill=1)
    b.save(tmp_path / "audit.json")
    b.decide("real")
    kept = b.kept_replaced
    assert kept is not None and kept.name.startswith("audit.json.2") and kept.name.endswith(".bak")
    assert AuditSession.load(kept).decisions[1].note == "ana's work"
    n_files = len(list(tmp_path.iterdir()))
    for verdict in ("hallucinated", "real", "unsure"):  # b's own saves: nothing more kept
        b.decide(verdict)
        assert b.kept_replaced is None
    assert len(list(tmp_path.iterdir())) == n_files
    assert AuditSession.load(tmp_path / "audit.json.bak").decisions[1].verdict == "real"


def test_a_hand_edited_log_with_text_ids_keeps_its_history(tmp_path):
    """A session whose log was edited by hand with its candidate ids as text ("1", not 1:
    the decisions' keys are text in JSON) loaded, but its history came out empty: the
    changed verdict was not in verdict_history, nor marked in the report. The log's ids
    are read as numbers, as the candidates' and the decisions' are."""
    from napari_srmat.audit.report import summarize

    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.save(path)
    s.decide("real", candidate_id=1, advance=False)
    s.decide("hallucinated", candidate_id=1, reviewer="bob")
    s.add_region([1, 2, 11, 12])
    s.remove_region()
    d = json.loads(path.read_text())
    for e in d["log"]:
        for key in ("candidate", "id", "region"):
            if key in e:
                e[key] = str(e[key])
    path.write_text(json.dumps(d))
    r = AuditSession.load(path)
    assert [e["verdict"] for e in r.verdict_history(1)] == ["real", "hallucinated"]
    assert summarize(r)["verdicts_changed"] == 1
    assert r.log == s.log


def test_the_session_csv_carries_the_earlier_verdicts_after_its_columns(tmp_path):
    """The session CSV held the current verdicts only: a verdict changed during the
    review (ana: real, then bob: hallucinated) read as bob's alone in what an auditor
    hands on; the history was in the JSON log only. The CSV has a last column,
    earlier_verdicts, with the earlier verdicts of a changed one (a JSON list since
    the cell's "; " was found ambiguous; the columns before it are as they were), and
    a CSV of the earlier layout is still the session's own (a save replaces it)."""
    import csv

    old_header = ("source", "id", "rank", "x0", "y0", "x1", "y1", "score", "kind",
                  "new_boundary_length_px", "verdict", "reviewer", "note", "timestamp")
    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.save(path)
    first = s.decide("real", candidate_id=1, advance=False)
    s.decide("hallucinated", candidate_id=1, reviewer="bob")
    s.decide("unsure", candidate_id=2)
    s.decide("unsure", candidate_id=2, note="again")  # the same verdict: no change
    rows = list(csv.DictReader((tmp_path / "audit.csv").open(encoding="utf-8")))
    assert tuple(rows[0])[:len(old_header)] == old_header
    by_id = {r["id"]: r for r in rows if r["source"] == "detector"}
    assert by_id["1"]["verdict"] == "hallucinated" and by_id["1"]["reviewer"] == "bob"
    assert json.loads(by_id["1"]["earlier_verdicts"]) == [
        {"verdict": "real", "reviewer": "ana", "timestamp": first.timestamp}]
    assert by_id["2"]["earlier_verdicts"] == by_id["3"]["earlier_verdicts"] == ""
    # a CSV written before the column: still the session's, replaced by the next save
    (tmp_path / "audit.csv").write_text(",".join(old_header) + "\n", encoding="utf-8")
    s.decide("real", candidate_id=3)
    assert "earlier_verdicts" in (tmp_path / "audit.csv").read_text(encoding="utf-8")


def test_verdicts_read_back_from_the_session_csv_can_be_given_again(tmp_path):
    """The session CSV (handed on since 5113d27) gives its ids as text, as any CSV
    reader does: decide("hallucinated", candidate_id="2") was refused with "no candidate
    with id 2" although candidate 2 is there (the check compared the text with the
    numbers; verdict_history, earlier_verdicts and remove_region read "2" as 2). The id
    is read as a number once, as the session file's ids are."""
    import csv

    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.save(path)
    s.decide("hallucinated", candidate_id=2, reviewer="bob")
    rows = [r for r in csv.DictReader((tmp_path / "audit.csv").open(encoding="utf-8"))
            if r["verdict"]]
    other = AuditSession.load(path)
    other.decide("real", candidate_id=2, reviewer="ana")
    for row in rows:  # bob's verdicts, as the CSV gives them, over ana's
        other.decide(row["verdict"], candidate_id=row["id"], reviewer=row["reviewer"])
    assert other.decisions[2].verdict == "hallucinated" and 2 in other.decisions
    assert "2" not in other.decisions
    assert [e["candidate"] for e in other.verdict_history(2)] == [2, 2, 2]
    assert other.earlier_verdicts("2")[-1].startswith("real (ana, ")
    with pytest.raises(ValueError, match="no candidate with id 9"):
        other.decide("real", candidate_id="9")
    with pytest.raises(ValueError, match="candidate_id must be an integer >= 0, got 'x2'"):
        other.decide("real", candidate_id="x2")


@pytest.mark.parametrize("bad", [2.5, "2.5", True, "true", np.float64(1.5)])
def test_an_id_that_is_not_a_whole_number_is_refused_not_truncated(tmp_path, bad):
    """A candidate or region id given as 2.5 or True (a script, a value read from a
    spreadsheet) or written so in the session file was cast with int(): 2.5 decided
    candidate 2, True candidate 1, and a file's "id": 2.5 loaded as candidate 2. Every id
    is now read by one rule (check_id): a whole number, or its digits as text."""
    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.add_region([1, 2, 11, 12], save=False)
    s.save(path)
    with pytest.raises(ValueError, match=r"candidate_id must be an integer >= 0, got "):
        s.decide("real", candidate_id=bad)
    assert s.decisions == {}
    with pytest.raises(ValueError, match=r"region_id must be an integer >= 0, got "):
        s.remove_region(bad)
    assert len(s.added_regions) == 1
    with pytest.raises(ValueError, match=r"must be an integer >= 0, got "):
        AddedRegion(id=bad, bbox=[0, 0, 1, 1])
    assert s.decide("real", candidate_id=" 2 ").verdict == "real"  # a CSV cell's text
    good = json.loads(path.read_text(encoding="utf-8"))
    plain = bad.item() if isinstance(bad, np.generic) else bad
    for edit in ("candidate", "decision", "region", "log"):
        d = json.loads(json.dumps(good))
        if edit == "candidate":
            d["candidates"][1]["id"] = plain
        elif edit == "decision":
            d["decisions"] = {str(plain): d["decisions"]["2"]}
        elif edit == "region":
            d["added_regions"][0]["id"] = plain
        else:
            d["log"][-1]["candidate"] = plain
        with pytest.raises(AuditFileError, match="must be an integer >= 0, got "):
            AuditSession.from_dict(d, source=edit)


@pytest.mark.parametrize("bad", [7.5, "7.5", True, "true", np.float64(7.5), None])
def test_a_bbox_coordinate_that_is_not_a_whole_number_is_refused_not_truncated(tmp_path, bad):
    """A box coordinate written as 7.5 or true in the session file (a candidate's, an
    added region's, an added region in the log) or given so to AddedRegion / Candidate /
    add_region was cast with int(): 7.5 loaded as 7, True as 1, without a word. Every box
    is now read by one rule (check_bbox: each coordinate by check_id's rule, then the
    order and range the writer keeps)."""
    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.add_region([1, 2, 11, 12], save=False)
    s.save(path)
    good = json.loads(path.read_text(encoding="utf-8"))
    plain = bad.item() if isinstance(bad, np.generic) else bad
    for edit in ("candidate", "region", "log"):
        d = json.loads(json.dumps(good))
        box = (d["candidates"][1] if edit == "candidate" else
               d["added_regions"][0] if edit == "region" else d["log"][-1])["bbox"]
        box[2] = plain
        with pytest.raises(AuditFileError, match=r"malformed audit session: .*bbox must be "
                           r"\[x0, y0, x1, y1\] in whole SR pixels, got "):
            AuditSession.from_dict(d, source=edit)
    with pytest.raises(ValueError, match=r"bbox must be \[x0, y0, x1, y1\] in whole SR pixels"):
        AddedRegion(id=1, bbox=[0, 0, bad, 9])
    with pytest.raises(ValueError, match=r"bbox must be \[x0, y0, x1, y1\] in whole SR pixels"):
        Candidate(id=1, bbox=[0, 0, bad, 9], score=1.0, kind="new_boundary",
                  new_boundary_length_px=1.0)
    with pytest.raises(ValueError, match=r"bbox must be \[x0, y0, x1, y1\] in whole SR pixels"):
        s.add_region([20, 20, bad, 30], save=False)
    assert len(s.added_regions) == 1
    assert AddedRegion(id=1, bbox=["0", " 2", 7.0, np.int64(9)]).bbox == [0, 2, 7, 9]


@pytest.mark.parametrize("box", [[5, 5, 5, 9], [5, 9, 8, 5], [-1, 0, 4, 4], [0, 0, 4],
                                 "1234", [0, 0, 65, 8]])
def test_a_bbox_the_writer_never_writes_is_refused_in_a_session_file(tmp_path, box):
    """The writer writes boxes with area inside the SR image (the detector's, add_region's
    clipped and refused without area); a file's box of no area, reversed, negative, of
    three numbers, a text or past the image (64 x 64 px here) was taken (its diagonal
    counted as hallucinated length; "1234" read as [1, 2, 3, 4])."""
    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.add_region([1, 2, 11, 12], save=False)
    s.save(path)
    _refused_in_the_file(path, "bbox", box, r"malformed audit session: .*bbox")


def _refused_in_the_file(path, key, value, match):
    """The session saved at ``path`` with ``key`` of its second candidate, then of its
    added region, set to ``value`` is refused by from_dict (AuditFileError ``match``)."""
    good = json.loads(path.read_text(encoding="utf-8"))
    for edit in ("candidate", "region"):
        d = json.loads(json.dumps(good))
        (d["candidates"][1] if edit == "candidate" else d["added_regions"][0])[key] = value
        with pytest.raises(AuditFileError, match=match):
            AuditSession.from_dict(d, source=edit)


def test_earlier_verdicts_in_the_csv_are_read_back_whatever_the_reviewer_names(tmp_path):
    """The CSV's earlier_verdicts joined its entries with "; ": a reviewer named
    "ana; bob" (or "x, y)") gave a cell no reader could split back into its verdicts. The
    cell is now a JSON list of {verdict, reviewer, timestamp} (read by
    csv_earlier_verdicts), and a cell of the earlier "; " form is still read."""
    import csv

    from napari_srmat.audit.session import csv_earlier_verdicts

    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.save(path)
    s.decide("real", candidate_id=1, reviewer="ana; bob", advance=False)
    s.decide("unsure", candidate_id=1, reviewer="x, y) z", advance=False)
    s.decide("hallucinated", candidate_id=1, reviewer="eve")
    rows = list(csv.DictReader((tmp_path / "audit.csv").open(encoding="utf-8")))
    cell = next(r for r in rows if r["id"] == "1")["earlier_verdicts"]
    want = [{k: e[k] for k in ("verdict", "reviewer", "timestamp")}
            for e in s.verdict_history(1)[:-1]]
    assert csv_earlier_verdicts(cell) == want
    assert [e["reviewer"] for e in want] == ["ana; bob", "x, y) z"]
    assert next(r for r in rows if r["id"] == "2")["earlier_verdicts"] == ""
    assert csv_earlier_verdicts("") == []
    # a cell of a CSV written before (2026-12-05): "verdict (reviewer, time)"; "; "
    old = "real (ana, 2026-12-05T08:00:00+00:00); unsure (n/a, 2026-12-05T08:01:00+00:00)"
    assert csv_earlier_verdicts(old) == [
        {"verdict": "real", "reviewer": "ana", "timestamp": "2026-12-05T08:00:00+00:00"},
        {"verdict": "unsure", "reviewer": "", "timestamp": "2026-12-05T08:01:00+00:00"}]
    with pytest.raises(ValueError, match="not an earlier_verdicts cell"):
        csv_earlier_verdicts("maybe")


@pytest.mark.parametrize("form", ["bom_crlf", "semicolon", "cp1252"])
def test_a_session_csv_re_saved_by_excel_is_the_session_s_own_and_kept(tmp_path, form):
    """The session CSV opened and saved in Excel (UTF-8 BOM, CRLF line ends, ';' between
    columns in some locales, or the local code page) was not recognised as the session's
    own: every later save was refused ("exists and is not an audit session file written
    by napari-srmat"), so no verdict could be recorded. It is now the session's own
    (its header read through a BOM, CRLF and ';'), and the save keeps the re-saved file
    (it may hold the reviewer's edits) as audit.csv.<digest>.bak before it replaces it."""
    import csv

    from napari_srmat.audit.session import check_session_files, foreign_session_file

    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.save(path)
    s.decide("real", candidate_id=1, note="zwilling é")
    log = tmp_path / "audit.csv"
    rows = list(csv.reader(log.open(encoding="utf-8", newline="")))
    buf = __import__("io").StringIO()
    csv.writer(buf, delimiter=";" if form == "semicolon" else ",",
               lineterminator="\r\n").writerows(rows)
    resaved = (buf.getvalue().encode("cp1252") if form == "cp1252"
               else b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    log.write_bytes(resaved)
    assert foreign_session_file(path) is None
    assert check_session_files(path) == log
    s.decide("hallucinated", candidate_id=2)
    assert s.kept_csv is not None and s.kept_csv.read_bytes() == resaved
    assert s.kept_csv.name.startswith("audit.csv.") and s.kept_csv.name.endswith(".bak")
    assert s.kept_csv_note() == ("the CSV log audit.csv had been re-saved by another "
                                 f"program (a spreadsheet?); it is kept as {s.kept_csv.name}")
    assert log.read_text(encoding="utf-8").startswith("source,id,rank,")
    s.decide("unsure", candidate_id=3)  # its own CSV again: nothing more kept
    assert s.kept_csv is None
    assert len(list(tmp_path.glob("audit.csv.*.bak"))) == 1
    # a file that is not the session's CSV is still refused
    log.write_text("name;score\r\nmine;1\r\n", encoding="utf-8-sig")
    assert foreign_session_file(path) == log


def test_the_report_follows_the_sr_files_calibration_now(tmp_path, capsys, monkeypatch):
    """A session keeps the SR pixel size of its search; the SR file calibrated anew since
    (re-saved at 0.125 µm, same pixels) was not seen by write_report / srmat audit report:
    its µm and mm² stayed at 0.25 µm without a word. The report now follows the file, as
    the Audit widget follows its SR layer (its size now; the recorded one while it has
    none; a given --pixel-size-um wins), and says so in one line (a UserWarning; one
    stderr line in the CLI)."""
    import shutil
    import warnings

    from napari_srmat.cli import main
    from napari_srmat.io import write_ome_zarr

    sr, _ = _grains((64, 64))
    lr = (resolve_degrade()(sr, 4) * 255).round().astype(np.uint8)
    lr_p, sr_p = tmp_path / "lr.ome.zarr", tmp_path / "sr.ome.zarr"
    write_ome_zarr(lr, lr_p, pixel_size_um=1.0)
    write_ome_zarr(sr, sr_p, pixel_size_um=0.25)
    cands = [Candidate(id=1, bbox=[4, 4, 20, 20], score=9.0, kind="new_boundary",
                       new_boundary_length_px=40.0)]
    s = AuditSession.create(lr_p, sr_p, cands)
    assert s.pixel_size_um == 0.25
    s.save(tmp_path / "a.json")
    s.decide("hallucinated")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the file as recorded: nothing to say
        res = write_report(s, tmp_path / "r.md", thumbnails=False)
    assert res["per_image"][0]["pixel_size_from"] == "session"
    shutil.rmtree(sr_p)
    write_ome_zarr(sr, sr_p, pixel_size_um=0.125)  # calibrated anew, same pixels
    s = AuditSession.load(tmp_path / "a.json")
    with pytest.warns(UserWarning, match=r"SR image file .*sr.ome.zarr records 0.125 µm per "
                      r"pixel now, the session records 0.25 µm: the file's 0.125 µm was "
                      r"used") as rec:
        res = write_report(s, tmp_path / "r.md", thumbnails=False)
    assert len(rec) == 1
    sm = res["per_image"][0]
    assert (sm["pixel_size_um"], sm["pixel_size_from"]) == (0.125, "file")
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "Pixel size: 0.125 µm (SR grid; " in text and str(rec[0].message) in text
    assert s.pixel_size_um == 0.25  # the session itself is not changed by a report
    res = write_report(s, tmp_path / "r.md", 0.5, thumbnails=False)  # given: it wins
    assert res["per_image"][0]["pixel_size_um"] == 0.5
    import signal
    import sys

    # as the console runs it (argv from sys.argv: one-line warnings); its hooks put back
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    monkeypatch.setattr(sys, "argv", ["srmat", "audit", "report", str(tmp_path / "a.json"),
                                      "--out", str(tmp_path / "c.md"), "--no-thumbnails",
                                      "--json"])
    before = signal.getsignal(signal.SIGINT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            rc = main()
    finally:
        signal.signal(signal.SIGINT, before)
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert rc == 0 and len(err) == 1
    assert err[0].startswith("srmat audit report: warning: the SR image file ")
    assert "the file's 0.125 µm was used" in err[0]
    # listed in the JSON's warnings too, as srmat audit candidates --json lists its own
    out = json.loads(captured.out)
    assert out["warnings"] == [out["sr_file_note"]] and err[0].endswith(out["sr_file_note"])
    # a file with other pixels is not the audited image: its calibration is not taken
    shutil.rmtree(sr_p)
    write_ome_zarr(255 - sr, sr_p, pixel_size_um=0.125)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = write_report(s, tmp_path / "r.md", thumbnails=False)
    assert res["per_image"][0]["pixel_size_um"] == 0.25
    # a file with no calibration now: the recorded size (the widget's rule)
    shutil.rmtree(sr_p)
    write_ome_zarr(sr, sr_p)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = write_report(s, tmp_path / "r.md", thumbnails=False)
    assert res["per_image"][0]["pixel_size_um"] == 0.25
    # pixels not square now: no one size, lengths in SR px (the widget's rule)
    shutil.rmtree(sr_p)
    write_ome_zarr(sr, sr_p, pixel_size_um=(0.125, 0.25))
    with pytest.warns(UserWarning, match=r"records pixels that are not square now \(\(Y, X\) "
                      r"= \(0.125, 0.25\) µm\), the session records 0.25 µm") as rec:
        res = write_report(s, tmp_path / "r.md", thumbnails=False)
    assert len(rec) == 1  # one line: reading the file says nothing more
    assert res["per_image"][0]["pixel_size_um"] is None
    assert "per_mm2" not in str(res["pooled"])


def test_the_summary_and_report_say_which_pixel_size_they_used(tmp_path):
    """A session keeps the SR pixel size of its search (or of the SR layer's last
    calibration in the Audit widget); an image calibrated anew elsewhere since is not
    seen by summarize / write_report, and nothing said which size the lengths were in.
    The summary now names it (pixel_size_from) and the report's pixel size line says
    where it came from."""
    from napari_srmat.audit import summarize
    from napari_srmat.audit.report import PIXEL_SIZE_GIVEN, PIXEL_SIZE_RECORDED

    s = _session(tmp_path)[2]
    s.decide("hallucinated", save=False)
    assert summarize(s)["pixel_size_from"] is None
    s.pixel_size_um = 0.25
    assert summarize(s)["pixel_size_from"] == "session"
    assert summarize(s, 0.5)["pixel_size_from"] == "given"
    write_report(s, tmp_path / "r.md", thumbnails=False)
    assert (f"Pixel size: 0.25 µm (SR grid; {PIXEL_SIZE_RECORDED})."
            in (tmp_path / "r.md").read_text(encoding="utf-8"))
    assert PIXEL_SIZE_RECORDED == ("as the session records it: the SR image's at the "
                                   "candidate search, or its last calibration in the "
                                   "Audit widget")
    write_report(s, tmp_path / "r.md", 0.5, thumbnails=False)
    assert (f"Pixel size: 0.5 µm (SR grid; {PIXEL_SIZE_GIVEN})."
            in (tmp_path / "r.md").read_text(encoding="utf-8"))
    # recalibrate: the Audit widget's way in (saved with it; a failed save keeps it)
    s.save(tmp_path / "audit.json")
    assert s.recalibrate(0.125) and not s.recalibrate(0.125)
    assert AuditSession.load(tmp_path / "audit.json").pixel_size_um == 0.125
    with pytest.raises(ValueError, match="pixel"):
        s.recalibrate(-1.0)
    assert s.pixel_size_um == 0.125


def test_a_session_csv_edited_with_its_header_kept_is_kept_before_it_is_rewritten(tmp_path):
    """The session CSV edited by the reviewer and saved with the header unchanged (a text
    editor, LibreOffice, pandas: plain UTF-8, '\\n', ',') was replaced by the next save
    with no copy (only a header as Excel re-saves it was kept): the edits were lost. A
    save now keeps the CSV on disk as audit.csv.<digest>.bak whenever it is not the one
    napari-srmat last wrote (its SHA-256 recorded in the session JSON; for a session
    saved before that record, the CSV its JSON renders), and says so; an unchanged CSV is
    kept by no save."""
    lr, sr, s = _session(tmp_path)
    path, log = tmp_path / "audit.json", tmp_path / "audit.csv"
    s.save(path)
    s.decide("real", candidate_id=1, note="twin")
    edited = log.read_bytes().replace(b",twin,", b",twin (checked at x1000),")
    assert edited != log.read_bytes() and edited.startswith(b"source,id,rank,")
    log.write_bytes(edited)
    s.decide("hallucinated", candidate_id=2)
    assert s.kept_csv is not None and s.kept_csv.read_bytes() == edited
    assert s.kept_csv_note() == ("the CSV log audit.csv had been re-saved by another "
                                 f"program (a spreadsheet?); it is kept as {s.kept_csv.name}")
    s.decide("unsure", candidate_id=3)  # nothing edited since: nothing more kept
    assert s.kept_csv is None
    assert len(list(tmp_path.glob("audit.csv.*.bak"))) == 1

    def saved_before_the_record():  # the session JSON as saved before the CSV's digest
        d = json.loads(path.read_text(encoding="utf-8"))
        d.pop("csv_sha256")
        path.write_text(json.dumps(d, indent=2), encoding="utf-8")
        return AuditSession.load(path, lr=lr, sr=sr)

    r = saved_before_the_record()
    r.decide("real", candidate_id=4)  # its CSV as its JSON renders it: not kept
    assert r.kept_csv is None and len(list(tmp_path.glob("audit.csv.*.bak"))) == 1
    r = saved_before_the_record()
    log.write_bytes(log.read_bytes().replace(b",real,ana,", b",real,bob,", 1))
    edited = log.read_bytes()
    r.decide("real", candidate_id=5)
    assert r.kept_csv is not None and r.kept_csv.read_bytes() == edited
    assert len(list(tmp_path.glob("audit.csv.*.bak"))) == 2


def test_a_save_killed_between_the_json_and_the_csv_keeps_no_csv_of_ours(tmp_path):
    """A save writes the session JSON (recording its CSV's digest), then the CSV; a kill
    between the two left the CSV of the save before beside a JSON recording the new one,
    and the next save took that CSV of ours for the reviewer's edits: it was kept as
    audit.csv.<digest>.bak and the user was told another program had re-saved it. The
    CSV recorded by the save before (PATH.bak) is now ours too; an edit is still kept."""
    lr, sr, s = _session(tmp_path)
    path, log = tmp_path / "audit.json", tmp_path / "audit.csv"
    s.save(path)
    s.decide("real", candidate_id=1)
    csv_before = log.read_bytes()
    s.decide("hallucinated", candidate_id=2)
    log.write_bytes(csv_before)  # the kill: the JSON is the new save's, the CSV is not
    s.decide("unsure", candidate_id=3)
    assert s.kept_csv is None and s.kept_csv_note() is None
    assert not list(tmp_path.glob("audit.csv.*.bak"))
    edited = log.read_bytes().replace(b",unsure,", b",unsure (see x1000),")
    log.write_bytes(edited)
    s.decide("real", candidate_id=4)
    assert s.kept_csv is not None and s.kept_csv.read_bytes() == edited


@pytest.mark.parametrize("bad", [-1, "-1", -3.0])
def test_a_negative_id_is_refused(tmp_path, bad):
    """check_id took -1 (or "-1", a CSV cell) for an id, though no file napari-srmat
    writes has one: a region added as -1 and a file's "id": -1 were accepted. Ids are now
    whole numbers >= 0 by the same rule and message; a box drawn partly left of or above
    the image (negative coordinates) is still clipped by add_region."""
    from napari_srmat.audit.detector import check_id

    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.add_region([1, 2, 11, 12], save=False)
    s.save(path)
    with pytest.raises(ValueError, match=r"^candidate id must be an integer >= 0, got "):
        check_id(bad, "candidate id")
    with pytest.raises(ValueError, match=r"^candidate_id must be an integer >= 0, got "):
        s.decide("real", candidate_id=bad)
    with pytest.raises(ValueError, match=r"^region_id must be an integer >= 0, got "):
        s.remove_region(bad)
    with pytest.raises(ValueError, match=r"^region id must be an integer >= 0, got "):
        AddedRegion(id=bad, bbox=[0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"^candidate id must be an integer >= 0, got "):
        Candidate(id=bad, bbox=[0, 0, 1, 1], score=1.0, kind="new_boundary",
                  new_boundary_length_px=1.0)
    _refused_in_the_file(path, "id", bad, r"must be an integer >= 0, got ")
    assert check_id(0, "candidate id") == 0 and check_id("+7") == 7
    assert s.add_region([-5, -3, 10, 12], save=False).bbox == [0, 0, 10, 12]


def _report_as_the_console_runs_it(tmp_path, capsys, monkeypatch):
    """``srmat audit report a.json --out c.md --json`` in ``tmp_path`` as the console runs
    it (one-line warnings; its hooks put back): ``(exit status, captured output)``."""
    import signal
    import sys
    import warnings

    from napari_srmat.cli import main

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    monkeypatch.setattr(sys, "argv", ["srmat", "audit", "report", str(tmp_path / "a.json"),
                                      "--out", str(tmp_path / "c.md"), "--json"])
    before = signal.getsignal(signal.SIGINT)
    try:
        rc = main()
    finally:
        signal.signal(signal.SIGINT, before)
    return rc, capsys.readouterr()


@pytest.mark.parametrize("gone", ["sr", "lr"])
def test_a_report_of_a_session_whose_image_is_gone_says_so(tmp_path, capsys, monkeypatch,
                                                          gone):
    """`srmat audit report` of a session whose SR (or LR) image file was deleted wrote
    '(thumbnails skipped: images not available)' into the report only: no word on stderr,
    nothing in --json's warnings, no file named. write_report now warns (a UserWarning
    naming the file), the command tells it once and lists it in the JSON's warnings; the
    report's line names the file too."""

    from PIL import Image


    lr, sr, _ = _session(tmp_path)
    Image.fromarray(lr).save(tmp_path / "lr.png")
    Image.fromarray(sr).save(tmp_path / "sr.png")
    cands = [Candidate(id=1, bbox=[4, 4, 20, 20], score=9.0, kind="new_boundary",
                       new_boundary_length_px=40.0)]
    s = AuditSession.create(tmp_path / "lr.png", tmp_path / "sr.png", cands)
    s.save(tmp_path / "a.json")
    (tmp_path / f"{gone}.png").unlink()
    missing = s.images[gone]["path"]
    s = AuditSession.load(tmp_path / "a.json")
    with pytest.warns(UserWarning) as rec:
        write_report(s, tmp_path / "r.md")
    assert [str(w.message) for w in rec] == [
        f"{tmp_path / 'a.json'}: the {gone.upper()} image {missing} is not available: its "
        "thumbnails are skipped"]
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert f"(thumbnails skipped: the {gone.upper()} image {missing} is not available)" in text
    rc, captured = _report_as_the_console_runs_it(tmp_path, capsys, monkeypatch)
    told = str(rec[0].message)
    assert rc == 0 and captured.err == f"srmat audit report: warning: {told}\n"
    assert json.loads(captured.out)["warnings"] == [told]


def test_a_session_path_that_is_missing_or_not_json_is_worded_as_other_file_errors(
        tmp_path, capsys):
    """`srmat audit report x.png` told Python's decode error ("cannot read audit session
    JSON: 'utf-8' codec can't decode byte 0x89 ..."), a missing session "a.json: No such
    file or directory" (capitalised, unlike the commands' other lines). Both are worded as
    the other file errors (io.file_not_found, io.cannot_read_message)."""
    from PIL import Image

    from napari_srmat.cli import main

    png = tmp_path / "x.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(png)
    missing = tmp_path / "gone.json"
    (tmp_path / "folder.json").mkdir()
    told = {
        png: f"{png}: cannot read audit session: not JSON text (an audit session is the "
             ".json file srmat audit candidates writes)",
        missing: f"{missing}: audit session not found",
        tmp_path / "folder.json": f"{tmp_path / 'folder.json'}: cannot read audit session: "
                                  "is a directory"}
    for path, line in told.items():
        with pytest.raises((AuditFileError, FileNotFoundError)) as info:
            AuditSession.load(path)
        assert str(info.value) == line
        assert main(["audit", "report", str(path), "--out", str(tmp_path / "r.md")]) == 2
        assert capsys.readouterr().err == f"srmat audit report: error: {line}\n"
    assert isinstance(info.value, AuditFileError)
    with pytest.raises(FileNotFoundError):  # the type a caller catches is kept
        AuditSession.load(missing)
    assert not (tmp_path / "r.md").exists()


def test_candidates_json_lists_the_kept_session_and_csv_notes_in_its_warnings(tmp_path,
                                                                            capsys):
    """`srmat audit candidates --json` over a reviewed session (--overwrite) printed the
    notes that the review and the re-saved CSV log were kept on stderr only: its JSON's
    warnings were empty, though the command lists its other notes there. Both are now
    told once and listed, as the calibration note is."""
    from PIL import Image

    from napari_srmat.audit import resolve_degrade
    from napari_srmat.cli import main

    # an LR of the detector's degradation: a nearest upscale of noise as the SR raised the
    # adaptive floor (0.21), which is a warning of its own (RESIDUAL_FLOOR_HIGH)
    sr = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    lr = (np.clip(resolve_degrade()(sr, 4), 0, 1) * 255).round().astype(np.uint8)
    Image.fromarray(lr).save(tmp_path / "lr.png")
    Image.fromarray(sr).save(tmp_path / "sr.png")
    out = tmp_path / "cli.json"
    args = ["audit", "candidates", str(tmp_path / "lr.png"), str(tmp_path / "sr.png"),
            "--out", str(out), "--quiet", "--min-score", "0", "--json"]
    assert main(args) == 0
    s = AuditSession.load(out)
    s.add_region([1, 2, 11, 12])
    log = out.with_suffix(".csv")
    log.write_bytes(log.read_bytes().replace(b"\n", b"\r\n"))  # re-saved by a spreadsheet
    capsys.readouterr()
    assert main([*args, "--overwrite"]) == 0
    captured = capsys.readouterr()
    kept = list(tmp_path.glob("cli.json.*Z.bak"))
    kept_csv = list(tmp_path.glob("cli.csv.*.bak"))
    assert len(kept) == 1 and len(kept_csv) == 1
    told = [f"the reviewed session {out} held is kept as {kept[0]}",
            f"the CSV log cli.csv had been re-saved by another program (a spreadsheet?); "
            f"it is kept as {kept_csv[0].name}"]
    assert json.loads(captured.out)["warnings"] == told
    assert captured.err == "".join(f"srmat audit candidates: note: {t}\n" for t in told)


def test_a_report_of_a_session_made_from_arrays_says_why_it_has_no_thumbnails(
        tmp_path, capsys, monkeypatch):
    """A session made from arrays (the notebook API: no LR or SR file recorded) got a
    report without thumbnails and only '(thumbnails skipped: images not available)' in
    it: no word in the notebook or on the command line, and no reason. write_report now
    warns once, in plain words (made from images in memory, no file to draw them from;
    images= draws them), the report's line says the same, and `srmat audit report` tells
    it once and lists it in the JSON's warnings."""
    import warnings


    lr, sr, s = _session(tmp_path)
    with pytest.warns(UserWarning) as rec:
        write_report(s, tmp_path / "r.md")
    why = ("the session was made from images in memory and records no LR or SR image "
           "file to draw them from (in Python, write_report(..., images=[(lr, sr)]) draws "
           "them)")
    assert [str(w.message) for w in rec] == [f"session 1: {why}: its thumbnails are skipped"]
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert text.count("thumbnails skipped") == 1 and f"(thumbnails skipped: {why})" in text
    with warnings.catch_warnings():  # the images given: drawn, nothing to say
        warnings.simplefilter("error")
        write_report(s, tmp_path / "r.md", images=[(lr, sr)])
    assert "![c1]" in (tmp_path / "r.md").read_text(encoding="utf-8")
    with warnings.catch_warnings():  # no thumbnails asked for: nothing to say either
        warnings.simplefilter("error")
        write_report(s, tmp_path / "r.md", thumbnails=False)
    s.save(tmp_path / "a.json")  # saved, then reported by the command
    rc, captured = _report_as_the_console_runs_it(tmp_path, capsys, monkeypatch)
    told = f"{tmp_path / 'a.json'}: {why}: its thumbnails are skipped"
    assert rc == 0 and captured.err == f"srmat audit report: warning: {told}\n"
    assert json.loads(captured.out)["warnings"] == [told]


@pytest.mark.parametrize("recorded", [0.25, 0.5])
def test_a_report_reads_and_hashes_each_sr_file_once(tmp_path, monkeypatch, recorded):
    """write_report read each SR file twice (sr_file_pixel_size for its calibration now,
    then the thumbnails) and hashed it twice when its calibration differed from the
    session's (checksum of the audited pixels, then again for the thumbnails). Now the
    file is read and hashed once and both take it: the same report."""
    import warnings

    import napari_srmat.audit.report as report_mod
    import napari_srmat.io as io_mod
    from napari_srmat.io import write_ome_zarr

    rng = np.random.default_rng(2)
    lr = rng.integers(0, 255, (24, 24), dtype=np.uint8)
    write_ome_zarr(lr, tmp_path / "lr.ome.zarr", pixel_size_um=1.0)
    write_ome_zarr(np.kron(lr, np.ones((4, 4), np.uint8)), tmp_path / "sr.ome.zarr",
                   pixel_size_um=0.25)
    cands = [Candidate(id=1, bbox=[4, 4, 20, 20], score=9.0, kind="new_boundary",
                       new_boundary_length_px=8.0)]
    s = AuditSession.create(tmp_path / "lr.ome.zarr", tmp_path / "sr.ome.zarr", cands,
                            pixel_size_um=recorded)
    reads, hashed = [], []
    real_read, real_checksum = io_mod.read_image, report_mod.checksum
    monkeypatch.setattr(io_mod, "read_image",
                        lambda p, **k: reads.append(Path(p).name) or real_read(p, **k))
    monkeypatch.setattr(report_mod, "checksum",
                        lambda a: hashed.append(a.shape) or real_checksum(a))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the calibration note (recorded 0.5)
        res = write_report(s, tmp_path / "r.md")
    assert sorted(reads) == ["lr.ome.zarr", "sr.ome.zarr"]
    assert sorted(hashed) == [(24, 24), (96, 96)]
    assert "![c1]" in (tmp_path / "r.md").read_text(encoding="utf-8")
    assert res["per_image"][0]["pixel_size_um"] == 0.25
    assert (res["sr_file_note"] is None) == (recorded == 0.25)


def test_a_session_file_says_the_order_of_its_boxes(tmp_path):
    """A session JSON held bare `bbox` lists ([x0, y0, x1, y1]; a rescan plan's are
    [y0, x0, y1, x1] and say so in `roi_order`): a script reading the file could not tell
    the order. The file now says it (`bbox_order`), the CSV columns are built from the
    same constant, a file without it (older) is read as before, and a file that says
    another order is refused rather than read transposed."""
    from napari_srmat.audit.detector import BBOX_ORDER
    from napari_srmat.audit.session import CSV_HEADER

    lr, sr, s = _session(tmp_path)
    path = tmp_path / "audit.json"
    s.save(path)
    d = json.loads(path.read_text())
    assert d["bbox_order"] == ["x0", "y0", "x1", "y1"] == list(BBOX_ORDER)
    assert CSV_HEADER[3:7] == BBOX_ORDER
    boxes = [c["bbox"] for c in d["candidates"]]
    older = dict(d)
    del older["bbox_order"]
    path.write_text(json.dumps(older))
    assert [c.bbox for c in AuditSession.load(path).candidates] == boxes
    d["bbox_order"] = ["y0", "x0", "y1", "x1"]
    path.write_text(json.dumps(d))
    with pytest.raises(AuditFileError, match="bbox_order must be"):
        AuditSession.load(path)


def test_report_json_lists_the_notes_of_images_moved_with_their_session(tmp_path, capsys):
    """`srmat audit report --json` of a session whose images moved with it printed one
    'note: ... found at ...' line per image on stderr but listed none in its JSON
    `warnings` (a batch reading the JSON never saw that the report used other files
    than the session recorded). Each is now told once and listed, as the
    candidates command's notes are."""
    from PIL import Image

    from napari_srmat.cli import main

    lr, sr, s0 = _session(tmp_path)
    a = tmp_path / "a"
    a.mkdir()
    Image.fromarray(lr).save(a / "lr.png")
    Image.fromarray(sr).save(a / "sr.png")
    s = AuditSession.create(a / "lr.png", a / "sr.png", s0.candidates)
    s.save(a / "audit.json")
    a.rename(tmp_path / "b")
    rc = main(["audit", "report", str(tmp_path / "b" / "audit.json"), "--out",
               str(tmp_path / "rep"), "--no-thumbnails", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0
    notes = [ln for ln in err.splitlines() if ln.startswith("srmat audit report: note: ")]
    assert len(notes) == 2, err
    warned = json.loads(out)["warnings"]
    assert len(warned) == 2 and all(w in notes[i] for i, w in enumerate(warned)), warned


def test_a_report_says_the_pixel_size_of_the_search_when_the_session_was_recalibrated(
        tmp_path, capsys, monkeypatch):
    """A session recalibrated after its candidate search (the Audit widget follows its SR
    layer: recalibrate 0.25 -> 0.125 µm) reported in the new size, right, but the search's
    size was overwritten and nothing said the µm values are not those of the search. The
    session now keeps the size of its search (search_pixel_size_um; older files: none),
    and the report, summarize and srmat audit report --json say so when the size used
    differs from it (boxes are SR px: only µm and mm² values change)."""
    from napari_srmat.audit import summarize
    from napari_srmat.audit.report import search_pixel_size_note

    lr, sr, s = _session(tmp_path)
    s = AuditSession.create(lr, sr, s.candidates, pixel_size_um=0.25)
    assert s.search_pixel_size_um == 0.25
    s.save(tmp_path / "a.json")
    s.decide("hallucinated")
    s.recalibrate(0.125)
    s = AuditSession.load(tmp_path / "a.json")
    assert (s.pixel_size_um, s.search_pixel_size_um) == (0.125, 0.25)
    sm = summarize(s)
    assert (sm["pixel_size_um"], sm["search_pixel_size_um"]) == (0.125, 0.25)
    want = (f"{tmp_path / 'a.json'}: its candidate search ran at 0.25 µm per SR pixel; its "
            "boxes and lengths are in SR pixels, so only the µm and mm² values use the "
            "0.125 µm of this report")
    assert search_pixel_size_note([s], [0.125]) == want
    with pytest.warns(UserWarning, match="candidate search ran at 0.25"):
        res = write_report(s, tmp_path / "r.md", thumbnails=False)
    assert res["search_pixel_size_note"] == want
    assert want in (tmp_path / "r.md").read_text(encoding="utf-8")
    rc, out = _report_as_the_console_runs_it(tmp_path, capsys, monkeypatch)
    assert rc == 0 and want in json.loads(out.out)["warnings"]
    # the size of the search used (given for the report): nothing to say
    assert search_pixel_size_note([s], [0.25]) is None
    # a file written before the search's size was kept: unknown, nothing said
    d = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    del d["search_pixel_size_um"]
    old = AuditSession.from_dict(d)
    assert old.search_pixel_size_um is None and search_pixel_size_note([old], [0.125]) is None


@pytest.mark.parametrize("edit, value, what", [
    (("log", 0, "candidate"), 7.5, "log entry 1: candidate id must be an integer >= 0, "
                                   "got 7.5"),
    (("log", 2, "candidate"), "true", "log entry 3: candidate id must be an integer >= 0, "
                                      "got 'true'"),
    (("candidates", 1, "score"), True, "candidate 2: score must be a number, got True"),
    (("candidates", 0, "new_boundary_length_px"), "12",
     "candidate 1: new_boundary_length_px must be a number >= 0, got '12'"),
    (("candidates", 0, "n_pixels"), 7.5, "candidate 1: n_pixels must be an integer >= 0, "
                                         "got 7.5"),
    (("added_regions", 0, "length_px"), True, "added region 1: region length_px must be a "
                                              "number >= 0, got True"),
    (("log_rebuilt",), "false", "log_rebuilt must be true or false, got 'false'"),
])
def test_a_hand_edited_value_is_refused_naming_the_file_line_and_value(tmp_path, edit,
                                                                       value, what):
    """A session file edited by hand: a candidate's score or length true (read as 1.0),
    "12" (read as 12), n_pixels 7.5 (read as 7), an added region's length_px true (1 px
    of hallucinated boundary) or log_rebuilt "false" (read as true) were taken without a
    word; a bad id in the log was refused without saying where in the file. Each is now
    refused in one line naming the file, the line of the entry and the value; the file
    is not touched."""
    path = tmp_path / "audit.json"
    s = _session(tmp_path)[2]
    s.save(path)
    s.decide("real", candidate_id=1)
    s.add_region([1, 2, 11, 12], length_px=15.0)
    s.decide("unsure", candidate_id=2)
    d = json.loads(path.read_text(encoding="utf-8"))
    *keys, last = edit
    target = d
    for k in keys:
        target = target[k]
    if edit[0] == "added_regions":  # the region as added in the log too: the same value
        next(e for e in d["log"] if e["action"] == "add_region")[last] = value
    target[last] = value
    text = json.dumps(d, indent=2)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AuditFileError) as info:
        AuditSession.load(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.endswith(f"malformed audit session: {what}")
    if len(edit) > 1:  # an entry of a list: its line in the file, where the value is
        line = int(msg.split(", line ")[1].split(":")[0])
        entry = text.splitlines()[line - 1:]
        assert msg.startswith(f"{path}, line {line}: ") and entry[0].strip() == "{"
        block = "\n".join(entry[:next(i for i, t in enumerate(entry) if t.strip()
                                        in ("}", "},"))])
        assert f'"{last}": {json.dumps(value)}' in block
    else:
        assert msg.startswith(f"{path}: ")
    assert path.read_text(encoding="utf-8") == text  # never touched


def test_the_save_lock_registry_forgets_the_files_no_session_holds(tmp_path):
    """AuditSession.save kept one lock (and one save count) per session file saved, for
    the life of the process: a long napari session over many images grew them without
    bound. A file's entry now lives while a save of it runs or a session whose last save
    it was is alive; is_last_save still tells the last save of a file."""
    import gc

    import napari_srmat.audit.session as session_mod

    lr = np.zeros((8, 8), np.uint8)
    sr = np.zeros((32, 32), np.uint8)

    def entries_here() -> int:  # this test's files only: another test's session or
        # worker save may come or go meanwhile (the count of all entries is not this test's)
        here = session_mod._save_key(tmp_path)
        with session_mod._SAVE_LOCKS_LOCK:
            keys = list(session_mod._SAVE_LOCKS)
        return sum(os.path.dirname(key) == here for key in keys)

    kept_path = tmp_path / "kept.json"
    kept = AuditSession.create(lr, sr, [])
    kept.save(kept_path)
    for i in range(50):
        AuditSession.create(lr, sr, []).save(tmp_path / f"s{i}.json")
    gc.collect()
    assert entries_here() == 1  # kept.json's, held by ``kept``
    assert kept.is_last_save(kept_path)
    other = AuditSession.create(lr, sr, [])
    assert not other.is_last_save(kept_path)  # never saved there
    other.save(kept_path)
    assert other.is_last_save(kept_path) and not kept.is_last_save(kept_path)
    del kept, other
    gc.collect()
    assert entries_here() == 0


def test_a_lower_bound_that_holds_a_bbox_estimate_says_so(tmp_path):
    """A review with an unsure candidate and an added region without a length (its bbox
    diagonal counted): the report table's note says the figures holding a diagonal are
    estimates, no strict lower bound, but the pooled row did not carry
    ``length_from_bbox_estimate`` and ``lower_bound_reason`` (the CLI's "at least ...
    (a lower bound: ...)" line) said nothing of it. Now the pooled row sums the
    estimates and the reason says how many lengths are box diagonals. Failed before."""
    from napari_srmat.audit.report import lower_bound_reason

    _, _, s = _session(tmp_path)
    for _ in range(4):
        s.decide("real")
    s.decide("unsure")
    s.add_region([1, 2, 11, 12])  # hallucinated, no length: the diagonal
    res = write_report(s, tmp_path / "r.md", thumbnails=False)
    assert res["pooled"]["length_from_bbox_estimate"] == 1
    for row in (res["per_image"][0], res["pooled"]):
        assert lower_bound_reason(row) == ("1 unsure; 1 length estimated from a box "
                                           "diagonal"), row
    assert ("(a lower bound: 1 unsure; 1 length estimated from a box diagonal)"
            in pooled_lines(res["pooled"])[1])
    # no lower bound (every verdict real or hallucinated): an estimate alone adds no reason
    s.decide("real", candidate_id=5)
    assert lower_bound_reason(write_report(s, tmp_path / "r.md",
                                           thumbnails=False)["pooled"]) is None
