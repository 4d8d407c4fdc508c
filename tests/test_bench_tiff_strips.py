"""The TIFF strip benchmarks' own machinery (``benchmarks/_patch.py``,
``bench_tiff_strips.py``, ``bench_tiff_strips_lzw.py``): what they patch in ``io._read``
is put back as it was, and ``check_cost`` times check and decode alternately."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def benches(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import bench_tiff_strips
    import bench_tiff_strips_lzw

    yield bench_tiff_strips, bench_tiff_strips_lzw
    for name in ("_patch", "bench_tiff_strips", "bench_tiff_strips_lzw"):
        sys.modules.pop(name, None)


def _attributes(owner) -> dict:
    return dict(vars(owner))


def test_over_cache_and_streamed_off_put_back_what_they_patch(benches):
    # Was: streamed_off put _WholeStrip.of back as the bound method it had read, not the
    # classmethod the class holds (vars(_WholeStrip)["of"] changed by a `before` pass).
    from napari_srmat.io import _read

    strips, _ = benches
    owners = (_read, _read._WholeStrip, _read._InflatedStrip, _read._LzwStrip)
    before = [_attributes(o) for o in owners]
    with strips.over_cache(5), strips.streamed_off(planar_too=True):
        assert _read.DECODED_STRIP_CACHE_BYTES == 5
        assert _read._WholeStrip.of.__name__ == "one_chunk_only"
        assert _read._InflatedStrip._band_rows is _read._InflatedStrip._inflate_rows
    assert [_attributes(o) for o in owners] == before


def test_patched_on_removes_what_was_only_inherited(benches):
    from _patch import patched_on

    class Base:
        x = 1

    class Child(Base):
        pass

    with pytest.raises(RuntimeError), patched_on(Child, x=2):
        assert Child.x == 2
        raise RuntimeError
    assert "x" not in vars(Child) and Child.x == 1


def test_check_cost_takes_check_and_decode_alternately(benches, monkeypatch):
    # Was: each repeat timed the check then the decode, best of each apart: on a loaded
    # machine the ratio followed the load. Now the order alternates and each repeat's
    # ratio is kept (median, range, all).
    import imagecodecs

    from napari_srmat.io import _read

    _, lzw = benches
    order: list[str] = []
    monkeypatch.setattr(_read, "_lzw_check", lambda data: order.append("check"))
    monkeypatch.setattr(imagecodecs, "lzw_decode",
                        lambda data, out: order.append("decode") or bytes(out))
    result = lzw.check_over_decode(b"stream", 4, 4)
    assert order == ["check", "decode", "decode", "check"] * 2
    assert len(result["ratio_all"]) == 4
    assert result["ratio_range"] == [min(result["ratio_all"]), max(result["ratio_all"])]
    assert result["ratio"] == pytest.approx(float(np.median(result["ratio_all"])))


def test_resume_mib_is_set_for_the_timing_section_only(benches, monkeypatch):
    # Was: --resume-mib was assigned to io._read.INFLATE_RESUME_BYTES for the rest of
    # the process, not through _patch as the other sections set what they change.
    import argparse

    from napari_srmat.io import _read

    strips, _ = benches
    plain = _read.INFLATE_RESUME_BYTES
    seen: set[int] = set()

    def timed(path, repeat, chunk):
        seen.add(_read.INFLATE_RESUME_BYTES)
        return {"open_s": 1.0, "pass_s": 1.0, "total_s": 2.0}

    monkeypatch.setattr(strips, "timed", timed)
    args = argparse.Namespace(size=16, chunk=8, repeat=1, resume_mib=0.5)
    result: dict = {}
    strips.timing(args, np.zeros((16, 16), np.uint8), np.random.default_rng(0), result)
    assert seen == {1 << 19} and result["resume_bytes"] == 1 << 19
    assert _read.INFLATE_RESUME_BYTES == plain
