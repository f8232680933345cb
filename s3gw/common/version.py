"""The version of s3gw: one string, ``version`` in pyproject.toml, read from the installed package's metadata.

Used by the banner, the ``s3gw_build_info`` metric and the MinIO admin API's
server info (``mc admin info``). A source tree that was never installed (no
metadata) says ``0+unknown`` rather than guess.
"""

from __future__ import annotations

from importlib import metadata


def package_version(name: str = "s3gw") -> str:
    """The installed distribution's version (``0+unknown`` when it is not installed)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "0+unknown"


VERSION = package_version()
