"""Names another module imports from a library module are its public API (``__all__``,
docs/api.md "Submodule names"), or say why they are not."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API_DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["physical_figures", "NO_INTERVAL_NOTE"])
def test_grainsize_rules_other_modules_use_are_exported_and_documented(name):
    """Was: `grainsize.physical_figures` (the rule of the schema's µm and G keys, which
    `srmat heyn`'s pooled figures use) was not in `grainsize.__all__` nor in the API
    page, so `from napari_srmat.grainsize import *` and the docs did not offer it."""
    import napari_srmat.grainsize as grainsize

    assert name in grainsize.__all__
    namespace: dict = {}
    exec("from napari_srmat.grainsize import *", namespace)
    assert namespace[name] is getattr(grainsize, name)
    assert f"grainsize.{name}" in API_DOC


def test_private_check_masks_and_sr_constants_are_documented_as_such():
    """`synth.digital.stepping_row_mask` (a check fixture of the Heyn counter) stays out
    of `synth.__all__`; it and `metrics.sr`'s `DATA_RANGE_MARGIN` / `ESSIM_SCALE` are
    named on the API page with what they are."""
    import napari_srmat.synth as synth

    assert "stepping_row_mask" not in synth.__all__
    for name in (
        "synth.digital.stepping_row_mask",
        "metrics.sr.DATA_RANGE_MARGIN",
        "metrics.sr.ESSIM_SCALE",
    ):
        assert name in API_DOC, name


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("errors", "error_notes"),
        ("errors", "lines_raised_from"),
        ("errors", "disk_full_hint"),
        ("widgets.export", "csv_cells"),
        ("widgets.export", "interval_cells"),
        ("widgets.export", "is_interval_key"),
        ("widgets.export", "INTERVAL_SUFFIXES"),
        ("widgets.export", "SUMMARY_ROW_MARK"),
        ("widgets.export", "write_table_row"),
        ("metrics.heyn", "SEGMENT_CLIP_TOLERANCE_PX"),
        ("outputs", "check_existing_output"),
        ("metrics.standards", "no_upper_end_note"),
        ("metrics.standards", "no_lower_end_note"),
        ("sr.registration", "AT_SCALE_LIMIT"),
        ("sr.registration", "LOOK_SWAPPED"),
    ],
)
def test_rules_added_on_2026_12_07_are_exported_and_documented(module, name):
    """Guard (passed when written): the public rules added since 93b46e9e are in their
    module's ``__all__`` and named on the API page ("Submodule names")."""
    import importlib

    mod = importlib.import_module(f"napari_srmat.{module}")
    assert name in mod.__all__
    assert name in API_DOC and module in API_DOC
    assert f"{module}.{name}" in API_DOC or f"**`{module}`**" in API_DOC, name
