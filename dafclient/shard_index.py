"""Where a chunk of a sharded precomputed scale lies: its shard file and byte range.

The ``neuroglancer_uint64_sharded_v1`` format: a chunk's key (for images, the compressed morton
code of its grid position) is hashed into a shard file and a minishard; the shard file starts with
a fixed-size index of each minishard's index (byte ranges), and a minishard index lists
``(key, offset, size)`` of its chunks, delta-encoded. Hashing uses cloud-volume's
``ShardingSpecification``; the indices are fetched as byte ranges (a few requests per batch of
chunks, in parallel) and kept, so later look-ups in the same shards fetch only the chunk data.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

RangeRequest = dict[str, Any]
"""``{"path": ..., "start": ..., "end": ...}``: a byte range of one file (cloud-files' form)."""
RangeFetch = Callable[[Sequence[RangeRequest]], list[bytes | None]]
"""Fetches byte ranges (``None`` for a missing file), in the order asked."""
K = TypeVar("K")
V = TypeVar("V")
SHARD_INDEX_CACHE = 1024
MINISHARD_INDEX_CACHE = 4096


class _Bounded(Generic[K, V]):
    """A dict that forgets its oldest entries beyond ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[K, V] = OrderedDict()

    def __contains__(self, key: K) -> bool:
        return key in self.items

    def __getitem__(self, key: K) -> V:
        return self.items[key]

    def __setitem__(self, key: K, value: V) -> None:
        self.items[key] = value
        while len(self.items) > self.size:
            self.items.popitem(last=False)


class ShardIndex:
    """Shard file and byte range of chunk keys under ``key`` (the scale's folder)."""

    def __init__(self, key: str, sharding: Mapping[str, Any]) -> None:
        from cloudvolume.datasource.precomputed.sharding import ShardingSpecification

        self.key = key
        self.sharding = dict(sharding)
        self.spec = ShardingSpecification.from_dict(self.sharding)
        self.index_bytes: int = self.spec.index_length()
        self._shards: _Bounded[str, npt.NDArray[np.uint64] | None] = _Bounded(SHARD_INDEX_CACHE)
        self._minishards: _Bounded[tuple[str, int], dict[int, tuple[int, int]]] = _Bounded(
            MINISHARD_INDEX_CACHE
        )

    def __getstate__(self) -> dict[str, Any]:
        # cloud-volume's specification holds a lambda: rebuilt from the dict after unpickling
        return {"key": self.key, "sharding": self.sharding}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["key"], state["sharding"])  # type: ignore[misc]

    def locate(self, keys: Sequence[int], fetch: RangeFetch) -> list[RangeRequest | None]:
        """The byte range of each key's data, ``None`` where the chunk is not stored."""
        places = []
        for key in keys:
            location = self.spec.compute_shard_location(key)
            path = f"{self.key}/{location.shard_number}.shard"
            places.append((path, int(location.minishard_number)))
        shards = self._shard_indices(sorted({path for path, _ in places}), fetch)
        minishards = self._minishard_indices(sorted(set(places)), shards, fetch)
        found: list[RangeRequest | None] = []
        for key, place in zip(keys, places, strict=True):
            span = minishards[place].get(int(key))
            found.append(
                None if span is None else {"path": place[0], "start": span[0], "end": span[1]}
            )
        return found

    def _shard_indices(
        self, paths: list[str], fetch: RangeFetch
    ) -> dict[str, npt.NDArray[np.uint64] | None]:
        """Each shard's minishard index ranges (absolute), ``None`` for a missing shard."""
        found = {path: self._shards[path] for path in paths if path in self._shards}
        missing = [path for path in paths if path not in found]
        requests = [{"path": path, "start": 0, "end": self.index_bytes} for path in missing]
        for path, data in zip(missing, fetch(requests), strict=True):
            ranges = None
            if data:  # no file: no shard, none of its chunks is stored
                if len(data) != self.index_bytes:
                    raise ValueError(
                        f"{path}: shard index of {len(data)} bytes, not {self.index_bytes}"
                    )
                index = np.frombuffer(data, dtype="<u8").reshape(-1, 2)
                ranges = index.astype(np.uint64) + np.uint64(self.index_bytes)
            self._shards[path] = found[path] = ranges
        return found

    def _minishard_indices(
        self,
        places: list[tuple[str, int]],
        shards: Mapping[str, npt.NDArray[np.uint64] | None],
        fetch: RangeFetch,
    ) -> dict[tuple[str, int], dict[int, tuple[int, int]]]:
        """``{key: (start, end)}`` of each minishard's chunks."""
        found: dict[tuple[str, int], dict[int, tuple[int, int]]] = {}
        wanted: list[tuple[str, int]] = []
        requests: list[RangeRequest] = []
        for path, minishard in places:
            if (path, minishard) in self._minishards:
                found[(path, minishard)] = self._minishards[(path, minishard)]
                continue
            ranges = shards[path]
            if ranges is None or ranges[minishard, 0] == ranges[minishard, 1]:
                found[(path, minishard)] = {}
                continue
            start, end = (int(v) for v in ranges[minishard])
            wanted.append((path, minishard))
            requests.append({"path": path, "start": start, "end": end})
        for place, data in zip(wanted, fetch(requests), strict=True):
            self._minishards[place] = found[place] = self._decode_minishard(data or b"")
        return found

    def _decode_minishard(self, data: bytes) -> dict[int, tuple[int, int]]:
        if self.spec.minishard_index_encoding != "raw":
            from cloudfiles import compression

            data = compression.decompress(data, self.spec.minishard_index_encoding)
        table = np.frombuffer(data, dtype="<u8").reshape(3, -1)
        keys = np.cumsum(table[0], dtype=np.uint64)
        sizes = table[2]
        gaps = table[1]
        # each chunk starts `gap` bytes after the end of the previous one (the first: after the index)
        ends = np.cumsum(gaps + sizes, dtype=np.uint64) + np.uint64(self.index_bytes)
        starts = ends - sizes
        return {
            int(k): (int(s), int(e))
            for k, s, e in zip(keys.tolist(), starts.tolist(), ends.tolist(), strict=True)
        }
