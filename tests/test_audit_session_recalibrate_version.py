"""A session whose log holds a ``recalibrate`` entry (since 2026-12-07) was saved as
schema_version 2: a napari-srmat of before refused it as "malformed ... action must be one
of", which reads as a corrupt file. It is version 3 now (others stay 2), and its entries are
checked on load against each other and the session's pixel size."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_srmat.audit import AuditFileError, AuditSession, Candidate
from napari_srmat.audit import session as session_mod


def _saved(tmp_path, *sizes: float) -> dict:
    """A session at 0.25 µm recalibrated to each of ``sizes``, saved; its JSON."""
    lr = np.zeros((16, 16), np.uint8)
    sr = np.zeros((64, 64), np.uint8)
    cand = Candidate(1, [8, 8, 24, 24], 30.0, "new_boundary", 16.0)
    s = AuditSession.create(lr, sr, [cand], reviewer="ana", pixel_size_um=0.25)
    s.save(tmp_path / "a.json")
    s.decide("hallucinated")
    for px in sizes:
        s.recalibrate(px)
    return json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))


def _load_edited(tmp_path, d: dict) -> AuditSession:
    (tmp_path / "a.json").write_text(json.dumps(d), encoding="utf-8")
    return AuditSession.load(tmp_path / "a.json")


def test_only_a_session_with_a_pixel_size_change_is_version_3(tmp_path):
    assert _saved(tmp_path)["schema_version"] == session_mod.SCHEMA_VERSION == 2
    d = _saved(tmp_path, 0.125)
    assert d["schema_version"] == 3  # was 2
    assert 3 in session_mod.READ_VERSIONS
    assert AuditSession.load(tmp_path / "a.json").pixel_size_um == 0.125


def test_a_reader_of_version_2_tells_a_newer_version_not_a_malformed_file(tmp_path, monkeypatch):
    d = _saved(tmp_path, 0.125)
    monkeypatch.setattr(session_mod, "READ_VERSIONS", (1, 2))  # napari-srmat before
    with pytest.raises(AuditFileError, match="unsupported schema_version 3") as err:
        AuditSession.from_dict(d, source="a.json")
    assert "malformed" not in str(err.value)


def test_the_last_pixel_size_change_is_the_sessions_size(tmp_path):
    d = _saved(tmp_path, 0.125)
    d["pixel_size_um"] = 0.5  # edited by hand: the report would measure in 0.5 µm
    told = r"set 0\.125 µm, but the file's pixel_size_um is 0\.5"
    with pytest.raises(AuditFileError, match=told):
        _load_edited(tmp_path, d)


def test_each_pixel_size_change_starts_from_the_one_before(tmp_path):
    d = _saved(tmp_path, 0.125, 0.1)
    assert _load_edited(tmp_path, d).pixel_size_um == 0.1
    d["log"][2]["previous_pixel_size_um"] = 0.2
    with pytest.raises(AuditFileError, match=r"log entry 3: .*from 0\.2 µm, .* set 0\.125 µm"):
        _load_edited(tmp_path, d)


KEYS = ["pixel_size_um", "previous_pixel_size_um", "reviewer", "timestamp"]


@pytest.mark.parametrize("key", KEYS)
def test_a_missing_key_of_a_recalibrate_entry_is_named(tmp_path, key):
    d = _saved(tmp_path, 0.125)
    del d["log"][1][key]
    with pytest.raises(AuditFileError) as err:
        _load_edited(tmp_path, d)
    msg = str(err.value)
    assert f"log entry 2: a recalibrate entry needs {key}" in msg and "\n" not in msg
