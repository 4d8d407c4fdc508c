"""An input the commands cannot read is told by one rule whichever command reads it: a
``.npy`` NumPy cannot load is "unsupported or corrupt", as an image file no reader
decodes; a file the system refuses (permission denied) exits 1, as the CLI's docstring
says of system errors and as a folder or a segments file already did, not 2."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_srmat.cli import main


@pytest.fixture
def mask(tmp_path):
    m = np.zeros((64, 64), np.uint8)
    m[::16, :] = 255
    m[:, ::16] = 255
    path = tmp_path / "mask.png"
    Image.fromarray(m).save(path)
    return path


@pytest.mark.parametrize("content", ["objects", "empty"])
def test_a_npy_numpy_cannot_load_is_unsupported_or_corrupt(tmp_path, capsys, content):
    """`srmat heyn obj.npy` said NumPy's "Array can't be memory-mapped: Python objects in
    dtype." (and an empty .npy was an internal error, EOFError, exit 1) while `srmat
    info` says "unsupported or corrupt image file"."""
    path = tmp_path / f"{content}.npy"
    if content == "objects":
        np.save(path, np.array([[None, 1]], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(b"")
    assert main(["heyn", str(path)]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert (f"{path}: cannot read boundary mask: unsupported or corrupt .npy file "
            "(not an array of numbers saved by numpy.save)") in err, err
    assert "memory-mapped" not in err


@pytest.mark.parametrize("command", [["info"], ["heyn"], ["grain-size", "--mask"]])
def test_an_image_the_system_refuses_exits_1_as_any_system_error(mask, capsys, monkeypatch,
                                                                  command):
    """An image without read permission was an ImageReadError ("cannot open (Permission
    denied)", exit 2) while a folder or a segments file refused the same way exit 1.
    Simulated (the tests may run as root)."""
    import builtins

    from napari_srmat.io import _read

    real_open = builtins.open

    def refuse(file, *args, **kwargs):
        if str(file) == str(mask):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(_read, "open", refuse, raising=False)
    assert main([*command, str(mask)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{mask}: permission denied" in err, err
    assert "internal error" not in err


def test_a_npy_the_system_refuses_exits_1(tmp_path, capsys, monkeypatch):
    path = tmp_path / "m.npy"
    np.save(path, np.zeros((64, 64), np.uint8))

    def refuse(file, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(np, "load", refuse)
    assert main(["heyn", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{path}: permission denied" in err, err
