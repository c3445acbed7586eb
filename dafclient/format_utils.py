"""Cloud paths reformatted for their consumer: ``raw``, ``cloudvolume``, ``neuroglancer``, or
``cave_explorer`` (also spelled ``cave-explorer`` and ``spelunker``, as in CAVEclient).

A source is a layer format prefix (``precomputed://``, ``graphene://``, or none) and a location
(``gs://bucket/path``, ``s3://bucket/path``, ``https://host/path``, ``file:///path``). CloudVolume
is given https URLs for public buckets (no cloud credentials needed); Neuroglancer is given the
bucket-style form. Buckets and hosts are always kept.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from dafclient.errors import InputError

FormatFor = Literal[
    "raw", "cloudvolume", "neuroglancer", "cave_explorer", "cave-explorer", "spelunker"
]
_CAVE_EXPLORER = ("cave_explorer", "cave-explorer", "spelunker")

_GCS_HOST = "storage.googleapis.com"
_S3_HOST = "s3.amazonaws.com"
_LAYER_PREFIXES = ("precomputed", "graphene", "n5", "zarr", "zarr2", "zarr3")


def split_source(source: str) -> tuple[str | None, str]:
    """(layer format or None, location) of a source path."""
    for layer in _LAYER_PREFIXES:
        prefix = f"{layer}://"
        if source.startswith(prefix):
            return layer, source[len(prefix) :]
    return None, source


def _bucket_to_https(location: str) -> str:
    parts = urlsplit(location)
    if parts.scheme == "gs":
        return f"https://{_GCS_HOST}/{parts.netloc}{parts.path}"
    if parts.scheme == "s3":
        return f"https://{_S3_HOST}/{parts.netloc}{parts.path}"
    return location


def _https_to_bucket(location: str) -> str:
    parts = urlsplit(location)
    if parts.scheme in {"http", "https"} and parts.hostname in {_GCS_HOST, _S3_HOST}:
        bucket, _, path = parts.path.lstrip("/").partition("/")
        scheme = "gs" if parts.hostname == _GCS_HOST else "s3"
        return f"{scheme}://{bucket}/{path}" if path else f"{scheme}://{bucket}"
    return location


def _strip_middleauth(location: str) -> str:
    return location.removeprefix("middleauth+")


def format_source(
    source: str | None, format_for: FormatFor | str = "raw", *, default_layer: str = "precomputed"
) -> str | None:
    """``source`` formatted for ``format_for``; ``None`` stays ``None``.

    ``default_layer`` is the layer format assumed when the path has no prefix.
    """
    if source is None or format_for == "raw":
        return source
    if format_for not in ("cloudvolume", "neuroglancer", *_CAVE_EXPLORER):
        raise InputError(
            "format_for must be 'raw', 'cloudvolume', 'neuroglancer' or 'cave_explorer' "
            f"('cave-explorer', 'spelunker'), got {format_for!r}"
        )
    layer, location = split_source(source)
    layer = layer or default_layer
    if format_for in _CAVE_EXPLORER:
        # CAVE Explorer (Spelunker) reads graphene sources through middle_auth.
        if layer == "graphene":
            return f"graphene://middleauth+{_strip_middleauth(location)}"
        format_for = "neuroglancer"
    if layer == "graphene":
        if format_for == "cloudvolume":
            location = _strip_middleauth(location)
        return f"graphene://{location}"
    if format_for == "cloudvolume":
        return f"{layer}://{_bucket_to_https(_strip_middleauth(location))}"
    return f"{layer}://{_https_to_bucket(location)}"


def table_id_from_source(segmentation_source: str) -> str:
    """The chunkedgraph table id: the last path element of a graphene source."""
    return segmentation_source.rstrip("/").rsplit("/", 1)[-1]
