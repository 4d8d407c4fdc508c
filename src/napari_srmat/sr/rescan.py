"""Scan-enhance-rescan planning: where to rescan at high resolution after SR.

Acquire fast at low resolution (LR), super-resolve, then rescan at high resolution
(HR) only where the SR is unreliable. :func:`plan_rescan` proposes rescan
rectangles on the LR grid and the time the plan saves.

Uncertainty of the SR, per LR pixel
-----------------------------------
* **disagreement under flips** (``"flips"``, deterministic models): the LR image
  is super-resolved in its four flipped versions (identity, up-down, left-right,
  both) and each result flipped back; the per-pixel standard deviation of the
  four SR luminances is the uncertainty. A flip-equivariant model (``bicubic``)
  agrees with itself everywhere, so its uncertainty is ~0 and no rectangle is
  proposed.
* **sample spread** (``"samples"``, stochastic models such as ``ddpm``): the
  standard deviation over ``n_samples`` SR samples with different seeds.

The SR-grid map is averaged over each ``scale x scale`` block onto the LR grid.

Never in featureless areas
--------------------------
An LR pixel has *structure* when the smoothed gradient magnitude of the LR
luminance (Gaussian derivative, sigma 1 px, then a Gaussian mean of sigma 2 px)
exceeds ``max(FEATURELESS_GRADIENT, NOISE_FACTOR * noise sigma)`` (noise sigma by
:func:`noise_sigma`). A candidate block is eligible only
when at least ``MIN_STRUCTURE_FRACTION`` of its pixels have structure and its
mean uncertainty is above ``MIN_UNCERTAINTY``. Both thresholds are for an image of the
usual brightness: a dim image (12-bit camera data in a 16-bit file) is brightened by the
exposure rule of the boundary model (:func:`napari_srmat.edges.data.exposure_gain` of
the LR image, :attr:`RescanPlan.threshold_exposure_gain`) before the gradient and the
uncertainty are compared with them. The SR model sees such an image brightened by the
same rule too, at most until its brightest value reaches 1
(:func:`napari_srmat.sr.apply.sr_exposure_gain`, :attr:`RescanPlan.exposure_gain`, one
gain for every flipped or sampled run), its output divided back: the two differ for a
dark-field image (its bright particles at full scale: SR gain 1) and for interpolations.

Out of focus
------------
The SR of a blurred input is smooth in every flip (or sample), so an out-of-focus part
of the LR scan gets the *least* uncertainty while its SR error is the largest
(``studies/rescan_blind_spots.py``). The LR is therefore also cut into focus windows of
``max(roi_px, FOCUS_WINDOW_PX)`` px, and each window with structure gets a *focus*:
``(s - SMOOTH_SHARPNESS) / (level - SMOOTH_SHARPNESS)``, ``s`` its sharpness
(:func:`napari_srmat.grainsize.estimate_sharpness`'s ``D(1)/D(2)`` of its LR pixels,
0.25 for a smooth image) and ``level`` the :data:`FOCUS_LEVEL_QUANTILE` quantile of the
structured windows' ``s`` (the image's own sharp level while up to half of it is out of
focus; :func:`block_focus`). A window is *out of focus* when its focus and the median
focus of the structured windows of its 3 x 3 neighbourhood (itself included) are both
below :data:`FOCUS_THRESHOLD`, and at least :data:`MIN_OUT_OF_FOCUS_WINDOWS` of those
windows are below it (:func:`out_of_focus_blocks`): defocus spans an area, while a soft
dark particle, or a cluster of them, also makes a small window read smooth (and one alone
in a featureless area would be its own median). A
block takes the focus of the window holding its centre (:func:`plan_focus`); a
structured block in an out-of-focus window is proposed whatever its uncertainty. An LR
out of focus everywhere has no sharp part to compare with: the plan warns when the sharp
level itself is below :data:`WHOLE_IMAGE_SHARPNESS` (:func:`whole_image_focus_note`).

Rectangles
----------
The LR image is cut into ``roi_px x roi_px`` blocks; out-of-focus blocks are taken first
(least focus first), then eligible blocks by decreasing mean uncertainty, while their
total area stays within ``budget * H * W``; adjacent chosen blocks of a row chosen for
the same reason (:data:`RESCAN_REASONS`) merge into runs, and runs with the same columns
in consecutive block rows merge into rectangles. Rectangles are ``[y0, x0, y1, x1]`` in
LR pixels, half-open (``y1``, ``x1`` excluded), disjoint.

Micrometres
-----------
With the LR pixel size (one size, or ``(Y, X)`` sizes when the pixels are not square;
given, else the one the image's file records) each rectangle is also given in µm from
the image's top-left corner (the outer edge of pixel ``(0, 0)``): ``[y0 * py, x0 * px,
y1 * py, x1 * px]`` (:attr:`RescanPlan.rois_um`), and the area to rescan in mm². Without
one the rectangles are in LR pixels only and the plan says so in its warnings.
:func:`write_rescan_plan` writes the plan as CSV (one row per rectangle) or JSON.

Time
----
``time_ratio = t_SER / t_HR = dwell_ratio / scale**2 + roi_fraction`` with
``dwell_ratio`` = LR dwell time per pixel / HR dwell time per pixel; the plan pays
off while ``time_ratio < 1``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..channels import image_luminance
from ..errors import Option, check_number, compared_value, worded_error
from ..io import (
    GIVE_PIXEL_SIZE,
    LENGTH_UNIT,
    Micrograph,
    check_pixel_size_yx,
    given_pixel_size_message,
    pixel_size_note,
    pixel_size_yx,
)
from ..jobs import Event, Log, Progress, Stopped, StopToken, plain_version, run_job
from ..robust_stats import median_plus_mads
from ..tiling import DEFAULT_BATCH_SIZE
from .base import SRError, SRModel

__all__ = [
    "check_plan_inputs",
    "check_plan_memory",
    "plan_notes",
    "model_weights",
    "plan_pixel_size",
    "rescan_plan_csv",
    "is_rescan_plan_file",
    "check_rescan_plan_file",
    "write_rescan_plan",
    "PLAN_FILE_SUFFIXES",
    "PLAN_CSV_COLUMNS",
    "ROI_ORDER",
    "RescanPlan",
    "plan_rescan",
    "plan_rescan_job",
    "rescan_time_ratio",
    "structure_map",
    "has_structure",
    "block_focus",
    "out_of_focus_blocks",
    "plan_focus",
    "noise_sigma",
    "sr_uncertainty_job",
    "UNCERTAINTY_SOURCES",
    "DEFAULT_ROI_PX",
    "DEFAULT_BUDGET",
    "DEFAULT_DWELL_RATIO",
    "DEFAULT_PLAN_TILE",
    "DEFAULT_SAMPLES",
    "FOCUS_LEVEL_QUANTILE",
    "FOCUS_THRESHOLD",
    "FOCUS_WINDOW_PX",
    "MIN_OUT_OF_FOCUS_WINDOWS",
    "WHOLE_IMAGE_SHARPNESS",
    "WHOLE_IMAGE_FOCUS_LEAD",
    "whole_image_focus_note",
    "RESCAN_REASONS",
    "REASON_OUT_OF_FOCUS",
    "REASON_UNCERTAINTY",
    "STAND_OUT_MADS",
    "MIN_MAD_FRACTION",
    "MIN_STAND_OUT_BLOCKS",
    "TOO_FEW_TO_JUDGE",
    "stand_out_threshold",
    "stand_out_notes",
    "STOPS_BELOW_BUDGET",
]

#: Uncertainty sources: per-pixel spread of the SR under flips / over samples.
UNCERTAINTY_SOURCES = {
    "flips": "disagreement under flips (std of the SR of 4 flipped inputs, flipped back)",
    "samples": "sample spread (std over SR samples with different seeds)",
}
#: Side of the candidate blocks (LR pixels).
DEFAULT_ROI_PX = 32
#: The smallest block side (LR pixels) a plan takes, and the smallest a refusal suggests.
MIN_ROI_PX = 4
#: The block side as a message names it: ``roi_px`` in Python, ``--roi-size-px`` in ``srmat
#: plan-rescan`` (:func:`napari_srmat.errors.worded_error`; no widget has the control).
ROI_SIZE = Option("roi_px", "--roi-size-px")
#: The budget as a message names it: ``budget``, ``--budget``, the SR widget's control.
BUDGET = Option("budget", "--budget", "'Rescan budget'")
#: Default largest fraction of the image to rescan.
DEFAULT_BUDGET = 0.1
#: Default LR dwell time per pixel / HR dwell time per pixel.
DEFAULT_DWELL_RATIO = 1.0
#: LR tile of the planner's SR runs (small: a plan is for one field of view).
DEFAULT_PLAN_TILE = 256
#: Samples of a stochastic model for the ``"samples"`` source.
DEFAULT_SAMPLES = 4
#: Smoothed LR gradient magnitude (per px, image in [0, 1]) below which a pixel is
#: featureless, whatever the noise.
FEATURELESS_GRADIENT = 0.01
#: The featureless threshold is at least this many noise sigmas.
NOISE_FACTOR = 1.0
#: Fraction of a block's pixels that must have structure for it to be proposed.
MIN_STRUCTURE_FRACTION = 0.1
#: Blocks whose mean uncertainty is at most this are never proposed for it.
MIN_UNCERTAINTY = 1e-4
#: With ``stand_out_only`` a block is proposed for its uncertainty only when its score
#: stands out from the image's typical eligible blocks: above ``median + STAND_OUT_MADS *
#: 1.4826 * MAD`` of their scores (:func:`stand_out_threshold`; 1.4826 * MAD is a normal
#: distribution's standard deviation). 5: the smallest k of 1.5-6 that flags at most 1 %
#: of the blocks outside known fine patches (0.57 %) and at most 5 % of any image's
#: (4.7 %) on 6 synthetic LRs and 6 of tbm/train (``studies/rescan_stand_out.py``,
#: ``DECISION_RULE``); it flagged only 29 % of the fine patches' blocks there (50 % of
#: the synthetic ones), under the rule's 90 %: not adopted as the default (docs/rescan.md
#: "When the plan stops").
STAND_OUT_MADS = 5.0
#: The MAD of :func:`stand_out_threshold` is at least this fraction of the median: with
#: (almost) equal scores (MAD 0) a block stood out by any margin ([1, 1, 1, 1.0001]).
#: 0.05: below every image's MAD / median in ``studies/rescan_stand_out.py`` (0.087 to
#: 0.24), whose numbers it leaves as they were.
MIN_MAD_FRACTION = 0.05
#: Fewer eligible blocks than this and the stand-out rule cannot judge which stand out
#: (of 2 blocks none ever can): a ``stand_out_only`` plan then fills its budget as the
#: default one and says so (:data:`TOO_FEW_TO_JUDGE`). The study's images had 60 to 64.
MIN_STAND_OUT_BLOCKS = 8
#: The note of a ``stand_out_only`` plan with fewer than :data:`MIN_STAND_OUT_BLOCKS`
#: eligible blocks (``{n}``: their number).
TOO_FEW_TO_JUDGE = ("too few blocks with structure and SR uncertainty ({n}, under "
                    f"{MIN_STAND_OUT_BLOCKS}) to judge which stand out: the plan fills its "
                    "budget as one without stand_out_only=True (--stand-out-only)")
#: Quantile of the structured blocks' sharpness taken as the image's sharp level (its
#: sharp part's while up to half of the image is out of focus).
FOCUS_LEVEL_QUANTILE = 0.75
#: :func:`napari_srmat.grainsize.estimate_sharpness` of a smooth image (its structure
#: function grows as ``k²``; that function's docstring): the focus' zero.
SMOOTH_SHARPNESS = 0.25
#: A structured block whose focus (:func:`block_focus`) is below this, and the median of
#: its neighbourhood's too, is out of focus (:func:`out_of_focus_blocks`).
#: Undegraded 16 px blocks of regions of scan_10, extra_3, scan_14, extra_0 read at least
#: 0.38, an LR blurred with a Gaussian of 1.5 LR px at most 0.35
#: (``studies/rescan_blind_spots.py``, ``DECISION_RULE``).
FOCUS_THRESHOLD = 0.35
#: Smallest side of the windows the focus is measured on (LR px): with 16 px windows
#: clusters of dark particles read out of focus on up to 3.8 % of the blocks of a whole
#: scan in focus (extra_5), with 32 px windows on at most 1.1 % of 12 scans
#: (``studies/rescan_blind_spots.py``).
FOCUS_WINDOW_PX = 32
#: Structured windows of a 3 x 3 neighbourhood, itself included, that must be out of
#: focus for it to be (:func:`out_of_focus_blocks`): with 1, a soft particle alone in a
#: featureless area was out of focus, its window the only structured one and so its own
#: median (``studies/rescan_blind_spots.py``, ``DECISION_RULE``, A''').
MIN_OUT_OF_FOCUS_WINDOWS = 2
#: The image's sharp level (:func:`block_focus`'s, of the focus windows) below which the
#: whole LR may be out of focus, which the focus term (relative to that level) cannot see:
#: the plan warns (:func:`whole_image_focus_note`). The midpoint of the lowest level of
#: 136 LRs in focus (0.347) and the highest of them blurred everywhere by 1.5 LR px
#: (0.301): synthetic x4 LRs and, of scan_10, extra_3, scan_14 and extra_0, the whole
#: scan at x1-x4 and a 768 px region at x2-x4, each also saved as JPEG of quality 90, 75
#: and 50. Judged on 1148 LRs of 30 other scans and 52 tbm/train+val regions (at
#: several scales, as they are and as JPEG): 4 in focus read below it (0.35 %: scan_36 at
#: x2 as JPEG 75/50), every one blurred by 1.5 px (and 91 % by 0.75 px) reads below it;
#: noise of 0.01 added after the blur hides 24 %, most on LRs kept as they are
#: (``studies/rescan_whole_defocus.py``, ``AMENDMENT``; 0.354 before, by
#: ``DECISION_RULE`` on x4 LRs only, warned on LRs at x2 and saved as JPEG).
WHOLE_IMAGE_SHARPNESS = 0.324
#: How :func:`whole_image_focus_note` begins.
WHOLE_IMAGE_FOCUS_LEAD = "the whole LR image may be out of focus"
#: Why a rectangle is proposed (:attr:`RescanPlan.reasons`).
REASON_OUT_OF_FOCUS = "out of focus"
REASON_UNCERTAINTY = "uncertainty"
#: The reason of a rectangle the user drew on a plan's Shapes layer in napari
#: (:meth:`RescanPlan.edited`): not proposed by the planner, so no rank and no measured
#: uncertainty or focus.
REASON_BY_HAND = "added by hand"
#: How the warning of a plan edited by hand begins (:meth:`RescanPlan.edited`).
EDITED_LEAD = "edited by hand in napari"
RESCAN_REASONS = {
    REASON_OUT_OF_FOCUS: "its LR is out of focus (focus below FOCUS_THRESHOLD of the "
                         "image's sharp level): taken first, whatever the uncertainty",
    REASON_UNCERTAINTY: "the SR is uncertain there (uncertainty_source)",
    REASON_BY_HAND: "drawn by the user on the plan in napari (no rank, uncertainty or "
                    "focus)",
}
#: Decimals of the rectangles in µm (1 pm: far below any stage's step; without rounding
#: 3 px of 0.1 µm would be 0.30000000000000004 µm).
UM_DECIMALS = 6
#: µm² per mm².
UM2_PER_MM2 = 1e6
#: Suffixes of a rescan plan file: a CSV table of the rectangles, or the plan's JSON.
PLAN_FILE_SUFFIXES = (".csv", ".json")
#: Order of the four numbers of a rescan rectangle (:attr:`RescanPlan.rois`,
#: ``rois_um``): rows first, as numpy indexes and napari data coordinates. NOT the order
#: of the audit's boxes (``bbox`` ``[x0, y0, x1, y1]``,
#: :func:`napari_srmat.audit.detector.check_bbox`); both file formats stay as they are,
#: so the plan's JSON says its order (``roi_order``) and its CSV names its columns by it.
ROI_ORDER = ("y0", "x0", "y1", "x1")
#: Columns of the CSV plan (:func:`rescan_plan_csv`): rank 1 is the first rectangle to
#: rescan; the µm cells are empty when the pixel size is unknown, the focus cell when the
#: rectangle's blocks have none.
PLAN_CSV_COLUMNS = ("rank", *(f"{k}_px" for k in ROI_ORDER), *(f"{k}_um" for k in ROI_ORDER),
                    "uncertainty", "reason", "focus")
#: Header of the plans written before the columns reason and focus (2026-12-05): still
#: recognised as a plan (:func:`is_rescan_plan_file`), so --overwrite replaces one.
_PLAN_CSV_COLUMNS_BEFORE_FOCUS = PLAN_CSV_COLUMNS[:-2]
#: Keys that mark a JSON file as a rescan plan (:func:`is_rescan_plan_file`).
_PLAN_JSON_KEYS = frozenset({"rois", "scores", "time_ratio", "uncertainty_source"})
#: A JSON file larger than this is not a plan (a plan of 10^5 rectangles is ~30 MiB): it
#: is not read whole to find out.
_PLAN_JSON_MAX_BYTES = 64 * 2**20
#: Characters of a CSV read to find the plan's header.
_PLAN_CSV_HEAD_CHARS = 4096


@dataclass
class RescanPlan:
    """Rescan rectangles and the time the plan saves (see the module docstring).

    Attributes
    ----------
    rois : list of list of int
        ``[y0, x0, y1, x1]`` in LR pixels, half-open, disjoint: the out-of-focus ones
        first (least focus first), then the others by decreasing score.
    scores : list of float or None
        Mean uncertainty of each rectangle (None: added by hand, or moved by hand on a
        plan without its uncertainty map; :meth:`edited`).
    roi_fraction : float
        Area of the rectangles / area of the image.
    time_ratio : float
        ``t_SER / t_HR = dwell_ratio / scale**2 + roi_fraction``.
    time_saved : float
        ``1 - time_ratio`` (negative: the plan costs more than a full HR scan).
    scale, budget, dwell_ratio, roi_px
        The settings.
    uncertainty_source : str
        ``"flips"`` or ``"samples"``; ``uncertainty_description`` says what it is.
    model : str
        The SR model whose uncertainty was measured.
    lr_shape : list of int
        ``[H, W]`` of the LR image.
    structure_fraction : float
        Fraction of LR pixels with structure (not featureless).
    uncertainty : ndarray or None
        The LR-grid uncertainty map (not in :meth:`to_dict`).
    focus_blocks : ndarray or None
        The focus of each ``roi_px`` block (:func:`plan_focus`: its focus window's; NaN
        where none), which a rectangle moved by hand is measured on (:meth:`edited`);
        not in :meth:`to_dict`.
    warnings : list of str
        Why a plan proposes no rectangle when that is not because the SR is right: the
        image has no structure, or the uncertainty source cannot vary for this model
        (:func:`plan_notes`); that the rectangles are in pixels only (no pixel size), or
        that the given pixel size differs from the file's (:func:`plan_pixel_size`).
    pixel_size_um : float or (float, float) or None
        LR pixel size in µm: one size, or ``(Y, X)`` sizes when the pixels are not square
        (:func:`napari_srmat.io.check_pixel_size_yx`); None when unknown.
    exposure_gain : float
        The gain every SR run brightened the LR by, its output divided back
        (:func:`napari_srmat.sr.apply.sr_exposure_gain`, as ``srmat sr run`` reports it:
        1 for an image of the usual brightness, for a dark-field image whose particles
        reach full scale and for interpolations).
    threshold_exposure_gain : float
        The gain of a dim LR image before the structure and uncertainty thresholds (the
        boundary model's exposure rule, not capped: 1 for an image of the usual
        brightness; see the module docstring).
    reasons : list of str
        Why each rectangle is proposed: :data:`REASON_OUT_OF_FOCUS` or
        :data:`REASON_UNCERTAINTY` (:data:`RESCAN_REASONS`); default all the latter.
    focus : list of float or None
        Mean focus of each rectangle's blocks (:func:`block_focus`: 1 = the image's sharp
        level, below :data:`FOCUS_THRESHOLD` out of focus); None where its blocks have
        none. Default all None.
    ranks : list of int or None
        Each rectangle's rank as planned (1 = the first to rescan); None for one added by
        hand. Default ``1 .. len(rois)``; a plan edited by hand (:meth:`edited`) keeps
        the planned ranks of the rectangles it kept.
    stand_out_threshold : float or None
        The mean uncertainty a block had to exceed to be proposed for it
        (:func:`stand_out_threshold` of the eligible blocks) with ``stand_out_only``;
        None without it, or with fewer eligible blocks than :data:`MIN_STAND_OUT_BLOCKS`.
    stand_out_only : bool
        Whether only blocks that stand out were proposed for their uncertainty (else
        blocks are taken until the budget is full).
    rois_um, roi_area_mm2
        The rectangles in µm and their area in mm² (properties; None without a pixel
        size).
    """

    rois: list[list[int]]
    scores: list[float | None]
    roi_fraction: float
    time_ratio: float
    time_saved: float
    scale: int
    budget: float
    dwell_ratio: float
    roi_px: int
    uncertainty_source: str
    uncertainty_description: str
    model: str
    lr_shape: list[int]
    structure_fraction: float
    uncertainty: np.ndarray | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)
    pixel_size_um: float | tuple[float, float] | None = None
    exposure_gain: float = 1.0
    threshold_exposure_gain: float = 1.0
    reasons: list[str] = field(default_factory=list)
    focus: list[float | None] = field(default_factory=list)
    ranks: list[int | None] = field(default_factory=list)
    focus_blocks: np.ndarray | None = field(default=None, repr=False, compare=False)
    stand_out_threshold: float | None = None
    stand_out_only: bool = False

    def __post_init__(self) -> None:
        if not self.reasons:
            self.reasons = [REASON_UNCERTAINTY] * len(self.rois)
        if not self.focus:
            self.focus = [None] * len(self.rois)
        if not self.ranks:
            self.ranks = list(range(1, len(self.rois) + 1))

    @property
    def pays_off(self) -> bool:
        """Whether the plan takes less time than a full HR scan (:attr:`time_ratio` < 1)."""
        return self.time_ratio < 1.0

    @property
    def time_note(self) -> str:
        """What the plan's time means, the one wording of ``srmat plan-rescan`` and the
        Super-resolution widget: ``saves X% of a full HR scan's time`` or ``does NOT pay
        off: X% longer than a full HR scan``.

        Examples
        --------
        >>> plan = RescanPlan([], [], 0.0, 6.5, -5.5, 4, 0.1, 100.0, 32, "flips", "",
        ...                   "cnn", [64, 64], 0.5)
        >>> plan.time_note
        'does NOT pay off: 550.0% longer than a full HR scan'
        """
        if self.pays_off:
            return f"saves {self.time_saved:.1%} of a full HR scan's time"
        return f"does NOT pay off: {-self.time_saved:.1%} longer than a full HR scan"

    def edited(self, rois: Sequence[Sequence[int]], ranks: Sequence[int | None]
               ) -> RescanPlan:
        """This plan as the user left it on its Shapes layer in napari: rectangles
        moved, resized, deleted or drawn by hand.

        ``rois[i]`` (``[y0, x0, y1, x1]`` in LR px, inside the image) is this plan's
        rectangle of rank ``ranks[i]`` (:attr:`ranks`), possibly moved or resized, or one
        added by hand
        (rank None: :data:`REASON_BY_HAND`, no uncertainty nor focus). A planned rectangle
        where it was planned keeps its figures; moved or resized, its reason, and its
        uncertainty and focus are measured where it is now by the planner's rules (the
        mean of the uncertainty map over its pixels; the mean over its pixels of their
        block's focus, :attr:`focus_blocks`, so a block counts by the pixels of it the
        rectangle covers): an "out of focus" rectangle moved onto sharp pixels reads
        their focus, one nudged 1 px onto a sharp block stays out of focus. Without the
        map (a plan made by hand) that figure is None.
        The area fraction and the time are those of the rectangles now (overlaps
        rescanned twice: counted twice); the warnings say what was edited (since this
        plan: an edited plan's own note is replaced).

        Parameters
        ----------
        rois : sequence of [y0, x0, y1, x1]
            Half-open LR pixel rectangles within :attr:`lr_shape`.
        ranks : sequence of int or None
            The planned rank of each (1-based, each at most once), None: added by hand.

        Returns
        -------
        RescanPlan
            A new plan (this one unchanged).

        Raises
        ------
        ValueError
            A rectangle outside the image or empty, a rank not of this plan or given
            twice, or ``rois`` and ``ranks`` of different lengths.

        Examples
        --------
        >>> plan = RescanPlan([[0, 0, 32, 32], [32, 0, 64, 32]], [0.3, 0.2], 0.5, 0.5625,
        ...                   0.4375, 4, 0.5, 1.0, 32, "flips", "", "cnn", [64, 64], 0.5,
        ...                   pixel_size_um=0.5)
        >>> mine = plan.edited([[0, 0, 32, 32], [40, 40, 48, 48]], [1, None])
        >>> mine.rois_um, mine.ranks, mine.reasons[1], mine.scores[1]
        ([[0.0, 0.0, 16.0, 16.0], [20.0, 20.0, 24.0, 24.0]], [1, None], 'added by hand', None)
        >>> mine.roi_fraction
        0.265625
        """
        h, w = (int(v) for v in self.lr_shape[:2])
        ranks = list(ranks)
        if len(rois) != len(ranks):
            raise ValueError(f"{len(rois)} rectangles but {len(ranks)} ranks")
        where = {int(r): i for i, r in enumerate(self.ranks) if r is not None}
        planned = [r for r in ranks if r is not None]
        if len(set(planned)) != len(planned) or any(int(r) not in where for r in planned):
            raise ValueError(f"ranks {ranks} are not distinct ranks of this plan's "
                             f"{sorted(where)}")
        # checked and compared all at once (benchmarks/bench_rescan_plan_edits.json:
        # edited 13.75 -> 12.2 ms CPU at 5000 rectangles)
        try:
            boxes = _rois_array(rois)
        except OverflowError:  # a number beyond int64 (1e20, 2**64, inf): no image's
            raise ValueError(
                f"rectangle {_beyond_int64(rois)} is not inside the {h} x {w} px image"
            ) from None
        y0, x0, y1, x1 = boxes.T
        inside = (0 <= y0) & (y0 < y1) & (y1 <= h) & (0 <= x0) & (x0 < x1) & (x1 <= w)
        if not inside.all():
            raise ValueError(f"rectangle {boxes[np.argmin(inside)].tolist()} is not inside "
                             f"the {h} x {w} px image")
        rects = boxes.tolist()
        at = np.array([-1 if r is None else where[int(r)] for r in ranks], np.int64)
        kept = np.zeros(len(rects), bool)  # a planned rectangle where it was planned
        mine = at >= 0
        kept[mine] = (boxes[mine] == _rois_array(self.rois)[at[mine]]).all(axis=1)
        moved = int(np.count_nonzero(mine & ~kept))
        scores, reasons, focus = [], [], []
        for rect, i, same in zip(rects, at.tolist(), kept.tolist()):
            if i < 0:  # added by hand
                scores.append(None)
                reasons.append(REASON_BY_HAND)
                focus.append(None)
                continue
            reasons.append(self.reasons[i])
            if same:
                scores.append(self.scores[i])
                focus.append(self.focus[i])
                continue
            scores.append(None if self.uncertainty is None else
                          _rect_uncertainty(self.uncertainty, rect))
            focus.append(None if self.focus_blocks is None else
                         _rect_focus(self.focus_blocks, rect, self.roi_px))
        added, deleted = ranks.count(None), len(where) - len(planned)
        notes = [note for note in self.warnings if not note.startswith(EDITED_LEAD)]
        if moved or added or deleted:
            notes.append(f"{EDITED_LEAD}: {moved} rectangle(s) moved or resized, "
                         f"{added} added, {deleted} deleted")
        fraction = _roi_fraction(boxes, (h, w))
        ratio = rescan_time_ratio(fraction, self.scale, self.dwell_ratio)
        return replace(self, rois=rects, scores=scores, reasons=reasons, focus=focus,
                       ranks=[None if r is None else int(r) for r in ranks],
                       roi_fraction=fraction, time_ratio=ratio, time_saved=1.0 - ratio,
                       warnings=notes)

    @property
    def rois_um(self) -> list[list[float]] | None:
        """``[y0, x0, y1, x1]`` of each rectangle (same order as :attr:`rois`) in µm from
        the image's top-left corner (the outer edge of the first pixel), rounded to
        :data:`UM_DECIMALS`; None when the pixel size is unknown.

        Examples
        --------
        >>> plan = RescanPlan([[0, 32, 32, 96]], [0.1], 0.25, 0.31, 0.69, 4, 0.25, 1.0,
        ...                   32, "flips", "", "cnn", [128, 128], 0.5,
        ...                   pixel_size_um=(0.25, 0.5))
        >>> plan.rois_um
        [[0.0, 16.0, 8.0, 48.0]]
        """
        yx = pixel_size_yx(self.pixel_size_um)
        if yx is None:
            return None
        py, px = yx
        # all at once, each number the float of round(v * p, UM_DECIMALS) (one number at
        # a time it took 10 ms CPU per read of 5000 rectangles, read twice per edit of a
        # plan's layer in napari; 3.9 ms now: benchmarks/bench_rescan_plan_edits.py)
        um = np.asarray(self.rois, float).reshape(-1, 4) * np.array([py, px, py, px])
        return _rounded(um, UM_DECIMALS).tolist()

    @property
    def roi_area_mm2(self) -> float | None:
        """Area of the rectangles in mm² (None when the pixel size is unknown)."""
        yx = pixel_size_yx(self.pixel_size_um)
        if yx is None:
            return None
        return _rois_area(self.rois) * yx[0] * yx[1] / UM2_PER_MM2

    def at_pixel_size(self, pixel_size_um: float | tuple[float, float] | None
                      ) -> RescanPlan:
        """This plan at another LR pixel size: the LR image calibrated anew after it was
        planned (the same rectangles, :attr:`rois`, in LR pixels; their µm and mm² read at
        ``pixel_size_um``, and :data:`NO_PIXEL_SIZE_NOTE` among the warnings when it is
        None). Nothing else of the plan depends on the pixel size: the planner works in
        pixels, the pixel size only gives the rectangles in µm.

        Parameters
        ----------
        pixel_size_um : float or (float, float) or None
            µm per LR pixel (one size or ``(Y, X)``; checked by
            :func:`napari_srmat.io.check_pixel_size_yx`); None when unknown.

        Returns
        -------
        RescanPlan
            A new plan (this one unchanged).

        Examples
        --------
        >>> plan = RescanPlan([[0, 32, 32, 96]], [0.1], 0.25, 0.31, 0.69, 4, 0.25, 1.0,
        ...                   32, "flips", "", "cnn", [128, 128], 0.5, pixel_size_um=0.5)
        >>> plan.at_pixel_size(0.25).rois_um
        [[0.0, 8.0, 8.0, 24.0]]
        >>> plan.at_pixel_size(None).warnings == [NO_PIXEL_SIZE_NOTE]
        True
        """
        px = check_pixel_size_yx(pixel_size_um)
        notes = [note for note in self.warnings if note != NO_PIXEL_SIZE_NOTE]
        if self.rois and px is None:  # no rectangle: nothing to give in µm
            notes.append(NO_PIXEL_SIZE_NOTE)
        return replace(self, pixel_size_um=px, warnings=notes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (without the uncertainty and focus maps).

        ``roi_order`` names the order of the numbers of ``rois`` and ``rois_um``
        (:data:`ROI_ORDER`, ``["y0", "x0", "y1", "x1"]``); ``pixel_size_um`` is one
        number, or ``[Y, X]`` when the pixels are not square; ``rois_um`` and
        ``roi_area_mm2`` are null when it is unknown.
        """
        # not asdict: it deep-copies every field, the uncertainty map too (45 of 54 ms per
        # edit of a plan's layer at 8192² px), and each number of the lists one by one
        # (83 ms per edit of a plan of 4096 rectangles); the fields are numbers, strings,
        # flat lists and lists of lists, copied two deep
        d = {"roi_order": list(ROI_ORDER),
             **{f.name: _copied(getattr(self, f.name)) for f in fields(self)
                if f.name not in ("uncertainty", "focus_blocks")}}
        px = self.pixel_size_um
        d["pixel_size_um"] = list(px) if isinstance(px, tuple | list) else px
        d["rois_um"] = self.rois_um
        d["roi_area_mm2"] = self.roi_area_mm2
        d["pays_off"] = self.pays_off
        return d


def _copied(value: Any) -> Any:
    """A :class:`RescanPlan` field's value for :meth:`RescanPlan.to_dict`: a list or tuple
    copied as a list, with its list or tuple items (a rectangle) too."""
    if isinstance(value, list | tuple):
        return [list(v) if isinstance(v, list | tuple) else v for v in value]
    return value


def rescan_time_ratio(roi_fraction: float, scale: float, dwell_ratio: float = 1.0) -> float:
    """``t_SER / t_HR = dwell_ratio / scale**2 + roi_fraction``.

    Parameters
    ----------
    roi_fraction : float
        Area rescanned at HR / total area.
    scale : float
        HR pixels per LR pixel (per axis).
    dwell_ratio : float
        LR dwell time per pixel / HR dwell time per pixel.

    Returns
    -------
    float

    Examples
    --------
    >>> rescan_time_ratio(0.1, 4)
    0.1625
    """
    return float(dwell_ratio) / float(scale) ** 2 + float(roi_fraction)


def structure_map(lr: np.ndarray, gain: float = 1.0) -> tuple[np.ndarray, float]:
    """Boolean map of LR pixels with structure, and the threshold used.

    Parameters
    ----------
    lr : ndarray
        ``(H, W)`` or ``(H, W, C)`` image.
    gain : float
        Factor of the luminance (the exposure gain of a dim image, see the module
        docstring).

    Returns
    -------
    structured : ndarray of bool
        ``(H, W)``.
    threshold : float
        ``max(FEATURELESS_GRADIENT, NOISE_FACTOR * noise sigma)``.
    """
    return _structure_of_luminance(image_luminance(lr, error=SRError), gain)


def _structure_of_luminance(lum: np.ndarray, gain: float) -> tuple[np.ndarray, float]:
    """:func:`structure_map` of an LR image's luminance ``lum``."""
    from scipy import ndimage as ndi  # here, not at import: srmat's parser needs none
    lum = lum * np.float32(gain)
    grad = ndi.gaussian_gradient_magnitude(lum, 1.0, mode="reflect")
    grad = ndi.gaussian_filter(grad, 2.0, mode="reflect")
    sigma = noise_sigma(lum)
    thr = max(FEATURELESS_GRADIENT, NOISE_FACTOR * sigma)
    return grad > thr, thr


def noise_sigma(lum: np.ndarray) -> float:
    """Robust noise sigma of a grey image (median absolute Laplacian-like residual).

    The image is filtered with ``[[1, -2, 1], [-2, 4, -2], [1, -2, 1]]`` (which
    cancels linear ramps; white noise of sigma ``s`` gives a residual of sigma ``6 s``)
    and ``sigma = median(|residual|) / (0.6745 * 6)``; the median ignores the few
    pixels on edges.
    """
    from scipy import ndimage as ndi  # here, not at import: srmat's parser needs none
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
    res = ndi.convolve(np.asarray(lum, np.float64), kernel, mode="reflect")[1:-1, 1:-1]
    if res.size == 0:
        return 0.0
    return float(np.median(np.abs(res)) / (0.6745 * 6.0))


def has_structure(structured: np.ndarray, roi_px: int) -> np.ndarray:
    """Which ``roi_px`` blocks have structure: at least :data:`MIN_STRUCTURE_FRACTION` of
    their pixels (of an edge block cut by the border, of its pixels in the image) do.

    Parameters
    ----------
    structured : ndarray of bool
        ``(H, W)``: the pixels with structure (:func:`structure_map`).
    roi_px : int
        Block side (LR px).

    Returns
    -------
    ndarray of bool
        ``(ceil(H / roi_px), ceil(W / roi_px))`` block grid.

    Examples
    --------
    >>> structured = np.zeros((15, 40), bool)  # the last block row is 5 px high
    >>> structured[:2, :3] = True  # 6 of the first block's 100 px
    >>> structured[10:12, 32:35] = True  # 6 of the last block's 50 px
    >>> has_structure(structured, 10).astype(int)
    array([[0, 0, 0, 0],
           [0, 0, 0, 1]])
    """
    valid = _block_sums(np.ones(structured.shape, bool), roi_px)
    return _block_sums(structured, roi_px) / valid >= MIN_STRUCTURE_FRACTION


def block_focus(lum: np.ndarray, roi_px: int, structured: np.ndarray) -> np.ndarray:
    """Focus of each structured ``roi_px`` block of an LR luminance (module docstring).

    ``(s - SMOOTH_SHARPNESS) / (level - SMOOTH_SHARPNESS)``: ``s`` the block's sharpness
    (:func:`napari_srmat.grainsize.estimate_sharpness`'s measure), ``level`` the
    :data:`FOCUS_LEVEL_QUANTILE` quantile of the structured blocks' ``s``. 1 is the
    image's sharp level, 0 a smooth image; out of focus below :data:`FOCUS_THRESHOLD`.

    Parameters
    ----------
    lum : ndarray
        ``(H, W)`` luminance of the LR image.
    roi_px : int
        Block side (LR px); the last row and column of blocks may be cut by the border.
    structured : ndarray of bool
        ``(ceil(H / roi_px), ceil(W / roi_px))``: the blocks with structure.

    Returns
    -------
    ndarray
        float64 block grid; NaN for blocks without structure or sharpness (a block under
        3 px, or constant), and everywhere when the sharp level is not above a smooth
        image's.

    Examples
    --------
    >>> from scipy import ndimage as ndi
    >>> from napari_srmat.synth import generate_microstructure
    >>> hr = generate_microstructure((256, 512), mean_grain_size_px=24, rgb=False).image
    >>> lum = hr.reshape(64, 4, 128, 4).mean(axis=(1, 3)) / 255  # a x4 LR scan
    >>> lum[:, 64:] = ndi.gaussian_filter(lum, 1.5)[:, 64:]  # its right half out of focus
    >>> focus = block_focus(lum, 16, np.ones((4, 8), bool))
    >>> bool(focus[:, :4].min() >= FOCUS_THRESHOLD > focus[:, 4:].max())
    True
    """
    return _block_focus(lum, roi_px, structured)[0]


def _block_focus(lum: np.ndarray, roi_px: int, structured: np.ndarray
                 ) -> tuple[np.ndarray, float]:
    """:func:`block_focus`, and the sharp level it is relative to (the
    :data:`FOCUS_LEVEL_QUANTILE` quantile of the structured blocks' sharpness; NaN when
    none has one)."""
    from ..grainsize import window_sharpness

    sharpness = np.full(structured.shape, np.nan)
    for j, i in zip(*np.nonzero(structured)):
        s = window_sharpness(lum[j * roi_px:(j + 1) * roi_px, i * roi_px:(i + 1) * roi_px])
        if s is not None:
            sharpness[j, i] = s
    known = sharpness[np.isfinite(sharpness)]
    level = float(np.quantile(known, FOCUS_LEVEL_QUANTILE)) if known.size else np.nan
    if not level > SMOOTH_SHARPNESS:
        return np.full(structured.shape, np.nan), level
    return (sharpness - SMOOTH_SHARPNESS) / (level - SMOOTH_SHARPNESS), level


def out_of_focus_blocks(focus: np.ndarray, *,
                        min_out_of_focus: int = MIN_OUT_OF_FOCUS_WINDOWS) -> np.ndarray:
    """Out-of-focus blocks of a :func:`block_focus` grid: the block's focus and the median
    focus of the blocks with one (structured) in its 3 x 3 neighbourhood, itself
    included, are both below :data:`FOCUS_THRESHOLD`, and at least ``min_out_of_focus``
    of those blocks are below it (module docstring).

    Parameters
    ----------
    focus : ndarray
        Block grid of focus values, NaN for the blocks without structure.
    min_out_of_focus : int
        Structured blocks of the neighbourhood, itself included, that must be below
        :data:`FOCUS_THRESHOLD` (:data:`MIN_OUT_OF_FOCUS_WINDOWS`; 1 is the rule before
        it, kept for ``studies/rescan_blind_spots.py``).

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> focus = np.full((4, 4), 0.9)
    >>> focus[1, 1] = 0.1  # alone: a particle, not an area out of focus
    >>> bool(out_of_focus_blocks(focus).any())
    False
    >>> focus[:] = np.nan  # no structured neighbour: its own median, still alone
    >>> focus[1, 1] = 0.1
    >>> bool(out_of_focus_blocks(focus).any())
    False
    >>> focus[:] = 0.9
    >>> focus[:, 2:] = 0.1  # two block columns
    >>> out_of_focus_blocks(focus).astype(int)
    array([[0, 0, 1, 1],
           [0, 0, 1, 1],
           [0, 0, 1, 1],
           [0, 0, 1, 1]])
    """
    f = np.asarray(focus, np.float64)
    padded = np.pad(f, 1, constant_values=np.nan)
    ny, nx = f.shape
    around = np.stack([padded[dy:dy + ny, dx:dx + nx] for dy in range(3) for dx in range(3)])
    known = np.isfinite(around).any(axis=0)
    median = np.full(f.shape, np.nan)
    if known.any():
        median[known] = np.nanmedian(around[:, known], axis=0)
    low = np.nan_to_num(f, nan=np.inf) < FOCUS_THRESHOLD
    low_around = (np.nan_to_num(around, nan=np.inf) < FOCUS_THRESHOLD).sum(axis=0)
    return (low & (np.nan_to_num(median, nan=np.inf) < FOCUS_THRESHOLD)
            & (low_around >= min_out_of_focus))


def plan_focus(lum: np.ndarray, structured: np.ndarray, roi_px: int, *,
               min_out_of_focus: int = MIN_OUT_OF_FOCUS_WINDOWS,
               blocks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Focus and out-of-focus flag of each ``roi_px`` block of an LR image (module
    docstring): those of the focus window (``max(roi_px, FOCUS_WINDOW_PX)`` px) holding
    the block's centre.

    Parameters
    ----------
    lum : ndarray
        ``(H, W)`` luminance of the LR image.
    structured : ndarray of bool
        ``(H, W)``: the pixels with structure (:func:`structure_map`).
    roi_px : int
        Block side (LR px).
    min_out_of_focus : int
        As for :func:`out_of_focus_blocks`, of the windows.
    blocks : ndarray of bool, optional
        :func:`has_structure` of ``structured`` and ``roi_px``, when already computed.

    Returns
    -------
    focus : ndarray
        float64 block grid (:func:`block_focus` of the windows; NaN where none).
    out_of_focus : ndarray of bool
        Block grid: structured blocks in out-of-focus windows (:func:`out_of_focus_blocks`).
    """
    return _plan_focus(lum, structured, roi_px, min_out_of_focus=min_out_of_focus,
                       blocks=blocks)[:2]


def _plan_focus(lum: np.ndarray, structured: np.ndarray, roi_px: int, *,
                min_out_of_focus: int = MIN_OUT_OF_FOCUS_WINDOWS,
                blocks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """:func:`plan_focus`, and the windows' sharp level (:func:`_block_focus`)."""
    h, w = lum.shape
    win = max(int(roi_px), FOCUS_WINDOW_PX)
    focus, level = _block_focus(lum, win, has_structure(structured, win))
    flagged = out_of_focus_blocks(focus, min_out_of_focus=min_out_of_focus)

    def centres(n: int) -> np.ndarray:  # window of each block's centre (cut edge blocks too)
        start = np.arange(-(-n // roi_px)) * roi_px
        return ((start + np.minimum(start + roi_px, n)) // 2) // win

    rows, cols = np.ix_(centres(h), centres(w))
    if blocks is None:
        blocks = has_structure(structured, roi_px)
    return focus[rows, cols], flagged[rows, cols] & blocks, level


_FLIPS = ((), (0,), (1,), (0, 1))


def _one_of(job: Generator[Event, None, Any], k: int, runs: int, stage: str
            ) -> Generator[Event, None, Any]:
    """Run job ``k`` of ``runs`` equal jobs; its progress becomes overall progress."""
    while True:
        try:
            event = next(job)
        except StopIteration as done:
            return done.value
        if isinstance(event, Progress) and event.total:
            event = Progress(k * event.total + event.done, runs * event.total, stage=stage)
        yield event


def check_uncertainty_options(source: Any, n_samples: Any) -> tuple[str, int]:
    """The uncertainty ``source`` (``"auto"`` or one of :data:`UNCERTAINTY_SOURCES`) and
    ``n_samples`` (an integer >= 2, whatever the source: ignored by ``"flips"``, but a
    -1 or 2.5 is no setting), checked before any model is loaded or pixel read.

    Raises
    ------
    SRError
        One line naming the option and what is allowed.
    """
    if not isinstance(source, str) or (source != "auto" and source not in UNCERTAINTY_SOURCES):
        raise SRError(f"unknown uncertainty source {source!r}; one of "
                      f"{', '.join(['auto', *UNCERTAINTY_SOURCES])}")
    # n_samples=2.5 was cast to 2 (the sample spread needs at least 2)
    return source, check_number("n_samples", n_samples, lo=2, integer=True, error=SRError)


def sr_uncertainty_job(lr: np.ndarray, model, *, source: str = "auto",
                       n_samples: int = DEFAULT_SAMPLES, tile: int = DEFAULT_PLAN_TILE,
                       overlap: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                       stop: StopToken | None = None, exposure_gain: float | None = None
                       ) -> Generator[Event, None, tuple[np.ndarray, str] | None]:
    """Per-LR-pixel uncertainty of ``model``'s SR of ``lr`` (job generator).

    Parameters
    ----------
    lr : ndarray
        ``(H, W)`` or ``(H, W, C)`` LR image.
    model : SRModel
        A loaded SR model.
    source : {"auto", "flips", "samples"}
        ``"auto"``: ``"samples"`` for stochastic models, else ``"flips"``.
    n_samples : int
        Samples of the ``"samples"`` source.
    tile, overlap, batch_size
        Tiling of :func:`napari_srmat.sr.super_resolve_job`.
    stop : StopToken, optional
    exposure_gain : float, optional
        The gain every run brightens the LR by (default
        :func:`napari_srmat.sr.apply.sr_exposure_gain` of ``lr`` and ``model``).

    Returns
    -------
    (uncertainty, source) or None
        float32 ``(H, W)`` map and the source used; None if stopped.
    """
    from .apply import super_resolve_job

    source, n_samples = check_uncertainty_options(source, n_samples)
    if source == "auto":
        source = "samples" if model.stochastic else "flips"
    if source == "samples" and not model.stochastic:
        raise SRError(f"{model.name!r} is deterministic: its samples do not differ; "
                      "use source 'flips'")
    lr = np.asarray(lr)
    runs = len(_FLIPS) if source == "flips" else n_samples
    total = mean = m2 = None
    seed0 = model.options.get("seed", 0)
    # one exposure gain for every run: a flipped copy of a large LR is sampled on other
    # pixels, and a gain differing between the runs would show as spread
    from .apply import sr_exposure_gain

    gain = sr_exposure_gain(lr, model) if exposure_gain is None else exposure_gain
    try:
        for k in range(runs):
            if stop is not None and stop.stop_requested:
                yield Stopped("rescan planning stopped")
                return None
            if source == "flips":
                axes = _FLIPS[k]
                inp = np.flip(lr, axes) if axes else lr
            else:
                model.options["seed"] = seed0 + k
                inp = lr
            sr = yield from _one_of(
                super_resolve_job(np.ascontiguousarray(inp), model, tile=tile,
                                  overlap=overlap, batch_size=batch_size, stop=stop,
                                  exposure_gain=gain),
                k, runs, f"SR {k + 1}/{runs} ({source})")
            if sr is None:  # stopped: the tiling engine has said so (Stopped)
                return None
            lum = image_luminance(np.asarray(sr), error=SRError)
            del sr  # not held through the next run (rescan_memory_plan counts one)
            if source == "flips" and _FLIPS[k]:
                lum = np.flip(lum, _FLIPS[k])
            # Welford: mean and sum of squared deviations, in place (one temporary map):
            # m2 += delta * (lum - new mean) = delta**2 * (total - 1) / total
            if mean is None:
                total, mean, m2 = 1, np.ascontiguousarray(lum), np.zeros(lum.shape, lum.dtype)
            else:
                total += 1
                lum -= mean  # the deviation from the old mean
                mean += lum / total
                lum *= lum
                lum *= (total - 1) / total
                m2 += lum
            del lum
    finally:
        if source == "samples":
            model.options["seed"] = seed0
    m2 /= total
    std = np.sqrt(m2, out=m2)
    s = model.scale
    h, w = lr.shape[:2]
    block = std[:h * s, :w * s].reshape(h, s, w, s).mean(axis=(1, 3))
    return block.astype(np.float32), source


def _select_blocks(score: np.ndarray, eligible: np.ndarray, shape: tuple[int, int],
                   roi_px: int, budget_px: float) -> tuple[np.ndarray, int]:
    """Chosen blocks (bool grid): eligible ones by decreasing score within the budget,
    and their area (px)."""
    h, w = shape
    ny, nx = score.shape
    heights = np.minimum(roi_px, h - np.arange(ny) * roi_px)
    widths = np.minimum(roi_px, w - np.arange(nx) * roi_px)
    area = heights[:, None] * widths[None, :]
    chosen = np.zeros((ny, nx), bool)
    used = 0
    # stable order: by score, ties by position (row-major)
    order = np.lexsort((np.arange(score.size), -score.ravel()))
    for idx in order:
        j, i = divmod(int(idx), nx)
        if not eligible[j, i]:
            continue
        if used + area[j, i] > budget_px:
            continue
        chosen[j, i] = True
        used += int(area[j, i])
    return chosen, used


def stand_out_threshold(scores: np.ndarray, k: float = STAND_OUT_MADS) -> float:
    """The score a block's must exceed to stand out from ``scores`` (the image's eligible
    blocks): ``median + k * 1.4826 * MAD`` of the finite ones (NaN when none), the MAD at
    least :data:`MIN_MAD_FRACTION` of the median.

    Parameters
    ----------
    scores : ndarray
        Mean uncertainty of each eligible block.
    k : float
        Robust standard deviations above the median (:data:`STAND_OUT_MADS`).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from napari_srmat.sr.rescan import stand_out_threshold
    >>> round(stand_out_threshold(np.array([1.0, 2.0, 3.0, 4.0, 100.0]), k=3.0), 4)
    7.4478
    """
    v = np.asarray(scores, np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return float("nan")
    med = float(np.median(v))
    mad = float(np.median(np.abs(v - med)))
    return median_plus_mads(med, max(mad, MIN_MAD_FRACTION * abs(med)), k)


def _choose_blocks(score: np.ndarray, eligible: np.ndarray, focus: np.ndarray,
                   out_of_focus: np.ndarray, shape: tuple[int, int], roi_px: int,
                   budget_px: float) -> dict[str, np.ndarray]:
    """The chosen blocks by reason: the ``out_of_focus`` blocks first, least ``focus``
    first, then the other ``eligible`` blocks by decreasing ``score``, within the
    budget."""
    blurred, used = _select_blocks(-np.nan_to_num(focus, nan=np.inf), out_of_focus, shape,
                                   roi_px, budget_px)
    uncertain, _ = _select_blocks(score, eligible & ~blurred, shape, roi_px,
                                  budget_px - used)
    return {REASON_OUT_OF_FOCUS: blurred, REASON_UNCERTAINTY: uncertain}


def _stops_below_budget(chosen: dict[str, np.ndarray], score: np.ndarray,
                        eligible: np.ndarray, focus: np.ndarray, out_of_focus: np.ndarray,
                        shape: tuple[int, int], roi_px: int, budget_px: float) -> bool:
    """Whether the filled plan (every ``eligible`` block a candidate, the default rule)
    picks blocks that the ``chosen`` stand-out plan does not: only then does it stop
    below its budget (with the budget already full, as when out-of-focus blocks fill it,
    both plans are one)."""
    filled = _choose_blocks(score, eligible, focus, out_of_focus, shape, roi_px, budget_px)
    return any(bool((filled[r] & ~chosen[r]).any()) for r in filled)


def _rect_uncertainty(unc: np.ndarray, rect: Sequence[int]) -> float:
    """Mean of the uncertainty map ``unc`` over the half-open LR pixel rectangle
    ``rect`` ``[y0, x0, y1, x1]``: its score."""
    y0, x0, y1, x1 = rect
    return float(unc[y0:y1, x0:x1].mean())


def _roi_fraction(rects: Iterable[Sequence[int]], shape: tuple[int, int]) -> float:
    """Fraction of an ``(H, W)`` LR image that the rectangles ``rects`` cover (their
    areas summed)."""
    return _rois_area(rects) / float(shape[0] * shape[1])


def _rois_area(rois: Iterable[Sequence[Any]]) -> int | float:
    """The areas of the rectangles ``[y0, x0, y1, x1]`` summed (overlaps counted twice):
    of integers at once (exact), of other numbers one by one as given."""
    rois = rois if isinstance(rois, np.ndarray) else list(rois)
    a = np.asarray(rois)
    if a.ndim == 2 and a.shape[1] == 4 and a.dtype.kind in "iu":
        return int(((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])).sum())
    return sum((y1 - y0) * (x1 - x0) for y0, x0, y1, x1 in rois)


def _rois_array(rois: Iterable[Sequence[Any]]) -> np.ndarray:
    """The rectangles ``[y0, x0, y1, x1]`` as an ``(N, 4)`` integer array, each number
    as ``int()`` takes it (a float cut toward zero); OverflowError for a number beyond
    int64 (:func:`_beyond_int64` names its rectangle)."""
    a = np.asarray(rois if isinstance(rois, np.ndarray) else list(rois))
    if a.size == 0:
        return np.zeros((0, 4), np.int64)
    if a.ndim != 2 or a.shape[1] != 4:
        raise ValueError(f"rectangles are [y0, x0, y1, x1]: got an array of shape {a.shape}")
    if a.dtype.kind == "i" or (a.dtype.kind == "u" and a.max() <= _INT64_MAX):
        return a.astype(np.int64, copy=False)
    return np.array([[int(v) for v in roi] for roi in a.tolist()], np.int64).reshape(-1, 4)


#: The largest coordinate :func:`_rois_array` holds.
_INT64_MAX = int(np.iinfo(np.int64).max)


def _beyond_int64(rois: Iterable[Sequence[Any]]) -> list | None:
    """The first rectangle with a number :func:`_rois_array` cannot hold, each number as
    ``int()`` takes it (infinity as given): the one the refusal names (None: none)."""

    def as_int(v: Any) -> Any:
        try:
            return int(v)
        except OverflowError:  # infinity
            return float(v)

    def held(v: Any) -> bool:
        return isinstance(v, int) and -_INT64_MAX - 1 <= v <= _INT64_MAX

    shown = ([as_int(v) for v in roi] for roi in rois)
    return next((roi for roi in shown if not all(held(v) for v in roi)), None)


def _rounded(values: np.ndarray, decimals: int) -> np.ndarray:
    """Each of ``values`` rounded as Python's ``round(value, decimals)`` rounds it (to
    the float nearest the value's exact decimal rounding, half to even), all at once:
    ``np.round`` rounds ``value * 10**decimals``, a product that may fall on the other
    side of a half from the exact one; those few (within 2 ulp of a half, or too large)
    are rounded by ``round``.

    Examples
    --------
    >>> _rounded(np.array([3 * 0.1, 0.7040015, 1e300]), 6).tolist()
    [0.3, 0.704001, 1e+300]
    >>> float(np.round(0.7040015, 6)), round(0.7040015, 6)
    (0.704002, 0.704001)
    """
    values = np.asarray(values, float)
    scale = 10.0 ** decimals
    scaled = values * scale
    out = np.round(scaled) / scale  # k / 10**decimals: the float nearest it, as round's
    with np.errstate(invalid="ignore"):
        off_half = np.abs(scaled - np.floor(scaled) - 0.5)
        unsure = ~(off_half > 2 * np.spacing(np.abs(scaled))) | ~(np.abs(scaled) < 2.0**50)
    for i in np.flatnonzero(unsure):
        out.flat[i] = round(float(values.flat[i]), decimals)
    return out


def _rect_focus(focus: np.ndarray, rect: list[int], roi_px: int) -> float | None:
    """Focus of a half-open LR pixel rectangle ``[y0, x0, y1, x1]``: the mean over its
    pixels of their ``roi_px`` block's ``focus``, each block weighted by the pixels of it
    the rectangle covers (whole blocks equally: a rectangle on the block grid reads the
    mean of its blocks; 1 px of a sharp block does not outweigh 15 blurred columns).
    Blocks without a focus (NaN) are left out; None when none has one."""
    y0, x0, y1, x1 = rect
    by, bx = y0 // roi_px, x0 // roi_px
    f = focus[by:-(-y1 // roi_px), bx:-(-x1 // roi_px)]
    known = np.isfinite(f)
    if not known.any():
        return None

    def covered(lo: int, hi: int, first: int, n: int) -> np.ndarray:
        """Fraction of each of ``n`` blocks' width from block ``first`` in [lo, hi)."""
        edges = (first + np.arange(n + 1)) * roi_px
        return (np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo)) / roi_px

    weight = np.where(known, np.outer(covered(y0, y1, by, f.shape[0]),
                                      covered(x0, x1, bx, f.shape[1])), 0.0)
    # whole blocks weigh exactly 1: the very sum and count of np.nanmean
    return float(np.where(known, f * weight, 0.0).sum() / weight.sum())


def _block_sums(a: np.ndarray, roi_px: int) -> np.ndarray:
    """Sums of ``a`` (H, W) over ``roi_px`` blocks (the last ones cut by the border)."""
    h, w = a.shape
    ny, nx = -(-h // roi_px), -(-w // roi_px)
    pad = ((0, ny * roi_px - h), (0, nx * roi_px - w))
    return np.pad(a.astype(np.float64), pad).reshape(ny, roi_px, nx, roi_px).sum(axis=(1, 3))


def _merge_blocks(chosen: np.ndarray, shape: tuple[int, int], roi_px: int) -> list[list[int]]:
    """Disjoint half-open rectangles exactly covering the chosen blocks."""
    h, w = shape
    ny, nx = chosen.shape
    runs_by_row: list[list[tuple[int, int]]] = []
    for j in range(ny):
        runs, i = [], 0
        while i < nx:
            if chosen[j, i]:
                i0 = i
                while i < nx and chosen[j, i]:
                    i += 1
                runs.append((i0, i))
            else:
                i += 1
        runs_by_row.append(runs)
    rects: list[list[int]] = []
    open_: dict[tuple[int, int], int] = {}  # run -> first block row
    for j in range(ny + 1):
        current = set(runs_by_row[j]) if j < ny else set()
        for run, j0 in list(open_.items()):
            if run not in current:
                rects.append([j0 * roi_px, run[0] * roi_px, min(j * roi_px, h),
                              min(run[1] * roi_px, w)])
                del open_[run]
        for run in current:
            open_.setdefault(run, j)
    return rects


#: What an SR model's weights are, for :func:`plan_notes`: none (an interpolation), a
#: learned network without trained weights, trained ones, or a network made from its class
#: whose weights were set in memory or not (not known: :func:`model_weights`).
MODEL_WEIGHTS = ("analytic", "untrained", "trained", "unknown")


def model_weights(model: SRModel, network_digest: str | None = None) -> str:
    """Which of :data:`MODEL_WEIGHTS` ``model`` has: ``"trained"`` for any model loaded
    from weights (a checkpoint, shipped weights, a diffusers pipeline directory) or whose
    weights were set or trained in memory since :func:`napari_srmat.sr.load_model` made it
    untrained (``model.load_state_dict(...)`` in a notebook:
    :func:`napari_srmat.sr.registry.weights_set_since_made`); ``"untrained"`` for a
    trainable network that load_model made from none (no shipped weights for its scale,
    or ``pretrained=False``) and that still has those; ``"unknown"`` for one made directly
    from its class (``CNNSR(scale=2)``), whose weights as made are not known;
    ``"analytic"`` for an interpolation. Until 2026-12-06 a network given weights in
    memory was told it "has no trained weights".

    Parameters
    ----------
    model : SRModel
        A loaded model (:func:`napari_srmat.sr.load_model`).
    network_digest : str, optional
        ``model.network_digest()`` as the caller already computed it (an SR run records
        its store's ``weights_sha256`` and ``weights`` from one digest); None: computed
        here when needed.

    Returns
    -------
    str
        One of :data:`MODEL_WEIGHTS`.

    Examples
    --------
    >>> from napari_srmat.sr import load_model
    >>> model_weights(load_model("bicubic"))
    'analytic'
    >>> net = load_model("cnn", scale=4, pretrained=False)
    >>> model_weights(net)
    'untrained'
    >>> net.load_state_dict(load_model("cnn", scale=4).state_dict())  # the shipped ones
    >>> model_weights(net)
    'trained'
    """
    from .registry import TRAINABLE_MODELS, UNTRAINED_DIGEST_ATTR, weights_set_since_made

    if model.checkpoint is not None:  # diffusers-local too: a pretrained pipeline
        return "trained"
    if model.name not in TRAINABLE_MODELS:
        return "analytic"
    if not hasattr(model, UNTRAINED_DIGEST_ATTR):  # not made by load_model
        return "unknown"
    return "trained" if weights_set_since_made(model, network_digest) else "untrained"


def plan_notes(n_rois: int, structured_blocks: int, uncertain_blocks: int, model_name: str,
               source: str, weights: str = "analytic", scale: int | None = None) -> list[str]:
    """Why a plan holds no rectangle although the image has structure, in one line.

    Parameters
    ----------
    n_rois : int
        Rectangles proposed.
    structured_blocks : int
        Blocks with enough structure (:data:`MIN_STRUCTURE_FRACTION`).
    uncertain_blocks : int
        Of those, blocks whose mean uncertainty is above :data:`MIN_UNCERTAINTY`.
    model_name, source : str
        The SR model and the uncertainty source used.
    weights : str
        The model's weights (:func:`model_weights`): an interpolation cannot show its
        errors, an untrained network is one (bicubic itself for
        :data:`~napari_srmat.sr.registry.BICUBIC_WHEN_UNTRAINED`; an untrained ``ddpm``
        is not), a trained one that agrees with itself everywhere finds nothing to
        rescan, and of weights not known (set in memory on a network made from its
        class, or none) the note says what it would be if untrained.
    scale : int, optional
        The model's scale, named for an untrained network (its weights are per scale).

    Returns
    -------
    list of str
        Empty when rectangles were proposed, or when structured blocks had uncertainty.

    Examples
    --------
    >>> plan_notes(0, 12, 0, "bicubic", "flips")[0].split(":")[0]
    "bicubic's SR does not change under flips"
    >>> plan_notes(0, 12, 0, "cnn", "flips", "untrained", 2)[0].split(":")[0]
    'cnn x2 has no trained weights (its SR equals bicubic)'
    >>> plan_notes(0, 12, 0, "ddpm", "flips", "untrained", 2)[0].split(":")[0]
    "ddpm x2 has no trained weights (its SR is an untrained network's, not bicubic)"
    >>> plan_notes(0, 12, 0, "cnn", "flips", "trained")[0].split(" (")[0]
    "cnn's SR agrees with itself under flips on every block with structure"
    >>> plan_notes(3, 12, 5, "cnn", "flips")
    []
    """
    from .registry import BICUBIC_WHEN_UNTRAINED

    if weights not in MODEL_WEIGHTS:
        raise ValueError(f"weights must be one of {MODEL_WEIGHTS}, got {weights!r}")
    if n_rois or uncertain_blocks:
        return []
    if not structured_blocks:
        return ["the image has no structure above its noise in any block (featureless): "
                "no rescan region is proposed"]
    varies = "under flips" if source == "flips" else "between samples"
    assumes = "the time saved assumes the SR is right everywhere"
    if weights == "trained":  # its own answer: reliable everywhere it can tell
        return [f"{model_name}'s SR agrees with itself {varies} on every block with "
                f"structure (mean spread at most {MIN_UNCERTAINTY:g}): nothing to rescan "
                f"by uncertainty; {assumes}"]
    if weights in ("untrained", "unknown"):  # "plan with a learned model" named the one in use
        at = f" x{scale}" if scale is not None else ""
        what = ("its SR equals bicubic" if model_name in BICUBIC_WHEN_UNTRAINED
                else "its SR is an untrained network's, not bicubic")
        has = (f"has no trained weights ({what})" if weights == "untrained"
               else f"was loaded from no checkpoint (its weights, set in memory or not, "
                    f"are not known as trained; untrained, {what})")
        return [f"{model_name}{at} {has}: it does not change {varies}, so no rescan region "
                f"is proposed and {assumes}; give a trained checkpoint of {model_name}{at} "
                "(srmat sr train), or plan at a scale it ships weights for"]
    return [f"{model_name}'s SR does not change {varies}: this uncertainty cannot show where "
            f"it is wrong, so no rescan region is proposed and {assumes}; plan with a "
            "learned model (or source 'samples' with a stochastic one)"]


def whole_image_focus_note(level: float) -> list[str]:
    """The plan's warning when the whole LR may be out of focus: its sharp level (of its
    focus windows with structure, :func:`block_focus`) below
    :data:`WHOLE_IMAGE_SHARPNESS`.

    A level of NaN (no focus window with structure and a sharpness: e.g. a lone particle
    on flat grey with blocks smaller than the windows) measured nothing: no warning.

    Examples
    --------
    >>> whole_image_focus_note(0.45)
    []
    >>> whole_image_focus_note(0.27)[0].split(" (")[0]
    'the whole LR image may be out of focus'
    >>> whole_image_focus_note(float("nan"))
    []
    """
    if not level < WHOLE_IMAGE_SHARPNESS:  # in focus, or NaN: nothing measured
        return []
    shown = compared_value(level, "<", WHOLE_IMAGE_SHARPNESS)
    return [f"{WHOLE_IMAGE_FOCUS_LEAD} (sharpness {shown}, below {WHOLE_IMAGE_SHARPNESS:g}; "
            f"LRs in focus measured read higher, {SMOOTH_SHARPNESS:g} is a smooth image): the "
            "focus term compares parts of the image with each other and cannot see a defocus "
            "everywhere, and the SR is worst there; check the focus before trusting this "
            "plan (an image sampled far finer than its structure, or saved as strong JPEG, "
            "reads smooth too)"]


#: How :func:`stand_out_notes`' note of a plan that stops below its budget ends.
STOPS_BELOW_BUDGET = ("the rest is no more uncertain than typical, so the plan stops below "
                      "its budget (a plan without stand_out_only=True, or srmat "
                      "plan-rescan without --stand-out-only, fills it)")


def stand_out_notes(n_regions: int, fraction: float, left_out: int, stopped: bool,
                    threshold: float, roi_px: int) -> list[str]:
    """What a plan with ``stand_out_only`` says of its stop (:data:`STAND_OUT_MADS`).

    Parameters
    ----------
    n_regions : int
        Rectangles proposed for their uncertainty.
    fraction : float
        Their share of the image.
    left_out : int
        Blocks that stand out but did not fit in the budget.
    stopped : bool
        Whether the plan stopped below its budget: the filled plan (the default rule)
        would pick blocks that this one does not.
    threshold : float
        :func:`stand_out_threshold` of the eligible blocks.
    roi_px : int
        The block side.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from napari_srmat.sr.rescan import stand_out_notes
    >>> stand_out_notes(12, 0.026, 0, True, 0.0012, 32)[0].split(" (uncertainty")[0]
    '12 region(s) (2.6% of the image) stand out'
    >>> stand_out_notes(3, 0.1, 0, False, 0.0012, 32)
    []
    """
    notes = []
    if stopped and not left_out:
        what = (f"{n_regions} region(s) ({fraction:.1%} of the image) stand out"
                if n_regions else "no block's SR uncertainty stands out from the image's "
                                  "typical blocks (no region proposed for it)")
        notes.append(f"{what} (uncertainty above {threshold:.3g}, the median of the "
                     f"image's blocks + {STAND_OUT_MADS:g} x 1.4826 MAD); "
                     f"{STOPS_BELOW_BUDGET}")
    if left_out:
        notes.append(f"{left_out} more block(s) of {roi_px} px stand out by their SR "
                     "uncertainty than the budget holds: raise the budget to rescan them "
                     "all")
    return notes


#: The plan's warning when the LR pixel size is unknown.
NO_PIXEL_SIZE_NOTE = (
    "no pixel size of the LR image (from the file or given): the rescan rectangles are "
    f"in LR pixels only (rois_um is null); {GIVE_PIXEL_SIZE} for the rectangles in "
    f"{LENGTH_UNIT} from the image's top-left corner")


def plan_pixel_size(lr: Any, pixel_size_um: Any = None
                    ) -> tuple[float | tuple[float, float] | None, list[str]]:
    """The LR pixel size of a plan, and what the plan says about it.

    The rule of the measurements: a given pixel size wins, with a warning when it differs
    from the one the file records (:func:`napari_srmat.io.given_pixel_size_message`);
    without one, a :class:`~napari_srmat.io.Micrograph`'s
    (:attr:`~napari_srmat.io.Micrograph.store_pixel_size`: ``(Y, X)`` when the pixels are
    not square, which the rectangles in µm take per axis); an array has none.

    Parameters
    ----------
    lr : Micrograph or array-like
        The LR image.
    pixel_size_um : float or (float, float), optional
        The given pixel size (µm; one size or ``(Y, X)``), checked by
        :func:`napari_srmat.io.check_pixel_size_yx`.

    Returns
    -------
    pixel_size_um : float or (float, float) or None
    notes : list of str
        The warning that the given size differs from the file's, if it does; without a
        pixel size, why the file's own figure is none (a print resolution such as
        150 dpi, non-square pixels: :func:`napari_srmat.io.pixel_size_note`).

    Raises
    ------
    napari_srmat.io.PixelSizeError
        A bad given pixel size.

    Examples
    --------
    >>> import numpy as np
    >>> plan_pixel_size(np.zeros((8, 8)), 0.5)
    (0.5, [])
    >>> plan_pixel_size(np.zeros((8, 8)))
    (None, [])
    """
    given = check_pixel_size_yx(pixel_size_um)
    recorded = lr.store_pixel_size if isinstance(lr, Micrograph) else None
    if given is None:  # why a file's print resolution (150 dpi) is no pixel size
        note = pixel_size_note(lr) if recorded is None else None
        return recorded, [] if note is None else [note]
    if recorded is None:
        return given, []
    note = given_pixel_size_message(given, recorded)
    return given, [] if note is None else [note]


#: What a widget's user is told to do with an LR too large to plan (the Super-resolution
#: widget plans its whole input layer: it has no region control).
GUI_CROP_ADVICE = ("plan a region of it: add a crop of the LR image as an image layer "
                   "and select it as the input layer")


def check_plan_memory(shape: tuple[int, ...], scale: int) -> None:
    """Refuse an LR image whose plan would not fit in memory, from its shape only.

    The planner holds its SR runs in memory (the whole uncertainty map is needed):
    :func:`napari_srmat.estimates.plan_rescan_planner` with
    :func:`napari_srmat.estimates.check_in_memory`.

    Raises
    ------
    SRError
        In one line: the memory needed, the memory available, and to plan a crop.
    """
    from .. import estimates
    from ..estimates import check_in_memory, plan_rescan_planner

    planner = plan_rescan_planner(shape, scale=int(scale))
    available = estimates.available_memory_bytes()  # one reading for both wordings
    try:
        check_in_memory(planner, "plan_rescan", advice="plan a region of it (a crop of the "
                        "LR image)", error=SRError, available=available)
    except SRError as exc:
        try:  # a widget plans its input layer: a crop of it is a layer of its own
            check_in_memory(planner, "a rescan plan of this image", error=SRError,
                            advice=GUI_CROP_ADVICE, available=available)
        except SRError as gui:
            exc.gui_message = str(gui)
        raise


def check_plan_inputs(lr, budget: float, dwell_ratio: float, roi_px: int,
                      scale: int | None) -> tuple[np.ndarray, float, float, int, int | None]:
    """The checks of :func:`plan_rescan_job` that need no model (cheap: run them before
    loading one).

    Returns
    -------
    lr, budget, dwell_ratio, roi_px, scale
        The image as an array and the checked numbers.

    Raises
    ------
    SRError
        Bad budget, dwell ratio, block size, scale or image.
    """
    # the one number rule: a string ("10%"), None or a bool was a bare float()/int()
    # error naming no argument, or taken as 1.0
    budget = check_number("budget (fraction of the image)", budget, lo=0, hi=1, lo_open=True,
                          error=SRError)
    dwell_ratio = check_number("dwell_ratio", dwell_ratio, lo=0, lo_open=True, error=SRError)
    roi_px = check_number("roi_px (LR px)", roi_px, lo=MIN_ROI_PX, integer=True, error=SRError)
    if scale is not None:  # int(2.5) would plan at x2 without a word
        scale = check_number("scale", scale, lo=2, integer=True, error=SRError)
    from ..io import check_pixel_values, image_data, read_window

    lr = image_data(lr, name="lr")[0]
    if len(np.shape(lr)) >= 2:  # the SR runs are held in memory: refused before any read
        # without a scale at the least one, x2 (again at the model's once it is loaded)
        check_plan_memory(np.shape(lr), scale or 2)
    if not isinstance(lr, np.ndarray) and len(np.shape(lr)) >= 2:  # lazy: ImageReadError
        lr = read_window(lr, 0, lr.shape[0], 0, lr.shape[1])  # for a damaged chunk
    lr = np.asarray(lr)
    if lr.ndim not in (2, 3) or min(lr.shape[:2]) < 8:
        raise SRError(f"LR image must be (H, W) or (H, W, C), at least 8 px, got {lr.shape}")
    check_pixel_values(lr, name="lr")
    h, w = (int(v) for v in lr.shape[:2])
    if roi_px > max(h, w):
        raise _image_smaller_than_a_block(h, w, roi_px)
    # the smallest block (an edge block is cut by the image's border) must fit the budget,
    # else the plan could never hold a rectangle and would say it saves time
    smallest = _smallest_block_area(h, w, roi_px)
    if _budget_area(budget, h, w) < smallest:
        raise _budget_too_small(h, w, budget, roi_px, smallest)
    return lr, budget, dwell_ratio, roi_px, scale


def _budget_area(budget: float, h: int, w: int) -> Fraction:
    """The area (px²) a rescan ``budget`` gives an ``h`` x ``w`` image, exactly.

    The budget is taken as the decimal it is written as (its shortest repr), so 0.29 of
    100 px² is 29 px², where floats give 28.999999999999996 and refused a 29 px² block
    that the refusal's own "set budget to 0.29" named as enough.

    Parameters
    ----------
    budget : float
        Fraction of the image area to rescan, in (0, 1].
    h, w : int
        Image size in px.

    Returns
    -------
    fractions.Fraction
        ``budget * h * w`` without rounding error.

    Examples
    --------
    >>> _budget_area(0.29, 10, 10)
    Fraction(29, 1)
    """
    return Fraction(repr(float(budget))) * h * w


def _smallest_block_area(h: int, w: int, roi_px: int) -> int:
    """Area (px²) of the smallest candidate block of an ``h`` x ``w`` image cut into
    ``roi_px`` blocks: the corner block, cut by the border where ``roi_px`` does not
    divide the side."""
    return min(roi_px, h % roi_px or roi_px) * min(roi_px, w % roi_px or roi_px)


def _image_smaller_than_a_block(h: int, w: int, roi_px: int) -> SRError:
    """The one-line refusal of an image smaller than one candidate block: a Python
    caller or a command is told the block size that fits; a widget's user, who has no
    block control (:data:`ROI_SIZE`), that the plan needs a larger image.

    Examples
    --------
    >>> exc = _image_smaller_than_a_block(16, 16, 32)
    >>> exc.cli_message
    'ROI block size 32 px is larger than the image (16 x 16 px): give --roi-size-px 16 or less'
    >>> exc.gui_message.split(": ")[1]
    'plan an image of at least 32 px on a side'
    """
    fields = dict(h=h, w=w, roi=roi_px, side=max(h, w), roi_size=ROI_SIZE)
    exc = worded_error(SRError, "ROI block size {roi} px is larger than the image "
                       "({h} x {w} px): give {roi_size} {side} or less", **fields)
    if ROI_SIZE.gui is None:  # a widget has no block control
        exc.gui_message = worded_error(
            SRError, "the image ({h} x {w} px) is smaller than one {roi} x {roi} px block "
            "of the plan: plan an image of at least {roi} px on a side", **fields).gui_message
    return exc


def _budget_too_small(h: int, w: int, budget: float, roi_px: int,
                      smallest: int) -> SRError:
    """The one-line refusal of a budget that cannot hold one block: it names the image
    size, what a block needs, and the smallest budget (and the largest block side, where
    a whole block of at least :data:`MIN_ROI_PX` fits) that would plan this image."""
    # 2 decimals, never below the need: in integers, as math.ceil(7 / 100 * 100) is 8
    need = -(-smallest * 100 // (h * w)) / 100
    area = _budget_area(budget, h, w)
    side = min(math.isqrt(int(area)), roi_px - 1)  # a whole block fits
    smaller = f", or blocks of {side} px or less ({{roi_size}})" if side >= MIN_ROI_PX else ""
    template = ("the image is {h} x {w} px: a plan needs room for one block, and budget "
                "{budget:g} ({area:.0f} px²) cannot hold one {roi} x {roi} px block "
                "({block} px²); set {budget_opt} to {need:g} or more")
    fields = dict(h=h, w=w, budget=budget, area=float(area), roi=roi_px,
                  block=smallest, budget_opt=BUDGET, need=need, roi_size=ROI_SIZE)
    exc = worded_error(SRError, template + smaller, **fields)
    if ROI_SIZE.gui is None:  # a widget has no block control: only the budget is its own
        exc.gui_message = worded_error(SRError, template, **fields).gui_message
    return exc


def plan_rescan_job(
    lr: Any,
    model: Any = None,
    *,
    scale: int | None = None,
    budget: float = DEFAULT_BUDGET,
    dwell_ratio: float = DEFAULT_DWELL_RATIO,
    checkpoint: str | None = None,
    source: str = "auto",
    n_samples: int = DEFAULT_SAMPLES,
    roi_px: int = DEFAULT_ROI_PX,
    device: str = "auto",
    tile: int = DEFAULT_PLAN_TILE,
    overlap: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    pixel_size_um: float | tuple[float, float] | None = None,
    stand_out_only: bool = False,
    stop: StopToken | None = None,
) -> Generator[Event, None, RescanPlan | None]:
    """Plan a scan-enhance-rescan acquisition (job generator).

    Parameters
    ----------
    lr : array-like or Micrograph
        The fast LR acquisition, ``(H, W)`` or ``(H, W, C)``.
    model : SRModel or str, optional
        SR model (loaded or registry name); None = shipped default.
    scale : int, optional
        SR magnification = HR pixels per LR pixel (default: the model's, 4).
    budget : float
        Largest fraction of the image to rescan, in (0, 1]: filled by the most uncertain
        blocks, or a cap with ``stand_out_only``.
    dwell_ratio : float
        LR dwell time per pixel / HR dwell time per pixel (> 0).
    checkpoint : str, optional
        Checkpoint directory of the model.
    source : {"auto", "flips", "samples"}
        Uncertainty source (see the module docstring).
    n_samples : int
        Samples for ``"samples"``.
    roi_px : int
        Side of the candidate blocks in LR pixels.
    device : str
        Where a model given by name (or None) is loaded: ``"auto"`` (a GPU if there is
        one), ``"cpu"``, ``"cuda"``, ...; a loaded ``SRModel`` runs where it is.
    tile : int
        Largest LR tile of each SR run, context included (default
        :data:`DEFAULT_PLAN_TILE` = 256: a plan is for one field of view); a smaller
        image gets a smaller tile (:func:`napari_srmat.tiling.effective_tile`).
    overlap : int, optional
        LR context per tile side; None = ``max(32, receptive_field)``, as
        :func:`napari_srmat.sr.apply.super_resolve`.
    batch_size : int
        Tiles per forward pass (default :data:`napari_srmat.tiling.DEFAULT_BATCH_SIZE`;
        capped as in :func:`napari_srmat.sr.apply.super_resolve`).
    pixel_size_um : float or (float, float), optional
        LR pixel size in µm (one size, or ``(Y, X)``) for the rectangles in µm; default:
        the one a Micrograph's file records (:func:`plan_pixel_size`).
    stand_out_only : bool
        Propose a block for its uncertainty only when it stands out from the image's
        typical eligible blocks (:func:`stand_out_threshold`): the plan stops below its
        budget where nothing more does, and says so in its warnings. With fewer eligible
        blocks than :data:`MIN_STAND_OUT_BLOCKS` it cannot judge: the plan fills its
        budget as the default one (:data:`TOO_FEW_TO_JUDGE`). Off by default: the
        rule did not pass its study's check (``studies/rescan_stand_out.py``).
    stop : StopToken, optional

    Returns
    -------
    RescanPlan or None
        None if stopped.

    Raises
    ------
    SRError
        Bad budget, dwell ratio, block size, source or image.
    napari_srmat.io.PixelSizeError
        A bad pixel size.
    """
    from ..jobs import check_stop
    from .registry import load_model

    stop = check_stop(stop)
    source, n_samples = check_uncertainty_options(source, n_samples)
    pixel_size_um, pixel_notes = plan_pixel_size(lr, pixel_size_um)
    lr, budget, dwell_ratio, roi_px, scale = check_plan_inputs(lr, budget, dwell_ratio,
                                                               roi_px, scale)
    if not isinstance(model, SRModel):  # a name or None; anything else: load_model's error
        model = load_model(model, checkpoint=checkpoint, scale=scale, device=device)
    if scale is not None and int(scale) != model.scale:
        raise SRError(f"scale {scale} differs from the model's x{model.scale}")
    if scale is None:  # checked at x2 only: the model's (x4 by default) needs more
        check_plan_memory(lr.shape, model.scale)
    yield Log(f"rescan plan: {model.name} x{model.scale}, budget {budget:g}, "
              f"blocks {roi_px} px")
    from .apply import sr_exposure_gain

    sr_gain = sr_exposure_gain(lr, model)  # the one gain of every SR run, reported
    res = yield from sr_uncertainty_job(lr, model, source=source, n_samples=n_samples,
                                        tile=tile, overlap=overlap, batch_size=batch_size,
                                        stop=stop, exposure_gain=sr_gain)
    if res is None:
        return None
    unc, used_source = res
    from ..edges.infer import image_exposure_gain

    # the thresholds are for the usual brightness: a 12-bit image in a 16-bit file was
    # "featureless" (its gradients and SR spread 16 x smaller), no rectangle proposed.
    # Not the SR gain: that one is capped so the model's [0, 1] output clips nothing (and
    # is 1 for interpolations); the spread is on the LR's scale whatever the SR gain was.
    # The boundary model's whole-image rule, uncapped (its one sample of the image)
    gain = image_exposure_gain(lr)
    lum = image_luminance(lr, error=SRError)  # of the structure and the focus
    structured, _thr = _structure_of_luminance(lum, gain)
    h, w = lr.shape[:2]
    valid = _block_sums(np.ones((h, w), bool), roi_px)
    score = _block_sums(unc, roi_px) / valid
    structured_blocks = has_structure(structured, roi_px)
    eligible = structured_blocks & (score * gain > MIN_UNCERTAINTY)
    focus, out_of_focus, level = _plan_focus(lum, structured, roi_px,
                                             blocks=structured_blocks)
    judged = bool(stand_out_only) and int(eligible.sum()) >= MIN_STAND_OUT_BLOCKS
    threshold = stand_out_threshold(score[eligible])
    candidates = eligible & (score > threshold) if judged else eligible
    budget_px = float(_budget_area(budget, h, w))
    chosen = _choose_blocks(score, candidates, focus, out_of_focus, (h, w), roi_px,
                            budget_px)
    found = [(reason, rect, _rect_uncertainty(unc, rect),
              _rect_focus(focus, rect, roi_px))
             for reason, blocks in chosen.items()
             for rect in _merge_blocks(blocks, (h, w), roi_px)]
    # out of focus first, least focus first; then the most uncertain first
    found.sort(key=lambda r: (r[0] != REASON_OUT_OF_FOCUS,
                              r[3] if r[0] == REASON_OUT_OF_FOCUS else -r[2]))
    reasons = [r[0] for r in found]
    rects = [r[1] for r in found]
    scores = [r[2] for r in found]
    rect_focus = [r[3] for r in found]
    roi_fraction = _roi_fraction(rects, (h, w))
    ratio = rescan_time_ratio(roi_fraction, model.scale, dwell_ratio)
    notes = pixel_notes + plan_notes(len(rects), int(structured_blocks.sum()),
                                     int(eligible.sum()), model.name, used_source,
                                     model_weights(model), int(model.scale))
    if structured_blocks.any():  # featureless: plan_notes says so
        notes += whole_image_focus_note(level)
    left_out = int(out_of_focus.sum() - chosen[REASON_OUT_OF_FOCUS].sum())
    if left_out:  # the budget could not hold them: the plan misses where SR is worst
        notes.append(f"{left_out} more block(s) of {roi_px} px are out of focus than the "
                     "budget holds: refocus, or raise the budget, to rescan them all")
    if stand_out_only and eligible.any() and not judged:
        notes.append(TOO_FEW_TO_JUDGE.format(n=int(eligible.sum())))
    if judged:
        notes += stand_out_notes(
            sum(r[0] == REASON_UNCERTAINTY for r in found),
            _roi_fraction([r[1] for r in found if r[0] == REASON_UNCERTAINTY], (h, w)),
            int((candidates & ~chosen[REASON_OUT_OF_FOCUS]).sum()
                - chosen[REASON_UNCERTAINTY].sum()),
            _stops_below_budget(chosen, score, eligible, focus, out_of_focus, (h, w),
                                roi_px, budget_px),
            threshold, roi_px)
    return RescanPlan(  # at_pixel_size: the note of a plan without a pixel size
        rois=[[int(v) for v in r] for r in rects],
        scores=scores,
        roi_fraction=roi_fraction,
        time_ratio=ratio,
        time_saved=1.0 - ratio,
        scale=int(model.scale),
        budget=budget,
        dwell_ratio=dwell_ratio,
        roi_px=roi_px,
        uncertainty_source=used_source,
        uncertainty_description=UNCERTAINTY_SOURCES[used_source],
        model=model.name,
        lr_shape=[int(h), int(w)],
        structure_fraction=float(structured.mean()),
        uncertainty=unc,
        warnings=notes,
        pixel_size_um=pixel_size_um,
        exposure_gain=sr_gain,
        threshold_exposure_gain=gain,
        reasons=reasons,
        focus=rect_focus,
        focus_blocks=focus,
        stand_out_threshold=threshold if judged else None,
        stand_out_only=bool(stand_out_only),
    ).at_pixel_size(pixel_size_um)


def rescan_plan_csv(plan: RescanPlan) -> str:
    """The plan's rectangles as CSV text: a header (:data:`PLAN_CSV_COLUMNS`) and one row
    per rectangle in the plan's order (rank 1 first: out of focus, then most uncertain;
    a plan edited by hand, :meth:`RescanPlan.edited`, keeps the planned ranks, with the
    rectangles added by hand last); the µm cells are empty when the pixel size is
    unknown, the focus cell when the rectangle has none, the rank and uncertainty cells
    of a rectangle added by hand.

    Examples
    --------
    >>> plan = RescanPlan([[0, 32, 32, 96]], [0.125], 0.25, 0.31, 0.69, 4, 0.25, 1.0,
    ...                   32, "flips", "", "cnn", [128, 128], 0.5, pixel_size_um=0.5)
    >>> print(rescan_plan_csv(plan), end="")
    rank,y0_px,x0_px,y1_px,x1_px,y0_um,x0_um,y1_um,x1_um,uncertainty,reason,focus
    1,0,32,32,96,0.0,16.0,16.0,48.0,0.125,uncertainty,
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(PLAN_CSV_COLUMNS)
    rois_um = plan.rois_um
    def cell(value) -> str:
        return "" if value is None else repr(float(value))

    for i, (rank, roi, score, reason, focus) in enumerate(
            zip(plan.ranks, plan.rois, plan.scores, plan.reasons, plan.focus)):
        um = rois_um[i] if rois_um is not None else [""] * 4
        writer.writerow(["" if rank is None else rank, *roi, *um, cell(score), reason,
                         cell(focus)])
    return buf.getvalue()


def is_rescan_plan_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a rescan plan napari-srmat wrote (:func:`write_rescan_plan`):
    a CSV starting with the plan's header, or a JSON object with the plan's keys."""
    path = Path(path)
    is_json = path.suffix.lower() == ".json"
    try:
        if is_json and path.stat().st_size > _PLAN_JSON_MAX_BYTES:
            return False
        with path.open(encoding="utf-8") as fh:
            head = fh.read() if is_json else fh.read(_PLAN_CSV_HEAD_CHARS)
    except (OSError, UnicodeDecodeError):
        return False
    if is_json:
        try:
            data = json.loads(head)
        except ValueError:
            return False
        return isinstance(data, dict) and _PLAN_JSON_KEYS <= set(data)
    return head.splitlines()[:1] in ([",".join(PLAN_CSV_COLUMNS)],
                                     [",".join(_PLAN_CSV_COLUMNS_BEFORE_FOCUS)])


def check_rescan_plan_file(path: str | os.PathLike, *,
                           inputs: Iterable[str | os.PathLike | None] = (),
                           overwrite: bool = False) -> Path:
    """Check a rescan plan file before planning (and again before writing it).

    The write protocol of single-file outputs
    (:func:`napari_srmat.outputs.check_output_file`): never one of ``inputs``, never a
    folder; an existing file is replaced only with ``overwrite`` and only when it is a
    plan napari-srmat wrote (:func:`is_rescan_plan_file`).

    Parameters
    ----------
    path : path-like
        ``*.csv`` or ``*.json`` (:data:`PLAN_FILE_SUFFIXES`, any case).
    inputs : iterable of path-like
        Files it must not be (the LR image).
    overwrite : bool
        Whether an earlier plan may be replaced.

    Returns
    -------
    Path

    Raises
    ------
    napari_srmat.outputs.OutputError
        Another suffix, or an output that may not be written.
    """
    from ..outputs import OutputError, check_output_file

    path = Path(path)
    if path.suffix.lower() not in PLAN_FILE_SUFFIXES:
        raise OutputError(f"{path}: a rescan plan is written as "
                          f"{' or '.join(PLAN_FILE_SUFFIXES)}, not "
                          f"{path.suffix or 'a name without a suffix'}")
    return check_output_file(path, inputs=inputs, overwrite=overwrite,
                             ours=is_rescan_plan_file)


def write_rescan_plan(plan: RescanPlan, path: str | os.PathLike, *, overwrite: bool = False,
                      inputs: Iterable[str | os.PathLike | None] = (),
                      record: Mapping[str, Any] | None = None) -> Path:
    """Write a plan as CSV (:func:`rescan_plan_csv`) or JSON, atomically.

    Parameters
    ----------
    plan : RescanPlan
    path : path-like
        ``*.csv`` or ``*.json``; missing folders are created.
    overwrite, inputs
        As for :func:`check_rescan_plan_file`.
    record : mapping, optional
        What the JSON holds (default :meth:`RescanPlan.to_dict`; ``srmat plan-rescan``
        gives what its ``--json`` prints: the plan with the input's name). Not for CSV.

    Returns
    -------
    Path

    Raises
    ------
    napari_srmat.outputs.OutputError
        As :func:`check_rescan_plan_file`.
    """
    from .._atomic import atomic_write_text
    from ..outputs import json_text

    path = check_rescan_plan_file(path, inputs=inputs, overwrite=overwrite)
    if path.suffix.lower() == ".json":
        text = json_text(dict(plan.to_dict() if record is None else record))
    else:
        text = rescan_plan_csv(plan)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, text)


@plain_version(plan_rescan_job)
def plan_rescan(lr: Any, model: Any = None, **kwargs) -> RescanPlan:
    """Blocking version of :func:`plan_rescan_job` (same arguments).

    Examples
    --------
    An LR of grains in its left half and flat grey in its right half: the plan rescans
    where the SR is least sure, in the grains, within a quarter of the image.

    >>> import napari_srmat as srmat
    >>> from napari_srmat.synth import generate_microstructure
    >>> lr = generate_microstructure((64, 64), mean_grain_size_px=12, blur=0.0).image.copy()
    >>> lr[:, 32:] = 128
    >>> plan = srmat.plan_rescan(lr, scale=4, budget=0.25, roi_px=16, device="cpu",
    ...                          pixel_size_um=0.5)
    >>> plan.rois  # (y0, x0, y1, x1) in LR pixels
    [[32, 0, 64, 32]]
    >>> plan.rois_um
    [[16.0, 0.0, 32.0, 16.0]]
    >>> plan.roi_fraction, plan.time_ratio  # the LR scan plus the rescan, as HR time
    (0.25, 0.3125)
    """
    return run_job(plan_rescan_job(lr, model, **kwargs), quiet=True)
