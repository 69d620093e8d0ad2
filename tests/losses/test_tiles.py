"""The bounded-memory path's tiling on its own (no network): what the quick loop keeps of
test_highres.py::test_one_tile_is_the_whole_picture, which also runs both paths on one tile (full suite)."""

from __future__ import annotations

import pytest

from nst_tf.losses.highres import axis_tiles


@pytest.mark.parametrize("length", [1, 13, 112, 136, 512])
def test_an_axis_no_longer_than_a_tile_is_one_tile_with_no_halo(length):
    assert axis_tiles(length, 512, 8, 32) == [(0, length, 0, length)]


def test_one_pixel_more_than_a_tile_makes_two_tiles_with_halos():
    tiles = axis_tiles(513, 512, 8, 32)
    assert len(tiles) == 2
    (a, b, a0, b0), (c, d, c0, d0) = tiles
    assert (a, a0, d, d0) == (0, 0, 513, 513) and b == c and b % 8 == 0
    assert b0 == min(513, b + 32) and c0 == c - 32
