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
"""

from __future__ import annotations

import re

from .errors import InvalidRange

_NUM = re.compile(r"^\d+$")


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
    spec = header[len("bytes="):]
    first, sep, last = spec.partition("-")
    if not sep or (first and not _NUM.match(first)) or (last and not _NUM.match(last)):
        return None
    if first and last:
        start, end = int(first), int(last)
        if start > end:
            raise InvalidRange(ActualObjectSize=str(size))
    elif first:
        start, end = int(first), size - 1
    elif last:
        n = int(last)
        if n == 0:
            raise InvalidRange(ActualObjectSize=str(size))
        n = min(n, size)
        return size - n, n
    else:
        return None
    if start >= size:
        raise InvalidRange(ActualObjectSize=str(size))
    end = min(end, size - 1)
    return start, end - start + 1
