"""Choice of compute device, and the numbers every training run checks."""

from __future__ import annotations

import math
import os
import sys

__all__ = ["resolve_device", "auto_device_if_known", "set_cpu_threads", "check_learning_rate",
           "finite_loss", "check_finite_weights", "diverged_error"]


def finite_loss(loss, step: int) -> float:
    """The value of a training loss, refusing NaN and inf (a NaN pixel in a training
    image or a diverging learning rate), so that a run stops instead of training on and
    saving a broken checkpoint.

    Raises
    ------
    ValueError
        The loss is not finite.

    Examples
    --------
    >>> finite_loss(0.25, 3)
    0.25
    """
    value = float(loss.detach()) if hasattr(loss, "detach") else float(loss)
    if not math.isfinite(value):
        raise ValueError(f"the training loss became {value} at step {step}: check the "
                         "training images for NaN or infinite pixels, and the learning rate")
    return value


def check_finite_weights(*models, step: int, inputs=None, predict=None) -> None:
    """Refuse weights that the last optimisation step made NaN or infinite.

    :func:`finite_loss` checks each loss before its step, so a step that diverges (a
    far too high learning rate) is only seen at the next one; after the last step
    before a checkpoint nothing looks, and the run saved NaN weights or failed on them
    with an unrelated message. Called before a checkpoint is validated or written.

    Parameters
    ----------
    *models : torch.nn.Module
        The networks to check (e.g. the trained one and its EMA).
    step : int
        The step just taken (counted from 1), for the message.
    inputs : torch.Tensor, optional
        A batch the first model is run on in eval mode (left in it): its outputs must
        be finite too (weights finite but so large that the outputs overflow).
    predict : callable, optional
        Runs ``inputs`` instead of the first model (e.g. an SR model's ``predict``,
        whose network takes more than the image); it sets the mode itself.

    Raises
    ------
    ValueError
        A weight or buffer, or an output, is NaN or infinite.
    """
    import torch

    def finite(tensors) -> bool:
        return all(bool(torch.isfinite(t).all()) for t in tensors
                   if torch.is_tensor(t) and t.is_floating_point())

    bad = None
    with torch.no_grad():
        if not all(finite(model.state_dict().values()) for model in models):
            bad = "weights"
        elif inputs is not None:
            out = (predict or models[0].eval())(inputs)
            if not finite(out if isinstance(out, tuple | list) else [out]):
                bad = "outputs"
    if bad is not None:
        raise diverged_error(f"the model's {bad}", step=step)


def diverged_error(what: str, *, step: int | None = None) -> ValueError:
    """The one message of a training run whose model diverged (``what`` became NaN or
    infinite), for :func:`check_finite_weights` and the jobs that see it in their
    validation scores.

    Examples
    --------
    >>> str(diverged_error("the validation PSNR", step=3)).split(";")[0]
    'the training diverged at step 3: the validation PSNR became NaN or infinite'
    """
    at = f" at step {step}" if step is not None else ""
    return ValueError(f"the training diverged{at}: {what} became NaN or infinite; lower the "
                      "learning rate (no checkpoint was written from it)")


def set_cpu_threads(num_threads: int | None) -> None:
    """``torch.set_num_threads(num_threads)`` for a training run; None or 0 keeps
    torch's default.

    Raises
    ------
    ValueError
        A negative or non-integer number.
    """
    if num_threads is None or num_threads == 0:
        return
    if isinstance(num_threads, bool) or int(num_threads) != num_threads or num_threads < 0:
        raise ValueError(f"num_threads must be a positive integer (0: torch's default), "
                         f"got {num_threads!r}")
    import torch

    torch.set_num_threads(int(num_threads))


#: Largest learning rate a training run takes: AdamW's first step is 10 x the rate
#: (its bias correction, ``1 - beta1``), and a step that float32 cannot hold stopped the
#: run with torch's "value cannot be converted to type float without overflow".
MAX_LEARNING_RATE = 3.4e37


def check_learning_rate(lr: float) -> float:
    """A learning rate must be a finite number >= 0 (``inf`` trained to NaN losses and
    saved the checkpoint anyway; 0 leaves the weights as they are, which tests use) and
    at most :data:`MAX_LEARNING_RATE`.

    Examples
    --------
    >>> check_learning_rate(1e-3)
    0.001
    """
    try:
        value = float(lr)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= MAX_LEARNING_RATE):
        raise ValueError(f"the learning rate must be a finite number >= 0 and at most "
                         f"{MAX_LEARNING_RATE:g}, got {lr!r}")
    return value


def check_device_name(device: str | None, *, field: str = "device") -> str:
    """The device name, lower case, if it is one napari-srmat knows (``auto``, ``cpu``,
    ``cuda``, ``cuda:N``, ``mps``; None is ``auto``); whether it is available is
    :func:`resolve_device`'s question (a cluster worker's device is checked here, on
    this machine, by name only).

    Examples
    --------
    >>> check_device_name("CUDA:1")
    'cuda:1'
    >>> check_device_name("tpu")
    Traceback (most recent call last):
    ...
    ValueError: unknown device 'tpu'; use auto, cpu, cuda, cuda:N or mps
    """
    if device is not None and not isinstance(device, str):
        raise ValueError(f"{field} must be a name (auto, cpu, cuda, cuda:N or mps), "
                         f"got {device!r}")
    name = (device or "auto").lower()
    index = name[len("cuda:"):] if name.startswith("cuda:") else ""
    if name not in ("auto", "cpu", "cuda", "mps") and not index.isdigit():
        raise ValueError(f"unknown {field} {device!r}; use auto, cpu, cuda, cuda:N or mps")
    return name


def torch_loaded() -> bool:
    """Whether torch has been imported in this process (importing it takes seconds).

    A torch that another thread is still importing (in ``sys.modules``, its
    ``__spec__._initializing`` set) is not loaded: ``import torch`` would wait for it
    (0.9 s measured on the GUI thread while a worker imported it).
    """
    module = sys.modules.get("torch")
    if module is None:
        return False
    return not getattr(getattr(module, "__spec__", None), "_initializing", False)


def _torch_build_gpus() -> set[str] | None:
    """The GPU back ends the installed torch was built for (``{"cuda"}``, ``{"hip"}``, an
    empty set for a CPU wheel), read from ``torch/version.py`` without importing torch;
    None when that cannot be told."""
    import importlib.util
    import re

    try:
        spec = importlib.util.find_spec("torch")
        if spec is None or not spec.submodule_search_locations:
            return None
        text = open(os.path.join(list(spec.submodule_search_locations)[0], "version.py"),
                    encoding="utf-8").read()
    except (OSError, ImportError, ValueError):
        return None
    built = set()
    for backend in ("cuda", "hip", "xpu"):
        match = re.search(rf"^{backend}\b[^=]*=\s*(.+)$", text, re.MULTILINE)
        if match is None:
            return None
        if match.group(1).strip() != "None":
            built.add(backend)
    return built


def _gpu_may_exist() -> bool:
    """Whether this machine may have a device torch would pick over the CPU: an NVIDIA
    driver (``/proc/driver/nvidia``, ``nvidia-smi`` on the PATH, WSL's ``/dev/dxg``), an
    AMD ROCm one (``/dev/kfd``) or an Apple-silicon Mac (MPS), with a torch built for it
    (a CPU wheel runs on the CPU whatever the machine has; ``CUDA_VISIBLE_DEVICES`` set
    empty hides every NVIDIA device). Looked up without importing torch."""
    import platform
    import shutil

    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    built = _torch_build_gpus()
    nvidia = (os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/dxg")
              or shutil.which("nvidia-smi") is not None
              or os.path.exists("/usr/lib/wsl/lib/nvidia-smi"))
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        nvidia = False
    if built is None:  # the build is not known: any driver may be used
        return nvidia or os.path.exists("/dev/kfd")
    return (nvidia and "cuda" in built) or (os.path.exists("/dev/kfd") and "hip" in built) \
        or "xpu" in built


def auto_device_if_known() -> str | None:
    """What ``resolve_device("auto")`` gives, when that is known without importing
    torch; None when it is not.

    The widgets estimate a job's time on the GUI thread before starting it; importing
    torch there froze napari for seconds at the first Run (2.3 s measured, more on a cold
    disk). Once torch is loaded this is :func:`resolve_device`; before, a machine on
    which no GPU driver or Apple silicon is found runs on ``"cpu"``, and on any other the
    answer waits for the job (None).

    Examples
    --------
    >>> auto_device_if_known() in ("cpu", "cuda", "mps", None)
    True
    """
    if torch_loaded():
        return resolve_device("auto")
    return None if _gpu_may_exist() else "cpu"


def resolve_device(device: str | None = "auto") -> str:
    """Return a torch device string.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}
        ``"auto"`` picks CUDA when available, then MPS, else CPU.

    Raises
    ------
    ValueError
        If a CUDA/MPS device is asked for but not available.
    """
    import torch

    device = check_device_name(device)
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    if device == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ValueError("device 'mps' requested but not available")
    return device
