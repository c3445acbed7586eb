"""The deployment under test: where it is, its token, its datastack and the geometry of its volume.

Everything here is read over plain HTTP from the info and segmentation services, so the harness
treats an in-process server and a separate ``dafclient serve`` process the same way.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class Target:
    """A running deployment and the settings of one benchmark run."""

    base_url: str
    token: str
    datastack: str
    table: str
    watershed: str
    """Cloud path of the supervoxel (watershed) volume, as the graphene info names it."""
    lower: npt.NDArray[np.int64]
    """First voxel of the segmentation at mip 0."""
    upper: npt.NDArray[np.int64]
    """Exclusive upper voxel at mip 0."""
    timestamp: datetime
    """The one timestamp every system looks roots up at (whole seconds: cloud-volume truncates)."""
    scale: float = 1.0
    """Multiplies every workload's input count (quick checks use less than 1)."""
    unavailable: frozenset[str] = field(default_factory=frozenset)
    """Modules to treat as not installed even if they are."""

    @property
    def graphene_path(self) -> str:
        """The ``graphene://`` path of the datastack's segmentation."""
        return f"graphene://{self.base_url}/segmentation/table/{self.table}"

    @property
    def roots_binary_url(self) -> str:
        return f"{self.base_url}/segmentation/api/v1/table/{self.table}/roots_binary"

    def root_url(self, supervoxel_id: int) -> str:
        return f"{self.base_url}/segmentation/api/v1/table/{self.table}/node/{supervoxel_id}/root"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def epoch(self) -> float:
        return self.timestamp.timestamp()

    def count(self, n: int) -> int:
        """``n`` scaled by :attr:`scale` (at least 1)."""
        return max(1, round(n * self.scale))

    def installed(self, module: str) -> bool:
        """Whether ``module`` can be imported (and is not listed as unavailable)."""
        return module not in self.unavailable and importlib.util.find_spec(module) is not None


def discover_target(
    base_url: str,
    token: str,
    datastack: str,
    *,
    scale: float = 1.0,
    unavailable: frozenset[str] = frozenset(),
) -> Target:
    """Read the datastack's table and the volume's geometry from the deployment."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
        record = http.get(f"/info/api/v2/datastack/full/{datastack}")
        record.raise_for_status()
        source: str = record.json()["segmentation_source"]
        table = source.rstrip("/").rsplit("/", 1)[-1]
        info = http.get(f"/segmentation/table/{table}/info")
        info.raise_for_status()
        graphene = info.json()
    scale0 = graphene["scales"][0]
    lower = np.asarray(scale0["voxel_offset"], dtype=np.int64)
    now = datetime.now(UTC).replace(microsecond=0)
    return Target(
        base_url=base_url,
        token=token,
        datastack=datastack,
        table=table,
        watershed=graphene["data_dir"],
        lower=lower,
        upper=lower + np.asarray(scale0["size"], dtype=np.int64),
        timestamp=now,
        scale=scale,
        unavailable=unavailable,
    )
