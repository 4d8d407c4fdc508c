"""The LZW scan (``io._read._lzw_segment_ends``) and check (``io._read._lzw_check``)
against a code-by-code walk of the same rules, on crafted streams: segments of lengths
around the scan's first read (``_LZW_SCAN_FIRST_CODES``: a Clear at code 511, 512 or
513 of a segment, or at a code-width change), stuck segments (no Clear in 3839 codes),
end codes, streams cut mid-code or ending at a segment's last bit, junk after them,
and undefined first codes. The check is the safety guard of imagecodecs' decoder: it
must refuse exactly the streams whose walk meets an undefined code after a Clear."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.io import _read

CLEAR, EOI = _read._LZW_CLEAR, _read._LZW_EOI
WIDTHS = _read._LZW_WIDTHS.tolist()
FULL = len(WIDTHS)  # codes a segment may hold, its Clear included
PAST_FULL = _read._LZW_PAST_FULL_CODES
#: Segment lengths (codes before the closing one) near the scan's boundaries.
EDGES = (1, 2, 3, 253, 254, 255, 510, 511, 512, 513, 514, 765, 766, 767, 1789, 1790,
         3837, 3838, 3839)


def _width(k: int) -> int:
    return WIDTHS[k] if k < FULL else WIDTHS[-1]


def _code_at(bits: str, at: int, width: int) -> int | None:
    """The ``width``-bit code at bit ``at`` of a stream's ``bits`` ("0"/"1", most
    significant first), None where it does not fit."""
    return int(bits[at:at + width], 2) if at + width <= len(bits) else None


def _bits(data: bytes) -> str:
    return "".join(f"{byte:08b}" for byte in data)


def _walk_ends(data: bytes, start: int, most: int) -> tuple[list, bool]:
    """``_lzw_segment_ends`` code by code."""
    data, ends = _bits(data), []
    while len(ends) < most:
        at = start
        for k in range(FULL):
            code = _code_at(data, at, WIDTHS[k])
            if code is None:
                return ends, False
            if k == 0 and code >= _read._LZW_FIRST_ENTRY:
                raise ValueError(_read._LZW_UNDEFINED_AFTER_CLEAR)
            if code in (CLEAR, EOI):
                break
            at += WIDTHS[k]
        else:
            return ends, True
        ends.append((at, WIDTHS[k], code == EOI))
        if code == EOI:
            break
        start = at + WIDTHS[k]
    return ends, False


def _walk_unsafe(data: bytes) -> bool:
    """Whether the codec's walk (fresh widths from each Clear, 12-bit codes past a full
    table up to its refusal) meets a code right after a Clear that names no entry."""
    data, at, k = _bits(data), 0, 0
    while (code := _code_at(data, at, _width(k))) is not None:
        at += _width(k)
        if code == CLEAR:
            k = 0
        elif code == EOI:
            return False
        elif k == 0 and code >= _read._LZW_FIRST_ENTRY:
            return True
        else:
            k += 1
            if k >= FULL + PAST_FULL:
                return False
    return False


def _put(bits: list, code: int, width: int) -> None:
    bits.append(f"{code:0{width}b}")


def _stream(rng: np.random.Generator) -> bytes:
    """A crafted stream: random segments (lengths near the scan's boundaries or any),
    each closed by a Clear (the last maybe by an end code, or by none), a stuck one
    now and then, an undefined or repeated first code, cut or with bytes after it."""
    bits: list = []
    if rng.random() < 0.6:
        _put(bits, CLEAR, WIDTHS[0])
    for _ in range(int(rng.choice([1, 2, 4, 12]))):
        n = int(rng.choice(EDGES) if rng.random() < 0.6 else rng.integers(1, FULL))
        first = len(bits)  # the segment's first code
        for k in range(n):
            top = min(_read._LZW_FIRST_ENTRY - 1 + k, (1 << WIDTHS[k]) - 1)
            code = int(rng.integers(0, 256 if k == 0 else top + 1))
            _put(bits, code if code not in (CLEAR, EOI) else 255, WIDTHS[k])
        if rng.random() < 0.1:  # an undefined or special first code
            bits[first] = f"{int(rng.choice([CLEAR, EOI, 258, 300, 511])):09b}"
        if n == FULL - 1 and rng.random() < 0.5:  # stuck: 12-bit codes on
            for _ in range(int(rng.integers(0, PAST_FULL + 40))):
                _put(bits, CLEAR if rng.random() < 0.002 else 4000, WIDTHS[-1])
            break
        last = rng.random()
        if last < 0.1:
            break
        _put(bits, EOI if last < 0.3 else CLEAR, WIDTHS[n])
        if last < 0.3:
            break
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    data = int(text, 2).to_bytes(len(text) // 8, "big") if text else b""
    tail = rng.random()
    if tail < 0.2 and len(data) > 1:
        data = data[:int(rng.integers(1, len(data)))]  # cut, mid-code most often
    elif tail < 0.35:
        data += rng.integers(0, 256, int(rng.integers(1, 9)), np.uint8).tobytes()
    return data


def _outcome(func, *args):
    try:
        return func(*args)
    except ValueError as exc:
        return str(exc)


@pytest.mark.parametrize("seed", range(4))
def test_the_scan_finds_what_a_code_by_code_walk_finds(seed):
    rng = np.random.default_rng(seed)
    for _ in range(40):
        data = _stream(rng)
        for start in {0, 9, int(rng.integers(1, 8))}:
            for most in (1, _read._LZW_MOST_SEGMENTS):
                want = _outcome(_walk_ends, data, start, most)
                assert _outcome(_read._lzw_segment_ends, data, start, most) == want
                assert _outcome(_read._lzw_segment_ends, np.frombuffer(data, np.uint8),
                                start, most) == want


@pytest.mark.parametrize("seed", range(4))
def test_the_check_refuses_what_the_codec_walk_finds_unsafe(seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(60):
        data = _stream(rng)
        if _read._lzw_is_old(data):  # checked by the old-style rule
            continue
        refused = isinstance(_outcome(_read._lzw_check, data), str)
        assert refused == _walk_unsafe(data), data.hex()


@pytest.mark.parametrize("phase", [0, 3, 7])
@pytest.mark.parametrize("codes", [511, 512, 513, 514])
@pytest.mark.parametrize("closing", [CLEAR, EOI])
def test_a_segment_closed_at_its_513th_code_by_the_stream_end_is_found(
        phase, codes, closing):
    """The scan reads a segment's first ``_LZW_SCAN_FIRST_CODES`` (512) codes, the rest
    only where none of them closes it: a closing code just past them, the stream ending
    right after it (no padding byte), is found as the code-by-code walk finds it."""
    rng = np.random.default_rng(codes)
    bits = ["0" * phase]
    for k in range(codes):
        _put(bits, int(rng.integers(0, 256)), WIDTHS[k])
    _put(bits, closing, WIDTHS[codes])
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    data = int(text, 2).to_bytes(len(text) // 8, "big")
    want = _walk_ends(data, phase, 2)
    assert want[0] and want[0][0][2] == (closing == EOI)
    assert _read._lzw_segment_ends(data, phase, 2) == want
