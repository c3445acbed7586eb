"""ImageryClient: aligned cutouts of a datastack's EM imagery and segmentation.

Bounds are ``[[x0, y0, z0], [x1, y1, z1]]`` in voxels of a *base resolution* (nm per voxel; by
default the image's mip-0 resolution): the lower corner is **inclusive** and the upper corner
**exclusive**, as in numpy slicing and cloud-volume. On a volume's mip grid the box becomes
``floor(lower * base / res)`` to ``ceil(upper * base / res)``, so the cutout covers every voxel
the box touches. Cutouts are ``[X, Y, Z]`` arrays; no axis is squeezed.

Segmentation cutouts read the supervoxels (the watershed layer of a chunkedgraph source, never
cloud-volume's per-voxel agglomeration) and map the distinct supervoxels to their roots with one
batched ``get_roots`` request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from dafclient.chunked_reads import resolution_triple
from dafclient.errors import InputError
from dafclient.ids import IdArray, as_id_array
from dafclient.timestamps import TimestampLike

if TYPE_CHECKING:
    from dafclient.framework import FrameworkClient

Which: TypeAlias = Literal["image", "segmentation"]
RootSelection: TypeAlias = Literal["all"] | Sequence[int] | npt.NDArray[np.integer[Any]] | None
Masks: TypeAlias = dict[int, npt.NDArray[np.bool_]]
ResolutionLike: TypeAlias = Sequence[float] | npt.NDArray[Any]
"""nm per voxel along x, y, z."""


@dataclass(frozen=True)
class MipBox:
    """A box on one mip's voxel grid: ``lower <= v < upper``."""

    mip: int
    lower: npt.NDArray[np.int64]
    upper: npt.NDArray[np.int64]

    @property
    def shape(self) -> tuple[int, int, int]:
        size = self.upper - self.lower
        return (int(size[0]), int(size[1]), int(size[2]))


class ImageryClient:
    """Cutouts of a datastack's imagery and segmentation, in voxels of one base resolution.

    Made by :meth:`FrameworkClient.make_imagery_client`.

    Args:
        client: the framework client (its info and chunkedgraph services are used).
        image_mip: default mip of image cutouts.
        segmentation_mip: default mip of segmentation cutouts (default: the segmentation mip with
            the resolution of ``image_mip``, else 0).
        base_resolution: nm per voxel of the bounds: three numbers, or ``"image"`` /
            ``"segmentation"`` for that volume's mip-0 resolution (default ``"image"``).
        timestamp: when to look up roots (default: now, at each call).
        image_source: a cloud path to read instead of the datastack's imagery.
        segmentation_source: a cloud path to read instead of the datastack's segmentation.
    """

    def __init__(
        self,
        client: FrameworkClient,
        *,
        image_mip: int = 0,
        segmentation_mip: int | None = None,
        base_resolution: Sequence[float] | npt.ArrayLike | str | None = None,
        timestamp: TimestampLike | None = None,
        image_source: str | None = None,
        segmentation_source: str | None = None,
    ) -> None:
        self._client = client
        self.image_mip = int(image_mip)
        self._segmentation_mip = None if segmentation_mip is None else int(segmentation_mip)
        self._base_spec = "image" if base_resolution is None else base_resolution
        self._base: npt.NDArray[np.float64] | None = None
        self.timestamp = timestamp
        self._sources: dict[Which, str | None] = {
            "image": image_source,
            "segmentation": segmentation_source,
        }
        self._volumes: dict[tuple[Which, int], Any] = {}

    # -- volumes and resolutions ---------------------------------------------------------
    def volume(self, which: Which, mip: int = 0) -> Any:
        """The ``CloudVolume`` of ``"image"`` or ``"segmentation"`` reading ``mip`` (created once;
        cloud-volume checks bounds against its own mip, so there is one per mip)."""
        key = (which, int(mip))
        if key not in self._volumes:
            source = self._sources[which]
            if source is not None:
                from dafclient.cloudvolumes import make_cloudvolume

                cv = make_cloudvolume(source, self._client._ctx, mip=int(mip))
            elif which == "image":
                cv = self._client.info.image_cloudvolume(mip=int(mip))
            else:
                cv = self._client.info.segmentation_cloudvolume(mip=int(mip))
            self._volumes[key] = cv
        return self._volumes[key]

    def mip_resolutions(self, which: Which) -> dict[int, tuple[float, float, float]]:
        """``{mip: (x, y, z) nm}`` of the available mips of a volume."""
        cv = self.volume(which)
        return {int(m): _triple(cv.mip_resolution(m)) for m in cv.available_mips}

    def resolution_to_mip(self, which: Which, resolution: ResolutionLike) -> int:
        """The mip of a volume with exactly ``resolution`` nm per voxel."""
        wanted = resolution_triple(resolution, "resolution")
        for mip, res in self.mip_resolutions(which).items():
            if np.allclose(res, wanted):
                return mip
        raise InputError(
            f"the {which} volume has no mip at {wanted.tolist()} nm",
            [f"mip {m}: {list(r)} nm" for m, r in self.mip_resolutions(which).items()],
        )

    @property
    def segmentation_mip(self) -> int:
        """Default segmentation mip."""
        if self._segmentation_mip is None:
            image_res = self.volume("image").mip_resolution(self.image_mip)
            try:
                self._segmentation_mip = self.resolution_to_mip("segmentation", image_res)
            except InputError:
                self._segmentation_mip = 0
        return self._segmentation_mip

    @property
    def base_resolution(self) -> npt.NDArray[np.float64]:
        """nm per voxel of the bounds."""
        if self._base is None:
            spec = self._base_spec
            if isinstance(spec, str):
                if spec not in ("image", "segmentation"):
                    raise InputError(
                        f"base_resolution must be 3 numbers, 'image' or 'segmentation', "
                        f"got {spec!r}"
                    )
                which: Which = "image" if spec == "image" else "segmentation"
                self._base = resolution_triple(self.volume(which).mip_resolution(0), "resolution")
            else:
                self._base = resolution_triple(spec, "base_resolution")
        return self._base

    # -- cutouts -------------------------------------------------------------------------
    def image_cutout(
        self,
        bounds: Any,
        mip: int | None = None,
        resolution: ResolutionLike | None = None,
        *,
        base_resolution: ResolutionLike | None = None,
    ) -> npt.NDArray[np.uint8]:
        """The image (``[X, Y, Z]``) inside ``bounds``.

        The mip is ``mip``, or the one at ``resolution`` nm, or the client's ``image_mip``.
        ``base_resolution`` overrides the client's for this call.
        """
        m = self._mip("image", mip, resolution, self.image_mip)
        box = self._box("image", bounds, m, base_resolution)
        image: npt.NDArray[np.uint8] = self._read("image", box)
        return image

    def segmentation_cutout(
        self,
        bounds: Any,
        root_ids: RootSelection = "all",
        supervoxels: bool = False,
        timestamp: TimestampLike | None = None,
        mip: int | None = None,
        resolution: ResolutionLike | None = None,
        *,
        base_resolution: ResolutionLike | None = None,
    ) -> IdArray:
        """Root ids (uint64, ``[X, Y, Z]``) inside ``bounds`` at ``timestamp``.

        ``root_ids``: ``"all"`` keeps every object; a list keeps only those roots (other voxels
        become 0); ``None`` is ``"all"``. ``supervoxels=True`` gives supervoxel ids instead of
        roots (still filtered by ``root_ids``). For a segmentation without chunkedgraph the
        labels are the roots.
        """
        m = self._mip("segmentation", mip, resolution, self.segmentation_mip)
        box = self._box("segmentation", bounds, m, base_resolution)
        return self._segmentation(box, root_ids, supervoxels, timestamp)

    def split_segmentation_cutout(
        self,
        bounds: Any,
        root_ids: RootSelection = "all",
        include_null_root: bool = False,
        timestamp: TimestampLike | None = None,
        mip: int | None = None,
        resolution: ResolutionLike | None = None,
        *,
        base_resolution: ResolutionLike | None = None,
    ) -> Masks:
        """``{root_id: boolean mask}`` of the objects inside ``bounds``.

        With ``root_ids="all"`` every object present gets a mask (root 0 only with
        ``include_null_root``); a listed root absent from the cutout gets an all-False mask.
        """
        seg = self.segmentation_cutout(
            bounds, root_ids, False, timestamp, mip, resolution, base_resolution=base_resolution
        )
        return split_masks(seg, root_ids, include_null_root)

    def image_and_segmentation_cutout(
        self,
        bounds: Any,
        image_mip: int | None = None,
        segmentation_mip: int | None = None,
        root_ids: RootSelection = "all",
        supervoxels: bool = False,
        timestamp: TimestampLike | None = None,
        *,
        base_resolution: ResolutionLike | None = None,
    ) -> tuple[npt.NDArray[np.uint8], IdArray]:
        """``(image, segmentation)`` on the image's voxel grid, of equal shapes.

        When the segmentation mip has another resolution than the image mip, the segmentation is
        read over the same region and resampled by nearest neighbour (integer upsampling by
        repetition, downsampling by striding); the resolution ratio must be an integer or the
        inverse of one on every axis.
        """
        im = self.image_mip if image_mip is None else int(image_mip)
        sm = self.segmentation_mip if segmentation_mip is None else int(segmentation_mip)
        image_box = self._box("image", bounds, im, base_resolution)
        image: npt.NDArray[np.uint8] = self._read("image", image_box)
        image_res = self._mip_resolution("image", im)
        seg_res = self._mip_resolution("segmentation", sm)
        up, down = _ratios(seg_res, image_res)
        # the segmentation box covering the image box, on the segmentation's grid
        seg_lower = (image_box.lower * down) // up
        seg_upper = -((-image_box.upper * down) // up)
        seg_box = MipBox(sm, seg_lower, seg_upper)
        self._check_inside("segmentation", seg_box, bounds)
        seg = self._segmentation(seg_box, root_ids, supervoxels, timestamp)
        for axis in range(3):
            if up[axis] > 1:
                seg = np.repeat(seg, int(up[axis]), axis=axis)
            elif down[axis] > 1:
                seg = seg[(slice(None),) * axis + (slice(None, None, int(down[axis])),)]
        start = image_box.lower - seg_lower * up // down
        crop = tuple(slice(int(s), int(s) + n) for s, n in zip(start, image.shape, strict=True))
        aligned: IdArray = np.ascontiguousarray(seg[crop])
        return image, aligned

    # -- internals -----------------------------------------------------------------------
    def _mip(
        self, which: Which, mip: int | None, resolution: ResolutionLike | None, default: int
    ) -> int:
        if mip is not None and resolution is not None:
            by_res = self.resolution_to_mip(which, resolution)
            if by_res != int(mip):
                raise InputError(f"mip={mip} and resolution={list(resolution)} disagree")
        if mip is not None:
            return int(mip)
        if resolution is not None:
            return self.resolution_to_mip(which, resolution)
        return default

    def _mip_resolution(self, which: Which, mip: int) -> npt.NDArray[np.float64]:
        cv = self.volume(which)
        if mip not in [int(m) for m in cv.available_mips]:
            raise InputError(
                f"the {which} volume has no mip {mip}",
                [f"available mips: {sorted(int(m) for m in cv.available_mips)}"],
            )
        return np.asarray(cv.mip_resolution(mip), dtype=np.float64)

    def _box(
        self, which: Which, bounds: Any, mip: int, base_resolution: ResolutionLike | None
    ) -> MipBox:
        lower, upper = as_bounds(bounds)
        base = (
            self.base_resolution
            if base_resolution is None
            else resolution_triple(base_resolution, "base_resolution")
        )
        res = self._mip_resolution(which, mip)
        box = MipBox(
            mip,
            _floor_int(lower * base / res),
            _ceil_int(upper * base / res),
        )
        self._check_inside(which, box, bounds)
        return box

    def _check_inside(self, which: Which, box: MipBox, bounds: Any) -> None:
        volume_bounds = self.volume(which).meta.bounds(box.mip)
        lo = np.asarray(volume_bounds.minpt, dtype=np.int64)
        hi = np.asarray(volume_bounds.maxpt, dtype=np.int64)
        if (box.lower < lo).any() or (box.upper > hi).any():
            raise InputError(
                f"bounds {np.asarray(bounds).tolist()} fall outside the {which} volume",
                [
                    f"at mip {box.mip} they cover {box.lower.tolist()} to {box.upper.tolist()}"
                    f" voxels; the volume spans {lo.tolist()} to {hi.tolist()}"
                ],
            )

    def _read(self, which: Which, box: MipBox) -> npt.NDArray[Any]:
        from cloudvolume import Bbox

        cv = self.volume(which, box.mip)
        options = {"agglomerate": False} if which == "segmentation" and _is_graphene(cv) else {}
        bbox = Bbox(box.lower.tolist(), box.upper.tolist())
        block: npt.NDArray[Any] = np.asarray(cv.download(bbox, mip=box.mip, **options))
        return block[..., 0] if block.ndim == 4 else block

    def _segmentation(
        self,
        box: MipBox,
        root_ids: RootSelection,
        supervoxels: bool,
        timestamp: TimestampLike | None,
    ) -> IdArray:
        keep = _selection(root_ids)
        labels = self._read("segmentation", box).astype(np.uint64, copy=False)
        graphene = _is_graphene(self.volume("segmentation", box.mip))
        if not graphene:  # flat: labels are roots
            if keep is None:
                return np.ascontiguousarray(labels)
            flat: IdArray = np.where(np.isin(labels, keep), labels, np.uint64(0))
            return flat
        if supervoxels and keep is None:
            return np.ascontiguousarray(labels)
        codes, unique = _factorize(labels)
        roots = np.zeros(unique.shape, dtype=np.uint64)
        nonzero = unique != 0
        if nonzero.any():
            ts = self.timestamp if timestamp is None else timestamp
            roots[nonzero] = self._client.chunkedgraph.get_roots(unique[nonzero], timestamp=ts)
        values = unique if supervoxels else roots
        if keep is not None:
            values = np.where(np.isin(roots, keep), values, np.uint64(0))
        out: IdArray = values[codes.reshape(labels.shape)]
        return out


def split_masks(
    segmentation: IdArray, root_ids: RootSelection = "all", include_null_root: bool = False
) -> Masks:
    """``{id: segmentation == id}`` for the ids present (or listed), in one pass over the voxels.

    The voxels are grouped by id once (a stable sort of compact per-voxel indices, a radix sort
    for up to 65536 ids), then each mask is filled from its group, so the cost is one sort plus
    one write per voxel, whatever the number of objects.
    """
    keep = _selection(root_ids)
    codes, unique = _factorize(segmentation)
    compact = codes.astype(np.uint16) if len(unique) <= 1 << 16 else codes
    order = np.argsort(compact, kind="stable")
    counts = np.bincount(codes, minlength=len(unique))
    ends = np.cumsum(counts)
    starts = ends - counts
    wanted = sorted(unique.tolist()) if keep is None else keep.tolist()
    position = {int(u): k for k, u in enumerate(unique.tolist())}
    masks: Masks = {}
    for root in wanted:
        if root == 0 and not include_null_root:
            continue
        mask = np.zeros(segmentation.size, dtype=np.bool_)
        k = position.get(int(root))
        if k is not None:
            mask[order[starts[k] : ends[k]]] = True
        masks[int(root)] = mask.reshape(segmentation.shape)
    return masks


def _factorize(labels: npt.NDArray[Any]) -> tuple[npt.NDArray[np.intp], IdArray]:
    """``(codes, unique)`` with ``labels.ravel() == unique[codes]`` (a hash pass, no sort)."""
    codes, unique = pd.factorize(labels.ravel())
    return np.asarray(codes, dtype=np.intp), np.asarray(unique, dtype=np.uint64)


def as_bounds(bounds: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(lower, upper)`` of ``[[x0, y0, z0], [x1, y1, z1]]``; :class:`InputError` if malformed."""
    try:
        array = np.asarray(bounds, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"bounds must be [[x0, y0, z0], [x1, y1, z1]], got {bounds!r}") from exc
    if array.shape != (2, 3):
        raise InputError(
            "bounds must be [[x0, y0, z0], [x1, y1, z1]]",
            [f"got an array of shape {array.shape}: {bounds!r}"],
        )
    if not np.isfinite(array).all():
        raise InputError("bounds must be finite numbers", [f"got {array.tolist()}"])
    lower, upper = array[0], array[1]
    if (lower >= upper).any():
        axes = [name for name, bad in zip("xyz", lower >= upper, strict=True) if bad]
        raise InputError(
            "bounds must have lower < upper on every axis (upper is exclusive)",
            [f"axis {a}: {lower['xyz'.index(a)]:g} >= {upper['xyz'.index(a)]:g}" for a in axes],
        )
    return lower, upper


def _selection(root_ids: RootSelection) -> IdArray | None:
    if root_ids is None:
        return None
    if isinstance(root_ids, str):
        if root_ids == "all":
            return None
        raise InputError(f"root_ids must be 'all', None or a list of ids, got {root_ids!r}")
    return as_id_array(root_ids, name="root_ids")


def _ratios(
    coarse: npt.NDArray[np.float64], fine: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per axis ``(up, down)``: ``coarse / fine == up / down`` with one of them 1."""
    up = np.ones(3, dtype=np.int64)
    down = np.ones(3, dtype=np.int64)
    for axis in range(3):
        ratio = coarse[axis] / fine[axis]
        if ratio >= 1 and np.isclose(ratio, round(ratio)):
            up[axis] = round(ratio)
        elif ratio < 1 and np.isclose(1 / ratio, round(1 / ratio)):
            down[axis] = round(1 / ratio)
        else:
            raise InputError(
                "segmentation and image resolutions are not integer multiples",
                [f"segmentation {coarse.tolist()} nm, image {fine.tolist()} nm"],
            )
    return up, down


def _triple(value: Any) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in value)
    return (x, y, z)


def _floor_int(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    # tolerate float noise from the resolution ratio (e.g. 3 * 40 / 40)
    return np.floor(np.round(values, 9)).astype(np.int64)


def _ceil_int(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    return np.ceil(np.round(values, 9)).astype(np.int64)


def _is_graphene(cv: Any) -> bool:
    return bool(cv.meta.path.format == "graphene")
