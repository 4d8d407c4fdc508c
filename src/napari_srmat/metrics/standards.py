"""Standards-conformant grain-size measurement of a specimen (ASTM E112, ISO 643, E1382).

One *field* is one micrograph (a boundary mask or a label map, with optional twin and
exclusion masks). :func:`measure_field` measures it by the lineal intercept and the
planimetric method; :func:`summarize_fields` turns several fields of a specimen into the
E112 statistics (mean, standard deviation, 95 % confidence interval with Student t,
relative accuracy) and the advice E112 gives when the precision is not good enough;
:func:`measure_specimen` does both and returns a JSON-able ``{"images": [...],
"summary": {...}}``.

Conversions between the grain size number G and the other measures of grain size
(mean intercept, grains per unit area, mean grain area and diameter) follow the E112
relations: :func:`grain_size_conversions`, :func:`astm_g_from`, :func:`grain_size_table`.

The relative accuracy of the field values uses
:func:`napari_srmat.metrics.heyn.confidence_interval` (the one %RA rule of the package).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import check_number, compared_value
from ..jobs import Event, Progress, Stopped, StopToken, run_job
from .distributions import ALA_MIN_G_DIFFERENCE, ala_grains, duplex_test
from .grainmap import MIN_GRAIN_PX, boundaries_from_labels
from .heyn import (
    COUNT_KEYS,  # defined with HeynResult.counts(), kept importable here
    HEYN_MARGIN,
    HEYN_N_LINES,
    HEYN_SEED,
    HeynError,
    HeynResult,
    _names,
    astm_grain_size_number,
    check_mask_scale,
    confidence_interval,
    finite_or_none,
    mean_intercept_from_astm_g,
    measure_intercepts,
    t_quantile_95,
)
from .planimetric import (
    FEW_GRAINS_REMEDY,
    MIN_GRAINS_PER_FIELD,
    STANDARD_OF_RULE,
    astm_g_from_grains_per_mm2,
    field_pixel_size,
    grain_map,
    grains_per_mm2_from_astm_g,
    iso643_g_from_grains_per_mm2,
    per_field_count_ask,
    planimetric,
)

__all__ = [
    "METHODS",
    "check_field_mask_scale",
    "RA_LIMIT_PCT",
    "MIN_COUNT_PER_FIELD",
    "COUNT_KEYS",
    "has_few_intersections",
    "few_intersections_note",
    "COUNT_READING_VARIANCE",
    "counting_half",
    "floored_relative_half",
    "floored_half_width",
    "MIN_FIELDS",
    "FIELD_SCOPE",
    "SPECIMEN_SCOPE",
    "ONE_FIELD_SPECIMEN_COVERAGE_PCT",
    "ONE_FIELD_SPECIMEN_COVERAGE_5_LINES_PCT",
    "ONE_FIELD_SPECIMEN_COVERAGE_DEFAULT_PCT",
    "ONE_FIELD_COVERAGE_COUNTS",
    "ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_PCT",
    "ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_FINE_PCT",
    "ONE_FIELD_IMAGE_FINE_INTERCEPT_PX",
    "ONE_FIELD_IMAGE_FINE_SHORT_PCT",
    "ONE_FIELD_NOTE_MODES",
    "interval_scope",
    "is_measured_field",
    "FIELD_FIGURE_KEYS",
    "withhold_field",
    "model_scatter_notes",
    "SPECIMEN_SCATTER_COVERAGE_PCT",
    "SPECIMEN_SCATTER_COVERAGE_SCANS",
    "one_field_note",
    "fields_ask",
    "few_fields_advice",
    "specimen_advice",
    "mixed_pixel_sizes_warning",
    "MIXED_PIXEL_SIZES_REMEDY",
    "MIXED_PIXEL_SIZES_ACTION",
    "ONE_SIZE",
    "NO_SIZE",
    "SIZES_DIFFER",
    "SIZES_MIXED",
    "pixel_size_calibration",
    "common_pixel_size",
    "statistics_pixel_sizes",
    "INTERCEPT_STANDARD",
    "MM2_PER_IN2_AT_100X",
    "grain_size_conversions",
    "astm_g_from",
    "g_range_warning",
    "warn_g_range",
    "grain_size_table",
    "measure_field",
    "summarize_fields",
    "no_upper_end_note",
    "no_lower_end_note",
    "measure_specimen",
    "measure_specimen_job",
    "SpecimenMeasurement",
    "SpecimenSummary",
    "RENAMED_SUMMARY_KEYS",
    "upgrade_summary",
    "RENAMED_HEYN_STATISTICS_KEYS",
    "upgrade_heyn_statistics",
    "specimen_fields_text",
    "field_grid",
    "pool_fields",
]

METHODS = ("intercept", "planimetric")

#: E112: a relative accuracy up to 10 % is usually acceptable.
RA_LIMIT_PCT = 10.0

#: E112: aim for about 50 intersections (or grains) per field or more (the planimetric
#: count's number, one for both methods; the words: ``per_field_count_ask``).
MIN_COUNT_PER_FIELD = MIN_GRAINS_PER_FIELD

#: E112: measure at least five fields, chosen at random over the specimen.
MIN_FIELDS = 5

#: ``interval_scope`` of a 95 % interval, the JSON key that says what it is an interval of
#: (:func:`interval_scope`): one field's ℓ̄ (an image or region: its test lines' sampling
#: floored at their counts' resolution, the pixel term and, for a micrograph, the model's),
#: or the specimen's (the scatter between several fields, E112's statistics).
FIELD_SCOPE = "field"
#: See :data:`FIELD_SCOPE`.
SPECIMEN_SCOPE = "specimen"

#: How often (%) one field's 95 % interval held the *whole map's* ℓ̄ on synthetic 768²
#: maps (``studies/grid_interval_aliasing.py`` confirmation seeds, the quick E112 check:
#: the package's grid of 2-5 lines per axis on 128-256 px squares, 10 <= P < 25): lowest
#: and highest of the three structure kinds (Poisson layout 90.3, the generator's lattice
#: 91.4, Voronoi maps 93.1; 78.6-87.5 with 5 + 5 lines), where the same intervals held the
#: square's own ℓ̄ 94.9-97.1 %: a field's test lines cannot see the scatter between
#: fields (docs/grain_size.md "The 95 % interval").
ONE_FIELD_SPECIMEN_COVERAGE_PCT = (90.3, 93.1)
#: The same with 5 + 5 grid lines (lowest and highest of the three kinds: Poisson layout
#: 78.6, the generator's lattice 87.0, Voronoi maps 87.5): more test lines narrow a
#: field's interval, not the scatter between fields.
ONE_FIELD_SPECIMEN_COVERAGE_5_LINES_PCT = (78.6, 87.5)
#: The same for the default measurement of one field (``srmat heyn`` of one mask,
#: ``measure_intercepts``' defaults: :data:`~napari_srmat.metrics.heyn.HEYN_N_LINES` random
#: lines, the interval ``grain_size_from_heyn`` gives, P in the hundreds) against the whole
#: map's ℓ̄ by the same counting (``studies/default_field_specimen.py``, 128-256 px squares
#: of the same maps, 1600 a kind): lowest and highest of the three kinds (Poisson layout
#: 68.7, Voronoi maps 83.7, the generator's lattice 88.9); fewer grains a field, less.
ONE_FIELD_SPECIMEN_COVERAGE_DEFAULT_PCT = (68.7, 88.9)
#: The intersections P of the fields of :data:`ONE_FIELD_SPECIMEN_COVERAGE_PCT` (the
#: study's quick E112 check, ``10 <= P < 25``).
ONE_FIELD_COVERAGE_COUNTS = (10, 25)
#: The same for one micrograph measured in image mode (``srmat grain-size IMAGE`` and
#: ``measure_grain_size`` with the shipped model and their defaults: the interval with the
#: model's term, 3.4-3.8 times the mask-mode half-width) against the whole map's true ℓ̄
#: (``studies/image_field_specimen.py``: 128-256 px squares of the generator's 768²
#: micrographs, seed spacings 20-80 px, 400 a kind): lowest and highest of the two kinds
#: the generator renders (the generator's lattice 88.0, Poisson layout 88.5; mask mode on
#: the same squares 89.8 and 66.5).
ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_PCT = (88.0, 88.5)
#: The same at that study's finest grains (seed spacing 20 px, ℓ̄ about
#: :data:`ONE_FIELD_IMAGE_FINE_INTERCEPT_PX`): lattice 52.5, Poisson layout 62.5; 92.5-100
#: at the coarser spacings.
ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_FINE_PCT = (52.5, 62.5)
#: ℓ̄ (px, rounded) of the finest grains of :data:`ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_FINE_PCT`.
ONE_FIELD_IMAGE_FINE_INTERCEPT_PX = 17
#: How much (%, median over fields, both kinds) image mode read ℓ̄ short of the whole map's
#: at those finest grains (enlarged to the model's working scale by the automatic scale).
ONE_FIELD_IMAGE_FINE_SHORT_PCT = 30
#: What :func:`one_field_note` is told of: a boundary mask's interval or a micrograph's
#: (``GrainSizeResult.mode``).
ONE_FIELD_NOTE_MODES = ("mask", "image")


def interval_scope(n_fields: int) -> str | None:
    """What a 95 % interval made of ``n_fields`` fields is an interval of: one field's
    ℓ̄ (:data:`FIELD_SCOPE`) or, from two fields on (their scatter), the specimen's
    (:data:`SPECIMEN_SCOPE`); ``None`` for no field, where the figure and its interval
    are withheld (``null`` like them in the JSON: until 2026-12-06 ``srmat heyn`` of
    masks that all failed said ``"field"``).

    The one rule of the ``interval_scope`` key (``srmat heyn``'s pooled result, every
    per-image row of ``srmat heyn`` and ``srmat grain-size``, a :func:`measure_field`
    row (``srmat grain-size --method``'s, the *Specimen* tab's), a specimen summary).
    ``n_fields`` counts the fields the figure is made of, those in the statistics: a
    field that is not measured (:func:`is_measured_field`) or has no valid value
    (:func:`summarize_fields`) is none of them, so a summary or pooling with one
    field left is that field's figure (E112: a specimen's figure is over several
    fields).

    Parameters
    ----------
    n_fields : int
        The fields in the statistics.

    Returns
    -------
    str or None
        :data:`FIELD_SCOPE`, :data:`SPECIMEN_SCOPE`, or ``None`` for no field.

    Examples
    --------
    >>> interval_scope(1), interval_scope(5), interval_scope(0)
    ('field', 'specimen', None)
    """
    if n_fields < 1:
        return None
    return FIELD_SCOPE if n_fields < 2 else SPECIMEN_SCOPE


def _pct_range(pair: tuple[float, float]) -> str:
    """``"lo-hi"`` of two percentages to the unit, one number where they read the same."""
    lo, hi = (f"{v:.0f}" for v in pair)
    return lo if lo == hi else f"{lo}-{hi}"


def one_field_note(how: str = "measure_specimen or summarize_fields", mode: str = "mask"
                   ) -> str:
    """The line told where one field is measured and no specimen summary goes with it
    (``srmat heyn`` of one mask, ``srmat grain-size`` of one image, the grain-size
    widget's *Simple* tab and one-field report): its interval is the field's, not the
    specimen's, and how often such an interval held the specimen's ℓ̄ on synthetic maps,
    measured for ``mode``'s interval.

    Parameters
    ----------
    how : str
        How the caller measures several fields and summarises them (a command, a tab).
    mode : {"mask", "image"}
        The measured field's mode (``GrainSizeResult.mode``, :data:`ONE_FIELD_NOTE_MODES`):
        a boundary mask's interval (:data:`ONE_FIELD_SPECIMEN_COVERAGE_DEFAULT_PCT`,
        :data:`ONE_FIELD_SPECIMEN_COVERAGE_PCT`) or a micrograph's, wider by the model's
        term (:data:`ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_PCT`,
        :data:`ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_FINE_PCT`).

    Returns
    -------
    str

    Raises
    ------
    ValueError
        ``mode`` not one of :data:`ONE_FIELD_NOTE_MODES`.

    Examples
    --------
    >>> print(one_field_note("srmat heyn with several masks"))  # doctest: +NORMALIZE_WHITESPACE
    one field: its 95 % interval is this field's ℓ̄, not the specimen's (on synthetic
    maps one field's interval held the specimen's only 69-89 % of the time with the
    default 50 random lines, 90-93 % with 10-25 intersections); E112 asks for at least 5
    fields chosen at random over the specimen: measure them and summarise them (srmat
    heyn with several masks)
    >>> print(one_field_note("several images", mode="image"))
    ... # doctest: +NORMALIZE_WHITESPACE
    one field: its 95 % interval is this field's ℓ̄, not the specimen's (on synthetic
    micrographs one field's interval held the specimen's 88 % of the time with the shipped
    model and its defaults, only 52-62 % with grains of ℓ̄ about 17 px, which the model
    read 30 % short); E112 asks for at least 5 fields chosen at random over the
    specimen: measure them and summarise them (several images)
    """
    if mode not in ONE_FIELD_NOTE_MODES:
        raise ValueError(f"mode must be one of {ONE_FIELD_NOTE_MODES}, not {mode!r}")
    if mode == "image":
        held = (f"on synthetic micrographs one field's interval held the specimen's "
                f"{_pct_range(ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_PCT)} % of the time with "
                # the study's settings, as the mask note's are the default lines
                "the shipped model and its defaults, only "
                f"{_pct_range(ONE_FIELD_SPECIMEN_COVERAGE_IMAGE_FINE_PCT)} % with grains of "
                f"ℓ̄ about {ONE_FIELD_IMAGE_FINE_INTERCEPT_PX} px, which the model read "
                f"{ONE_FIELD_IMAGE_FINE_SHORT_PCT} % short")
    else:
        p_lo, p_hi = ONE_FIELD_COVERAGE_COUNTS
        held = (f"on synthetic maps one field's interval held the specimen's only "
                f"{_pct_range(ONE_FIELD_SPECIMEN_COVERAGE_DEFAULT_PCT)} % of the time with "
                f"the default {HEYN_N_LINES} random lines, "
                f"{_pct_range(ONE_FIELD_SPECIMEN_COVERAGE_PCT)} % with {p_lo}-{p_hi} "
                "intersections")
    # why (a field's test lines cannot see the scatter between fields): docs/grain_size.md
    return (f"one field: its 95 % interval is this field's ℓ̄, not the specimen's ({held}); "
            f"{fields_ask()}: measure them and summarise them ({how})")


def fields_ask() -> str:
    """What E112 asks of a specimen's fields, in the one wording of every line that tells
    of their number (:data:`MIN_FIELDS`): :func:`few_fields_advice` and
    :func:`one_field_note`. The standard is cited without a clause (docs/standards.md).

    Returns
    -------
    str

    Examples
    --------
    >>> fields_ask()
    'E112 asks for at least 5 fields chosen at random over the specimen'
    """
    return f"E112 asks for at least {MIN_FIELDS} fields chosen at random over the specimen"


def few_fields_advice(n_fields: int) -> str | None:
    """E112's advice on how many fields a specimen figure is over: none from
    :data:`MIN_FIELDS` fields on.

    The one rule and wording of :func:`summarize_fields`' ``advice`` (``srmat grain-size
    --method``, the grain-size widget's *Specimen (E112)* tab) and of ``srmat heyn``'s
    note on several masks.

    Parameters
    ----------
    n_fields : int
        The fields the specimen's statistics are over (those with a valid value).

    Returns
    -------
    str or None

    Examples
    --------
    >>> few_fields_advice(3)
    'only 3 fields: E112 asks for at least 5 fields chosen at random over the specimen'
    >>> print(few_fields_advice(1))  # doctest: +NORMALIZE_WHITESPACE
    one field gives no confidence interval: E112 asks for at least 5 fields chosen at
    random over the specimen
    >>> few_fields_advice(MIN_FIELDS) is None
    True
    """
    if n_fields >= MIN_FIELDS:
        return None
    ask = fields_ask()
    return (f"one field gives no confidence interval: {ask}" if n_fields < 2
            else f"only {n_fields} fields: {ask}")


#: What to change where a field counts fewer than :data:`MIN_COUNT_PER_FIELD`, by method:
#: the remedy of :func:`few_intersections_note` and :func:`summarize_fields`' advice.
FEW_COUNTS_REMEDY = {
    "intercept": "use more or longer test lines, a larger field or a lower magnification",
    "planimetric": FEW_GRAINS_REMEDY,
}

INTERCEPT_STANDARD = (
    "ASTM E112 lineal intercept (Heyn): intersections P per unit length, a crossing at a "
    "triple point counts 1.5"
)

#: 1 in² at 100x covers 645.16 mm² / 100² of the specimen: N_A(per in² at 100x) =
#: N_A(per mm² at 1x) * MM2_PER_IN2_AT_100X.
MM2_PER_IN2_AT_100X = 645.16 / 100.0**2

#: Specimen-summary keys renamed, old -> new: an interval is ``<quantity>_ci95_<unit>``
#: everywhere (``mean_intercept_ci95_um`` as :class:`napari_srmat.grainsize.
#: GrainSizeResult` and ``srmat grain-size``). The old name is still read, with a
#: DeprecationWarning, until :data:`RENAMED_SUMMARY_KEYS_UNTIL` (:class:`SpecimenSummary`
#: for a fresh summary, :func:`upgrade_summary` for one saved as JSON).
RENAMED_SUMMARY_KEYS = {"mean_intercept_um_ci95": "mean_intercept_ci95_um"}
#: The release that no longer reads the old names of :data:`RENAMED_SUMMARY_KEYS` (and
#: of :data:`RENAMED_HEYN_STATISTICS_KEYS`).
RENAMED_SUMMARY_KEYS_UNTIL = "0.3.0"

#: The Heyn widget's statistics keys renamed, old -> new
#: (:func:`napari_srmat.widgets.layers.heyn_statistics`, its JSON and CSV exports):
#: ℓ̄'s interval has the grain-size schema's name. A file saved with the old name is
#: read by :func:`napari_srmat.report.report_from_heyn` (:func:`upgrade_heyn_statistics`),
#: with a DeprecationWarning, until :data:`RENAMED_SUMMARY_KEYS_UNTIL`.
RENAMED_HEYN_STATISTICS_KEYS = {"ci95_px": "mean_intercept_ci95_px",
                                "ci95_um": "mean_intercept_ci95_um"}


def specimen_advice(n_fields: int, relative_accuracy_pct: float | None) -> list[str]:
    """E112's advice on a specimen figure over ``n_fields`` fields: too few fields
    (:func:`few_fields_advice`), a %RA above :data:`RA_LIMIT_PCT` (how many fields in all
    would bring it there).

    The one rule of :func:`summarize_fields`' ``advice`` on the fields' number and scatter
    and of ``srmat heyn``'s pooled ``advice`` (told as notes by both commands).

    Parameters
    ----------
    n_fields : int
        The fields the specimen's statistics are over (those with a valid value).
    relative_accuracy_pct : float or None
        E112's %RA of their scatter (None, NaN: none, one field).

    Returns
    -------
    list of str

    Examples
    --------
    >>> specimen_advice(6, 8.0)
    []
    >>> specimen_advice(6, 12.0)  # doctest: +NORMALIZE_WHITESPACE
    ['relative accuracy 12.0% is above the 10% E112 regards as acceptable: measure more
    fields (about 8 fields in all would bring it to 10%)']
    """
    advice = [a for a in (few_fields_advice(n_fields),) if a]
    ra = relative_accuracy_pct
    if ra is not None and math.isfinite(ra) and ra > RA_LIMIT_PCT:
        need = _fields_needed(n_fields, ra)
        # the %RA shown stands above the limit shown (errors.compared_value): 10.04 read
        # '10.0% is above 10%'
        advice.append(
            f"relative accuracy {compared_value(ra, '>', RA_LIMIT_PCT, decimals=1)}% is above "
            f"the {RA_LIMIT_PCT:g}% E112 regards as acceptable: measure more fields (about "
            f"{need} fields in all would bring it to {RA_LIMIT_PCT:g}%)"
        )
    return advice


def _warn_renamed(old: str, new: str, stacklevel: int, what: str = "specimen summary"
                  ) -> None:
    import warnings

    warnings.warn(f"the {what} key {old!r} is renamed {new!r}; the old name is "
                  f"read until napari-srmat {RENAMED_SUMMARY_KEYS_UNTIL}",
                  DeprecationWarning, stacklevel=stacklevel + 1)


def _upgrade_keys(d: dict, renamed: dict, what: str, stacklevel: int) -> dict:
    """``d`` with the keys it has by an old name (``renamed``: old -> new) renamed (the
    new name wins where both are there), a DeprecationWarning per old name."""
    out = {}
    for key, value in d.items():
        new = renamed.get(key)
        if new is None:
            out[key] = value
            continue
        if new not in d:
            out[new] = value
        _warn_renamed(key, new, stacklevel + 1, what)
    return out


class SpecimenSummary(dict):
    """A specimen summary (:func:`summarize_fields`): a plain dict (JSON as it is) whose
    renamed keys (:data:`RENAMED_SUMMARY_KEYS`) are still read by their old name, with a
    DeprecationWarning; only the new name is stored (and written).

    Examples
    --------
    >>> import warnings
    >>> s = SpecimenSummary(mean_intercept_ci95_um=[9.0, 11.0])
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     s["mean_intercept_um_ci95"], w[0].category.__name__
    ([9.0, 11.0], 'DeprecationWarning')
    >>> list(s)
    ['mean_intercept_ci95_um']
    """

    def _old(self, key: Any) -> str | None:
        new = RENAMED_SUMMARY_KEYS.get(key) if isinstance(key, str) else None
        return new if new is not None and dict.__contains__(self, new) else None

    def __missing__(self, key: Any) -> Any:
        new = self._old(key)
        if new is None:
            raise KeyError(key)
        _warn_renamed(key, new, 2)
        return dict.__getitem__(self, new)

    def get(self, key: Any, default: Any = None) -> Any:
        """``dict.get``, the old names of renamed keys included (with a warning)."""
        if not dict.__contains__(self, key) and (new := self._old(key)) is not None:
            _warn_renamed(key, new, 2)
            return dict.__getitem__(self, new)
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        if (new := self._old(key)) is not None:
            _warn_renamed(str(key), new, 2)
            return True
        return False


def upgrade_summary(summary: dict) -> SpecimenSummary:
    """A specimen summary read back (e.g. the ``"summary"`` of a JSON file saved by
    ``srmat grain-size --method ... --json`` or :func:`measure_specimen`) with the keys
    it has by an old name (:data:`RENAMED_SUMMARY_KEYS`) renamed, and a
    DeprecationWarning naming them; a summary with the new names is returned as it is
    (as a :class:`SpecimenSummary`).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     s = upgrade_summary({"mean_intercept_um_ci95": [9.0, 11.0], "astm_g": 10.5})
    >>> sorted(s)
    ['astm_g', 'mean_intercept_ci95_um']
    """
    return SpecimenSummary(_upgrade_keys(summary, RENAMED_SUMMARY_KEYS, "specimen summary",
                                         2))


def upgrade_heyn_statistics(stats: dict) -> dict:
    """The Heyn widget's statistics read back (its JSON export, or a dict saved before
    :data:`RENAMED_HEYN_STATISTICS_KEYS`) with the old names renamed, and a
    DeprecationWarning naming them; the new name wins where both are there.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     upgrade_heyn_statistics({"ci95_px": [9.0, 11.0], "n_lines": 20})
    {'mean_intercept_ci95_px': [9.0, 11.0], 'n_lines': 20}
    """
    return _upgrade_keys(stats, RENAMED_HEYN_STATISTICS_KEYS, "Heyn statistics", 2)


# ----------------------------------------------------------------- conversions
#: Variance of one integer count read as a real: ±½, a uniform error (1/12).
COUNT_READING_VARIANCE = 1.0 / 12.0


def counting_half(count: float, n_lines: int) -> float:
    """The counting resolution of a mean of ``n`` integer counts: ``t(0.975, n - 1)
    sqrt(n / 12) / P`` relative to the mean, for ``n`` lines (or fields) counting ``P``
    intersections (or grains) in all.

    Each count is an integer, read to ±½ (a uniform error of variance
    :data:`COUNT_READING_VARIANCE`), so the mean density is known to no better than
    this relative half-width even when the counts agree (a Student-t interval of
    ``r = 0``: equal counts on lines of equal length, as the ``grid`` pattern's lines on
    a square field often have with few crossings, or fields of a specimen that agree).
    It is a floor under the scatter's ``r``, not added to it
    (:func:`floored_relative_half`).

    Parameters
    ----------
    count : float
        The count P of all lines or fields (``HeynResult.intersection_count``).
    n_lines : int
        The number of lines or fields n (``HeynResult.n_lines_measured``: the lines with
        length in the measured area).

    Returns
    -------
    float
        ``c``; NaN for fewer than two lines or no count.

    Examples
    --------
    >>> round(counting_half(12, 4), 4)   # a 2 + 2 grid counting 3 on every line
    0.1531
    >>> round(counting_half(500, 50), 4)
    0.0082
    """
    n = int(n_lines)
    if n < 2 or not count > 0:
        return math.nan
    return t_quantile_95(n - 1) * math.sqrt(n * COUNT_READING_VARIANCE) / float(count)


def floored_relative_half(relative_half: float, *, count: float, n_lines: int) -> float:
    """The relative half-width of a mean of ``n`` counts' densities: the Student-t
    ``r`` of their scatter, floored at the counting resolution ``c``
    (:func:`counting_half`): ``max(r, c)``.

    The one rule of the package's 95 % intervals of a mean density: the line-sampling
    term of ℓ̄ (:func:`napari_srmat.grainsize.sampling_log_terms`), the specimen
    interval over fields (:func:`summarize_fields`) and ``srmat heyn``'s pooled
    interval over images; as a half-width of the mean, :func:`floored_half_width`. A
    floor, not a sum: for ``r > 0`` the densities' scatter already carries their
    counts' quantisation, and the 1/12 variance is known, not estimated; ``c`` stands
    in only where the counts agree by chance (``r`` 0 or below it). Until this rule
    (295d30c) ``sqrt(r² + c²)``: on synthetic fields
    (studies/heyn_interval_coverage.py) the floor covers random lines 99.4 / 97.6 /
    95.6 / 95.6 / 96.4 % for P < 25 / 25-50 / 50-100 / 100-200 / >= 200 (the sum
    99.4 / 97.8 / 96.2 / 96.0 / 96.6 %) and the ``grid`` pattern 92.1 / 95.0 / 97.2 /
    97.5 / 97.2 % (the sum 92.8 / 96.3 / 97.7 / 98.1 / 97.6 %; without ``c`` 88.7 %
    below P 25). Pooling ``r`` with a count model of P for few lines was measured and
    not adopted (studies/few_lines_interval.py: it gives two random lines a finite
    interval but widens isotropic structures and under-covers anisotropic ones;
    docs/grain_size.md "The 95 % interval").

    Parameters
    ----------
    relative_half : float
        ``r``, the half-width over the mean (NaN when unknown).
    count : float
        The count P of all lines or fields.
    n_lines : int
        The number of lines or fields n.

    Returns
    -------
    float
        ``max(r, c)``; NaN for a NaN ``r`` or ``c`` (fewer than two, no count).

    Examples
    --------
    >>> round(floored_relative_half(0.0, count=12, n_lines=4), 4)   # counts agree
    0.1531
    >>> floored_relative_half(0.2, count=12, n_lines=4)   # the scatter is above c
    0.2
    """
    r, c = float(relative_half), counting_half(count, n_lines)
    return max(r, c) if math.isfinite(r) and math.isfinite(c) else math.nan


def floored_half_width(mean: float | None, relative_half: float, *, count: float,
                       n_lines: int) -> float:
    """The half-width of the 95 % interval of a mean of counts' densities (or of the
    ℓ̄ that inverts it): ``mean`` × :func:`floored_relative_half`, ``mean max(r, c)``.

    The one place the floored relative half-width becomes a half-width: a Heyn row's
    (``HeynResult.ci95_half_width_px``, ℓ̄ with the lines' ``r``, ``P`` and measured
    lines), a specimen's over fields (:func:`summarize_fields`' ``ci95_half_width``)
    and ``srmat heyn``'s pooled interval over images. Whose inversion,
    ``ℓ̄ [1 / (1 + r'), 1 / (1 - r')]``, is the line-sampling term of the
    ``[low, high]`` pair (:func:`napari_srmat.grainsize.sampling_log_terms`).

    Parameters
    ----------
    mean : float or None
        The mean the half-width is of (ℓ̄ in pixels, or the mean field value); None
        where there is none.
    relative_half, count, n_lines
        ``r``, ``P`` and ``n``, as :func:`floored_relative_half` takes them.

    Returns
    -------
    float
        ``mean max(r, c)``; NaN without a mean or where :func:`floored_relative_half`
        is NaN (fewer than two lines or fields, no count, an unknown ``r``).

    Examples
    --------
    >>> round(floored_half_width(119.7, 0.0, count=12, n_lines=4), 2)   # counts agree
    18.33
    >>> round(floored_half_width(10.0, 0.2, count=12, n_lines=4), 6)   # r above c
    2.0
    >>> floored_half_width(10.0, 0.2, count=3, n_lines=1)   # one line: no interval
    nan
    """
    r = floored_relative_half(relative_half, count=count, n_lines=n_lines)
    return mean * r if mean is not None and math.isfinite(r) else math.nan


def has_few_intersections(count: float) -> bool:
    """Whether a field's intersection count P is below E112's :data:`MIN_COUNT_PER_FIELD`:
    the one rule of the few-intersections warning (:func:`few_intersections_note`, in
    :func:`measure_field` and :func:`napari_srmat.grainsize.grain_size_from_heyn`). The
    interval of ℓ̄ does not depend on it (one rule at every count:
    :func:`napari_srmat.grainsize.sampling_log_terms`).

    Examples
    --------
    >>> has_few_intersections(4), has_few_intersections(50)
    (True, False)
    """
    return count < MIN_COUNT_PER_FIELD


def few_intersections_note(count: float) -> str:
    """The E112 advice for a field with fewer than :data:`MIN_COUNT_PER_FIELD`
    intersections (:func:`has_few_intersections`).

    Examples
    --------
    >>> few_intersections_note(31.5).split(":")[0]
    'only 31.5 intersections'
    """
    # a count is a multiple of 1/2 (E112's scoring), shown in full (:g)
    return (f"only {count:g} intersections: {per_field_count_ask()}; "
            f"{FEW_COUNTS_REMEDY['intercept']}")


#: G values :func:`grain_size_conversions` converts: far beyond any grain (G 50 is a mean
#: intercept of 11 pm, G -50 one of 9 km; E112's tables span 00 to 14), and every relation
#: finite inside (outside it N_A overflowed to infinity or ℓ̄ divided by zero).
ASTM_G_CONVERSION_RANGE = (-50.0, 50.0)

#: E112's tables of grain size numbers span G 00 (G -1: a mean intercept of 0.45 mm) to
#: 14 (a mean intercept of 2.5 µm, grains of 7.9 µm²).
ASTM_G_TABLE_RANGE = (-1.0, 14.0)
#: How far (in G numbers) a measured G may stand outside :data:`ASTM_G_TABLE_RANGE`
#: before :func:`g_range_warning` says so. Two G numbers are a factor 2 in ℓ̄ (4 in grain
#: area): a coarse casting or an ultrafine steel a little beyond the tables is not
#: flagged (G -3 to 16: ℓ̄ 0.9 mm to 1.25 µm), while a pixel size typed in the wrong
#: unit, a factor 1000 (nm or mm typed as µm), moves G by 20 (500 typed for 0.5 µm:
#: G -10.6; 0.0005: G 29.3) and is.
ASTM_G_TABLE_MARGIN = 2.0


def g_range_warning(g: float | None) -> str | None:
    """The warning of a G outside E112's tables (a pixel size in the wrong unit), or None.

    The one plausibility rule of a G computed from a pixel size: outside
    :data:`ASTM_G_TABLE_RANGE` widened by :data:`ASTM_G_TABLE_MARGIN` on each side, G is
    almost surely a pixel size typed or recorded in another unit (nm or mm read as µm).

    Parameters
    ----------
    g : float or None
        The grain size number (None, NaN: no warning).

    Returns
    -------
    str or None

    Examples
    --------
    >>> g_range_warning(-10.6)
    "G -10.6 is outside E112's range (00 to 14): check the pixel size (µm per pixel)"
    >>> g_range_warning(8.8) is None
    True
    """
    lo, hi = ASTM_G_TABLE_RANGE
    if g is None or not math.isfinite(g) or lo - ASTM_G_TABLE_MARGIN <= g <= (
            hi + ASTM_G_TABLE_MARGIN):
        return None
    return (f"G {g:.1f} is outside E112's range (00 to {hi:g}): check the pixel size "
            "(µm per pixel)")


def warn_g_range(warnings: list[str], g: float | None) -> None:
    """Append :func:`g_range_warning` of ``g`` to ``warnings`` where there is one: the one
    place a reported G gets its range warning (a field's, a specimen's, a row's, ``srmat
    heyn``'s pooled G). A G then withheld drops it (``grainsize._withhold``): a number not
    reported carries no warning about it.

    Parameters
    ----------
    warnings : list of str
        The warnings of the figure that reports ``g`` (changed in place).
    g : float or None
        The grain size number reported.

    Examples
    --------
    >>> told = []
    >>> warn_g_range(told, 8.8); warn_g_range(told, 29.3)
    >>> told
    ["G 29.3 is outside E112's range (00 to 14): check the pixel size (µm per pixel)"]
    """
    implausible = g_range_warning(g)
    if implausible:
        warnings.append(implausible)


def grain_size_conversions(g: float) -> dict:
    """All E112 measures of grain size for a grain size number G.

    Relations: ``N_A = 2**(G + 2.954)`` grains/mm² at 1x (``2**(G - 1)`` per in² at
    100x), mean grain area ``Ā = 1 / N_A``, mean grain diameter ``d̄ = sqrt(Ā)``, mean
    intercept ``ℓ̄ = 10**(-(G + 3.288) / 6.643856)`` mm, ``N_L = 1 / ℓ̄``. The intercept and
    area relations are those of E112 for equiaxed grains; they are not exact for every
    grain shape, so a G measured by intercepts and one measured by counting agree only
    approximately.

    Parameters
    ----------
    g : float
        ASTM grain size number, in :data:`ASTM_G_CONVERSION_RANGE`.

    Returns
    -------
    dict
        ``g``, ``grains_per_mm2``, ``grains_per_in2_100x``, ``mean_grain_area_um2``,
        ``mean_grain_diameter_um``, ``mean_intercept_um``, ``intercepts_per_mm``,
        ``iso643_g`` (the ISO 643 G of the same N_A, 0.046 lower).

    Raises
    ------
    ValueError
        ``g`` is not a number in :data:`ASTM_G_CONVERSION_RANGE` (NaN, an infinity, a
        string or a bool included).

    Examples
    --------
    >>> c = grain_size_conversions(5.0)
    >>> round(c["grains_per_mm2"], 1), round(c["mean_grain_diameter_um"], 1)
    (248.0, 63.5)
    >>> round(c["mean_intercept_um"], 1), round(c["grains_per_in2_100x"], 2)
    (56.6, 16.0)
    """
    lo, hi = ASTM_G_CONVERSION_RANGE
    g = float(check_number("g (ASTM grain size number)", g, lo=lo, hi=hi))
    n_a = float(grains_per_mm2_from_astm_g(g))
    area_mm2 = 1.0 / n_a
    lbar_mm = float(mean_intercept_from_astm_g(g))
    return {
        "g": g,
        "grains_per_mm2": n_a,
        "grains_per_in2_100x": n_a * MM2_PER_IN2_AT_100X,
        "mean_grain_area_um2": area_mm2 * 1e6,
        "mean_grain_diameter_um": math.sqrt(area_mm2) * 1e3,
        "mean_intercept_um": lbar_mm * 1e3,
        "intercepts_per_mm": 1.0 / lbar_mm,
        "iso643_g": float(iso643_g_from_grains_per_mm2(n_a)),
    }


def astm_g_from(
    *,
    mean_intercept_um: float | None = None,
    grains_per_mm2: float | None = None,
    mean_grain_area_um2: float | None = None,
    mean_grain_diameter_um: float | None = None,
    grains_per_in2_100x: float | None = None,
) -> float:
    """ASTM E112 G from exactly one measure of grain size (inverse of the conversions).

    Examples
    --------
    >>> round(astm_g_from(mean_intercept_um=56.6), 2)
    5.0
    >>> round(astm_g_from(grains_per_in2_100x=16.0), 2)
    5.0
    """
    given = {k: v for k, v in {
        "mean_intercept_um": mean_intercept_um,
        "grains_per_mm2": grains_per_mm2,
        "mean_grain_area_um2": mean_grain_area_um2,
        "mean_grain_diameter_um": mean_grain_diameter_um,
        "grains_per_in2_100x": grains_per_in2_100x,
    }.items() if v is not None}
    if len(given) != 1:
        raise ValueError(f"give exactly one measure of grain size, got {sorted(given) or 'none'}")
    (key, val), = given.items()
    val = float(check_number(key, val, lo=0, lo_open=True))  # True was 1 µm, "10" 10
    if key == "mean_intercept_um":
        return float(astm_grain_size_number(val / 1000.0))
    if key == "grains_per_mm2":
        n_a = val
    elif key == "mean_grain_area_um2":
        n_a = 1e6 / val
    elif key == "mean_grain_diameter_um":
        n_a = 1e6 / val**2
    else:
        n_a = val / MM2_PER_IN2_AT_100X
    return float(astm_g_from_grains_per_mm2(n_a))


def grain_size_table(g_values: Sequence[float] | np.ndarray | None = None) -> list[dict]:
    """E112-style table of the grain size measures for a range of G.

    Parameters
    ----------
    g_values : sequence of float, optional
        Default: 00 ... 14 in steps of 0.5 (G 00 is written -1 here).

    Returns
    -------
    list of dict
        One :func:`grain_size_conversions` row per G.

    Examples
    --------
    >>> rows = grain_size_table([0, 1])
    >>> [round(r["grains_per_mm2"], 2) for r in rows]
    [7.75, 15.5]
    """
    if g_values is None:
        g_values = np.arange(-1.0, 14.01, 0.5)
    return [grain_size_conversions(g) for g in g_values]


# --------------------------------------------------------------------- helpers
def _num(x: Any) -> Any:
    """JSON value of a figure: bools and ints kept, other numbers via finite_or_none."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    return finite_or_none(x)


def _clean(obj: Any) -> Any:
    """JSON-able copy: numpy scalars and arrays to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_clean(v) for v in obj.tolist()]
    if isinstance(obj, (str, type(None))):
        return obj
    if isinstance(obj, (bool, np.bool_, int, float, np.integer, np.floating)):
        return _num(obj)
    return obj


def _method_check(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def check_field_mask_scale(mask_scale: Any, method: str, *,
                           name: str = "mask_scale") -> int | None:
    """The rule of a field's mask scale: :func:`~napari_srmat.metrics.heyn.check_mask_scale`,
    and none with ``method="planimetric"``, whose grain count (N_A) it does not change
    (until 2026-12-07 such a field was measured the same and recorded the scale).

    Parameters
    ----------
    mask_scale : Any
        The scale given (None: not given).
    method : str
        The field's method (:data:`METHODS`).
    name : str
        The keyword or flag, in the message.

    Returns
    -------
    int or None

    Raises
    ------
    HeynError
        One line.

    Examples
    --------
    >>> check_field_mask_scale(4, "intercept"), check_field_mask_scale(None, "planimetric")
    (4, None)
    """
    if mask_scale is not None and method == "planimetric":
        raise HeynError(f"{name} acts on the intercept count only, not on the planimetric "
                        "method's grain count (N_A): leave it out")
    return check_mask_scale(mask_scale)


# ----------------------------------------------------------------------- field
def measure_field(
    boundaries: Any = None,
    *,
    labels: Any = None,
    pixel_size_um: float | None = None,
    method: str = "intercept",
    pattern: str = "grid",
    n_lines: int = HEYN_N_LINES,
    seed: int = HEYN_SEED,
    segments: Any = None,
    margin: float = HEYN_MARGIN,
    skeletonize: bool = False,
    triple_points: bool = True,
    rule: str = "e112",
    field_margin: float = 0.0,
    twins: Any = None,
    exclude_twins: bool = True,
    exclusion: Any = None,
    min_grain_px: int = MIN_GRAIN_PX,
    name: str | None = None,
    model_log_terms: tuple[float | None, float | None] | None = None,
    mask_scale: int | None = None,
    return_heyn: bool = False,
) -> dict | tuple[dict, HeynResult]:
    """Measure one field by the intercept and the planimetric method (JSON-able dict).

    Parameters
    ----------
    boundaries : array (H, W), optional
        Boundary mask.
    labels : array of int (H, W), optional
        Grain label map instead of a mask (0 = unassigned); exactly one of the two.
    pixel_size_um : float, optional
        Micrometres per pixel; without it only pixel figures are reported (no G).
    method : {"intercept", "planimetric"}
        Which method gives ``astm_g`` and ``standard`` (both are measured).
    pattern, n_lines, seed, segments, margin, skeletonize
        Test lines, see :func:`napari_srmat.metrics.heyn.measure_intercepts` (default: the
        50 + 50 line grid, which also gives the anisotropy index).
    triple_points : bool
        E112 rule: a crossing at a triple point counts 1.5 (default on).
    rule : {"e112", "iso643", "e1382"}
        Planimetric counting rule, see :mod:`napari_srmat.metrics.planimetric`.
    field_margin : float
        Margin of the planimetric field rectangle (default: the whole image).
    twins : array (H, W), optional
        Annealing-twin boundaries; excluded from both counts unless ``exclude_twins`` is
        False.
    exclusion : array (H, W), optional
        Pixels not measured: test lines are cut and the area reduced there.
    min_grain_px : int
        Smallest grain of a boundary mask.
    name : str, optional
        Recorded as ``name``.
    model_log_terms : (float or None, float or None), optional
        Where the field is a boundary model's map: the model's relative (log)
        half-widths of ℓ̄ below and above (``GrainSizeResult.uncertainty``'s
        ``model_low`` and ``model_high``), a term of the field's interval
        (:func:`napari_srmat.grainsize.field_interval`); None (a mask): none.
    mask_scale : int, optional
        The boundary mask was drawn at 1 / ``mask_scale`` of this resolution and upscaled
        (bilinear or smooth): the intercept count's zig-zag bridge runs on ``mask_scale``
        x ``mask_scale`` blocks, see
        :func:`napari_srmat.metrics.heyn.measure_intercepts` (checked by
        :func:`napari_srmat.metrics.heyn.check_mask_scale` before the field is read).
        None (default): an exact nearest upscale is read off the mask. Recorded as
        ``mask_scale``, the rule used as ``block_scale``. Refused with ``method=
        "planimetric"`` (:func:`check_field_mask_scale`): N_A does not use it.
    return_heyn : bool
        Also return the intercept measurement the dict's figures are made of.

    Returns
    -------
    dict
        ``grains_per_mm2``, ``n_grains_inside``, ``n_grains_edge``, ``grain_areas_um2``,
        ``mean_intercept_um``, ``intercepts_um``, ``anisotropy_index``, ``astm_g`` (of
        ``method``), ``standard``, and more (pixel figures, both G values, per-direction
        intercepts, counts, ``ala``, ``duplex``, ``twins_excluded``, ``warnings``), the
        field's own 95 % interval (``mean_intercept_ci95_px``, ``mean_intercept_ci95_um``,
        ``astm_g_ci95``, ``interval_scope``) and ``interval_note``, why an interval is
        None where its figure is given
        (:func:`napari_srmat.grainsize.field_interval`: the rule of ``srmat
        grain-size``'s rows; the planimetric G, one count, has none); see
        docs/standards.md for the full list.
    HeynResult
        With ``return_heyn`` only: ``(dict, HeynResult)``.

    Examples
    --------
    >>> from napari_srmat.synth import generate_microstructure
    >>> ms = generate_microstructure((256, 256), mean_grain_size_px=20, seed=1)
    >>> f = measure_field(ms.boundaries, pixel_size_um=1.0, n_lines=20)
    >>> f["standard"].startswith("ASTM E112"), f["n_grains_inside"] > 50
    (True, True)
    """
    report, _, hr = _measure_field(
        boundaries, labels, pixel_size_um, method, pattern, n_lines, seed, segments, margin,
        skeletonize, triple_points, rule, field_margin, twins, exclude_twins, exclusion,
        min_grain_px, name, model_log_terms, mask_scale,
    )
    return (report, hr) if return_heyn else report


def _measure_field(
    boundaries: Any, labels: Any, pixel_size_um: float | None, method: str, pattern: str,
    n_lines: int, seed: int, segments: Any, margin: float, skeletonize: bool,
    triple_points: bool, rule: str, field_margin: float, twins: Any, exclude_twins: bool,
    exclusion: Any, min_grain_px: int, name: str | None,
    model_log_terms: tuple[float | None, float | None] | None = None,
    mask_scale: int | None = None,
) -> tuple[dict, np.ndarray, Any]:
    """:func:`measure_field` plus the grain label map and the Heyn result behind it."""
    from ..grainsize import field_interval  # it imports this module
    _method_check(method)
    mask_scale = check_field_mask_scale(mask_scale, method)  # before the field is read
    boundaries, labels, pixel_size_um, note = field_pixel_size(boundaries, labels,
                                                              pixel_size_um)
    source = boundaries if boundaries is not None else labels
    if len(np.shape(source)) >= 2:  # read whole below: refused before any pixel is read
        from ..estimates import check_in_memory, plan_mask_measurement

        check_in_memory(plan_mask_measurement(
            np.shape(source), np.dtype(source.dtype), held=isinstance(source, np.ndarray),
            twins=twins is not None and exclude_twins, exclusion=exclusion is not None,
            field=True), "measure_field", advice="measure fields or crops of it",
            error=HeynError)  # a ValueError: its line reaches users (MemoryError's not)
    grains, bnd, n_merged = grain_map(
        boundaries, labels=labels, twins=twins, exclude_twins=exclude_twins,
        min_grain_px=min_grain_px,
    )
    mask = bnd if bnd is not None else boundaries_from_labels(grains)
    hr = measure_intercepts(
        mask, pattern=pattern, n_lines=n_lines, seed=seed, segments=segments, margin=margin,
        skeletonize=skeletonize, pixel_size_um=pixel_size_um, exclusion=exclusion,
        triple_points=triple_points, mask_scale=mask_scale,
    )
    pr = planimetric(labels=grains, pixel_size_um=pixel_size_um, rule=rule,
                     exclusion=exclusion, margin=field_margin, min_grain_px=1)
    twins_excluded = None if twins is None else bool(exclude_twins)
    px = pixel_size_um
    warnings_ = ([] if note is None else [note]) + [f"intercept: {w}" for w in hr.warnings]
    n_boundary_px = hr.n_boundary_px
    measured = is_measured_field(hr.degenerate, n_boundary_px)
    if hr.degenerate:
        # not a boundary map: no grain count either (it would count specks)
        warnings_.append("planimetric: not a boundary map, no grain count is reported")
    elif not n_boundary_px:
        warnings_.append(f"{NO_BOUNDARY_NOTE}: the field is not measured (no N_L, no grain "
                         "count)")
    else:
        warnings_ += [f"planimetric: {w}" for w in pr.warnings]
    if not measured:
        pr.grains_per_px2 = pr.grains_per_mm2 = pr.astm_g = pr.mean_grain_area_um2 = None
    l_px = hr.total_length_px
    p = hr.intersection_count
    n_l_px = p / l_px if l_px > 0 and measured else None
    if hr.mean_intercept_px is not None and has_few_intersections(p):
        warnings_.append(f"intercept: {few_intersections_note(p)}")
    by_dir = hr.mean_intercept_by_direction_px
    out: dict[str, Any] = {
        "name": name,
        "method": method,
        "standard": INTERCEPT_STANDARD if method == "intercept" else pr.standard,
        "intercept_standard": INTERCEPT_STANDARD,
        "planimetric_standard": pr.standard,
        "pixel_size_um": px,
        # the boundary model's term of the field's interval (None: a mask); the specimen
        # summary says its interval has none (summarize_fields, model_scatter_note)
        "model_log_terms": None if model_log_terms is None else list(model_log_terms),
        # intercept
        "pattern": pattern,
        "n_lines": hr.n_lines,
        # the mask_scale given (None: not given) and the blocks the count's bridge ran on
        "mask_scale": hr.mask_scale,
        "block_scale": int(hr.block_scale),
        "total_line_length_px": l_px,
        "n_intersections": p,  # P here, the crossings in the Heyn outputs: see counts()
        **hr.counts(),
        "intersections_per_px": n_l_px,
        "mean_intercept_px": hr.mean_intercept_px,
        "intercepts_px": hr.intercepts_px,
        "mean_intercept_by_direction_px": by_dir,
        "anisotropy_index": hr.anisotropy_index,
        "excluded_line_length_px": hr.excluded_length_px,
        # 0: not measured (not segmented, or one grain covers the field), see
        # is_measured_field
        "n_boundary_px": n_boundary_px,
        # planimetric
        "rule": pr.rule,
        "n_grains_inside": pr.n_grains_inside,
        "n_grains_edge": pr.n_grains_edge,
        "n_grains_corner": pr.n_grains_corner,
        "n_field_corners": pr.n_field_corners,
        "n_grains_equivalent": pr.n_equivalent,
        "measured_area_px": pr.measured_area_px,
        "grains_per_px2": pr.grains_per_px2,
        "grain_areas_px2": pr.grain_areas_px2,
        "twins_excluded": twins_excluded,
        "n_twins_merged": int(n_merged),
        # in micrometres (None without a pixel size)
        "total_line_length_mm": None,
        "intersections_per_mm": None,
        "mean_intercept_um": None,
        "intercepts_um": None,
        "mean_intercept_by_direction_um": None,
        "grains_per_mm2": None,
        "measured_area_mm2": None,
        "grain_areas_um2": None,
        "mean_grain_area_um2": None,
        "astm_g_intercept": None,
        "astm_g_planimetric": None,
        "astm_g": None,
    }
    if px is not None:
        out["total_line_length_mm"] = l_px * px / 1000.0
        out["intersections_per_mm"] = None if n_l_px is None else n_l_px / px * 1000.0
        out["mean_intercept_um"] = hr.mean_intercept_um
        out["intercepts_um"] = hr.intercepts_px * px
        out["mean_intercept_by_direction_um"] = (
            None if by_dir is None
            else {k: (None if v is None else v * px) for k, v in by_dir.items()}
        )
        out["grains_per_mm2"] = pr.grains_per_mm2
        out["measured_area_mm2"] = pr.measured_area_px * px * px / 1e6
        out["grain_areas_um2"] = pr.grain_areas_um2
        out["mean_grain_area_um2"] = pr.mean_grain_area_um2
        out["astm_g_intercept"] = hr.astm_g
        out["astm_g_planimetric"] = pr.astm_g
        out["astm_g"] = hr.astm_g if method == "intercept" else pr.astm_g
        warn_g_range(warnings_, out["astm_g"])
    else:
        warnings_.append("no pixel size: grain size numbers (G) are not reported")
    # the field's own 95 % interval, by the rule of srmat grain-size's rows
    interval, no_interval = field_interval(hr, method=method, pixel_size_um=px,
                                           model_log_terms=model_log_terms,
                                           g_given=out["astm_g"] is not None)
    out.update(interval)
    areas = pr.grain_areas_um2 if px is not None else pr.grain_areas_px2
    mean_area = None
    if pr.grains_per_px2:
        mean_area = 1.0 / pr.grains_per_px2 * (px * px if px is not None else 1.0)
    ala = ala_grains(
        areas, mean_area=mean_area,
        measured_area=pr.measured_area_px * (px * px if px is not None else 1.0),
        area_to_mm2=1e-6 if px is not None else None,
    )
    duplex = duplex_test(areas)
    out["ala"] = ala
    out["duplex"] = duplex
    if duplex.get("warning"):
        warnings_.append(duplex["warning"])
    if ala["flag"]:
        g_txt = f" (ALA G {ala['ala_g']:.1f})" if ala["ala_g"] is not None else ""
        warnings_.append(
            f"{ala['n_coarse']} isolated coarse grain(s), the largest {ala['area_ratio']:.0f}x "
            f"the mean grain area{g_txt}: report the ALA grain size (ASTM E930) beside G"
        )
    elif ala["duplex_suspected"] and not duplex.get("bimodal"):
        warnings_.append(
            f"{ala['n_coarse']} coarse grain(s) (at least "
            f"{2 ** ALA_MIN_G_DIFFERENCE:g}x the mean grain area) cover "
            f"{100 * ala['coarse_area_fraction']:.0f}% of the area: too few to form a mode of "
            "the distribution, but by area a duplex grain size (ASTM E1181) is likely"
        )
    out["warnings"] = warnings_ + [f"intercept: {w}" for w in no_interval]
    return _clean(out), grains, hr


NO_BOUNDARY_NOTE = ("no boundary at all: not segmented, or one grain covers the whole "
                    "field")


def is_measured_field(degenerate: bool, n_boundary_px: int) -> bool:
    """Whether a field's mask gives a field value (N_L, N_A) at all.

    Not when it is no boundary map (``degenerate``: too many boundary pixels) or has no
    boundary pixel at all: an all-zero mask is a failed or blank segmentation (a wrong
    threshold, an inverted file) as much as a field inside one grain, and the two cannot
    be told apart, so neither gives a value (``None``, left out of the statistics with a
    warning). A field with boundary pixels that no test line crosses is measured: N_L =
    0, a field value.

    Parameters
    ----------
    degenerate : bool
        The mask is no boundary map (``HeynResult.degenerate``).
    n_boundary_px : int
        Boundary pixels of the mask measured (``HeynResult.n_boundary_px``, a
        :func:`measure_field` row's ``n_boundary_px``).

    Returns
    -------
    bool
        True when the field gives a field value.

    Examples
    --------
    >>> is_measured_field(False, 120), is_measured_field(False, 0)
    (True, False)
    >>> is_measured_field(True, 120)
    False
    """
    return not degenerate and n_boundary_px > 0


#: A :func:`measure_field` row's values and figures that a field without a value reports
#: as None (a map that is not a boundary map; :func:`withhold_field`), its intervals too.
FIELD_FIGURE_KEYS = (
    "intersections_per_px", "intersections_per_mm", "mean_intercept_px",
    "mean_intercept_um", "mean_intercept_by_direction_px", "mean_intercept_by_direction_um",
    "anisotropy_index", "grains_per_px2", "grains_per_mm2", "mean_grain_area_um2",
    "astm_g_intercept", "astm_g_planimetric", "astm_g", "mean_intercept_ci95_px",
    "mean_intercept_ci95_um", "astm_g_ci95", "interval_scope", "interval_note",
)


#: A :func:`measure_field` row's per-intercept and per-grain lists, empty in a row whose
#: figures are withheld (:func:`withhold_field`), as in one of a map without grains.
FIELD_LIST_KEYS = ("intercepts_px", "intercepts_um", "grain_areas_px2", "grain_areas_um2")


def withhold_field(field: dict) -> dict:
    """Withhold the figures of a :func:`measure_field` row whose input's measurement was
    withheld (``srmat grain-size --method`` of a micrograph too coarsely sampled, or
    whose boundary map shows no grain structure: the plain run's decision): its
    :data:`FIELD_FIGURE_KEYS` become None, as those of a map that is not a boundary map,
    so that :func:`summarize_fields` leaves it out of the statistics and of the pooled
    grain areas, with its warning of fields without a valid value. Its
    :data:`FIELD_LIST_KEYS` are emptied, its ``ala`` and ``duplex`` are those of no
    grains, and its warnings (on the figures withheld: few intersections, coarse grains,
    duplex) are dropped: the caller gives the reason. Until 2026-12-07 such a field got a
    G and entered the specimen (G 12.6, %RA 997 with one good field), and until s50 F7.2
    its row kept its lists, ALA G, duplex test and their warnings.

    Parameters
    ----------
    field : dict
        The row, changed in place (its ``warnings`` say why: the caller's).

    Returns
    -------
    dict
        ``field``.

    Examples
    --------
    >>> f = withhold_field({"astm_g": 14.3, "intersections_per_mm": 443.8,
    ...                     "intercepts_um": [2.0, 3.0], "warnings": ["3 coarse grain(s)"]})
    >>> f["astm_g"], f["intersections_per_mm"], f["mean_intercept_px"]
    (None, None, None)
    >>> f["intercepts_um"], f["warnings"], f["ala"]["ala_g"], f["duplex"]["n_grains"]
    ([], [], None, 0)
    """
    field.update(dict.fromkeys(FIELD_FIGURE_KEYS))
    for key in FIELD_LIST_KEYS:
        if field.get(key) is not None:  # None without a pixel size stays None
            field[key] = []
    field["ala"] = ala_grains([])
    field["duplex"] = duplex_test([])
    field["warnings"] = []
    return field


# --------------------------------------------------------------------- summary
def _is_field_value(value: Any, method: str) -> bool:
    """Whether a field's value enters the specimen statistics of :func:`summarize_fields`.

    Intercept method: any finite N_L of 0 or more. A field whose test lines crossed no
    boundary (they lay inside one grain) measured N_L = 0, and E112 (as ISO 643)
    averages the field values of N_L whatever they are; leaving the zeros out would
    move the specimen towards finer grains (higher N_L, smaller ℓ̄, higher G).
    Planimetric method: a finite N_A above 0. A Jeffries count is never 0 on a measured
    field: under E112 and ISO 643 a field inside one grain counts that grain's four
    corners, ¼ each (N_A = 1 / area), and under E1382 a field without a complete grain
    has no area to divide by (N_A undefined, ``None``); an N_A of 0 is no count.
    None and NaN (a field that could not be measured) never enter.

    Examples
    --------
    >>> _is_field_value(0.0, "intercept"), _is_field_value(0.0, "planimetric")
    (True, False)
    >>> _is_field_value(None, "intercept"), _is_field_value(float("nan"), "intercept")
    (False, False)
    """
    if value is None or not math.isfinite(value):
        return False
    return value >= 0 if method == "intercept" else value > 0


def specimen_fields_text(summary: dict) -> str:
    """How many fields a specimen summary (:func:`summarize_fields`) has, and how many
    of them its statistics use when fewer: ``"5 fields (4 in the statistics)"``.

    The one wording of the report's "fields" row
    (:func:`napari_srmat.report.specimen_summary_rows`), ``srmat grain-size --method``'s
    specimen line and the grain-size widget's status. A summary without
    ``n_fields_in_statistics`` (saved before it was added) reads as all fields.

    Examples
    --------
    >>> specimen_fields_text({"n_fields": 5, "n_fields_in_statistics": 4})
    '5 fields (4 in the statistics)'
    >>> specimen_fields_text({"n_fields": 1, "n_fields_in_statistics": 1})
    '1 field'
    """
    n, used = summary.get("n_fields"), summary.get("n_fields_in_statistics")
    text = f"{n} field{'' if n == 1 else 's'}"
    return text if used is None or used == n else f"{text} ({used} in the statistics)"


#: What a specimen's field values are called in a note that they scatter as much as
#: their mean (:func:`no_upper_end_note`, :func:`no_lower_end_note`).
FIELDS_N_L = "the fields' intersection densities"


def no_upper_end_note(low: float, unit: str, values: str = FIELDS_N_L) -> str:
    """The warning (and ``interval_note``) of a pooled ℓ̄ whose 95 % interval has no
    upper end: the interval of N_L reaches 0 (``r' >= 1``), so ℓ̄ = 1 / N_L is only
    bounded below; the interval is null, as a row's (``grainsize.grain_size_from_heyn``
    words it for the test lines of one field).

    Parameters
    ----------
    low : float
        The interval's lower end of ℓ̄.
    unit : str
        Its unit (``"px"``, ``"µm"``).
    values : str
        What scatters as much as its mean.

    Returns
    -------
    str
        A line that begins ``grainsize.NO_INTERVAL_NOTE``.

    Examples
    --------
    >>> no_upper_end_note(28.7, "µm")  # doctest: +NORMALIZE_WHITESPACE
    "no 95% interval: it has no upper end (ℓ̄ ≥ 28.7 µm at 95 %): the fields' intersection
    densities scatter as much as their mean"
    """
    from ..grainsize import NO_INTERVAL_NOTE  # it imports this module

    return (f"{NO_INTERVAL_NOTE}: it has no upper end (ℓ̄ ≥ {low:.3g} {unit} at 95 %): "
            f"{values} scatter as much as their mean")


def no_lower_end_note(high: float, unit: str) -> str:
    """The warning (and ``interval_note``) of a planimetric specimen whose 95 % interval
    of N_A reaches 0: only bounded above, no G at its lower end; the interval is null
    (:func:`no_upper_end_note`'s rule for N_A).

    Parameters
    ----------
    high : float
        The interval's upper end of N_A.
    unit : str
        Its unit (``"grains per mm²"``, ``"grains per px²"``).

    Returns
    -------
    str
        A line that begins ``grainsize.NO_INTERVAL_NOTE``.

    Examples
    --------
    >>> no_lower_end_note(1470.6, "grains per mm²")  # doctest: +NORMALIZE_WHITESPACE
    "no 95% interval: its lower end is at or below 0 (N_A ≤ 1.47e+03 grains per mm² at
    95 %): the fields' grain densities scatter as much as their mean"
    """
    from ..grainsize import NO_INTERVAL_NOTE  # it imports this module

    return (f"{NO_INTERVAL_NOTE}: its lower end is at or below 0 (N_A ≤ {high:.3g} {unit} "
            "at 95 %): the fields' grain densities scatter as much as their mean")


def _g_of(method: str, rule: str, value_per_mm: float) -> float | None:
    """G of a field value: N_L in 1/mm (intercept) or N_A in 1/mm² (planimetric)."""
    if not (value_per_mm and value_per_mm > 0 and math.isfinite(value_per_mm)):
        return None
    if method == "intercept":
        return float(astm_grain_size_number(1.0 / value_per_mm))
    if rule == "iso643":
        return float(iso643_g_from_grains_per_mm2(value_per_mm))
    return float(astm_g_from_grains_per_mm2(value_per_mm))


def _specimen_half(mean: float, half: float, ra: float, counts: list) -> float:
    """The half-width of a specimen's 95 % interval of the mean field value: the fields'
    Student-t scatter, floored at the resolution of their counts
    (:func:`floored_half_width` of ``n`` fields counting ``P`` in all), so that fields
    whose values agree by chance do not read a zero-width interval. ``half`` as it is
    where the floor is not known: no relative scatter (a mean of 0, one field) or a field
    without its count.

    Examples
    --------
    >>> round(_specimen_half(0.1, 0.0, 0.0, [40, 40, 40]), 5)   # t(2) sqrt(3/12)/120 x 0.1
    0.00179
    >>> round(_specimen_half(0.1, 0.02, 20.0, [40, 30, 50]), 5)   # the scatter is above
    0.02
    """
    known = all(isinstance(c, (int, float, np.number)) and math.isfinite(c) for c in counts)
    floored = (floored_half_width(mean, ra / 100.0, count=float(sum(counts)),
                                  n_lines=len(counts))
               if counts and known else math.nan)
    return floored if math.isfinite(floored) else half


def summarize_fields(fields: Sequence[dict], *, method: str | None = None
                     ) -> SpecimenSummary:
    """E112 statistics of several fields of one specimen.

    The field value is ``N_L`` (intersections per mm, P/L with the triple-point rule;
    for a single-phase structure E112 takes N_L = P_L) for the intercept method and
    ``N_A`` (grains per mm²) for the planimetric one; without a pixel size the same per
    pixel. From the field values: mean, standard deviation ``s``, 95 % confidence
    half-width ``t(0.975, n-1) s / sqrt(n)`` and ``%RA = 100 half-width / mean``
    (:func:`napari_srmat.metrics.heyn.confidence_interval`). The interval's half-width
    (``ci95_half_width``) is that of the scatter floored at the resolution of the
    fields' integer counts (:func:`floored_relative_half`: ``max(r, c)``,
    ``c = t(0.975, n-1) sqrt(n / 12) / P`` for n fields counting P intersections or
    grains in all), so that fields whose values agree do not read a zero-width interval;
    ``relative_accuracy_pct`` stays E112's %RA of the scatter. G and its 95 % interval
    come from the mean and the interval ends.

    Which fields count (:func:`_is_field_value`): intercept, every finite N_L, 0
    included: a field whose test lines crossed no boundary measured N_L = 0 and is
    averaged as E112 and ISO 643 average every field's N_L (a warning names it: its
    test lines are shorter than the grains); planimetric, every finite N_A above 0: a
    Jeffries count is never 0 on a measured field (a field inside one grain counts 1
    under E112 and ISO 643; under E1382 it has no complete grain and no N_A), so an N_A
    of 0 is no count. A field without a value (None, NaN: not measured) is left out,
    with a warning; a field without any boundary pixel (``n_boundary_px`` 0, see
    :func:`is_measured_field`) is not measured and named. An interval with an end at
    or below 0 grains (or intersections) per unit, which has no G and no ℓ̄ there, is
    null, with a warning that gives its other end (:func:`no_upper_end_note`,
    :func:`no_lower_end_note`) and ``interval_note``, the rule of every row
    (``grainsize.interval_note``; until 2026-12-07 a half-open ``[low, None]``).

    Parameters
    ----------
    fields : sequence of dict
        :func:`measure_field` results (same method and rule; fields each calibrated
        pool per mm whatever their pixel sizes, fields without one beside calibrated
        ones are not pooled: :func:`mixed_pixel_sizes_warning`).
    method : {"intercept", "planimetric"}, optional
        Default: the fields' ``method``.

    Returns
    -------
    SpecimenSummary
        A dict: ``method``, ``standard``, ``interval_scope`` (:func:`interval_scope` of
        ``n_fields_in_statistics``: :data:`SPECIMEN_SCOPE` from two fields on, whose
        interval is over the fields; :data:`FIELD_SCOPE` for one, whose figure is that
        field's and has no interval; ``None`` for none), ``n_fields``,
        ``n_fields_in_statistics`` (the
        fields with a valid value: the n of the mean, sd, interval and %RA),
        ``field_quantity``,
        ``field_values``, ``mean``, ``sd``, ``ci95_half_width``, ``relative_accuracy_pct``,
        ``astm_g``, ``astm_g_ci95`` (``[low, high]``), ``mean_intercept_um`` and
        ``mean_intercept_ci95_um`` (formerly ``mean_intercept_um_ci95``, still read with a
        DeprecationWarning: :data:`RENAMED_SUMMARY_KEYS`) or ``grains_per_mm2`` and
        ``grains_per_mm2_ci95``, ``anisotropy_index`` (mean of the fields'), ``duplex`` and
        ``ala`` of the pooled grain areas, ``advice`` (what E112 suggests doing),
        ``warnings`` and ``interval_note`` (why the G, ℓ̄ or N_A interval is None where
        the figure is given; None otherwise). For fields with and without a pixel size
        the pooled ``mean``, ``sd``, ``ci95_half_width``, ``relative_accuracy_pct``,
        ``interval_scope``, G, ``duplex`` and ``ala`` are None and ``advice`` holds no
        specimen advice (:func:`mixed_pixel_sizes_warning`, the one warning).

    Examples
    --------
    >>> fields = [{"method": "planimetric", "rule": "e112", "pixel_size_um": 1.0,
    ...            "grains_per_mm2": v, "n_grains_inside": 80, "n_grains_equivalent": 90,
    ...            "grain_areas_um2": [], "warnings": []} for v in (900., 1000., 1100.)]
    >>> s = summarize_fields(fields)
    >>> round(s["relative_accuracy_pct"], 1), s["n_fields"]
    (24.8, 3)
    """
    from ..grainsize import interval_note  # it imports this module

    fields = list(fields)
    if not fields:
        raise ValueError("no fields to summarize")
    method = method or fields[0].get("method", "intercept")
    _method_check(method)
    rule = fields[0].get("rule", "e112")
    key, key_px = (("intersections_per_mm", "intersections_per_px") if method == "intercept"
                   else ("grains_per_mm2", "grains_per_px2"))
    # the pixel sizes of the fields in the statistics, as srmat heyn's pooled one: a field
    # left out (no boundary pixel, not a boundary map) without a calibration does not
    # withhold the others' G; each field calibrated (one size or its own): per mm
    calibration = pixel_size_calibration(statistics_pixel_sizes(fields, method))
    has_um = calibration in (ONE_SIZE, SIZES_DIFFER)
    warnings_: list[str] = []
    # fields with and without a pixel size: no pooled figure (one rule with srmat heyn)
    mixed = mixed_pixel_sizes_warning(fields, method)
    if mixed:
        warnings_.append(mixed)
    if method == "intercept":
        quantity = "N_L, intersections per mm" if has_um else "N_L, intersections per px"
        count_key, count_name = "n_intersections", "intersections"
        standard = INTERCEPT_STANDARD
    else:
        quantity = "N_A, grains per mm²" if has_um else "N_A, grains per px²"
        count_key, count_name = "n_grains_equivalent", "grains"
        standard = STANDARD_OF_RULE.get(rule, rule)
    vals = [f.get(key if has_um else key_px) for f in fields]
    valid = [v for v in vals if _is_field_value(v, method)]
    # the fields of the statistics: those of every pooled figure too (the anisotropy, the
    # grain areas of duplex and ALA; until 2026-12-07 pooled from every field, a map that
    # is not a boundary map included: a false duplex warning)
    counted = [f for f, v in zip(fields, vals) if _is_field_value(v, method)]
    # a field without a boundary pixel is named, with both readings (measure_field)
    blank = [i for i, f in enumerate(fields)
             if f.get("n_boundary_px") == 0 and not _is_field_value(vals[i], method)]
    if blank:
        warnings_.append(f"field(s) {_field_names(fields, blank)} have {NO_BOUNDARY_NOTE}; "
                         "left out of the statistics")
    if len(valid) + len(blank) < len(vals):
        warnings_.append(f"{len(vals) - len(valid) - len(blank)} field(s) without a valid "
                         "value are left out")
    zero = [i for i, v in enumerate(vals) if method == "intercept" and v == 0]
    if zero:
        warnings_.append(
            f"field(s) {_field_names(fields, zero)} have no boundary crossing (N_L = 0: "
            "their test lines lay inside one grain); the 0 is a field value of the "
            "statistics, as E112 averages every field's N_L: lengthen the test lines or "
            "measure fewer, larger fields")
    mean, half, ra = confidence_interval(valid) if valid else (math.nan, math.nan, math.nan)
    half = _specimen_half(mean, half, ra, [f.get(count_key) for f in counted])
    sd = float(np.std(valid, ddof=1)) if len(valid) >= 2 else math.nan
    out: dict[str, Any] = {
        "method": method,
        "standard": standard,
        # the specimen's from two fields in the statistics on; one field's figure (no
        # interval over fields) is that field's
        "interval_scope": interval_scope(len(valid)),
        "n_fields": len(fields),
        # the n of the statistics (t(0.975, n - 1), %RA): the fields with a valid value
        "n_fields_in_statistics": len(valid),
        "field_quantity": quantity,
        "field_values": vals,
        "mean": mean,
        "sd": sd,
        "ci95_half_width": half,
        "relative_accuracy_pct": ra,
        "astm_g": None,
        "astm_g_ci95": None,
    }
    if has_um and math.isfinite(mean):
        # a mean N_L of 0 (every field without a crossing) has no G and no ℓ̄ (infinite)
        g = _g_of(method, rule, mean)
        out["astm_g"] = g
        warn_g_range(warnings_, g)
        # the interval of the field values, where it is one of positive values: an end at
        # or below 0 grains (intersections) per unit has no G and no ℓ̄, and the interval
        # is null with a warning and interval_note saying so, the rule of every row
        # (grainsize.interval_note; until 2026-12-07 a half-open [low, null] pair)
        closed = math.isfinite(half) and g is not None and mean - half > 0
        if closed:
            out["astm_g_ci95"] = [_g_of(method, rule, mean - half),
                                  _g_of(method, rule, mean + half)]
        elif math.isfinite(half) and g is not None:
            warnings_.append(
                no_upper_end_note(_um_of_per_mm(mean + half), "µm") if method == "intercept"
                else no_lower_end_note(mean + half, "grains per mm²"))
        if method == "intercept":
            out["mean_intercept_um"] = _um_of_per_mm(mean)
            out["mean_intercept_ci95_um"] = (
                [_um_of_per_mm(mean + half), _um_of_per_mm(mean - half)] if closed else None)
        else:
            out["grains_per_mm2"] = mean
            out["grains_per_mm2_ci95"] = [mean - half, mean + half] if closed else None
    elif not has_um and not mixed:
        warnings_.append("no pixel size: grain size numbers (G) are not reported")
    anis = [f.get("anisotropy_index") for f in counted if f.get("anisotropy_index") is not None]
    out["anisotropy_index"] = float(np.mean(anis)) if anis else None
    area_key = "grain_areas_um2" if has_um else "grain_areas_px2"
    pooled = [a for f in counted for a in (f.get(area_key) or [])]
    out["duplex"] = duplex_test(pooled)
    mean_area, measured_area = _pooled_areas(counted, has_um)
    out["ala"] = ala_grains(pooled, mean_area=mean_area, measured_area=measured_area,
                            area_to_mm2=1e-6 if has_um else None)
    if out["duplex"].get("warning") and not mixed:
        warnings_.append(out["duplex"]["warning"])
    if len(counted) >= 2 and not mixed:
        # an unnamed field is named by its index among all the fields, as by every
        # warning here (until 2026-12-07 by its index among those counted)
        warnings_ += model_scatter_notes(
            [{**f, "name": f.get("name") or str(i)} for i, (f, v) in enumerate(zip(fields, vals))
             if _is_field_value(v, method)])
    # E112 advice (none on figures withheld)
    advice = [] if mixed else specimen_advice(len(valid), ra)
    low = [i for i, f in enumerate(fields) if f.get(count_key) is not None
           and f[count_key] < MIN_COUNT_PER_FIELD and _is_field_value(vals[i], method)]
    if low:
        advice.append(
            f"field(s) {_field_names(fields, low)} have fewer than {MIN_COUNT_PER_FIELD} "
            f"{count_name}: {per_field_count_ask()}; {FEW_COUNTS_REMEDY[method]}"
        )
    if mixed:  # pixels of unknown size beside known ones: nothing pooled (the warning)
        out.update(dict.fromkeys(("mean", "sd", "ci95_half_width", "relative_accuracy_pct",
                                  "interval_scope", "duplex", "ala")))
    out["advice"] = advice
    out["warnings"] = warnings_
    # why an interval is null where its figure is given (every row's key and rule)
    out["interval_note"] = interval_note(warnings_)
    return SpecimenSummary(_clean(out))


#: How often the specimen 95 % interval of model-measured fields (the fields' scatter
#: only, :func:`model_scatter_notes`) held the truth out of fold: 45 of 56 scan specimens
#: (the 14 tbm train+val scans, their regions the fields, four leave-scan-out repetitions
#: of the fold models; truth the masks' specimen ℓ̄): ``studies/specimen_interval_coverage.py``,
#: ``oof_pooled.scatter.coverage_pct`` of
#: ``studies/results/specimen_interval_coverage.json`` (a test holds them equal).
SPECIMEN_SCATTER_COVERAGE_PCT = 80.4
#: The scans of that figure (one specimen each per repetition).
SPECIMEN_SCATTER_COVERAGE_SCANS = 14


def model_scatter_notes(fields: Sequence[dict]) -> list[str]:
    """What a specimen interval over fields of a boundary model's maps does not hold.

    The specimen interval of :func:`summarize_fields` is the fields' scatter only: the
    model's error of each field's ℓ̄ (its row's ``model_log_terms``, a term of the
    field's own interval) is largely common to the fields (one model, one kind of
    micrograph) and does not average out, so the interval narrows as 1 / sqrt(n) below
    the model's calibrated error. Five synthetic fields (s50 F1): each field's interval
    (model term -20 % / +43 % of ℓ̄, ``grainsize.MODEL_LOG_ERROR_95`` as the note
    writes it) held its truth, the specimen's [17.30, 18.47] µm missed the fields'
    16.83 µm. Out of fold on scans it held the truth for
    :data:`SPECIMEN_SCATTER_COVERAGE_PCT` % of them, which the warning quotes.
    Fields measured outside the model's reliable scale (a scale warning,
    ``grainsize.is_scale_warning``) are named too.

    Parameters
    ----------
    fields : sequence of dict
        The fields in the statistics (:func:`measure_field` rows).

    Returns
    -------
    list of str
        The warnings; empty where no field is a model's map.

    Examples
    --------
    >>> model_scatter_notes([{"model_log_terms": None, "warnings": []}])
    []
    >>> model_scatter_notes([{"name": "a", "model_log_terms": [0.3, 0.3],
    ...                       "warnings": []}])[0].startswith("the specimen interval")
    True
    >>> from napari_srmat.grainsize import MODEL_LOG_ERROR_95 as e  # a field row's terms
    >>> "(up to -20 % / +43 % on" in model_scatter_notes(
    ...     [{"name": "a", "model_log_terms": [e[1], -e[0]], "warnings": []}])[0]
    True
    """
    from ..grainsize import is_scale_warning  # it imports this module

    terms = [f["model_log_terms"] for f in fields if f.get("model_log_terms")]
    if not terms:
        return []
    known = [t for t in terms if None not in t]
    size = ""
    if known:
        lo = 100 * (1 - math.exp(-max(t[0] for t in known)))
        hi = 100 * (math.exp(max(t[1] for t in known)) - 1)
        size = f" (up to -{lo:.0f} % / +{hi:.0f} % on a field's ℓ̄)"
    notes = [f"the specimen interval is the fields' scatter only: it holds no term of the "
             f"boundary model's error{size}, which is largely common to fields measured by "
             "one model and does not average out over them; out of fold it held the truth "
             f"for {SPECIMEN_SCATTER_COVERAGE_PCT:.0f} % of {SPECIMEN_SCATTER_COVERAGE_SCANS} "
             "scans' specimens (studies/specimen_interval_coverage.py), not 95 %; read it "
             "beside the fields' own intervals, which hold it"]
    scaled = [i for i, f in enumerate(fields)
              if any(is_scale_warning(w) for w in f.get("warnings") or [])]
    if scaled:
        notes.append(f"field(s) {_field_names(fields, scaled)} were measured outside the "
                     "boundary model's reliable scale (see their warnings): the specimen "
                     "figure carries their error")
    return notes


#: How fields' pixel sizes stand (:func:`pixel_size_calibration`): one size (equal
#: within the library's tolerance, ``io.pixels_square``), none known, each known but not
#: one, some known and some not.
ONE_SIZE, NO_SIZE, SIZES_DIFFER, SIZES_MIXED = "one", "none", "differ", "mixed"


def pixel_size_calibration(pixel_sizes: Sequence[float | None]) -> str:
    """How fields' pixel sizes stand: :data:`ONE_SIZE`, :data:`NO_SIZE`,
    :data:`SIZES_DIFFER` or :data:`SIZES_MIXED`.

    The one rule of the fields' one pixel size: ``srmat heyn``'s pool (pixels pooled
    in one size, µm at it), :func:`summarize_fields` (per mm where every field has a
    size, :data:`ONE_SIZE` or :data:`SIZES_DIFFER`), :func:`mixed_pixel_sizes_warning`
    (:data:`SIZES_MIXED`) and a specimen report's "pixel size" row. One size is sizes
    equal within ``io.pixels_square``'s tolerance (the rule of
    ``given_pixel_size_message``), so that one calibration read from a PNG's pHYs
    (whole pixels per metre) and from a TIFF or OME-Zarr is not taken for two.

    Parameters
    ----------
    pixel_sizes : sequence of float or None
        The fields' pixel sizes in µm, None for a field without one (none: :data:`NO_SIZE`).

    Returns
    -------
    str

    Examples
    --------
    >>> [pixel_size_calibration(s) for s in ([0.5, 0.5], [None, None], [0.5, 1.0],
    ...                                      [0.5, None])]
    ['one', 'none', 'differ', 'mixed']
    """
    from ..io import pixels_square  # it imports this package

    known = [p for p in pixel_sizes if p is not None]
    if not known:
        return NO_SIZE
    if len(known) < len(pixel_sizes):
        return SIZES_MIXED
    return ONE_SIZE if all(pixels_square(p, known[0]) for p in known) else SIZES_DIFFER


def common_pixel_size(pixel_sizes: Sequence[float | None]) -> float | None:
    """The fields' one pixel size (the first field's), where they have one
    (:func:`pixel_size_calibration`), else None.

    Parameters
    ----------
    pixel_sizes : sequence of float or None
        The fields' pixel sizes in µm, None for a field without one.

    Returns
    -------
    float or None

    Examples
    --------
    >>> common_pixel_size([0.5, 0.5000001]), common_pixel_size([0.5, 1.0])
    (0.5, None)
    """
    one = pixel_size_calibration(pixel_sizes) == ONE_SIZE
    return pixel_sizes[0] if one else None


def statistics_pixel_sizes(fields: Sequence[dict], method: str | None = None
                           ) -> list[float | None]:
    """The pixel sizes of the fields in the statistics (a value in either unit,
    :func:`_is_field_value`), every field's where none has one: the sizes the pooled
    figures of :func:`summarize_fields` are in (a field left out, e.g. without any
    boundary pixel, does not decide their unit), as ``srmat heyn``'s pool.

    Parameters
    ----------
    fields : sequence of dict
        :func:`measure_field` results (``pixel_size_um``, the field value).
    method : {"intercept", "planimetric"}, optional
        Default: the first field's ``method``.

    Returns
    -------
    list of float or None
    """
    counted = _counted_fields(fields, method) or range(len(fields))
    return [fields[i].get("pixel_size_um") for i in counted]


#: What a specimen (``srmat heyn``'s pool) of fields with and without a pixel size
#: withholds, and what to do (:func:`mixed_pixel_sizes_warning`).
MIXED_PIXEL_SIZES_REMEDY = (
    "pooled figures withheld (pixels of unknown size are not pooled with those of a known "
    "one); record their pixel size or measure them apart"
)
#: Its remedy, which the commands' refusals of such a specimen name (srmat heyn,
#: srmat grain-size --method).
MIXED_PIXEL_SIZES_ACTION = MIXED_PIXEL_SIZES_REMEDY.rpartition("; ")[2]


def mixed_pixel_sizes_warning(fields: Sequence[dict], method: str | None = None,
                              what: str = "fields") -> str | None:
    """Why the pooled figures of fields with and without a pixel size are withheld (one
    line, naming those without), else None.

    The one rule of :func:`summarize_fields` (its mean, sd, %RA, interval, G, advice,
    duplex and ALA withheld), ``srmat heyn`` (``what="masks"``: its pooled figures
    withheld) and ``srmat grain-size --method``. Both commands then exit 2 after their
    rows (``srmat heyn``'s per-mask rows, the fields and summary), saying why: no
    grain size was measured for the specimen, and a script must not carry on as if it
    were (until 2026-12-07 ``srmat heyn`` exited 0, its pooled figures null). Pixels of
    unknown size pooled with those of a known one would be averaged as if of one size,
    which nothing tells; fields each calibrated pool their N_L (N_A) per mm (mm²),
    right whatever their sizes (two magnifications): no word. Until 2026-12-07
    :func:`summarize_fields` pooled such fields per pixel (with %RA advice) while
    ``srmat heyn`` withheld its pool and the Specimen tab refused them.

    Parameters
    ----------
    fields : sequence of dict
        ``name``, ``pixel_size_um`` and the field value (``intersections_per_mm`` /
        ``_per_px``, ``grains_per_mm2`` / ``_per_px2``): only the fields with a value
        count (a field left out of the statistics does not withhold the others'); none
        with one: None (no figure to withhold; the cause is that no field gives a
        value).
    method : {"intercept", "planimetric"}, optional
        Default: the first field's ``method``.
    what : str
        What the fields are called (``"masks"`` for ``srmat heyn``).

    Returns
    -------
    str or None

    Examples
    --------
    >>> mixed_pixel_sizes_warning(
    ...     [{"name": "a", "pixel_size_um": 0.5, "intersections_per_mm": 40.0},
    ...      {"name": "b", "pixel_size_um": None, "intersections_per_px": 0.02}], "intercept")
    ... # doctest: +NORMALIZE_WHITESPACE
    'the fields have different or unknown pixel sizes (1 of 2 without one: b): pooled
    figures withheld (pixels of unknown size are not pooled with those of a known one);
    record their pixel size or measure them apart'
    """
    counted = _counted_fields(fields, method)
    # only counted fields with and without a size withhold (none counted, none gives a
    # value: nothing pooled, nothing withheld for this)
    if pixel_size_calibration([fields[i].get("pixel_size_um") for i in counted]) != SIZES_MIXED:
        return None
    unknown = [i for i in counted if fields[i].get("pixel_size_um") is None]
    return (f"the {what} have different or unknown pixel sizes ({len(unknown)} of "
            f"{len(counted)} without one: {_field_names(fields, unknown)}): "
            f"{MIXED_PIXEL_SIZES_REMEDY}")


def _counted_fields(fields: Sequence[dict], method: str | None = None) -> list[int]:
    """The indexes of the fields with a value in either unit (those in the statistics,
    :func:`_is_field_value`)."""
    method = method or (fields[0].get("method", "intercept") if fields else "intercept")
    keys = (("intersections_per_mm", "intersections_per_px") if method == "intercept"
            else ("grains_per_mm2", "grains_per_px2"))
    return [i for i, f in enumerate(fields)
            if any(_is_field_value(f.get(k), method) for k in keys)]


def _field_names(fields: Sequence[dict], which: Sequence[int]) -> str:
    """The names (else indexes) of ``fields[i]`` for ``i`` in ``which``, the first five
    of them and how many more (:func:`napari_srmat.metrics.heyn._names`)."""
    return _names([str(fields[i].get("name") or i) for i in which])


def _um_of_per_mm(n_l: float) -> float | None:
    """ℓ̄ in µm of an N_L per mm; None for N_L at or below 0 (no finite ℓ̄)."""
    return 1000.0 / n_l if n_l > 0 else None


def _pooled_areas(fields: Sequence[dict], has_um: bool) -> tuple[float | None, float | None]:
    """Mean grain area and measured area of several fields, for their ALA grains.

    As for one field (:func:`measure_field`): the mean grain area is ``1 / N_A`` of the
    Jeffries count, here pooled (the area each field's count N was divided by, summed,
    over the summed N), and the measured area is the fields' (µm² with a pixel size,
    else px²). None where a field lacks its count or its count is not finite
    (``ala_grains`` then takes the mean and the sum of the grain areas).
    """
    na_key, area_key, to_unit = (("grains_per_mm2", "measured_area_mm2", 1e6) if has_um
                                 else ("grains_per_px2", "measured_area_px", 1.0))
    counted = n = measured = 0.0
    for f in fields:
        n_a, n_eq, meas = f.get(na_key), f.get("n_grains_equivalent"), f.get(area_key)
        if not all(v and math.isfinite(v) for v in (n_a, n_eq, meas)):
            return None, None  # NaN or infinite too: no count (as the field values)
        counted += n_eq / n_a * to_unit
        n += n_eq
        measured += meas * to_unit
    return (counted / n, measured) if n > 0 else (None, None)


def _fields_needed(n: int, ra: float, target: float = RA_LIMIT_PCT) -> int:
    """The fewest fields whose %RA would be at most ``target`` if the standard deviation
    and the mean of the field values stayed those of the ``n`` measured (%RA ``ra``).

    %RA of k fields is ``100 t(0.975, k-1) s / (sqrt(k) mean)``: both the t quantile
    and the square root change with k (``n (ra / target)**2`` keeps the t of n fields,
    and with 2 or 3 fields overstates the need several times over).
    """
    t_n = t_quantile_95(n - 1)

    def ra_of(k: int) -> float:
        return ra * t_quantile_95(k - 1) / t_n * math.sqrt(n / k)

    # ra_of(n) = ra > target; at n (ra / target)**2 fields, t(k-1) <= t(n-1) already
    # brings it to target or below: bisect between them (ra_of falls with k)
    lo, hi = n, max(n + 1, math.ceil(n * (ra / target) ** 2))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ra_of(mid) <= target:
            hi = mid
        else:
            lo = mid
    return hi


@dataclass
class SpecimenMeasurement:
    """Result of :func:`measure_specimen_job`: the report and the maps behind it.

    Attributes
    ----------
    report : dict
        JSON-able ``{"images": [...], "summary": {...}}`` (what :func:`measure_specimen`
        returns).
    grains : list of ndarray
        Per field, the grain label map the planimetric count used (0 = boundary or
        unassigned), in the field's pixels.
    heyn : list of HeynResult
        Per field, the intercept measurement (intersections, test lines).
    """

    report: dict
    grains: list = field(default_factory=list)
    heyn: list = field(default_factory=list)


def pool_fields(fields: Sequence[dict], summary: dict | None = None) -> dict:
    """A field-like dict holding every field's intercepts and grain areas (pooled).

    For the pooled histograms of a specimen
    (:func:`napari_srmat.metrics.distributions.distributions_figure`): each list key is
    the concatenation over the fields in the statistics (those with a value, the set
    :func:`mixed_pixel_sizes_warning` judges: a blank field without a pixel size does
    not turn the others' µm lists into pixels of different sizes), or None when one of
    them lacks it (e.g. µm lists without a pixel size); ``duplex`` is the summary's.
    """
    out: dict[str, Any] = {"duplex": (summary or {}).get("duplex")}
    counted = [fields[i] for i in _counted_fields(fields, (summary or {}).get("method"))]
    for key in ("intercepts_um", "intercepts_px", "grain_areas_um2", "grain_areas_px2"):
        vals = [f.get(key) for f in counted]
        out[key] = None if any(v is None for v in vals) else [x for v in vals for x in v]
    return out


def field_grid(shape: Sequence[int], rows: int, cols: int) -> list[tuple[slice, slice]]:
    """Split an image into ``rows x cols`` non-overlapping fields of (almost) equal size.

    Parameters
    ----------
    shape : (H, W)
        Image shape.
    rows, cols : int
        Number of fields down and across (each >= 1).

    Returns
    -------
    list of (slice, slice)
        Row-major windows covering the image; sizes differ by at most one pixel.

    Examples
    --------
    >>> [tuple((s.start, s.stop) for s in w) for w in field_grid((10, 9), 2, 3)][:2]
    [((0, 5), (0, 3)), ((0, 5), (3, 6))]
    """
    h, w = int(shape[0]), int(shape[1])
    rows, cols = int(rows), int(cols)
    if rows < 1 or cols < 1:
        raise ValueError(f"a field grid needs at least 1 x 1 fields, got {rows} x {cols}")
    if rows > h or cols > w:
        raise ValueError(f"a {h} x {w} image cannot be cut into {rows} x {cols} fields")
    ys = [int(v) for v in np.linspace(0, h, rows + 1).round()]
    xs = [int(v) for v in np.linspace(0, w, cols + 1).round()]
    return [(slice(ys[i], ys[i + 1]), slice(xs[j], xs[j + 1]))
            for i in range(rows) for j in range(cols)]


def _field_spec(f: Any) -> dict:
    return dict(f) if isinstance(f, dict) else {"boundaries": f}


def _or_given(own: float | None, given: float | None) -> float | None:
    """A field's pixel size: its dict's own, else (absent or None: not given, as a layer
    or file without a calibration puts it) the one given for every field. Until
    2026-12-07 a dict's None overrode the given size (that field measured in pixels and
    the specimen's G withheld)."""
    return given if own is None else own


def measure_specimen_job(
    fields: Sequence[Any], *, method: str = "intercept", names: Sequence[str] | None = None,
    stop: StopToken | None = None, **kw: Any,
) -> Generator[Event, None, SpecimenMeasurement | None]:
    """Measure the fields of a specimen one by one, yielding progress (a job).

    The job behind :func:`measure_specimen`, the grain-size widget's *Specimen* tab and
    ``srmat grain-size --method``: it yields :class:`~napari_srmat.jobs.Progress` after
    each field and stops between fields when ``stop`` asks (yielding
    :class:`~napari_srmat.jobs.Stopped` and returning None).

    Parameters
    ----------
    fields, method, names, **kw
        As for :func:`measure_specimen`.
    stop : StopToken, optional
        Checked before each field.

    Returns
    -------
    SpecimenMeasurement or None
        The report and, per field, the grain map and the Heyn result; None when stopped.
    """
    _method_check(method)
    if len(fields) == 0:
        raise ValueError("a specimen needs at least one field")
    if names is not None and len(names) != len(fields):
        raise ValueError(f"{len(names)} names for {len(fields)} fields")
    allowed = set(inspect.signature(measure_field).parameters) - {
        "boundaries", "labels", "twins", "exclusion", "name", "method", "return_heyn"}
    unknown = sorted(set(kw) - allowed)
    if unknown:
        raise TypeError(f"unknown measurement option(s): {', '.join(unknown)}")
    opts = {k: v.default for k, v in inspect.signature(measure_field).parameters.items()
            if k in allowed}
    opts.update(kw)
    images, grains, heyn = [], [], []
    total = len(fields)
    yield Progress(0, total, stage="fields")
    for i, f in enumerate(fields):
        if stop is not None and stop.stop_requested:
            yield Stopped(f"stopped after {i} of {total} fields")
            return None
        spec = _field_spec(f)
        name = spec.pop("name", None)
        if names is not None:
            name = names[i]
        unknown = sorted(set(spec) - {"boundaries", "labels", "twins", "exclusion",
                                      "pixel_size_um"})
        if unknown:
            raise TypeError(f"field {i}: unknown key(s) {', '.join(unknown)}")
        report, g, hr = _measure_field(
            spec.get("boundaries"), spec.get("labels"),
            _or_given(spec.get("pixel_size_um"), opts["pixel_size_um"]), method,
            opts["pattern"], opts["n_lines"], opts["seed"], opts["segments"], opts["margin"],
            opts["skeletonize"], opts["triple_points"], opts["rule"], opts["field_margin"],
            spec.get("twins"), opts["exclude_twins"], spec.get("exclusion"),
            opts["min_grain_px"], name or str(i), opts["model_log_terms"],
            opts["mask_scale"],
        )
        images.append(report)
        grains.append(g)
        heyn.append(hr)
        yield Progress(i + 1, total, stage="fields")
    report = {"images": images, "summary": summarize_fields(images, method=method)}
    return SpecimenMeasurement(report=report, grains=grains, heyn=heyn)


def measure_specimen(
    fields: Sequence[Any], *, method: str = "intercept", names: Sequence[str] | None = None,
    **kw: Any,
) -> dict:
    """Measure every field of a specimen and summarize them.

    Parameters
    ----------
    fields : sequence
        One entry per field: a boundary mask, or a dict with ``boundaries`` or
        ``labels`` and optionally ``twins``, ``exclusion``, ``name`` and
        ``pixel_size_um`` (that field's, over the one of ``**kw``; None, as absent, is
        not given: the one of ``**kw``. Fields of different pixel sizes are pooled in µm
        by :func:`summarize_fields`, as ``srmat grain-size`` pools its images).
    method : {"intercept", "planimetric"}
        Method of ``astm_g`` and of the summary statistics.
    names : sequence of str, optional
        Field names (default: the dicts' ``name`` or the index).
    **kw
        Passed to :func:`measure_field` (``pixel_size_um``, ``pattern``, ``n_lines``,
        ``rule``, ``triple_points``, ...).

    Returns
    -------
    dict
        ``{"images": [measure_field(...) per field], "summary": summarize_fields(...)}``,
        JSON-able.
    """
    result = run_job(measure_specimen_job(fields, method=method, names=names, **kw),
                     quiet=True)
    return result.report
