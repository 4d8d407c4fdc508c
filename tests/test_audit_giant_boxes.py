"""The audit detector on an LR that does not follow its degradation model: scattered
residuals linked along the boundary network gave one candidate box over the whole image."""

from __future__ import annotations

import numpy as np
import pytest

import napari_srmat as srmat
from napari_srmat.audit import find_candidates, find_candidates_job, inject_false_boundaries
from napari_srmat.audit.detector import MAX_BOX_PX
from napari_srmat.jobs import Log, run_job


def _side(c) -> int:
    x0, y0, x1, y1 = c.bbox
    return max(x1 - x0, y1 - y0)


@pytest.fixture(scope="module")
def subsampled():
    """A synthetic micrograph (SR = HR, exact) and an LR taken by plain subsampling, not
    the detector's antialiased bicubic downsampling."""
    hr = srmat.generate_microstructure((256, 256), seed=0).image
    return np.ascontiguousarray(hr[::4, ::4]), hr


def _search(lr, sr, **kw):
    events = []
    cands = run_job(find_candidates_job(lr, sr, scale=4, **kw), quiet=True, on_event=events.append)
    warned = [e.message for e in events if isinstance(e, Log) and e.level == "warning"]
    return cands, warned


def test_an_lr_of_another_degradation_gives_boxes_one_reviews_not_the_whole_image(subsampled):
    lr, sr = subsampled
    cands, warned = _search(lr, sr)
    assert cands  # the mismatch is real data inconsistency: told, in review-sized boxes
    assert max(_side(c) for c in cands) <= MAX_BOX_PX < 256  # was one box of 256 x 256
    # the cut is told once (the high adaptive floor has its own warning)
    cut = [w for w in warned if f"{MAX_BOX_PX} SR px" in w]
    assert len(cut) == 1 and "another degradation" in cut[0]
    # the cells are the image's: a tiled search cuts the same boxes
    tiled, _ = _search(lr, sr, tile=96)
    assert sorted(c.bbox for c in tiled) == sorted(c.bbox for c in cands)
    # the evidence is kept: the pixels of the cut boxes are those of the long region
    whole, _ = _search(lr, sr, max_box_px=4096, min_score=0)
    parts, _ = _search(lr, sr, min_score=0)
    assert sum(c.n_pixels for c in parts) == sum(c.n_pixels for c in whole)


def test_a_search_of_short_regions_is_not_cut_nor_warned():
    """Guard (passed before): injected lines on a pair of the detector's degradation
    keep their boxes and no warning is given."""
    hr = srmat.generate_microstructure((256, 256), seed=1)
    from napari_srmat.audit import resolve_degrade

    lr = resolve_degrade()(hr.image, 4)
    sr, lines = inject_false_boundaries(
        hr.image, hr.boundaries, n_lines=4, seed=0, min_distance_px=4
    )
    cands, warned = _search(lr, sr)
    assert warned == []
    assert lines and len(cands) >= 1
    same, _ = _search(lr, sr, max_box_px=4096)
    assert [c.bbox for c in cands] == [c.bbox for c in same]


def test_max_box_px_is_checked():
    hr = srmat.generate_microstructure((64, 64), seed=0).image
    with pytest.raises(srmat.audit.AuditInputError, match="max_box_px"):
        find_candidates(hr[::4, ::4], hr, max_box_px=0)
