"""Settings of UAED boundary training (torch-free: the CLI and the widgets read the
defaults from here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "BoundaryTrainConfig",
    "MaskedPretrainConfig",
    "MIN_TRAIN_CROP",
    "ENCODER_NAMES",
    "ENCODER_CONTROL",
    "CROP_CONTROL",
]

#: The encoder presets of the boundary model, by name (the keys of
#: :data:`napari_srmat.edges.model.ENCODER_PRESETS`, which imports torch): what the Train
#: widget offers without importing it on the GUI thread (until 2026-12-07 choosing *UAED
#: training* did, a stall of about 1 s).
ENCODER_NAMES = ("tiny", "small", "efficientnet-b0", "efficientnet-b7")
#: The Train widget's controls of the encoder and the training crop, as its refusals name
#: them (:func:`napari_srmat.errors.worded_error`).
ENCODER_CONTROL = "Model / encoder"
CROP_CONTROL = "Crop (px)"

#: Smallest training crop (px): the encoder halves it four times (a crop of 0 failed deep
#: inside the network).
MIN_TRAIN_CROP = 32


@dataclass
class BoundaryTrainConfig:
    """Settings of a UAED training run.

    Data come from ``data_root`` (``ROOT/{train,val}/{images,masks}``) or from
    in-memory lists (``train_images``/``train_masks``, ``val_images``/``val_masks``:
    arrays as napari layers hold them). ``out`` is the run directory: ``out/best``
    (best validation AP, loadable by ``load_boundary_model(out)``), ``out/last``
    (with the optimiser state, for ``resume``) and ``out/top/epoch-NNN`` (the ``top_k``
    best by validation AP; 0: none).
    ``init_checkpoint`` starts from the weights of a checkpoint of the same encoder
    (``"default"``: the shipped weights) instead of a random initialisation, i.e.
    fine-tuning; ``resume`` takes precedence over it. ``resume`` without ``out/last`` is a
    new run (a warning says so: :func:`napari_srmat.outputs.nothing_to_resume`).
    ``resume`` continues only a run of the same settings and the same data: the
    checkpoints record ``data_root`` resolved and a fingerprint of the image and mask
    files read (``training.data``, :func:`napari_srmat.outputs.files_fingerprint`), so
    the same folder given by another (relative or absolute) path resumes, another
    folder or changed files do not. A run written by an older version records only
    ``data_root`` as typed: an absolute one is compared as a resolved path (its files
    cannot be; a warning says so), a relative one is refused (the folder it was
    relative to is unknown).
    A new run (no ``resume``) into ``out`` holding an earlier run (``last``, ``best``,
    ``top`` or ``history.json``) is refused unless ``overwrite`` is True; the new run
    then replaces the earlier one's checkpoints once its first epoch is saved.
    ``photometric_augment`` adds robustness augmentation of the training crops:
    ``""`` (off, the default), ``"all"``, or a comma-separated subset of
    ``color`` (brightness/contrast/saturation/hue jitter), ``gamma``, ``blur``,
    ``sharpen``, ``noise`` and ``jpeg`` (re-compression); see
    :func:`napari_srmat.edges.data.photometric_augment` (each applied with probability
    0.5, drawn from a generator of its own, so the crops and masks are the same as
    without it).
    ``scale_augment`` = ``(low, high)`` zooms each training crop by a factor drawn
    log-uniformly from that range (``None``: off): a ``crop / zoom`` window is cut and
    resampled to ``crop`` px, so the model sees grains of ``low``-``high`` times their
    size in the data and cannot learn one grain size as a prior
    (:func:`napari_srmat.edges.data.random_crop_augment`).
    ``crop`` is the side of the random training crops (None: whole images, at least
    :data:`MIN_TRAIN_CROP`); every training image must be at least that large on both
    sides (the smallest one is named otherwise), so that no crop is smaller than asked.
    ``input_norm`` = ``"channels"`` shifts and scales each channel of every image to a
    fixed mean and spread over the whole image before cropping
    (:func:`napari_srmat.edges.data.normalize_channels`); the checkpoint records it and
    inference applies the same with the statistics of the whole input image.
    ``connectivity_weight`` > 0 adds the clDice connectivity term to the loss
    (:func:`napari_srmat.edges.loss.soft_cldice_loss` on the predicted probability).
    ``overlap_weight`` > 0 adds a soft Dice term
    (:func:`napari_srmat.edges.loss.soft_dice_loss`), in which a false boundary pixel
    costs about as much as a missed one.
    """

    data_root: str | None = None
    train_images: list | None = None
    train_masks: list | None = None
    val_images: list | None = None
    val_masks: list | None = None
    out: str | None = None
    encoder: str = "tiny"
    epochs: int = 20
    pretrain_synthetic: int = 0
    pretrain_epochs: int = 3
    synthetic_boundary_width: int = 4
    synthetic_grain_size_px: float = 30.0
    batch_size: int = 2
    crop: int | None = 128
    steps_per_epoch: int | None = None
    lr: float = 1e-4
    weight_decay: float = 5e-4
    lr_schedule: str = "cosine"
    ada_max: float = 1.0
    ada_clamp: float = 5.0
    std_weight: float = 1.0
    std_weight_final: float = 0.1
    focal_gamma: float = 0.0
    connectivity_weight: float = 0.0
    overlap_weight: float = 0.0
    ema_decay: float = 0.99
    grad_clip: float = 1.0
    amp: bool = True
    seed: int = 0
    top_k: int = 3
    resume: bool = False
    overwrite: bool = False
    device: str = "auto"
    num_threads: int | None = None
    init_checkpoint: str | None = None
    photometric_augment: str = ""
    scale_augment: tuple[float, float] | None = None
    input_norm: str = "none"

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("train_images", "train_masks", "val_images", "val_masks"):
            d[k] = None if d[k] is None else f"<{len(d[k])} arrays>"
        return d


@dataclass
class MaskedPretrainConfig:
    """Settings of :func:`napari_srmat.edges.pretrain.masked_pretrain_job`.

    Parameters
    ----------
    images : list of array
        Unlabeled micrographs, ``(H, W)`` or ``(H, W, C)``, any dtype; numpy, or lazy
        (dask, zarr: only the crops are read, so a mosaic never enters memory whole).
        Each crop is prepared as the boundary training prepares its images
        (``edges.data.to_model_image``: [0, 1], three channels). Each image must be at
        least ``crop`` px on both sides.
    out : str
        Checkpoint directory to write (refused if it exists; written to a partial
        directory and swapped in when complete).
    encoder : str
        Encoder preset of the boundary model (``edges.model.ENCODER_PRESETS``).
    steps, batch_size, crop : int
        Optimisation steps, crops per step and crop side (px).
    patch : int
        Side of the masked squares (px); ``crop`` must be a multiple of it.
    mask_ratio : float
        Fraction of the patches hidden in each crop.
    lr, weight_decay : float
        AdamW settings (cosine decay to 5 % of ``lr``).
    seed : int
        Crops, masks and initial weights: an integer >= 0
        (:func:`napari_srmat.errors.check_seed`).
    num_threads : int, optional
        ``torch.set_num_threads`` for the run.
    device : str
        ``"cpu"``, ``"cuda"``, ``"auto"``.
    """

    images: list = field(default_factory=list, repr=False)
    out: str = ""
    encoder: str = "tiny"
    steps: int = 2000
    batch_size: int = 4
    crop: int = 128
    patch: int = 16
    mask_ratio: float = 0.5
    lr: float = 1e-3
    weight_decay: float = 5e-4
    seed: int = 0
    num_threads: int | None = None
    device: str = "auto"  # as training (it was "cpu": on a GPU machine, silently the CPU)

    def to_json(self) -> dict[str, Any]:
        """The settings without the images (their number instead)."""
        d = asdict(self)
        d["images"] = len(self.images)
        return d
