"""XML in and out: a tiny element builder for responses, a guarded parser for requests."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import quote_plus
from xml.parsers import expat
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

import xmltodict
from aiohttp import web

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


def xml_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/xml", headers=headers)


def iso8601(ts: float) -> str:
    """S3's listing timestamp: millisecond precision, UTC, trailing Z."""
    ms = int(round(ts * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def http_date(ts: float) -> str:
    """A header's timestamp (Last-Modified), RFC 9110's IMF-fixdate.

    >>> http_date(1700000000.9)
    'Tue, 14 Nov 2023 22:13:20 GMT'
    """
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def url_encode(s: str) -> str:
    """encoding-type=url as MinIO's s3URLEncode does it: spaces as '+', '/' and '*' kept, '~' escaped."""
    return quote_plus(s, safe="/*").replace("~", "%7E")


class XMLError(ValueError):
    """A request document that is not well-formed or breaks a bound; ``offset``: where parsing stopped."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


# Bounds on a request document (besides its size, which the reader caps). No S3
# document nests deeper than about 6 (LifecycleConfiguration/Rule/Filter/And/Tag/Key)
# and the largest, CompleteMultipartUpload, has at most 10000 parts of under 10
# elements each; everything else stays far below MAX_ELEMENTS. Parsing stops at
# the element that breaks a bound, so a hostile document costs no more than a
# legitimate one. (Go's encoding/xml, MinIO's parser, stops at depth 10000.)
MAX_DEPTH = 16
MAX_ELEMENTS = 20_000  # elements, attributes and namespace declarations together
MAX_TAG = 8192  # bytes of one start tag with its attributes (expat reads a tag whole)
#: documents above this size are parsed in a worker thread, off the event loop
INLINE_PARSE = 16 * 1024
# a "<" followed by MAX_TAG bytes with no "<" or ">": a start tag too long (comments, CDATA
# and processing instructions, which begin with "<!" or "<?", are not tags)
_LONG_TAG = re.compile(rb"<(?![!?])[^<>]{%d}" % MAX_TAG)


class _Bounded:
    """An ``xml.parsers.expat`` stand-in for xmltodict whose parsers count as they go.

    xmltodict sets the element handlers on the parser it creates; the proxy
    wraps them to count depth and elements, and raises XMLError from inside
    expat at the first element past a bound (expat then stops at once).
    """

    def __init__(self, max_depth: int, max_elements: int) -> None:
        self.max_depth, self.max_elements = max_depth, max_elements

    def ParserCreate(self, *args: Any, **kwargs: Any) -> _BoundedParser:  # noqa: N802 (expat's name)
        return _BoundedParser(expat.ParserCreate(*args, **kwargs), self.max_depth, self.max_elements)


class _BoundedParser:
    def __init__(self, parser: Any, max_depth: int, max_elements: int) -> None:
        vars(self).update(_p=parser, _depth=0, _count=0, _max_depth=max_depth, _max_elements=max_elements)

    def _add(self, n: int) -> None:
        self._count += n
        if self._count > self._max_elements:
            raise XMLError(f"more than {self._max_elements} elements", self._p.CurrentByteIndex)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_count":
            vars(self)[name] = value
            return
        if name == "StartElementHandler":
            inner = value

            def value(tag: str, attrs: Any) -> None:
                vars(self)["_depth"] += 1
                if self._depth > self._max_depth:
                    raise XMLError(f"elements nested deeper than {self._max_depth}", self._p.CurrentByteIndex)
                self._add(1 + len(attrs) // (2 if isinstance(attrs, list) else 1))
                inner(tag, attrs)
        elif name == "EndElementHandler":
            inner_end = value

            def value(tag: str) -> None:
                vars(self)["_depth"] -= 1
                inner_end(tag)
        elif name == "StartNamespaceDeclHandler":
            inner_ns = value

            def value(prefix: str, uri: str) -> None:
                self._add(1)
                inner_ns(prefix, uri)

        setattr(self._p, name, value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._p, name)


def parse(body: bytes, *, max_depth: int = MAX_DEPTH, max_elements: int = MAX_ELEMENTS) -> dict[str, Any]:
    """Parse a request document; namespaces are dropped, entities refused, depth and size bounded.

    >>> parse(b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>")
    {'Tagging': {'TagSet': {'Tag': {'Key': 'a', 'Value': '1'}}}}
    >>> parse(b"<a>" * 17 + b"</a>" * 17)
    Traceback (most recent call last):
    ...
    s3gw.api.xml.XMLError: elements nested deeper than 16
    """
    if not body.strip():
        raise XMLError("empty body")
    long_tag = _LONG_TAG.search(body)
    if long_tag is not None:
        raise XMLError(f"a start tag longer than {MAX_TAG} bytes", long_tag.start())
    try:
        doc = xmltodict.parse(
            body,
            expat=_Bounded(max_depth, max_elements),
            disable_entities=True,
            process_namespaces=True,
            namespaces={NS: None, "http://s3.amazonaws.com/doc/2006-03-01": None},
        )
    except XMLError:
        raise
    except (ExpatError, ValueError) as e:
        raise XMLError(str(e)) from e
    if not isinstance(doc, dict) or len(doc) != 1:
        raise XMLError("one root element expected")
    return doc


async def parse_async(body: bytes, *, max_depth: int = MAX_DEPTH, max_elements: int = MAX_ELEMENTS) -> dict[str, Any]:
    """``parse``, in a worker thread when the document is larger than INLINE_PARSE.

    A legitimate 10000-part CompleteMultipartUpload takes a fraction of a second
    to parse; other clients are served meanwhile.
    """
    if len(body) <= INLINE_PARSE:
        return parse(body, max_depth=max_depth, max_elements=max_elements)
    return await asyncio.to_thread(parse, body, max_depth=max_depth, max_elements=max_elements)


def as_list(value: Any) -> list[Any]:
    """xmltodict gives a dict for one child and a list for several."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
