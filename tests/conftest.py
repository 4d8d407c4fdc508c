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
