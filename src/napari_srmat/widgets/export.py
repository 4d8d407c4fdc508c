"""Export of a Heyn measurement of the grain-size widget (CSV / JSON, atomic)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_text
from .layers import HeynMeasurement

__all__ = ["export_csv", "export_json"]


def _fmt(v) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, tuple):
        return [_fmt(x) for x in v]
    return v


def export_json(path: str | os.PathLike, measurement: HeynMeasurement) -> Path:
    """Write a measurement (summary + per-line table) as JSON, atomically."""
    d = measurement.to_dict()
    clean = {k: _fmt(v) for k, v in d.items()}
    path = Path(path)
    atomic_write_text(path, json.dumps(clean, indent=2) + "\n")
    return path


def export_csv(path: str | os.PathLike, measurement: HeynMeasurement) -> Path:
    """Write the per-line table and the pooled summary as CSV, atomically.

    The per-line rows (``line,length_px,count``) come first; the summary follows as
    ``# key,value`` comment rows so that the table still loads with
    ``numpy.loadtxt(..., comments="#")`` or ``pandas.read_csv(comment="#")``.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["line", "length_px", "count"])
    for i, length, count in measurement.table_rows():
        w.writerow([i, f"{length:.6g}", count])
    for k, v in measurement.stats.items():
        v = _fmt(v)
        if isinstance(v, list):
            v = ";".join("" if x is None else f"{x:.6g}" for x in v)
        buf.write(f"# {k},{v}\n")
    path = Path(path)
    atomic_write_text(path, buf.getvalue())
    return path
