"""Erasure-coded storage: codecs, placement, drives (local, and remote storage
nodes in ``remote``), quorum and healing. Imports ``nodes`` only; nothing above it.

Gateway-facing API::

    storage = Storage.local(data_dir)            # 9 drives, 6+3, 1 MiB stripes
    placement = storage.new_placement(data_id)
    w = await storage.open_writer(data_id, placement)
    await w.write(chunk) ...; shards = await w.commit()   # a ShardSet, or await w.abort()
    async for piece in storage.read(shards, offset, length): ...
    await storage.delete(shards); await storage.verify(shards); await storage.heal(shards)

The shard set (``ShardSet``: geometry, placement, missing shards) is a stored
record shared with the metadata layer: s3gw/common/records.py.
"""

from .drive import Drive, LocalDrive
from .errors import InsufficientReadQuorum, InsufficientWriteQuorum, StorageError, StorageFull
from .placement import DriveRef, placement
from .storage import HealResult, ObjectWriter, Storage, shard_name

__all__ = [
    "Storage",
    "ObjectWriter",
    "HealResult",
    "shard_name",
    "StorageError",
    "InsufficientWriteQuorum",
    "InsufficientReadQuorum",
    "StorageFull",
    "Drive",
    "LocalDrive",
    "DriveRef",
    "placement",
]
