"""Bucket-notification targets: the clients that deliver an event where the operator said.

A layer of its own below the composition root (``s3gw/server.py`` builds the targets from
the configuration and hands them to the core's sender, core/notify.py): it knows HTTP,
Redis and PostgreSQL clients, and nothing of S3 but the event's JSON.
"""

from .targets import PostgresTarget, RedisTarget, TargetSpec, WebhookTarget, make_target

__all__ = ["PostgresTarget", "RedisTarget", "TargetSpec", "WebhookTarget", "make_target"]
