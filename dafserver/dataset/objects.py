"""Synthetic neurons: branching random-walk tubes rasterised into a label volume.

Each neuron is a tree of random walks (its skeleton) made of short capsule segments with a radius.
A voxel belongs to the neuron whose nearest segment is closest relative to that segment's radius
(a radius-weighted Voronoi partition of the tubes), provided the relative distance is below 1;
otherwise it is background (0). Tubes that come close therefore touch, as neurites do in EM.
Coordinates are in nm relative to the first voxel's corner; arrays are indexed ``[x, y, z]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dafserver.dataset.sizes import SizePreset

FloatArray = npt.NDArray[np.float64]
LabelArray = npt.NDArray[np.uint32]

THIN_FRACTION = 0.6
MAX_STEPS = 4000
MIN_STEP_NM = 200.0


@dataclass(frozen=True)
class NeuronSkeletons:
    """Capsule segments of every neuron (nm, relative to the volume origin)."""

    starts: FloatArray
    """float64[S, 3]"""
    ends: FloatArray
    """float64[S, 3]"""
    radii: FloatArray
    """float64[S]"""
    labels: LabelArray
    """uint32[S]: the neuron (1..n_neurons) each segment belongs to."""
    somata: FloatArray
    """float64[n_neurons, 3]: where each neuron's walks start."""

    @property
    def n_neurons(self) -> int:
        return int(self.somata.shape[0])


def _unit(rng: np.random.Generator, z_damping: float) -> FloatArray:
    vec = rng.normal(size=3)
    vec[2] *= z_damping
    return np.asarray(vec / np.linalg.norm(vec), dtype=np.float64)


def _walk(
    rng: np.random.Generator,
    start: FloatArray,
    direction: FloatArray,
    radius: float,
    extent: FloatArray,
    wiggle: float,
) -> FloatArray:
    """Points of one random walk from ``start`` until it leaves the volume (padded by ``radius``)."""
    step = max(radius, MIN_STEP_NM)
    points = [start]
    pos = start.copy()
    heading = direction.copy()
    for _ in range(MAX_STEPS):
        heading = heading + rng.normal(scale=wiggle, size=3)
        heading[2] *= 0.7  # neurites run mostly within the section plane
        heading /= np.linalg.norm(heading)
        pos = pos + heading * step
        points.append(pos)
        if np.any(pos < -radius) or np.any(pos > extent + radius):
            break
    return np.asarray(points, dtype=np.float64)


def generate_skeletons(preset: SizePreset, rng: np.random.Generator) -> NeuronSkeletons:
    """Random neurons until their tube volume reaches ``preset.coverage`` times the volume.

    Thin neurons are one long, fairly straight walk through their start point (axon-like); thick
    ones send 2-4 wigglier branches out of their start point, each of which may fork once
    (dendrite-like).
    """
    extent = np.asarray(preset.volume_size, dtype=np.float64) * np.asarray(preset.resolution)
    target = preset.coverage * float(np.prod(extent))
    starts: list[FloatArray] = []
    ends: list[FloatArray] = []
    radii: list[float] = []
    labels: list[int] = []
    somata: list[FloatArray] = []
    tube_volume = 0.0

    def add(points: FloatArray, radius: float, label: int) -> None:
        nonlocal tube_volume
        starts.append(points[:-1])
        ends.append(points[1:])
        n_seg = points.shape[0] - 1
        radii.extend([radius] * n_seg)
        labels.extend([label] * n_seg)
        length = float(np.linalg.norm(points[1:] - points[:-1], axis=1).sum())
        tube_volume += np.pi * radius * radius * length

    while tube_volume < target:
        label = len(somata) + 1
        soma = rng.uniform(0.05, 0.95, size=3) * extent
        somata.append(soma)
        if rng.random() < THIN_FRACTION:
            radius = float(rng.uniform(*preset.thin_radius_nm))
            heading = _unit(rng, 0.4)
            for sign in (1.0, -1.0):
                add(_walk(rng, soma, sign * heading, radius, extent, 0.15), radius, label)
            continue
        radius = float(rng.uniform(*preset.thick_radius_nm))
        for _ in range(int(rng.integers(2, 5))):
            branch = _walk(rng, soma, _unit(rng, 0.5), radius, extent, 0.3)
            add(branch, radius, label)
            if branch.shape[0] > 4 and rng.random() < 0.5:
                fork = branch[int(rng.integers(1, branch.shape[0] - 2))]
                child = 0.7 * radius
                add(_walk(rng, fork, _unit(rng, 0.5), child, extent, 0.3), child, label)
    return NeuronSkeletons(
        starts=np.concatenate(starts) if starts else np.zeros((0, 3)),
        ends=np.concatenate(ends) if ends else np.zeros((0, 3)),
        radii=np.asarray(radii, dtype=np.float64),
        labels=np.asarray(labels, dtype=np.uint32),
        somata=np.asarray(somata, dtype=np.float64).reshape(-1, 3),
    )


def rasterize_neurons(preset: SizePreset, skeletons: NeuronSkeletons) -> LabelArray:
    """The neuron label of every voxel (uint32[X, Y, Z], 0 = background).

    With ``preset.label_downsample = k`` the partition is computed on a grid k times coarser in x
    and y and each label is repeated over k x k voxels.
    """
    k = preset.label_downsample
    size = np.asarray(preset.volume_size)
    grid = np.array([-(-size[0] // k), -(-size[1] // k), size[2]])
    res = np.asarray(preset.resolution, dtype=np.float64) * np.array([k, k, 1])
    best = np.ones(tuple(grid), dtype=np.float32)  # squared relative distance of the winner
    labels = np.zeros(tuple(grid), dtype=np.uint32)
    radii = skeletons.radii[:, None]
    low = np.floor((np.minimum(skeletons.starts, skeletons.ends) - radii) / res - 0.5)
    high = np.ceil((np.maximum(skeletons.starts, skeletons.ends) + radii) / res + 0.5)
    low = np.clip(low, 0, grid).astype(np.int64)
    high = np.clip(high, 0, grid).astype(np.int64)
    for i in range(skeletons.radii.shape[0]):
        lo, hi = low[i], high[i]
        if np.any(hi <= lo):
            continue
        radius = skeletons.radii[i]
        origin = skeletons.starts[i]
        axis = ((skeletons.ends[i] - origin) / radius).astype(np.float32)
        axis_sq = max(float(axis @ axis), 1e-12)
        rel = [
            (((np.arange(lo[d], hi[d]) + 0.5) * res[d] - origin[d]) / radius).astype(np.float32)
            for d in range(3)
        ]
        x = rel[0][:, None, None]
        y = rel[1][None, :, None]
        z = rel[2][None, None, :]
        t = x * (axis[0] / axis_sq) + y * (axis[1] / axis_sq) + z * (axis[2] / axis_sq)
        np.clip(t, 0.0, 1.0, out=t)
        diff = x - t * axis[0]
        dist = diff * diff
        diff = y - t * axis[1]
        dist += diff * diff
        diff = z - t * axis[2]
        dist += diff * diff
        window = (slice(lo[0], hi[0]), slice(lo[1], hi[1]), slice(lo[2], hi[2]))
        current = best[window]
        closer = dist < current
        np.putmask(current, closer, dist)
        np.putmask(labels[window], closer, skeletons.labels[i])
    if k == 1:
        return labels
    full = np.repeat(np.repeat(labels, k, axis=0), k, axis=1)
    return np.ascontiguousarray(full[: size[0], : size[1], :])
