from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real data in ``../shared/data``; skips when it is absent."""
    if not (SHARED_DATA / "tbm").is_dir():
        pytest.skip("../shared/data/tbm is not available")
    return SHARED_DATA


#: How long a test's end waits for the Audit widgets' saves it left running, in s
#: (:func:`_audit_saves_end_with_their_test`); a save takes milliseconds
AUDIT_SAVES_AT_TEST_END_S = 30.0


@pytest.fixture(autouse=True)
def _audit_saves_end_with_their_test():
    """Fail the test that leaves an Audit widget's save never ending.

    A save queue left busy (its worker quit by a viewer window's close with nothing
    ending it) kept ``saves_pending()`` true, and every later test waiting for its own
    saves timed out instead of the one that left it. Autouse, so set up before
    ``make_napari_viewer`` and torn down after it: the viewers are closed (their
    workers quit) when the Qt events are processed here, as a session's would be. Costs
    nothing unless the audit widget module was imported and a save is pending.
    """
    import sys

    yield
    mod = sys.modules.get("napari_srmat.widgets.audit_widget")
    if mod is None or mod.wait_for_saves(AUDIT_SAVES_AT_TEST_END_S):
        return
    files = mod.pending_save_files()
    mod._SAVING.clear()  # the next tests wait for their own saves only
    pytest.fail(f"the audit saves to {', '.join(files)} did not end within "
                f"{AUDIT_SAVES_AT_TEST_END_S:g} s of the test's end", pytrace=False)
