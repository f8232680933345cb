"""XML in and out: a tiny element builder for responses, a guarded parser for requests."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import quote_plus
from xml.sax.saxutils import escape

import xmltodict
from xml.parsers.expat import ExpatError

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'

# Characters XML 1.0 cannot carry; Go's encoder (MinIO) writes U+FFFD for them.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Node = tuple  # (tag, text-or-children)


def text(value: Any) -> str:
    return escape(_INVALID_XML.sub("\ufffd", str(value)), {'"': "&#34;"})


def el(tag: str, *children: Any) -> str:
    """``el("Key", "a&b")`` -> ``<Key>a&amp;b</Key>``; children that are None are dropped."""
    inner = "".join(c if isinstance(c, _Raw) else text(c) for c in children if c is not None)
    return _Raw(f"<{tag}>{inner}</{tag}>")


class _Raw(str):
    """Already-rendered XML (so ``el`` does not escape it twice)."""


def raw(s: str) -> _Raw:
    return _Raw(s)


def document(root: str, *children: Any) -> bytes:
    inner = "".join(c if isinstance(c, _Raw) else text(c) for c in children if c is not None)
    return (HEADER + f'<{root} xmlns="{NS}">{inner}</{root}>').encode()


def iso8601(ts: float) -> str:
    """S3's listing timestamp: millisecond precision, UTC, trailing Z."""
    ms = int(round(ts * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def url_encode(s: str) -> str:
    """encoding-type=url as MinIO's s3URLEncode does it: spaces as '+', '/' and '*' kept, '~' escaped."""
    return quote_plus(s, safe="/*").replace("~", "%7E")


class XMLError(ValueError):
    pass


def parse(body: bytes) -> dict[str, Any]:
    """Parse a request document; namespaces are dropped, entities refused."""
    if not body.strip():
        raise XMLError("empty body")
    try:
        doc = xmltodict.parse(body, disable_entities=True, process_namespaces=True,
                              namespaces={NS: None, "http://s3.amazonaws.com/doc/2006-03-01": None})
    except (ExpatError, ValueError) as e:
        raise XMLError(str(e)) from e
    if not isinstance(doc, dict) or len(doc) != 1:
        raise XMLError("one root element expected")
    return doc


def as_list(value: Any) -> list[Any]:
    """xmltodict gives a dict for one child and a list for several."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
