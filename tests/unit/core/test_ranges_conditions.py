"""Range parsing and conditional headers, as MinIO decides them."""

from __future__ import annotations

import pytest

from s3gw.core.conditions import Conditions, check_copy_source, check_read, check_write, parse_http_date
from s3gw.core.errors import InvalidRange, NoSuchKey, NotModified, PreconditionFailed
from s3gw.core.ranges import parse_range


@pytest.mark.parametrize(
    "header,size,expected",
    [
        ("bytes=0-0", 10, (0, 1)),
        ("bytes=0-9", 10, (0, 10)),
        ("bytes=0-100", 10, (0, 10)),
        ("bytes=3-", 10, (3, 7)),
        ("bytes=-3", 10, (7, 3)),
        ("bytes=-30", 10, (0, 10)),
        ("bytes=-1", 0, (0, 0)),
        (None, 10, None),
        ("", 10, None),
        ("bytes=", 10, None),
        ("bytes=-", 10, None),
        ("bytes=a-b", 10, None),
        ("bytes=+1-2", 10, None),
        ("bytes=0-1,3-4", 10, None),
        ("chars=0-1", 10, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header,size",
    [("bytes=10-", 10), ("bytes=10-20", 10), ("bytes=5-2", 10), ("bytes=-0", 10), ("bytes=0-", 0), ("bytes=0-0", 0)],
)
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(InvalidRange):
        parse_range(header, size)


MTIME = 1_700_000_000.4  # 2023-11-14T22:13:20.4Z
SAME_SECOND = "Tue, 14 Nov 2023 22:13:20 GMT"
EARLIER = "Tue, 14 Nov 2023 22:13:18 GMT"
LATER = "Tue, 14 Nov 2023 22:13:22 GMT"
ETAG = "0123456789abcdef0123456789abcdef"


def outcome(**kw: str) -> str:
    try:
        check_read(Conditions(**kw), ETAG, MTIME)
    except NotModified:
        return "304"
    except PreconditionFailed:
        return "412"
    return "200"


@pytest.mark.parametrize(
    "kw,expected",
    [
        ({}, "200"),
        ({"if_match": f'"{ETAG}"'}, "200"),
        ({"if_match": ETAG}, "200"),
        ({"if_match": '"other"'}, "412"),
        ({"if_none_match": f'"{ETAG}"'}, "304"),
        ({"if_none_match": '"other"'}, "200"),
        ({"if_modified_since": EARLIER}, "200"),
        ({"if_modified_since": SAME_SECOND}, "304"),  # one-second resolution
        ({"if_modified_since": LATER}, "304"),
        ({"if_unmodified_since": LATER}, "200"),
        ({"if_unmodified_since": SAME_SECOND}, "200"),
        ({"if_unmodified_since": EARLIER}, "412"),
        ({"if_modified_since": "garbage"}, "200"),  # unparsable dates are ignored
        ({"if_match": "*"}, "200"),
        ({"if_none_match": "*"}, "304"),
        ({"if_unmodified_since": "Tuesday, 14-Nov-23 22:13:18 GMT"}, "200"),  # RFC 850: ignored, like MinIO
        # precedence: If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since (only without If-Match)
        ({"if_modified_since": LATER, "if_match": '"other"'}, "304"),
        ({"if_unmodified_since": EARLIER, "if_none_match": f'"{ETAG}"'}, "304"),
        ({"if_match": '"other"', "if_none_match": f'"{ETAG}"'}, "304"),
        ({"if_match": f'"{ETAG}"', "if_unmodified_since": EARLIER}, "200"),
        ({"if_match": '"other"', "if_unmodified_since": LATER}, "412"),
    ],
)
def test_read_conditions(kw: dict[str, str], expected: str) -> None:
    assert outcome(**kw) == expected


def test_copy_source_conditions_all_fail_with_412() -> None:
    check_copy_source(Conditions(if_match=ETAG), ETAG, MTIME)
    for cond in (
        Conditions(if_match="x"),
        Conditions(if_none_match=ETAG),
        Conditions(if_modified_since=LATER),
        Conditions(if_unmodified_since=EARLIER),
    ):
        with pytest.raises(PreconditionFailed):
            check_copy_source(cond, ETAG, MTIME)


def test_conditional_writes() -> None:
    check_write(None, "*", None)
    with pytest.raises(PreconditionFailed):
        check_write(None, "*", ETAG)
    check_write(f'"{ETAG}"', None, ETAG)
    with pytest.raises(PreconditionFailed):
        check_write('"x"', None, ETAG)
    with pytest.raises(NoSuchKey):
        check_write(f'"{ETAG}"', None, None)


def test_http_dates() -> None:
    assert parse_http_date(SAME_SECOND) == 1_700_000_000
    assert parse_http_date("nonsense") is None and parse_http_date(None) is None
