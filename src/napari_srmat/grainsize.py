"""Grain size of a micrograph in one call: boundaries, scale, intercepts and a 95 % interval.

:func:`measure_grain_size` is the whole measurement a metallographer asks for: it runs the
shipped UAED boundary model at a scale where the model is reliable, binarises its
probability at the model's operating point (its ``threshold_rule``, by default
``otsu_scaled`` with TTA ``none``, chosen out of fold, docs/boundaries.md; applied region
by region on large maps, :func:`napari_srmat.edges.thresholds.binarize_by_region`),
thins it, lays Heyn test lines (the same lines
as ``srmat heyn --skeletonize``) and reports the mean lineal intercept ℓ̄ and the ASTM
E112 grain size number G, each with a 95 % interval that includes the model's
uncertainty, not only the line sampling. ``srmat grain-size`` is the same function on
files. With ``mask=True`` the input is a boundary mask and no model is involved (the
measurement of ``srmat heyn``).

Scale
-----
The model was trained on 256 px TBM regions whose grains have ℓ̄ ≈ 24-27 px and whose
boundaries are 3-5 px wide. A super-resolved x4 image has grains four times larger in
pixels, and the model, run on it as it is, sees structures it was never trained on.
:func:`measure_grain_size` therefore

1. estimates ℓ̄ of the input from the image's autocorrelation
   (:func:`estimate_intercept_px`, no model needed) and whether it holds detail down to
   the pixel (:func:`estimate_sharpness`: native micrographs do, up-sampled and
   super-resolved ones do not),
2. resamples the image by ``inference_scale`` = :data:`TARGET_INTERCEPT_PX` / estimate
   (:func:`choose_inference_scale`, :func:`automatic_inference_scale`), except that a
   native-sharp input is not down-sampled by 2 or less (:data:`SHARP_KEEP_SCALE_RANGE`:
   on native regions the estimate errs by that much, and the model was trained at
   their own scale), nor a native-sharp field smaller than :data:`SMALL_FIELD_PX`
   up-sampled on an estimate that is not coarse (:func:`small_field`: there the
   estimate reads short by the field's size, not the grains'); a known upscale by f (an
   SR output's recorded factor, ``upscale_factor``) whose field would be measured at
   scale 1 is run at exactly 1 / f, the field's own pixels (:func:`known_upscale_scale`),
3. runs the model there and measures ℓ̄ at inference scale,
4. reports ``ℓ̄ / inference_scale`` in input pixels.

The model's own ℓ̄ cannot choose the scale: it depends only weakly on the true grain size
it is shown (ℓ̄_model ∝ ℓ̄_true^0.4 on tbm/train+val), so re-picking the scale from it
does not converge to the truth (replayed in ``studies/grain_size_scale_policy.py``: it
made the error larger, not smaller). The independent autocorrelation estimate does.

Inputs whose grains are smaller than :data:`MIN_INPUT_INTERCEPT_PX` are under-sampled
(too few pixels across to measure, :func:`undersampled_note`): the figures are withheld
(``None``) with a warning to super-resolve first or image at a higher magnification. Inputs whose
autocorrelation estimate is below :data:`COARSE_INPUT_INTERCEPT_PX` are measured with a
warning and a model term widened to :data:`COARSE_MODEL_LOG_ERROR_95`.

Uncertainty
-----------
The 95 % interval combines, on a log scale and in quadrature, three half-widths:

* line sampling: the Student-t interval of the per-line intersection densities
  (:func:`napari_srmat.metrics.heyn.measure_intercepts`, ASTM E112 §15), floored at
  the resolution of the lines' integer counts, inverted to ℓ̄ = 1 / d at every count
  (:func:`sampling_log_terms`);
* pixel resolution: a boundary mask cannot resolve intercepts shorter than a boundary
  (:data:`PIXEL_RESOLUTION_PX` at the scale where crossings are counted);
* the model: :data:`MODEL_LOG_ERROR_95`, the 2.5-97.5 % range of ``ln(ℓ̄ / ℓ̄_true)``
  of this very measurement on tbm/train+val regions at x0.5-x4 against their
  hand-drawn ℓ̄ (``studies/grain_size_calibration.py``); for coarse inputs
  :data:`COARSE_MODEL_LOG_ERROR_95`. Otherwise it is the same for every image: the
  model's maps do not tell how wrong its ℓ̄ is (moving the logits by
  ±1.96 sigma moves ℓ̄ by ~1 % against a ~10 % real error,
  ``studies/grain_size_sigma.py``; re-binarising at other thresholds gives maps that
  are mostly boundary, ``studies/grain_size_threshold_band.py``).

All constants are derived from tbm/train+val and synthetic micrographs only
(``studies/``, docs/grain_size.md); tbm/test was not looked at.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import Option, check_number, compared_value, worded_error
from .io import LENGTH_UNIT, MIN_IMAGE_SIDE, check_pixel_size
from .jobs import Event, Log, Progress, Stopped, StopToken, plain_version, run_job
from .metrics.heyn import (
    HEYN_MARGIN,
    HEYN_N_LINES,
    HEYN_SEED,
    HeynResult,
    astm_grain_size_number,
    check_measurable_shape,
    coarse_map_note,
    finite_or_none,
    measure_intercepts,
)
from .metrics.standards import (
    counting_half,
    few_intersections_note,
    floored_relative_half,
    g_range_warning,
    has_few_intersections,
    interval_scope,
    no_upper_end_note,
    warn_g_range,
)
from .tiling._engine import BOUNDARY_TILE

__all__ = [
    "GrainSizeError",
    "GrainSizeResult",
    "measure_grain_size",
    "measure_grain_size_job",
    "estimate_intercept_px",
    "estimate_sharpness",
    "window_sharpness",
    "choose_inference_scale",
    "known_upscale_scale",
    "recorded_upscale_factor",
    "check_upscale_factor",
    "automatic_inference_scale",
    "resample",
    "resampled_shape",
    "intercept_interval",
    "sampling_log_terms",
    "counting_half",
    "has_few_intersections",
    "grain_size_from_heyn",
    "physical_figures",
    "NO_INTERVAL_NOTE",
    "interval_note",
    "interval_half_width",
    "field_interval",
    "FIELD_INTERVAL_KEYS",
    "PLANIMETRIC_FIELD_NO_INTERVAL",
    "PLANIMETRIC_G_NO_INTERVAL",
    "few_intersections_note",
    "measured_settings",
    "MEASURED_SETTING_KEYS",
    "SKELETONIZE_SETTING",
    "is_shipped_boundary_model",
    "SHIPPED_BOUNDARY_WEIGHTS_SHA256",
    "SCHEMA_KEYS",
    "TARGET_INTERCEPT_PX",
    "RELIABLE_INTERCEPT_PX",
    "MIN_INPUT_INTERCEPT_PX",
    "UNDERSAMPLED_NOTE",
    "UNDERSAMPLED_ADVICE",
    "undersampled_note",
    "COARSE_INPUT_INTERCEPT_PX",
    "COARSE_MODEL_LOG_ERROR_95",
    "is_coarse",
    "is_scale_warning",
    "is_lines_warning",
    "NativeScale",
    "check_native_scale",
    "native_scale_job",
    "MIN_JUDGED_GRAINS",
    "judged_side",
    "too_few_grains",
    "SMALL_FIELD_PX",
    "small_field",
    "MAX_INFERENCE_SCALE",
    "INFERENCE_SCALE_LIMIT",
    "check_inference_scale",
    "MIN_NATIVE_SHARPNESS",
    "MAX_NATIVE_SHARPNESS",
    "native_sharp",
    "SHARP_KEEP_SCALE_RANGE",
    "ACF_TO_INTERCEPT",
    "PIXEL_RESOLUTION_PX",
    "MODEL_LOG_ERROR_95",
    "MODEL_LOG_ERROR_KEY",
    "model_log_error_95",
    "MODEL_ERROR_OPERATING_POINT",
]

#: ℓ̄ (px) aimed for at inference scale: the grain size of the training regions.
#: Replaying the policy on tbm/train+val regions at x0.5-x2.8, targets of 26-30 px do
#: alike (median |error| 8-9 %); 26 px: median error +1.4 % on val, +4.7 % on train,
#: -1 % on synthetic (``studies/grain_size_scale_policy.py``).
TARGET_INTERCEPT_PX = 26.0

#: True ℓ̄ (px, at inference scale) within which the shipped model's median ℓ̄ is within
#: 10 % of the hand-drawn one on tbm/train+val (``studies/grain_size_scale.py``; on
#: synthetic micrographs the range is wider, 18-42 px). Outside it the model misses
#: boundaries (smaller grains: ℓ̄ too long) or finds them inside grains (larger grains).
RELIABLE_INTERCEPT_PX = (20.0, 32.0)

#: Below this ℓ̄ (px) in the *input* the grains are too few pixels across to measure
#: (under-sampled, :func:`undersampled_note`): figures are withheld and the user is told
#: to super-resolve first or image at a higher magnification. On tbm/train+val regions
#: down-sampled to ℓ̄ of 6-8 px the measurement reads 9.7 % longer (median) than on the
#: same regions at x1, 4-6 px 17.6 %, 8-15 px 2.2-4.5 %
#: (``studies/grain_size_calibration.py``, default operating point ``otsu_scaled`` / TTA
#: ``none``; with the former ``global`` / ``d4`` the limit was 6 px; its bin rule now
#: reads 20 px from one bin of 10 inputs, a size-prior effect explained there).
MIN_INPUT_INTERCEPT_PX = 8.0

#: What every warning of grains fewer than :data:`MIN_INPUT_INTERCEPT_PX` px across says
#: of them (:func:`undersampled_note`): the image samples them with too few pixels. Until
#: 2026-12-07 it said "too coarse to measure", which a metallurgist reads as large grains
#: (s51 E2, explorer s50 CLI F6): these are fine grains for the pixel size.
UNDERSAMPLED_NOTE = "too few pixels across to measure (under-sampled)"

#: What to do about grains :data:`UNDERSAMPLED_NOTE` (:func:`undersampled_note`).
UNDERSAMPLED_ADVICE = "super-resolve first (srmat sr run) or image at a higher magnification"

#: Above this ℓ̄ (input px), as a multiple of the input's longer side, the boundary
#: model's map of a micrograph shows no grain structure: the measurement failed and its
#: figures are withheld, as they are where no test line crosses the map
#: (:func:`_check_structure`). A featureless field (flat grey and noise, 512 px) read
#: ℓ̄ 21820 px from one crossing, 43x its side; real coarse fields read up to about 2x
#: (R8, s50: 192 px fields of 170 px grains read 1.13x and 1.65x from 80 and 54
#: crossings, their masks up to 2.0x from 47; one boundary across a 160 px field 1.2x):
#: at 4x the test lines cross the map about ten times. Until 2026-12-07 (s50 F7) the limit
#: was 1x and withheld such coarse fields, reading the specimen's ℓ̄ 11 % short. A field
#: read longer than its side but within this limit is kept with
#: :data:`FIELD_LONGER_NOTE`. A mask the user brings is measured as it is (a field inside
#: one grain: N_L = 0 by E112).
MAX_INTERCEPT_FIELD_FRACTION = 4.0

#: The start of the warning of an ℓ̄ at inference scale outside
#: :data:`RELIABLE_INTERCEPT_PX` (:func:`_check_scale`).
RANGE_NOTE = "ℓ̄ at inference scale is"

#: The warning of a micrograph whose map shows no grain structure (:func:`_check_structure`).
NO_STRUCTURE_NOTE = "no grain structure found"

#: The start of the warning of a micrograph whose ℓ̄ is longer than its side but within
#: :data:`MAX_INTERCEPT_FIELD_FRACTION` of it (:func:`_check_structure`): kept.
FIELD_LONGER_NOTE = "grains coarser than the field"

#: Below this autocorrelation estimate of ℓ̄ (px, in the input) a measured image gets a
#: warning that it is coarse and a wider interval (:data:`COARSE_MODEL_LOG_ERROR_95`). Every ×4
#: (antialiased bicubic) reduced copy of the tbm/train+val regions estimates 6.2-14.1 px,
#: the regions as they are 20-47 px. Those copies that are measured rather than refused
#: are off by 28-37 % on average out of fold (leave-scan-out fold models, two
#: repetitions) with the calibrated interval holding the truth for only 42-60 % of them,
#: and most got no scale warning before this rule (``studies/three_arm_oof.py``,
#: docs/boundaries.md "The three-arm experiment out of fold").
COARSE_INPUT_INTERCEPT_PX = 15.0

#: What a coarse input's warnings say about the direction of the model's error there. The
#: direction is measured, and differs with how boundaries look: the tbm polarized-light
#: regions reduced ×4 all read ℓ̄ long (boundaries missed; :data:`COARSE_INPUT_INTERCEPT_PX`),
#: synthetic micrographs with dark etched boundary lines enlarged ×2 or more read it 24-41 %
#: short (both sides of a line drawn; ``studies/image_enlargement_short.py``,
#: docs/grain_size.md).
COARSE_DIRECTION_NOTE = ("on the tbm polarized-light micrographs the model missed boundaries "
                         "at such pixels (ℓ̄ read too long), on images with dark etched "
                         "boundary lines it read ℓ̄ short")

#: Largest up-sampling applied before the model (interpolation adds no detail; chosen
#: before the studies as 26 / 8 and kept: the under-sampling limit was measured with it).
MAX_INFERENCE_SCALE = 3.25

#: Largest ``inference_scale`` a caller may ask for (the automatic choice stops at
#: :data:`MAX_INFERENCE_SCALE`): beyond it a small image becomes a huge one held in memory
#: (a 16 px image at 1000 is 16000 px square, gigabytes).
INFERENCE_SCALE_LIMIT = 16.0


def check_inference_scale(value: Any, *, field: str = "inference_scale") -> float:
    """The one rule of a given inference scale: a number in (0,
    :data:`INFERENCE_SCALE_LIMIT`] (``measure_grain_size(inference_scale=)``,
    ``srmat grain-size --inference-scale``).

    Examples
    --------
    >>> check_inference_scale(2)
    2.0
    >>> check_inference_scale(1e9)
    Traceback (most recent call last):
    ...
    napari_srmat.grainsize.GrainSizeError: inference_scale must be a number in (0, 16], got 1000000000.0
    """  # noqa: E501
    return float(check_number(field, value, lo=0.0, lo_open=True, hi=INFERENCE_SCALE_LIMIT,
                              error=GrainSizeError))

def check_upscale_factor(value: Any) -> int:
    """The one rule of a given upscale factor (``measure_grain_size(upscale_factor=)``):
    a whole number from 1 to :data:`INFERENCE_SCALE_LIMIT`.

    Parameters
    ----------
    value : int
        The factor given.

    Returns
    -------
    int
        The factor.

    Raises
    ------
    GrainSizeError
        Not a whole number in that range (one line naming ``upscale_factor``).

    Examples
    --------
    >>> check_upscale_factor(4)
    4
    """
    return int(check_number("upscale_factor", value, lo=1, hi=INFERENCE_SCALE_LIMIT,
                            integer=True, error=GrainSizeError))


def recorded_upscale_factor(image: Any, given: int | None = None) -> int | None:
    """The factor of a known upscale: the one an ``srmat sr run`` output records
    (a :class:`~napari_srmat.io.Micrograph` of its store,
    :func:`napari_srmat.metrics.sr.sr_output_scale`), else ``given``.

    Parameters
    ----------
    image : array or Micrograph
        The input of :func:`measure_grain_size`.
    given : int, optional
        The factor given (:func:`check_upscale_factor`).

    Returns
    -------
    int or None
        The factor; None when none is recorded or given.

    Raises
    ------
    GrainSizeError
        ``given`` contradicts the recorded factor.

    Examples
    --------
    >>> from napari_srmat.io import Micrograph
    >>> sr = Micrograph(data=np.zeros((8, 8)), metadata={"srmat": {
    ...     "operation": "super_resolution", "scale": 4}})
    >>> recorded_upscale_factor(sr), recorded_upscale_factor(np.zeros((8, 8)), 2)
    (4, 2)
    """
    from .io import Micrograph
    from .metrics.sr import sr_output_scale
    from .sr.apply import SR_OUTPUT_KIND

    attrs = image.metadata.get("srmat") if isinstance(image, Micrograph) else None
    if not isinstance(attrs, dict) or attrs.get("operation") != SR_OUTPUT_KIND:
        return given
    # the one rule of a given factor against the recorded one (srmat sr eval's --scale)
    return sr_output_scale(attrs, given, name="the image",
                           option=Option("upscale_factor", "upscale_factor"),  # no flag
                           use="measure it as a", error=GrainSizeError)


#: Scales within this relative distance of 1 are not applied (no needless interpolation).
SCALE_TOLERANCE = 0.15

#: ℓ̄ ≈ ACF_TO_INTERCEPT x the lag at which the image autocorrelation halves (median
#: ratio on tbm/val and every third tbm/train region at x0.5-x4,
#: ``studies/grain_size_scale_policy.py``; on all 63 regions the estimate reads a median
#: 1.07 x the hand-drawn ℓ̄, ``studies/grey_scale_estimate.py``; the synthetic
#: micrographs, with flatter grains, have 2.1). One factor for colour and grey inputs: a
#: grey file of a colour micrograph reads a median 0.91 x its estimate (tbm/train); a
#: grey factor was tried and not adopted (docs/grain_size.md, "Grey images").
ACF_TO_INTERCEPT = 1.375

#: An input at least this sharp (:func:`estimate_sharpness`) carries detail down to the
#: pixel: it has not been up-sampled by 2 or more (mild up-sampling, x1.25-x1.5, can
#: read 0.32-0.41 and pass). tbm/train+val regions: 0.375-0.648 as they are,
#: 0.356-0.499 down-sampled x0.5 (bilinear); up-sampled x2 0.275-0.323, x4 0.26-0.28;
#: x4 SR outputs (``cnn``, ``onestep``) and SR of x4-down copies 0.26-0.28
#: (``studies/scale_sharpness_decision.py``). Their grey files (luminance) read alike:
#: 0.370-0.648 as they are, 0.99 x the colour value (median), the native-sharp decision
#: the same for 398 of 399 train copies at x0.5-x4 (``studies/grey_scale_estimate.py``).
MIN_NATIVE_SHARPNESS = 0.34

#: Above this the pixel differences are mostly uncorrelated noise (white noise reads 1),
#: which says nothing about resolution. Native tbm regions read at most 0.648, the JPEG
#: scans at most 0.588; x2 up-sampled regions with Gaussian noise of std 0.05 added
#: 0.79-0.91 (caught), with 0.01-0.02 0.34-0.64 (not caught: noise added after an
#: up-sampling defeats the sharpness cue; ``studies/scale_sharpness_decision.py
#: --noise``).
MAX_NATIVE_SHARPNESS = 0.75

#: An input with native sharpness whose inference scale would fall in this range is
#: measured as it is (scale 1): on native tbm/train+val regions the autocorrelation
#: estimate reads up to 1.8 x the hand-drawn ℓ̄, never 2 x
#: (``studies/scale_sharpness_decision.py``).
SHARP_KEEP_SCALE_RANGE = (0.5, 1.0)

#: Side (px) of the central window whose autocorrelation estimates ℓ̄.
ACF_WINDOW = 1024

#: The window is halved (2x2 block means) while it holds fewer grains than this across.
ACF_MIN_GRAINS = 8

#: An image whose window read by the estimate holds fewer grains across than this by its
#: own autocorrelation estimate (:func:`judged_side` < MIN_JUDGED_GRAINS x estimate: a
#: square image's side, more for an oblong one) is not judged: the estimate is withheld
#: with a warning ("not enough image to judge", :func:`too_few_grains`) and the scale is
#: left as it is. On a crop of a few grains the estimate reads short (it cannot exceed
#: about 0.7 x the side): crops of tbm/train+val regions holding fewer than 2 true grains
#: read 0.24 x the whole region's estimate (median; 2-4 grains 0.55 x) and 87-100 % of
#: them are misjudged (off by > 1.3 x or another warning). Of the crops below 3.5 grains
#: by the estimate 91-97 % are misjudged; the rule catches 27 % of the misjudged tbm crops,
#: 37 % of those of x4 up-sampled regions and 18 % of the synthetic ones (a crop whose
#: texture reads short claims many grains and is not caught), and no crop of 6 grains or
#: more. Every whole image of the three-arm experiment on tbm/train+val holds at least
#: 4.5 grains by it (HR 256 px 5.4, the x4 antialiased reduction of 64 px 4.5, x4 up 5.5),
#: and is judged as before; 4 would catch 41 % / 49 % / 33 % with less margin there
#: (``studies/scale_estimate_crop_size.py``). Those crops are square; a strip (its
#: smaller side across a whole region) reads less short: of the tbm strips whose smaller
#: side holds < 3.5 grains by the estimate only 42 % are misjudged (x4 up 43 %; median
#: 0.84 x the region's estimate), so their grains are counted on the window read, as a
#: square (:func:`judged_side`): it flags 6 of 651 strips (83 % misjudged; x4 up 10 of
#: 669, 60 %) and the squares as before (``studies/scale_estimate_strips.py``).
MIN_JUDGED_GRAINS = 3.5

#: A native-sharp image whose window read by the estimate (:func:`judged_side`) is smaller
#: than this (px) is not up-sampled on an estimate between :data:`COARSE_INPUT_INTERCEPT_PX`
#: and the target (:func:`small_field`): it is measured at its own scale, with a warning to
#: measure a larger field. On such a field the estimate reads short by the field's size, not
#: the grains': on crops of tbm/train+val regions a median 0.60 / 0.77 / 0.85 x the true ℓ̄
#: at 64 / 96 / 128 px, 0.99 x at 192 px and 1.03 x at 256 px; enlarged by it, ℓ̄ read 29.0
#: / 22.6 % off (mean |error|) at 96 / 128 px with the 95 % interval holding the truth for
#: 59.5 / 70.7 % of them; with this rule 20.5 / 12.5 % and 77.0 / 93.3 %
#: (``studies/small_field_grain_size.py``; fields of 192 px and more as before). A coarse
#: estimate still chooses the scale: the x4-reduced copies of the same regions (64 px, true
#: ℓ̄ 5-8 px) look the same by estimate and sharpness and need it (at their own scale they
#: read 2.5 x long); their warning says the estimate can be the field's. 192, not 256, keeps
#: the x0.5 copy (192 px) of the synthetic micrograph of
#: ``test_model_scale_consistency_synthetic`` enlarged, as that test asks, though the 31 of
#: 75 tbm crops of 192 px that their estimate enlarges read 20.7 % off against 9.0 % at
#: scale 1 (docs/grain_size.md "Small fields"). Out of fold (every tbm/train+val region,
#: five leave-scan-out folds) every fold chose no limit at all (held-out mean |error|
#: 15.3 ± 2.2 % against 16.5 ± 2.8 % at 192), which that synthetic micrograph refutes:
#: kept at 192 (``studies/small_field_policy_oof.py``; strips read like squares of their
#: :func:`judged_side`).
SMALL_FIELD_PX = 192

#: Systematic uncertainty of counting runs on a thinned boundary mask (px at the scale
#: where crossings are counted): on synthetic tessellations with exact ℓ̄, dense grid
#: lines on the thinned exact mask read 1.02-1.07 px high (medians of 100 structures per
#: setting, ``studies/grain_size_consistency.py`` part C).
PIXEL_RESOLUTION_PX = 1.0

#: 2.5 % and 97.5 % quantiles of ``ln(ℓ̄ / ℓ̄_true)`` of :func:`measure_grain_size` with
#: the shipped weights at :data:`MODEL_ERROR_OPERATING_POINT` on tbm/train+val regions
#: whose input ℓ̄ is at least :data:`MIN_INPUT_INTERCEPT_PX`
#: (``studies/grain_size_calibration.py``): the model's share of the 95 % interval
#: (with the former ``global`` / ``d4``: (-0.240, +0.320); before native-sharp inputs
#: kept their scale: (-0.347, +0.238); counted before the third-grain rule of Heyn
#: counting, aeb8d59: (-0.347, +0.235); before its window reached the pixels before and
#: after long runs, 3930fb9: (-0.354, +0.223)).
MODEL_LOG_ERROR_95 = (-0.355, 0.221)
#: The model term of the 95 % interval for coarse inputs (:data:`COARSE_INPUT_INTERCEPT_PX`):
#: the calibrated term with its upper end (ℓ̄ too long: boundaries missed) raised to the
#: 97.5 % quantile of ``ln(ℓ̄ / ℓ̄_true)`` of the measured ×4-reduced tbm/train+val
#: regions out of fold (39 measurements, two repetitions; all 39 too long, median +0.26).
#: Leave one scan out, that upper end alone holds 35 of the 39
#: (``studies/three_arm_oof.py``).
COARSE_MODEL_LOG_ERROR_95 = (MODEL_LOG_ERROR_95[0], 0.625)
#: The operating point (threshold rule, TTA) :data:`MODEL_LOG_ERROR_95` was measured
#: with: the default of :mod:`napari_srmat.edges.infer` (``DEFAULT_THRESHOLD_RULE``,
#: ``DEFAULT_TTA``); another one gets a warning that the interval is indicative only.
MODEL_ERROR_OPERATING_POINT = ("otsu_scaled", "none")

#: Tiling used for the boundary model: the boundary model's tile, with a wider overlap
#: (>= 64 for near-untiled agreement; the grain-size calibration was measured with it).
MODEL_TILE = BOUNDARY_TILE
MODEL_OVERLAP = 64


#: Per-image keys shared by ``srmat grain-size`` and ``srmat heyn`` (docs/grain_size.md).
SCHEMA_KEYS = (
    "mean_intercept_px",
    "mean_intercept_ci95_px",
    "mean_intercept_um",
    "mean_intercept_ci95_um",
    "astm_g",
    "astm_g_ci95",
    "n_crossings",
    "n_intercepts",
    "inference_scale",
    "interval_scope",
    "interval_note",
    "warnings",
)


#: The grain-size widget's tab that measures a boundary mask, as labelled.
MASK_TAB = "Boundary mask"
#: The grain-size widget's tab that measures several fields of a specimen, as labelled.
SPECIMEN_TAB = "Specimen (E112)"
#: The grain-size widget's tab that measures a micrograph with the boundary model, as labelled.
SIMPLE_TAB = "Simple"
#: Whether :func:`measure_grain_size` thins a boundary map to 1 px lines before laying
#: its test lines (``srmat heyn --skeletonize``): the model's map and a mask
#: (``mask=True``) alike; the Simple tab shows and reports that, ``srmat grain-size
#: --json``'s ``settings`` record it (``--mask`` too).
MEASURED_SKELETONIZE = True
#: The key of :data:`MEASURED_SKELETONIZE` in :func:`measured_settings` (and in
#: ``srmat grain-size --json --mask``'s ``settings``, which have no model).
SKELETONIZE_SETTING = "skeletonize"
#: The rows of :func:`measured_settings` (the boundary model's name, its weights' digest,
#: the thinning), as a report writes them.
MEASURED_SETTING_KEYS = ("boundary model", "boundary model weights sha256",
                         SKELETONIZE_SETTING)
#: How :func:`measured_settings` names the shipped boundary weights (a model loaded
#: from ``napari_srmat/weights/uaed_default`` whose weights are the shipped ones).
SHIPPED_BOUNDARY_MODEL = "shipped default"
#: :meth:`~napari_srmat.edges.infer.BoundaryModel.weights_digest` of the shipped boundary
#: weights, those :data:`MODEL_ERROR_OPERATING_POINT` and the model term were measured
#: with: other weights in their folder (``scripts/train_uaed_weights.sh`` writes there)
#: are not them. Retraining them changes it (``tests/test_measured_settings.py``).
SHIPPED_BOUNDARY_WEIGHTS_SHA256 = "838a0ebc0bc433452f0fbd2765bdd716"
#: How :func:`measured_settings` names a model loaded from no checkpoint folder.
UNSAVED_BOUNDARY_MODEL = "a model not loaded from a checkpoint"
#: How a caller measures a boundary mask, as a message names it
#: (:func:`napari_srmat.errors.worded_error`).
MASK = Option("mask=True", "--mask", f"use the '{MASK_TAB}' tab")
#: The same for a probability map, binarised at a threshold T (no widget measures one).
MASK_AT_THRESHOLD = Option("mask=True, threshold=T", "--mask --threshold T")


class GrainSizeError(ValueError):
    """Bad input to the grain-size measurement (image, options)."""


# ------------------------------------------------------------------ results
def _warn_n_intercepts() -> None:
    import warnings

    warnings.warn("GrainSizeResult.n_intercepts is renamed n_crossings (the boundary "
                  "crossings, as every output names them; E112's N is intercept_count); "
                  "the old name is read until napari-srmat 0.3.0", DeprecationWarning,
                  stacklevel=3)


def _pair(p: Any) -> list | None:
    if p is None:
        return None
    lo, hi = (finite_or_none(v) for v in p)
    return None if lo is None or hi is None else [lo, hi]


@dataclass
class GrainSizeResult:
    """Grain size of one image with its 95 % interval.

    Attributes
    ----------
    mean_intercept_px : float or None
        ℓ̄ in input pixels (``None`` when no valid figure: ``warnings`` says why).
    mean_intercept_ci95_px : (float, float) or None
        95 % interval of ℓ̄ (input pixels).
    mean_intercept_um, mean_intercept_ci95_um : float, (float, float) or None
        The same in micrometres (``None`` without a pixel size).
    astm_g, astm_g_ci95 : float, (float, float) or None
        ASTM E112 grain size number and its interval (``None`` without a pixel size).
    n_crossings : int
        Boundary crossings counted (at inference scale): ``n_crossings`` of
        :meth:`napari_srmat.metrics.heyn.HeynResult.counts`, as every output names them.
        ``n_intercepts``, its name until 2026-12-05 (E112's N is ``intercept_count``),
        still reads it with a DeprecationWarning until 0.3.0, and ``to_dict()`` keeps the
        key ``n_intercepts`` until then.
    inference_scale : float
        Factor by which the input was resampled before the model (1.0 for masks).
    upscale_factor : int or None
        The factor of a known upscale the input was measured as (``upscale_factor``
        given, else the one its ``srmat sr run`` store records:
        :func:`recorded_upscale_factor`); None: none (always for masks). Where its field
        would be measured at scale 1, ``inference_scale`` is ``1 / upscale_factor``.
    mask_scale : int or None
        The ``mask_scale`` given (``mask=True``: the mask was drawn at 1 / ``mask_scale``
        and upscaled); None: not given.
    block_scale : int
        The blocks the count's zig-zag bridge ran on: ``HeynResult.block_scale`` of
        :attr:`heyn` (the ``mask_scale`` given, else the scale of an exact nearest
        upscale read off the map; 1: its pixels).
    warnings : list of str
        Why figures are withheld or doubtful.
    interval_scope : str
        ``"field"`` (read-only): the interval is this image's (field's), not the
        specimen's; ``srmat grain-size`` and ``srmat heyn`` tell it when one field is all
        that was measured (:func:`~napari_srmat.metrics.standards.one_field_note`).
    pixel_size_um : float or None
    mode : {"image", "mask"}
    estimated_intercept_px : float or None
        The autocorrelation estimate of ℓ̄ that chose the scale (images only).
    estimated_sharpness : float or None
        :func:`estimate_sharpness` of the input, which keeps native-sharp inputs at
        their own scale (images only).
    inference_intercept_px : float or None
        ℓ̄ at inference scale (where the model's reliability is known).
    uncertainty : dict
        Relative (log) half-widths: ``sampling``, ``pixel``, ``model_low``,
        ``model_high``.
    n_lines : int
    pattern : str
    threshold : float or None
        Binarisation threshold of the probability map (images only; the median over
        the regions when the map was binarised region by region,
        :func:`napari_srmat.edges.thresholds.binarize_by_region`; None for rules that
        are not one threshold per image, e.g. ``bridge``).
    threshold_rule : str or None
        The operating-point rule that binarised the map (images only):
        ``model.threshold_rule``, or ``"fixed"`` for a given ``threshold``.
    heyn : HeynResult or None
        The measurement at inference scale (intersections, lines) for display.
    probability : ndarray or None
        The model's boundary probability at inference scale (images only; not in
        ``to_dict()``).
    boundaries : ndarray of bool or None
        The binarised map the intercepts were counted on, before thinning (images
        only; not in ``to_dict()``).
    """

    mean_intercept_px: float | None
    mean_intercept_ci95_px: tuple[float, float] | None
    n_crossings: int
    inference_scale: float
    warnings: list = field(default_factory=list)
    mask_scale: int | None = None
    block_scale: int = 1
    upscale_factor: int | None = None
    pixel_size_um: float | None = None
    mean_intercept_um: float | None = None
    mean_intercept_ci95_um: tuple[float, float] | None = None
    astm_g: float | None = None
    astm_g_ci95: tuple[float, float] | None = None
    mode: str = "image"
    estimated_intercept_px: float | None = None
    estimated_sharpness: float | None = None
    inference_intercept_px: float | None = None
    uncertainty: dict = field(default_factory=dict)
    n_lines: int = 0
    pattern: str = "random"
    threshold: float | None = None
    threshold_rule: str | None = None
    heyn: HeynResult | None = field(default=None, repr=False)
    probability: np.ndarray | None = field(default=None, repr=False)
    boundaries: np.ndarray | None = field(default=None, repr=False)

    @property
    def interval_scope(self) -> str | None:
        """What the 95 % interval is an interval of: this field's ℓ̄
        (:data:`~napari_srmat.metrics.standards.FIELD_SCOPE`, ``"field"``: one image's
        test lines, pixels and model), never the specimen's, which needs several fields
        (:func:`~napari_srmat.metrics.standards.summarize_fields`; docs/grain_size.md);
        ``None`` where ℓ̄ is withheld (no figure, no interval: the rule
        :func:`~napari_srmat.metrics.standards.interval_scope` of no field)."""
        return interval_scope(0 if self.mean_intercept_px is None else 1)

    @property
    def interval_note(self) -> str | None:
        """Why ℓ̄'s 95 % interval is None where ℓ̄ is given (read-only): the rule of
        every row, :func:`interval_note` of :attr:`warnings`; None where it has one or
        ℓ̄ is withheld."""
        return interval_note(self.warnings if self.mean_intercept_px is not None else ())

    @property
    def ci95_half_width_px(self) -> float | None:
        """Half-width of the test lines' 95 % interval of ℓ̄ in input pixels (read-only):
        ``HeynResult.ci95_half_width_px`` of :attr:`heyn` (``ℓ̄ r'``), None where
        :attr:`mean_intercept_ci95_px` is withheld (:attr:`interval_note` says why) or
        without :attr:`heyn`: the rule :func:`interval_half_width`, which ``srmat
        heyn``'s rows and the Heyn widget's exports write (until 2026-12-07 ``srmat
        heyn --json`` wrote 414.9 beside ℓ̄ 32.66 px and an interval withheld)."""
        if self.heyn is None:
            return None
        return interval_half_width(self.mean_intercept_ci95_px,
                                   self.heyn.ci95_half_width_px / float(self.inference_scale))

    @property
    def n_intercepts(self) -> int:
        """Deprecated name of :attr:`n_crossings` (until 0.3.0): the crossings, not E112's
        N (``intercept_count``)."""
        _warn_n_intercepts()
        return self.n_crossings

    @n_intercepts.setter
    def n_intercepts(self, value: int) -> None:
        _warn_n_intercepts()
        self.n_crossings = value

    def to_dict(self) -> dict:
        """JSON-friendly dict: the schema of docs/grain_size.md (NaN/inf become None)."""
        return {
            "mean_intercept_px": finite_or_none(self.mean_intercept_px),
            "mean_intercept_ci95_px": _pair(self.mean_intercept_ci95_px),
            "mean_intercept_um": finite_or_none(self.mean_intercept_um),
            "mean_intercept_ci95_um": _pair(self.mean_intercept_ci95_um),
            "astm_g": finite_or_none(self.astm_g),
            "astm_g_ci95": _pair(self.astm_g_ci95),
            "n_crossings": int(self.n_crossings),
            # the old name of n_crossings, kept in the JSON until 0.3.0 (docs/grain_size.md)
            "n_intercepts": int(self.n_crossings),
            "inference_scale": float(self.inference_scale),
            "upscale_factor": None if self.upscale_factor is None else int(self.upscale_factor),
            "mask_scale": None if self.mask_scale is None else int(self.mask_scale),
            "block_scale": int(self.block_scale),
            "interval_scope": self.interval_scope,
            "interval_note": self.interval_note,
            "warnings": list(self.warnings),
            "pixel_size_um": finite_or_none(self.pixel_size_um),
            "mode": self.mode,
            "estimated_intercept_px": finite_or_none(self.estimated_intercept_px),
            "estimated_sharpness": finite_or_none(self.estimated_sharpness),
            "inference_intercept_px": finite_or_none(self.inference_intercept_px),
            "n_lines": int(self.n_lines),
            "pattern": self.pattern,
            "threshold": finite_or_none(self.threshold),
            "threshold_rule": self.threshold_rule,
            "uncertainty": {k: (_pair(v) if isinstance(v, (tuple, list)) else finite_or_none(v))
                            for k, v in self.uncertainty.items()},
        }


# --------------------------------------------------------------- intervals
def sampling_log_terms(relative_half: float, *, count: float,
                       n_lines: int) -> tuple[float, float]:
    """Lower and upper log half-widths of the line-sampling term of ℓ̄'s 95 % interval.

    ``relative_half`` is ``r = h / d̄``, the Student-t half-width of the mean per-line
    intersection density over that mean (ASTM E112 §15; ``HeynResult.relative_accuracy_pct``
    / 100), floored at the resolution of the lines' integer counts, ``c`` =
    :func:`~napari_srmat.metrics.standards.counting_half`: ``r' = max(r, c)``
    (:func:`~napari_srmat.metrics.standards.floored_relative_half`, the package's one
    rule for a mean of counts). That interval of the density is inverted, which
    ℓ̄ = 1 / d makes asymmetric: ``ℓ̄ [1 / (1 + r'), 1 / (1 - r')]``, at every
    intersection count (an infinite upper end once the density interval reaches 0,
    ``r' >= 1``). It is one rule at every count: until 0a6b0a2 it was ``±r`` from
    E112's 50 intersections on and, below, the inverted interval widened to the exact
    Poisson interval of the count, so one more crossing narrowed it abruptly. No
    Poisson floor: on synthetic micrographs (2-40 random lines, 10-700 crossings) the
    inverted interval covers the ℓ̄ of many lines 95-96 % of the time in every band of
    the count, while widened to the Poisson interval it covered 100 % at 1.25 x the
    width, since crossings along a line are more regular than a Poisson count. Without
    ``c`` the ``grid`` pattern (equal lines, parallel ones seeing the same grains)
    covered only 88.7 % of fields with P < 25 and 92.4 % with 2 + 2 lines, where the
    lines' counts often agree (``r = 0``: an interval of the pixel term alone). From
    295d30c ``c`` was added in quadrature, ``sqrt(r² + c²)``, which counts the
    quantisation twice when ``r > 0`` (the densities' scatter already carries it);
    the floor (this rule) covers the grid 92.1 / 95.0 / 97.2 / 97.5 / 97.2 % for
    P < 25 / 25-50 / 50-100 / 100-200 / >= 200 (the sum: 92.8 / 96.3 / 97.7 / 98.1 /
    97.6 %) and random lines 99.4 / 97.6 / 95.6 / 95.6 / 96.4 % (the sum: 99.4 /
    97.8 / 96.2 / 96.0 / 96.6 %; without ``c`` 94.7 / 95.8 / 95.3 / 95.6 / 96.4 %),
    ``studies/heyn_interval_coverage.py``, docs/grain_size.md "The 95 % interval".

    Parameters
    ----------
    relative_half : float
        ``r`` (NaN when unknown: fewer than two lines).
    count : float
        The intersection count P of all lines (``HeynResult.intersection_count``).
    n_lines : int
        The number of lines measured (``HeynResult.n_lines_measured``).

    Returns
    -------
    (low, high) : (float, float)
        ``ln(ℓ̄ / low end) = ln(1 + r')`` and ``ln(high end / ℓ̄) = -ln(1 - r')``;
        ``high`` is ``inf`` for ``r' >= 1``; both NaN for a NaN ``r``.

    Examples
    --------
    >>> [round(v, 4) for v in sampling_log_terms(0.1, count=500, n_lines=50)]
    [0.0953, 0.1054]
    >>> [round(v, 3) for v in sampling_log_terms(0.8, count=40, n_lines=4)]  # r' = r
    [0.588, 1.609]
    >>> [round(v, 3) for v in sampling_log_terms(0.0, count=12, n_lines=4)]  # r = 0
    [0.142, 0.166]
    >>> sampling_log_terms(1.2, count=10, n_lines=2)[1]
    inf
    """
    r = floored_relative_half(relative_half, count=count, n_lines=n_lines)
    if not math.isfinite(r):
        return math.nan, math.nan
    return math.log1p(r), (-math.log1p(-r) if r < 1 else math.inf)


def intercept_interval(
    mean_px: float,
    *,
    sampling_half_px: float,
    intersection_count: float,
    n_lines: int,
    model_range_px: tuple[float | None, float | None] | None = None,
    pixel_resolution_px: float = PIXEL_RESOLUTION_PX,
) -> tuple[tuple[float, float] | None, dict]:
    """95 % interval of ℓ̄ from line sampling, pixel resolution and the model band.

    The one rule that combines them: in quadrature on a log scale, with ``s_lo`` and
    ``s_hi`` the line-sampling term (:func:`sampling_log_terms` of ``r = h / ℓ̄``
    floored at the counting resolution ``c``: ``ln(1 + r')`` and ``-ln(1 - r')``,
    ``r' = max(r, c)``), ``p = pixel_resolution_px / ℓ̄``,
    ``m_lo = ln(ℓ̄ / min(band))`` and ``m_hi = ln(max(band) / ℓ̄)`` (zero when the band
    does not reach below / above ℓ̄), the interval is
    ``[ℓ̄ exp(-sqrt(s_lo² + p² + m_lo²)), ℓ̄ exp(sqrt(s_hi² + p² + m_hi²))]``.

    Parameters
    ----------
    mean_px : float
        ℓ̄ at the scale where crossings were counted.
    sampling_half_px : float
        Half-width of the line-sampling 95 % interval (Student t), same pixels
        (``ℓ̄ r``, ``r`` = ``HeynResult.relative_accuracy_pct`` / 100; its floored
        ``ℓ̄ r'``, ``HeynResult.ci95_half_width_px``
        (:func:`~napari_srmat.metrics.standards.floored_half_width`), gives the same
        interval: the floor is idempotent).
    intersection_count : float
        The lines' intersection count P (``HeynResult.intersection_count``).
    n_lines : int
        The number of test lines measured (``HeynResult.n_lines_measured``: those with
        length in the measured area, the ``n`` of the scatter).
    model_range_px : (float or None, float or None), optional
        The lowest and highest ℓ̄ (same pixels) the model's own uncertainty makes
        plausible at 95 %; ``None`` for no model term. An end that is ``None`` (not
        known) gives no interval.
    pixel_resolution_px : float
        Systematic counting uncertainty (px).

    Returns
    -------
    interval : (low, high) or None
        ``None`` when a term is unknown (fewer than 2 lines, an invalid band end);
        ``high`` is ``inf`` when the sampling term has no upper bound.
    terms : dict
        The relative (log) half-widths ``sampling`` (``h / ℓ̄``, the lines' scatter),
        ``counting`` (``c``, :func:`~napari_srmat.metrics.standards.counting_half`: the
        floor under ``sampling``), ``sampling_low``, ``sampling_high`` (the sampling
        term's ends, of ``max(sampling, counting)``), ``pixel``, ``model_low``,
        ``model_high``.

    Examples
    --------
    >>> (lo, hi), terms = intercept_interval(25.0, sampling_half_px=1.0,
    ...                                      intersection_count=400, n_lines=50,
    ...                                      model_range_px=(23.0, 28.0))
    >>> round(lo, 2), round(hi, 2), round(terms["model_high"], 3)
    (22.61, 28.38, 0.113)
    """
    if not (mean_px and mean_px > 0 and math.isfinite(mean_px)):
        return None, {}
    s = sampling_half_px / mean_px if math.isfinite(sampling_half_px) else math.nan
    c = counting_half(intersection_count, n_lines)
    s_lo, s_hi = sampling_log_terms(s, count=intersection_count, n_lines=n_lines)
    p = pixel_resolution_px / mean_px
    m_lo = m_hi = 0.0
    ok = math.isfinite(s_lo)
    if model_range_px is not None:
        ends = [e for e in model_range_px if e is not None and e > 0 and math.isfinite(e)]
        if len(ends) < 2:
            ok = False
        else:
            m_lo = max(0.0, math.log(mean_px / min(ends)))
            m_hi = max(0.0, math.log(max(ends) / mean_px))
    terms = {"sampling": s, "counting": c, "sampling_low": s_lo, "sampling_high": s_hi, "pixel": p,
             "model_low": m_lo, "model_high": m_hi}
    if not ok:
        return None, terms
    a = math.sqrt(s_lo * s_lo + p * p + m_lo * m_lo)
    b = math.sqrt(s_hi * s_hi + p * p + m_hi * m_hi)
    return (mean_px * math.exp(-a), mean_px * math.exp(b) if math.isfinite(b) else math.inf), terms


#: How a warning of :func:`grain_size_from_heyn` that ℓ̄ has no 95 % interval begins
#: (then why: fewer than two test lines measured, the model's range unknown, no upper
#: end); a field row (:func:`field_interval`) carries it as ``interval_note``.
NO_INTERVAL_NOTE = "no 95% interval"


def interval_note(warnings: Sequence[str], reasons: Sequence[str] = ()) -> str | None:
    """A row's ``interval_note``: why an interval is None where its figure is given.

    The one rule of every row (``GrainSizeResult.to_dict()``, ``srmat heyn``'s rows,
    :func:`field_interval`'s field rows): the row's warnings that begin
    :data:`NO_INTERVAL_NOTE`, then ``reasons`` (e.g.
    :data:`PLANIMETRIC_FIELD_NO_INTERVAL`), joined by ``"; "``.

    Parameters
    ----------
    warnings : sequence of str
        The row's warnings (empty where its figure is withheld: no figure, no note).
    reasons : sequence of str
        Further reasons of the caller, after the warnings'.

    Returns
    -------
    str or None
        None where there is nothing to say (the row has its intervals).

    Examples
    --------
    >>> interval_note(["no pixel size", f"{NO_INTERVAL_NOTE}: one line"])
    'no 95% interval: one line'
    >>> interval_note([]) is None
    True
    """
    return "; ".join(_no_interval_warnings(warnings) + list(reasons)) or None


def interval_half_width(interval: tuple[float, float] | list | None,
                        half_width: float) -> float | None:
    """The half-width of ℓ̄'s 95 % interval that a row reports beside ``interval``.

    The one rule of every Heyn output (:attr:`GrainSizeResult.ci95_half_width_px`:
    ``srmat heyn``'s rows, the Heyn widget's statistics and exports; ``srmat heyn``'s
    pooled interval over masks): none where the interval is withheld (fewer than two
    test lines, no upper end: ``interval_note`` says why), since ``ℓ̄ ± half-width``
    would read as the interval that does not exist.

    Parameters
    ----------
    interval : (float, float) or None
        The row's ``mean_intercept_ci95_px`` (None: withheld).
    half_width : float
        The half-width ``ℓ̄ r'`` (:func:`~napari_srmat.metrics.standards.floored_half_width`).

    Returns
    -------
    float or None
        ``half_width``; None where ``interval`` is None or ``half_width`` is not finite.

    Examples
    --------
    >>> interval_half_width((9.0, 11.2), 1.0)
    1.0
    >>> interval_half_width(None, 414.9) is None   # no upper end: withheld
    True
    """
    return None if interval is None else finite_or_none(half_width)


def _no_interval_warnings(warnings: Sequence[str]) -> list[str]:
    """The warnings that say why ℓ̄ has no interval (begin :data:`NO_INTERVAL_NOTE`)."""
    return [w for w in warnings if w.startswith(NO_INTERVAL_NOTE)]


def _scaled(interval, factor):
    return None if interval is None else (interval[0] * factor, interval[1] * factor)


#: What one field's values are called in its row's note that they scatter as much as
#: their mean (:func:`~napari_srmat.metrics.standards.no_upper_end_note` in
#: :func:`grain_size_from_heyn`; a specimen's are ``metrics.standards.FIELDS_N_L``).
LINES_N_L = "the test lines' intersection densities"


def grain_size_from_heyn(
    res: HeynResult,
    *,
    pixel_size_um: float | None = None,
    inference_scale: float = 1.0,
    model_range_px: tuple[float | None, float | None] | None = None,
    mode: str = "mask",
    warnings: list[str] | None = None,
) -> GrainSizeResult:
    """The grain-size figures (ℓ̄, G and their intervals) of a Heyn measurement.

    The one place where a :class:`~napari_srmat.metrics.heyn.HeynResult` becomes the
    ``srmat grain-size`` schema (``srmat heyn`` uses it for its per-image rows).

    Parameters
    ----------
    res : HeynResult
        Measurement at inference scale (a boundary mask: scale 1).
    pixel_size_um : float, optional
        Pixel size of the *input* image; enables µm and G.
    inference_scale : float
        Factor by which the input was resampled before the measurement.
    model_range_px : (float, float), optional
        ℓ̄ range the model's uncertainty makes plausible (inference pixels); see
        :func:`intercept_interval`.
    mode : {"mask", "image"}
        ``"image"``: a micrograph's map, whose scale :func:`measure_grain_size`'s own
        checks judge; the measurement's coarse-mask note
        (:func:`~napari_srmat.metrics.heyn.coarse_map_note`) is dropped.
    warnings : list of str, optional
        Warnings of the caller, put before the measurement's own.

    Returns
    -------
    GrainSizeResult

    Examples
    --------
    >>> m = np.zeros((200, 200), bool); m[:, 5::20] = True; m[5::20, :] = True
    >>> res = measure_intercepts(m, pattern="grid", n_lines=7, margin=0)
    >>> r = grain_size_from_heyn(res, pixel_size_um=0.5)
    >>> round(r.mean_intercept_px, 1), [round(v, 1) for v in r.mean_intercept_ci95_px]
    (19.9, [18.9, 21.0])
    """
    pixel_size_um = check_pixel_size(pixel_size_um)
    mean_inf = res.mean_intercept_px
    heyn_warns = list(res.warnings)
    if mode == "image" and mean_inf is not None:  # a micrograph's scale checks tell it
        heyn_warns = [w for w in heyn_warns if w != coarse_map_note(mean_inf)]
    warns = list(warnings or []) + heyn_warns
    interval = None
    terms: dict = {}
    k = 1.0 / float(inference_scale)
    if mean_inf is not None:
        # the lines' scatter, ℓ̄ r (the terms' ``sampling``); intercept_interval floors
        # it (floored_relative_half) as HeynResult.ci95_half_width_px is floored
        # (metrics.standards.floored_half_width, the same r, P and measured lines)
        interval, terms = intercept_interval(
            mean_inf, sampling_half_px=mean_inf * res.relative_accuracy_pct / 100.0,
            intersection_count=res.intersection_count, n_lines=res.n_lines_measured,
            model_range_px=model_range_px)
        if interval is None:
            warns.append(f"{NO_INTERVAL_NOTE}: " + (
                "the model's uncertainty range is not known"
                if math.isfinite(res.ci95_half_width_px) else "fewer than two test lines measured"))
        elif not math.isfinite(interval[1]):
            warns.append(no_upper_end_note(interval[0] * k, "px", LINES_N_L))
            interval = None
    if mean_inf is not None and has_few_intersections(res.intersection_count):
        warns.append(few_intersections_note(res.intersection_count))
    mean = None if mean_inf is None else mean_inf * k
    out = GrainSizeResult(
        mean_intercept_px=mean,
        mean_intercept_ci95_px=_scaled(interval, k),
        n_crossings=int(res.n_intersections),
        inference_scale=float(inference_scale),
        warnings=warns,
        mask_scale=res.mask_scale,  # the setting that made it, and the rule it used
        block_scale=res.block_scale,
        pixel_size_um=pixel_size_um,
        mode=mode,
        inference_intercept_px=mean_inf,
        uncertainty=terms,
        n_lines=int(res.n_lines),
        pattern=res.pattern,
        heyn=res,
    )
    _add_physical(out)
    return out


#: Why a planimetric field's ``astm_g_ci95`` is null (its ``interval_note``,
#: :func:`field_interval`): the field's G is one count, which the package's interval rule
#: (a mean over test lines or fields, :func:`napari_srmat.metrics.standards.
#: floored_relative_half`) cannot give an interval.
PLANIMETRIC_G_NO_INTERVAL = (
    "astm_g_ci95: the planimetric G of one field is one Jeffries count, which gives no "
    "interval of its own (E112's interval of N_A is over fields: the specimen summary's "
    "astm_g_ci95)")
#: A planimetric field row's reason where its ℓ̄ stands (then its interval is the lines');
#: where ℓ̄ is withheld (no line crosses a boundary) the reason is
#: :data:`PLANIMETRIC_G_NO_INTERVAL` alone (until 2026-12-07 it pointed to an ℓ̄ interval
#: that was not there).
PLANIMETRIC_FIELD_NO_INTERVAL = (
    PLANIMETRIC_G_NO_INTERVAL
    + "; mean_intercept_ci95 is the interval of the field's test lines' ℓ̄")

#: The keys :func:`field_interval` gives a field row (``measure_field``'s).
FIELD_INTERVAL_KEYS = ("mean_intercept_ci95_px", "mean_intercept_ci95_um", "astm_g_ci95",
                       "interval_scope", "interval_note")


def field_interval(
    res: HeynResult,
    *,
    method: str = "intercept",
    pixel_size_um: float | None = None,
    model_log_terms: tuple[float | None, float | None] | None = None,
    g_given: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """One field's own 95 % interval: the interval keys of a
    :func:`~napari_srmat.metrics.standards.measure_field` row.

    The rule of the rows of ``srmat grain-size`` without ``--method``
    (:func:`grain_size_from_heyn`: the test lines' scatter floored at their counts'
    resolution, the pixel term and, for a boundary model's map, the model's term), in
    the field's pixels; the field rows of ``measure_specimen``, the widget's *Specimen*
    tab and ``srmat grain-size --method`` carry it.

    Parameters
    ----------
    res : HeynResult
        The field's intercept measurement.
    method : {"intercept", "planimetric"}
        The method of the row's G: the planimetric G (one Jeffries count) gets no
        interval (:data:`PLANIMETRIC_FIELD_NO_INTERVAL`).
    pixel_size_um : float, optional
        The field's pixel size (µm and G intervals).
    model_log_terms : (float or None, float or None), optional
        A boundary model's relative (log) half-widths of ℓ̄, below and above
        (``GrainSizeResult.uncertainty``'s ``model_low`` and ``model_high`` of the map
        the field was cut from), applied to the field's ℓ̄; an end None (not known)
        gives no interval. None: a mask, no model term.
    g_given : bool
        Whether the row gives G (then a planimetric row's ``interval_note`` says why its
        G has no interval).

    Returns
    -------
    keys : dict
        :data:`FIELD_INTERVAL_KEYS`: ``mean_intercept_ci95_px``,
        ``mean_intercept_ci95_um``, ``astm_g_ci95``, ``interval_scope`` (``"field"``,
        None where ℓ̄ is) and ``interval_note``: None, or why an interval is None where
        its figure is given.
    notes : list of str
        Why ℓ̄ has no interval (warnings beginning :data:`NO_INTERVAL_NOTE`), empty
        where it has one.

    Examples
    --------
    >>> m = np.zeros((200, 200), bool); m[:, 5::20] = True; m[5::20, :] = True
    >>> res = measure_intercepts(m, pattern="grid", n_lines=7, margin=0)
    >>> keys, notes = field_interval(res, pixel_size_um=0.5)
    >>> [round(v, 1) for v in keys["mean_intercept_ci95_px"]], keys["interval_note"], notes
    ([18.9, 21.0], None, [])
    """
    band = None
    mean = res.mean_intercept_px
    if model_log_terms is not None:
        lo, hi = model_log_terms
        known = None not in (lo, hi, mean)
        band = (mean * math.exp(-lo), mean * math.exp(hi)) if known else (None, None)
    row = grain_size_from_heyn(res, pixel_size_um=pixel_size_um, model_range_px=band,
                               mode="mask" if model_log_terms is None else "image").to_dict()
    notes = _no_interval_warnings(row["warnings"])  # filtered once
    reasons = []
    if method == "planimetric":
        row["astm_g_ci95"] = None
        if g_given:
            reasons.append(PLANIMETRIC_G_NO_INTERVAL if mean is None
                           else PLANIMETRIC_FIELD_NO_INTERVAL)
    keys = {k: row[k] for k in FIELD_INTERVAL_KEYS[:-1]}
    keys["interval_note"] = interval_note(notes, reasons)
    return keys, notes


def physical_figures(mean_intercept_px: float | None,
                     mean_intercept_ci95_px: Sequence[float] | None,
                     pixel_size_um: float | None) -> dict[str, Any]:
    """ℓ̄ in µm and ASTM G, with their 95 % intervals, of a figure in pixels.

    The one rule of the schema's µm and G keys (:func:`grain_size_from_heyn`'s rows, the
    pooled figures of ``srmat heyn``).

    Parameters
    ----------
    mean_intercept_px : float or None
        ℓ̄ in pixels (None: withheld).
    mean_intercept_ci95_px : (float, float) or None
        Its ``[low, high]`` interval in pixels.
    pixel_size_um : float or None
        µm per pixel (None: no µm and no G).

    Returns
    -------
    dict
        ``mean_intercept_um``, ``mean_intercept_ci95_um``, ``astm_g``, ``astm_g_ci95``
        (``(low, high)``: G falls as ℓ̄ grows, so ``low`` comes from the interval's upper
        ℓ̄), each None where its input is.

    Examples
    --------
    >>> f = physical_figures(20.0, (18.0, 22.0), 0.5)
    >>> f["mean_intercept_ci95_um"], round(f["astm_g"], 2), [round(g, 2) for g in f["astm_g_ci95"]]
    ((9.0, 11.0), 10.0, [9.72, 10.3])
    >>> physical_figures(20.0, (18.0, 22.0), None)["astm_g_ci95"] is None
    True
    """  # noqa: E501
    out: dict[str, Any] = dict.fromkeys(
        ("mean_intercept_um", "mean_intercept_ci95_um", "astm_g", "astm_g_ci95"))
    px = pixel_size_um
    if px is None or mean_intercept_px is None:
        return out
    out["mean_intercept_um"] = mean_intercept_px * px
    out["astm_g"] = astm_grain_size_number(out["mean_intercept_um"] / 1000.0)
    if mean_intercept_ci95_px is not None:
        lo, hi = (v * px for v in mean_intercept_ci95_px)
        out["mean_intercept_ci95_um"] = (lo, hi)
        # G falls as ℓ̄ grows: the interval's ends swap
        out["astm_g_ci95"] = (astm_grain_size_number(hi / 1000.0),
                              astm_grain_size_number(lo / 1000.0))
    return out


def _add_physical(out: GrainSizeResult) -> None:
    """Fill the µm and G figures of ``out`` from its pixel figures and pixel size, and
    warn of a G outside E112's tables (a pixel size in another unit:
    :func:`~napari_srmat.metrics.standards.g_range_warning`)."""
    for key, value in physical_figures(out.mean_intercept_px, out.mean_intercept_ci95_px,
                                       out.pixel_size_um).items():
        setattr(out, key, value)
    # once: measure_field keeps only the row's no-interval notes
    warn_g_range(out.warnings, out.astm_g)


def is_lines_warning(out: GrainSizeResult, warning: str) -> bool:
    """Whether ``warning`` of ``out`` is one of its test lines' own, on its figure: the
    map's (``HeynResult.warnings``: no crossing, ...), its count of intersections, its
    interval (:data:`NO_INTERVAL_NOTE`, :data:`LINES_N_L`) or its G's range.

    Parameters
    ----------
    out : GrainSizeResult
        The result whose warning it is.
    warning : str
        One of ``out.warnings``.

    Returns
    -------
    bool
        True for a warning on the measured figure, not on the input.
    """
    own = {g_range_warning(out.astm_g)}
    if out.heyn is not None:
        own.update(out.heyn.warnings)
        own.add(few_intersections_note(out.heyn.intersection_count))
    return (warning in own or warning.startswith(NO_INTERVAL_NOTE)
            or LINES_N_L in warning)


def _withhold(out: GrainSizeResult, reason: str, *, drop_range: bool = False) -> None:
    """Withhold the figures of ``out`` for ``reason`` (appended to its warnings), and the
    test lines' warnings on them (:func:`is_lines_warning`: its interval, its count, its
    G's range; ``drop_range``: the scale range's too, :data:`RANGE_NOTE`): a number not
    reported carries no warning about it (until s50 F7.3 a withheld run kept its
    interval's)."""
    out.warnings[:] = [w for w in out.warnings if not is_lines_warning(out, w)
                       and not (drop_range and w.startswith(RANGE_NOTE))]
    out.warnings.append(reason)
    out.mean_intercept_px = out.mean_intercept_ci95_px = None
    out.mean_intercept_um = out.mean_intercept_ci95_um = None
    out.astm_g = out.astm_g_ci95 = None


# ------------------------------------------------------------------ images
def _image_array(image: Any) -> Any:
    """The input as an array (numpy or dask) of 2 or 3 dimensions, else GrainSizeError."""
    from .io import image_data

    image, _ = image_data(image)
    if len(image.shape) not in (2, 3):
        raise GrainSizeError(f"expected an (H, W) or (H, W, C) image, got shape "
                             f"{tuple(image.shape)}")
    return image


def _central_window(arr: Any, side: int) -> np.ndarray:
    """The central ``side`` x ``side`` window of an image (numpy or dask: only it is
    read) as :func:`_float_image`."""
    from .io import read_window

    h, w = arr.shape[:2]
    y0, x0 = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return _float_image(read_window(arr, y0, y0 + side, x0, x0 + side))


def _float_image(arr: Any) -> np.ndarray:
    """``(H, W)`` or ``(H, W, 3)`` float32 in [0, 1] (alpha and extra channels dropped)."""
    from .io import grey_or_rgb, to_float01

    a = grey_or_rgb(arr)
    if a.ndim not in (2, 3):
        raise GrainSizeError(f"expected an (H, W) or (H, W, C) image, got shape {np.shape(arr)}")
    out = to_float01(a)
    if not np.all(np.isfinite(out)):
        raise GrainSizeError("the image has NaN or Inf pixels; replace them first "
                             "(e.g. numpy.nan_to_num)")
    return out


def resampled_shape(shape: tuple, scale: float) -> tuple[int, int]:
    """The ``(H, W)`` an image of ``shape`` has once resampled by ``scale``: the one rule
    of :func:`resample`, of the measurement's pyramid reads and of its memory plan
    (:func:`napari_srmat.estimates.plan_grain_size`).

    Examples
    --------
    >>> resampled_shape((100, 60, 3), 0.25), resampled_shape((3, 3), 0.1)
    ((25, 15), (1, 1))
    """
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def resample(image: np.ndarray, scale: float) -> np.ndarray:
    """Resample an image by ``scale`` (:func:`napari_srmat.edges.data.resize_bilinear`).

    Parameters
    ----------
    image : ndarray (H, W) or (H, W, C)
        Float image.
    scale : float
        Output size / input size (> 0); 1 returns the image unchanged.

    Returns
    -------
    ndarray
        ``round(H * scale) x round(W * scale)`` (at least 1 px), float32.

    Examples
    --------
    >>> resample(np.zeros((100, 60), np.float32), 0.25).shape
    (25, 15)
    """
    if not (scale > 0 and math.isfinite(scale)):
        raise GrainSizeError(f"inference scale must be a finite number > 0, got {scale}")
    if scale == 1:
        return image
    from .edges.data import resize_bilinear

    shape = resampled_shape(image.shape, scale) + image.shape[2:]
    return resize_bilinear(image, shape).astype(np.float32, copy=False)


def _acf_half_length(img: np.ndarray) -> float | None:
    """Lag (px) at which the radially averaged autocorrelation halves (from lag 1).

    Only the lags the radial average uses (``|dy|, |dx| <= min(h, w) // 2``) are taken
    from the zero-padded autocorrelation, and the channels are transformed one at a time:
    the values and their order are those of the whole ``fftshift``-ed map, with a quarter
    of its index arrays and a third of the complex spectra in memory.
    """
    a = img if img.ndim == 3 else img[..., None]
    a = a - a.mean(axis=(0, 1))
    h, w = a.shape[:2]
    size = (2 * h, 2 * w)
    power = None  # summed over the channels in their order, as .sum(-1) of the stack
    for c in range(a.shape[2]):
        pc = np.abs(np.fft.rfft2(a[..., c], s=size)) ** 2
        power = pc if power is None else power + pc
    acf = np.fft.irfft2(power, s=size)
    rmax = min(h, w) // 2
    lags = np.arange(-rmax, rmax + 1)  # rows / columns of the fftshift-ed map around lag 0
    acf = acf[np.ix_(lags % size[0], lags % size[1])] / np.maximum(
        _acf_overlap(h, w, rmax), 1.0)
    r = np.rint(np.hypot(lags[:, None], lags[None, :])).astype(np.int64)
    sel = r < rmax
    prof = np.bincount(r[sel], acf[sel]) / np.maximum(np.bincount(r[sel]), 1)
    if prof.size < 3 or prof[1] <= 0:
        return None
    p = prof / prof[1]  # lag 0 holds the pixel noise: normalise at lag 1
    below = np.flatnonzero(p[1:] < 0.5)
    if not below.size:
        return None
    i = int(below[0]) + 1
    return float(i - 1 + (p[i - 1] - 0.5) / (p[i - 1] - p[i]))


#: Largest lag (px) whose autocorrelation normalisation is kept for the next window of its
#: size: that of :data:`ACF_WINDOW` (8.4 MB an entry). A larger ``window=`` would keep
#: ``(window + 1)² x 8`` bytes an entry for the session (537 MB at 8192 px).
_ACF_CACHED_MAX_LAG = ACF_WINDOW // 2


def _acf_overlap(h: int, w: int, rmax: int) -> np.ndarray:
    """Pixel pairs of an ``h`` x ``w`` window at each lag ``|dy|, |dx| <= rmax`` (the
    normalisation of :func:`_acf_half_length`, by the same zero-padded FFT), read-only;
    up to :data:`_ACF_CACHED_MAX_LAG` kept for the next window of that size (the next
    level, the next image)."""
    if rmax <= _ACF_CACHED_MAX_LAG:
        return _acf_overlap_cached(h, w, rmax)
    return _acf_overlap_box(h, w, rmax)


def _acf_overlap_box(h: int, w: int, rmax: int) -> np.ndarray:
    """:func:`_acf_overlap`, computed."""
    size = (2 * h, 2 * w)
    overlap = np.fft.irfft2(np.abs(np.fft.rfft2(np.ones((h, w)), s=size)) ** 2, s=size)
    lags = np.arange(-rmax, rmax + 1)
    box = overlap[np.ix_(lags % size[0], lags % size[1])]
    box.flags.writeable = False
    return box


_acf_overlap_cached = functools.lru_cache(maxsize=4)(_acf_overlap_box)


def estimate_intercept_px(image: Any, *, window: int = ACF_WINDOW) -> float | None:
    """Rough ℓ̄ (px) of a micrograph from its autocorrelation, without any model.

    Grains are patches of nearly constant colour, so the image autocorrelation falls
    with the lag roughly as the chance that a segment of that length stays in one grain
    (slope ``1 / ℓ̄`` at the origin). The lag at which it halves, times
    :data:`ACF_TO_INTERCEPT`, estimates ℓ̄: on tbm/val and every third tbm/train image
    resampled x0.5-x4, 0.89-1.30 x the hand-drawn ℓ̄ for 80 % of them (median 1.00; all
    63 regions 1.07); on the synthetic micrographs 0.66 x (``mean_grain_size_px`` 34 at
    x0.5-x4; at the training size 0.65 x in colour, 0.60 x grey,
    ``studies/grey_scale_estimate.py``: their dark boundary lines and more regular
    grains). A grey file of a colour micrograph (its luminance) reads a
    median 0.91 x the colour file's estimate (0.69-1.06 for 80 % of the tbm/train regions
    at x0.5-x4), so the two may be measured at different scales (docs/grain_size.md,
    "Grey images"). It only chooses the model's scale; the reported ℓ̄ comes from the
    model.

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        numpy or dask; only a central ``window`` x ``window`` region is read (after 2x2
        block means while it holds fewer than :data:`ACF_MIN_GRAINS` grains across).
    window : int
        Side of the analysed window (px).

    Returns
    -------
    float or None
        ``None`` for a constant image or one without a correlation length shorter
        than half the window.

    Examples
    --------
    >>> from napari_srmat.synth import generate_microstructure
    >>> ms = generate_microstructure((256, 256), mean_grain_size_px=24, seed=0)
    >>> 0.6 < estimate_intercept_px(ms.image) / ms.mean_intercept_px < 1.6
    True
    """
    return _intercept_estimate(_image_array(image), window)


def _intercept_estimate(arr: Any, window: int, first: np.ndarray | None = None,
                        stop: StopToken | None = None) -> float | None:
    """:func:`estimate_intercept_px` of an array; ``first``: its central window at full
    resolution when already read. With ``stop``, a stop request ends it between its
    steps (each level is the autocorrelation of a window read of the 2x2 block means of
    the level before, :func:`_block_mean2`): it then returns None, and the caller checks
    the token."""
    factor = 1
    while True:
        if stop is not None and stop.stop_requested:
            return None
        h, w = arr.shape[:2]
        win = first if factor == 1 and first is not None else _central_window(arr, window)
        length = _acf_half_length(win)
        est = None if length is None else ACF_TO_INTERCEPT * length * factor
        big = length is None or length * ACF_TO_INTERCEPT * ACF_MIN_GRAINS > min(win.shape[:2])
        if not big or min(h, w) <= window:
            return est
        if stop is not None and stop.stop_requested:
            return None
        arr = _block_mean2(arr)
        factor *= 2


def _block_mean2(arr: Any) -> Any:
    """2x2 block means of a numpy, dask or zarr image, lazily (dask): of the next level
    the estimate computes only the central window it reads, from the central region of
    the input, block by block (a zarr image is not read whole, a numpy one not copied
    whole in float32). A numpy image is cut in blocks of :data:`ACF_WINDOW` px, a zarr
    one in its chunks."""
    import dask.array as da

    h, w = (s // 2 * 2 for s in arr.shape[:2])
    if not hasattr(arr, "compute"):
        block = (ACF_WINDOW, ACF_WINDOW, *arr.shape[2:])
        arr = da.from_array(_Unread(arr), chunks=getattr(arr, "chunks", None) or block,
                            name=False, lock=not isinstance(arr, np.ndarray))
    return da.coarsen(np.mean, arr[:h, :w].astype(np.float32), {0: 2, 1: 2})


class _Unread:
    """The pixels of a numpy or zarr image for ``dask.array.from_array``, read where a
    block is computed: from_array would copy a numpy image whole first (and hash it
    without ``name=False``)."""

    def __init__(self, arr: Any) -> None:
        self.arr, self.shape, self.dtype = arr, tuple(arr.shape), np.dtype(arr.dtype)
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self.arr[key])


def choose_inference_scale(intercept_px: float | None, *,
                           sharpness: float | None = None,
                           target: float = TARGET_INTERCEPT_PX) -> float:
    """Resampling factor that brings an estimated ℓ̄ to ``target`` px.

    Parameters
    ----------
    intercept_px : float or None
        Estimated ℓ̄ of the input (px); ``None`` (unknown) gives 1.
    sharpness : float, optional
        :func:`estimate_sharpness` of the input. :func:`native_sharp` (the input has
        not been up-sampled) and a factor inside
        :data:`SHARP_KEEP_SCALE_RANGE`: the input is measured as it is (1), since
        down-sampling it would discard detail the model was trained to see and the
        estimate errs by that much on native micrographs. ``None``: ℓ̄ alone decides.
    target : float
        ℓ̄ wanted at inference scale.

    Returns
    -------
    float
        ``target / intercept_px`` rounded to 3 significant digits, at most
        :data:`MAX_INFERENCE_SCALE`; 1 when within :data:`SCALE_TOLERANCE` of 1.

    Examples
    --------
    >>> choose_inference_scale(104.0), choose_inference_scale(27.0)
    (0.25, 1.0)
    >>> choose_inference_scale(40.0), choose_inference_scale(40.0, sharpness=0.5)
    (0.65, 1.0)
    """
    if intercept_px is None or not (intercept_px > 0) or not math.isfinite(intercept_px):
        return 1.0
    s = float(f"{min(target / intercept_px, MAX_INFERENCE_SCALE):.3g}")
    lo, hi = SHARP_KEEP_SCALE_RANGE
    if abs(s - 1.0) <= SCALE_TOLERANCE or (native_sharp(sharpness) and lo <= s <= hi):
        return 1.0
    return s


def native_sharp(sharpness: float | None) -> bool:
    """Whether an :func:`estimate_sharpness` value is that of a native micrograph: at
    least :data:`MIN_NATIVE_SHARPNESS` (not up-sampled) and at most
    :data:`MAX_NATIVE_SHARPNESS` (not dominated by pixel noise).

    Examples
    --------
    >>> native_sharp(0.5), native_sharp(0.27), native_sharp(0.9), native_sharp(None)
    (True, False, False, False)
    """
    return sharpness is not None and MIN_NATIVE_SHARPNESS <= sharpness <= MAX_NATIVE_SHARPNESS


def estimate_sharpness(image: Any, *, window: int = ACF_WINDOW) -> float | None:
    """How much detail an image holds at the pixel scale: ``D(1) / D(2)``.

    ``D(k)`` is the mean squared difference of pixels ``k`` apart, horizontally and
    vertically, of the channel-mean image (its structure function). A smooth, interpolated
    image has ``D(k) ∝ k²`` (ratio 0.25), sharp edges ``D(k) ∝ k`` (0.5), pixel noise
    1. Native micrographs read 0.375-0.65, up-sampled (or super-resolved) ones below
    :data:`MIN_NATIVE_SHARPNESS`; down-sampling cannot be told from it.

    Parameters
    ----------
    image : array (H, W) or (H, W, C)
        numpy or dask; only a central ``window`` x ``window`` region is read, at full
        resolution.
    window : int
        Side of the analysed window (px).

    Returns
    -------
    float or None
        ``None`` for an image under 3 px or whose pixels 2 apart never differ.

    Raises
    ------
    GrainSizeError
        For an array that is not ``(H, W)`` or ``(H, W, C)``.

    Examples
    --------
    >>> from napari_srmat.synth import generate_microstructure
    >>> img = generate_microstructure((256, 256), mean_grain_size_px=24, seed=0).image
    >>> estimate_sharpness(resample(img, 4)) < MIN_NATIVE_SHARPNESS
    True
    """
    return window_sharpness(_central_window(_image_array(image), window))


def window_sharpness(a: np.ndarray) -> float | None:
    """:func:`estimate_sharpness` of a whole array already in memory: ``D(1) / D(2)``.

    The one sharpness rule, for callers that choose their own windows (the rescan
    planner's focus of each block, ``napari_srmat.sr.rescan``).

    Parameters
    ----------
    a : ndarray
        ``(H, W)`` or ``(H, W, C)`` (channels averaged), any real dtype; values as given.

    Returns
    -------
    float or None
        ``None`` for an array under 3 px on a side or whose pixels 2 apart never differ.

    Examples
    --------
    >>> import numpy as np
    >>> round(window_sharpness(np.random.default_rng(0).random((64, 64))), 1)  # noise
    1.0
    >>> round(window_sharpness(np.add.outer(np.arange(8.0), np.arange(8.0))), 2)  # a ramp
    0.25
    >>> window_sharpness(np.ones((8, 8))) is None
    True
    """
    if a.ndim == 3:
        a = a.mean(axis=2)
    if min(a.shape) < 3:
        return None
    a = a.astype(np.float64)

    def structure(k: int) -> float:
        return 0.5 * (float(np.mean((a[:, k:] - a[:, :-k]) ** 2))
                      + float(np.mean((a[k:] - a[:-k]) ** 2)))

    d2 = structure(2)
    return None if not d2 > 0 else structure(1) / d2


def automatic_inference_scale(image: Any, *, upscale_factor: int | None = None
                              ) -> tuple[float, float | None, float | None]:
    """The inference scale :func:`measure_grain_size` picks for an image by itself.

    The autocorrelation estimate of ℓ̄ (:func:`estimate_intercept_px`) and the sharpness
    (:func:`estimate_sharpness`) of the input go to :func:`choose_inference_scale`. A
    known upscale (an ``srmat sr run`` output's recorded factor, a Micrograph of its
    store, or ``upscale_factor``) whose field would be measured at scale 1 gets exactly
    1 / factor, as ``measure_grain_size`` runs it (:func:`known_upscale_scale`; until s51
    this function left the recorded factor out and told 0.249 for a x4 store the
    measurement ran at 0.25). Choosing every SR output's scale from its source's was
    tried and not adopted (``studies/sr_provenance_decision.py``).

    Parameters
    ----------
    image : array (H, W) or (H, W, C), or Micrograph
        The micrograph (numpy or dask; only central windows are read).
    upscale_factor : int, optional
        As ``measure_grain_size(upscale_factor=)``: default, the factor a store records
        (:func:`recorded_upscale_factor`).

    Returns
    -------
    scale : float
        Factor by which the input is resampled before the model.
    estimate_px : float or None
        The ℓ̄ estimate (input pixels); None when there is none, or when the image holds
        too few grains for it (:func:`too_few_grains`: then the scale is 1).
    sharpness : float or None
        :func:`estimate_sharpness` of the input.

    Examples
    --------
    >>> from napari_srmat.synth import generate_microstructure
    >>> img = generate_microstructure((256, 256), mean_grain_size_px=24, seed=0).image
    >>> s1, s4 = automatic_inference_scale(img)[0], automatic_inference_scale(resample(img, 4))[0]
    >>> 3 < s1 / s4 < 5
    True
    """
    if upscale_factor is not None:
        upscale_factor = check_upscale_factor(upscale_factor)
    arr, _, _ = _as_input(image, None)
    return _scale_of(arr, recorded_upscale_factor(image, upscale_factor))[:3]


def known_upscale_scale(arr: Any, factor: int, stop: StopToken | None = None
                        ) -> float | None:
    """The inference scale of a known upscale by ``factor`` (an SR output's recorded
    factor) where its field would be measured at scale 1: exactly ``1 / factor``, the
    field's own pixels, so the upscale reads the field's ℓ̄. The field is the central
    window brought back ÷ ``factor``; where it would be resampled, or ``factor`` is 1,
    None (the upscale's own automatic scale applies). On 35 tbm train+val regions its
    ×2 ``bicubic`` / ×4 ``cnn`` SR read ℓ̄ 7.4 / 7.9 % (mean) away from the field at their
    own automatic scale, 3.6 / 2.5 % at 1 / f (``studies/grainsize_sr_consistency.py``).

    Parameters
    ----------
    arr : array (H, W) or (H, W, C)
        The upscale (numpy or dask; only a central window is read).
    factor : int
        Its factor (:func:`check_upscale_factor`).
    stop : StopToken, optional
        Checked between the estimate's levels.

    Returns
    -------
    float or None
        ``1 / factor``, or None (also when stopped).

    Examples
    --------
    >>> from napari_srmat.synth import generate_microstructure
    >>> img = generate_microstructure((256, 256), mean_grain_size_px=48, seed=0).image
    >>> known_upscale_scale(np.repeat(np.repeat(img, 4, 0), 4, 1), 4)
    0.25
    """
    if factor <= 1:
        return None
    field = resample(_central_window(arr, ACF_WINDOW * factor), 1.0 / factor)
    chosen = _automatic_scale(field, stop)
    if chosen is None or chosen[0] != 1.0:
        return None
    scale, estimate, _sharpness, too_few, small = chosen
    # a window that cannot judge its grains (too few across it: no estimate, scale 1 by
    # default) says nothing of the field, which may be measured well below scale 1 on its
    # whole extent: the upscale's own automatic scale (s50 R9: a 3072² field of ~700 px
    # grains, ×2, read -48 % at 1/f)
    if too_few is not None or (estimate is None and small is None):
        return None
    return 1.0 / factor


def _automatic_scale(arr: Any, stop: StopToken | None = None
                     ) -> tuple[float, float | None, float | None, str | None, str | None] | None:
    """:func:`automatic_inference_scale` of an input array, the warning of an image
    :func:`too_few_grains` and that of a :func:`small_field` kept at its own scale (each
    None otherwise): the one place the scale is decided. None when ``stop`` was requested
    before it finished (it is checked between the estimate's levels)."""
    window = _central_window(arr, ACF_WINDOW)  # read once for both estimates
    estimate = _intercept_estimate(arr, ACF_WINDOW, first=window, stop=stop)
    if stop is not None and stop.stop_requested:
        return None
    sharpness = window_sharpness(window)
    note = small = None
    if too_few_grains(arr.shape, estimate):
        note, estimate = _not_enough_image(arr.shape, estimate), None
    if small_field(arr.shape, estimate, sharpness):
        small = _small_field_note(arr.shape, estimate, sharpness)
    scale = 1.0 if small else choose_inference_scale(estimate, sharpness=sharpness)
    return scale, estimate, sharpness, note, small


def _scale_of(arr: Any, upscale_factor: int | None, stop: StopToken | None = None
              ) -> tuple[float, float | None, float | None, str | None, str | None, bool] | None:
    """:func:`_automatic_scale` of an input array, where ``upscale_factor`` is a known
    upscale's (an SR output's recorded factor) and its field would be measured at scale 1
    with ``1 / upscale_factor`` instead (:func:`known_upscale_scale`), and whether that
    applies (last): the one decision of :func:`measure_grain_size`,
    :func:`automatic_inference_scale` and :func:`check_native_scale` (until s51 E2 the
    last two left the recorded factor out and told another scale than the measurement
    ran at). None when ``stop`` was requested before it finished."""
    chosen = _automatic_scale(arr, stop)
    if chosen is None:
        return None
    scale, estimate, sharpness, unjudged, small = chosen
    known = None
    if upscale_factor is not None and estimate is not None and small is None:
        known = known_upscale_scale(arr, upscale_factor, stop)
        if stop is not None and stop.stop_requested:
            return None
    return (scale if known is None else known), estimate, sharpness, unjudged, small, \
        known is not None


def judged_side(shape: tuple) -> float:
    """The side (px of the image) of a square holding as many pixels as the window that
    the autocorrelation estimate of an image of ``shape`` reads at its last level
    (:data:`ACF_WINDOW` px of 2x2 block means until the smaller side fits in it): the
    side of a square image, however large; for an oblong one the geometric mean of the
    window's sides, more than its smaller side (the window holds more grains than the
    short side counts). Only the window's pixels count: a strip longer than the window
    gets no more.

    Examples
    --------
    >>> judged_side((256, 256)), judged_side((40000, 40000)), round(judged_side((192, 1024)))
    (256.0, 40000.0, 443)
    >>> judged_side((192, 1024)) == judged_side((10**6, 192))
    True
    """
    small, large = sorted(int(s) for s in shape[:2])
    factor = 1
    while small // factor > ACF_WINDOW:  # the levels of _intercept_estimate
        factor *= 2
    return math.sqrt(small * min(large, max(small, ACF_WINDOW * factor)))


def too_few_grains(shape: tuple, estimate_px: float | None) -> bool:
    """Whether an image of ``shape`` is too small for its autocorrelation estimate of ℓ̄
    to be trusted: the window the estimate reads holds fewer than
    :data:`MIN_JUDGED_GRAINS` grains across by that estimate (:func:`judged_side`: a
    square image's side, more for an oblong one; on so few grains it reads short).
    Such an estimate is withheld, with a warning, and the image is left at its own scale.

    Examples
    --------
    >>> too_few_grains((48, 48), 15.0), too_few_grains((256, 256), 29.0)
    (True, False)
    >>> too_few_grains((48, 300), 15.0), too_few_grains((48, 10**6), 70.0)
    (False, True)
    >>> too_few_grains((48, 48), None)
    False
    """
    return estimate_px is not None and judged_side(shape) < MIN_JUDGED_GRAINS * estimate_px


def small_field(shape: tuple, estimate_px: float | None, sharpness: float | None) -> bool:
    """Whether an image of ``shape`` is a small field that its estimate must not enlarge:
    native-sharp (:func:`native_sharp`), its window read by the estimate
    (:func:`judged_side`) under :data:`SMALL_FIELD_PX`, and an estimate of ℓ̄ that is not
    coarse (:func:`is_coarse`) but would up-sample it (:func:`choose_inference_scale`).
    Such an estimate reads short by the field's size (:data:`SMALL_FIELD_PX`): the
    image is measured at its own scale.

    Examples
    --------
    >>> small_field((128, 128), 18.0, 0.5), small_field((256, 256), 18.0, 0.5)
    (True, False)
    >>> small_field((128, 128), 18.0, 0.3), small_field((128, 128), 9.0, 0.5)
    (False, False)
    """
    return (judged_side(shape) < SMALL_FIELD_PX and native_sharp(sharpness)
            and estimate_px is not None and not is_coarse(estimate_px)
            and choose_inference_scale(estimate_px, sharpness=sharpness) > 1.0)


def _small_field_note(shape: tuple, estimate_px: float, sharpness: float | None) -> str:
    """The warning of a :func:`small_field` measured at its own scale (one of
    :data:`SCALE_WARNING_PREFIXES`)."""
    side = judged_side(shape)
    grains = math.floor(10 * side / estimate_px) / 10
    return (f"the field holds only ~{grains:.1f} grains across by the autocorrelation "
            f"estimate (~{estimate_px:.0f} px in its {side:.0f} px), which reads short on a "
            f"field under {SMALL_FIELD_PX} px: measured at the input's scale, not enlarged "
            f"×{choose_inference_scale(estimate_px, sharpness=sharpness):g} by it; measure "
            "a larger field of the micrograph")


def _not_enough_image(shape: tuple, estimate_px: float) -> str:
    """The warning of an image :func:`too_few_grains` (one of
    :data:`SCALE_WARNING_PREFIXES`), left open for what its caller does about it."""
    side = judged_side(shape)
    its = (f"its {side:.0f} px" if side == min(shape[:2]) else
           f"the window of it the estimate reads ({side:.0f} px square)")
    grains = math.floor(10 * side / estimate_px) / 10  # down: never the count it needs
    return (f"not enough image to judge the grain scale: {its} hold only "
            f"~{grains:.1f} grains across by the autocorrelation estimate "
            f"(~{estimate_px:.0f} px), under the {MIN_JUDGED_GRAINS:g} it needs (on fewer "
            "it reads short): no estimate")


@dataclass(frozen=True)
class NativeScale:
    """Whether the boundary model run at an image's own pixels sees grains of a size it
    is reliable at: the scale check of ``srmat edges predict``,
    :func:`napari_srmat.edges.predict_boundaries` and the Boundaries widget, whose maps
    (and a Heyn measurement of them: ``srmat heyn``, the grain-size widget's mask tab)
    are made without resampling.

    The rules are the whole measurement's (:func:`measure_grain_size`), applied to the
    autocorrelation estimate of ℓ̄ at the image's own pixels instead of a measured ℓ̄
    (no model is run): a warning for an input that the measurement calls coarse
    (:func:`is_coarse`: below :data:`COARSE_INPUT_INTERCEPT_PX`; below
    :data:`MIN_INPUT_INTERCEPT_PX` under-sampled: :func:`undersampled_note`), or whose
    estimate is above :data:`RELIABLE_INTERCEPT_PX` where :func:`choose_inference_scale`
    (the estimate and the sharpness, :func:`automatic_inference_scale`) would not run the
    model at the image's own pixels (a native-sharp input up to 2x the target is measured there).
    A native-sharp :func:`small_field` gets the measurement's warning (its estimate reads
    short; suggested scale 1, the measurement's). Otherwise, between
    :data:`COARSE_INPUT_INTERCEPT_PX` and the reliable range the measurement
    up-samples without a warning, and so this check says nothing: the estimate reads
    0.65 x ℓ̄ on the synthetic micrographs at the training size
    (``studies/grey_scale_estimate.py``), whose native RGB images at the training size
    (ℓ̄ 24-27 px) mostly estimate 15-18 px and are measured right at their own pixels;
    a few (5 of 73) estimate 14.8-15 px and are warned, grey ones about half
    (docs/boundaries.md "Scale of the input", a known limitation). Every
    warning is a scale warning (:func:`is_scale_warning`). On a tbm/val region
    (hand-drawn ℓ̄ 29.0 px) Heyn on the ``edges predict`` map read 26.7 px as it is (no
    warning), 9.6 px (input px) on its x4 ``cnn`` SR and 118 px on its x4 reduced copy,
    both warned (docs/boundaries.md, "Scale of the input").

    Attributes
    ----------
    estimated_intercept_px : float or None
        The autocorrelation estimate of ℓ̄ (px); None when it could not be made or the
        image holds too few grains for it (:func:`too_few_grains`: then the warning says
        "not enough image to judge" and the suggested scale is 1).
    estimated_sharpness : float or None
        :func:`estimate_sharpness` of the input.
    suggested_inference_scale : float
        The scale :func:`measure_grain_size` runs the model at (1: the image's own).
    warning : str or None
        One line: why maps at these pixels give a wrong ℓ̄ and what to do instead.
    """

    estimated_intercept_px: float | None
    estimated_sharpness: float | None
    suggested_inference_scale: float
    warning: str | None = None

    @classmethod
    def of(cls, estimate_px: float | None, sharpness: float | None, *,
           small_field_note: str | None = None, upscale_factor: int | None = None
           ) -> NativeScale:
        """The check of an input whose estimate and sharpness are these.

        Parameters
        ----------
        estimate_px : float or None
            The autocorrelation estimate of ℓ̄ (px).
        sharpness : float or None
            :func:`estimate_sharpness` of the input.
        small_field_note : str, optional
            The measurement's warning of a :func:`small_field` (its estimate reads short:
            measured at its own scale): the suggested scale is 1 and this the warning.
        upscale_factor : int, optional
            A known upscale's factor where the measurement runs it at 1 / factor
            (:func:`known_upscale_scale`): that is the suggested scale.

        Returns
        -------
        NativeScale

        Examples
        --------
        >>> NativeScale.of(29.0, 0.54).warning is None   # a native tbm region
        True
        >>> NativeScale.of(40.0, 0.54).warning is None   # native-sharp: measured as it is
        True
        >>> NativeScale.of(17.0, 0.31).warning is None   # 15-20 px: no warning either
        True
        >>> s = NativeScale.of(104.0, 0.27)              # its x4 SR output
        >>> s.suggested_inference_scale, is_scale_warning(s.warning)
        (0.25, True)
        >>> "super-resolve first" in NativeScale.of(6.0, 0.4).warning
        True
        >>> NativeScale.of(104.0, 0.27, upscale_factor=4).suggested_inference_scale
        0.25
        """
        if small_field_note is not None:
            return cls(estimate_px, sharpness, 1.0, small_field_note)
        scale = (choose_inference_scale(estimate_px, sharpness=sharpness)
                 if upscale_factor is None else 1.0 / upscale_factor)
        lo, hi = RELIABLE_INTERCEPT_PX
        if not (is_coarse(estimate_px) or (estimate_px is not None and estimate_px > hi
                                           and scale != 1.0)):
            return cls(estimate_px, sharpness, scale)
        measure = ("measure grain size with srmat grain-size / the grain-size widget's "
                   f"{SIMPLE_TAB} tab, which runs the model at ×{scale:g}")
        if upscale_factor is not None:
            measure += (f" (1/{upscale_factor}: this x{upscale_factor} super-resolution's "
                        "field at its own pixels)")
        if estimate_px < MIN_INPUT_INTERCEPT_PX:
            text = _too_coarse_by_estimate(estimate_px)
        elif is_coarse(estimate_px):
            seen = _estimate_seen(estimate_px, "<", COARSE_INPUT_INTERCEPT_PX)
            text = (f"{seen}, < {COARSE_INPUT_INTERCEPT_PX:g} px): "
                    f"{COARSE_DIRECTION_NOTE}; super-resolve first (srmat sr run), or "
                    f"{measure}")
        else:
            seen = _estimate_seen(estimate_px, ">", hi)
            text = (f"{seen}), above the {lo:g}-{hi:g} px the boundary model is reliable "
                    "at: at these pixels it finds boundaries inside grains (ℓ̄ measured on "
                    f"its map reads too short); {measure}, where it is reliable")
        return cls(estimate_px, sharpness, scale, text)

    def to_dict(self) -> dict:
        """JSON-friendly dict (NaN/inf become None)."""
        return {"estimated_intercept_px": finite_or_none(self.estimated_intercept_px),
                "estimated_sharpness": finite_or_none(self.estimated_sharpness),
                "suggested_inference_scale": float(self.suggested_inference_scale),
                "warning": self.warning}


def check_native_scale(image: Any, *, stop: StopToken | None = None,
                       upscale_factor: int | None = None) -> NativeScale | None:
    """:class:`NativeScale` of an image: is the boundary model reliable at its own pixels?

    Reads what :func:`automatic_inference_scale` reads (central :data:`ACF_WINDOW`
    windows: a lazy image is not loaded). A known upscale (an ``srmat sr run`` store's
    recorded factor, a Micrograph of it, or ``upscale_factor``) is suggested the scale
    the measurement runs it at, 1 / factor where its field would be measured at scale 1
    (:func:`known_upscale_scale`; until s51 the recorded factor was left out).

    Parameters
    ----------
    image : array (H, W) or (H, W, C), or Micrograph
        numpy, dask or zarr pixels.
    stop : StopToken, optional
        Checked between the estimate's levels.
    upscale_factor : int, optional
        As ``measure_grain_size(upscale_factor=)``: default, the factor a store records
        (:func:`recorded_upscale_factor`).

    Returns
    -------
    NativeScale or None
        None when ``stop`` was requested before it finished. An image whose central
        window has NaN/Inf pixels gets no estimate (the model's own input rule tells
        them).

    Examples
    --------
    >>> from napari_srmat.synth import generate_microstructure
    >>> img = generate_microstructure((512, 512), mean_grain_size_px=40, seed=0).image
    >>> check_native_scale(img).warning is None
    True
    >>> w = check_native_scale(resample(img, 4)).warning   # x4 up-sampled
    >>> w.startswith("grains look ~") and "srmat grain-size" in w
    True
    """
    if upscale_factor is not None:
        upscale_factor = check_upscale_factor(upscale_factor)
    factor = recorded_upscale_factor(image, upscale_factor)
    arr = _image_array(image)
    try:
        chosen = _scale_of(arr, factor, stop)
    except GrainSizeError:  # NaN/Inf in the window
        return NativeScale(None, None, 1.0)
    if chosen is None:
        return None
    scale, estimate, sharpness, note, small, known = chosen
    if note is not None:
        return NativeScale(None, sharpness, scale, f"{note}; judge the scale on a larger "
                           "field of the micrograph before using these boundary maps for a "
                           "grain size")
    return NativeScale.of(estimate, sharpness, small_field_note=small,
                          upscale_factor=factor if known else None)


def native_scale_job(image: Any, *, stop: StopToken | None = None,
                     upscale_factor: int | None = None
                     ) -> Generator[Event, Any, NativeScale | None]:
    """:func:`check_native_scale` as a step of a job: a stop request during the estimate
    yields :class:`~napari_srmat.jobs.Stopped` and returns None. Its warning is left to
    the caller (``predict_boundaries_job`` issues it as a ``UserWarning``, the
    Boundaries widget shows it in its status line). ``upscale_factor``: as
    :func:`check_native_scale`'s (a caller holding an array of an SR layer gives its
    factor)."""
    scale = check_native_scale(image, stop=stop, upscale_factor=upscale_factor)
    if scale is None:
        yield Stopped("boundary prediction stopped during the scale estimate")
    return scale


# ------------------------------------------------------------ measurement
def _check_model_side(shape: tuple, scale: float) -> None:
    """The one rule for the boundary model's least input: an image of ``shape`` read at
    inference ``scale`` (:func:`resampled_shape`) at least
    :data:`~napari_srmat.io.MIN_IMAGE_SIDE` px a side, else a one-line GrainSizeError
    (at scale 1 :func:`napari_srmat.io.check_image_side`'s; else naming both sizes)."""
    from .io import ImageSizeError, check_image_side

    if scale == 1:
        try:
            check_image_side(shape[:2], minimum=MIN_IMAGE_SIDE,
                             what="the smallest image the boundary model takes")
        except ImageSizeError as exc:
            raise GrainSizeError(str(exc)) from None
    elif (side := min(resampled_shape(shape, scale))) < MIN_IMAGE_SIDE:
        raise GrainSizeError(f"the image is {min(shape[:2])} px at its smallest; at "
                             f"inference scale {scale:g} it would be {side} px, "
                             f"under the {MIN_IMAGE_SIDE} px the boundary model takes")


def _as_input(image: Any, pixel_size_um: float | None, *, model_input: bool = False,
              inference_scale: float | None = None):
    """(array, levels, pixel size) of an array or a Micrograph (its pixel size by the rule
    of :func:`napari_srmat.io.image_data`: none when its pixels are not square). Its
    least side: a mask's (:func:`~napari_srmat.metrics.heyn.check_measurable_shape`), or,
    an image the boundary model reads (``model_input``), the model's at the inference
    scale (:func:`_check_model_side`), told once and up front: ``inference_scale``, else,
    for an image under :data:`~napari_srmat.io.MIN_IMAGE_SIDE` px (a few pixels, estimated
    at once), the automatic one; a larger image's automatic scale is checked once known.
    Until 2026-12-07 a 1 x 1 image was told 'at least 3 x 3 px', and a 3 x 3 then refused
    at 8 px; d75445a6 then refused a 6 x 6 image at scale 2 (12 px for the model)."""
    from .io import Micrograph, image_data
    from .io._mask import mask_micrograph

    levels = None
    image = mask_micrograph(image)  # read_mask's FileMask: its file's pixel size
    if isinstance(image, Micrograph):
        levels = list(image.levels) or [image.data]
        if pixel_size_um is None:
            _, pixel_size_um = image_data(image)
        image = image.data
    image = _image_array(image)
    if not model_input:
        check_measurable_shape(image.shape, "image", "to measure", GrainSizeError)
    else:
        scale = inference_scale
        if scale is None:
            small = min(image.shape[:2]) < MIN_IMAGE_SIDE
            scale = _automatic_scale(image)[0] if small else 1.0
        _check_model_side(image.shape, scale)
    return image, levels or [image], check_pixel_size(pixel_size_um)


def _resampled(levels: list, scale: float) -> np.ndarray:
    """The input resampled by ``scale``, read from the smallest pyramid level that has
    at least that resolution (only that level is loaded)."""
    from .io import read_window

    h0 = levels[0].shape[0]
    best = levels[0]
    for lv in levels[1:]:
        if lv.shape[0] / h0 >= scale:
            best = lv
    f = best.shape[0] / h0
    arr = _float_image(read_window(best, 0, best.shape[0], 0, best.shape[1]))
    if arr.shape[:2] == resampled_shape(levels[0].shape, scale):
        return arr
    return resample(arr, scale / f) if abs(scale / f - 1) > 1e-9 else arr


#: The checkpoint config key of a model's own :data:`MODEL_LOG_ERROR_95`.
MODEL_LOG_ERROR_KEY = "grain_size_log_error_95"


def model_log_error_95(config: Any, *, source: Any = None) -> tuple[float, float]:
    """The model term of a boundary model's grain-size interval: its config's
    ``grain_size_log_error_95`` (:data:`MODEL_LOG_ERROR_KEY`), else
    :data:`MODEL_LOG_ERROR_95`.

    Parameters
    ----------
    config : mapping
        The checkpoint config (``model.config``).
    source : path-like, optional
        The checkpoint, named in the message.

    Returns
    -------
    (float, float)
        The 2.5 % and 97.5 % quantiles of ``ln(ℓ̄ / ℓ̄_true)``.

    Raises
    ------
    napari_srmat.checkpoint.CheckpointError
        A stored value that is not two finite numbers ``[low, high]`` with
        ``low <= high``.

    Examples
    --------
    >>> model_log_error_95({"grain_size_log_error_95": [-0.2, 0.3]})
    (-0.2, 0.3)
    """
    if MODEL_LOG_ERROR_KEY not in config:
        return MODEL_LOG_ERROR_95
    value = config[MODEL_LOG_ERROR_KEY]
    if isinstance(value, np.ndarray):  # np.quantile's result, set on a loaded model
        value = value.tolist()
    pair = None
    # numbers by the one rule (check_number: numpy's scalars too)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        try:
            pair = tuple(float(check_number(MODEL_LOG_ERROR_KEY, v)) for v in value)
        except ValueError:
            pair = None
    if pair is None or pair[0] > pair[1]:
        from .checkpoint import CheckpointError

        where = "config.json" if source is None else f"checkpoint {source}: config.json"
        raise CheckpointError(
            f"{where} {MODEL_LOG_ERROR_KEY!r} must be two finite numbers [low, high] with "
            f"low <= high (the 2.5 % and 97.5 % quantiles of ln(measured / true ℓ̄)), got "
            f"{value!r}")
    return pair


def _model_range(log_error: tuple[float, float], mean_px: float | None, coarse: bool = False
                 ) -> tuple[float, float] | None:
    """ℓ̄ values the model's calibrated error (``log_error``: :func:`model_log_error_95`)
    makes as plausible as ``mean_px`` (for a coarse input, widened by
    :data:`COARSE_MODEL_LOG_ERROR_95`, which was measured with the leave-scan-out TBM
    fold models and is applied to a checkpoint's own ``grain_size_log_error_95`` as
    well: a lower bound of the coarse-input error)."""
    if mean_px is None:
        return None
    lo, hi = log_error
    if coarse:
        lo, hi = min(lo, COARSE_MODEL_LOG_ERROR_95[0]), max(hi, COARSE_MODEL_LOG_ERROR_95[1])
    return mean_px * math.exp(-hi), mean_px * math.exp(-lo)


def is_coarse(estimated_intercept_px: float | None) -> bool:
    """Whether an input whose autocorrelation estimate of ℓ̄ is this is coarse
    (:data:`COARSE_INPUT_INTERCEPT_PX`): measured with a warning and a wider interval.

    Examples
    --------
    >>> is_coarse(9.5), is_coarse(30.0), is_coarse(None)
    (True, False, False)
    """
    return estimated_intercept_px is not None and \
        estimated_intercept_px < COARSE_INPUT_INTERCEPT_PX


def _binary(prob: np.ndarray, model, threshold: float | None):
    """Boundary map, threshold (None for non-threshold rules) and rule name.

    The model's rule is applied region by region (``edges.thresholds.binarize_by_region``:
    one threshold per region of about the size the rule was fitted on); the threshold
    returned is the median over the regions.
    """
    from .edges.thresholds import binarize_by_region

    p = np.asarray(prob)
    if threshold is not None:
        return p >= threshold, float(threshold), "fixed"
    binary, thresholds = binarize_by_region(model.threshold_rule, p, model.threshold_params)
    return (binary, None if thresholds is None else float(np.median(thresholds)),
            model.threshold_rule)


def _check_memory_at_scale(shape: tuple, scale: float | None,
                           available: int | None = None) -> None:
    """Refuse (:class:`GrainSizeError`) a measurement of a ``shape`` micrograph at
    inference ``scale`` (None: the automatic one, planned at the input's scale as the
    Simple tab plans it) whose working memory
    (:func:`napari_srmat.estimates.plan_grain_size`) does not fit in ``available`` bytes
    (None: the memory available now). The job checks it before any pixel is read, and
    again once the automatic scale is known when that scale up-samples."""
    from .estimates import MEMORY_FRACTION, plan_grain_size
    from .outputs import available_memory_bytes, format_bytes

    plan = plan_grain_size(shape, inference_scale=scale, device="cpu")
    avail = available_memory_bytes() if available is None else available
    if not plan.fits_in_memory(available=avail):
        need = (f"{format_bytes(plan.output_bytes)} of memory, more than "
                f"{MEMORY_FRACTION:.0%} of the {format_bytes(avail)} available")
        if scale is None or scale <= 1:  # the words of the mask path (check_in_memory)
            raise GrainSizeError(f"measure_grain_size needs {need}: measure fields or "
                                 "crops of it")
        raise GrainSizeError(
            f"at inference scale {scale:g} (a coarse micrograph, up-sampled for the model) "
            f"the measurement needs {need}: measure a region of it, or super-resolve it "
            "first and measure regions of the result")


def measure_grain_size_job(
    image: Any,
    *,
    pixel_size_um: float | None = None,
    model: Any = None,
    mask: bool = False,
    pattern: str = "random",
    n_lines: int = HEYN_N_LINES,
    seed: int = HEYN_SEED,
    margin: float = HEYN_MARGIN,
    inference_scale: float | None = None,
    threshold: float | None = None,
    mask_scale: int | None = None,
    upscale_factor: int | None = None,
    stop: StopToken | None = None,
) -> Generator[Event, Any, GrainSizeResult | None]:
    """Job version of :func:`measure_grain_size` (yields progress, returns the result)."""
    from .jobs import check_stop

    stop = check_stop(stop)  # the mask path never polls it: "yes" was ignored there
    if pattern not in ("random", "grid", "circles"):
        raise GrainSizeError(f"unknown pattern {pattern!r}; choose random, grid or circles")
    if not isinstance(mask, (bool, np.bool_)):
        raise GrainSizeError(f"mask must be True or False, not {mask!r}")
    if inference_scale is not None:
        inference_scale = check_inference_scale(inference_scale)
    if threshold is not None:  # the rule of srmat heyn --threshold, binarize_boundaries
        from .io import MaskError, check_threshold

        try:
            threshold = check_threshold(threshold)
        except MaskError as exc:
            raise GrainSizeError(str(exc)) from None
    from .metrics.heyn import check_margin, check_mask_scale, check_n_lines

    n_lines = check_n_lines(n_lines)  # before the model runs, not after (every pattern)
    margin = check_margin(margin)
    if mask_scale is not None and not mask:  # the model's map is not a drawn mask
        raise GrainSizeError("mask_scale is for masks (drawn at 1 / mask_scale and "
                             "upscaled); an image's boundaries are the model's at the "
                             "inference scale")
    mask_scale = check_mask_scale(mask_scale)
    if upscale_factor is not None:
        if mask:
            raise GrainSizeError("upscale_factor is for images (an SR output's factor); a "
                                 "mask upscaled with one gives mask_scale")
        upscale_factor = check_upscale_factor(upscale_factor)
    upscale_factor = None if mask else recorded_upscale_factor(image, upscale_factor)
    from .io import pixel_size_note
    from .io._mask import mask_micrograph

    note = pixel_size_note(mask_micrograph(image), given=pixel_size_um)  # as _as_input
    arr, levels, px = _as_input(image, pixel_size_um, model_input=not mask,
                                inference_scale=inference_scale)
    heyn_kw = {"pattern": pattern, "n_lines": n_lines, "seed": seed, "margin": margin,
               "skeletonize": MEASURED_SKELETONIZE}
    if mask:
        if inference_scale not in (None, 1, 1.0):
            raise GrainSizeError("inference_scale is for images; a mask is measured as it is")
        from .estimates import check_in_memory, plan_mask_measurement

        # read whole below: a mask larger than memory is refused before any pixel is read
        check_in_memory(plan_mask_measurement(arr.shape, arr.dtype,
                                              held=isinstance(arr, np.ndarray),
                                              to_float=threshold is not None),
                        "measure_grain_size", advice="measure fields or crops of it",
                        error=GrainSizeError)
        from .io import read_window
        from .metrics.heyn import as_boundary_mask

        # the mask rule (a probability map given as the mask binarised at threshold)
        # before the first progress event: a mask it refuses is one error line, not a
        # "[progress] intercepts: 0%" line and then the error
        m = as_boundary_mask(read_window(arr, 0, arr.shape[0], 0, arr.shape[1]), threshold)
        yield Progress(0, 1, stage="intercepts")
        res = measure_intercepts(m, **heyn_kw, mask_scale=mask_scale)
        yield Progress(1, 1, stage="intercepts")
        out = grain_size_from_heyn(res, pixel_size_um=px, mode="mask")
        if threshold is not None:  # the binarisation is part of the result, as for images
            out.threshold, out.threshold_rule = float(threshold), "fixed"
        return note_pixel_size(out, note)

    from .edges.infer import boundary_map_name
    from .io import check_pixel_values, looks_binary

    if (map_name := boundary_map_name(image)) is not None:
        raise worded_error(
            GrainSizeError, "{map_name} is a boundary map written by srmat edges predict, "
            "not a micrograph: the boundary model run on it reads a wrong ℓ̄; measure the "
            "micrograph, or the probability map as a mask (pass {as_mask})",
            map_name=map_name, as_mask=MASK_AT_THRESHOLD)
    check_pixel_values(arr)
    if looks_binary(arr):
        raise worded_error(
            GrainSizeError, "the image holds only two pixel values, like a boundary mask: "
            "the boundary model needs a micrograph; to measure a boundary mask, pass {mask}",
            mask=MASK)
    from .edges.infer import as_boundary_model

    model = as_boundary_model(model)
    log_error = model_log_error_95(model.config, source=model.path)  # before the model runs
    warns = _calibration_warnings(model, threshold)
    # read whole below (the scale estimate reads every level of a large one first): a
    # micrograph larger than memory is refused before any pixel is read
    _check_memory_at_scale(arr.shape, inference_scale)
    if stop is not None and stop.stop_requested:
        yield Stopped("grain-size measurement stopped before the scale estimate")
        return None
    # the estimate (seconds to a minute on a large image without a grain pattern: every
    # level of it) honours a stop request between its levels
    auto = inference_scale is None
    # (a given scale makes no use of the known upscale's: not estimated then)
    chosen = _scale_of(arr, upscale_factor if auto else None, stop)
    if chosen is None:
        yield Stopped("grain-size measurement stopped during the scale estimate")
        return None
    automatic, estimate, sharpness, unjudged, small, known = chosen
    if known:
        yield Log(f"a known x{upscale_factor} upscale of a field measured at its own "
                  f"scale: run at 1/{upscale_factor}, the field's pixels")
    scale = automatic if auto else float(inference_scale)
    if unjudged is not None:
        warns.append(unjudged + (": measured at the input's scale; measure a larger field of "
                             "the micrograph" if auto else ""))
    elif auto and estimate is None:
        warns.append("the grain size could not be estimated from the image (no "
                     "autocorrelation length): measured at the input's scale")
    elif auto and small is not None:
        warns.append(small)
    yield Log(f"boundary model at inference scale {scale:g} (estimated ℓ̄ "
              f"{'?' if estimate is None else f'{estimate:.1f}'} px, sharpness "
              f"{'?' if sharpness is None else f'{sharpness:.2f}'})")
    if scale > 1:  # beyond what a plan made before the scale was known counts
        _check_memory_at_scale(arr.shape, scale)
    _check_model_side(arr.shape, scale)  # the automatic scale of a larger image (< 1)
    x = _resampled(levels, scale)
    warns.extend(_input_warnings(model, x))
    prob = yield from _predict(x, model, stop)
    if prob is None:
        return None
    binary, thr, rule = _binary(prob, model, threshold)
    res = measure_intercepts(binary, **heyn_kw)
    out = grain_size_from_heyn(res, pixel_size_um=px, inference_scale=scale,
                               model_range_px=_model_range(log_error, res.mean_intercept_px,
                                                           is_coarse(estimate)),
                               mode="image", warnings=warns)
    out.upscale_factor = upscale_factor
    out.estimated_intercept_px = estimate
    out.estimated_sharpness = sharpness
    out.threshold = thr
    out.threshold_rule = rule
    out.probability = prob
    out.boundaries = binary
    _check_scale(out, auto, judged_side(arr.shape), known_upscale=auto and known)
    _check_structure(out, arr.shape)
    return note_pixel_size(out, note)


def _input_warnings(model, image: np.ndarray) -> list[str]:
    """Say when the image is outside what the boundary model knows: too dim (it is
    brightened: :func:`napari_srmat.edges.data.exposure_gain`), much of it saturated, or
    grey (the model learned colour polarized-light micrographs)."""
    from .edges.data import (
        GREY_COLOURFULNESS_LIMIT,
        SATURATED_FRACTION_LIMIT,
        TRAINING_BRIGHT_RANGE,
    )

    seen = model.input_report(image)
    warns = []
    gain = seen["exposure_gain"]
    if gain != 1.0:
        warns.append(f"the image is dim for the boundary model (its brightest pixels at "
                     f"{seen['bright_level']:.0%} of full scale, the training images' at "
                     f"{TRAINING_BRIGHT_RANGE[0]:.0%}-{TRAINING_BRIGHT_RANGE[1]:.0%}): "
                     f"corrected by brightening it x{gain:.3g} (to "
                     f"{seen['seen_bright_level']:.0%}) before the model, which brings "
                     "dimmed copies of training images back to within a few % of their ℓ̄ "
                     "(docs/grain_size.md, 'Exposure'); 12- or 14-bit camera files and "
                     "8-bit values stored in a 16-bit array look like this, otherwise the "
                     "image is under-exposed")
    if seen["saturated_fraction"] > SATURATED_FRACTION_LIMIT:
        warns.append(f"{seen['saturated_fraction']:.0%} of the image is saturated (a channel "
                     "at full scale): boundaries inside clipped areas cannot be seen, so ℓ̄ "
                     "may be too long; acquire with less exposure")
    if seen["colourfulness"] < GREY_COLOURFULNESS_LIMIT:
        warns.append("the image is grey: the boundary model was trained on colour "
                     "polarized-light micrographs, and on grey images its ℓ̄ is far less "
                     "reliable than the 95% interval says (grey copies of its training "
                     "images read about 40% too long); for bright-field etched images "
                     "measure a boundary mask instead (srmat grain-size --mask, mask=True; "
                     "docs/grain_size.md, 'Grey images')")
    return warns


def is_shipped_boundary_model(model) -> bool:
    """Whether ``model`` is the shipped boundary model: loaded from the shipped weights'
    folder, and its weights are the shipped ones (a user's weights trained into that
    folder, or the shipped ones changed in memory, are not).

    Parameters
    ----------
    model : BoundaryModel
        A loaded model (:func:`napari_srmat.edges.load_boundary_model`); its
        :meth:`~napari_srmat.edges.infer.BoundaryModel.weights_digest` is computed only
        for a model of that folder (3-9 ms for the shipped weights).

    Returns
    -------
    bool
        True when its ``path`` is ``napari_srmat/weights/uaed_default`` and its digest
        is :data:`SHIPPED_BOUNDARY_WEIGHTS_SHA256`.
    """
    return _is_shipped(model, model.weights_digest)


def _is_shipped(model, digest: Callable[[], str]) -> bool:
    """:func:`is_shipped_boundary_model`, ``digest()`` giving the model's weights digest
    (called only for a model of the shipped folder)."""
    from .edges.infer import default_checkpoint_path

    if (model.path is None
            or Path(model.path).resolve() != default_checkpoint_path().resolve()):
        return False
    return digest() == SHIPPED_BOUNDARY_WEIGHTS_SHA256


def measured_settings(model, *, digest: str | None = None) -> dict[str, Any]:
    """What a measurement of a micrograph ran, as its report writes it: read from the
    loaded model (so that a user's own weights are named as theirs) and the thinning
    :func:`measure_grain_size` does.

    Parameters
    ----------
    model : BoundaryModel
        The model loaded (:func:`napari_srmat.edges.load_boundary_model`).
    digest : str, optional
        ``model.weights_digest()`` as the run already computed it (``srmat grain-size
        --scheduler``: the one its workers are checked against), so it is not computed
        again; None: computed here.

    Returns
    -------
    dict
        Keyed by :data:`MEASURED_SETTING_KEYS`: the model's name
        (:data:`SHIPPED_BOUNDARY_MODEL` for the shipped weights,
        :func:`is_shipped_boundary_model`; else the checkpoint folder it was loaded
        from, :data:`UNSAVED_BOUNDARY_MODEL` without one), its
        :meth:`~napari_srmat.edges.infer.BoundaryModel.weights_digest` (which tells
        weights apart where the folder is the same; ``digest``, else computed once here
        from the weights as they are, 0.36 s for the largest encoder on a CPU) and
        :data:`MEASURED_SKELETONIZE`. The one
        record of what a micrograph's measurement ran: the Simple tab's job and report
        and ``srmat grain-size --json``'s ``settings`` (docs/grain_size.md) write it.
    """
    if digest is None:
        digest = model.weights_digest()
    name = (SHIPPED_BOUNDARY_MODEL if _is_shipped(model, lambda: digest)
            else UNSAVED_BOUNDARY_MODEL if model.path is None else str(model.path))
    return dict(zip(MEASURED_SETTING_KEYS, (name, digest, MEASURED_SKELETONIZE),
                    strict=True))


def _calibration_warnings(model, threshold: float | None) -> list[str]:
    """Warn when the model's error calibration does not apply (other weights, TTA or
    threshold than those it was measured with)."""
    if MODEL_LOG_ERROR_KEY in model.config and threshold is None:
        return []
    shipped = is_shipped_boundary_model(model)
    measured = (model.threshold_rule, model.tta) == MODEL_ERROR_OPERATING_POINT
    if shipped and measured and threshold is None:
        return []
    rule, tta = MODEL_ERROR_OPERATING_POINT
    return ["the model's error calibration (the model term of the 95% interval) was "
            f"measured for the shipped weights with threshold rule {rule!r} and TTA "
            f"{tta!r}; with this model, rule, TTA or threshold the interval is indicative "
            "only"]


#: The warning of a measurement that has no pixel size at all (µm and G are ``None``);
#: ``srmat grain-size`` and ``srmat heyn`` rows carry it alike.
NO_PIXEL_SIZE_NOTE = (f"no pixel size (from the file or given): ℓ̄ in {LENGTH_UNIT} and ASTM G "
                      "are not reported")


def note_pixel_size(out: GrainSizeResult, note: str | None = None) -> GrainSizeResult:
    """Say what the pixel size is based on (:func:`napari_srmat.io.pixel_size_note`):
    why µm and G are missing (the input's pixels are not square, or no pixel size at
    all: :data:`NO_PIXEL_SIZE_NOTE`), or that a given pixel size differs from the
    file's; after the measurement's own warnings. The one rule of ``srmat grain-size``
    and ``srmat heyn`` rows."""
    if out.pixel_size_um is None:
        out.warnings.append(note or NO_PIXEL_SIZE_NOTE)
    elif note:
        out.warnings.append(note)
    return out


def _predict(x: np.ndarray, model, stop):
    """Boundary probability of ``x`` (tiled; the tiles' progress is forwarded)."""
    from .edges import predict_boundaries_job

    result = yield from predict_boundaries_job(x, model, tile=MODEL_TILE,
                                               overlap=MODEL_OVERLAP, stop=stop,
                                               scale_check=False)  # x is at its scale
    return None if result is None else result[0]


#: How every warning about the input's scale begins (those of :func:`_check_scale`,
#: "not enough image to judge" of an image :func:`too_few_grains` and "the field holds
#: only" of a :func:`small_field` measured at its own scale).
SCALE_WARNING_PREFIXES = ("grains are ", "grains look ", "ℓ̄ at inference scale ",
                          "not enough image to judge ", "the field holds only ")


def is_scale_warning(message: str) -> bool:
    """Whether a warning of :func:`measure_grain_size` is about the input's scale (grains
    under-sampled, :func:`undersampled_note`; few pixels across, :func:`is_coarse`; or
    outside the model's reliable range), not about calibration or a missing pixel size.

    Examples
    --------
    >>> is_scale_warning("grains are ~7 px across in this image (ℓ̄ < 8 px): ...")
    True
    >>> is_scale_warning("no pixel size (from the file or given): ...")
    False
    """
    return message.startswith(SCALE_WARNING_PREFIXES)


def _estimate_seen(estimate_px: float, relation: str, limit: float) -> str:
    """How a scale warning about the autocorrelation estimate begins (one of
    :data:`SCALE_WARNING_PREFIXES`), left open for what follows in its parentheses: the
    estimate in whole px, or to the decimals that show it ``relation`` ``limit`` (the
    rule of :func:`napari_srmat.errors.compared_value`: 14.6 px read '~15 px ..., < 15
    px')."""
    shown = compared_value(estimate_px, relation, limit, decimals=0)
    return f"grains look ~{shown} px across in this image (autocorrelation estimate"


def undersampled_note(seen: str) -> str:
    """The one wording of grains fewer than :data:`MIN_INPUT_INTERCEPT_PX` px across:
    ``seen`` (how many pixels, and by what) then :data:`UNDERSAMPLED_NOTE` and
    :data:`UNDERSAMPLED_ADVICE`.

    Parameters
    ----------
    seen : str
        How the grains were seen, one of :data:`SCALE_WARNING_PREFIXES` first.

    Returns
    -------
    str
        The warning.

    Examples
    --------
    >>> from napari_srmat.grainsize import undersampled_note
    >>> undersampled_note("grains are ~5 px across in this image (ℓ̄ < 8 px)")
    'grains are ~5 px across in this image (ℓ̄ < 8 px): too few pixels across to measure (under-sampled); super-resolve first (srmat sr run) or image at a higher magnification'
    """  # noqa: E501
    return f"{seen}: {UNDERSAMPLED_NOTE}; {UNDERSAMPLED_ADVICE}"


def _too_coarse_by_estimate(estimate_px: float) -> str:
    """The warning for an estimate below :data:`MIN_INPUT_INTERCEPT_PX`: the measurement's
    (no intercepts to tell it otherwise) and the boundary maps' (:class:`NativeScale`)."""
    seen = _estimate_seen(estimate_px, "<", MIN_INPUT_INTERCEPT_PX)
    return undersampled_note(f"{seen}, < {MIN_INPUT_INTERCEPT_PX:g} px)")


def _check_scale(out: GrainSizeResult, auto: bool, side: float = math.inf, *,
                 known_upscale: bool = False) -> None:
    """Warnings (and withheld figures) for inputs outside the model's reliable scales;
    ``side``: :func:`judged_side` of the input (a coarse field under
    :data:`SMALL_FIELD_PX` is told that its estimate may be the field's);
    ``known_upscale``: run at 1 / ``out.upscale_factor``, the field's pixels
    (:func:`known_upscale_scale`)."""
    inf = out.inference_intercept_px
    if inf is None:
        est = out.estimated_intercept_px
        if est is not None and est < MIN_INPUT_INTERCEPT_PX:
            out.warnings.append(_too_coarse_by_estimate(est))
        return
    lo, hi = RELIABLE_INTERCEPT_PX
    if not lo <= inf <= hi:
        advice = "" if auto else ": choose another inference scale (or leave it automatic)"
        by_estimate = choose_inference_scale(out.estimated_intercept_px)
        # (a small field kept at its own scale has an estimate that reads short: no hint)
        if known_upscale and inf > hi:
            # not "its own scale": the upscale ran at its field's (s51 E2: a x2 SR at 1/2
            # was told it was native-sharp and measured at its own scale)
            f = out.upscale_factor
            advice = (f": this x{f} super-resolution was measured at 1/{f}, its field's own "
                      "pixels, where the model reads large grains short")
            if abs(by_estimate / out.inference_scale - 1) > SCALE_TOLERANCE:
                advice += (f"; compare with inference_scale={by_estimate:g} (the "
                           "estimate's)")
        elif auto and inf > hi and out.inference_scale > by_estimate:
            advice = (": the input is native-sharp and was measured at its own scale, where "
                      "the model reads large grains short; compare with inference_scale="
                      f"{by_estimate:g} (the estimate's)")
        limit = lo if inf < lo else hi
        shown = compared_value(inf, "<" if inf < lo else ">", limit, decimals=1)
        out.warnings.append(f"{RANGE_NOTE} {shown} px, outside the model's "
                            f"reliable range {lo:g}-{hi:g} px" + advice)
    grains = out.mean_intercept_px
    est = out.estimated_intercept_px
    if grains is not None and grains >= MIN_INPUT_INTERCEPT_PX and is_coarse(est):
        shown = compared_value(est, '<', COARSE_INPUT_INTERCEPT_PX, decimals=0)
        where = (" px across in this image (autocorrelation estimate, "
                 f"< {COARSE_INPUT_INTERCEPT_PX:g} px)")
        small = side < SMALL_FIELD_PX
        if small:  # the estimate reads short on a small field: the grains may be larger
            where = (f" px across by the autocorrelation estimate of this {side:.0f} px field "
                     f"(< {COARSE_INPUT_INTERCEPT_PX:g} px), which can read short on a field "
                     f"under {SMALL_FIELD_PX} px (then the grains are larger and ℓ̄ reads "
                     "short)")
        out.warnings.append(
            f"grains are only ~{shown}{where}: it was measured enlarged "
            f"×{out.inference_scale:.3g} ({COARSE_DIRECTION_NOTE}), so the interval "
            "reaches further below ℓ̄; "
            + ("measure a larger field, or super-resolve (srmat sr run) if the grains are "
               "this small" if small else "super-resolve (srmat sr run) or image at a "
               "higher magnification for a tighter figure"))
    if grains is not None and grains < MIN_INPUT_INTERCEPT_PX:
        shown = compared_value(grains, "<", MIN_INPUT_INTERCEPT_PX, decimals=0)
        msg = undersampled_note(f"grains are ~{shown} px across in this image (ℓ̄ < "
                                f"{MIN_INPUT_INTERCEPT_PX:g} px)")
        if side < SMALL_FIELD_PX and out.inference_scale > 1:
            msg = (f"grains are ~{shown} px across as measured in this {side:.0f} px field "
                   f"(ℓ̄ < {MIN_INPUT_INTERCEPT_PX:g} px), enlarged ×{out.inference_scale:.3g}"
                   f" by an estimate that can read short on a field under {SMALL_FIELD_PX} px: "
                   f"{UNDERSAMPLED_NOTE}, or the field too small to judge; measure a larger "
                   "field, or super-resolve first (srmat sr run) if the grains are this small")
        if auto:
            _withhold(out, msg + "; no grain size is reported")
        else:
            out.warnings.append(msg)


def _check_structure(out: GrainSizeResult, shape: tuple) -> None:
    """Withhold the figures of a micrograph whose boundary map shows no grain structure:
    no test line crosses it, or ℓ̄ is longer than :data:`MAX_INTERCEPT_FIELD_FRACTION`
    times the input's longer side (``shape``); warn where ℓ̄ is longer than the side
    but within that limit (a coarse field, kept). Until 2026-12-07 a featureless field
    read ℓ̄ 10.9 mm, G -10.2 with exit 0 (and with ``--method`` a field of N_L 0 in the
    specimen). A figure already withheld (under-sampled, not a boundary map) stays so."""
    mean, side = out.mean_intercept_px, float(max(shape[:2]))
    degenerate = out.heyn is not None and out.heyn.degenerate
    if mean is None and (out.n_crossings or degenerate):
        return
    if mean is not None and mean <= side:
        return
    if mean is not None and mean <= MAX_INTERCEPT_FIELD_FRACTION * side:
        out.warnings.append(
            f"{FIELD_LONGER_NOTE}: ℓ̄ {mean:.0f} px from {out.n_crossings} crossing(s) is "
            f"longer than the field ({side:.0f} px): few grains are sampled; measure at a "
            "lower magnification or a larger field")
        return
    found = ("no test line crosses the boundary map" if mean is None else
             f"ℓ̄ {mean:.0f} px from {out.n_crossings} crossing(s) is more than "
             f"{MAX_INTERCEPT_FIELD_FRACTION:g}x the field ({side:.0f} px)")
    _withhold(out, f"{NO_STRUCTURE_NOTE}: {found}: the boundary model found no grains in "
                   "this micrograph (featureless, out of focus or not a micrograph of "
                   "grains); no grain size is reported", drop_range=True)


@plain_version(measure_grain_size_job)
def measure_grain_size(image: Any, **kwargs: Any) -> GrainSizeResult:
    """Grain size (mean lineal intercept ℓ̄ and ASTM G) of a micrograph, with a 95 % interval.

    Parameters
    ----------
    image : array (H, W) or (H, W, C), or Micrograph
        The micrograph (uint8/uint16/float in [0, 1], numpy or dask), or with
        ``mask=True`` a boundary mask. A :class:`~napari_srmat.io.Micrograph` gives
        its pixel size and pyramid levels.
    pixel_size_um : float, optional
        µm per input pixel (default: the Micrograph's); without it the µm and G
        figures are ``None`` and a warning says so.
    model : BoundaryModel or path-like, optional
        A loaded model or a checkpoint (:func:`napari_srmat.edges.infer.as_boundary_model`);
        default: the shipped weights.
    mask : bool
        The input is a boundary mask (nonzero / > 127 = boundary): no model, no
        resampling; the measurement of ``srmat heyn --skeletonize``.
    pattern : {"random", "grid", "circles"}
        Test lines (see :func:`napari_srmat.metrics.heyn.measure_intercepts`).
    n_lines, seed, margin :
        As in :func:`~napari_srmat.metrics.heyn.measure_intercepts`.
    inference_scale : float, optional
        Resample by this factor before the model instead of choosing it (no re-pick,
        no withholding; warnings still say when it is outside the reliable range); at
        most :data:`INFERENCE_SCALE_LIMIT`.
    threshold : float in [0, 1], optional
        A fixed binarisation threshold (default: the model's operating point, its
        ``threshold_rule`` applied region by region,
        :func:`napari_srmat.edges.thresholds.binarize_by_region`; by default
        :data:`napari_srmat.edges.infer.DEFAULT_THRESHOLD_RULE`). With ``mask=True``:
        the level at which a probability map given as the mask is binarised
        (:func:`napari_srmat.io.as_bool_mask`).
    mask_scale : int, optional
        With ``mask=True``: the mask was drawn at 1 / ``mask_scale`` of this resolution
        and upscaled (a mask upscaled with an SR image, bilinear or smooth), an integer
        from 1 to :data:`~napari_srmat.metrics.heyn.BLOCK_SCALE_MAX`: the count's zig-zag
        bridge runs on ``mask_scale`` x ``mask_scale`` blocks
        (:func:`~napari_srmat.metrics.heyn.measure_intercepts`' ``mask_scale``; the rule
        used is ``HeynResult.block_scale``). Not for a mask drawn at this resolution
        (thick bands read long, docs/heyn.md "Upscaled masks"). Default: an exact
        nearest upscale is detected. Refused for an image.
    upscale_factor : int, optional
        The image is a ×``upscale_factor`` upscale of a field (a super-resolution);
        default: the factor an ``srmat sr run`` store records (a Micrograph read from it).
        Where the field would be measured at scale 1 the model runs at exactly
        1 / ``upscale_factor`` (:func:`known_upscale_scale`), so the upscale reads the
        field's ℓ̄; elsewhere, and with ``inference_scale``, it changes nothing. Refused
        for a mask.
    stop : StopToken, optional
        Checked between tiles.

    Returns
    -------
    GrainSizeResult
        ``to_dict()`` gives the schema of docs/grain_size.md.

    Raises
    ------
    GrainSizeError
        Not an ``(H, W)`` / ``(H, W, C)`` image, too small, NaN pixels, unknown pattern,
        ``mask`` not True or False, bad scale or threshold, ``mask_scale`` for an image,
        or an image that holds only two values (a mask given without ``mask=True``).
    HeynError
        ``n_lines``, ``margin`` or ``mask_scale`` out of range, or (``mask=True``) a
        mask the mask rule refuses, e.g. a probability map without ``threshold``
        (:func:`~napari_srmat.metrics.heyn.measure_intercepts`).
    PixelSizeError
        ``pixel_size_um`` not a finite positive number.
    TypeError
        ``image`` is None, a path (read it with :func:`~napari_srmat.io.read_image`) or
        not numeric (:func:`napari_srmat.io.image_data`); ``stop`` not a StopToken; a
        misspelt keyword.
    ValueError
        Pixel values the float rule would misread (a float image in 0..255, a
        zero-centred one, 8-bit values in an ``int64`` array:
        :func:`napari_srmat.io.check_pixel_values`) or a channels-first ``(C, H, W)``
        array. All the errors above are ``ValueError`` subclasses except ``TypeError``.

    Examples
    --------
    A boundary mask of 20 px squares (no model):

    >>> m = np.zeros((200, 200), bool); m[:, 5::20] = True; m[5::20, :] = True
    >>> r = measure_grain_size(m, mask=True, pattern="grid", n_lines=7, margin=0,
    ...                        pixel_size_um=1.0)
    >>> round(r.mean_intercept_um, 1), r.inference_scale
    (19.9, 1.0)
    """
    return run_job(measure_grain_size_job(image, **kwargs), quiet=True)
