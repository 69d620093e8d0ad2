"""The memory estimates of ``train-fast`` and ``apply`` (``nst_tf.fast.memory``), pinned against a hand computation.

The constants were calibrated against measured peaks (``benchmarks/bench_fast_memory.py``,
table in ``benchmarks/README.md``); these tests pin the formula, written out here by hand from
the networks' shapes, not against a measurement.
"""

from __future__ import annotations

import math

import pytest

from nst_tf.fast import memory as fast_memory
from nst_tf.optim.memory import MemoryEstimateError

#: VGG16 up to block5_conv1 by hand: (convs, channels) of blocks 1-5, each block but the last pooled.
_VGG16 = [(2, 64), (2, 128), (3, 256), (3, 512), (1, 512)]


def _vgg16_floats(side: int) -> int:
    """Floats of VGG16's activations for one ``side x side`` picture: the input, every conv, every pool."""
    total, s = 3 * side * side, side
    for block, (convs, channels) in enumerate(_VGG16):
        total += convs * s * s * channels
        if block < 4:
            s //= 2
            total += s * s * channels
    return total


def test_vgg16_floats_by_hand_at_64_px():
    # 3*64^2 + 2*64*64^2 + 64*32^2 + 2*128*32^2 + 128*16^2 + 3*256*16^2 + 256*8^2 + 3*512*8^2 + 512*4^2 + 512*4^2
    assert _vgg16_floats(64) == 1224704


@pytest.mark.parametrize("size, batch", [(64, 1), (128, 4), (256, 2), (200, 3)])
def test_training_estimate_is_the_formula(size, batch):
    # the transformation network: 6 layers of 32 channels at full size, 6 of 64 at half, 33 of 128 at a quarter,
    # and 6 floats of input and output: 192 + 96 + 264 + 6 = 558 floats a pixel, 4 bytes each
    network = 4 * 558 * size * size * batch
    vgg = 4 * 2 * batch * _vgg16_floats(size)      # the stylized and the content batch
    style = 4 * _vgg16_floats(max(size, 64))          # the style picture, once
    host, device = fast_memory.training_bytes(size, batch)
    assert host == int(1.25 * 2 ** 30)  # TensorFlow, VGG16, Keras, the input pipeline
    assert device == int(3.5 * (network + vgg + style))


def test_training_estimate_at_the_calibration_points():
    """The numbers of the table in benchmarks/README.md (estimate, GiB, at 64 px x 1 and 256 px x 2)."""
    gib = 2 ** 30
    assert round(sum(fast_memory.training_bytes(64, 1)) / gib, 2) == 1.33
    assert round(sum(fast_memory.training_bytes(256, 2)) / gib, 2) == 3.48


def test_training_estimate_grows_with_the_batch_and_the_size():
    sizes = [sum(fast_memory.training_bytes(size, 2)) for size in (64, 128, 256)]
    batches = [sum(fast_memory.training_bytes(128, batch)) for batch in (1, 2, 4)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    assert batches == sorted(batches) and len(set(batches)) == 3


def test_a_training_batch_that_does_not_fit_is_refused_with_one_that_does(monkeypatch):
    need = sum(fast_memory.training_bytes(256, 2))  # 2 crops fit (3 need about 0.6 GiB more)
    monkeypatch.setenv("NST_TF_MEMORY_LIMIT_MB", str(math.ceil(need / fast_memory.HEADROOM / 2 ** 20) + 1))
    fast_memory.check_training(256, 2)
    with pytest.raises(MemoryEstimateError, match="use --batch-size 2 or less"):
        fast_memory.check_training(256, 3)


@pytest.mark.parametrize("height, width", [(256, 256), (640, 480), (2048, 2048), (1, 1)])
def test_apply_estimate_is_the_formula(height, width):
    # 0.9 GiB for TensorFlow, Keras and the network, and 180 float32 a pixel
    assert fast_memory.apply_bytes(height, width) == int(0.9 * 2 ** 30) + 4 * 180 * height * width


def test_apply_estimate_at_the_calibration_points():
    """The numbers of the table in benchmarks/README.md (estimate, GiB, at --size 256 and 2048)."""
    gib = 2 ** 30
    assert round(fast_memory.apply_bytes(256, 256) / gib, 2) == 0.94
    assert round(fast_memory.apply_bytes(2048, 2048) / gib, 2) == 3.71


def test_a_picture_too_large_to_apply_is_refused_with_a_size_that_fits(monkeypatch):
    need = fast_memory.apply_bytes(1024, 1024)
    monkeypatch.setenv("NST_TF_MEMORY_LIMIT_MB", str(math.ceil(need / fast_memory.HEADROOM / 2 ** 20) + 1))
    fast_memory.check_apply(1024, 1024)
    with pytest.raises(MemoryEstimateError, match=r"2048x1536 px picture needs about 3\.2 GB") as caught:
        fast_memory.check_apply(1536, 2048)
    side = int(str(caught.value).split("--size ")[1].split()[0])
    assert side % 16 == 0 and 1024 <= side < 2048  # a 4:3 picture may be longer than 1024 px in that budget
    fast_memory.check_apply(side * 3 // 4, side)  # what it names fits
