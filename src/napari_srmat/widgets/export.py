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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_text
from ..outputs import check_output_file
from .layers import HeynMeasurement

__all__ = ["export_csv", "export_json", "write_export", "is_our_export", "write_summary_rows"]

#: First line of the per-line CSV of a Heyn measurement.
HEYN_CSV_HEADER = "line,length_px,count"
#: Top-level keys that mark a JSON export: a Heyn measurement, a specimen report.
_JSON_MARKS = ({"per_line", "n_intersections", "mean_intercept_px"}, {"images", "summary"})
#: First CSV header cells of the exports: the Heyn per-line table, the specimen table.
_CSV_MARKS = (HEYN_CSV_HEADER, "field,astm_g,")


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

    The one rule of the exports' summaries (Heyn, specimen): a value is one cell, quoted
    by the csv module where it holds a comma, a quote or a line break, and a list of
    texts (the warnings) is one row per text under the same key, so that a text is
    read back whole whatever it holds (``csv.reader`` on the comment rows); the table
    above still loads with ``pandas.read_csv(comment="#")``.

    Parameters
    ----------
    buf : io.StringIO
        The export being written.
    rows : iterable of (str, object)
        Key and value of each row (a value None is an empty cell).

    Examples
    --------
    >>> buf = io.StringIO()
    >>> write_summary_rows(buf, [("astm_g", 7.5), ("warning", "few lines; add, say, 10")])
    >>> print(buf.getvalue(), end="")
    # astm_g,7.5
    # warning,"few lines; add, say, 10"
    """
    w = csv.writer(buf, lineterminator="\n")
    for key, value in rows:
        w.writerow([f"# {key}", "" if value is None else value])


def _summary_values(key: str, value: Any) -> list[tuple[str, Any]]:
    """The ``(key, cell)`` rows of one summary figure of a Heyn measurement: a list of
    texts (the warnings) one row each (an empty one when there is none), the ends of an
    interval in one cell as ``low;high`` (numbers, which hold no ``;``)."""
    value = _fmt(value)
    if not isinstance(value, list):
        return [(key, value)]
    if any(isinstance(x, str) for x in value) or not value:
        return [(key, text) for text in value or [""]]
    return [(key, ";".join("" if x is None else f"{x:.6g}" for x in value))]


def export_csv(path: str | os.PathLike, measurement: HeynMeasurement) -> Path:
    """Write the per-line table and the pooled summary as CSV, atomically.

    The per-line rows (``line,length_px,count``) come first; the summary follows as
    ``# key,value`` comment rows (:func:`write_summary_rows`: one row per warning) so
    that the table still loads with ``numpy.loadtxt(..., comments="#")`` or
    ``pandas.read_csv(comment="#")``.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEYN_CSV_HEADER.split(","))
    for i, length, count in measurement.table_rows():
        w.writerow([i, f"{length:.6g}", f"{count:g}"])
    write_summary_rows(buf, [row for k, v in measurement.stats.items()
                             for row in _summary_values(k, v)])
    return write_export(path, buf.getvalue())
