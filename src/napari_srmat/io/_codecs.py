"""Blosc chunks checked before they are decoded.

Blosc (c-blosc 1, as numcodecs bundles it) trusts the sizes a chunk's header declares: a
chunk file cut short (a copy or download that stopped, a disk that filled up) whose data
Blosc had stored uncompressed (noise, float maps: data it cannot shrink) was decoded by
reading past the end of the bytes read, without an error: its pixels came out as whatever
memory lay there, and often the process died of a segmentation fault (``srmat sr run``
exit -11, napari closed without a word). :func:`guard_blosc` makes Zarr decode every Blosc
chunk, of Zarr format 2 (``numcodecs``' ``blosc``) and 3 (Zarr's ``blosc`` codec), through
:func:`check_blosc_frame` first, which refuses such a chunk as the damaged chunk it is.
"""

from __future__ import annotations

import threading
from typing import Any

import numcodecs
import numpy as np
import zarr
from zarr.codecs import BloscCodec
from zarr.registry import register_codec

__all__ = ["BLOSC_HEADER_BYTES", "CheckedBlosc", "CheckedBloscCodec", "check_blosc_frame",
           "guard_blosc"]

#: Bytes of a Blosc frame's header; bytes 12-15 hold the frame's size (``cbytes``, the
#: header included, little-endian).
BLOSC_HEADER_BYTES = 16

#: The words of a chunk that :func:`check_blosc_frame` refuses, as the codecs' own errors
#: begin (``error during blosc decompression: -1``), for the readers that name the chunk.
TRUNCATED_BLOSC = "error during blosc decompression: truncated chunk"

_GUARD_LOCK = threading.Lock()
_GUARDED: list[bool] = []


def check_blosc_frame(buf: Any) -> None:
    """Refuse a Blosc frame shorter than its header says (a truncated chunk file).

    Parameters
    ----------
    buf : bytes-like or numpy array
        The chunk's bytes as stored.

    Raises
    ------
    RuntimeError
        The frame holds fewer bytes than its header declares (or than a header): the
        codecs' error type, which the readers tell as a damaged chunk.

    Examples
    --------
    >>> import numcodecs
    >>> frame = numcodecs.Blosc(cname="lz4").encode(bytes(range(256)) * 64)
    >>> check_blosc_frame(frame)
    >>> check_blosc_frame(frame[:20])
    Traceback (most recent call last):
    ...
    RuntimeError: error during blosc decompression: truncated chunk (20 of ... bytes)
    """
    data = np.frombuffer(memoryview(buf).cast("B"), dtype=np.uint8)
    size = (int.from_bytes(data[12:BLOSC_HEADER_BYTES].tobytes(), "little")
            if data.size >= BLOSC_HEADER_BYTES else None)
    if size is None or data.size < size:
        declared = "a 16-byte header" if size is None else f"{size}"
        raise RuntimeError(f"{TRUNCATED_BLOSC} ({data.size} of {declared} bytes)")


class CheckedBlosc(numcodecs.Blosc):
    """numcodecs' Blosc (Zarr format 2), its frames checked before they are decoded."""

    def decode(self, buf: Any, out: Any = None) -> Any:
        check_blosc_frame(buf)
        return super().decode(buf, out)


class CheckedBloscCodec(BloscCodec):
    """Zarr's Blosc codec (format 3), its frames checked before they are decoded."""

    def _decode_sync(self, chunk_bytes: Any, chunk_spec: Any) -> Any:
        check_blosc_frame(chunk_bytes.as_numpy_array())
        return super()._decode_sync(chunk_bytes, chunk_spec)


def guard_blosc() -> None:
    """Make every Blosc chunk Zarr decodes, from now on in this process, go through
    :func:`check_blosc_frame` first: numcodecs' ``blosc`` codec (Zarr format 2) and
    Zarr's ``blosc`` codec (format 3) are :class:`CheckedBlosc` and
    :class:`CheckedBloscCodec`, which check the frame and then decode as before
    (encoding unchanged). Called before a store is opened for reading
    (:func:`napari_srmat.io._read._open_zarr`); once is enough, more is harmless."""
    if _GUARDED:
        return
    with _GUARD_LOCK:
        if not _GUARDED:
            numcodecs.register_codec(CheckedBlosc, "blosc")
            qualname = f"{__name__}.{CheckedBloscCodec.__qualname__}"
            register_codec("blosc", CheckedBloscCodec, qualname=qualname)
            zarr.config.set({"codecs.blosc": qualname})
            _GUARDED.append(True)
