"""A synthetic EM image that follows the neurons: bright cytoplasm, dark membranes, grey space.

Each neuron gets its own cytoplasm brightness; every voxel whose in-plane neighbour belongs to
another label (neuron or background) is a dark membrane voxel; the extracellular background is
mid-grey. Uniform per-voxel noise and a per-section brightness offset are added on top.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

CYTOPLASM = (150, 205)
BACKGROUND = 115
MEMBRANE = 55
NOISE = 18
SECTION_JITTER = 8


def membrane_mask(labels: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """Voxels with a 4-connected in-plane neighbour of a different label."""
    edge = np.zeros(labels.shape, dtype=np.bool_)
    diff_x = labels[1:] != labels[:-1]
    edge[1:] |= diff_x
    edge[:-1] |= diff_x
    diff_y = labels[:, 1:] != labels[:, :-1]
    edge[:, 1:] |= diff_y
    edge[:, :-1] |= diff_y
    return edge


def synthetic_em(labels: npt.NDArray[np.uint32], rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """uint8[X, Y, Z] image for a neuron label volume."""
    n_labels = int(labels.max(initial=0)) + 1
    shade = rng.integers(CYTOPLASM[0], CYTOPLASM[1], size=n_labels, dtype=np.int16)
    shade[0] = BACKGROUND
    image = shade[labels]
    image[membrane_mask(labels)] = MEMBRANE
    image += rng.integers(-NOISE, NOISE + 1, size=labels.shape, dtype=np.int16)
    section = np.asarray(
        rng.integers(-SECTION_JITTER, SECTION_JITTER + 1, size=(labels.shape[2],)), dtype=np.int16
    )
    image += section[None, None, :]
    np.clip(image, 0, 255, out=image)
    return image.astype(np.uint8)
