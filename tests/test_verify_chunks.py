"""``srmat info --verify`` counts the absent chunks of a Zarr store.

Zarr reads an absent chunk as its fill value: an SR output or an edge map whose chunk
files were deleted read as zeros (boundaries missing) and ``--verify`` found every block
readable. The project's writers now store every chunk (also those of zeros) and mark the
complete store, so an absent chunk there is damage.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import zarr

from napari_srmat.cli import main
from napari_srmat.io import verify_image_job, write_ome_zarr
from napari_srmat.io._write import ALL_CHUNKS_WRITTEN

SR_BICUBIC = ["sr", "run", "--model", "bicubic", "--tile", "64", "--overlap", "8",
              "--scale", "2"]


def _run(argv, capsys) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    return rc, cap.out, cap.err


def _finish(job):
    try:
        while True:
            next(job)
    except StopIteration as stop:
        return stop.value


def _image() -> np.ndarray:
    """128 x 128 px, chunks of 32 px: the left half zeros (chunks Zarr skipped writing)."""
    img = np.zeros((128, 128), np.uint8)
    img[:, 64:] = np.arange(128 * 64).reshape(128, 64) % 200 + 20
    return img


def _chunk_files(store: Path, level: str = "0") -> list[Path]:
    return sorted(p for p in (store / level).rglob("*") if p.is_file()
                  and not p.name.startswith("."))


def test_every_chunk_written_and_a_deleted_one_is_damage(tmp_path, capsys):
    """Failed before: a store of napari-srmat lacked its 8 chunks of zeros, and with one
    more chunk deleted `srmat info --verify` said "all 20 blocks readable" (exit 0)."""
    store = write_ome_zarr(_image(), tmp_path / "out.ome.zarr", pixel_size_um=0.5,
                           chunks=32, n_levels=2)
    assert len(_chunk_files(store)) == 16  # the 8 chunks of zeros too
    assert zarr.open_group(str(store), mode="r").attrs["srmat"][ALL_CHUNKS_WRITTEN] is True
    rc, out, _ = _run(["info", store, "--verify"], capsys)
    assert rc == 0 and "stored:      all 20 chunks present" in out
    _chunk_files(store)[0].unlink()  # a chunk of zeros: reads the same
    rc, out, _ = _run(["info", store, "--verify"], capsys)
    assert rc == 2
    lines = [ln for ln in out.splitlines() if "chunks missing" in ln]
    assert lines == ["stored:      1 of 20 chunks missing: the store is damaged (napari-srmat "
                     "wrote every chunk; a missing one reads as zeros)"]
    assert "blocks readable" in out  # decoding finds nothing: counting does
    rc, out, _ = _run(["info", store, "--verify", "--json"], capsys)
    report = json.loads(out)["verify"]
    assert rc == 2 and not report["ok"]
    assert report["chunks"]["levels"][0] == {"level": 0, "n_chunks": 16, "n_missing": 1}


def test_sr_output_with_a_deleted_chunk_is_damaged(tmp_path, capsys):
    """An `srmat sr run` output (the streaming writer and its pyramid)."""
    from PIL import Image

    Image.fromarray(_image()).save(tmp_path / "in.png")
    out_store = tmp_path / "sr.ome.zarr"
    rc, _, err = _run([*SR_BICUBIC, tmp_path / "in.png", out_store], capsys)
    assert rc == 0, err
    rc, out, _ = _run(["info", out_store, "--verify"], capsys)
    assert rc == 0 and "chunks present" in out
    _chunk_files(out_store)[-1].unlink()
    rc, out, _ = _run(["info", out_store, "--verify"], capsys)
    assert rc == 2 and "1 of " in out and "chunks missing: the store is damaged" in out


def test_store_without_the_marker_reports_absent_chunks_as_information(tmp_path, capsys):
    """A Zarr written elsewhere (or by an older napari-srmat) may skip chunks of zeros:
    the count is told, exit 0."""
    z = zarr.open_array(tmp_path / "plain.zarr", mode="w", shape=(128, 128), chunks=(32, 32),
                        dtype="uint8", zarr_format=2)
    z[:] = _image()  # Zarr's default: the 8 chunks of zeros are not written
    rc, out, _ = _run(["info", tmp_path / "plain.zarr", "--verify"], capsys)
    assert rc == 0
    assert ("stored:      8 of 16 chunks absent (the store does not record that every "
            "chunk was written: absent chunks may be fill values, read as zeros)") in out
    report = _finish(verify_image_job(tmp_path / "plain.zarr"))
    assert report["ok"] and report["chunks"]["n_missing"] == 8
    assert not report["chunks"]["all_chunks_written"]


def test_non_zarr_files_have_no_chunk_count(tmp_path, capsys):
    from PIL import Image

    Image.fromarray(_image()).save(tmp_path / "in.png")
    rc, out, _ = _run(["info", tmp_path / "in.png", "--verify"], capsys)
    assert rc == 0 and "stored:" not in out
    assert _finish(verify_image_job(tmp_path / "in.png"))["chunks"] is None


def test_a_partial_begun_without_every_chunk_is_not_marked_when_resumed(tmp_path):
    """Failed before: a store begun by a version that skipped its chunks of zeros and
    finished after the upgrade was marked as written with every chunk, and `--verify`
    called it damaged (8 of 16 chunks missing) though every pixel is right."""
    from napari_srmat.io._write import _MANIFEST, OmeZarrStreamWriter

    img = _image()
    out = tmp_path / "o.ome.zarr"
    w = OmeZarrStreamWriter(out, img.shape, img.dtype, chunks=(32, 32), pixel_size_um=0.5)
    for block in w.iter_blocks():
        ys, xs = w.block_slices(block)
        w.write_block(block, None, img[ys, xs])
    w.close()  # stopped before finalize
    # as the earlier version left it: no record in the manifest, the chunks of zeros absent
    manifest = w.partial / _MANIFEST
    record = json.loads(manifest.read_text())
    record.pop(ALL_CHUNKS_WRITTEN, None)
    manifest.write_text(json.dumps(record))
    for chunk in _chunk_files(w.partial):
        if not np.asarray(zarr.open_array(str(w.partial / "0"), mode="r")[
                int(chunk.parent.name) * 32:, int(chunk.name) * 32:][:32, :32]).any():
            chunk.unlink()
    assert len(_chunk_files(w.partial)) == 8
    w = OmeZarrStreamWriter(out, img.shape, img.dtype, chunks=(32, 32), pixel_size_um=0.5)
    assert w.resumed and w.n_done() == w.n_blocks
    w.finalize(n_levels=1)
    report = _finish(verify_image_job(out))
    assert report["ok"] and report["chunks"]["n_missing"] == 8
    assert not report["chunks"]["all_chunks_written"]
    np.testing.assert_array_equal(np.asarray(zarr.open_group(str(out), mode="r")["0"]), img)


def test_verify_opens_the_store_once(tmp_path, monkeypatch):
    """Failed before: verify_image_job opened the store to read it and again to count
    its chunks (two opens of its metadata; 2 calls here). Now once, with the same
    counts."""
    from napari_srmat.io import _read

    store = write_ome_zarr(_image(), tmp_path / "out.ome.zarr", pixel_size_um=0.5,
                           chunks=32, n_levels=2)
    _chunk_files(store, "1")[0].unlink()
    opened = []
    real = _read._zarr_image

    def counted(path):
        opened.append(path)
        return real(path)

    monkeypatch.setattr(_read, "_zarr_image", counted)
    report = _finish(verify_image_job(store))
    assert len(opened) == 1
    assert not report["ok"] and report["chunks"]["damaged"]
    assert [lv["n_missing"] for lv in report["chunks"]["levels"]] == [0, 1]
