"""Bucket and object name rules (MinIO's, which follow AWS's bucket naming rules)."""

from __future__ import annotations

import ipaddress
import re

from .errors import InvalidBucketName, InvalidObjectName, InvalidResourceName, KeyTooLongError

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255


def check_bucket_name(name: str) -> None:
    """Raise InvalidBucketName unless ``name`` is a valid S3 bucket name.

    3-63 characters of lower-case letters, digits, dots and hyphens, starting and
    ending with a letter or digit, no adjacent dots or dot-hyphen pairs, not an
    IPv4 address (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
    """
    if not _BUCKET_RE.match(name) or ".." in name or ".-" in name or "-." in name:
        raise InvalidBucketName()
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return
    raise InvalidBucketName()


def check_object_name(key: str) -> None:
    """Raise unless ``key`` can be stored: non-empty, at most 1024 UTF-8 bytes.

    Like MinIO (which keeps objects as paths), a key with "." or ".." segments
    is XMinioInvalidResourceName, and one with an empty inner segment, a
    segment over 255 bytes or a NUL is XMinioInvalidObjectName.
    """
    if not key:
        raise InvalidObjectName("Object name cannot be empty.")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as e:
        raise InvalidObjectName("Object name contains unsupported characters.") from e
    if size > MAX_KEY_BYTES:
        raise KeyTooLongError()
    segments = key.split("/")
    if any(seg in (".", "..") for seg in segments):
        raise InvalidResourceName()
    # MinIO keeps objects as paths: an empty inner segment ("a//b"), a segment
    # over 255 bytes (a file name limit) or a NUL cannot be stored
    if (
        "\x00" in key
        or "" in segments[1:-1]
        or key.startswith("/")
        or any(len(seg.encode()) > MAX_SEGMENT_BYTES for seg in segments)
    ):
        raise InvalidObjectName("Object name contains unsupported characters.")
