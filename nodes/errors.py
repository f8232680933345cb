"""The node error vocabulary.

These are the only errors a shard store (in-process, or behind the node
daemon) reports. ``s3gw.storage`` turns them into its own vocabulary at its
boundary (see ``s3gw/storage/errors.py``); nothing above storage sees them.
"""

from __future__ import annotations


class NodeError(Exception):
    """Base of every node-level error."""

    code = "NodeError"


class InvalidShardName(NodeError, ValueError):
    """A shard name that could escape the drive or is otherwise malformed."""

    code = "InvalidShardName"


class ShardNotFound(NodeError):
    """No committed shard of that name on this drive."""

    code = "ShardNotFound"


class ChecksumMismatch(NodeError):
    """Bitrot: a block's bytes do not match its hash, or the file is malformed
    (bad header, truncated frame, header that does not match what was asked)."""

    code = "ChecksumMismatch"


class DiskFull(NodeError):
    """The drive has no room (ENOSPC/EDQUOT, or below its free-space reserve)."""

    code = "DiskFull"


class DriveError(NodeError):
    """The drive itself is unusable: missing root, wrong drive, I/O error."""

    code = "DriveError"


class UnsupportedHash(NodeError):
    """The shard's bitrot hash algorithm is not available in this process."""

    code = "UnsupportedHash"


#: code -> class, so a remote client can rebuild the error from its code.
ERRORS_BY_CODE: dict[str, type[NodeError]] = {
    cls.code: cls
    for cls in (NodeError, InvalidShardName, ShardNotFound, ChecksumMismatch, DiskFull, DriveError, UnsupportedHash)
}
