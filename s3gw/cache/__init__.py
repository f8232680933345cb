"""Metadata caches: none (default), in-process (one gateway), Redis (shared by every gateway).

``CachedMeta`` puts one in front of any MetaStore; see docs/metadata.md for the
invalidation rules.
"""

from .base import Cache, NullCache, Token
from .memory import MemoryCache
from .meta import CachedMeta

__all__ = ["Cache", "CachedMeta", "MemoryCache", "NullCache", "RedisCache", "Token"]


def __getattr__(name: str):
    # redis is an optional dependency: import it only when a Redis cache is asked for
    if name == "RedisCache":
        from .rediscache import RedisCache

        return RedisCache
    raise AttributeError(name)
