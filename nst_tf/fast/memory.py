"""Memory estimates for ``train-fast`` and ``apply``, checked before the work (no TensorFlow import).

Both used to run until the machine swapped when ``--batch-size`` or ``--size`` was too
large. The estimates follow :mod:`nst_tf.optim.memory` (same budget: ``MemAvailable``, the
cgroup, the first GPU's free memory, or ``NST_TF_MEMORY_LIMIT_MB``):

* **apply** (one picture ``H x W`` at a time, forward only): TensorFlow, Keras and the small
  network (:data:`APPLY_BASE_BYTES`, no VGG) plus :data:`APPLY_FLOATS_PER_PIXEL` floats a pixel:
  the widest activations (32 channels at full size) and the temporaries of TensorFlow's
  convolutions, more than the three 32-channel tensors the shapes alone suggest;
* **train-fast** (a batch of ``B`` crops of ``S x S`` on each replica): the network's
  activations of every layer, about :data:`NETWORK_FLOATS_PER_PIXEL` floats a pixel
  (32 channels at full size, 64 at half, 128 in the five residual blocks at a quarter),
  VGG's activations up to ``block5_conv1`` for the stylized and the content batch, and once
  for the style picture (at ``max(S, 64)`` px, the style targets), all times
  :data:`TRAINING_FACTOR` (kept for the backward pass, plus TensorFlow's temporaries).

Calibrated against measured peaks (``benchmarks/bench_fast_memory.py``, peak resident memory
of each command on the CPU, issue 28): the estimates lie 1.1-1.4 times above the peaks
measured at 64-256 px crops (batches 1-4) and at ``apply --size`` 256-2048; the table is in
``benchmarks/README.md``.
"""

from __future__ import annotations

from ..optim.memory import HEADROOM, MemoryEstimateError, available_bytes
from ..vgg.sizes import activation_bytes

__all__ = ["apply_bytes", "training_bytes", "check_apply", "check_training", "APPLY_BASE_BYTES",
           "APPLY_FLOATS_PER_PIXEL", "NETWORK_FLOATS_PER_PIXEL", "TRAINING_BASE_BYTES", "TRAINING_FACTOR"]

#: What ``apply`` holds before its first picture: TensorFlow, Keras, the network (measured 0.6-0.7 GiB on the CPU).
APPLY_BASE_BYTES = int(0.9 * (1 << 30))
#: Floats a pixel that applying the network holds at once (measured 120-220 above 0.7 GiB at 640-2048 px: 180).
APPLY_FLOATS_PER_PIXEL = 180
#: Floats a pixel of every activation of the transformation network (kept for training).
NETWORK_FLOATS_PER_PIXEL = 6 * 32 + 6 * 64 // 4 + 33 * 128 // 16 + 6
#: What ``train-fast`` holds besides the activations: TensorFlow, VGG16, Keras, the input pipeline (measured
#: 1.0-1.1 GiB at 64 px crops on the CPU, varying by 0.1-0.2 GiB from run to run).
TRAINING_BASE_BYTES = int(1.25 * (1 << 30))
#: Training keeps the activations for the backward pass, their gradients and TensorFlow's temporaries: measured
#: (above 1 GiB, on the CPU) 2.7 times the forward activations at 128 px crops and 2.9 at 256 px,
#: so 3.5 (stylize's ``BACKWARD_FACTOR`` is 3).
TRAINING_FACTOR = 3.5
_VGG_LAYERS = ("block5_conv1",)


def apply_bytes(height: int, width: int) -> int:
    """Peak bytes of ``apply`` on one ``height x width`` picture."""
    return int(APPLY_BASE_BYTES + 4 * APPLY_FLOATS_PER_PIXEL * height * width)


def training_bytes(size: int, batch_per_replica: int, net: str = "vgg16") -> tuple[int, int]:
    """``(host, device)`` bytes of ``train-fast`` with ``batch_per_replica`` crops of ``size`` px a replica
    (``net``: the loss network, ``vgg16`` as :func:`nst_tf.fast.train` and ``train-fast`` use)."""
    pixels = size * size * batch_per_replica
    network = 4 * NETWORK_FLOATS_PER_PIXEL * pixels
    vgg = 2 * batch_per_replica * activation_bytes(size, size, _VGG_LAYERS, net)  # stylized and content batch
    style_side = max(size, 64)  # the style picture's long side (nst_tf.fast.train: style_size)
    style = activation_bytes(style_side, style_side, _VGG_LAYERS, net)
    return TRAINING_BASE_BYTES, int(TRAINING_FACTOR * (network + vgg + style))


def _budgets() -> tuple[int | None, int | None]:
    host, gpu = available_bytes()
    return (None if host is None else int(host * HEADROOM)), (None if gpu is None else int(gpu * HEADROOM))


def _gigabytes(count: float) -> str:
    return f"{count / 1e9:.1f} GB"


def check_apply(height: int, width: int, size_option: str = "--size") -> None:
    """Refuse a picture that ``apply`` could not stylize in memory, naming a ``--size`` that fits."""
    host, gpu = _budgets()
    budget = gpu if gpu is not None else host
    if budget is None or apply_bytes(height, width) <= budget + (APPLY_BASE_BYTES if gpu is not None else 0):
        return
    long_side = max(height, width)
    side = long_side
    while side > 32 and apply_bytes(round(height * side / long_side), round(width * side / long_side)) > \
            budget + (APPLY_BASE_BYTES if gpu is not None else 0):
        side = int(side * 0.9)
    where = "GPU memory" if gpu is not None else "memory"
    raise MemoryEstimateError(f"applying the network to a {width}x{height} px picture needs about "
                              f"{_gigabytes(apply_bytes(height, width))} of {where} but about {_gigabytes(budget)} "
                              f"is available; use {size_option} {max(side // 16 * 16, 32)} or less")


def check_training(size: int, batch_per_replica: int, net: str = "vgg16") -> None:
    """Refuse a training batch that would not fit, naming a ``--batch-size`` (or ``--size``) that does."""
    host_budget, gpu_budget = _budgets()

    def fits(side: int, batch: int) -> bool:
        host, device = training_bytes(side, batch, net)
        if gpu_budget is None:
            return host_budget is None or host + device <= host_budget
        return (host_budget is None or host <= host_budget) and device <= gpu_budget

    if fits(size, batch_per_replica):
        return
    host, device = training_bytes(size, batch_per_replica, net)
    need, have, where = ((host + device, host_budget, "memory") if gpu_budget is None
                         else (device, gpu_budget, "GPU memory"))
    batch = batch_per_replica
    while batch > 1 and not fits(size, batch):
        batch -= 1
    if fits(size, batch):
        advice = f"use --batch-size {batch} or less"
    else:
        side = size
        while side > 16 and not fits(side, 1):
            side -= 16
        advice = f"use --batch-size 1 and --size {side} or less" if fits(side, 1) else \
            "there is not enough memory even for one small crop"
    crops = f"{batch_per_replica} crop{'s' if batch_per_replica != 1 else ''}"
    raise MemoryEstimateError(f"training on {crops} of {size} px a replica needs about "
                              f"{_gigabytes(need)} of {where} but about {_gigabytes(have or 0)} is available; "
                              f"{advice}")
