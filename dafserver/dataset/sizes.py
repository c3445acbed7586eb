"""Size presets of the synthetic dataset.

A preset fixes the geometry (volume, atomic chunk, resolution, mips), the density of the synthetic
neurons, the supervoxel grain and the number of annotation rows. Everything else follows from the
seed.
"""

from __future__ import annotations

from dataclasses import dataclass

Vec3i = tuple[int, int, int]
Vec3f = tuple[float, float, float]


@dataclass(frozen=True)
class SizePreset:
    """Parameters of one dataset size."""

    name: str
    volume_size: Vec3i
    """Voxels at mip 0."""
    chunk_size: Vec3i
    """The atomic chunk of the graph, voxels at mip 0 (also the precomputed chunk at mip 0)."""
    voxel_offset: Vec3i
    """Voxel coordinates of the first voxel; even in x and y so every mip has an integer offset."""
    resolution: Vec3f = (8.0, 8.0, 40.0)
    n_mips: int = 2
    """Mips written for both volumes; mip k is downsampled by (2**k, 2**k, 1)."""
    coverage: float = 1.6
    """Total tube volume of the neurons as a multiple of the volume (more = denser packing)."""
    thin_radius_nm: tuple[float, float] = (50.0, 90.0)
    """Radius range of thin (axon-like) neurons; 60 % of the neurons are thin."""
    thick_radius_nm: tuple[float, float] = (120.0, 260.0)
    """Radius range of thick (dendrite-like) neurons."""
    label_downsample: int = 1
    """Neurons are rasterised at (k, k, 1) coarser xy resolution and upsampled (speed)."""
    supervoxel_spacing: Vec3i = (8, 8, 4)
    """Spacing in voxels of the jittered grid of supervoxel seeds (about the supervoxel size)."""
    n_synapses: int = 500
    func_coreg_fraction: float = 0.5
    """Fraction of the neurons that get a ``microns_func_coreg`` row."""

    @property
    def chunks_per_dim(self) -> Vec3i:
        """Number of atomic chunks along x, y and z (partial chunks count)."""
        return (
            -(-self.volume_size[0] // self.chunk_size[0]),
            -(-self.volume_size[1] // self.chunk_size[1]),
            -(-self.volume_size[2] // self.chunk_size[2]),
        )

    @property
    def n_voxels(self) -> int:
        """Voxels at mip 0."""
        return self.volume_size[0] * self.volume_size[1] * self.volume_size[2]


PRESETS: dict[str, SizePreset] = {
    # For unit tests: builds in well under a second before the graph build.
    "tiny": SizePreset(
        name="tiny",
        volume_size=(128, 128, 32),
        chunk_size=(32, 32, 16),
        voxel_offset=(64, 32, 8),
        supervoxel_spacing=(8, 8, 4),
        thin_radius_nm=(40.0, 70.0),
        thick_radius_nm=(80.0, 150.0),
        n_synapses=200,
    ),
    # For integration tests and the demo: a few dozen neurons, ~10^4 supervoxels.
    "small": SizePreset(
        name="small",
        volume_size=(256, 256, 64),
        chunk_size=(64, 64, 32),
        voxel_offset=(1024, 512, 16),
        n_mips=3,
        supervoxel_spacing=(8, 8, 4),
        n_synapses=2_000,
    ),
    # For benchmarks: >= 10^6 supervoxels and >= 10^5 synapses.
    "medium": SizePreset(
        name="medium",
        volume_size=(1024, 1024, 64),
        chunk_size=(64, 64, 32),
        voxel_offset=(1024, 512, 16),
        n_mips=3,
        label_downsample=2,
        supervoxel_spacing=(5, 5, 4),
        n_synapses=120_000,
    ),
}


def get_preset(size: str) -> SizePreset:
    """The preset called ``size``; ``ValueError`` names the known ones otherwise."""
    try:
        return PRESETS[size]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise ValueError(f"unknown dataset size {size!r} (known: {known})") from None
