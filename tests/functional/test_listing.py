"""ListObjects V1 and V2: order, prefixes, delimiters, pagination, odd keys."""

from __future__ import annotations

from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

ODD_KEYS = [
    "a",
    "a b",
    "a+b",
    "a%b",
    "a%20b",
    "dir/",
    "dir/x",
    "dir/y/z",
    "dir/y/",
    "é",
    "日本語/ファイル",
    "z~",
    "emoji-😀",
    "q?x=1",
    "semi;colon",
    "amp&er",
    "<tag>",
    "trailing/",
    "UPPER",
    "0",
    "a/b/c/d/e",
]


@pytest.fixture
def odd_bucket(s3, bucket: str) -> str:
    for k in ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    return bucket


def utf8_sorted(keys: list[str]) -> list[str]:
    return sorted(keys, key=lambda k: k.encode())


def all_keys_v2(s3, bucket: str, **kw) -> tuple[list[str], list[str], int]:
    keys, prefixes, pages = [], [], 0
    token = None
    while True:
        args = dict(kw)
        if token:
            args["ContinuationToken"] = token
        r = s3.list_objects_v2(Bucket=bucket, **args)
        pages += 1
        keys += [o["Key"] for o in r.get("Contents", [])]
        prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        assert r["KeyCount"] == len(r.get("Contents", [])) + len(r.get("CommonPrefixes", []))
        if not r["IsTruncated"]:
            return keys, prefixes, pages
        token = r["NextContinuationToken"]


def test_binary_order_and_round_trip(s3, odd_bucket: str) -> None:
    keys, _, _ = all_keys_v2(s3, odd_bucket)
    assert keys == utf8_sorted(ODD_KEYS)
    for k in ODD_KEYS:
        assert s3.get_object(Bucket=odd_bucket, Key=k)["Body"].read() == k.encode()


@pytest.mark.parametrize("page", [1, 2, 3, 7, 1000])
def test_v2_pagination_never_skips_or_repeats(s3, odd_bucket: str, page: int) -> None:
    keys, _, pages = all_keys_v2(s3, odd_bucket, MaxKeys=page)
    assert keys == utf8_sorted(ODD_KEYS)
    assert pages == max(1, -(-len(ODD_KEYS) // page)) or page == 1000


@pytest.mark.parametrize("page", [1, 2, 5])
def test_delimiter_pagination(s3, odd_bucket: str, page: int) -> None:
    keys, prefixes, _ = all_keys_v2(s3, odd_bucket, Delimiter="/", MaxKeys=page)
    expected_prefixes = utf8_sorted({k[: k.index("/") + 1] for k in ODD_KEYS if "/" in k})
    assert prefixes == expected_prefixes
    assert keys == utf8_sorted([k for k in ODD_KEYS if "/" not in k])


def test_prefix_and_delimiter(s3, odd_bucket: str) -> None:
    r = s3.list_objects_v2(Bucket=odd_bucket, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["dir/", "dir/x"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/y/"]
    r = s3.list_objects_v2(Bucket=odd_bucket, Prefix="a")
    assert [o["Key"] for o in r["Contents"]] == utf8_sorted([k for k in ODD_KEYS if k.startswith("a")])
    r = s3.list_objects_v2(Bucket=odd_bucket, Prefix="nothing-here")
    assert r["KeyCount"] == 0 and "Contents" not in r


def test_start_after(s3, odd_bucket: str) -> None:
    r = s3.list_objects_v2(Bucket=odd_bucket, StartAfter="dir/y/z")
    assert [o["Key"] for o in r["Contents"]] == [k for k in utf8_sorted(ODD_KEYS) if k.encode() > b"dir/y/z"]


def test_v1_marker_pagination(s3, odd_bucket: str) -> None:
    keys, marker = [], ""
    while True:
        r = s3.list_objects(Bucket=odd_bucket, Marker=marker, MaxKeys=4)
        page = [o["Key"] for o in r.get("Contents", [])]
        keys += page
        if not r["IsTruncated"]:
            break
        marker = r.get("NextMarker") or page[-1]
    assert keys == utf8_sorted(ODD_KEYS)


def test_v1_delimiter_next_marker(s3, odd_bucket: str) -> None:
    seen_prefixes, keys, marker = [], [], ""
    while True:
        r = s3.list_objects(Bucket=odd_bucket, Delimiter="/", Marker=marker, MaxKeys=3)
        keys += [o["Key"] for o in r.get("Contents", [])]
        seen_prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        marker = r["NextMarker"]
    assert len(seen_prefixes) == len(set(seen_prefixes))
    assert keys == utf8_sorted([k for k in ODD_KEYS if "/" not in k])


def test_encoding_type_url(s3, odd_bucket: str) -> None:
    # botocore asks for encoding-type=url by default and decodes the answer
    r = s3.list_objects_v2(Bucket=odd_bucket, Prefix="a")
    assert "a b" in [o["Key"] for o in r["Contents"]]
    assert "a+b" in [o["Key"] for o in r["Contents"]]
    assert "a%b" in [o["Key"] for o in r["Contents"]]
    # asked for explicitly, botocore hands back the encoded form
    raw = s3.list_objects_v2(Bucket=odd_bucket, Prefix="a ", EncodingType="url")
    assert [unquote_plus(o["Key"]) for o in raw["Contents"]] == ["a b"]
    assert raw["Contents"][0]["Key"] != "a b"


def test_max_keys_bounds(s3, odd_bucket: str) -> None:
    r = s3.list_objects_v2(Bucket=odd_bucket, MaxKeys=0)
    assert r["KeyCount"] == 0
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=odd_bucket, MaxKeys=-1)
    assert e.value.response["Error"]["Code"] == "InvalidArgument"


def test_bad_continuation_token(s3, odd_bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=odd_bucket, ContinuationToken="%%%not-a-token")
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
