"""AWS's published SigV4 examples for S3, verified end to end.

S3 API reference: "Examples: Signature Calculations" for the Authorization
header (sig-v4-header-based-auth.html), query-string auth
(sigv4-query-string-auth.html), chunked upload (sigv4-streaming.html) and
trailing headers (sigv4-streaming-trailers.html). All use AKIAIOSFODNN7EXAMPLE,
the request time 20130524T000000Z, us-east-1 and the bucket examplebucket.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict

from s3gw.auth import (
    EMPTY_SHA256,
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    AuthError,
    ChunkedDecoder,
    canonical_query,
    canonical_uri,
    derive_signing_key,
)

from .helpers import AK, Req, status_of

T0 = datetime(2013, 5, 24, tzinfo=UTC)
SCOPE = "20130524/us-east-1/s3/aws4_request"
CRED = f"{AK}/{SCOPE}"


def header_request(
    method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], signed: str, sig: str
) -> Req:
    h = CIMultiDict(headers)
    h["Authorization"] = f"AWS4-HMAC-SHA256 Credential={CRED},SignedHeaders={signed},Signature={sig}"
    return Req(method, path, query, h)


def test_signing_key_derivation() -> None:
    # AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
    key = derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_get_object() -> None:
    req = header_request(
        "GET",
        "/test.txt",
        [],
        {
            "Host": "examplebucket.s3.amazonaws.com",
            "Range": "bytes=0-9",
            "x-amz-content-sha256": EMPTY_SHA256,
            "x-amz-date": "20130524T000000Z",
        },
        "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    )
    res = req.verify(now=T0)
    assert not res.anonymous and not res.presigned
    assert (res.access_key, res.region, res.scope, res.amz_date) == (AK, "us-east-1", SCOPE, "20130524T000000Z")
    assert res.content_sha256 == EMPTY_SHA256


def test_put_object() -> None:
    # The key is "test$file.text"; the example's request line sends it as is.
    for path in ("/test$file.text", "/test%24file.text"):
        req = header_request(
            "PUT",
            path,
            [],
            {
                "Host": "examplebucket.s3.amazonaws.com",
                "Date": "Fri, 24 May 2013 00:00:00 GMT",
                "x-amz-date": "20130524T000000Z",
                "x-amz-storage-class": "REDUCED_REDUNDANCY",
                "x-amz-content-sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            },
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        )
        res = req.verify(now=T0)
        assert res.content_sha256 == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"


def test_get_bucket_lifecycle() -> None:
    req = header_request(
        "GET",
        "/",
        [("lifecycle", "")],
        {
            "Host": "examplebucket.s3.amazonaws.com",
            "x-amz-date": "20130524T000000Z",
            "x-amz-content-sha256": EMPTY_SHA256,
        },
        "host;x-amz-content-sha256;x-amz-date",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
    )
    req.verify(now=T0)


def test_list_objects() -> None:
    # Sent as ?max-keys=2&prefix=J; the canonical query sorts it either way.
    for query in ([("max-keys", "2"), ("prefix", "J")], [("prefix", "J"), ("max-keys", "2")]):
        req = header_request(
            "GET",
            "/",
            query,
            {
                "Host": "examplebucket.s3.amazonaws.com",
                "x-amz-date": "20130524T000000Z",
                "x-amz-content-sha256": EMPTY_SHA256,
            },
            "host;x-amz-content-sha256;x-amz-date",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        )
        req.verify(now=T0)


def test_presigned_get_object() -> None:
    query = [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", CRED),
        ("X-Amz-Date", "20130524T000000Z"),
        ("X-Amz-Expires", "86400"),
        ("X-Amz-SignedHeaders", "host"),
        ("X-Amz-Signature", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
    ]
    req = Req("GET", "/test.txt", query, CIMultiDict({"Host": "examplebucket.s3.amazonaws.com"}))
    res = req.verify(now=T0 + timedelta(hours=23))
    assert res.presigned and res.content_sha256 == "UNSIGNED-PAYLOAD"
    assert res.signature == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    with pytest.raises(AuthError) as e:
        req.verify(now=T0 + timedelta(seconds=86401))
    assert (e.value.code, e.value.message, status_of(e.value)) == ("AccessDenied", "Request has expired", 403)


# ----------------------------------------------------------------- chunked upload

CHUNK_HEADERS = {
    "Host": "s3.amazonaws.com",
    "x-amz-date": "20130524T000000Z",
    "x-amz-storage-class": "REDUCED_REDUNDANCY",
    "Content-Encoding": "aws-chunked",
    "x-amz-decoded-content-length": "66560",
}

# 64 KiB of 'a', 1 KiB of 'a', then the final chunk, exactly as printed in the example.
CHUNKED_BODY = (
    b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
    + b"a" * 65536
    + b"\r\n"
    + b"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"
    + b"a" * 1024
    + b"\r\n"
    + b"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
)


def chunked_example() -> Req:
    return header_request(
        "PUT",
        "/examplebucket/chunkObject.txt",
        [],
        {**CHUNK_HEADERS, "Content-Length": "66824", "x-amz-content-sha256": STREAMING_PAYLOAD},
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    )


def test_chunked_upload_seed_and_chunks() -> None:
    res = chunked_example().verify(now=T0)
    assert res.signature == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    assert res.content_sha256 == STREAMING_PAYLOAD
    assert len(CHUNKED_BODY) == 66824
    dec = ChunkedDecoder(res, res.content_sha256, decoded_length=66560)
    out = b"".join(dec.feed(CHUNKED_BODY))
    assert dec.finish() == {}
    assert out == b"a" * 66560


def test_chunked_upload_wrong_chunk_signature() -> None:
    res = chunked_example().verify(now=T0)
    bad = CHUNKED_BODY.replace(b"0055627c", b"0055627d")
    dec = ChunkedDecoder(res, res.content_sha256)
    with pytest.raises(AuthError) as e:
        dec.feed(bad)
    assert e.value.code == "SignatureDoesNotMatch"


def test_chunked_upload_with_trailer() -> None:
    # The trailing-header example: seed 106e2a8a..., three chunk signatures and
    # the trailer signature over "x-amz-checksum-crc32c:sOO8/Q==\n". (The
    # example's SignedHeaders differ between its Authorization header and its
    # canonical request: content-length is not signed.)
    req = header_request(
        "PUT",
        "/examplebucket/chunkObject.txt",
        [],
        {
            **CHUNK_HEADERS,
            "x-amz-content-sha256": STREAMING_PAYLOAD_TRAILER,
            "x-amz-trailer": "x-amz-checksum-crc32c",
        },
        "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
        "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
    )
    res = req.verify(now=T0)
    head = (
        b"10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n"
        + b"a" * 65536
        + b"\r\n"
        + b"400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n"
        + b"a" * 1024
        + b"\r\n"
        + b"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
    )
    trailer = (
        b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
        b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
    )
    # As SDKs send it, and as printed in the documentation (an empty line
    # after the final chunk, no final empty line).
    for body in (head + trailer + b"\r\n", head + b"\r\n" + trailer):
        dec = ChunkedDecoder(res, res.content_sha256, ["x-amz-checksum-crc32c"], decoded_length=66560)
        assert b"".join(dec.feed(body)) == b"a" * 66560
        assert dec.finish() == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    dec = ChunkedDecoder(res, res.content_sha256, ["x-amz-checksum-crc32c"])
    with pytest.raises(AuthError) as e:
        dec.feed(head + trailer.replace(b"sOO8/Q==", b"sOO8/Q=A"))  # the value is signed
    assert e.value.code == "SignatureDoesNotMatch"


def test_canonical_helpers() -> None:
    assert canonical_uri("/test$file.text") == "/test%24file.text"
    assert canonical_uri("") == "/"
    assert canonical_uri("/a%20b/c+d/%7E~/%2F") == "/a%20b/c%2Bd/~~//"
    assert canonical_uri("/caf%C3%A9") == "/caf%C3%A9"
    assert canonical_query([("prefix", "J"), ("max-keys", "2"), ("acl", "")]) == "acl=&max-keys=2&prefix=J"
    assert canonical_query([("a", "x/y z+~")]) == "a=x%2Fy%20z%2B~"
    assert canonical_query([("k", "b"), ("k", "a")]) == "k=a&k=b"
