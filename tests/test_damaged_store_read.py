"""Reading refuses a Zarr store that napari-srmat completed with every chunk but that
lacks some.

Zarr reads an absent chunk as zeros: an edge map whose chunk files were deleted read
without an error (boundaries missing, a wrong grain size). Only ``srmat info --verify``
told; ``read_image`` (so every command) and the napari reader now refuse such a store.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_srmat._napari_io import read_micrograph
from napari_srmat.cli import main
from napari_srmat.io import DamagedStoreError, ImageReadError, read_image, write_ome_zarr
from napari_srmat.synth import generate_microstructure


def _mask_store(path: Path) -> Path:
    """A boundary mask (128 x 128 px, chunks of 32 px) as napari-srmat writes it."""
    ms = generate_microstructure((128, 128), mean_grain_size_px=24, seed=5)
    return write_ome_zarr(ms.boundaries.astype(np.uint8) * 255, path, pixel_size_um=0.5,
                          chunks=32, n_levels=2)


def _delete_a_chunk(store: Path) -> None:
    files = sorted(p for p in (store / "0").rglob("*") if p.is_file()
                   and not p.name.startswith("."))
    assert len(files) == 16
    files[5].unlink()


def _message(store: Path) -> str:
    return (f"{store} is damaged: 1 of 16 chunks missing (srmat info --verify {store} "
            "tells more)")


def test_intact_marked_store_reads_as_before(tmp_path, capsys):
    store = _mask_store(tmp_path / "mask.ome.zarr")
    mg = read_image(store)
    assert mg.data.shape == (128, 128) and int(mg.data.max()) == 255
    assert main(["grain-size", str(store), "--mask", "--json"]) == 0
    capsys.readouterr()


def test_store_with_a_deleted_chunk_is_refused(tmp_path, capsys):
    """Failed before: read_image read the absent chunk as zeros and `srmat grain-size
    --mask` measured the mask without its boundaries there (exit 0)."""
    store = _mask_store(tmp_path / "mask.ome.zarr")
    _delete_a_chunk(store)
    with pytest.raises(DamagedStoreError) as exc:
        read_image(store)
    assert str(exc.value) == _message(store)
    assert isinstance(exc.value, ImageReadError)  # the callers' existing handling holds
    assert main(["grain-size", str(store), "--mask"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"srmat grain-size: error: {_message(store)}"]
    # the message's pointer works: info reads the store, --verify tells the damage
    assert main(["info", str(store), "--verify"]) == 2
    assert "1 of 20 chunks missing: the store is damaged" in capsys.readouterr().out


def test_napari_reader_refuses_a_damaged_store(tmp_path):
    store = _mask_store(tmp_path / "mask.ome.zarr")
    assert len(read_micrograph(str(store))) == 1
    _delete_a_chunk(store)
    with pytest.raises(DamagedStoreError, match="is damaged: 1 of 16 chunks missing"):
        read_micrograph(str(store))


def test_store_without_the_marker_reads_absent_chunks_as_zeros(tmp_path):
    """A Zarr written elsewhere skips chunks of zeros (Zarr's default): unchanged."""
    z = zarr.open_array(tmp_path / "plain.zarr", mode="w", shape=(128, 128),
                        chunks=(32, 32), dtype="uint8", zarr_format=2)
    z[:, 64:] = 7
    assert z.nchunks_initialized == 8
    assert int(np.asarray(read_image(tmp_path / "plain.zarr").data).sum()) == 7 * 128 * 64


def test_store_with_a_deleted_chunk_of_a_coarser_level_is_refused(tmp_path, capsys):
    """Failed before: only level 0 was listed, so a store lacking a chunk of level 1 read
    without an error and napari showed a hole in it when zoomed out (a grey square of
    zeros); `srmat info --verify` already counted it as damage. Every level of a marked
    store is now listed on read (one directory walk each)."""
    store = _mask_store(tmp_path / "mask.ome.zarr")
    files = sorted(p for p in (store / "1").rglob("*") if p.is_file()
                   and not p.name.startswith("."))
    assert len(files) == 4
    files[2].unlink()
    message = (f"{store} is damaged: 1 of 4 chunks of level 1 missing (srmat info --verify "
               f"{store} tells more)")
    with pytest.raises(DamagedStoreError) as exc:
        read_image(store)
    assert str(exc.value) == message
    with pytest.raises(DamagedStoreError, match="1 of 4 chunks of level 1 missing"):
        read_micrograph(str(store))
    _delete_a_chunk(store)  # both levels: each named
    with pytest.raises(DamagedStoreError, match="damaged: 1 of 16 chunks, 1 of 4 chunks of "
                                                "level 1 missing"):
        read_image(store)


def test_a_level_of_a_damaged_store_opened_on_its_own_is_refused(tmp_path):
    """A level's folder opened inside a store (`mask.ome.zarr/1`: read with that level's
    pixel size since 45a2934) skipped the check of the store's mark: a level lacking a
    chunk read it as zeros, with a pixel size, where the whole store is refused."""
    store = _mask_store(tmp_path / "mask.ome.zarr")
    files = sorted(p for p in (store / "1").rglob("*") if p.is_file()
                   and not p.name.startswith("."))
    files[2].unlink()
    with pytest.warns(UserWarning, match="level 0 of the OME-Zarr image"):
        read_image(store / "0")  # a whole level reads
    with pytest.raises(DamagedStoreError, match=f"^{store} is damaged: 1 of 4 chunks "):
        read_image(store / "1")


def test_a_link_loop_inside_a_marked_store_does_not_stop_its_read(tmp_path):
    """The check of a marked store walked links to folders (a13dc8b's os.scandir walk,
    which Zarr's own listing does not): a link inside a level pointing back at it made
    the walk descend until the OS refused the path (OSError: too many levels of
    symbolic links), a traceback instead of the image. Links to folders are not
    walked, as Zarr's listing does not walk them."""
    store = _mask_store(tmp_path / "mask.ome.zarr")
    (store / "0" / "loop").symlink_to(store / "0", target_is_directory=True)
    m = read_image(store)
    assert m.n_levels == 2


def _edit_level0(store: Path, edit) -> None:
    """Rewrite level 0's ``.zarray`` as ``edit(metadata)``."""
    import json

    meta_path = store / "0" / ".zarray"
    meta_path.write_text(json.dumps(edit(json.loads(meta_path.read_text()))))


@pytest.mark.parametrize("edit, said", [
    (lambda m: [], "unsupported operand"),  # a list, not an object
    (lambda m: {**m, "dtype": "<c16"}, "Invalid type: 0"),  # fill value 0 of complex
    (lambda m: {**m, "shape": [-5, 128]}, "non-negative"),
    (lambda m: {**m, "compressor": {"id": "bogus"}}, "codec not available"),
    (lambda m: {**m, "dtype": "|O"}, "No Zarr data type"),
])
def test_a_level_whose_zarr_metadata_zarr_cannot_parse_is_one_read_error(
        tmp_path, capsys, edit, said):
    """A level's .zarray that Zarr's parsers refuse (a JSON list, a fill value its dtype
    cannot hold, a negative shape, an unknown codec, an object dtype) came out of
    read_image as Zarr's own TypeError/ValueError: `srmat heyn`/`sr run`/`info` said
    'internal error: TypeError: ...' (exit 1) or named neither the store nor the array,
    and the napari reader raised it as such. Now one ImageReadError (exit 2) naming both."""
    store = _mask_store(tmp_path / "mask.ome.zarr")
    _edit_level0(store, edit)
    with pytest.raises(ImageReadError, match=f"^{store}: array '0' is not a readable Zarr "
                       "array") as exc:
        read_image(store)
    assert said in str(exc.value)
    with pytest.raises(ImageReadError):
        read_micrograph(str(store))
    capsys.readouterr()
    assert main(["info", str(store)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"srmat info: error: {store}: array '0'")


@pytest.mark.parametrize("verify", [[], ["--verify"]])
def test_a_chunk_shape_with_a_side_of_0_is_refused(tmp_path, capsys, verify):
    """A .zarray with chunks [0, 0]: Zarr opens it, and `srmat heyn`/`sr run`/`info
    --verify` said 'internal error: ZeroDivisionError' (exit 1) as they counted or read
    its chunks. Now one read error (exit 2)."""
    store = _mask_store(tmp_path / "mask.ome.zarr")
    _edit_level0(store, lambda m: {**m, "chunks": [0, 0]})
    line = f"{store}: damaged Zarr metadata: the chunk shape (0, 0) has a side below 1"
    with pytest.raises(ImageReadError, match="has a side below 1"):
        read_image(store)
    capsys.readouterr()
    assert main(["info", str(store), *verify]) == 2
    assert capsys.readouterr().err == f"srmat info: error: {line}\n"


def test_a_huge_declared_shape_of_a_marked_store_is_refused_at_once(tmp_path, capsys):
    """A marked store whose level 0 declares 10^9 x 10^9 px (a damaged .zarray): the
    count of its missing chunks walked all 10^15 chunk keys of its grid (chunks of 32
    px; `srmat heyn`, `sr run`, `info --verify` ran for hours; failed before: killed by
    a 60 s timeout).
    It is counted from the files when the grid holds more chunks than the level has
    files: refused as damaged at once."""
    import time

    store = _mask_store(tmp_path / "mask.ome.zarr")
    _edit_level0(store, lambda m: {**m, "shape": [10**9, 10**9]})
    start = time.perf_counter()
    with pytest.raises(DamagedStoreError, match="976562499999984 of 976562500000000 chunks"):
        read_image(store)
    assert time.perf_counter() - start < 10


def _truncated_blosc_store(path: Path, zarr_format: int) -> Path:
    """A 512 x 512 px Zarr store of noise (which Blosc stores uncompressed), one chunk,
    Blosc-compressed, its chunk file cut to 20 bytes as an interrupted copy leaves it."""
    rng = np.random.default_rng(0)
    if zarr_format == 2:
        store = write_ome_zarr(rng.integers(0, 256, (512, 512), dtype=np.uint8), path,
                               chunks=512, n_levels=1)
    else:
        z = zarr.create_array(path, shape=(512, 512), chunks=(512, 512), dtype="uint8",
                              zarr_format=3, compressors=zarr.codecs.BloscCodec(cname="lz4"))
        z[:] = rng.integers(0, 256, (512, 512), dtype=np.uint8)
        store = path
    chunks = [p for p in store.rglob("*") if p.is_file() and not p.name.startswith(".")
              and p.name != "zarr.json"]
    assert len(chunks) == 1 and chunks[0].stat().st_size > 512 * 512
    chunks[0].write_bytes(chunks[0].read_bytes()[:20])
    return store


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_truncated_blosc_chunk_is_a_read_error_not_a_crash(tmp_path, zarr_format):
    """Blosc trusts the size a chunk's header declares: a chunk file cut short whose data
    Blosc had stored uncompressed (noise, float maps) was decoded from the memory past
    its 20 bytes, without an error: `srmat sr run` of a 1100 x 1100 px store died of a
    segmentation fault (exit -11), `read_image(...).data` gave garbage, and napari
    would have closed. Failed before: the read in a child process printed pixels (exit
    0) or died (-11). Now every Blosc chunk's frame is checked first
    (io._codecs.guard_blosc): the codecs' RuntimeError, told as a damaged chunk."""
    import subprocess
    import sys

    store = _truncated_blosc_store(tmp_path / "noise.zarr", zarr_format)
    code = ("import sys\nfrom napari_srmat.io import read_image\n"
            "try:\n    print(int(read_image(sys.argv[1]).data.compute().sum()))\n"
            "except RuntimeError as exc:\n    print('refused:', exc)\n")
    done = subprocess.run([sys.executable, "-c", code, str(store)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == ("refused: error during blosc decompression: truncated chunk "
                           f"(20 of {512 * 512 + 16} bytes)\n")


def test_sr_run_tells_a_truncated_blosc_chunk_in_one_line(tmp_path):
    """The command's view of the same chunk: one line naming the file, exit 2 (it was
    exit -11, a segmentation fault, for the 1100 x 1100 px store of the hunt)."""
    import subprocess
    import sys

    store = _truncated_blosc_store(tmp_path / "noise.zarr", 2)
    done = subprocess.run([sys.executable, "-m", "napari_srmat", "sr", "run", str(store),
                           str(tmp_path / "sr.zarr"), "--model", "bicubic", "--scale", "2"],
                          capture_output=True, text=True, timeout=300)
    err = [line for line in done.stderr.splitlines() if not line.startswith("[")]
    assert done.returncode == 2 and len(err) == 1, done.stderr[-2000:]
    assert err[0].startswith(f"srmat sr run: error: {store}: cannot read input pixels")
    assert "truncated chunk" in err[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "sr.zarr").exists()


def test_a_writer_decodes_blosc_chunks_checked_without_a_read_before(tmp_path):
    """A process that writes a store before it reads any (`srmat sr run` of a PNG, which
    resumes its OUT.partial and builds the pyramid from level 0's chunks) decoded them
    with numcodecs' own Blosc: a chunk cut short by a kill read as garbage. Failed
    before: the codec a fresh process got after a write was numcodecs.Blosc."""
    import subprocess
    import sys

    code = ("import sys, numpy as np, numcodecs\n"
            "from napari_srmat.io import write_ome_zarr\n"
            "write_ome_zarr(np.zeros((16, 16), np.uint8), sys.argv[1])\n"
            "print(type(numcodecs.get_codec({'id': 'blosc'})).__name__)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "w.zarr")],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout == "CheckedBlosc\n", done.stderr[-2000:]
