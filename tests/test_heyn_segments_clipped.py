"""Drawn test lines that run off the mask are not measured quietly: ``measure_intercepts``
warns how many were clipped and how much length was dropped, and refuses a line that lies
wholly outside (lines drawn for another image)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_srmat.metrics.heyn import (
    SEGMENT_CLIP_TOLERANCE_PX,
    HeynError,
    measure_intercepts,
)


def _stripes(side: int = 256) -> np.ndarray:
    m = np.zeros((side, side), bool)
    m[:, 5::20] = True
    return m


def _clip_warnings(res) -> list[str]:
    return [w for w in res.warnings if "run off" in w]


def test_a_line_drawn_past_the_mask_is_clipped_with_a_warning():
    # the tester's case: 490 + 190 px drawn on a 256 x 256 mask; 244.5 px lie outside it
    segs = [[[10, 10], [10, 500]], [[20, 10], [20, 200]]]
    res = measure_intercepts(_stripes(), pattern="segments", segments=segs)
    assert res.total_length_px == pytest.approx(435.5, abs=1e-3)
    (w,) = _clip_warnings(res)
    assert "1 of 2 drawn test lines" in w
    assert "244.5 of 680.0 px" in w
    assert "256 x 256 px" in w


def test_lines_inside_the_mask_or_just_over_its_edge_warn_nothing():
    # to the pixels' outer edge (-0.5, 255.5) and a few tenths past it: not a clip
    segs = [[[10, -0.5], [10, 255.5]], [[20, -0.3], [20, 255.7]], [[30, 10], [30, 200]]]
    assert 0.3 < SEGMENT_CLIP_TOLERANCE_PX
    res = measure_intercepts(_stripes(), pattern="segments", segments=segs)
    assert _clip_warnings(res) == []


def test_a_line_wholly_outside_the_mask_is_refused():
    segs = [[[10, 10], [10, 200]], [[300, 10], [300, 200]]]
    with pytest.raises(HeynError, match=r"test line 1 lies wholly outside the 256 x 256 px"):
        measure_intercepts(_stripes(), pattern="segments", segments=segs)


def test_every_line_outside_keeps_the_refusal_of_no_line_inside():
    with pytest.raises(HeynError, match="no test line lies inside"):
        measure_intercepts(_stripes(), pattern="segments", segments=[[[300, 300], [400, 400]]])


def test_the_cli_json_carries_the_clip_warning(tmp_path, capsys):
    from PIL import Image

    from napari_srmat.cli import main

    mask = tmp_path / "mask256.png"
    Image.fromarray(_stripes().astype(np.uint8) * 255).save(mask)
    seg = tmp_path / "seg.json"
    seg.write_text(json.dumps([[[10, 10], [10, 500]], [[20, 10], [20, 200]]]))
    rc = main(["heyn", "--pattern", "segments", "--segments", str(seg), str(mask), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["total_length_px"] == pytest.approx(435.5, abs=1e-3)
    assert any(
        "1 of 2 drawn test lines" in w and "244.5 of 680.0 px" in w
        for w in out["per_image"][0]["warnings"]
    )


def test_a_line_along_the_edge_a_fraction_past_it_is_not_refused():
    """A line traced along the mask's edge lies a few tenths of a pixel past it (napari's
    pixels end at -0.5 and 255.5): within SEGMENT_CLIP_TOLERANCE_PX of the mask, it is no
    line drawn for another image. It was refused as 'wholly outside'; it is told as
    clipped (it measures nothing) and the other lines are measured."""
    segs = [[[10, 10], [10, 200]], [[255.7, 10], [255.7, 200]], [[10, -0.6], [200, -0.6]]]
    assert 0.2 < SEGMENT_CLIP_TOLERANCE_PX
    res = measure_intercepts(_stripes(), pattern="segments", segments=segs)
    assert res.total_length_px == pytest.approx(190.0, abs=1e-3)
    (w,) = _clip_warnings(res)
    assert "2 of 3 drawn test lines" in w and "380.0 of 570.0 px" in w
    # a line a whole pixel past the edge is still one drawn for another image
    far = [[[10, 10], [10, 200]], [[256.6, 10], [256.6, 200]]]
    with pytest.raises(HeynError, match=r"test line 1 lies wholly outside"):
        measure_intercepts(_stripes(), pattern="segments", segments=far)
