"""Grain-size reports a lab files with a sample: self-contained HTML, and PDF.

A :class:`GrainSizeReport` gathers what a metallurgist files: the sample's metadata
(:class:`SampleInfo`), the micrograph with the boundary map, the test lines and the
intercept points and a scale bar, ℓ̄ and G with their 95 % intervals, the per-field or
per-line table, the histograms, how it was measured (model, checkpoint hash, thresholds,
pixel size) and the manual edits and audit summary when there are any.
:func:`report_from_specimen` and :func:`report_from_heyn` build one from the results of
:func:`napari_srmat.metrics.measure_specimen` and of a Heyn measurement;
:func:`write_report` writes it as HTML (one file, pictures embedded: JPEG micrographs,
PNG plots) or PDF (matplotlib's PDF backend: pure Python). No Qt: the grain-size widget,
the CLI and notebooks share it.

Examples
--------
>>> import numpy as np
>>> from napari_srmat.synth import generate_microstructure
>>> from napari_srmat.metrics.standards import measure_specimen
>>> ms = generate_microstructure((128, 128), mean_grain_size_px=16, seed=2)
>>> spec = measure_specimen([ms.boundaries], pixel_size_um=0.5, n_lines=10)
>>> rep = report_from_specimen(spec, sample=SampleInfo(specimen_id="S-1"),
...                            image=ms.image, boundaries=ms.boundaries)
>>> rep.summary[0][0]
'standard'
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_write_bytes
from .io import LENGTH_UNIT
from .outputs import check_output_file

__all__ = [
    "SampleInfo",
    "format_value",
    "GrainSizeNumber",
    "as_grain_size_number",
    "format_result_value",
    "one_field_ra_label",
    "MASK_SCALE_FROM_MASK",
    "mask_scale_rows",
    "G_DECIMALS",
    "format_g",
    "G_CI95_LABEL",
    "GrainSizeReport",
    "REPORT_FORMATS",
    "report_from_specimen",
    "specimen_summary_rows",
    "grain_size_number_label",
    "report_from_heyn",
    "overlay_figure",
    "write_report",
    "is_our_report",
]

#: Formats :func:`write_report` writes, by file suffix.
REPORT_FORMATS = {".html": "html", ".htm": "html", ".pdf": "pdf"}

#: Marker of our reports (HTML ``<meta name="generator">``, PDF ``Creator``).
GENERATOR = "napari-srmat grain-size report"

#: Longest side (px) of the micrograph drawn in a report (larger images are subsampled).
OVERLAY_MAX_PX = 1200

#: Figure resolution of the pictures embedded in reports.
REPORT_DPI = 110

#: JPEG quality of the micrograph pictures in HTML reports (plots are PNG).
JPEG_QUALITY = 85


@dataclass
class SampleInfo:
    """What identifies the sample and its preparation (all optional, free text)."""

    specimen_id: str = ""
    section_plane: str = ""
    rolling_direction: str = ""
    magnification: str = ""
    etchant: str = ""
    operator: str = ""
    notes: str = ""

    LABELS = {
        "specimen_id": "Specimen ID",
        "section_plane": "Section plane",
        "rolling_direction": "Rolling direction",
        "magnification": "Magnification",
        "etchant": "Etchant",
        "operator": "Operator",
        "notes": "Notes",
    }

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) of every field, empty ones shown as '–'."""
        return [(self.LABELS[k], v or "–") for k, v in asdict(self).items()]


@dataclass
class GrainSizeReport:
    """Everything a grain-size report shows (see the module docstring).

    Attributes
    ----------
    title : str
    sample : SampleInfo
    summary : list of (label, value)
        The headline numbers (G, ℓ̄ with 95 % intervals, %RA, ...).
    tables : list of (title, headers, rows)
        Per-field or per-line tables.
    figures : list of (caption, matplotlib Figure)
        The overlay, histograms, ...
    provenance : dict
        How it was measured: method, standard, pixel size, model and checkpoint hash,
        thresholds, software version.
    edits : list of str
        Manual corrections of the boundary map, one line each.
    audit : dict, optional
        Summary of a hallucination audit of the same image.
    warnings : list of str
    created : str
        ISO time stamp (UTC).
    """

    title: str = "Grain size report"
    sample: SampleInfo = field(default_factory=SampleInfo)
    summary: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    edits: list = field(default_factory=list)
    audit: dict | None = None
    warnings: list = field(default_factory=list)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC)
                         .isoformat(timespec="seconds"))


# ----------------------------------------------------------------- formatting
#: Decimals of a grain size number G in reports and tables: ASTM E112 reports G to the
#: nearest 0.1 (ISO 643's index alike).
G_DECIMALS = 1


def format_g(g: float | None, ci: Sequence[float | None] | None = None, *,
             missing: str = "n/a") -> str:
    """A grain size number G, and its interval when both ends are known, to
    :data:`G_DECIMALS` decimals, as E112 reports it: the one rule of how G is written
    (``srmat grain-size`` and ``srmat heyn`` lines, the grain-size widget's G).

    Parameters
    ----------
    g : float or None
        The grain size number; None or NaN (or inf): no G, written ``missing``.
    ci : (float, float) or None
        Its 95 % interval; left out when None or an end is None, NaN or inf.
    missing : str
        The text for no G: the command lines' ``n/a`` by default (the widget's ``–``).

    Returns
    -------
    str

    Examples
    --------
    >>> format_g(9.2561, (8.21, 9.94)), format_g(None), format_g(None, missing="–")
    ('9.3 [8.2, 9.9]', 'n/a', '–')
    >>> format_g(float("nan")), format_g(9.26, (float("nan"), 9.9))
    ('n/a', '9.3')
    """
    if g is None or not math.isfinite(g):  # a NaN G is no G, not "nan"
        return missing
    text = _g_digits(g)
    if ci and _ends_known(ci):
        text += f" [{_g_digits(ci[0])}, {_g_digits(ci[1])}]"
    return text


def _ends_known(interval: Sequence[Any]) -> bool:
    """Whether both ends of ``interval`` are known (neither None, NaN nor inf): the one
    rule of when an interval is shown (:func:`format_g`'s lines, :func:`format_value`'s
    tables); one with an unknown end is not shown (a ``[–, 9.0]`` reads as a bound)."""
    return all(end is not None and math.isfinite(end) for end in interval)


def _g_digits(g: float) -> str:
    """A grain size number to :data:`G_DECIMALS` decimals: the one rule of its digits
    (:func:`format_g`'s lines, :func:`format_value`'s tables)."""
    return f"{float(g):.{G_DECIMALS}f}"


class GrainSizeNumber(float):
    """A grain size number G (ASTM E112 or ISO 643) that :func:`format_value` shows to
    :data:`G_DECIMALS` decimals, as E112 reports it; otherwise the float it holds (the
    API's value, equal to it, JSON as it is).

    Examples
    --------
    >>> g = GrainSizeNumber(11.8069)
    >>> format_value(g), format_value(11.8069), g == 11.8069
    ('11.8', '11.81', True)
    """

    __slots__ = ()


def as_grain_size_number(v: Any) -> Any:
    """``v`` (a G, or a ``[low, high]`` pair of G) marked as :class:`GrainSizeNumber`
    (shown to :data:`G_DECIMALS` decimals by :func:`format_value`: the rule of the
    reports, the widgets' tables and status lines); None, and ends that are not
    numbers, as they are.

    Examples
    --------
    >>> format_value(as_grain_size_number([11.26, 12.2649]))
    '[11.3, 12.3]'
    """
    if isinstance(v, (list, tuple)):
        return [as_grain_size_number(x) for x in v]
    if isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, bool):
        return GrainSizeNumber(v)
    return v


#: Label of G's 95 % interval in a report's summary, of every source (a specimen, one
#: Heyn measurement): the row of the result's own ``astm_g_ci95``.
G_CI95_LABEL = "G, 95 % confidence interval"

#: Result keys holding a grain size number G or its interval (:func:`format_result_value`).
G_KEYS = frozenset({"astm_g", "astm_g_ci95"})


def format_result_value(key: str, v: Any) -> str:
    """:func:`format_value` of a result's ``key``: a G (:data:`G_KEYS`) to
    :data:`G_DECIMALS` decimals, as E112 reports it; the rule of the report's and the
    widgets' per-field tables.

    Examples
    --------
    >>> format_result_value("astm_g", 11.8069), format_result_value("grains_per_mm2", 11.8069)
    ('11.8', '11.81')
    """
    return format_value(as_grain_size_number(v) if key in G_KEYS else v)


def format_value(v: Any) -> str:
    """One value as report and widget tables show it (``–`` for None/non-finite, 4 digits,
    a :class:`GrainSizeNumber` to :data:`G_DECIMALS` decimals, ``[low, high]`` for a
    pair of numbers, ``–`` for a pair with an end None, NaN or inf (not shown, the rule
    of :func:`format_g`), ``yes``/``no``).

    Examples
    --------
    >>> format_value([8.21, 9.0]), format_value([float("nan"), 9.0]), format_value([None, 9.0])
    ('[8.21, 9]', '–', '–')
    """
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, GrainSizeNumber):
        return "–" if not math.isfinite(v) else _g_digits(v)
    if isinstance(v, (float, np.floating)):
        return "–" if not math.isfinite(float(v)) else f"{float(v):.4g}"
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(
            x is None or isinstance(x, (int, float, np.number)) for x in v):
        if not _ends_known(v):  # an interval with an unknown end is not shown
            return "–"
        return f"[{format_value(v[0])}, {format_value(v[1])}]"
    if isinstance(v, (list, tuple)):
        return ", ".join(format_value(x) for x in v)
    return str(v)


def _software() -> dict:
    from . import __version__

    return {"software": f"napari-srmat {__version__}"}


# ----------------------------------------------------------------- figures
def _scale_bar_um(width_um: float) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^k µm) about a fifth of the width."""
    target = width_um / 5.0
    k = 10.0 ** math.floor(math.log10(target))
    return max(m * k for m in (1.0, 2.0, 5.0) if m * k <= target)


def overlay_figure(image: Any = None, *, boundaries: Any = None, intersections: Any = None,
                   test_lines: Sequence[Any] | None = None,
                   pixel_size_um: float | None = None, title: str = "") -> Any:
    """The micrograph with the boundary map, test lines, intercept points and a scale bar.

    Parameters
    ----------
    image : array (H, W) or (H, W, 3|4), optional
        The micrograph (grey or RGB, any dtype); without it the boundary map is drawn
        on white.
    boundaries : array (H, W), optional
        Boundary mask drawn in red.
    intersections : array (N, 2), optional
        Intercept points (row, col) in the image's pixels.
    test_lines : sequence of (K, 2) arrays, optional
        Test lines or paths (row, col).
    pixel_size_um : float, optional
        Adds a scale bar in µm.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    ref = image if image is not None else boundaries
    if ref is None:
        raise ValueError("an overlay needs an image or a boundary map")
    h, w = np.shape(ref)[:2]
    step = max(1, int(math.ceil(max(h, w) / OVERLAY_MAX_PX)))
    fig = Figure(figsize=(6.4, 6.4 * h / w + 0.4), layout="constrained")
    ax = fig.add_subplot()
    extent = (-0.5, w - 0.5, h - 0.5, -0.5)
    if image is not None:
        img = np.asarray(image[::step, ::step])
        if img.dtype != np.uint8:
            img = img.astype(np.float32)
            lo, hi = np.nanpercentile(img, (0.5, 99.5)) if img.size else (0, 1)
            img = np.clip((img - lo) / max(hi - lo, 1e-12), 0, 1)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, extent=extent,
                  interpolation="nearest")
    else:
        ax.imshow(np.ones((2, 2)), cmap="gray", vmin=0, vmax=1, extent=extent)
    if boundaries is not None:
        b = np.asarray(boundaries[::step, ::step]) > 0
        rgba = np.zeros(b.shape + (4,), np.float32)
        rgba[b] = (1.0, 0.15, 0.1, 0.8)
        ax.imshow(rgba, extent=extent, interpolation="nearest")
    for seg in test_lines or []:
        seg = np.asarray(seg, float)
        ax.plot(seg[:, 1], seg[:, 0], color="cyan", lw=0.6, alpha=0.8)
    if intersections is not None and len(intersections):
        pts = np.asarray(intersections, float).reshape(-1, 2)
        ax.plot(pts[:, 1], pts[:, 0], "o", ms=2.2, mfc="yellow", mec="black", mew=0.3)
    if pixel_size_um:
        bar_um = _scale_bar_um(w * pixel_size_um)
        bar_px = bar_um / pixel_size_um
        x0, y0 = 0.04 * w, 0.95 * h
        ax.plot([x0, x0 + bar_px], [y0, y0], color="white", lw=4, solid_capstyle="butt")
        ax.plot([x0, x0 + bar_px], [y0, y0], color="black", lw=1.5, solid_capstyle="butt")
        ax.text(x0 + bar_px / 2, y0 - 0.015 * h, f"{bar_um:g} {LENGTH_UNIT}", color="white",
                ha="center", va="bottom", fontsize=9,
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "lw": 0})
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# ----------------------------------------------------------------- builders
#: Optional specimen-summary entries, shown when the method reports them: (key, label).
SPECIMEN_SUMMARY_EXTRA = (
    ("mean_intercept_um", f"mean lineal intercept ℓ̄ ({LENGTH_UNIT})"),
    ("mean_intercept_ci95_um", f"ℓ̄, 95 % confidence interval ({LENGTH_UNIT})"),
    ("grains_per_mm2", "grains per mm² N_A"),
    ("grains_per_mm2_ci95", "N_A, 95 % confidence interval"),
)


def grain_size_number_label(standard: Any) -> str:
    """How a summary's ``astm_g`` is named for a reader: under the ISO 643 rule it holds
    the ISO 643 index (``m = 8 * 2**G``, 0.046 below the E112 G of the same N_A), not an
    ASTM number.

    Examples
    --------
    >>> from napari_srmat.metrics.planimetric import STANDARD_OF_RULE
    >>> STANDARD_OF_RULE["iso643"]
    'ISO 643 planimetric: inside + (edge - corner)/2 + field_corners/4'
    >>> grain_size_number_label(STANDARD_OF_RULE["iso643"])
    'ISO 643 grain size index G'
    >>> grain_size_number_label(STANDARD_OF_RULE["e112"])
    'ASTM grain size G'
    """
    if str(standard or "").startswith("ISO 643"):
        return "ISO 643 grain size index G"
    return "ASTM grain size G"


def specimen_summary_rows(summary: dict) -> list[tuple[str, Any]]:
    """(label, value) rows of a specimen summary (``measure_specimen(...)["summary"]``).

    The one list behind the grain-size widget's summary table and the report. A summary
    saved with a key's old name (``mean_intercept_um_ci95``,
    :data:`napari_srmat.metrics.standards.RENAMED_SUMMARY_KEYS`) is read, with a
    DeprecationWarning.
    """
    from .metrics.standards import specimen_fields_text, upgrade_summary

    s = upgrade_summary(summary)
    rows = [
        ("standard", s.get("standard")),
        ("method", s.get("method")),
        ("fields", specimen_fields_text(s)),
        (grain_size_number_label(s.get("standard")), as_grain_size_number(s.get("astm_g"))),
        (G_CI95_LABEL, as_grain_size_number(s.get("astm_g_ci95"))),
    ]
    rows += [(label, s[key]) for key, label in SPECIMEN_SUMMARY_EXTRA if key in s]
    rows += [
        ("relative accuracy %RA", s.get("relative_accuracy_pct")),
        (f"field value mean ({s.get('field_quantity')})", s.get("mean")),
        ("field value standard deviation", s.get("sd")),
        ("anisotropy index", s.get("anisotropy_index")),
    ]
    return rows


def _fields_pixel_size(sizes: Sequence[float | None]) -> float | list | None:
    """The fields' one pixel size (the first field's), None where none has one, else each
    field's as a list (None for one without): the rule of
    :func:`~napari_srmat.metrics.standards.pixel_size_calibration`."""
    from .metrics.standards import NO_SIZE, common_pixel_size, pixel_size_calibration

    if pixel_size_calibration(sizes) == NO_SIZE:
        return None
    one = common_pixel_size(sizes)
    return list(sizes) if one is None else one


def _um(value: float) -> str:
    """A pixel size as the report's range gives it: ``1.0``, ``0.5``, ``0.123457``."""
    return str(round(float(value), 6))


def _fields_pixel_size_text(sizes: Sequence[float | None]) -> float | str | None:
    """The report's "pixel size" of a specimen's fields (µm/px): their one size, else
    their range per field, with how many have none (until 2026-12-07 the first field's
    size stood for every field's). ``sizes``: those of the fields in the summary's
    statistics (:func:`~napari_srmat.metrics.standards.statistics_pixel_sizes`).

    Examples
    --------
    >>> _fields_pixel_size_text([0.5, 0.5]), _fields_pixel_size_text([None, None])
    (0.5, None)
    >>> _fields_pixel_size_text([1.0, 0.5]), _fields_pixel_size_text([1.0, None, 1.0])
    ('per field: 0.5-1.0', 'per field: 1.0, none (1 of 3 fields)')
    """
    from .metrics.standards import common_pixel_size

    one = _fields_pixel_size(sizes)
    if not isinstance(one, list):
        return one
    known = [p for p in sizes if p is not None]
    lo, hi = min(known), max(known)
    text = _um(lo) if common_pixel_size([lo, hi]) is not None else f"{_um(lo)}-{_um(hi)}"
    if len(known) < len(sizes):
        text += f", none ({len(sizes) - len(known)} of {len(sizes)} fields)"
    return f"per field: {text}"


def _provenance(base: dict | None, **extra: Any) -> dict:
    out = dict(extra)
    out.update({k: v for k, v in (base or {}).items() if v is not None})
    out.update(_software())
    return out


def report_from_specimen(specimen: dict, *, sample: SampleInfo | None = None,
                         image: Any = None, boundaries: Any = None,
                         intersections: Any = None, test_lines: Sequence[Any] | None = None,
                         provenance: dict | None = None, edits: Sequence[str] = (),
                         audit: dict | None = None, histograms: bool = True,
                         title: str = "Grain size report") -> GrainSizeReport:
    """A report from :func:`napari_srmat.metrics.measure_specimen`'s ``{"images", "summary"}``.

    Parameters
    ----------
    specimen : dict
        The specimen report (one entry of ``images`` per field); one read back from a
        JSON file saved before a summary key was renamed is read (with a
        DeprecationWarning, :func:`specimen_summary_rows`).
    sample : SampleInfo, optional
    image, boundaries, intersections, test_lines
        For the overlay picture (see :func:`overlay_figure`); coordinates in the image's
        pixels. Omitted when neither ``image`` nor ``boundaries`` is given.
    provenance : dict, optional
        Model, checkpoint hash, thresholds, ... (method, standard, pixel size and the
        software version are added: the fields' one pixel size, else a list of each
        field's, None for one without; the summary row gives those of the fields in
        its statistics, "per field: 0.5-1.0").
    edits : sequence of str
        Manual corrections of the boundary map.
    audit : dict, optional
        Audit summary (e.g. counts of accepted/rejected candidates).
    histograms : bool
        Add the pooled intercept and grain-area histograms (not for fields with and
        without a pixel size, whose pool the summary withholds:
        :func:`~napari_srmat.metrics.standards.mixed_pixel_sizes_warning`).
    title : str

    Returns
    -------
    GrainSizeReport
    """
    from .metrics.distributions import distributions_figure
    from .metrics.standards import (
        mixed_pixel_sizes_warning,
        pool_fields,
        statistics_pixel_sizes,
    )

    s = specimen["summary"]  # its renamed keys read by specimen_summary_rows
    fields = specimen["images"]
    sizes = [f.get("pixel_size_um") for f in fields]
    # the picture is the first field's (the widget's provenance "picture" says which)
    px = sizes[0] if sizes else None
    # the summary's row: the sizes of the fields its figures are of (a blank field left
    # out of the statistics is no "none" there; until 2026-12-07 it was); the
    # provenance lists every field's
    stats_sizes = statistics_pixel_sizes(fields, s.get("method"))
    summary = specimen_summary_rows(s) + [(f"pixel size ({LENGTH_UNIT}/px)",
                                           _fields_pixel_size_text(stats_sizes))]
    headers = ["field", "G", f"ℓ̄ ({LENGTH_UNIT})", "ℓ̄ (px)", "grains/mm²", "grains inside",
               "grains on edge", "intersections", "anisotropy"]
    keys = ["name", "astm_g", "mean_intercept_um", "mean_intercept_px", "grains_per_mm2",
            "n_grains_inside", "n_grains_edge", "n_intersections", "anisotropy_index"]
    rows = [[format_result_value(k, f.get(k)) for k in keys] for f in fields]
    rep = GrainSizeReport(
        title=title, sample=sample or SampleInfo(), summary=summary,
        tables=[("Fields", headers, rows)],
        provenance=_provenance(provenance, method=s.get("method"),
                               standard=s.get("standard"),
                               pixel_size_um=_fields_pixel_size(sizes),
                               rule=fields[0].get("rule") if fields else None,
                               test_lines=fields[0].get("pattern") if fields else None),
        edits=list(edits), audit=audit,
        warnings=list(s.get("advice") or []) + list(s.get("warnings") or [])
        + [f"{f.get('name')}: {w}" for f in fields for w in f.get("warnings") or []],
    )
    if image is not None or boundaries is not None:
        rep.figures.append(("Micrograph, boundary map, test lines and intercepts",
                            overlay_figure(image, boundaries=boundaries,
                                           intersections=intersections,
                                           test_lines=test_lines, pixel_size_um=px)))
    # fields with and without a pixel size: the summary withholds their pool, and so
    # does the histogram (its pixels would be pooled as if of one size)
    if histograms and fields and mixed_pixel_sizes_warning(fields, s.get("method")) is None:
        rep.figures.append(("Distributions of intercept lengths and grain areas (all fields)",
                            distributions_figure(pool_fields(fields, s))))
    return rep


def _test_lines_words(n_lines: int | None) -> str:
    """``"the 50 test lines"`` (``"the test lines"`` when their number is unknown)."""
    return f"the {n_lines} test lines" if n_lines else "the test lines"


def one_field_ra_label(n_lines: int | None) -> str:
    """The label of one micrograph's %RA, the report's and the grain-size widget's: the
    scatter of its test lines, not E112's %RA over fields.

    Examples
    --------
    >>> one_field_ra_label(50)
    'relative accuracy %RA (scatter of the 50 test lines of one field)'
    """
    return f"relative accuracy %RA (scatter of {_test_lines_words(n_lines)} of one field)"


#: How a mask scale not given (None: read off the mask) is shown: the grain-size
#: widget's *Mask scale* box and its summary, a report's provenance.
MASK_SCALE_FROM_MASK = "from the mask"


def mask_scale_rows(stats: dict) -> list[tuple[str, Any]]:
    """The rows of a boundary mask's scale, the Heyn tab's summary's and its report's
    provenance: the mask scale given (:data:`MASK_SCALE_FROM_MASK` where none was) and
    the block scale the zig-zag bridge used (1: the mask's pixels), as ``srmat heyn``'s
    rows record them (``mask_scale``, ``block_scale``).

    Parameters
    ----------
    stats : dict
        A Heyn measurement's statistics (``mask_scale``, ``block_scale``).

    Returns
    -------
    list of (str, Any)

    Examples
    --------
    >>> mask_scale_rows({"mask_scale": None, "block_scale": 4})
    [('mask scale given', 'from the mask'), ('block scale used', 4)]
    """
    given = stats.get("mask_scale")
    return [
        ("mask scale given", MASK_SCALE_FROM_MASK if given is None else given),
        ("block scale used", stats.get("block_scale")),
    ]


def report_from_heyn(stats: dict, *, per_line: Sequence[tuple] = (),
                     sample: SampleInfo | None = None, image: Any = None,
                     boundaries: Any = None, intersections: Any = None,
                     test_lines: Sequence[Any] | None = None,
                     provenance: dict | None = None, edits: Sequence[str] = (),
                     audit: dict | None = None,
                     title: str = "Grain size report (Heyn intercept)") -> GrainSizeReport:
    """A report from one Heyn measurement: one field, the grain-size widget's *Boundary
    mask* tab's or its *Simple* tab's (a micrograph measured with the model,
    :func:`napari_srmat.widgets.report_panel.simple_report_statistics`).

    Parameters
    ----------
    stats : dict
        ``mean_intercept_px``, ``mean_intercept_um``, ``astm_g``,
        ``astm_g_ci95``, ``mean_intercept_ci95_px``, ``mean_intercept_ci95_um``
        (``[low, high]`` pairs: G's the result's own, as ``srmat grain-size`` prints it;
        a file saved with their old names ``ci95_px`` / ``ci95_um`` is read, with a
        DeprecationWarning: :func:`napari_srmat.metrics.standards.upgrade_heyn_statistics`),
        ``relative_accuracy_pct``,
        ``intersection_count`` (P of ℓ̄ = ΣL / ΣP; else ``n_intersections``),
        ``total_length_px``, ``n_lines``, ``pixel_size_um``, ``warnings`` (the widget's
        statistics), ``mode`` (``GrainSizeResult.mode``: ``"image"`` for a micrograph
        measured with the model; a boundary mask's when absent), which picks the figures
        of the one-field note (:func:`~napari_srmat.metrics.standards.one_field_note`, as
        ``srmat grain-size`` picks them); a mask's ``mask_scale`` and ``block_scale``
        (the provenance's "mask scale given" and "block scale used",
        :func:`mask_scale_rows`; statistics without ``block_scale`` have neither row).
    per_line : sequence of (line, length_px, count)
        ``count``: the line's intersection count P (``HeynMeasurement.table_rows``).
    sample, image, boundaries, intersections, test_lines, provenance, edits, audit, title
        As for :func:`report_from_specimen`.

    Returns
    -------
    GrainSizeReport
    """
    from .grainsize import SPECIMEN_TAB
    from .metrics.standards import ONE_FIELD_NOTE_MODES, one_field_note, upgrade_heyn_statistics

    stats = upgrade_heyn_statistics(stats)
    lines = _test_lines_words(stats.get("n_lines"))
    # how a specimen is measured: the widget (whose mask or Simple tab made this report)
    # or the CLI
    how = f"the grain-size widget's {SPECIMEN_TAB!r} tab, or srmat grain-size --method"
    summary = [
        ("standard", "ASTM E112 lineal intercept (Heyn)"),
        ("ASTM grain size G", as_grain_size_number(stats.get("astm_g"))),
        (G_CI95_LABEL, as_grain_size_number(stats.get("astm_g_ci95"))),
        (f"mean lineal intercept ℓ̄ ({LENGTH_UNIT})", stats.get("mean_intercept_um")),
        (f"ℓ̄, 95 % confidence interval ({LENGTH_UNIT})", stats.get("mean_intercept_ci95_um")),
        ("mean lineal intercept ℓ̄ (px)", stats.get("mean_intercept_px")),
        ("ℓ̄, 95 % confidence interval (px)", stats.get("mean_intercept_ci95_px")),
        (one_field_ra_label(stats.get("n_lines")), stats.get("relative_accuracy_pct")),
        ("intersections", stats.get("intersection_count", stats.get("n_intersections"))),
        ("total line length (px)", stats.get("total_length_px")),
        ("test lines", stats.get("n_lines")),
        (f"pixel size ({LENGTH_UNIT}/px)", stats.get("pixel_size_um")),
    ]
    rows = [[str(i), f"{length:.1f}", format_value(count)] for i, length, count in per_line]
    # the measurement's mode (a boundary mask's when the statistics have none: the mask tab)
    mode = stats.get("mode") or ONE_FIELD_NOTE_MODES[0]
    note = one_field_note(how, mode=mode)
    # a mask's scale, given or read off it (until 2026-12-07 one not given was left out,
    # the block scale used never shown); a micrograph's map has none
    masks = mode == ONE_FIELD_NOTE_MODES[0] and "block_scale" in stats
    scale = dict(mask_scale_rows(stats)) if masks else {}
    rep = GrainSizeReport(
        title=title, sample=sample or SampleInfo(), summary=summary,
        tables=[("Test lines", ["line", "length (px)", "intersections"], rows)] if rows else [],
        provenance=_provenance(provenance, method="intercept",
                               pixel_size_um=stats.get("pixel_size_um"), **scale),
        edits=list(edits), audit=audit,
        warnings=[f"{note}; its %RA is the scatter of {lines}, E112's the "
                  "scatter between the fields"]
        + list(stats.get("warnings") or []),
    )
    if image is not None or boundaries is not None:
        rep.figures.append(("Micrograph, boundary map, test lines and intercepts",
                            overlay_figure(image, boundaries=boundaries,
                                           intersections=intersections,
                                           test_lines=test_lines,
                                           pixel_size_um=stats.get("pixel_size_um"))))
    return rep


# ----------------------------------------------------------------- writers
def _picture(fig) -> tuple[str, bytes]:
    """(MIME type, bytes): JPEG for micrographs (photographs), PNG for plots."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    photo = any(ax.images for ax in fig.axes)
    buf = io.BytesIO()
    if photo:
        fig.savefig(buf, format="jpeg", dpi=REPORT_DPI,
                    pil_kwargs={"quality": JPEG_QUALITY})
    else:
        fig.savefig(buf, format="png", dpi=REPORT_DPI)
    return ("image/jpeg" if photo else "image/png"), buf.getvalue()


def _html_table(headers: Sequence[str] | None, rows: Sequence[Sequence[Any]]) -> str:
    out = ["<table>"]
    if headers:
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
                   + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(format_value(c))}</td>" for c in row)
                   + "</tr>")
    out.append("</table>")
    return "\n".join(out)


_CSS = """body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
td,th{border:1px solid #bbb;padding:0.2em 0.6em;text-align:left}
th{background:#eee}figure{margin:1em 0}figcaption{font-size:90%;color:#555}
.warn{color:#8a4b00}"""


def report_html(report: GrainSizeReport) -> str:
    """The report as one self-contained HTML page (pictures embedded as PNG)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
        f"<meta name='generator' content='{GENERATOR}'>",
        f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
        f"<p>Created {e(report.created)}</p>",
        "<h2>Sample</h2>", _html_table(None, report.sample.rows()),
        "<h2>Result</h2>", _html_table(None, report.summary),
    ]
    if report.warnings:
        parts.append("<h2>Warnings and advice</h2><ul>"
                     + "".join(f"<li class='warn'>{e(w)}</li>" for w in report.warnings)
                     + "</ul>")
    for caption, fig in report.figures:
        mime, raw = _picture(fig)
        data = base64.b64encode(raw).decode("ascii")
        parts.append(f"<figure><img alt='{e(caption)}' style='max-width:100%' "
                     f"src='data:{mime};base64,{data}'><figcaption>{e(caption)}"
                     "</figcaption></figure>")
    for title, headers, rows in report.tables:
        parts += [f"<h2>{e(title)}</h2>", _html_table(headers, rows)]
    parts += ["<h2>How it was measured</h2>",
              _html_table(None, sorted(report.provenance.items()))]
    parts.append("<h2>Manual corrections of the boundary map</h2>")
    parts.append("<ul>" + "".join(f"<li>{e(x)}</li>" for x in report.edits) + "</ul>"
                 if report.edits else "<p>none</p>")
    if report.audit:
        parts += ["<h2>Hallucination audit</h2>",
                  _html_table(None, sorted(report.audit.items()))]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _text_page(pdf, title: str, blocks: Sequence[tuple[str, Sequence[tuple[str, Any]]]]):
    """Pages of (heading, rows) drawn as text (A4 portrait)."""
    from matplotlib.figure import Figure

    lines: list[tuple[str, str]] = [("title", title)]
    for heading, rows in blocks:
        lines.append(("heading", heading))
        for k, v in rows:
            lines.append(("row", f"{k}: {format_value(v)}" if k is not None else format_value(v)))
    per_page = 52
    for start in range(0, len(lines), per_page):
        fig = Figure(figsize=(8.27, 11.69))
        y = 0.96
        for kind, text in lines[start:start + per_page]:
            size, weight = {"title": (15, "bold"), "heading": (11, "bold"),
                            "row": (8.5, "normal")}[kind]
            if kind == "heading":
                y -= 0.006
            fig.text(0.07, y, text[:130], fontsize=size, fontweight=weight, va="top")
            y -= 0.022 if kind != "row" else 0.0165
        pdf.savefig(fig)


def report_pdf(report: GrainSizeReport) -> bytes:
    """The report as PDF bytes (matplotlib's PDF backend)."""
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Creator": GENERATOR, "Title": report.title}) as pdf:
        blocks = [("Sample", report.sample.rows()), ("Result", report.summary)]
        if report.warnings:
            blocks.append(("Warnings and advice", [(None, w) for w in report.warnings]))
        blocks.append(("How it was measured", sorted(report.provenance.items())))
        blocks.append(("Manual corrections of the boundary map",
                       [(None, x) for x in report.edits] or [(None, "none")]))
        if report.audit:
            blocks.append(("Hallucination audit", sorted(report.audit.items())))
        for title, headers, rows in report.tables:
            blocks.append((title, [(None, " | ".join(headers))]
                           + [(None, " | ".join(str(c) for c in r)) for r in rows]))
        _text_page(pdf, f"{report.title} — created {report.created}", blocks)
        for caption, fig in report.figures:
            fig.suptitle(caption, fontsize=10)
            pdf.savefig(fig)
    return buf.getvalue()


def is_our_report(path: str | Path) -> bool:
    """Whether ``path`` is a report this module wrote (its generator marker: the HTML
    ``<meta name="generator">`` near the top, or the PDF ``Creator`` entry)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    if data.startswith(b"%PDF"):
        return f"({GENERATOR})".encode() in data
    return GENERATOR.encode() in data[:4096]


def write_report(report: GrainSizeReport, path: str | Path, *, overwrite: bool = False,
                 inputs: Sequence[str | Path | None] = ()) -> Path:
    """Write ``report`` as HTML or PDF (by the suffix), atomically.

    Parameters
    ----------
    report : GrainSizeReport
    path : path-like
        ``.html``/``.htm`` or ``.pdf``.
    overwrite : bool
        Replace an existing report this module wrote (never another file).
    inputs : sequence of path-like
        Files the report must not replace (the measured images).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        An unknown suffix.
    napari_srmat.outputs.OutputError
        When the file may not be written.
    """
    path = Path(path)
    kind = REPORT_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"report {path.name!r}: use a .html or .pdf file name")
    check_output_file(path, inputs=inputs, overwrite=overwrite, ours=is_our_report)
    data = report_html(report).encode("utf-8") if kind == "html" else report_pdf(report)
    atomic_write_bytes(path, data)
    return path
