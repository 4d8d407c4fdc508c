"""E112's advice lines of a field and a specimen (:mod:`napari_srmat.metrics.standards`,
:mod:`napari_srmat.metrics.planimetric`): the numbers they show agree with their
verdict (:func:`napari_srmat.errors.compared_value`) and they give the standard's
numbers in one wording."""

from __future__ import annotations

import numpy as np
import pytest

from napari_srmat.metrics import standards
from napari_srmat.metrics.planimetric import per_field_count_ask, planimetric
from napari_srmat.metrics.standards import (
    MIN_COUNT_PER_FIELD,
    MIN_FIELDS,
    RA_LIMIT_PCT,
    few_fields_advice,
    few_intersections_note,
    summarize_fields,
)


def _fields(n: int, count: float = 90.0) -> list[dict]:
    """``n`` planimetric field rows of 1000 grains/mm² counting ``count`` grains each."""
    return [{"method": "planimetric", "rule": "e112", "pixel_size_um": 1.0,
             "grains_per_mm2": 1000.0, "n_grains_inside": 80, "n_grains_equivalent": count,
             "grain_areas_um2": [], "warnings": []} for _ in range(n)]


@pytest.mark.parametrize("ra, shown", [(10.04, "10.04"), (10.3, "10.3"), (24.84, "24.8")])
def test_the_relative_accuracy_advice_shows_a_number_above_its_limit(monkeypatch, ra, shown):
    """'relative accuracy 10.0% is above 10%' for a %RA of 10.04: the number shown said
    the opposite of the advice it was in."""
    monkeypatch.setattr(standards, "confidence_interval",
                        lambda values: (1000.0, 10.0 * ra, ra))
    advice = summarize_fields(_fields(MIN_FIELDS))["advice"]
    line = next(a for a in advice if a.startswith("relative accuracy"))
    assert line.startswith(f"relative accuracy {shown}% is above the {RA_LIMIT_PCT:g}% ")
    assert float(shown) > RA_LIMIT_PCT


def test_every_per_field_count_line_gives_e112s_number_in_one_wording():
    """A field's few intersections, a specimen's fields with few intersections or grains
    and a planimetric count of few grains told E112's 50 in three wordings, two of them
    without the standard ('fewer than 50 intersections: use more ...', 'only 20 grains
    counted (fewer than 50)'): one wording now, :func:`per_field_count_ask`."""
    ask = per_field_count_ask()
    assert ask == f"E112 asks for about {MIN_COUNT_PER_FIELD} or more per field"
    assert ask in few_intersections_note(31.5)
    advice = summarize_fields(_fields(MIN_FIELDS, count=20.0))["advice"]
    low = [a for a in advice if "fewer than" in a]
    assert low and all(f"fewer than {MIN_COUNT_PER_FIELD} grains: {ask}" in a for a in low)
    mask = np.zeros((60, 60), bool)
    mask[:, ::20] = mask[::20, :] = True  # 3 x 3 grains
    told = [w for w in planimetric(mask).warnings if "grains counted" in w]
    assert len(told) == 1 and ask in told[0]


@pytest.mark.parametrize("n", [1, 2, MIN_FIELDS - 1])
def test_the_fields_advice_names_e112_and_its_number(n):
    """One field's advice ('one field gives no confidence interval: measure at least 5
    fields ...') did not say whose the 5 is, as the advice for two to four does."""
    assert f"E112 asks for at least {MIN_FIELDS} fields chosen at random" in \
        few_fields_advice(n)
    assert few_fields_advice(MIN_FIELDS) is None


@pytest.mark.parametrize("mode", standards.ONE_FIELD_NOTE_MODES)
def test_the_one_field_note_asks_for_fields_in_the_advice_s_words(mode):
    """One field's note said 'measure at least 5 fields chosen at random (ASTM E112)', a
    third wording of E112's fields beside few_fields_advice's 'E112 asks for at least 5
    fields chosen at random over the specimen': both now say ``fields_ask()``."""
    ask = standards.fields_ask()
    assert ask == f"E112 asks for at least {MIN_FIELDS} fields chosen at random over the specimen"
    assert ask in standards.one_field_note("the way", mode=mode)
    assert ask in few_fields_advice(1) and ask in few_fields_advice(MIN_FIELDS - 1)


def test_the_per_field_count_is_one_number_for_intersections_and_grains():
    """E112 asks for about 50 a field of both methods' counts (intersections P of the
    intercept method, grains of the planimetric): ``MIN_COUNT_PER_FIELD`` is that number,
    ``planimetric.MIN_GRAINS_PER_FIELD`` its name in the module that cannot import
    standards, and the one wording (``per_field_count_ask``) gives it (docs/standards.md)."""
    from napari_srmat.metrics.planimetric import MIN_GRAINS_PER_FIELD

    assert MIN_COUNT_PER_FIELD == MIN_GRAINS_PER_FIELD == 50
    assert f"about {MIN_COUNT_PER_FIELD} or more per field" in per_field_count_ask()
