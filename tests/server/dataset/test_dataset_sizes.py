"""Size presets are consistent with the volume and graph layout rules."""

from __future__ import annotations

import pytest

from dafserver.dataset.builder import graph_meta
from dafserver.dataset.sizes import PRESETS, get_preset


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_geometry_supports_every_mip(name: str) -> None:
    preset = PRESETS[name]
    factor = 2 ** (preset.n_mips - 1)
    assert preset.n_mips >= 2
    for axis in (0, 1):
        # mip k halves x and y: sizes and offsets must stay integral, chunks must be even so a
        # 2x2 block never straddles two atomic chunks
        assert preset.volume_size[axis] % factor == 0
        assert preset.voxel_offset[axis] % factor == 0
        assert preset.chunk_size[axis] % 2 == 0
    meta = graph_meta(preset)
    assert meta.chunks_per_dim == preset.chunks_per_dim
    assert meta.n_layers >= 3


def test_unknown_size_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="medium"):
        get_preset("huge")
