"""Erasure-coded storage: codecs, placement, drives (local, and remote storage
nodes in ``remote``), quorum and healing. Imports ``nodes`` only; nothing above it.

Gateway-facing API::

    storage = Storage.local(data_dir)            # 9 drives, 6+3, 1 MiB stripes
    placement = storage.new_placement(data_id)
    w = await storage.open_writer(data_id, placement)
    await w.write(chunk) ...; layout = await w.commit()   # or await w.abort()
    async for piece in storage.read(layout, offset, length): ...
    await storage.delete(layout); await storage.verify(layout); await storage.heal(layout)
"""

from .drive import Drive, LocalDrive
from .errors import InsufficientReadQuorum, InsufficientWriteQuorum, StorageError, StorageFull
from .placement import DriveRef, placement
from .storage import HealResult, Layout, ObjectWriter, Storage, shard_name

__all__ = [
    "Storage", "ObjectWriter", "Layout", "HealResult", "shard_name",
    "StorageError", "InsufficientWriteQuorum", "InsufficientReadQuorum", "StorageFull",
    "Drive", "LocalDrive", "DriveRef", "placement",
]
