"""HTTP Range for S3 GET: one byte range, parsed the way MinIO parses it.

>>> parse_range("bytes=0-9", 100)
(0, 10)
>>> parse_range("bytes=90-", 100)
(90, 10)
>>> parse_range("bytes=-5", 100)
(95, 5)
>>> parse_range("bytes=50-1000", 100)
(50, 50)
>>> parse_range("bytes=-500", 100)
(0, 100)
>>> parse_range("items=0-1", 100) is None
True

Positions are Go's int64 in ASCII digits, as MinIO parses them (strconv.ParseInt):
other scripts' digits, signs and numbers past 2**63-1 do not parse, so the
header is ignored:

>>> parse_range("bytes=0-" + "9" * 5000, 100) is None, parse_range("bytes=١-٢", 100) is None
(True, True)
"""

from __future__ import annotations

from ..common.numbers import parse_uint
from .errors import InvalidRange


def _position(text: str) -> int | None:
    try:
        return parse_uint(text)
    except ValueError:
        return None


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(offset, length) for a Range header on an object of ``size`` bytes.

    None means "serve the whole object": no header, or one that does not parse
    (multi-range, a sign, garbage) — MinIO and AWS ignore those and answer 200.
    A range that parses but cannot be satisfied raises InvalidRange (416):
    first > last ("bytes=5-2"), a zero suffix ("bytes=-0"), or a first byte at
    or past the end of the object.
    """
    if not header or not header.startswith("bytes="):
        return None
    spec = header[len("bytes=") :]
    first, sep, last = spec.partition("-")
    start_, end_ = _position(first) if first else -1, _position(last) if last else -1
    if not sep or start_ is None or end_ is None:
        return None
    if first and last:
        start, end = start_, end_
        if start > end:
            raise InvalidRange(object_size=size)
    elif first:
        start, end = start_, size - 1
    elif last:
        n = end_
        if n == 0:
            raise InvalidRange(object_size=size)
        n = min(n, size)
        return size - n, n
    else:
        return None
    if start >= size:
        raise InvalidRange(object_size=size)
    end = min(end, size - 1)
    return start, end - start + 1
