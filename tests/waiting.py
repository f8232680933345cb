"""Waiting for a condition, never for a fixed time.

CI shares two cores with other work, so a background effect (a heal, a probe,
the orphan reaper, a log line, a server starting) may take many times longer
than on a quiet machine. Tests poll for the state they need with a generous
deadline and, when it never comes, fail with a message naming what never
happened and the last value seen. ``S3GW_TEST_TIMEOUT_SCALE`` stretches every
deadline further (e.g. ``3`` on a very slow machine).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

SCALE = float(os.environ.get("S3GW_TEST_TIMEOUT_SCALE", "1") or 1)
#: the default deadline: far beyond what any condition needs on a quiet machine
DEFAULT = 120.0


def deadline(seconds: float = DEFAULT) -> float:
    """A deadline ``seconds`` (scaled) from now, on the monotonic clock."""
    return time.monotonic() + seconds * SCALE


def _describe(last: Any) -> str:
    text = repr(last)
    return text if len(text) <= 500 else text[:500] + "..."


def wait_until(
    pred: Callable[[], T],
    what: str,
    timeout: float = DEFAULT,
    interval: float = 0.2,
    ignore: tuple[type[BaseException], ...] = (),
    until: Callable[[T], Any] = bool,
) -> T:
    """Call ``pred`` until ``until(value)`` holds (by default: the value is truthy); return the value.

    ``ignore``: exceptions that mean "not yet" (a server still starting, say).
    Fails with AssertionError naming ``what`` and the last value (or error).
    """
    end = deadline(timeout)
    last: Any = None
    while True:
        try:
            last = pred()
        except ignore as e:
            last = e
        else:
            if until(last):
                return last
        if time.monotonic() > end:
            raise AssertionError(
                f"timed out after {timeout * SCALE:.0f}s waiting for {what}; last seen: {_describe(last)}"
            )
        time.sleep(interval)


async def async_wait_until(
    pred: Callable[[], Awaitable[T]],
    what: str,
    timeout: float = DEFAULT,
    interval: float = 0.1,
    ignore: tuple[type[BaseException], ...] = (),
    until: Callable[[T], Any] = bool,
) -> T:
    """``wait_until`` for a coroutine predicate, without blocking the event loop."""
    end = deadline(timeout)
    last: Any = None
    while True:
        try:
            last = await pred()
        except ignore as e:
            last = e
        else:
            if until(last):
                return last
        if time.monotonic() > end:
            raise AssertionError(
                f"timed out after {timeout * SCALE:.0f}s waiting for {what}; last seen: {_describe(last)}"
            )
        await asyncio.sleep(interval)
