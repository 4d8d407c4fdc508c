"""Export of a Heyn measurement of the grain-size widget (CSV / JSON, atomic).

An export replaces an earlier export (of either tab) but never another file
(:func:`write_export`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_text
from ..metrics.heyn import finite_or_none
from ..outputs import check_output_file
from .layers import HeynMeasurement

__all__ = [
    "export_csv",
    "export_json",
    "write_export",
    "is_our_export",
    "write_summary_rows",
    "write_table_row",
    "csv_cells",
    "interval_cells",
    "is_interval_key",
    "INTERVAL_SUFFIXES",
    "SUMMARY_ROW_MARK",
]

#: First line of the per-line CSV of a Heyn measurement (its first cells: a measurement
#: with a pixel size adds ``length_um``, :data:`HEYN_CSV_UM_COLUMN`).
HEYN_CSV_HEADER = "line,length_px,count"
#: Column of each line's length in µm, after :data:`HEYN_CSV_HEADER`'s, where the
#: measurement has a pixel size (:meth:`~.layers.HeynMeasurement.line_lengths_um`).
HEYN_CSV_UM_COLUMN = "length_um"
#: Top-level keys that mark a JSON export: a Heyn measurement, a specimen report.
_JSON_MARKS = ({"per_line", "n_intersections", "mean_intercept_px"}, {"images", "summary"})
#: First CSV header cells of the exports: the Heyn per-line table, the specimen table.
_CSV_MARKS = (HEYN_CSV_HEADER, "field,astm_g,")
#: Start of each summary row of a CSV export (:func:`write_summary_rows`).
SUMMARY_ROW_MARK = "# "
#: Suffixes of the two CSV cells (columns or summary rows) of a 95 % interval
#: ``[low, high]`` held under a key: ``<key>_low``, ``<key>_high`` (:func:`interval_cells`).
INTERVAL_SUFFIXES = ("_low", "_high")
#: A result key holding a 95 % interval ``[low, high]``: ``<figure>_ci95``, with a unit
#: (``_px``, ``_um``) or none (``ci95_half_width_*`` is a half-width, not a pair).
_INTERVAL_KEY = re.compile(r".+_ci95(_px|_um)?")


def is_our_export(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a CSV/JSON measurement export napari-srmat wrote."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            head = fh.read(1_000_000)
    except (OSError, UnicodeDecodeError):
        return False
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(head)
        except ValueError:
            return False
        return isinstance(data, dict) and any(keys <= set(data) for keys in _JSON_MARKS)
    return any(head.startswith(mark) for mark in _CSV_MARKS)


def write_export(path: str | os.PathLike, text: str) -> Path:
    """Write an export atomically; an existing file is replaced only if it is one.

    Raises
    ------
    napari_srmat.outputs.OutputError
        The path holds a file napari-srmat did not write (it is kept), or a folder.
    """
    path = Path(path)
    check_output_file(path, overwrite=True, ours=is_our_export)
    atomic_write_text(path, text)
    return path


def _fmt(v) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, tuple):
        return [_fmt(x) for x in v]
    return v


def export_json(path: str | os.PathLike, measurement: HeynMeasurement) -> Path:
    """Write a measurement (summary + per-line table) as JSON, atomically (an earlier
    export is replaced, another file never: :func:`write_export`)."""
    d = measurement.to_dict()
    clean = {k: _fmt(v) for k, v in d.items()}
    return write_export(path, json.dumps(clean, indent=2) + "\n")


def write_summary_rows(buf: io.StringIO, rows: Iterable[tuple[str, Any]]) -> None:
    """Write the summary of a CSV export: one ``# key,value`` comment row per value.

    The one rule of the exports' summaries (Heyn, specimen): a row is ``# `` and then
    the key and the value as two CSV cells, each quoted by the csv module where it
    holds a comma, a quote or a line break, and a list of texts (the warnings) is one
    row per text under the same key, so that a text is read back whole whatever it
    holds (``csv.reader`` on the comment rows less their ``# ``); every row begins
    with ``#``, so the table above still loads with ``pandas.read_csv(comment="#")``
    (until 2026-12-07 a key holding a comma, a specimen label such as "field value
    mean (N_L, intersections per mm)", was quoted with its ``#``: the row began with
    ``"`` and pandas read it as a table row). An interval is two rows
    (:func:`interval_cells`).

    Parameters
    ----------
    buf : io.StringIO
        The export being written.
    rows : iterable of (str, object)
        Key and value of each row (a value None is an empty cell).

    Examples
    --------
    >>> buf = io.StringIO()
    >>> write_summary_rows(buf, [("astm_g", 7.5), ("warning", "few lines; add, say, 10"),
    ...                          ("mean (N_L, per mm)", 12.5)])
    >>> print(buf.getvalue(), end="")
    # astm_g,7.5
    # warning,"few lines; add, say, 10"
    # "mean (N_L, per mm)",12.5
    """
    w = csv.writer(buf, lineterminator="\n")
    for key, value in rows:
        buf.write(SUMMARY_ROW_MARK)
        w.writerow([key, "" if value is None else value])


def _table_cell(cell: Any) -> str:
    """One cell of a table row (:func:`write_table_row`) as CSV text."""
    if cell is None or cell == "":
        return ""  # the csv module writes a lone empty cell as '""'
    quote = isinstance(cell, str) and SUMMARY_ROW_MARK[0] in cell
    buf = io.StringIO()
    csv.writer(
        buf, lineterminator="", quoting=csv.QUOTE_ALL if quote else csv.QUOTE_MINIMAL
    ).writerow([cell])
    return buf.getvalue()


def write_table_row(buf: io.StringIO, cells: Iterable[Any]) -> None:
    """Write one row of a CSV export's table (above its summary rows).

    The csv module's quoting (a cell holding a comma, a quote or a line break), and a
    text cell holding ``#`` quoted too: ``pandas.read_csv(comment="#")`` ends a row at
    an unquoted ``#`` (until 2026-12-07 a field named "sample #1" read "sample " and
    lost its figures). None is an empty cell.

    Limit: pandas' ``engine="python"`` cuts a cell at its ``#`` even quoted (it looks
    for the comment in the cells it has read, their quotes gone: pandas 3.1.1 read
    "sample #1" as "sample " and the row's other cells as empty), and its ``pyarrow``
    engine takes no ``comment``; no quoting or escape keeps the text whole there short
    of changing it. Read such a table with the default C engine (or ``csv.reader``).

    Parameters
    ----------
    buf : io.StringIO
        The export being written.
    cells : iterable
        The row's cells.

    Examples
    --------
    >>> buf = io.StringIO()
    >>> write_table_row(buf, ["sample #1", 7.5, "", "a, b"])
    >>> print(buf.getvalue(), end="")
    "sample #1",7.5,,"a, b"
    """
    buf.write(",".join(_table_cell(c) for c in cells) + "\n")


def is_interval_key(key: str) -> bool:
    """Whether a result key holds a 95 % interval ``[low, high]`` (``*_ci95``,
    ``*_ci95_px``, ``*_ci95_um``), which a CSV export writes as two cells.

    Examples
    --------
    >>> [is_interval_key(k) for k in ("astm_g_ci95", "mean_intercept_ci95_um",
    ...                               "ci95_half_width_px", "astm_g")]
    [True, True, False, False]
    """
    return _INTERVAL_KEY.fullmatch(key) is not None


def _number_cell(value: Any) -> Any:
    """A number as a CSV cell: itself to full precision, ``""`` where None or not finite
    (:func:`~napari_srmat.metrics.heyn.finite_or_none`)."""
    number = finite_or_none(value)
    return "" if number is None else number


def interval_cells(key: str, pair: Sequence[Any] | None) -> list[tuple[str, Any]]:
    """The two CSV cells of the 95 % interval ``pair`` held under ``key``.

    The one rule of the exports (the Heyn CSV's summary, the Specimen CSV's field
    columns and summary rows): an interval is two numeric cells named ``<key>_low``
    and ``<key>_high`` (:data:`INTERVAL_SUFFIXES`), each a number to full precision
    (``float`` as Python writes it, read back equal), empty where there is no interval
    or that end is None or not finite; so ``pandas.read_csv`` and ``float`` give
    numbers back.

    Parameters
    ----------
    key : str
        The result key of the interval (e.g. ``"astm_g_ci95"``).
    pair : (float, float) or None
        ``[low, high]``, or None where there is no interval.

    Returns
    -------
    list of (str, object)
        ``[(<key>_low, low), (<key>_high, high)]``, an unknown end ``""``.

    Examples
    --------
    >>> interval_cells("astm_g_ci95", (10.712345678901, 10.8))
    [('astm_g_ci95_low', 10.712345678901), ('astm_g_ci95_high', 10.8)]
    >>> interval_cells("astm_g_ci95", None)
    [('astm_g_ci95_low', ''), ('astm_g_ci95_high', '')]
    >>> interval_cells("astm_g_ci95", 7.5)
    Traceback (most recent call last):
    ...
    ValueError: astm_g_ci95: an interval is a [low, high] pair of numbers, got 7.5

    Raises
    ------
    ValueError
        ``pair`` is not None nor two ends, each a number or None (until 2026-12-07 a
        number or a pair of lists raised a bare TypeError, a text of two characters
        gave two cells).
    """
    refused = ValueError(f"{key}: an interval is a [low, high] pair of numbers, got {pair!r}")
    if pair is None:
        return [(key + suffix, "") for suffix in INTERVAL_SUFFIXES]
    if isinstance(pair, str | bytes):
        raise refused
    try:
        ends = tuple(pair)
        cells = [_number_cell(end) for end in ends]
    except (TypeError, ValueError):  # not iterable, or an end not a number
        raise refused from None
    if len(cells) != 2:
        raise refused
    return list(zip([key + suffix for suffix in INTERVAL_SUFFIXES], cells))


def csv_cells(key: str, value: Any) -> list[tuple[str, Any]]:
    """The ``(name, cell)`` pairs of one value of a CSV export (a column or summary row).

    An interval key (:func:`is_interval_key`) gives two cells (:func:`interval_cells`);
    a list of texts (the warnings) one cell each under ``key`` (one empty cell when
    there is none); any other value one cell, ``""`` where None or not finite.

    Examples
    --------
    >>> csv_cells("astm_g", 7.5), csv_cells("warnings", ["a", "b"])
    ([('astm_g', 7.5)], [('warnings', 'a'), ('warnings', 'b')])
    """
    if is_interval_key(key):
        return interval_cells(key, value)
    value = _fmt(value)
    if isinstance(value, list):
        return [(key, text) for text in value or [""]]
    return [(key, "" if value is None else value)]


def export_csv(path: str | os.PathLike, measurement: HeynMeasurement) -> Path:
    """Write the per-line table and the pooled summary as CSV, atomically.

    The per-line rows (``line,length_px,count``, and ``length_um`` after them where the
    measurement has a pixel size: :meth:`~.layers.HeynMeasurement.line_lengths_um`;
    since 2026-12-07, px only before) come first; the summary follows as
    ``# key,value`` comment rows (:func:`write_summary_rows`: one row per warning, an
    interval's ends two rows ``# <key>_low``, ``# <key>_high``: :func:`csv_cells`) so
    that the table still loads with ``numpy.loadtxt(..., comments="#")`` or
    ``pandas.read_csv(comment="#")``.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    um = measurement.line_lengths_um()
    w.writerow(HEYN_CSV_HEADER.split(",") + ([] if um is None else [HEYN_CSV_UM_COLUMN]))
    for k, (i, length, count) in enumerate(measurement.table_rows()):
        w.writerow([i, f"{length:.6g}", f"{count:g}", *([] if um is None else [um[k]])])
    write_summary_rows(buf, [row for k, v in measurement.stats.items() for row in csv_cells(k, v)])
    return write_export(path, buf.getvalue())
