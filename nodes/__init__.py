"""Storage node package: the shard store of one drive (``shardstore``) and the node
daemon that serves a node's drives over HTTP (``server``). Never imports ``s3gw``."""

from .bitrot import DEFAULT_ALGO, algorithm
from .errors import (
    ChecksumMismatch,
    DiskFull,
    DriveError,
    InvalidShardName,
    NodeError,
    ShardNotFound,
    UnsupportedHash,
)
from .shardstore import Capacity, ShardStat, ShardStore, ShardWriter, validate_name

__all__ = [
    "DEFAULT_ALGO",
    "algorithm",
    "NodeError",
    "InvalidShardName",
    "ShardNotFound",
    "ChecksumMismatch",
    "DiskFull",
    "DriveError",
    "UnsupportedHash",
    "Capacity",
    "ShardStat",
    "ShardStore",
    "ShardWriter",
    "validate_name",
]
