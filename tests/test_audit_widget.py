"""GUI test: the audit widget drives a 3-candidate session end to end."""

from __future__ import annotations

import json
import weakref
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from napari_srmat.audit import AddedRegion, AuditSession, Candidate  # noqa: E402

pytestmark = pytest.mark.gui

#: How long a test waits for a worker's job (a search, a load, an overlay) to be shown,
#: in ms: generous, a CI machine ran about 25% slower than a workstation
WORKER_WAIT_MS = 60_000
#: How long a test waits for the Audit widgets' saves (made in workers), in s
SAVES_WAIT_S = 60.0


def _load(w, qtbot, path):
    """Load a session as the button does (checked in a worker) and wait for it."""
    w.load_session(path)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    _saved()
    return w.session


def _press(viewer, key):
    """Trigger the viewer key binding for ``key`` (as a key press would), and wait for
    the saves it asked for (made in a worker)."""
    from app_model.types import KeyBinding

    func = viewer.keymap[KeyBinding.from_str(key.upper())]
    func(viewer)
    _saved()


def _saved(timeout: float = SAVES_WAIT_S) -> None:
    """Wait until the Audit widgets' saves (made in workers) are made."""
    from napari_srmat.widgets.audit_widget import wait_for_saves

    assert wait_for_saves(timeout), "the audit saves did not end"



def _lr_sr_widget(viewer, qtbot, path):
    """An audit widget with the layers "lr" and "sr" chosen as LR and SR and ``path``
    typed as its session file."""
    from napari_srmat.widgets.audit_widget import AuditWidget

    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    w.session_path_edit.setText(str(path))
    return w


def _searching_widget(make_napari_viewer, qtbot, tmp_path):
    """A viewer with an "lr" and an "sr" layer, an Audit widget over them, its session
    file ``tmp_path / "audit.json"`` and three candidates for its search to find:
    ``(viewer, widget, path, candidates)``."""

    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    viewer = make_napari_viewer()
    viewer.add_image(lr, name="lr")
    viewer.add_image(sr, name="sr")
    cands = [Candidate(id=i + 1, bbox=[10 + 30 * i, 20, 30 + 30 * i, 40], score=9.0 - i,
                       kind="new_boundary", new_boundary_length_px=12.0) for i in range(3)]
    path = tmp_path / "audit.json"
    return viewer, _lr_sr_widget(viewer, qtbot, path), path, cands


def _search_ended(w, qtbot) -> None:
    """Wait for a search's session to be shown and saved."""
    qtbot.waitUntil(lambda: w.session is not None, timeout=WORKER_WAIT_MS)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    _saved()


def _search_finds(monkeypatch, cands) -> None:
    """The widget's search finds ``cands`` at once (a job generator without progress)."""
    from napari_srmat.audit import detector

    def found(*args, stop=None, **kwargs):
        return cands
        yield

    monkeypatch.setattr(detector, "find_candidates_job", found)

def test_widget_session_end_to_end(make_napari_viewer, tmp_path, qtbot):
    from napari_srmat.widgets.audit_widget import AuditWidget

    viewer = make_napari_viewer()
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    viewer.add_image(lr, name="lr")
    viewer.add_image(sr, name="sr")
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    w.reviewer_edit.setText("cara")
    cands = [Candidate(id=i + 1, bbox=[10 + 30 * i, 20, 30 + 30 * i, 40], score=50.0 - i,
                       kind="new_boundary", new_boundary_length_px=12.0) for i in range(3)]
    path = tmp_path / "audit.json"
    w.set_session(AuditSession.create(lr, sr, cands), path)
    assert w.queue.count() == 3
    # the SR image layer stays active, so the letter keys are not taken by Shapes tools
    assert viewer.layers.selection.active is viewer.layers["sr"]
    assert w.progress_label.text() == "0/3 reviewed"
    # two plain arrays at scale 1: the SR layer is placed over the LR one (as the SR
    # widget places its output); the LR layer keeps its own transform
    assert tuple(viewer.layers["lr"].scale) == (1.0, 1.0)
    assert tuple(viewer.layers["sr"].scale) == (0.25, 0.25)
    assert tuple(viewer.layers["sr"].translate) == (-0.375, -0.375)
    # camera centred on the first candidate: the middle of SR rows 20-39, columns 10-29
    # (data (29.5, 19.5)) in world coordinates
    assert tuple(viewer.camera.center[-2:]) == pytest.approx((-0.375 + 7.375,
                                                             -0.375 + 4.875))
    # the boxes go through the SR layer's transform
    assert tuple(w.boxes_layer.scale) == (0.25, 0.25)
    # blink swaps visibility
    _press(viewer, "b")
    assert not viewer.layers["sr"].visible and viewer.layers["lr"].visible
    _press(viewer, "b")
    assert viewer.layers["sr"].visible and not viewer.layers["lr"].visible
    # boundary overlays around the current candidate
    w.overlay_check.setChecked(True)
    qtbot.waitUntil(lambda: "LR-up boundaries" in viewer.layers, timeout=WORKER_WAIT_MS)
    assert "SR boundaries" in viewer.layers
    assert viewer.layers["SR boundaries"].data.ndim == 2
    w.overlay_check.setChecked(False)
    assert not viewer.layers["SR boundaries"].visible
    # decisions by key
    w.note_edit.setText("clear twin")
    _press(viewer, "r")
    assert w.progress_label.text() == "1/3 reviewed"
    assert tuple(viewer.camera.center[-2:]) == pytest.approx((-0.375 + 7.375,
                                                             -0.375 + 12.375))
    _press(viewer, "h")
    _press(viewer, "p")
    assert w.session.position == 1
    _press(viewer, "n")
    _press(viewer, "u")
    assert w.progress_label.text() == "3/3 reviewed"
    saved = json.loads(path.read_text())
    verdicts = {k: v["verdict"] for k, v in saved["decisions"].items()}
    assert verdicts == {"1": "real", "2": "hallucinated", "3": "unsure"}
    assert saved["decisions"]["1"]["note"] == "clear twin"
    assert saved["decisions"]["1"]["reviewer"] == "cara"
    # a missed region from a Shapes rectangle drawn on the outer edges of SR rows 5-14,
    # columns 6-25, in world coordinates (µm-free here: LR pixels); stored in SR pixels
    # (the corners were floored as if pixels began at their centres: one more row and
    # column on the top and left)
    viewer.add_shapes([(np.array([[5, 6], [15, 26]]) - 0.5) * 0.25 - 0.375],
                      shape_type="rectangle", name="missed")
    region = w.add_region_from_shapes()
    _saved()
    assert region.bbox == [6, 5, 26, 15]
    assert len(json.loads(path.read_text())["added_regions"]) == 1

    # resume in a fresh widget once the first is closed (two open panels never write
    # one file): same decisions and position
    w.shut_down()
    w2 = AuditWidget(viewer)
    qtbot.addWidget(w2)
    w2.lr_combo.setCurrentText("lr")
    w2.sr_combo.setCurrentText("sr")
    s = _load(w2, qtbot, path)
    assert len(s.decisions) == 3 and s.position == w.session.position
    assert w2.progress_label.text() == "3/3 reviewed"


def test_widget_finds_candidates_in_worker(make_napari_viewer, tmp_path, qtbot):
    from napari_srmat.audit import inject_false_boundaries, resolve_degrade
    from napari_srmat.widgets.audit_widget import AuditWidget

    rng = np.random.default_rng(1)
    hr = np.clip(rng.normal(0.6, 0.01, (96, 96, 3)), 0, 1)
    hr = (hr * 255).astype(np.uint8)
    lr = (resolve_degrade()(hr, 4) * 255).round().astype(np.uint8)
    sr, lines = inject_false_boundaries(hr, None, n_lines=2, seed=3)
    viewer = make_napari_viewer()
    viewer.add_image(lr, name="lr", rgb=True)
    viewer.add_image(sr, name="sr", rgb=True)
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    w.session_path_edit.setText(str(tmp_path / "found.json"))
    w.find_candidates(tile=64)
    qtbot.waitUntil(lambda: w.session is not None, timeout=WORKER_WAIT_MS)
    _saved()
    assert len(w.session.candidates) >= len(lines)
    assert (tmp_path / "found.json").exists()
    qtbot.waitUntil(lambda: w.run_btn.isEnabled() and not w.cancel_btn.isEnabled(),
                    timeout=WORKER_WAIT_MS)
    # SingleJobMixin: a second search while one starts (found.json is read first, in a
    # worker: _after_file_look) is refused, not started twice
    from napari_srmat.widgets.layers import WidgetInputError

    w.find_candidates(tile=64)
    first = w.worker
    with pytest.raises(WidgetInputError, match="search would replace is being read"):
        w.find_candidates(tile=64)
    assert w.worker is first
    w.stop()
    qtbot.waitUntil(lambda: w.run_btn.isEnabled() and not w.cancel_btn.isEnabled(),
                    timeout=WORKER_WAIT_MS)


def _feature_images(tmp_path):
    """LR 1 µm and SR 0.25 µm OME-Zarr files with one bright square at a known place."""
    from napari_srmat.io import write_ome_zarr

    lr = np.full((40, 48), 40, np.uint8)
    lr[20:24, 30:34] = 250  # LR rows 20-23, cols 30-33
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    write_ome_zarr(lr, tmp_path / "lr.ome.zarr", pixel_size_um=1.0)
    write_ome_zarr(sr, tmp_path / "sr.ome.zarr", pixel_size_um=0.25)
    return lr, sr


def _widget_over_the_feature(viewer, qtbot):
    """An audit widget over the layers "lr" and "sr" of :func:`_feature_images` and the
    candidate over its feature (SR box [120, 80, 136, 96], 16 px of new boundary)."""
    from napari_srmat.widgets.audit_widget import AuditWidget

    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    cand = Candidate(id=1, bbox=[120, 80, 136, 96], score=9.0, kind="new_boundary",
                     new_boundary_length_px=16.0)
    return w, cand


def _box_world_bounds(layer):
    corners = np.asarray([layer.data_to_world(p) for p in np.asarray(layer.data[0])])[:, -2:]
    return corners.min(axis=0), corners.max(axis=0)


@pytest.mark.parametrize("source", ["reader", "sr_widget"])
def test_audit_boxes_lie_over_the_feature_in_world_coordinates(make_napari_viewer, tmp_path,
                                                                qtbot, source):
    """LR/SR opened by the plugin's reader (pixel sizes) or made by the SR widget: world
    extents agree and a box covers its feature. An SR file has no translation (`srmat sr
    run` writes none): it opened 1.5 SR px (x4) down and right of its LR, which the
    half-LR-pixel tolerance accepted; it is now moved to sr_world_transform of the LR."""
    from napari_srmat._napari_io import read_micrograph
    from napari_srmat.widgets.audit_widget import AuditWidget, layer_world_extent
    from napari_srmat.widgets.layers import add_super_resolution_result

    lr, sr = _feature_images(tmp_path)
    viewer = make_napari_viewer()
    if source == "reader":
        for data, kwargs, _ in read_micrograph([tmp_path / "lr.ome.zarr",
                                               tmp_path / "sr.ome.zarr"]):
            viewer.add_image(data, **kwargs)
        lr_name, sr_name = "lr", "sr"  # the reader drops ".ome"
    else:
        lr_layer = viewer.add_image(lr, name="lr", scale=(1.0, 1.0),
                                    metadata={"pixel_size_um": 1.0})
        add_super_resolution_result(viewer, lr_layer, sr, 4, name="sr")
        lr_name, sr_name = "lr", "sr"
    lr_layer, sr_layer = viewer.layers[lr_name], viewer.layers[sr_name]
    before = (tuple(lr_layer.scale), tuple(lr_layer.translate), tuple(sr_layer.scale),
              tuple(sr_layer.translate))
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText(lr_name)
    w.sr_combo.setCurrentText(sr_name)
    # the candidate names the feature in SR pixels: x 120-136, y 80-96
    cand = Candidate(id=1, bbox=[120, 80, 136, 96], score=9.0, kind="new_boundary",
                     new_boundary_length_px=16.0)
    w.set_session(AuditSession.create(lr, sr, [cand]), tmp_path / "a.json")
    if source == "reader":
        assert before[3] == (0.0, 0.0)
        before = (*before[:3], (-0.375, -0.375))  # (1/4 - 1)/2 LR px of 1 µm
    assert (tuple(lr_layer.scale), tuple(lr_layer.translate), tuple(sr_layer.scale),
            tuple(sr_layer.translate)) == before
    (lr_lo, lr_hi), (sr_lo, sr_hi) = layer_world_extent(lr_layer), layer_world_extent(sr_layer)
    np.testing.assert_allclose(lr_hi, sr_hi, atol=1e-9)
    np.testing.assert_allclose(lr_lo, sr_lo, atol=1e-9)
    # the box lies over the bright square of both layers (world coordinates)
    lo, hi = _box_world_bounds(w.boxes_layer)
    feat_lr = np.asarray(lr_layer.data_to_world((21.5, 31.5)))[-2:]  # LR square centre
    feat_sr = np.asarray(sr_layer.data_to_world((87.5, 127.5)))[-2:]  # SR square centre
    for f in (feat_lr, feat_sr):
        assert np.all(lo <= f) and np.all(f <= hi), (lo, hi, f)
    np.testing.assert_allclose(feat_lr, feat_sr, atol=1e-9)
    assert np.all(hi - lo == pytest.approx([4.0, 4.0]))  # 16 SR px = 4 µm
    # on the outer edges of its pixels (it sat half an SR pixel down and right of them)
    np.testing.assert_allclose(lo, np.asarray(sr_layer.data_to_world((79.5, 119.5)))[-2:],
                               atol=1e-9)
    # the camera looks at the feature
    np.testing.assert_allclose(viewer.camera.center[-2:], (lo + hi) / 2, atol=1e-6)


def test_buttons_without_layers_or_session_tell_the_user(make_napari_viewer, qtbot,
                                                         monkeypatch):
    """'Find candidates' with no image layers and 'Add missed region' before a session
    raised ValueError out of the Qt slot (an unhandled exception); now one line."""
    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.widgets.audit_widget import AuditWidget

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    viewer = make_napari_viewer()
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    # the button waits for the layers (RunNeedsLayersMixin); its slot, reached by a
    # script, still tells the user in one line
    assert not w.run_btn.isEnabled() and w.run_btn.toolTip().startswith("needs ")
    worker_mod.user_action(w.find_candidates, w.status)()
    assert shown == ["napari-srmat: select the LR and SR image layers (open the "
                     "low-resolution scan and its super-resolved image first)"]
    assert w.worker is None
    w.add_region_btn.click()
    _saved()
    assert shown[-1] == ("napari-srmat: no audit session: find candidates or load a session "
                         "first")
    assert w.status.text() == "no audit session: find candidates or load a session first"


def _session_widget(viewer, qtbot, tmp_path, n=3):
    from napari_srmat.widgets.audit_widget import AuditWidget

    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    viewer.add_image(lr, name="lr")
    viewer.add_image(sr, name="sr")
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    cands = [Candidate(id=i + 1, bbox=[10 + 30 * i, 20, 30 + 30 * i, 40], score=50.0 - i,
                       kind="new_boundary", new_boundary_length_px=12.0) for i in range(n)]
    path = tmp_path / "audit.json"
    w.set_session(AuditSession.create(lr, sr, cands), path)
    _saved()  # saved by the widget's save queue
    return w, path


def test_overlays_are_not_layer_choices_and_sr_removal_is_told(make_napari_viewer, qtbot,
                                                               tmp_path):
    """The boundary overlays (Image layers the widget adds) were listed as LR/SR choices;
    after the SR layer was removed the SR combo fell onto 'SR boundaries' and the
    overlay was computed from itself. Now they are never choices, and the overlay of a
    session whose SR layer is gone is switched off with one line."""
    viewer = make_napari_viewer()
    w, _ = _session_widget(viewer, qtbot, tmp_path)
    w.overlay_check.setChecked(True)
    qtbot.waitUntil(lambda: "LR-up boundaries" in viewer.layers, timeout=WORKER_WAIT_MS)
    choices = [w.sr_combo.itemText(i) for i in range(w.sr_combo.count())]
    assert choices == ["lr", "sr"]
    # nor are the analysis maps the other docks add (a grain-area colouring was offered)
    from napari_srmat.synth import generate_microstructure

    viewer.add_image(np.zeros((32, 32), np.float32), name="sr grain area",
                     metadata={"kind": "grain area"})
    viewer.add_image(np.zeros((32, 32), np.float32), name="sr boundary probability",
                     metadata={"kind": "boundary probability"})
    viewer.add_image(generate_microstructure((32, 32), seed=1).image, name="mine")
    choices = [w.sr_combo.itemText(i) for i in range(w.sr_combo.count())]
    assert choices == ["lr", "sr", "mine"]
    viewer.layers.remove("mine")
    viewer.layers.remove("sr")
    assert w.sr_combo.currentText() == "lr"
    _press(viewer, "n")  # moves on; the overlay cannot be drawn without the SR layer
    assert w.session.position == 1
    assert not viewer.layers["SR boundaries"].visible
    assert "SR layer of this session was removed" in w.status.text()


def test_find_candidates_checks_the_session_file_before_searching(make_napari_viewer, qtbot,
                                                                  tmp_path, monkeypatch):
    """The session file was only checked when the search had finished: a file of the
    user's or a folder raised out of the worker's result slot (a traceback, the search
    lost), a reviewed session was silently replaced by an empty one, and the status
    ended on the progress text ('audit tiles: 1/1') whatever was found."""
    import napari_srmat.widgets._worker as worker_mod

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    notes = tmp_path / "notes.json"
    notes.write_text("{}")
    w.session_path_edit.setText(str(notes))
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)  # its look
    assert w.worker is None and notes.read_text() == "{}"
    assert "notes.json exists and is not an audit session file" in shown[-1]
    w.session_path_edit.setText(str(tmp_path))
    w.run_btn.click()
    assert w.worker is None and "is a folder" in w.status.text()
    # a file of the user's where a save keeps the previous one (PATH.bak): refused first
    # (it was found by the first decision after the search, and overwritten)
    mine = tmp_path / "new.json.bak"
    mine.write_text("my own notes\n")
    w.session_path_edit.setText(str(tmp_path / "new.json"))
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)  # its look
    assert w.worker is None and mine.read_text() == "my own notes\n"
    assert "new.json.bak exists and is not an audit session file" in shown[-1]
    # a reviewed session: asked first; "no" keeps it
    _press(viewer, "h")
    w.session_path_edit.setText(str(path))
    asked = []
    w.ask = lambda title, text: asked.append(text) or False
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)  # its look
    assert w.worker is None and "1 decisions" in asked[-1]
    assert w.status.text().startswith("not started")
    assert len(json.loads(path.read_text())["decisions"]) == 1
    # "yes": the search runs and the status says what it found (identical LR/SR up to
    # the x4 nearest-neighbour copy: nothing data-inconsistent... or a few candidates)
    w.ask = lambda title, text: True
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.run_btn.isEnabled(), timeout=WORKER_WAIT_MS)
    _saved()
    text = w.status.text()
    assert f"session saved to {path} (the reviewed session it replaced is kept as " in text
    n = len(w.session.candidates)
    assert text.startswith(f"{n} candidate" if n else "no candidates"), text
    assert json.loads(path.read_text())["decisions"] == {}


def test_keys_stop_when_the_dock_is_closed(make_napari_viewer, qtbot, tmp_path):
    """The letter keys are bound on the viewer: after the audit dock was closed, r / h
    still recorded verdicts into the session file. Now a closed dock unbinds them."""
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    viewer.window.add_dock_widget(w, name="audit")
    _press(viewer, "r")
    assert len(json.loads(path.read_text())["decisions"]) == 1
    handler = w._key_handlers["h"]
    viewer.window.remove_dock_widget(w)
    handler(viewer)  # a press that reached the old binding: ignored, keys unbound
    assert len(json.loads(path.read_text())["decisions"]) == 1
    from app_model.types import KeyBinding

    assert KeyBinding.from_str("H") not in viewer.keymap
    assert w._key_handlers == {}


def test_keys_do_nothing_while_the_dock_is_hidden(make_napari_viewer, qtbot, tmp_path,
                                                  monkeypatch):
    """napari's "hide this panel" keeps the dock: r / h went on recording verdicts into
    the session with the panel out of sight. Now a press says the panel is hidden."""
    told = []
    monkeypatch.setattr("napari.utils.notifications.show_info", told.append)
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    dock = viewer.window.add_dock_widget(w, name="audit")
    dock.title.hide_button.click()
    assert dock.isHidden()
    _press(viewer, "r")
    assert _decisions(path) == 0 and told and "audit panel is not in view" in told[-1]
    dock.show()
    _press(viewer, "r")
    assert _decisions(path) == 1


def test_keys_do_nothing_while_the_dock_is_behind_another_tab(make_napari_viewer, qtbot,
                                                              tmp_path, monkeypatch):
    """A dock tabbed behind another dock is not hidden for Qt: the keys went on
    recording verdicts with the panel out of sight."""
    from qtpy.QtWidgets import QApplication, QLabel

    told = []
    monkeypatch.setattr("napari.utils.notifications.show_info", told.append)
    viewer = make_napari_viewer(show=True)
    w, path = _session_widget(viewer, qtbot, tmp_path)
    dock = viewer.window.add_dock_widget(w, name="audit", area="right")
    viewer.window.add_dock_widget(QLabel("other"), name="other", area="right", tabify=True)
    QApplication.processEvents()
    assert w.visibleRegion().isEmpty()  # the other dock's tab is in front
    _press(viewer, "r")
    assert _decisions(path) == 0 and "not in view" in told[-1]
    dock.raise_()
    QApplication.processEvents()
    _press(viewer, "r")
    assert _decisions(path) == 1


def test_key_errors_are_one_line(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """A decision whose save is refused (the session file replaced by a file of the
    user's) raised out of napari's key handler; now the status says why."""
    import napari_srmat.widgets._worker as worker_mod

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    path.write_text('{"mine": 1}')
    _press(viewer, "r")
    assert "is not an audit session file" in w.status.text()
    assert path.read_text() == '{"mine": 1}' and len(shown) == 1


def test_search_results_go_on_the_searched_layers_and_loading_writes_nothing(
        make_napari_viewer, qtbot, tmp_path):
    """The boxes of a finished search were placed by whatever the SR list showed when it
    finished (another layer if the user changed the selection meanwhile); loading a
    session re-saved it (a new modified time and .bak for a file only read)."""
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    other = viewer.add_image(np.zeros((64, 64), np.uint8), name="other", scale=(3.0, 3.0))
    before = path.read_bytes(), path.stat().st_mtime_ns
    bak = sorted(p.name for p in tmp_path.iterdir())
    _load(w, qtbot, path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == bak
    w.session_path_edit.setText(str(tmp_path / "new.json"))
    w.find_candidates(tile=64)
    w.sr_combo.setCurrentText("other")  # changed while the search runs
    qtbot.waitUntil(lambda: w.run_btn.isEnabled() and (tmp_path / "new.json").exists(),
                    timeout=WORKER_WAIT_MS)
    assert w.sr_layer is viewer.layers["sr"] and w.sr_layer is not other
    assert tuple(w.boxes_layer.scale) == tuple(viewer.layers["sr"].scale[-2:])


def _decisions(path) -> int:
    return len(json.loads(path.read_text())["decisions"])


def test_close_button_shuts_the_audit_dock_down(make_napari_viewer, qtbot, tmp_path):
    """The audit widget noticed a closed dock only when a key was pressed or it was shown
    again (its own rule, not the other docks'): after napari's close button the letters
    stayed bound on the viewer and auto-blink kept toggling the layers. Now it shuts down
    as the Train and Workbench docks do (ShutDownWhenClosedMixin), at the close."""
    from app_model.types import KeyBinding

    from napari_srmat.widgets._worker import ShutDownWhenClosedMixin
    from napari_srmat.widgets.audit_widget import KEYS

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    dock = viewer.window.add_dock_widget(w, name="audit")
    _press(viewer, "r")
    assert _decisions(path) == 1
    stale = viewer.keymap[KeyBinding.from_str("H")]
    w.auto_blink.setChecked(True)
    assert w._blink_timer.isActive()
    dock.title.close_button.click()  # napari's "x": destroyOnClose -> remove_dock_widget
    assert w.parent() is None
    assert not any(KeyBinding.from_str(k.upper()) in viewer.keymap for k in KEYS)
    assert not w._blink_timer.isActive() and not w.auto_blink.isChecked()
    assert not w.holds_keys
    stale(viewer)  # a press already on its way to the closed widget: does nothing
    assert _decisions(path) == 1
    w.take_keys()  # a closed widget never takes the keys again (a late search result)
    assert KeyBinding.from_str("R") not in viewer.keymap
    assert isinstance(w, ShutDownWhenClosedMixin)  # the one close rule of the docks


def test_review_keys_follow_the_audit_panel_in_use(make_napari_viewer, qtbot, tmp_path,
                                                   monkeypatch):
    """With the Audit dock and the workbench's Audit tab both open, the widget created
    last took the letter keys: opening the workbench (its Audit tab empty) made r / h
    do nothing in the session being reviewed in the dock. Now the keys act on the panel
    last worked in, and come back to the other one when it closes."""
    from qtpy.QtWidgets import QPushButton

    import napari_srmat.widgets.audit_widget as audit_mod
    from napari_srmat.widgets.audit_widget import AuditWidget
    from napari_srmat.widgets.workbench import WorkbenchWidget

    told = []
    monkeypatch.setattr("napari.utils.notifications.show_info", told.append)
    viewer = make_napari_viewer()
    dock_w, dock_path = _session_widget(viewer, qtbot, tmp_path)
    viewer.window.add_dock_widget(dock_w, name="audit")
    bench = WorkbenchWidget(viewer)
    bench_dock = viewer.window.add_dock_widget(bench, name="workbench")
    qtbot.addWidget(AuditWidget(viewer))  # one more panel, never used
    tab = bench.audit
    # panels without a session leave the keys with the dock being reviewed
    _press(viewer, "r")
    assert _decisions(dock_path) == 1 and dock_w.holds_keys and not tab.holds_keys
    # the tab shows a session: the keys act there; the dock says it lost them
    tab_path = tmp_path / "tab.json"
    tab.lr_combo.setCurrentText("lr")
    tab.sr_combo.setCurrentText("sr")
    lr, sr = viewer.layers["lr"].data, viewer.layers["sr"].data
    cands = [Candidate(id=i + 1, bbox=[10 + 30 * i, 20, 30 + 30 * i, 40], score=9.0 - i,
                       kind="new_boundary", new_boundary_length_px=12.0) for i in range(3)]
    tab.set_session(AuditSession.create(lr, sr, cands), tab_path)
    _press(viewer, "h")
    assert _decisions(tab_path) == 1 and _decisions(dock_path) == 1
    assert "another audit panel" in dock_w.status.text()
    # a candidate clicked in the dock's queue: the keys are the dock's again
    dock_w.queue.setCurrentRow(2)
    _press(viewer, "p")
    _press(viewer, "u")
    assert _decisions(dock_path) == 2 and _decisions(tab_path) == 1
    # a review button clicked in the tab: the tab's
    next_btn = next(b for b in tab.findChildren(QPushButton) if b.text() == "next [n]")
    next_btn.click()
    assert tab.holds_keys and tab.session.position == 2
    _press(viewer, "r")
    assert _decisions(tab_path) == 2 and _decisions(dock_path) == 2
    # the workbench closes (napari's "x"): the keys go back to the dock, which says so
    bench_dock.title.close_button.click()
    assert dock_w.holds_keys
    assert dock_w.status.text() == "the review keys act on this audit panel again"
    assert told and str(dock_path) in told[-1]
    _press(viewer, "r")
    assert _decisions(dock_path) == 3 and _decisions(tab_path) == 2
    # the last panel with a session closes: the letters are napari's again
    viewer.window.remove_dock_widget(dock_w)
    assert not any(getattr(ref(), "holds_keys", False) for ref in audit_mod._KEY_TAKERS)
    from app_model.types import KeyBinding

    assert KeyBinding.from_str("R") not in viewer.keymap
    qtbot.addWidget(bench)


def test_default_session_file_is_beside_the_sr_image(make_napari_viewer, qtbot, tmp_path,
                                                     monkeypatch):
    """The session file defaulted to 'audit.json', relative to whatever folder napari was
    started from. Now it is an absolute path, shown in the field: beside the SR image's
    file (or the LR scan's), else in the home folder; a reviewed session there is still
    replaced only after asking."""
    import tifffile

    from napari_srmat.widgets.audit_widget import AuditWidget

    home, cwd, scans = tmp_path / "home", tmp_path / "cwd", tmp_path / "scans"
    for d in (home, cwd, scans):
        d.mkdir()
    monkeypatch.setenv("HOME", str(home))
    viewer = make_napari_viewer()
    monkeypatch.chdir(cwd)  # where napari was started from
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    assert w.session_path_edit.text() == str(home / "audit.json")
    # layers made in memory: the home folder, named after the SR layer
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    viewer.add_image(lr, name="lr")
    viewer.add_image(sr, name="sr x4")
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr x4")
    assert w.session_path_edit.text() == str(home / "sr_x4_audit.json")
    # an SR image opened from its file: beside it
    tifffile.imwrite(scans / "steel_x4.tif", sr)
    [layer] = viewer.open(scans / "steel_x4.tif", plugin="napari")
    w.sr_combo.setCurrentText(layer.name)
    expected = scans / "steel_x4_audit.json"
    assert w.session_path_edit.text() == str(expected)
    assert w.session_path() == expected
    # a reviewed session already there: asked before a new search replaces it
    old = AuditSession.create(lr, sr, [Candidate(id=1, bbox=[0, 0, 8, 8], score=1.0,
                                                 kind="new_boundary",
                                                 new_boundary_length_px=8.0)])
    old.decide("real", save=False)
    old.save(expected)
    before = expected.read_bytes()
    asked = []
    w.ask = lambda title, text: asked.append(text) or False
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)  # its look
    assert asked and str(expected) in asked[-1] and w.worker is None
    assert expected.read_bytes() == before
    # a bare file name typed by the user goes beside the SR image, is shown as such once
    # entered, and stays chosen when the SR layer changes
    from qtpy.QtCore import Qt

    w.session_path_edit.clear()
    qtbot.keyClicks(w.session_path_edit, "mine.json")
    qtbot.keyClick(w.session_path_edit, Qt.Key.Key_Return)
    assert w.session_path_edit.text() == str(scans / "mine.json")
    w.sr_combo.setCurrentText("sr x4")
    assert w.session_path() == scans / "mine.json"
    # a session shown without a file: its first decision goes to the field's file, and
    # replaces a reviewed session there only after asking too
    w.session_path_edit.setText(str(expected))
    fresh = AuditSession.create(lr, sr, [Candidate(id=1, bbox=[0, 0, 8, 8], score=1.0,
                                                   kind="new_boundary",
                                                   new_boundary_length_px=8.0)])
    w.set_session(fresh)
    _press(viewer, "h")
    assert w.status.text().startswith("decision not recorded") and not fresh.decisions
    assert expected.read_bytes() == before and "This session replaces" in asked[-1]
    w.ask = lambda title, text: True
    _press(viewer, "h")
    assert fresh.path == expected and _decisions(expected) == 1
    assert json.loads(expected.read_text())["decisions"]["1"]["verdict"] == "hallucinated"
    assert list(cwd.iterdir()) == []
    # an SR result the SR widget wrote (metadata path), an OME-Zarr, the LR's folder
    from napari_srmat.widgets.audit_widget import default_session_path

    sr_out = viewer.add_image(sr, name="sr out",
                              metadata={"path": str(scans / "run1.ome.zarr")})
    assert default_session_path(sr_out) == scans / "run1_audit.json"
    sr_out.metadata["path"] = str(scans / "run2.OME.TIF")  # io.image_stem's rule
    assert default_session_path(sr_out) == scans / "run2_audit.json"
    sr_out.metadata["path"] = str(scans / "run1.ome.zarr")
    lr_file = viewer.add_image(lr, name="scan", metadata={"path": str(scans / "scan.png")})
    assert default_session_path(viewer.layers["sr x4"], lr_file) == scans / "scan_audit.json"


def test_layer_choices_follow_renames_and_refuse_one_layer_or_a_stack(make_napari_viewer,
                                                                      qtbot, tmp_path,
                                                                      monkeypatch):
    """Three ways the search went wrong before it started. Renaming the chosen LR layer
    left its old name in the list ('no image layer named ...' at Find candidates). With
    one image open, LR and SR were that same layer: the search compared it with itself
    and reported 'no candidates: the detector found nothing suspicious'. A (3, H, W)
    stack was searched as one image and found 'nothing suspicious' too."""
    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.widgets.audit_widget import AuditWidget

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    viewer = make_napari_viewer()
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    only = viewer.add_image(lr, name="scan")
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.session_path_edit.setText(str(tmp_path / "a.json"))
    w._path_edited("")
    assert w.lr_combo.currentText() == w.sr_combo.currentText() == "scan"
    # the button waits for a second image layer (RunNeedsLayersMixin); the slot, reached
    # by a script, refuses the same layer as both
    assert not w.run_btn.isEnabled() and w.run_btn.toolTip().startswith("needs ")
    worker_mod.user_action(w.find_candidates, w.status)()
    assert w.worker is None and w.session is None
    assert w.status.text().startswith("the LR and SR layers are the same layer ('scan')")
    viewer.add_image(np.kron(lr, np.ones((4, 4), np.uint8)), name="sr")
    w.lr_combo.setCurrentText("scan")
    w.sr_combo.setCurrentText("sr")
    only.name = "lr 20x"
    assert w.lr_combo.currentText() == "lr 20x" and w.sr_combo.currentText() == "sr"
    viewer.add_image(np.zeros((3, 128, 128), np.uint8), name="stack")
    w.sr_combo.setCurrentText("stack")
    w.run_btn.click()
    assert w.worker is None and w.session is None
    assert w.status.text().startswith("layer 'stack' has shape (3, 128, 128)")
    w.sr_combo.setCurrentText("sr")
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.session is not None, timeout=WORKER_WAIT_MS)
    _saved()
    assert not any("no image layer" in s for s in shown)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    _saved()


@pytest.mark.parametrize("change", ["rename", "remove"])
def test_a_layer_renamed_or_removed_during_the_search(make_napari_viewer, qtbot, tmp_path,
                                                      change):
    """The search's result was shown on the layers *named* as at its start: an SR layer
    renamed meanwhile was taken for removed ('the LR or SR layer of this session was
    removed'), the boxes lost its scale, and the layers of the previous session stayed
    the blink and overlay targets. Now a renamed layer is still the session's layer;
    a removed one is none."""
    from napari_srmat.widgets.audit_widget import AuditWidget

    viewer = make_napari_viewer()
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    old_lr = viewer.add_image(lr, name="old lr")
    old_sr = viewer.add_image(np.kron(lr, np.ones((4, 4), np.uint8)), name="old sr")
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.sr_layer, w.lr_up_layer = old_sr, old_lr  # a previous session's layers
    lr_layer = viewer.add_image(lr, name="lr", scale=(1.0, 1.0))
    sr_layer = viewer.add_image(np.kron(lr, np.ones((4, 4), np.uint8)), name="sr",
                                scale=(0.25, 0.25), translate=(-0.375, -0.375))
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    w.session_path_edit.setText(str(tmp_path / "s.json"))
    w._path_edited("")
    w.run_btn.click()
    assert not w.run_btn.isEnabled()  # searching
    if change == "rename":
        sr_layer.name = "sr (x4)"
    else:
        viewer.layers.remove(sr_layer)
    qtbot.waitUntil(lambda: w.session is not None, timeout=WORKER_WAIT_MS)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    _saved()
    assert w.lr_up_layer is lr_layer
    if change == "rename":
        assert w.sr_layer is sr_layer
        assert tuple(w.boxes_layer.scale[-2:]) == (0.25, 0.25)
        w.toggle_blink()
        assert not sr_layer.visible and lr_layer.visible and old_sr.visible
    else:
        assert w.sr_layer is None
        w.toggle_blink()  # nothing to blink; the old session's layers are left alone
        assert old_sr.visible and old_lr.visible


def test_two_panels_never_share_a_session_file(make_napari_viewer, qtbot, tmp_path):
    """The dock and the workbench's Audit tab on one SR layer both default to the same
    `<sr>_audit.json`; the second panel's search or load then wrote over the first
    one's decisions at each save. A file another open panel is writing is refused."""
    from napari_srmat.widgets.audit_widget import AuditWidget
    from napari_srmat.widgets.layers import WidgetInputError

    viewer = make_napari_viewer()
    first, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "r")
    second = AuditWidget(viewer)
    qtbot.addWidget(second)
    second.lr_combo.setCurrentText("lr")
    second.sr_combo.setCurrentText("sr")
    second.session_path_edit.setText(str(path))
    with pytest.raises(WidgetInputError, match="session of another open audit panel"):
        second.find_candidates(tile=64)
    with pytest.raises(WidgetInputError, match="session of another open audit panel"):
        second.load_session(path)
    assert second.session is None and _decisions(path) == 1
    # once the first panel is closed, the file is free to resume
    first.shut_down()
    _load(second, qtbot, path)
    assert second.session.n_reviewed == 1


def test_a_background_search_leaves_the_keys_where_the_user_reviews(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """A search finishing in one panel took the review keys from the panel the user was
    reviewing in: the next r / h recorded a verdict in the new session, for a candidate
    the user was not looking at. It now leaves them, and says how to take them."""
    from napari_srmat.widgets.audit_widget import AuditWidget

    viewer = make_napari_viewer()
    reviewing, path = _session_widget(viewer, qtbot, tmp_path)
    cands = [Candidate(id=i + 1, bbox=[10 + 30 * i, 20, 30 + 30 * i, 40], score=9.0 - i,
                       kind="new_boundary", new_boundary_length_px=12.0) for i in range(2)]

    _search_finds(monkeypatch, cands)
    searching = AuditWidget(viewer)
    qtbot.addWidget(searching)
    searching.lr_combo.setCurrentText("lr")
    searching.sr_combo.setCurrentText("sr")
    searching.session_path_edit.setText(str(tmp_path / "other.json"))
    searching.find_candidates()
    qtbot.waitUntil(lambda: searching.session is not None, timeout=WORKER_WAIT_MS)
    _saved()
    assert reviewing.holds_keys and not searching.holds_keys
    assert "click a candidate or a review button" in searching.status.text()
    _press(viewer, "h")
    assert _decisions(path) == 1 and _decisions(tmp_path / "other.json") == 0
    searching.queue.setCurrentRow(1)  # the user turns to the new session
    assert searching.holds_keys
    qtbot.waitUntil(searching.run_btn.isEnabled, timeout=WORKER_WAIT_MS)


def test_a_deleted_panel_never_gets_the_keys_back(make_napari_viewer, qtbot, tmp_path):
    """A panel whose Qt object was deleted with its parent (never shut down) was still
    chosen as the heir of the keys: closing the panel holding them raised "wrapped
    C/C++ object ... has been deleted" and bound the keys to a dead widget."""
    from qtpy.QtWidgets import QWidget

    from napari_srmat.widgets.audit_widget import AuditWidget

    viewer = make_napari_viewer()
    parent = QWidget()
    dead = AuditWidget(viewer)
    dead.setParent(parent)
    dead.lr_combo.setCurrentText("lr")
    lr = np.zeros((32, 32), np.uint8)
    viewer.add_image(lr, name="lr")
    viewer.add_image(np.kron(lr, np.ones((4, 4), np.uint8)), name="sr")
    dead.lr_combo.setCurrentText("lr")
    dead.sr_combo.setCurrentText("sr")
    cands = [Candidate(id=1, bbox=[10, 20, 30, 40], score=9.0, kind="new_boundary",
                       new_boundary_length_px=12.0)]
    dead.set_session(AuditSession.create(lr, viewer.layers["sr"].data, cands),
                     tmp_path / "dead.json")
    live = AuditWidget(viewer)
    qtbot.addWidget(live)
    live.lr_combo.setCurrentText("lr")
    live.sr_combo.setCurrentText("sr")
    live.set_session(AuditSession.create(lr, viewer.layers["sr"].data, cands),
                     tmp_path / "live.json")
    assert live.holds_keys
    from qtpy.QtCore import QEvent
    from qtpy.QtWidgets import QApplication

    from napari_srmat.widgets._worker import qt_alive

    parent.deleteLater()  # its child, the first panel, goes with it (no shut_down)
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not qt_alive(dead) and not dead._shut
    live.shut_down()  # raised here; and the keys went to the dead panel
    assert not dead.holds_keys
    from app_model.types import KeyBinding

    assert KeyBinding.from_str("R") not in viewer.keymap


def _record_threads(monkeypatch, module, name: str) -> list[bool]:
    """Replace ``module.name`` by a wrapper that records, per call, whether it ran on the
    GUI (main) thread; returns that list."""
    import threading

    on_main: list[bool] = []
    original = getattr(module, name)

    def recording(*args, **kwargs):
        on_main.append(threading.current_thread() is threading.main_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return on_main


def test_search_session_has_the_sr_pixel_size_and_is_built_in_the_worker(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """The widget's sessions had no pixel size even when the SR layer had one (reports
    per megapixel only), and the session (checksums: every pixel of both images) was
    built on the GUI thread after the search."""

    import napari_srmat.audit.session as session_mod
    from napari_srmat.widgets.audit_widget import AuditWidget

    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    viewer = make_napari_viewer()
    viewer.add_image(lr, name="lr", metadata={"pixel_size_um": 1.0})
    viewer.add_image(sr, name="sr", metadata={"pixel_size_um": 0.25})
    cands = [Candidate(id=1, bbox=[10, 20, 30, 40], score=9.0, kind="new_boundary",
                       new_boundary_length_px=12.0)]

    _search_finds(monkeypatch, cands)
    threads = _record_threads(monkeypatch, session_mod, "checksum")
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    w.session_path_edit.setText(str(tmp_path / "px.json"))
    w.find_candidates()
    qtbot.waitUntil(lambda: w.session is not None, timeout=WORKER_WAIT_MS)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    _saved()
    assert threads == [False, False]  # both checksums off the GUI thread
    assert w.session.pixel_size_um == 0.25
    assert AuditSession.load(tmp_path / "px.json").pixel_size_um == 0.25
    # a layer whose pixels are not square has no pixel size: the report is in px
    viewer.layers["sr"].metadata["pixel_size_yx_um"] = [0.25, 0.5]
    w.session_path_edit.setText(str(tmp_path / "nonsquare.json"))
    w.find_candidates()
    qtbot.waitUntil(lambda: (tmp_path / "nonsquare.json").exists(), timeout=WORKER_WAIT_MS)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    _saved()
    assert AuditSession.load(tmp_path / "nonsquare.json").pixel_size_um is None


def test_loading_a_session_checks_the_images_in_the_worker(make_napari_viewer, qtbot,
                                                           tmp_path, monkeypatch):
    """Load session… computed the checksums of both layers (every pixel) on the GUI
    thread: napari froze for the whole read of a large SR image. A session of other
    images (same shapes, other pixels) is still refused, in one line."""

    import napari_srmat.audit.session as session_mod

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    w.shut_down()
    from napari_srmat.widgets.audit_widget import AuditWidget

    w2 = AuditWidget(viewer)
    qtbot.addWidget(w2)
    w2.lr_combo.setCurrentText("lr")
    w2.sr_combo.setCurrentText("sr")
    threads = _record_threads(monkeypatch, session_mod, "checksum")
    assert _load(w2, qtbot, path) is not None
    assert threads == [False, False]
    assert w2.status.text().startswith("session loaded: 0/3 reviewed")
    # other pixels, same names and shapes: refused, nothing shown
    w3 = AuditWidget(viewer)
    qtbot.addWidget(w3)
    w2.shut_down()
    viewer.layers["sr"].data = viewer.layers["sr"].data[::-1].copy()
    w3.lr_combo.setCurrentText("lr")
    w3.sr_combo.setCurrentText("sr")
    assert _load(w3, qtbot, path) is None
    assert "SR image does not match the audited one" in w3.status.text()


def test_boundary_overlay_is_computed_in_a_worker_and_the_latest_wins(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """The overlay's boundary maps were computed on the GUI thread at every key press (a
    large candidate's crop froze napari for seconds). Now in a worker; a result that
    arrives after the reviewer moved on is not shown over the new candidate."""

    import napari_srmat.audit.detector as detector

    viewer = make_napari_viewer()
    w, _ = _session_widget(viewer, qtbot, tmp_path)
    threads = _record_threads(monkeypatch, detector, "default_boundary_map")
    w.overlay_check.setChecked(True)
    qtbot.waitUntil(lambda: "LR-up boundaries" in viewer.layers, timeout=WORKER_WAIT_MS)
    assert threads and not any(threads)
    first = tuple(viewer.layers["SR boundaries"].translate)
    seq = w._overlay_seq
    _press(viewer, "n")  # candidate 2, 30 px to the right
    qtbot.waitUntil(lambda: tuple(viewer.layers["SR boundaries"].translate) != first,
                    timeout=WORKER_WAIT_MS)
    moved = tuple(viewer.layers["SR boundaries"].translate)
    w._show_overlay(seq, (np.zeros((4, 4), np.float32),) * 2, (0, 0))  # a late result
    assert tuple(viewer.layers["SR boundaries"].translate) == moved
    assert viewer.layers["SR boundaries"].data.shape != (4, 4)


def test_added_region_is_clamped_to_the_sr_image(make_napari_viewer, tmp_path, qtbot):
    """A rectangle drawn past the SR image's right/bottom edge gives a region inside the
    image; one entirely outside it is refused in one line (the session's rule,
    :meth:`AuditSession.add_region`, reached through the widget)."""
    from napari_srmat.widgets.audit_widget import AuditWidget

    viewer = make_napari_viewer()
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    viewer.add_image(lr, name="lr")
    viewer.add_image(sr, name="sr")
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    cands = [Candidate(id=1, bbox=[10, 20, 30, 40], score=5.0, kind="new_boundary",
                       new_boundary_length_px=12.0)]
    w.set_session(AuditSession.create(lr, sr, cands), tmp_path / "a.json")
    # world coordinates are LR pixels; SR rows 100..140, columns 110..150 of 128 x 128
    viewer.add_shapes([(np.array([[100, 110], [140, 150]]) - 0.5) * 0.25 - 0.375],
                      shape_type="rectangle", name="past the edge")
    assert w.add_region_from_shapes().bbox == [110, 100, 128, 128]
    viewer.add_shapes([np.array([[200, 200], [240, 250]]) * 0.25 - 0.375],
                      shape_type="rectangle", name="outside")
    w.add_region_btn.click()
    _saved()
    assert "no area inside the SR image" in w.status.text()
    assert "\n" not in w.status.text()
    assert [r.bbox for r in w.session.added_regions] == [[110, 100, 128, 128]]


def test_a_search_over_a_reviewed_session_keeps_it_past_the_next_key(make_napari_viewer,
                                                                     qtbot, tmp_path,
                                                                     monkeypatch):
    """The widget asked before a new search replaced a reviewed session and said "the
    previous version is kept as audit.json.bak"; the first key pressed in the new session
    copied the new, empty session over that .bak: the review was gone. It is now kept
    under its own name, which the dialog and the status line give."""

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "h")
    _press(viewer, "r")
    reviewed = path.read_bytes()
    cands = list(w.session.candidates)

    _search_finds(monkeypatch, cands)
    asked = []
    w.ask = lambda title, text: asked.append(text) or True
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.run_btn.isEnabled() and w.session.decisions == {},
                    timeout=WORKER_WAIT_MS)
    _saved()
    kept = list(tmp_path.glob("audit.json.*Z.bak"))
    assert len(kept) == 1 and kept[0].read_bytes() == reviewed
    assert f"kept as {kept[0].name}" in asked[-1]
    assert f"kept as {kept[0].name}" in w.status.text()
    _press(viewer, "u")
    _press(viewer, "u")
    assert len(json.loads(path.read_text())["decisions"]) == 2
    assert kept[0].read_bytes() == reviewed


def test_a_decision_that_is_not_saved_leaves_the_candidate_on_screen(make_napari_viewer,
                                                                     qtbot, tmp_path):
    """A key whose save failed (the CSV log replaced by a file of the user's) left the
    screen on the candidate while the session had moved to the next one: the following
    keys gave verdicts to candidates never shown. Now the decision is not recorded, the
    queue and camera stay on the candidate shown, and the note typed is kept."""
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    center = tuple(viewer.camera.center)
    (tmp_path / "audit.csv").write_text("my notes\n")
    w.note_edit.setText("looks like a twin")
    _press(viewer, "h")
    assert "is not an audit session file" in w.status.text()
    assert w.session.position == 0 and w.queue.currentRow() == 0
    assert w.session.decisions == {} and w.progress_label.text() == "0/3 reviewed"
    assert tuple(viewer.camera.center) == center
    assert w.note_edit.text() == "looks like a twin"
    (tmp_path / "audit.csv").unlink()
    _press(viewer, "r")  # the retry, on the candidate still shown
    saved = json.loads(path.read_text())["decisions"]
    assert {k: d["verdict"] for k, d in saved.items()} == {"1": "real"}
    assert saved["1"]["note"] == "looks like a twin"
    assert w.session.position == 1 and w.queue.currentRow() == 1


def test_a_save_the_file_system_refuses_is_one_line_in_the_status(make_napari_viewer, qtbot,
                                                                  tmp_path, monkeypatch):
    """A save failing with an OSError (a full disk, a log held by another program, here a
    folder in the backup's place) escaped from the key handler and from the search's
    result slot as a traceback, with an empty status line, though the docs say a
    decision that cannot be saved is told in the status line."""
    import napari_srmat.widgets._worker as worker_mod

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    bak = tmp_path / "audit.json.bak"
    bak.mkdir()
    (bak / "x").write_text("")
    _press(viewer, "h")
    text = w.status.text()
    assert text.startswith("the decision (not recorded) was not saved: ") and "\n" not in text
    assert "audit.json.bak" in text and len(shown) == 1 and text in shown[0]
    assert w.session.decisions == {} and w.queue.currentRow() == 0
    viewer.add_shapes([np.array([[5, 6], [15, 26]]) * 0.25], shape_type="rectangle")
    w.add_region_btn.click()
    _saved()
    assert w.status.text().startswith("the region (not added) was not saved: ")
    assert w.session.added_regions == []

    # a search whose session cannot be saved: told, and the old session stays shown
    old = w.session
    cands = [Candidate(id=9, bbox=[1, 2, 11, 12], score=9.0, kind="new_boundary",
                       new_boundary_length_px=1.0)]

    _search_finds(monkeypatch, cands)
    # (the folder in the backup's place is now refused before the search, as a file of
    # the user's there is: a full disk stands for the save's OSError here)
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)  # its look
    assert w.worker is None and "audit.json.bak exists and is not" in shown[-1]
    (bak / "x").unlink()
    bak.rmdir()
    import napari_srmat.audit.session as session_mod

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(session_mod, "atomic_write_text", disk_full)
    w.run_btn.click()
    qtbot.waitUntil(lambda: w.run_btn.isEnabled() and "could not" in w.status.text(),
                    timeout=WORKER_WAIT_MS)
    assert w.status.text().startswith(f"the session could not be saved to {path}: ")
    assert w.session is old and w.queue.count() == 3


@pytest.mark.parametrize("sr_translate, moved", [
    ((0.0, 0.0), True),  # an SR file without a translation: 1.5 SR px off
    ((-0.375, -0.375), False),  # where sr_world_transform puts it
    ((-0.375 + 0.2, -0.375 - 0.1), False),  # registered by the user: kept
    ((3.0, -2.0), True),  # far off (the documented rule)
])
def test_align_sr_layer_corrects_the_untranslated_sr_file_only(make_napari_viewer,
                                                               sr_translate, moved):
    from napari_srmat.widgets.audit_widget import align_sr_layer

    viewer = make_napari_viewer()
    lr = viewer.add_image(np.zeros((8, 10), np.uint8), scale=(1.0, 1.0))
    sr = viewer.add_image(np.zeros((32, 40), np.uint8), scale=(0.25, 0.25),
                          translate=sr_translate)
    assert align_sr_layer(lr, sr, 4) is moved
    assert tuple(sr.translate) == ((-0.375, -0.375) if moved else sr_translate)
    assert tuple(sr.scale) == (0.25, 0.25)


@pytest.mark.parametrize("lr_kwargs", [
    {},  # an LR file opened without a pixel size: its world unit is its pixel
    {"scale": (800.0, 800.0), "units": ("nm", "nm")},  # an LR in nanometres
], ids=["lr_in_pixels", "lr_in_nm"])
def test_an_sr_layer_moved_onto_its_lr_keeps_its_pixel_size(make_napari_viewer, qtbot,
                                                            tmp_path, lr_kwargs):
    """An SR layer in µm (0.2 µm/px) moved onto an LR layer whose world unit is not the
    µm (align_sr_layer: its pixels, or nm) kept its µm units with the LR's scale / 4: a
    layer in µm has its scale as pixel size (8eda90b), so it read 0.25 µm (200 µm over the
    nm LR), and the Audit widget took that as the session's pixel size at the first
    verdict. Moved, it now takes the LR's units: its place is in the LR's world."""
    from napari_srmat._napari_io import layer_pixel_size_um

    lr, sr = _feature_images(tmp_path)
    viewer = make_napari_viewer()
    lr_layer = viewer.add_image(lr, name="lr", **lr_kwargs)
    sr_layer = viewer.add_image(sr, name="sr", scale=(0.2, 0.2),
                                units=("micrometer", "micrometer"),
                                metadata={"pixel_size_um": 0.2})
    w, cand = _widget_over_the_feature(viewer, qtbot)
    w.set_session(AuditSession.create(lr, sr, [cand], pixel_size_um=0.2),
                  tmp_path / "a.json")
    assert tuple(sr_layer.scale) == tuple(s / 4 for s in lr_layer.scale)  # moved
    assert tuple(sr_layer.units) == tuple(lr_layer.units)
    assert layer_pixel_size_um(sr_layer) == pytest.approx(0.2)
    w.decide("hallucinated")
    _saved()
    assert w.session.pixel_size_um == pytest.approx(0.2)
    assert AuditSession.load(tmp_path / "a.json").pixel_size_um == pytest.approx(0.2)


def test_a_search_records_the_image_files_and_the_sr_model(make_napari_viewer, qtbot,
                                                           tmp_path, monkeypatch):
    """Sessions made in the widget recorded no image paths (reports said "image 1" and
    drew no thumbnails) and no SR model, though the layers came from files and the SR
    store records the model that made it."""
    from napari_srmat._napari_io import read_micrograph
    from napari_srmat.audit import write_report
    from napari_srmat.io import write_ome_zarr
    from napari_srmat.sr import super_resolve

    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    write_ome_zarr(lr, tmp_path / "lr.ome.zarr", pixel_size_um=1.0)
    super_resolve(lr, "bicubic", out=tmp_path / "sr.ome.zarr")
    viewer = make_napari_viewer()
    for data, kwargs, _ in read_micrograph([tmp_path / "lr.ome.zarr",
                                           tmp_path / "sr.ome.zarr"]):
        viewer.add_image(data, **kwargs)
    cands = [Candidate(id=1, bbox=[10, 20, 30, 40], score=9.0, kind="new_boundary",
                       new_boundary_length_px=12.0)]

    _search_finds(monkeypatch, cands)
    from napari_srmat.widgets.audit_widget import AuditWidget

    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    w.find_candidates()
    qtbot.waitUntil(lambda: w.session is not None, timeout=WORKER_WAIT_MS)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    _saved()
    saved = AuditSession.load(tmp_path / "sr_audit.json")
    assert saved.images["lr"]["path"] == str((tmp_path / "lr.ome.zarr").resolve())
    assert saved.images["sr"]["path"] == str((tmp_path / "sr.ome.zarr").resolve())
    assert saved.sr_model["name"] == "bicubic" and saved.sr_model["settings"]["scale"] == 4
    write_report(saved, tmp_path / "report.md")
    text = (tmp_path / "report.md").read_text()
    assert "## sr.ome.zarr" in text and "SR model: bicubic" in text
    assert (tmp_path / "report_thumbs" / "s1_c1.png").exists()


def test_boundary_overlay_shows_the_rule_the_search_used(make_napari_viewer, qtbot, tmp_path):
    """The overlay always drew the default map at fixed thresholds (0.5, LR 0.25) and no
    tolerance band, whatever the search used (a boundary_threshold of its own, UAED),
    so it did not show what made a pixel "new boundary". It now applies the session's
    settings through the detector's own rule, and says so when it cannot (UAED)."""
    from napari_srmat.audit.detector import boundary_evidence, upscale_bicubic
    from napari_srmat.channels import float_channels_last

    viewer = make_napari_viewer()
    w, _ = _session_widget(viewer, qtbot, tmp_path)
    s = w.session
    settings = {"boundary_threshold": 0.3, "lr_threshold_factor": 0.8, "tolerance_px": 2.0}
    s.detector = {"boundary_fn": "default_boundary_map", **settings}
    w.overlay_check.setChecked(True)
    qtbot.waitUntil(lambda: "LR-up boundaries" in viewer.layers, timeout=WORKER_WAIT_MS)
    sr_lay, lr_lay = viewer.layers["SR boundaries"], viewer.layers["LR-up boundaries"]
    (y0, x0), (h, w_) = np.round(np.asarray(sr_lay.translate) / 0.25 + 1.5).astype(int), \
        sr_lay.data.shape
    sr = float_channels_last(viewer.layers["sr"].data[y0:y0 + h, x0:x0 + w_])
    lr = viewer.layers["lr"].data[y0 // 4:-(-(y0 + h) // 4), x0 // 4:-(-(x0 + w_) // 4)]
    want = boundary_evidence(sr, float_channels_last(upscale_bicubic(lr, 4))[:h, :w_],
                             **settings)
    np.testing.assert_array_equal(sr_lay.data, want[0])
    np.testing.assert_array_equal(lr_lay.data, want[1])
    # a search with UAED: the overlay cannot redraw that map, and its name says so
    s.detector = {"boundary_fn": "uaed", "boundary_threshold": 0.2, "tolerance_px": 4.0}
    _press(viewer, "n")
    qtbot.waitUntil(lambda: "not the search's uaed" in sr_lay.name, timeout=WORKER_WAIT_MS)
    assert lr_lay.name == "LR-up boundaries (default map, not the search's uaed)"


def test_load_session_needs_the_lr_and_sr_layers(make_napari_viewer, qtbot, tmp_path,
                                                 monkeypatch):
    """Load session… with no image layers chosen skipped the checksum check and showed the
    session over nothing: the keys then recorded verdicts on candidates never seen."""
    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.widgets.audit_widget import AuditWidget
    from napari_srmat.widgets.layers import WidgetInputError

    shown = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    lr = np.zeros((32, 32), np.uint8)
    path = tmp_path / "a.json"
    AuditSession.create(lr, np.zeros((128, 128), np.uint8), [Candidate(
        id=1, bbox=[1, 2, 30, 40], score=5, kind="new_boundary",
        new_boundary_length_px=3)]).save(path)
    original = path.read_bytes()
    viewer = make_napari_viewer()
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    with pytest.raises(WidgetInputError, match="choose them as the LR and SR layers first"):
        w.load_session(path)
    # the button waits for the layers (test_load_session_waits_for_two_image_layers);
    # its slot, reached by a script, refuses before the file dialog opens
    worker_mod.user_action(w._load_dialog, w.status)()
    assert "choose them as the LR and SR layers first" in w.status.text() and len(shown) == 1
    viewer.add_image(lr, name="lr")  # one layer cannot be both
    with pytest.raises(WidgetInputError, match="choose them as the LR and SR layers first"):
        w.load_session(path)
    assert w.session is None and w.worker is None and path.read_bytes() == original


def test_an_added_region_is_added_once_and_can_be_removed(make_napari_viewer, qtbot,
                                                          tmp_path):
    """A second click on "Add missed region" added the same rectangle again (its length
    counted twice in the report), and an added region could not be taken back."""
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    viewer.add_shapes([(np.array([[5, 6], [15, 26]]) - 0.5) * 0.25 - 0.375],
                      shape_type="rectangle", name="missed")
    w.add_region_btn.click()
    _saved()
    w.add_region_btn.click()
    _saved()
    assert w.status.text() == ("region [6, 5, 26, 15] is already added (r1): draw another "
                               "rectangle, or remove r1 first")
    assert len(json.loads(path.read_text())["added_regions"]) == 1
    w.remove_region_btn.click()
    _saved()
    assert w.status.text() == "removed region r1 [6, 5, 26, 15]"
    assert json.loads(path.read_text())["added_regions"] == []
    w.remove_region_btn.click()
    _saved()
    assert w.status.text() == "no added region to remove"


def test_a_session_whose_sr_layer_is_regenerated_takes_no_verdicts(make_napari_viewer, qtbot,
                                                                   tmp_path):
    """Running the SR widget again (another model) replaces the pixels of the 'lr SR x4'
    layer in place; the audit panel went on recording verdicts on the old candidates
    over the new image, in a session whose checksum is the old image's. Now a verdict or
    an added region is refused with one line until a new search or a load."""
    from napari_srmat.widgets.audit_widget import AuditWidget
    from napari_srmat.widgets.layers import add_super_resolution_result

    viewer = make_napari_viewer()
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    lr_layer = viewer.add_image(lr, name="lr")
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    sr_layer = add_super_resolution_result(viewer, lr_layer, sr, 4, model_name="bicubic")
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText(sr_layer.name)
    cands = [Candidate(id=i + 1, bbox=[10 + 30 * i, 20, 30 + 30 * i, 40], score=50.0 - i,
                       kind="new_boundary", new_boundary_length_px=12.0) for i in range(3)]
    path = tmp_path / "audit.json"
    w.set_session(AuditSession.create(lr, sr, cands), path)
    _press(viewer, "h")
    assert _decisions(path) == 1
    again = add_super_resolution_result(viewer, lr_layer, 255 - sr, 4, model_name="cnn")
    assert again is sr_layer  # the same layer, new pixels
    _press(viewer, "r")
    assert _decisions(path) == 1 and w.session.decisions.keys() == {1}
    assert "changed since" in w.status.text() and w.status.text().count("\n") == 0
    viewer.add_shapes([[[0, 0], [4, 4]]], shape_type="rectangle", name="missed")
    with pytest.raises(ValueError, match="changed since"):
        w.add_region_from_shapes()
        _saved()
    assert json.loads(path.read_text())["added_regions"] == []
    w.set_session(AuditSession.create(lr, 255 - sr, cands), tmp_path / "new.json")
    _press(viewer, "r")  # a session of the new pixels takes verdicts again
    assert _decisions(tmp_path / "new.json") == 1


def test_a_note_typed_for_an_added_region_is_not_stored_with_the_next_verdict(
        make_napari_viewer, qtbot, tmp_path):
    """The note field kept the note of a region just added, so the next key stored it
    again with the verdict on the candidate shown ('missed line near the twin' on a
    candidate judged real)."""
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    viewer.add_shapes([(np.array([[5, 6], [15, 26]]) - 0.5) * 0.25 - 0.375],
                      shape_type="rectangle", name="missed")
    w.note_edit.setText("missed line near the twin")
    w.add_region_btn.click()
    _saved()
    assert w.note_edit.text() == ""
    _press(viewer, "r")
    saved = json.loads(path.read_text())
    assert saved["added_regions"][0]["note"] == "missed line near the twin"
    assert saved["decisions"]["1"]["note"] == ""


def test_loading_a_session_whose_sr_file_moved_records_the_layers_file(
        make_napari_viewer, qtbot, tmp_path):
    """The SR store was moved after the audit and opened from its new place: the
    resumed session kept the old path, so the report found no image and drew no
    thumbnails. The layer's file (its pixels match the session) becomes the recorded
    path, the status line says so, and the verdicts are kept."""
    from napari_srmat._napari_io import read_micrograph
    from napari_srmat.io import write_ome_zarr
    from napari_srmat.sr import super_resolve
    from napari_srmat.widgets.audit_widget import AuditWidget

    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    write_ome_zarr(lr, tmp_path / "lr.ome.zarr", pixel_size_um=1.0)
    super_resolve(lr, "bicubic", out=tmp_path / "sr.ome.zarr")
    cands = [Candidate(id=1, bbox=[10, 20, 30, 40], score=9.0, kind="new_boundary",
                       new_boundary_length_px=12.0)]
    s = AuditSession.create(tmp_path / "lr.ome.zarr", tmp_path / "sr.ome.zarr", cands)
    path = s.save(tmp_path / "audit.json")
    s.decide("hallucinated")
    (tmp_path / "moved").mkdir()
    (tmp_path / "sr.ome.zarr").rename(tmp_path / "moved" / "sr.ome.zarr")
    viewer = make_napari_viewer()
    for data, kwargs, _ in read_micrograph([tmp_path / "lr.ome.zarr",
                                           tmp_path / "moved" / "sr.ome.zarr"]):
        viewer.add_image(data, **kwargs)
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    loaded = _load(w, qtbot, path)
    moved = str((tmp_path / "moved" / "sr.ome.zarr").resolve())
    assert loaded.images["sr"]["path"] == moved and moved in w.status.text()
    assert loaded.decisions[1].verdict == "hallucinated"


def test_regions_are_logged_under_the_reviewer_named_in_the_panel(make_napari_viewer, qtbot,
                                                                   tmp_path):
    """bob took over ana's panel (his name in the Reviewer field) and added a missed
    region, then removed it: the session's log and added region named ana (the
    reviewer of the last verdict), as only a verdict took the name typed."""
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    w.reviewer_edit.setText("ana")
    _press(viewer, "r")
    w.reviewer_edit.setText("bob")
    viewer.add_shapes([(np.array([[5, 6], [15, 26]]) - 0.5) * 0.25 - 0.375],
                      shape_type="rectangle", name="missed")
    w.add_region_btn.click()
    _saved()
    assert json.loads(path.read_text())["added_regions"][0]["reviewer"] == "bob"
    w.remove_region_btn.click()
    _saved()
    assert [(e["action"], e["reviewer"]) for e in json.loads(path.read_text())["log"]] == [
        ("verdict", "ana"), ("add_region", "bob"), ("remove_region", "bob")]


def _calibrated_session(viewer, qtbot, tmp_path):
    """An audit widget over the LR of :func:`_feature_images` at 1 µm/px and its SR layer
    (0.25 µm/px, following the LR's calibration); returns it, both layers and the
    candidate over the feature (SR box [120, 80, 136, 96], 16 px of new boundary), and the
    (LR, SR) images."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size
    from napari_srmat.widgets.layers import add_super_resolution_result

    lr, sr = _feature_images(tmp_path)
    lr_layer = viewer.add_image(lr, name="lr")
    set_layer_pixel_size(viewer, lr_layer, 1.0)
    sr_layer = add_super_resolution_result(viewer, lr_layer, sr, 4, name="sr")
    w, cand = _widget_over_the_feature(viewer, qtbot)
    return w, lr_layer, sr_layer, cand, (lr, sr)


def test_audit_boxes_keep_the_um_and_follow_a_calibration(make_napari_viewer, tmp_path,
                                                          qtbot):
    """The candidate boxes and boundary overlays were added without the SR layer's units:
    over images in µm napari warned "Inconsistent units across layers" and the scale bar
    lost its µm. And the boxes were linked to no layer: calibrating the LR (its SR layer
    follows it) left them at the old scale, off their candidates. Both now follow the SR
    layer."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer = make_napari_viewer()
    w, lr_layer, sr_layer, cand, images = _calibrated_session(viewer, qtbot, tmp_path)
    w.set_session(AuditSession.create(*images, [cand]), tmp_path / "a.json")
    w.overlay_check.setChecked(True)
    qtbot.waitUntil(lambda: "LR-up boundaries" in viewer.layers, timeout=WORKER_WAIT_MS)
    for layer in (w.boxes_layer, *w.overlay_layers.values()):
        assert tuple(layer.units) == tuple(sr_layer.units), layer.name
    assert [str(u) for u in viewer.layers.units] == ["micrometer"] * 2
    set_layer_pixel_size(viewer, lr_layer, 0.5)
    assert sr_layer.scale[-1] == 0.125
    lo, hi = _box_world_bounds(w.boxes_layer)
    np.testing.assert_allclose(lo, np.asarray(sr_layer.data_to_world((79.5, 119.5)))[-2:],
                               atol=1e-9)
    np.testing.assert_allclose(hi, np.asarray(sr_layer.data_to_world((95.5, 135.5)))[-2:],
                               atol=1e-9)


@pytest.mark.parametrize("set_by_hand", ["lr", "sr"])
def test_audit_boxes_and_pixel_size_follow_a_scale_set_by_hand_on_either_layer(
        make_napari_viewer, tmp_path, qtbot, set_by_hand):
    """The SR layer followed its LR through Calibration only, and the candidate boxes and
    boundary overlays only through Calibration too: the LR's scale set by hand (1 -> 0.5
    µm/px) left the SR layer at 0.25 µm/px (the session kept 0.25), the boxes at their old
    place (the box's first corner at 20 µm where its SR pixels now lie at 10). The SR layer
    is now kept on its LR both ways, and the boxes and overlays on the SR layer: a scale
    set by hand on the LR or on the SR layer moves the other, the boxes and overlays stay
    on their candidate, and the session's pixel size is the SR layer's (read from the SR
    layer once per event: no loop)."""
    from _helpers import assert_on_layer

    viewer = make_napari_viewer()
    w, lr_layer, sr_layer, cand, images = _calibrated_session(viewer, qtbot, tmp_path)
    path = tmp_path / "a.json"
    w.set_session(AuditSession.create(*images, [cand], pixel_size_um=0.25), path)
    w.overlay_check.setChecked(True)
    qtbot.waitUntil(lambda: "LR-up boundaries" in viewer.layers, timeout=WORKER_WAIT_MS)
    corner = w._overlay_corner
    if set_by_hand == "lr":
        lr_layer.scale = (0.5, 0.5)
        lr_layer.translate = (3.0, -1.0)
    else:
        sr_layer.scale = (0.125, 0.125)
    np.testing.assert_allclose(lr_layer.scale, (0.5, 0.5))
    assert_on_layer(sr_layer, lr_layer, 4)
    assert w.session.pixel_size_um == 0.125
    assert AuditSession.load(path).pixel_size_um == 0.125
    lo, hi = _box_world_bounds(w.boxes_layer)
    np.testing.assert_allclose(lo, np.asarray(sr_layer.data_to_world((79.5, 119.5)))[-2:],
                               atol=1e-9)
    np.testing.assert_allclose(hi, np.asarray(sr_layer.data_to_world((95.5, 135.5)))[-2:],
                               atol=1e-9)
    for lay in w.overlay_layers.values():
        np.testing.assert_allclose(lay.scale[-2:], sr_layer.scale[-2:])
        np.testing.assert_allclose(np.asarray(lay.data_to_world((0.0, 0.0)))[-2:],
                                   np.asarray(sr_layer.data_to_world(corner))[-2:],
                                   atol=1e-9)


def _shown_with_overlays(viewer, qtbot, tmp_path, lr, sr, layer_names):
    """An audit widget showing a session of one candidate over the feature of
    :func:`_feature_images` (SR box [120, 80, 136, 96]) on the layers ``layer_names``
    (LR, SR), its boundary overlays drawn: (widget, candidate)."""
    from napari_srmat.widgets.audit_widget import AuditWidget

    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    cand = Candidate(id=1, bbox=[120, 80, 136, 96], score=9.0, kind="new_boundary",
                     new_boundary_length_px=16.0)
    w.overlay_check.setChecked(True)
    w.set_session(AuditSession.create(lr, sr, [cand]), tmp_path / "a.json",
                  layer_names=layer_names)
    qtbot.waitUntil(lambda: "LR-up boundaries" in viewer.layers, timeout=WORKER_WAIT_MS)
    return w, cand


def test_audit_overlays_of_a_second_session_follow_its_sr_layer(make_napari_viewer,
                                                                tmp_path, qtbot):
    """The boundary overlays are reused by the next session, which set their pixels and
    place but kept the first session's SR layer as their source and its units: over a
    second pair in µm beside a first in nm, the overlays stayed in nm, and calibrating
    the second LR left them at the old scale, off their candidate. A reused overlay
    takes the current SR layer's units and link (AuditWidget._over_sr). (Until
    2026-12-05 the first pair was closed here, in px: the overlays in px made napari
    drop the viewer's µm. Closing a session's images now takes its overlays away:
    test_a_session_whose_images_are_all_removed_draws_nothing_over_the_next_image.)"""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size
    from napari_srmat.widgets.layers import add_super_resolution_result

    lr, sr = _feature_images(tmp_path)
    viewer = make_napari_viewer()
    lr1 = viewer.add_image(lr, name="lr1", scale=(1000.0, 1000.0), units=("nm", "nm"))
    add_super_resolution_result(viewer, lr1, sr, 4, name="sr1")
    w, cand = _shown_with_overlays(viewer, qtbot, tmp_path, lr, sr, ("lr1", "sr1"))
    overlays = dict(w.overlay_layers)
    lr2 = viewer.add_image(lr.copy(), name="lr2")
    set_layer_pixel_size(viewer, lr2, 2.0)  # SR 0.5 µm: not the first SR's 250 nm
    sr2 = add_super_resolution_result(viewer, lr2, sr.copy(), 4, name="sr2")
    w.set_session(AuditSession.create(lr, sr, [cand]), tmp_path / "b.json",
                  layer_names=("lr2", "sr2"))
    qtbot.waitUntil(lambda: all(lay.visible and tuple(lay.scale) == tuple(sr2.scale)
                                for lay in overlays.values()), timeout=WORKER_WAIT_MS)
    assert w.overlay_layers == overlays  # the same layers, reused
    for layer in overlays.values():
        assert tuple(layer.units) == tuple(sr2.units), layer.name
    corner = [np.asarray(lay.translate[-2:]) for lay in overlays.values()]
    set_layer_pixel_size(viewer, lr2, 1.0)
    for layer, before in zip(overlays.values(), corner):
        np.testing.assert_allclose(layer.scale[-2:], sr2.scale[-2:], err_msg=layer.name)
        np.testing.assert_allclose(layer.translate[-2:], 0.5 * before, err_msg=layer.name)


def _search_then_remove(viewer, qtbot, tmp_path, monkeypatch, remove, *, pixel_size_um=None):
    """An audit search on an LR (``pixel_size_um`` µm, else in px) and its x4 SR layer
    (the SR widget's) finding one candidate over LR rows 20-23, columns 30-33, with the
    layers ``remove`` names removed while it runs: (widget, LR layer, session file)."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size
    from napari_srmat.widgets.layers import add_super_resolution_result

    lr, sr = _feature_images(tmp_path)
    lr_layer = viewer.add_image(lr, name="lr", translate=(3.0, -2.0))
    if pixel_size_um is not None:
        set_layer_pixel_size(viewer, lr_layer, pixel_size_um)
    add_super_resolution_result(viewer, lr_layer, sr, 4, name="sr")
    _search_finds(monkeypatch, [Candidate(id=1, bbox=[120, 80, 136, 96], score=9.0,
                                          kind="new_boundary", new_boundary_length_px=16.0)])
    path = tmp_path / "a.json"
    w = _lr_sr_widget(viewer, qtbot, path)
    w._path_edited("")
    w.run_btn.click()
    for name in remove:  # before the search's result reaches the GUI thread
        viewer.layers.remove(name)
    qtbot.waitUntil(lambda: w.session is not None, timeout=WORKER_WAIT_MS)
    _saved()
    # the search's end (Run stays disabled while the LR and SR layers are not both left)
    qtbot.waitUntil(lambda: not w.cancel_btn.isEnabled(), timeout=WORKER_WAIT_MS)
    _saved()
    assert w.run_btn.isEnabled() == (not remove)
    return w, lr_layer, path


@pytest.mark.parametrize("pixel_size_um", [0.5, None], ids=["um", "px"])
def test_without_its_sr_layer_a_session_is_placed_and_drawn_on_through_the_lr(
        make_napari_viewer, qtbot, tmp_path, monkeypatch, pixel_size_um):
    """The SR layer removed during the search (the session is still shown): the boxes
    were drawn at scale 1 in px (over an LR in µm napari warned of inconsistent units),
    and a region drawn over LR pixels 20-23 x 30-33 at x4 was recorded as SR box
    [30, 20, 34, 24], as if LR and SR pixels were one size, into the session, its CSV log
    and the report. The SR grid is the LR's at the session's scale (sr_world_transform):
    the boxes lie on it and a drawn region is converted through it."""
    from napari_srmat.audit.report import write_report

    viewer = make_napari_viewer()
    w, lr_layer, path = _search_then_remove(viewer, qtbot, tmp_path, monkeypatch, ["sr"],
                                            pixel_size_um=pixel_size_um)
    assert w.sr_layer is None and w.lr_up_layer is lr_layer
    # the candidate's box covers its feature: the outer edges of LR rows 20-23, cols 30-33
    lo, hi = _box_world_bounds(w.boxes_layer)
    np.testing.assert_allclose(lo, np.asarray(lr_layer.data_to_world((19.5, 29.5)))[-2:])
    np.testing.assert_allclose(hi, np.asarray(lr_layer.data_to_world((23.5, 33.5)))[-2:])
    assert tuple(w.boxes_layer.units) == tuple(lr_layer.units)
    assert viewer.layers.units is not None  # one unit: napari does not drop them
    np.testing.assert_allclose(viewer.camera.center[-2:], (lo + hi) / 2)
    # a missed region drawn over the same LR pixels, on a Shapes layer over the LR
    viewer.add_shapes([np.array([[19.5, 29.5], [23.5, 33.5]])], shape_type="rectangle",
                      name="missed", scale=lr_layer.scale, translate=lr_layer.translate,
                      units=lr_layer.units)
    w.add_region_btn.click()
    _saved()
    saved = json.loads(path.read_text())
    assert [r["bbox"] for r in saved["added_regions"]] == [[120, 80, 136, 96]]
    assert saved["log"][-1]["action"] == "add_region"
    assert saved["log"][-1]["bbox"] == [120, 80, 136, 96]
    rows = path.with_suffix(".csv").read_text().splitlines()
    assert rows[-1].startswith("reviewer,1,,120,80,136,96,")
    # the report written afterwards: the region's length is its SR bbox diagonal (the
    # one-LR-pixel-per-SR-pixel box gave a quarter of it) and the SR pixel size is the
    # one the SR layer had at the search
    drawn = AddedRegion(id=1, bbox=[120, 80, 136, 96])
    row = write_report(AuditSession.load(path), tmp_path / "report.md")["per_image"][0]
    assert row["hallucinated_length_px"] == pytest.approx(drawn.estimated_length_px)
    assert row["pixel_size_um"] == (None if pixel_size_um is None else pixel_size_um / 4)
    # a verdict (by candidate, no coordinates) is recorded as before
    _press(viewer, "r")
    assert json.loads(path.read_text())["decisions"]["1"]["verdict"] == "real"
    # the LR layer removed too: no grid to read a drawn region on; it is refused in one
    # line, nothing recorded, and verdicts still are
    viewer.layers.remove(lr_layer)
    viewer.layers["missed"].add_rectangles(np.array([[0.0, 0.0], [4.0, 4.0]]))
    w.add_region_btn.click()
    _saved()
    assert "region not added" in w.status.text() and "\n" not in w.status.text()
    assert len(json.loads(path.read_text())["added_regions"]) == 1
    _press(viewer, "h")
    assert json.loads(path.read_text())["decisions"]["1"]["verdict"] == "hallucinated"


def test_a_session_shown_without_its_lr_and_sr_layers_records_no_coordinates(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """Both layers removed during the search: the boxes were drawn at scale 1 in px and
    a rectangle drawn anywhere was recorded as SR pixels one for one. With no layer to
    read the SR grid from, no boxes are drawn and no region is recorded (one line in the
    status); verdicts on the candidates, which need no coordinates, are."""
    viewer = make_napari_viewer()
    w, _, path = _search_then_remove(viewer, qtbot, tmp_path, monkeypatch, ["sr", "lr"],
                                     pixel_size_um=0.5)
    assert w.sr_layer is None and w.lr_up_layer is None
    assert "audit candidates" not in viewer.layers
    assert "no LR or SR layer" in w.status.text()
    viewer.add_shapes([np.array([[80.0, 120.0], [96.0, 136.0]])], shape_type="rectangle",
                      name="missed")
    w.add_region_btn.click()
    _saved()
    assert "region not added" in w.status.text() and "\n" not in w.status.text()
    assert json.loads(path.read_text())["added_regions"] == []
    _press(viewer, "h")
    assert json.loads(path.read_text())["decisions"]["1"]["verdict"] == "hallucinated"


def test_sr_layer_removed_while_reviewing_leaves_boxes_and_regions_on_the_lr(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """The SR layer removed during the review: a region drawn over LR pixels 20-23 x
    30-33 was read at scale 1 (one SR pixel per world unit), and the boxes, linked to the
    removed layer, stayed behind when the LR was calibrated. Both now go by the LR's SR
    grid."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer = make_napari_viewer()
    w, lr_layer, path = _search_then_remove(viewer, qtbot, tmp_path, monkeypatch, [],
                                            pixel_size_um=0.5)
    viewer.layers.remove("sr")
    set_layer_pixel_size(viewer, lr_layer, 2.0)
    lo, hi = _box_world_bounds(w.boxes_layer)
    np.testing.assert_allclose(lo, np.asarray(lr_layer.data_to_world((19.5, 29.5)))[-2:])
    np.testing.assert_allclose(hi, np.asarray(lr_layer.data_to_world((23.5, 33.5)))[-2:])
    assert viewer.layers.units is not None
    viewer.add_shapes([np.array([[19.5, 29.5], [23.5, 33.5]])], shape_type="rectangle",
                      name="missed", scale=lr_layer.scale, translate=lr_layer.translate,
                      units=lr_layer.units)
    assert w.add_region_from_shapes().bbox == [120, 80, 136, 96]


@pytest.mark.parametrize("pixel_size_um", [None, 0.5], ids=["px", "um"])
def test_overlays_of_an_sr_layer_removed_while_reviewing_are_off_and_follow_the_lr(
        make_napari_viewer, qtbot, tmp_path, pixel_size_um):
    """The SR layer removed while its boundary overlays were shown: they stayed visible
    until the next candidate (docs: the overlay is switched off) and stayed linked to the
    removed layer, so calibrating the LR left them at the old scale, off their candidate
    (at 0.25 where the LR's SR grid is now 0.5), and, over an LR in px, in px beside the
    LR and boxes in µm: napari warned of inconsistent units (the scale bar lost its µm).
    They are switched off at once and, as the boxes, lie on the LR's SR grid."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size
    from napari_srmat.widgets.layers import add_super_resolution_result, sr_world_transform

    lr, sr = _feature_images(tmp_path)
    viewer = make_napari_viewer()
    lr_layer = viewer.add_image(lr, name="lr")
    if pixel_size_um is not None:
        set_layer_pixel_size(viewer, lr_layer, pixel_size_um)
    add_super_resolution_result(viewer, lr_layer, sr, 4, name="sr")
    w, _ = _shown_with_overlays(viewer, qtbot, tmp_path, lr, sr, ("lr", "sr"))
    overlays = list(w.overlay_layers.values())
    viewer.layers.remove("sr")
    assert not any(lay.visible for lay in overlays)
    assert "SR layer of this session was removed" in w.status.text()
    set_layer_pixel_size(viewer, lr_layer, 2.0)
    assert [str(u) for u in viewer.layers.units] == ["micrometer"] * 2
    scale, translate = sr_world_transform(lr_layer.scale, lr_layer.translate, 4)
    corner = np.array([48.0, 88.0])  # the crop around the candidate (32 px pad, LR px)
    for lay in overlays:
        np.testing.assert_allclose(lay.scale[-2:], scale, err_msg=lay.name)
        np.testing.assert_allclose(lay.translate[-2:],
                                   np.asarray(translate) + np.asarray(scale) * corner,
                                   err_msg=lay.name)


@pytest.mark.parametrize("change", ["rename", "remove"])
def test_a_layer_renamed_or_removed_while_a_session_loads(make_napari_viewer, qtbot, tmp_path,
                                                          change):
    """A loaded session was shown on the layers *named* as when Load began (its
    checksums are checked in the background): an SR layer renamed meanwhile was taken for
    removed (no blink, 'the LR or SR layer of this session was removed' for the overlay,
    the boxes read from the LR), and with both layers removed the status said 'session
    loaded' without the search's 'no LR or SR layer ... not drawn'. As a finished
    search: a renamed layer is still the session's, and a session without its layers
    says it is not drawn."""
    from napari_srmat.widgets.audit_widget import AuditWidget

    viewer = make_napari_viewer()
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    path = tmp_path / "s.json"
    AuditSession.create(lr, sr, [Candidate(id=1, bbox=[8, 8, 24, 24], score=9.0,
                                           kind="new_boundary",
                                           new_boundary_length_px=16.0)]).save(path)
    lr_layer = viewer.add_image(lr, name="lr")
    sr_layer = viewer.add_image(sr, name="sr", scale=(0.25, 0.25), translate=(-0.375, -0.375))
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    w.load_session(path)
    assert not w.run_btn.isEnabled()  # checking the layers
    if change == "rename":
        sr_layer.name = "sr (x4)"
    else:
        viewer.layers.remove(sr_layer)
        viewer.layers.remove(lr_layer)
    qtbot.waitUntil(lambda: w.session is not None, timeout=WORKER_WAIT_MS)
    _saved()
    # the load's end (Run stays disabled while no LR / SR layer is left to choose)
    qtbot.waitUntil(lambda: not w.cancel_btn.isEnabled(), timeout=WORKER_WAIT_MS)
    assert w.run_btn.isEnabled() == (change == "rename")
    if change == "rename":
        assert w.sr_layer is sr_layer and w.lr_up_layer is lr_layer
        w.toggle_blink()
        assert not sr_layer.visible
    else:
        assert w.sr_layer is None and w.lr_up_layer is None
        assert "session loaded" in w.status.text()
        assert "no LR or SR layer" in w.status.text()


@pytest.mark.parametrize("delete", ["one by one", "selection"])
def test_a_session_whose_images_are_all_removed_draws_nothing_over_the_next_image(
        make_napari_viewer, qtbot, tmp_path, delete):
    """The LR and SR layers of the session shown both removed (the images closed): its
    candidate boxes and boundary overlays stayed, over nothing, in the px of those
    images, so a calibrated image opened next lost its µm (napari warned of inconsistent
    units, viewer.layers.units None) until they were deleted by hand. As for a session
    shown without its images (f79d8e6), nothing of it is drawn: they are taken away, the
    status says why, and verdicts are still recorded. Also when they are deleted
    together with the images (Delete on a selection of every layer: napari removes them
    one after the other)."""
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size
    from napari_srmat.widgets.layers import add_super_resolution_result

    lr, sr = _feature_images(tmp_path)
    viewer = make_napari_viewer()
    lr_layer = viewer.add_image(lr, name="lr")  # no pixel size
    add_super_resolution_result(viewer, lr_layer, sr, 4, name="sr")
    w, _ = _shown_with_overlays(viewer, qtbot, tmp_path, lr, sr, ("lr", "sr"))
    if delete == "selection":
        viewer.layers.selection = set(viewer.layers)
        viewer.layers.remove_selected()
    else:
        viewer.layers.remove("sr")
        assert "audit candidates" in viewer.layers  # on the LR's SR grid while it is there
        viewer.layers.remove("lr")
    qtbot.waitUntil(lambda: w.boxes_layer is None, timeout=WORKER_WAIT_MS)
    assert [lay.name for lay in viewer.layers] == []
    assert "no LR or SR layer" in w.status.text()
    new = viewer.add_image(lr.copy(), name="next")
    set_layer_pixel_size(viewer, new, 0.5)
    assert [str(u) for u in viewer.layers.units] == ["micrometer"] * 2
    _press(viewer, "h")
    assert json.loads((tmp_path / "a.json").read_text())["decisions"]["1"]["verdict"] == (
        "hallucinated")


def test_a_session_csv_re_saved_by_excel_takes_the_next_verdict(make_napari_viewer, qtbot,
                                                                 tmp_path):
    """The session CSV re-saved by Excel (BOM, CRLF) refused every verdict of the widget
    ("... is not an audit session file written by napari-srmat"); the verdict is now
    recorded and the status says where the re-saved CSV is kept."""
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    log = path.with_suffix(".csv")
    log.write_bytes(b"\xef\xbb\xbf" + log.read_bytes().replace(b"\n", b"\r\n"))
    w.decide("real")
    _saved()
    assert AuditSession.load(path).decisions[1].verdict == "real"
    assert w.status.text() == (f"the CSV log audit.csv had been re-saved by another program "
                               f"(a spreadsheet?); it is kept as {w.session.kept_csv.name}")


def test_an_sr_layer_calibration_the_session_cannot_take_is_told_in_the_widget_s_words(
        make_napari_viewer, qtbot, tmp_path):
    """An SR layer calibrated to a pixel size no session takes (1e-6 µm: outside the range
    of check_pixel_size) was told in the status line as a Python caller's refusal:
    'pixel_size_um must be between 1e-05 and 100000 micrometres per pixel, got 1e-06', a
    keyword the widget's user has nowhere to give. It now names the SR layer, says what
    to do and that the session keeps its size; a verdict is refused with the same words
    (the audit widget tells every error with error_message(exc, gui=True))."""
    from napari_srmat.widgets._worker import user_action

    viewer = make_napari_viewer()
    w, _, sr_layer, cand, (lr, sr) = _calibrated_session(viewer, qtbot, tmp_path)
    path = tmp_path / "a.json"
    w.set_session(AuditSession.create(lr, sr, [cand], pixel_size_um=0.25), path)
    sr_layer.scale = (1e-6, 1e-6)
    told = w.status.text()
    assert told.startswith("the SR layer 'sr''s pixel size must be between 1e-05 and "
                           "100000 micrometres per pixel, got 1e-06")
    assert "the session keeps 0.25 µm" in told
    assert "pixel_size_um" not in told and "--" not in told and "=" not in told
    assert w.session.pixel_size_um == 0.25 and AuditSession.load(path).pixel_size_um == 0.25
    w.status.setText("")
    user_action(lambda: w._action("real"), w.status)()  # the 'real' button's slot
    assert w.status.text() == told and w.session.decisions == {}


@pytest.mark.parametrize("how", ["calibration", "layer scale and metadata"])
def test_an_sr_layer_calibrated_anew_gives_the_audit_its_new_pixel_size(
        make_napari_viewer, qtbot, tmp_path, how):
    """The session kept the SR pixel size of the search: calibrating the LR (its SR
    layer follows it) or the SR layer afterwards left the saved session, its summary and
    the report at the old size (reproduced: SR 0.25 -> 0.125 µm/px, pixel_size_um 0.25,
    hallucinated mm/mm² half of what the image shown measures). The session now follows
    the SR layer's calibration (audit_pixel_size_on_layer), saved at once."""
    from napari_srmat.audit import summarize, write_report
    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer = make_napari_viewer()
    w, lr_layer, sr_layer, cand, (lr, sr) = _calibrated_session(viewer, qtbot, tmp_path)
    path = tmp_path / "a.json"
    w.set_session(AuditSession.create(lr, sr, [cand], pixel_size_um=0.25), path)
    w.decide("hallucinated")
    _saved()
    assert AuditSession.load(path).pixel_size_um == 0.25
    if how == "calibration":
        set_layer_pixel_size(viewer, lr_layer, 0.5)
        assert w.status.text() == ("the session's pixel size is now 0.125 µm, that of the "
                                   "SR layer 'sr' (it was 0.25 µm)")
    else:  # the SR layer's own, as a script sets it
        sr_layer.metadata = {**sr_layer.metadata, "pixel_size_um": 0.125}
        sr_layer.scale = (0.125, 0.125)
    assert w.session.pixel_size_um == 0.125
    _saved()
    saved = AuditSession.load(path)
    assert saved.pixel_size_um == 0.125
    h, wd = sr.shape[:2]
    want = 16.0 * 0.125e-3 / (h * wd * (0.125e-3) ** 2)
    assert summarize(saved)["hallucinated_per_mm2"] == pytest.approx(want)
    write_report(saved, tmp_path / "r.md", thumbnails=False)
    assert "Pixel size: 0.125 µm" in (tmp_path / "r.md").read_text(encoding="utf-8")


def test_an_sr_layer_calibration_event_reads_the_layer_once(make_napari_viewer, qtbot,
                                                            tmp_path, monkeypatch):
    """Each calibration event of the session's SR layer read its metadata, scale and
    units five times on the GUI thread (the pixel size rule read them again for the size
    and for whether the pixels are square). It reads them once per event now
    (layer_pixel_sizes), and the session still follows the new size. (The scale set
    places its LR, kept both ways, whose new pixel size the SR layer then records: a
    second event, read once too; the LR is read twice, for that record and for its own
    record of its new size, keep_own_records: its translate set reads nothing.)"""
    import napari_srmat._napari_io as io_mod
    from napari_srmat.widgets.layers import follow_calibration

    viewer = make_napari_viewer()
    w, lr_layer, sr_layer, cand, (lr, sr) = _calibrated_session(viewer, qtbot, tmp_path)
    w.set_session(AuditSession.create(lr, sr, [cand], pixel_size_um=0.25), tmp_path / "a.json")
    reads: list = []
    parts = io_mod._layer_scale_parts
    monkeypatch.setattr(io_mod, "_layer_scale_parts",
                        lambda lay: reads.append(lay) or parts(lay))
    events: list = []
    follow_calibration(sr_layer, events.append, True)
    sr_layer.scale = (0.125, 0.125)
    assert [lay is sr_layer for lay in reads].count(True) == len(events) == 2, (reads, events)
    assert [lay is lr_layer for lay in reads].count(True) == 2, reads
    assert lr_layer.metadata["pixel_size_um"] == pytest.approx(0.5)  # recorded as shown
    assert w.session.pixel_size_um == 0.125


@pytest.mark.parametrize("sr_shape, words", [
    ((72, 70), "the SR layer must be the LR layer enlarged by one integer factor"),
    ((16, 16), "the SR layer is smaller than the LR layer: are they swapped? (the LR layer "
               "= the low-resolution input, the SR layer = its super-resolved version)")])
def test_an_lr_and_sr_of_no_integer_scale_are_named_as_the_widget_labels_them(
        make_napari_viewer, qtbot, tmp_path, sr_shape, words):
    """Find candidates on an SR layer that is no integer enlargement of the LR layer (or
    the two swapped) failed with the detector's Python words: 'cannot infer an integer
    scale from lr (32, 32) and sr (72, 70); sr must be lr enlarged ...', arguments the
    widget's user never sees. It names the layer lists as the widget labels them now
    (audit.detector LR_IMAGE / SR_IMAGE, told with error_message(gui=True))."""
    from qtpy.QtWidgets import QFormLayout

    from napari_srmat.widgets._worker import user_action
    from napari_srmat.widgets.audit_widget import AuditWidget

    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    viewer.add_image(rng.random((32, 32)).astype(np.float32), name="low")
    viewer.add_image(rng.random(sr_shape).astype(np.float32), name="high")
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("low")
    w.sr_combo.setCurrentText("high")
    w.session_path_edit.setText(str(tmp_path / "a.json"))
    user_action(w.find_candidates, w.status)()  # the Find candidates button's slot
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    _saved()
    [form] = w.findChildren(QFormLayout)
    labels = [form.labelForField(combo).text() for combo in (w.lr_combo, w.sr_combo)]
    assert w.status.text() == (
        f"failed: cannot infer an integer scale from the {labels[0]} (32, 32) and the "
        f"{labels[1]} {sr_shape}; {words}" + ("" if sr_shape[0] < 32 else
                                              " on both axes: crop or resize one of them"))
    assert "lr (" not in w.status.text() and "sr must" not in w.status.text()
    assert not (tmp_path / "a.json").exists()


def test_a_bad_sr_layer_calibration_refuses_the_search_before_it_runs(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """An SR layer calibrated to a pixel size no session takes (scale 1e-6 µm) let the
    candidate search run to its end, then failed making the session: 'failed:
    pixel_size_um must be between 1e-05 and 100000 micrometres per pixel, got 1e-06' (a
    keyword the widget's user has nowhere to give; no session, the search's minutes
    lost). It is now refused before the search, naming the layer and what to do. A
    verdict refused for it says that nothing is recorded until the layer is calibrated
    anew; calibrating it records the next one (no verdict is lost, none is stuck)."""
    import napari_srmat.widgets._worker as worker_mod
    from napari_srmat.audit import detector

    shown: list = []
    monkeypatch.setattr(worker_mod, "show_error", shown.append)
    searched: list = []

    def found(*args, stop=None, **kwargs):
        searched.append(1)
        return []
        yield

    monkeypatch.setattr(detector, "find_candidates_job", found)
    viewer = make_napari_viewer()
    w, _, sr_layer, cand, (lr, sr) = _calibrated_session(viewer, qtbot, tmp_path)
    w.session_path_edit.setText(str(tmp_path / "b.json"))
    sr_layer.scale = (1e-6, 1e-6)
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    _saved()
    told = ("the SR layer 'sr''s pixel size must be between 1e-05 and 100000 micrometres "
            "per pixel, got 1e-06: calibrate it anew (Calibration); no search was started")
    assert w.status.text() == told and shown == [f"napari-srmat: {told}"]
    assert searched == [] and w.session is None and not (tmp_path / "b.json").exists()
    # a session shown: its verdicts are refused, saying so, until the layer is calibrated
    path = tmp_path / "a.json"
    sr_layer.scale = (0.25, 0.25)
    w.set_session(AuditSession.create(lr, sr, [cand], pixel_size_um=0.25), path)
    sr_layer.scale = (1e-6, 1e-6)
    refused = w.status.text()
    assert refused.endswith("calibrate it anew (Calibration); until then the session keeps "
                            "0.25 µm and records no verdict or region")
    w.note_edit.setText("twin")
    worker_mod.user_action(lambda: w._action("real"), w.status)()  # the button's slot
    assert w.status.text() == refused and w.session.decisions == {}
    assert w.note_edit.text() == "twin"  # kept for the verdict once it can be recorded
    sr_layer.scale = (0.125, 0.125)
    worker_mod.user_action(lambda: w._action("real"), w.status)()
    _saved()
    saved = AuditSession.load(path)
    assert saved.decisions[1].verdict == "real" and saved.decisions[1].note == "twin"
    assert saved.pixel_size_um == 0.125


def test_load_session_waits_for_two_image_layers(make_napari_viewer, qtbot):
    """*Load session…* was enabled with fewer than two image layers open and refused on
    the click ("choose them as the LR and SR layers first"), unlike *Find candidates*
    beside it. It now waits as Find candidates does: disabled, its tooltip naming the
    missing layer, enabled with two image layers open and disabled again when one goes."""
    from napari_srmat.widgets.audit_widget import NEEDS_LR, NEEDS_SR, AuditWidget

    viewer = make_napari_viewer()
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    assert not w.load_btn.isEnabled()
    assert NEEDS_LR in w.load_btn.toolTip() and NEEDS_SR in w.load_btn.toolTip()
    viewer.add_image(np.zeros((32, 32), np.uint8), name="lr")
    assert not w.load_btn.isEnabled()
    assert NEEDS_SR in w.load_btn.toolTip() and NEEDS_LR not in w.load_btn.toolTip()
    sr = viewer.add_image(np.zeros((128, 128), np.uint8), name="sr")
    assert w.load_btn.isEnabled() and w.run_btn.isEnabled()
    assert not w.load_btn.toolTip().startswith("needs ")
    viewer.layers.remove(sr)
    assert not w.load_btn.isEnabled() and NEEDS_SR in w.load_btn.toolTip()


def test_a_search_saves_its_session_off_the_gui_thread(make_napari_viewer, qtbot, tmp_path,
                                                       monkeypatch):
    """The search's finish handler saved the new session (JSON, CSV, backups) on the GUI
    thread: it is now saved in the search's worker, atomically as before, and the handler
    only shows it; a reviewer typed while the search ran is saved with it (then on the
    GUI thread, after the worker's save); saves of one file from two threads are ordered
    (AuditSession.save's lock)."""
    import napari_srmat.audit.session as session_mod
    from napari_srmat.widgets.audit_widget import AuditWidget

    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    sr = np.kron(lr, np.ones((4, 4), np.uint8))
    viewer = make_napari_viewer()
    viewer.add_image(lr, name="lr")
    viewer.add_image(sr, name="sr")
    cands = [Candidate(id=1, bbox=[10, 20, 30, 40], score=9.0, kind="new_boundary",
                       new_boundary_length_px=12.0)]
    _search_finds(monkeypatch, cands)
    writes = _record_threads(monkeypatch, session_mod, "atomic_write_text")
    w = AuditWidget(viewer)
    qtbot.addWidget(w)
    w.lr_combo.setCurrentText("lr")
    w.sr_combo.setCurrentText("sr")
    w.reviewer_edit.setText("cara")
    path = tmp_path / "audit.json"
    w.session_path_edit.setText(str(path))
    w.find_candidates()
    qtbot.waitUntil(lambda: w.session is not None, timeout=WORKER_WAIT_MS)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    _saved()
    assert writes == [False, False], writes  # the JSON and the CSV, in the worker
    assert w.status.text().startswith(f"1 candidate to review; session saved to {path}")
    saved = AuditSession.load(path)
    assert saved.reviewer == "cara" and len(saved.candidates) == 1
    assert w.session.path == path
    # the next decision saves over the worker's file: it is the session's own
    _press(viewer, "h")
    assert AuditSession.load(path).decisions.keys() == {1}
    assert "changed by another program" not in w.status.text()


def test_saves_of_one_session_file_are_ordered(tmp_path, monkeypatch):
    """Two threads saving to one file: the second waits for the first's check and write
    (AuditSession.save's lock), so its check sees the first's file whole."""
    import threading
    import time

    import napari_srmat.audit.session as session_mod

    lr = np.zeros((8, 8), np.uint8)
    sr = np.zeros((32, 32), np.uint8)
    path = tmp_path / "audit.json"
    inside, overlap = [0], []
    real = session_mod.atomic_write_text

    def slow(*args, **kwargs):
        inside[0] += 1
        overlap.append(inside[0])
        time.sleep(0.05)
        try:
            return real(*args, **kwargs)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(session_mod, "atomic_write_text", slow)
    sessions = [AuditSession.create(lr, sr, []) for _ in range(2)]
    threads = [threading.Thread(target=s.save, args=(path,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(overlap) == 1  # never two writes of the file at once


@pytest.mark.parametrize("own_file", [True, False], ids=["own file", "no file"])
def test_a_decision_made_as_the_search_ends_is_kept_with_its_session(
        make_napari_viewer, qtbot, tmp_path, monkeypatch, own_file):
    """A decision made on the session shown after the search's worker had saved the new
    session to the same file, before the new session was shown (the search's result
    still in the event queue): on a session with that file of its own it was refused as
    'changed by another program' and lost (only told). The new session is now saved by
    the widget's save queue when it is shown, after the saves asked for before: the
    decision goes to its session's file first, and that reviewed session is kept as the
    new one replaces it. (No file of its own: its first save went there; kept too.)"""
    from qtpy.QtCore import QThreadPool

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)  # three candidates, saved at path
    older = w.session
    if not own_file:
        path.unlink()
        path.with_suffix(".csv").unlink()
        older.path = older._file_digest = None
    found = [Candidate(id=7, bbox=[1, 2, 11, 12], score=9.0, kind="new_boundary",
                       new_boundary_length_px=1.0)]
    _search_finds(monkeypatch, found)
    w.session_path_edit.setText(str(path))
    w.find_candidates()
    # the GUI thread blocked until the search's worker is done: its result waits in
    # the event queue, the older session still shown
    assert QThreadPool.globalInstance().waitForDone(30_000)
    assert w.session is older
    w.decide("real")  # on the older session, in that gap
    qtbot.waitUntil(lambda: w.session is not older, timeout=WORKER_WAIT_MS)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    _saved()
    assert "changed by another program" not in w.status.text(), w.status.text()
    on_file = AuditSession.load(path)
    assert [c.id for c in on_file.candidates] == [7] and not on_file.decisions
    assert w.session.kept_replaced is not None, w.status.text()
    kept = AuditSession.load(w.session.kept_replaced)
    assert len(kept.candidates) == 3 and kept.decisions[1].verdict == "real"
    assert "kept as" in w.status.text(), w.status.text()
    w.decide("hallucinated")  # the new session's own file: not changed by another
    _saved()
    assert AuditSession.load(path).decisions.keys() == {7}
    assert "changed by another program" not in w.status.text()


def test_decisions_and_a_reviewer_typed_during_the_search_are_saved_off_the_gui_thread(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """A decision's key, an added or removed region and a reviewer name typed while the
    search ran saved the session file (JSON, CSV, backups) on the GUI thread, tens of ms
    a key and seconds on a slow disk. They are now saved in a worker, one save at a time
    in the order asked for: keys pressed faster than the saves are all on file, the last
    save holding them all."""
    import threading

    import napari_srmat.audit.session as session_mod
    from napari_srmat.audit import detector

    viewer, w, path, cands = _searching_widget(make_napari_viewer, qtbot, tmp_path)
    go = threading.Event()

    def found(*args, stop=None, **kwargs):  # the search runs until the name is typed
        assert go.wait(30)
        return cands
        yield

    monkeypatch.setattr(detector, "find_candidates_job", found)
    writes = _record_threads(monkeypatch, session_mod, "atomic_write_text")
    w.find_candidates()
    w.reviewer_edit.setText("bob")  # typed while the search runs
    go.set()
    _search_ended(w, qtbot)
    assert AuditSession.load(path).reviewer == "bob"
    from app_model.types import KeyBinding

    for key in "hru":  # pressed without waiting for the saves
        viewer.keymap[KeyBinding.from_str(key.upper())](viewer)
    _saved()
    viewer.add_shapes([np.array([[5, 6], [15, 26]]) * 0.25], shape_type="rectangle")
    w.add_region_btn.click()
    w.remove_region_btn.click()
    _saved()
    on_file = AuditSession.load(path)
    assert {k: d.verdict for k, d in on_file.decisions.items()} == {
        1: "hallucinated", 2: "real", 3: "unsure"}
    assert {d.reviewer for d in on_file.decisions.values()} == {"bob"}
    assert [e["action"] for e in on_file.log][-2:] == ["add_region", "remove_region"]
    assert "changed by another program" not in w.status.text()
    assert writes and not any(writes), writes  # none on the GUI thread


def test_the_boxes_data_of_a_search_or_a_load_is_built_in_its_worker(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """The finish slot built the candidate boxes' corners on the GUI thread (a list of
    arrays, one per candidate); a search's or a load's worker now builds them
    (box_corners) with the session, and the slot only draws them."""
    import napari_srmat.widgets.audit_widget as aw

    viewer, w, path, cands = _searching_widget(make_napari_viewer, qtbot, tmp_path)
    _search_finds(monkeypatch, cands)
    built = _record_threads(monkeypatch, aw, "box_corners")
    w.find_candidates()
    _search_ended(w, qtbot)

    def drawn():  # the outer corners of each box drawn
        return [[np.min(b, 0).tolist(), np.max(b, 0).tolist()] for b in w.boxes_layer.data]

    searched = drawn()
    assert searched == [aw.bbox_corners(c.bbox).tolist() for c in cands]
    _load(w, qtbot, path)
    assert drawn() == searched
    assert built == [False, False], built  # the search's and the load's workers


def test_candidate_boxes_join_a_calibrated_viewer_in_its_units(make_napari_viewer, qtbot,
                                                                 tmp_path):
    """The candidate boxes layer was added without units and given the SR layer's just
    after: napari saw a layer in px among layers in µm at its insertion and warned
    "Inconsistent units across layers" (a notification at every search and session
    load). The boxes join the viewer in the SR layer's units. Failed before."""
    viewer = make_napari_viewer()
    lr = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    viewer.add_image(lr, name="lr", scale=(2.0, 2.0), units="um")
    viewer.add_image(np.kron(lr, np.ones((4, 4), np.uint8)), name="sr", scale=(0.5, 0.5),
                     units="um")
    inserted = []
    viewer.layers.events.inserted.connect(
        lambda e: inserted.append((e.value.name, tuple(str(u) for u in e.value.units))))
    w = _lr_sr_widget(viewer, qtbot, tmp_path / "audit.json")
    cands = [Candidate(id=1, bbox=[10, 20, 30, 40], score=50.0, kind="new_boundary",
                       new_boundary_length_px=12.0)]
    w.set_session(AuditSession.create(lr, viewer.layers["sr"].data, cands,
                                      pixel_size_um=0.5), tmp_path / "audit.json")
    _saved()
    assert inserted == [("audit candidates", ("micrometer", "micrometer"))]


def test_saves_queued_behind_a_running_one_are_made_when_napari_quits(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """A queue starts its next save from the GUI thread once the one before has ended:
    when napari quit (its event loop ended) while a save ran, the saves queued behind it
    (keys pressed faster than the saves) were never made, and those decisions were lost
    untold. The application's aboutToQuit now makes them (finish_saves)."""
    import threading

    from app_model.types import KeyBinding
    from qtpy.QtCore import QThreadPool
    from qtpy.QtWidgets import QApplication

    import napari_srmat.audit.session as session_mod

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    gate, real = threading.Event(), session_mod.atomic_write_text

    def held(*args, **kwargs):  # the first save runs until the user quits
        assert gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(session_mod, "atomic_write_text", held)
    for key in "rh":  # "r" saved by a running save, "h" queued behind it
        viewer.keymap[KeyBinding.from_str(key.upper())](viewer)
    gate.set()
    QApplication.instance().aboutToQuit.emit()  # napari quits: no event loop after it
    assert QThreadPool.globalInstance().waitForDone(30_000)
    on_file = AuditSession.load(path)
    assert {k: d.verdict for k, d in on_file.decisions.items()} == {
        1: "real", 2: "hallucinated"}


def test_a_save_failed_at_napari_quit_says_what_to_do_in_napari_not_the_cli(
        make_napari_viewer, qtbot, tmp_path, monkeypatch, capfd):
    """A save that failed as napari quit (a full disk) was told on stderr in the CLI's
    words, "free space and rerun the same command to resume": a napari user has no
    command, and napari is gone. The line says the verdicts since the session's last save
    are not on file and how to give them again (Load session…). Failed before."""
    import errno
    import threading

    from app_model.types import KeyBinding
    from qtpy.QtCore import QThreadPool
    from qtpy.QtWidgets import QApplication

    import napari_srmat.audit.session as session_mod

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    gate = threading.Event()

    def full(*args, **kwargs):  # the save runs until the user quits, then the disk is full
        assert gate.wait(30)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(session_mod, "atomic_write_text", full)
    viewer.keymap[KeyBinding.from_str("R")](viewer)
    capfd.readouterr()
    gate.set()
    QApplication.instance().aboutToQuit.emit()  # napari quits: no event loop after it
    assert QThreadPool.globalInstance().waitForDone(30_000)
    err = capfd.readouterr().err
    [line] = [ln for ln in err.splitlines() if "as napari quit" in ln]
    assert "no space left on device" in line and "rerun the same command" not in line
    assert "Load session" in line, line
    assert AuditSession.load(path).decisions == {}  # nothing recorded: said, not lost


def test_saves_queued_behind_a_running_one_are_made_when_its_viewer_window_closes(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """Closing a viewer window quits its workers (napari cancels its task list): the
    running save's worker wrote the file but sent no result, so its queue stayed busy
    and the saves queued behind it (keys pressed faster than the saves) were never
    started while the application ran (a notebook closing one of its viewers). The
    worker's ``finished`` now ends the save from its outcome and the next one starts."""
    import threading

    from app_model.types import KeyBinding

    import napari_srmat.audit.session as session_mod

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    gate, real = threading.Event(), session_mod.atomic_write_text

    def held(*args, **kwargs):  # the first save runs until the window is closed
        assert gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(session_mod, "atomic_write_text", held)
    for key in "rh":  # "r" saved by a running save, "h" queued behind it
        viewer.keymap[KeyBinding.from_str(key.upper())](viewer)
    viewer.window._qt_window._window._task_status_manager.cancel_all()  # as a close does
    gate.set()
    _saved()
    on_file = AuditSession.load(path)
    assert {k: d.verdict for k, d in on_file.decisions.items()} == {
        1: "real", 2: "hallucinated"}


def test_the_session_file_a_search_would_replace_is_not_loaded_on_the_gui_thread(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """A search's start (and a fileless session's first decision) looked at the session
    file it would replace by loading it on the GUI thread: AuditSession.load checks every
    candidate and decision (0.4-0.9 s for 5000 candidates, one-off). Its decisions and
    added regions are now counted in its JSON (review_counts, the rule by which a save
    keeps it); the question still names them."""
    import napari_srmat.audit.session as session_mod

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "r")
    loads = []
    real = session_mod.AuditSession.load.__func__

    def load(cls, *args, **kwargs):
        loads.append(args)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(session_mod.AuditSession, "load", classmethod(load))
    asked = []
    w.ask = lambda title, text: asked.append(text) or False
    w.session_path_edit.setText(str(path))
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)  # its look
    assert w.worker is None and "1 decisions, 0 added regions" in asked[-1]
    assert loads == []


def test_a_session_file_gone_or_unreadable_after_its_look_is_told_not_raised(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """The session file a new session would replace was looked at (exists) and then read
    (review_counts): removed in between, the read raised FileNotFoundError, unreadable an
    OSError, out of Run as a traceback. Removed, it is now no file (nothing to replace);
    unreadable, one line on the status line and no search."""
    import napari_srmat.audit.session as session_mod
    from napari_srmat.widgets.audit_widget import _look_at_session_file

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "r")
    _saved()
    real, raw = session_mod.review_counts, path.read_bytes()

    def gone(p):
        Path(p).unlink()
        return real(p)

    monkeypatch.setattr(session_mod, "review_counts", gone)
    assert _look_at_session_file(path) == (None, None)  # nothing to replace
    path.write_bytes(raw)

    def unreadable(p):
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(session_mod, "review_counts", unreadable)
    w.session_path_edit.setText(str(path))
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)  # its look
    assert w.worker is None
    assert w.status.text().startswith(f"session file {str(path)!r} cannot be read: ")
    assert "\n" not in w.status.text()


def test_a_new_sessions_boxes_replace_the_previous_ones_in_the_same_layer(
        make_napari_viewer, qtbot, tmp_path):
    """Each session shown removed the previous session's boxes layer and made a new one
    (napari's removal and creation: 0.36-0.39 s for 500 boxes, one-off); the boxes layer
    now takes the new session's boxes and colours. A session with no box empties it."""
    import napari_srmat.widgets.audit_widget as aw

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "r")
    first = w.boxes_layer
    lr, sr = (viewer.layers[n].data for n in ("lr", "sr"))
    cands = [Candidate(id=i + 1, bbox=[2 + 20 * i, 4, 12 + 20 * i, 14], score=1.0,
                       kind="new_boundary", new_boundary_length_px=1.0) for i in range(2)]
    w.set_session(AuditSession.create(lr, sr, cands), tmp_path / "b.json", save=False)
    assert w.boxes_layer is first and first in viewer.layers
    assert len(viewer.layers) == 3  # lr, sr, the boxes
    drawn = [[np.min(b, 0).tolist(), np.max(b, 0).tolist()] for b in first.data]
    assert drawn == [aw.bbox_corners(c.bbox).tolist() for c in cands]
    np.testing.assert_allclose(first.edge_color[:, :3],
                               [[1.0, 0.0, 1.0]] * 2)  # none decided: magenta
    w.set_session(AuditSession.create(lr, sr, []), tmp_path / "c.json", save=False)
    assert w.boxes_layer is first and len(first.data) == 0


@pytest.mark.parametrize("then", ["typed", "decided"])
def test_a_note_typed_while_a_save_that_fails_runs_is_kept(make_napari_viewer, qtbot,
                                                           tmp_path, then):
    """A failed save put the note field back to what it held before the save's first
    change: when that change was a new pixel size (the SR layer calibrated anew), which
    records no note, the note the reviewer typed after it (and the verdict given with
    it, put back by the failure) was wiped. The field now keeps the note of the first
    change put back that recorded one, and otherwise what the reviewer typed."""
    from app_model.types import KeyBinding

    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer = make_napari_viewer()
    w, lr_layer, _sr_layer, cand, (lr, sr) = _calibrated_session(viewer, qtbot, tmp_path)
    path = tmp_path / "a.json"
    w.set_session(AuditSession.create(lr, sr, [cand], pixel_size_um=0.25), path)
    _saved()
    bak = tmp_path / "a.json.bak"  # a folder where a save keeps the previous JSON
    bak.mkdir()
    (bak / "x").write_text("")
    set_layer_pixel_size(viewer, lr_layer, 0.5)  # the session's new size: its save fails
    w.note_edit.setText("twin")  # typed while that save runs
    if then == "decided":
        viewer.keymap[KeyBinding.from_str("R")](viewer)
    _saved()
    assert "was not saved" in w.status.text()
    assert w.session.decisions == {} and w.session.pixel_size_um == 0.25
    assert w.note_edit.text() == "twin"


def test_a_session_shown_with_its_file_is_saved_in_a_worker(make_napari_viewer, qtbot,
                                                            tmp_path, monkeypatch):
    """set_session(session, path) saved the session on the GUI thread (tens of ms, seconds
    on a slow disk), the one save of the widget not made by its save queue. It is now
    queued as the others: on file once the saves end, a verdict given before that saved
    after it; a save that fails is told in one line and the session shown before is
    shown again (a session not saved is not shown, nor judged)."""
    import threading

    import napari.utils.notifications as notifications
    from app_model.types import KeyBinding

    import napari_srmat.audit.session as session_mod

    shown = []
    monkeypatch.setattr(notifications, "show_error", shown.append)
    viewer = make_napari_viewer()
    w, _path = _session_widget(viewer, qtbot, tmp_path)
    _saved()
    on_gui_thread, real = [], session_mod.atomic_write_text

    def write(*args, **kwargs):
        on_gui_thread.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(session_mod, "atomic_write_text", write)
    images = (viewer.layers["lr"].data, viewer.layers["sr"].data)
    new, b = AuditSession.create(*images, w.session.candidates), tmp_path / "b.json"
    w.set_session(new, b)
    viewer.keymap[KeyBinding.from_str("R")](viewer)  # before its save has ended
    _saved()
    assert on_gui_thread and not any(on_gui_thread)
    assert new.path == b and w.session_path_edit.text() == str(b)
    assert {k: d.verdict for k, d in AuditSession.load(b).decisions.items()} == {1: "real"}
    # a file of the user's where the save keeps the previous one: refused in the worker
    c = tmp_path / "c.json"
    (tmp_path / "c.json.bak").write_text("my own notes\n")
    w.set_session(AuditSession.create(*images, w.session.candidates), c)
    _saved()
    assert w.session is new and w.session_path_edit.text() == str(b)
    assert w.status.text().startswith(f"the session could not be saved to {c}: ")
    assert "c.json.bak exists and is not an audit session file" in shown[-1]
    assert not c.exists()


def test_a_session_shown_again_after_a_failed_save_stays_on_its_candidate(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """A session shown by set_session whose save failed showed the session shown before
    it again, then put the failed session's review back on screen over it: the earlier
    session moved to the failed one's candidate and its note field was rewritten. The
    earlier session now stays on its own candidate, with its own note."""
    import napari.utils.notifications as notifications
    from app_model.types import KeyBinding

    monkeypatch.setattr(notifications, "show_error", lambda message: None)
    viewer = make_napari_viewer()
    w, _path = _session_widget(viewer, qtbot, tmp_path)
    before = w.session
    w.note_edit.setText("twin")
    viewer.keymap[KeyBinding.from_str("R")](viewer)  # candidate 1: real, "twin"
    w.go_to(2)
    _saved()
    images = (viewer.layers["lr"].data, viewer.layers["sr"].data)
    c = tmp_path / "c.json"
    (tmp_path / "c.json.bak").write_text("my own notes\n")  # refused in the worker
    w.set_session(AuditSession.create(*images, before.candidates), c)
    _saved()
    assert w.session is before
    assert before.position == 2 and w.queue.currentRow() == 2
    assert before.decisions[1].note == "twin"
    assert w.note_edit.text() == ""  # candidate 3's own note (none), not candidate 1's


def _session_file_reads(monkeypatch) -> list[tuple[str, bool]]:
    """Record the reads of the session files a new session would replace: ``(function,
    on the GUI thread)`` for each call of ``is_audit_session_file``, ``review_counts``
    and ``replaced_session_path``, appended to the list returned."""
    import threading

    import napari_srmat.audit.session as session_mod

    reads = []

    def spied(name):
        real = getattr(session_mod, name)

        def spy(*args, **kwargs):
            reads.append((name, threading.current_thread() is threading.main_thread()))
            return real(*args, **kwargs)

        return spy

    for name in ("is_audit_session_file", "review_counts", "replaced_session_path"):
        monkeypatch.setattr(session_mod, name, spied(name))
    return reads


def test_a_search_reads_the_session_file_it_would_replace_in_a_worker(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """A search's start read the files a new session would replace on the GUI thread:
    whether the JSON and its .bak are napari-srmat's (two JSON parses), the decisions it
    holds (a third), the name its copy is kept under (a fourth): 100-150 ms for 5000
    candidates. They are now read in a worker before the search starts; the question
    (asked on the GUI thread) and a "no" are as before."""
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "r")  # a reviewed session, and a .bak beside it
    reads = _session_file_reads(monkeypatch)
    asked = []
    w.ask = lambda title, text: asked.append(text) or False
    w.run_btn.click()
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    assert "1 decisions, 0 added regions" in asked[-1] and w.worker is None
    assert w.status.text().startswith("not started")
    assert {name for name, _ in reads} == {"is_audit_session_file", "review_counts",
                                          "replaced_session_path"}
    assert not any(on_gui_thread for _, on_gui_thread in reads)


def test_a_failed_pixel_size_save_does_not_move_another_candidates_note(
        make_napari_viewer, qtbot, tmp_path):
    """A failed save of a new pixel size kept whatever the note field showed when the
    failure came, then went back to the candidate the review was on: a note shown from
    another candidate's record (the reviewer had moved back to it) landed in the field
    of the candidate gone back to, and its next verdict recorded it. The field now keeps
    the text only on the candidate it was on; otherwise it shows that candidate's own
    note (reviewers' scenario, review 4)."""
    from app_model.types import KeyBinding

    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer = make_napari_viewer()
    w, lr_layer, _sr_layer, cand, (lr, sr) = _calibrated_session(viewer, qtbot, tmp_path)
    other = Candidate(id=2, bbox=[40, 40, 56, 56], score=5.0, kind="new_boundary",
                      new_boundary_length_px=16.0)
    path = tmp_path / "a.json"
    w.set_session(AuditSession.create(lr, sr, [cand, other], pixel_size_um=0.25), path)
    _saved()
    w.go_to(0)
    w.note_edit.setText("crack")
    viewer.keymap[KeyBinding.from_str("R")](viewer)  # candidate 0 decided, note "crack"
    _saved()
    assert w.session.position == 1 and w.note_edit.text() == ""
    bak = tmp_path / "a.json.bak"  # a folder where a save keeps the previous JSON
    if bak.exists():
        bak.unlink()
    bak.mkdir()
    (bak / "x").write_text("")
    set_layer_pixel_size(viewer, lr_layer, 0.5)  # its save fails
    w.previous()  # the reviewer looks back at candidate 0: the field shows its note
    assert w.note_edit.text() == "crack"
    _saved()
    assert "was not saved" in w.status.text()
    assert w.session.position == 1
    assert w.note_edit.text() == ""
    (bak / "x").unlink()
    bak.rmdir()
    viewer.keymap[KeyBinding.from_str("H")](viewer)  # candidate 1's verdict: no note
    _saved()
    assert w.session.decisions[other.id].note == ""
    assert w.session.decisions[cand.id].note == "crack"


@pytest.mark.parametrize("shown_before", [True, False])
def test_a_failed_save_of_a_session_to_another_file_puts_its_file_and_review_back(
        make_napari_viewer, qtbot, tmp_path, shown_before):
    """set_session(s, b) of a session with its own file a.json, whose save to b.json
    failed: the session's file went back to a.json but the path box kept b.json (another
    panel, which checks the path boxes, could open a.json too), and a verdict given
    before the failure stayed in memory, saved nowhere. The path box now shows a.json
    again and the verdict is put back, its note in the field for the retry, as by any
    failed save; the status line (one line) says the verdict was put back."""
    from app_model.types import KeyBinding

    viewer = make_napari_viewer()
    w, a = _session_widget(viewer, qtbot, tmp_path)
    s = w.session
    if not shown_before:  # a panel with no session shown: nothing to go back to
        from napari_srmat.widgets.audit_widget import AuditWidget

        w = AuditWidget(viewer)
        qtbot.addWidget(w)
        w.lr_combo.setCurrentText("lr")
        w.sr_combo.setCurrentText("sr")
    b = tmp_path / "b.json"
    (tmp_path / "b.json.bak").write_text("my own notes\n")  # the save to b is refused
    w.set_session(s, b)
    w.note_edit.setText("twin")
    viewer.keymap[KeyBinding.from_str("R")](viewer)  # before its save has ended
    _saved()
    assert w.status.text().startswith(f"the session could not be saved to {b}: ")
    assert w.status.text().endswith("; the 1 verdict(s) or change(s) made on it since "
                                    "were put back (not recorded)")
    assert "\n" not in w.status.text()
    assert not b.exists()
    assert w.session is s and Path(s.path) == a and w.session_path_edit.text() == str(a)
    assert s.decisions == {} and AuditSession.load(a).decisions == {}
    assert s.position == 0 and w.queue.currentRow() == 0 and w.note_edit.text() == "twin"


def test_a_load_during_the_session_file_look_says_what_is_happening(make_napari_viewer,
                                                                     qtbot, tmp_path):
    """Load session… while Find candidates read the session file it would replace (in a
    worker, before the search starts) was refused as "a candidate search is running;
    stop it first": no search ran, and Stop was not what to do. It now says the file is
    being read before the search starts."""
    from napari_srmat.widgets.layers import WidgetInputError

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "r")  # a reviewed session: the click looks at its file first
    _saved()
    w.ask = lambda title, text: False  # not replaced: no search
    w.run_btn.click()
    assert w.worker is None and w.status.text() == f"looking at {path.name}…"
    with pytest.raises(WidgetInputError, match="being read before the search starts; "
                                               "wait for it to end"):
        w.load_session(path)
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    assert w.worker is None


def test_a_record_with_the_same_pixel_size_copies_no_session_for_it(make_napari_viewer,
                                                                     qtbot, tmp_path,
                                                                     monkeypatch):
    """Each verdict reads the SR layer's pixel size first (_recalibrate), which took a
    copy of the whole session (the review a failed save of a new size puts back) even
    when the size had not changed: one more copy per decision. It is now taken only when
    the size changes; a new size's failed save still puts the previous one back."""
    import sys

    from app_model.types import KeyBinding

    from napari_srmat.widgets.calibration_widget import set_layer_pixel_size

    viewer = make_napari_viewer()
    w, lr_layer, _sr_layer, cand, (lr, sr) = _calibrated_session(viewer, qtbot, tmp_path)
    path = tmp_path / "a.json"
    w.set_session(AuditSession.create(lr, sr, [cand], pixel_size_um=0.25), path)
    _saved()
    copies, real = [], AuditSession.snapshot

    def snapshot(self):
        copies.append(sys._getframe(1).f_code.co_name)
        return real(self)

    monkeypatch.setattr(AuditSession, "snapshot", snapshot)
    viewer.keymap[KeyBinding.from_str("R")](viewer)  # the size unchanged
    _saved()
    assert copies and "_recalibrate" not in copies
    bak = tmp_path / "a.json.bak"  # a folder where a save keeps the previous JSON
    if bak.exists():
        bak.unlink()
    bak.mkdir()
    (bak / "x").write_text("")
    set_layer_pixel_size(viewer, lr_layer, 0.5)  # a new size: its save fails
    _saved()
    assert "_recalibrate" in copies and "was not saved" in w.status.text()
    assert w.session.pixel_size_um == 0.25



def test_a_fileless_sessions_first_decision_reads_the_file_it_would_replace_in_a_worker(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """The first decision of a session shown without a file read the files its save
    would replace on the GUI thread (whether the JSON and its .bak are napari-srmat's,
    the decisions it holds, the name its copy is kept under). Its save's worker now
    looks first; the question is asked on the GUI thread, a "no" puts the decision back
    and the next decision asks again, a "yes" saves it (the reviewed session kept)."""
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "r")  # a reviewed session at the path box's file
    lr, sr = viewer.layers["lr"].data, viewer.layers["sr"].data
    fresh = AuditSession.create(lr, sr, [Candidate(id=1, bbox=[0, 0, 8, 8], score=1.0,
                                                   kind="new_boundary",
                                                   new_boundary_length_px=8.0)])
    w.set_session(fresh)
    assert fresh.path is None and w.session_path() == path
    reads = _session_file_reads(monkeypatch)
    asked = []
    w.ask = lambda title, text: asked.append(text) or False
    _press(viewer, "h")
    assert "This session replaces" in asked[-1] and "1 decisions" in asked[-1]
    assert w.status.text().startswith("decision not recorded: ")
    assert not fresh.decisions and fresh.path is None and _decisions(path) == 1
    assert {"is_audit_session_file", "review_counts"} <= {name for name, _ in reads}
    assert not any(on_gui_thread for _, on_gui_thread in reads)
    reads.clear()
    w.ask = lambda title, text: asked.append(text) or True
    _press(viewer, "h")
    assert len(asked) == 2 and fresh.path == path
    assert json.loads(path.read_text())["decisions"]["1"]["verdict"] == "hallucinated"
    assert fresh.kept_replaced is not None and fresh.kept_replaced.exists()
    assert reads and not any(on_gui_thread for _, on_gui_thread in reads)


def test_a_click_during_a_session_load_says_the_load_is_running(make_napari_viewer, qtbot,
                                                                 tmp_path):
    """Load session… (or Find candidates) while a session was being loaded was refused
    as "a candidate search is running; stop it first": no search ran. It now says the
    session is being loaded; the load still ends as before."""
    from napari_srmat.widgets.layers import WidgetInputError

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "r")
    w.load_session(path)  # its end is processed with the Qt events: still running here
    for click in (lambda: w.load_session(path), w.find_candidates):
        with pytest.raises(WidgetInputError) as told:
            click()
        assert str(told.value) == (f"the session {path.name} is being loaded (checked "
                                   "against the selected layers); wait for it to end")
    qtbot.waitUntil(w.run_btn.isEnabled, timeout=WORKER_WAIT_MS)
    assert w.status.text().startswith("session loaded: 1/3 reviewed")


def test_wait_for_saves_ends_with_the_saves_or_at_its_timeout(make_napari_viewer, qtbot,
                                                             tmp_path, monkeypatch):
    """Guard of the one wait for the Audit widgets' saves (wait_for_saves: napari's quit,
    the tests' waits, the test-end check): False while a save is held past its timeout,
    the save's file named; True once it is made, the decision on file."""
    import threading

    from app_model.types import KeyBinding

    import napari_srmat.audit.session as session_mod
    from napari_srmat.widgets.audit_widget import pending_save_files, wait_for_saves

    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)
    gate, real = threading.Event(), session_mod.atomic_write_text

    def held(*args, **kwargs):  # the save runs until the gate opens
        assert gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(session_mod, "atomic_write_text", held)
    viewer.keymap[KeyBinding.from_str("R")](viewer)
    assert not wait_for_saves(0.05)
    assert pending_save_files() == [str(path)]
    gate.set()
    assert wait_for_saves(SAVES_WAIT_S) and pending_save_files() == []
    assert {k: d.verdict for k, d in AuditSession.load(path).decisions.items()} == {
        1: "real"}


def _fileless_session_over_a_reviewed_one(viewer, qtbot, tmp_path):
    """An audit widget showing a new session without a file (3 candidates) whose path box
    names a reviewed session (1 decision): its first decision asks before replacing it."""
    w, path = _session_widget(viewer, qtbot, tmp_path)
    _press(viewer, "r")  # a reviewed session at the path box's file
    lr, sr = viewer.layers["lr"].data, viewer.layers["sr"].data
    fresh = AuditSession.create(lr, sr, [
        Candidate(id=i + 1, bbox=[0, 8 * i, 8, 8 * i + 8], score=3.0 - i,
                  kind="new_boundary", new_boundary_length_px=8.0) for i in range(3)])
    w.set_session(fresh)
    assert fresh.path is None and w.session_path() == path
    return w, path, fresh


def test_a_save_asked_for_while_the_first_decision_is_asked_about_waits_for_the_answer(
        make_napari_viewer, qtbot, tmp_path):
    """The question of a fileless session's first decision (a reviewed session at its
    file) is asked in the GUI's event loop (a modal dialog), where other events are
    handled: a decision, a search that ends, a new calibration. The queue had let go of
    the save being asked about, so a save asked for meanwhile started at once and saved
    the session over the reviewed one before the answer; a "no" then put the decisions
    back while the file held them. It now waits for the answer: a "no" puts it back too
    and the reviewed session stays on file (its worker's end meanwhile asks nothing)."""
    from app_model.types import KeyBinding

    from napari_srmat.widgets.audit_widget import FIRST_DECISION_REFUSED

    viewer = make_napari_viewer()
    w, path, fresh = _fileless_session_over_a_reviewed_one(viewer, qtbot, tmp_path)
    key = viewer.keymap[KeyBinding.from_str("R")]
    asked = []

    def ask(title, text):  # events handled while the question is open: the end of
        asked.append(text)  # the look's worker (no second question), a decision
        w._saves.end_from_outcome(w._saves.running, finished=True)
        key(viewer)
        assert w._saves.running is not None and len(asked) == 1
        return False

    w.ask = ask
    _press(viewer, "h")
    assert len(asked) == 1
    assert _decisions(path) == 1 and AuditSession.load(path).decisions[1].verdict == "real"
    assert fresh.kept_replaced is None and fresh.path is None and not fresh.decisions
    assert w.status.text().startswith(f"{FIRST_DECISION_REFUSED}: ")
    assert w.queue.currentRow() == 0


@pytest.mark.parametrize("collected", [False, True])
def test_a_first_decision_not_asked_about_as_its_panel_closed_is_told(
        make_napari_viewer, qtbot, tmp_path, monkeypatch, collected):
    """A fileless session's first decision whose panel closed before its save's worker
    found a reviewed session at its file is not saved over it (no panel to ask in); it
    was dropped without a word. It is now told in a notification; so too where the
    panel was also garbage-collected meanwhile (``collected``: until 2026-12-07 told
    nowhere, the queue telling the widget, gone)."""
    import gc

    import napari.utils.notifications as notifications
    from app_model.types import KeyBinding

    from napari_srmat.widgets.audit_widget import FIRST_DECISION_REFUSED

    shown = []
    monkeypatch.setattr(notifications, "show_error", shown.append)
    viewer = make_napari_viewer()
    w, path, fresh = _fileless_session_over_a_reviewed_one(viewer, qtbot, tmp_path)
    w.ask = lambda title, text: pytest.fail("asked with the panel closed")
    viewer.keymap[KeyBinding.from_str("H")](viewer)  # its look ends in the events below
    w.close()
    if collected:
        gone = weakref.ref(w)
        del w
        gc.collect()
        assert gone() is None
    _saved()
    assert _decisions(path) == 1 and not fresh.decisions and fresh.path is None
    assert len(shown) == 1 and f"{FIRST_DECISION_REFUSED}: {path}" in shown[0]
    assert "panel was closed" in shown[0]


def test_a_shown_session_not_saved_after_its_panel_was_garbage_collected_is_told(
        make_napari_viewer, qtbot, tmp_path, monkeypatch):
    """A session just shown (set_session) whose save failed after its panel was closed
    and garbage-collected was told nowhere (the line went to the widget, gone). It is
    now told in a notification, as for a panel closed but not yet collected."""
    import gc

    import napari.utils.notifications as notifications

    import napari_srmat.audit.session as session_mod

    shown = []
    monkeypatch.setattr(notifications, "show_error", shown.append)
    viewer = make_napari_viewer()
    w, path = _session_widget(viewer, qtbot, tmp_path)

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(session_mod, "atomic_write_text", disk_full)
    lr, sr = viewer.layers["lr"].data, viewer.layers["sr"].data
    other = tmp_path / "other.json"
    w.set_session(AuditSession.create(lr, sr, []), other)  # saved in the events below
    w.close()
    gone = weakref.ref(w)
    del w
    gc.collect()
    assert gone() is None
    _saved()
    assert not other.exists()
    assert len(shown) == 1 and f"the session could not be saved to {other}: " in shown[0]


@pytest.mark.parametrize("when", ["before the question", "before the answer"])
def test_a_first_decision_is_not_asked_about_once_another_session_is_shown(
        make_napari_viewer, qtbot, tmp_path, monkeypatch, when):
    """A fileless session's first decision whose save's worker found a reviewed session
    at its file asked "This session replaces it" even when a load or a search had shown
    another session meanwhile: "this session" read as the one shown, not the one whose
    decision it was. The question is now not asked: the decision is not recorded (the
    reviewed session stays on file), told in a notification; the session shown is
    saved to its own file. So too where the other session is shown while the question
    is open (its event loop: a load's or a search's end) and the answer is yes: until
    2026-12-07 the session asked about then replaced the file."""
    import napari.utils.notifications as notifications
    from app_model.types import KeyBinding

    from napari_srmat.widgets.audit_widget import FIRST_DECISION_REFUSED

    shown = []
    monkeypatch.setattr(notifications, "show_error", shown.append)
    viewer = make_napari_viewer()
    w, path, fresh = _fileless_session_over_a_reviewed_one(viewer, qtbot, tmp_path)
    lr, sr = viewer.layers["lr"].data, viewer.layers["sr"].data
    other, other_path = AuditSession.create(lr, sr, []), tmp_path / "other.json"
    asked = []

    def ask(title, text):  # shown as a load or a search's end shows one; then a yes
        asked.append(text)
        w.set_session(other, other_path)
        return True

    w.ask = (ask if when == "before the answer" else
             lambda title, text: pytest.fail(f"asked with another session shown: {text}"))
    viewer.keymap[KeyBinding.from_str("H")](viewer)  # its look ends in the events below
    if when == "before the question":
        w.set_session(other, other_path)  # as a load or a search's end shows one
    _saved()
    assert len(asked) == (when == "before the answer")
    assert w.session is other and other_path.exists()
    assert AuditSession.load(path).decisions[1].verdict == "real" and _decisions(path) == 1
    assert not fresh.decisions and fresh.path is None
    assert len(shown) == 1 and f"{FIRST_DECISION_REFUSED}: {path}" in shown[0]
    said = "not asked" if when == "before the question" else "not replaced after your yes"
    assert f"({said}: the audit panel shows another session)" in shown[0]
