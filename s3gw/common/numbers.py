"""Numbers from the wire: ASCII digits only, bounded, never a crash.

Python's ``int()`` is far more forgiving than any S3 server: it takes other
scripts' digits (``int("١٢") == 12``), superscripts pass ``str.isdigit()``
and then fail (``"²"``), it accepts ``" 12 "``, ``"+12"`` and ``"1_2"``, and
past 4300 digits it raises instead of parsing. MinIO parses with Go's
``strconv.ParseInt``: ASCII digits, a 64-bit range. Every number a request
carries (query parameters, headers, XML elements, node protocol fields) goes
through ``parse_uint``, so a hostile value is a clean ``ValueError`` that the
caller turns into the S3 error MinIO gives, never an InternalError.
"""

from __future__ import annotations

import math
import re

INT64_MAX = 2**63 - 1
#: longest text looked at: a number is at most 19 digits; leading zeros beyond this are refused
MAX_TEXT = 64

_DIGITS = re.compile(r"[0-9]+")  # a literal class: ASCII only (\d would take any script's digits)
_SIGNED = re.compile(r"[+-]?[0-9]+")


def is_uint(text: object) -> bool:
    """Whether ``text`` is a plain run of ASCII digits (of a bounded length).

    >>> is_uint("0042"), is_uint("²"), is_uint("١٢"), is_uint(" 1"), is_uint("+1"), is_uint("")
    (True, False, False, False, False, False)
    """
    return isinstance(text, str) and 0 < len(text) <= MAX_TEXT and _DIGITS.fullmatch(text) is not None


def parse_uint(text: object, limit: int = INT64_MAX) -> int:
    """A non-negative decimal integer of ASCII digits, at most ``limit``; ValueError otherwise.

    >>> parse_uint("1048576"), parse_uint("007")
    (1048576, 7)
    >>> parse_uint("9" * 5000)
    Traceback (most recent call last):
    ...
    ValueError: not a number of at most 64 ASCII digits
    >>> parse_uint("10001", limit=10000)
    Traceback (most recent call last):
    ...
    ValueError: 10001 is larger than 10000
    """
    if not is_uint(text):
        raise ValueError(f"not a number of at most {MAX_TEXT} ASCII digits")
    assert isinstance(text, str)
    n = int(text)
    if n > limit:
        raise ValueError(f"{n} is larger than {limit}")
    return n


def parse_int(text: object, lo: int = -INT64_MAX - 1, hi: int = INT64_MAX) -> int:
    """A decimal integer with an optional sign (Go's ParseInt), within [lo, hi]; ValueError otherwise.

    >>> parse_int("-5"), parse_int("+5")
    (-5, 5)
    >>> parse_int("5", lo=6)
    Traceback (most recent call last):
    ...
    ValueError: 5 is out of range [6, 9223372036854775807]
    """
    if not isinstance(text, str) or len(text) > MAX_TEXT or not _SIGNED.fullmatch(text):
        raise ValueError(f"not a number of at most {MAX_TEXT} ASCII digits")
    n = int(text)
    if not lo <= n <= hi:
        raise ValueError(f"{n} is out of range [{lo}, {hi}]")
    return n


def json_number(value: object) -> float:
    """A JSON number (int or float, not a bool, finite); ValueError otherwise (a string, a list, NaN...).

    >>> json_number(1700000000), json_number(1.5)
    (1700000000.0, 1.5)
    >>> json_number("1700000000")
    Traceback (most recent call last):
    ...
    ValueError: not a finite JSON number: '1700000000'
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a finite JSON number: {value!r}")
    try:
        f = float(value)
    except OverflowError:
        raise ValueError("not a finite JSON number: too large") from None
    if not math.isfinite(f):
        raise ValueError(f"not a finite JSON number: {value!r}")
    return f
