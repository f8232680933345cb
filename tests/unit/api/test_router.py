"""Pure routing, checked against the request shapes of the AWS API reference."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from multidict import CIMultiDict, MultiDict

from s3gw.api.router import BadPath, Invalid, Listing, Operation, route, split_path, token_encode

L = Listing()  # a listing's defaults

CASES = [
    ("GET", "/", {}, {}, Operation("ListBuckets")),
    ("PUT", "/b", {}, {}, Operation("CreateBucket", "b")),
    ("HEAD", "/b", {}, {}, Operation("HeadBucket", "b")),
    ("DELETE", "/b", {}, {}, Operation("DeleteBucket", "b")),
    ("GET", "/b", {}, {}, Operation("ListObjects", "b", listing=L)),
    ("GET", "/b/", {}, {}, Operation("ListObjects", "b", listing=L)),
    ("GET", "/b", {"list-type": "2"}, {}, Operation("ListObjectsV2", "b", listing=L)),
    ("GET", "/b", {"location": ""}, {}, Operation("GetBucketLocation", "b")),
    ("GET", "/b", {"versions": ""}, {}, Operation("ListObjectVersions", "b", listing=L)),
    ("GET", "/b", {"uploads": ""}, {}, Operation("ListMultipartUploads", "b", listing=Listing(max_keys=10000))),
    ("PUT", "/b", {"versioning": ""}, {}, Operation("PutBucketVersioning", "b")),
    ("PUT", "/b", {"object-lock": ""}, {}, Operation("PutObjectLockConfiguration", "b")),
    ("POST", "/b", {"delete": ""}, {}, Operation("DeleteObjects", "b")),
    ("PUT", "/b/k", {}, {}, Operation("PutObject", "b", "k")),
    ("PUT", "/b/k", {}, {"x-amz-copy-source": "/a/b"}, Operation("CopyObject", "b", "k")),
    (
        "PUT",
        "/b/k",
        {"partNumber": "1", "uploadId": "u"},
        {},
        Operation("UploadPart", "b", "k", upload_id="u", part_number=1),
    ),
    (
        "PUT",
        "/b/k",
        {"partNumber": "1", "uploadId": "u"},
        {"x-amz-copy-source": "/a/b"},
        Operation("UploadPartCopy", "b", "k", upload_id="u", part_number=1),
    ),
    ("PUT", "/b/k", {"tagging": ""}, {}, Operation("PutObjectTagging", "b", "k")),
    ("PUT", "/b/k", {"retention": ""}, {}, Operation("PutObjectRetention", "b", "k")),
    ("PUT", "/b/k", {"legal-hold": ""}, {}, Operation("PutObjectLegalHold", "b", "k")),
    ("GET", "/b/k", {}, {}, Operation("GetObject", "b", "k")),
    (
        "GET",
        "/b/k",
        {"uploadId": "u"},
        {},
        Operation("ListParts", "b", "k", upload_id="u", listing=Listing(max_keys=10000)),
    ),
    ("GET", "/b/k", {"versionId": "v"}, {}, Operation("GetObject", "b", "k", version_id="v")),
    ("HEAD", "/b/k", {}, {}, Operation("HeadObject", "b", "k")),
    ("DELETE", "/b/k", {}, {}, Operation("DeleteObject", "b", "k")),
    ("DELETE", "/b/k", {"uploadId": "u"}, {}, Operation("AbortMultipartUpload", "b", "k", upload_id="u")),
    ("POST", "/b/k", {"uploads": ""}, {}, Operation("CreateMultipartUpload", "b", "k")),
    ("POST", "/b/k", {"uploadId": "u"}, {}, Operation("CompleteMultipartUpload", "b", "k", upload_id="u")),
    ("GET", "/b/a%20b/c%2Bd", {}, {}, Operation("GetObject", "b", "a b/c+d")),
    ("GET", "/b/dir/", {}, {}, Operation("GetObject", "b", "dir/")),
    ("GET", "/b/a/../c", {}, {}, Operation("GetObject", "b", "a/../c")),  # not normalised: refused later
    ("PATCH", "/b/k", {}, {}, Operation("MethodNotAllowed", "b", "k")),
]


@pytest.mark.parametrize("method,path,query,headers,expected", CASES, ids=[f"{c[0]} {c[1]} {c[4].name}" for c in CASES])
def test_route(method: str, path: str, query: dict, headers: dict, expected: Operation) -> None:
    assert route(method, path, MultiDict(query), CIMultiDict(headers)) == expected


def test_virtual_hosted_style() -> None:
    op = route(
        "GET",
        "/photos/a.jpg",
        MultiDict(),
        CIMultiDict(),
        host="media.s3.example.com:8080",
        domains=("s3.example.com",),
    )
    assert op == Operation("GetObject", "media", "photos/a.jpg")
    assert route(
        "GET", "/", MultiDict(), CIMultiDict(), host="media.s3.example.com", domains=("s3.example.com",)
    ) == Operation("ListObjects", "media", listing=L)
    # the bare domain is path style
    assert route(
        "GET", "/media", MultiDict(), CIMultiDict(), host="s3.example.com", domains=("s3.example.com",)
    ) == Operation("ListObjects", "media", listing=L)


def test_invalid_utf8_path() -> None:
    with pytest.raises(BadPath):
        split_path("/b/%ff")


# ---------------------------------------------------------------- parameters
def request(method: str, target: str, headers: dict | None = None) -> Operation:
    """Route a request line as the API reference writes it ("GET /?list-type=2&max-keys=3")."""
    path, _, qs = target.partition("?")
    query = MultiDict(parse_qsl(qs, keep_blank_values=True))
    return route(method, "/example-bucket" + (path if path != "/" else ""), query, CIMultiDict(headers or {}))


# The example requests of the S3 API reference, and what they ask for.
EXAMPLES = [
    # ListObjects: "Sample Request Using Request Parameters"
    (
        "GET",
        "/?prefix=N&marker=Ned&max-keys=40",
        Operation("ListObjects", "example-bucket", listing=Listing(prefix="N", marker="Ned", max_keys=40)),
    ),
    # ListObjectsV2: max-keys, prefix and start-after; prefix and delimiter
    (
        "GET",
        "/?list-type=2&max-keys=3&prefix=E&start-after=ExampleGuide.pdf",
        Operation(
            "ListObjectsV2",
            "example-bucket",
            listing=Listing(prefix="E", max_keys=3, marker="ExampleGuide.pdf", start_after="ExampleGuide.pdf"),
        ),
    ),
    (
        "GET",
        "/?list-type=2&delimiter=/&prefix=photos/2006/",
        Operation("ListObjectsV2", "example-bucket", listing=Listing(prefix="photos/2006/", delimiter="/")),
    ),
    (
        "GET",
        "/?list-type=2&fetch-owner=true&encoding-type=url",
        Operation("ListObjectsV2", "example-bucket", listing=Listing(url=True, fetch_owner=True)),
    ),
    # ListObjectVersions: from a key marker and a version marker
    (
        "GET",
        "/?versions&key-marker=key3&version-id-marker=t46ZenlYTZBnj",
        Operation("ListObjectVersions", "example-bucket", listing=Listing(marker="key3", id_marker="t46ZenlYTZBnj")),
    ),
    (
        "GET",
        "/?versions&max-keys=3&prefix=myObject",
        Operation("ListObjectVersions", "example-bucket", listing=Listing(prefix="myObject", max_keys=3)),
    ),
    # ListMultipartUploads: max-uploads; delimiter and prefix
    (
        "GET",
        "/?uploads&max-uploads=3",
        Operation("ListMultipartUploads", "example-bucket", listing=Listing(max_keys=3)),
    ),
    (
        "GET",
        "/?uploads&delimiter=/&prefix=photos/2006/",
        Operation(
            "ListMultipartUploads",
            "example-bucket",
            listing=Listing(prefix="photos/2006/", delimiter="/", max_keys=10000),
        ),
    ),
    # ListParts: max-parts and part-number-marker
    (
        "GET",
        "/example-object?uploadId=XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA&max-parts=2"
        "&part-number-marker=1",
        Operation(
            "ListParts",
            "example-bucket",
            "example-object",
            upload_id="XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA",
            listing=Listing(max_keys=2, part_marker=1),
        ),
    ),
    # UploadPart, CompleteMultipartUpload
    (
        "PUT",
        "/my-movie.m2ts?partNumber=1&uploadId=VCVsb2FkIElEIGZvciBlbZZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZR",
        Operation(
            "UploadPart",
            "example-bucket",
            "my-movie.m2ts",
            upload_id="VCVsb2FkIElEIGZvciBlbZZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZR",
            part_number=1,
        ),
    ),
    (
        "POST",
        "/example-object?uploadId=AAAsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA",
        Operation(
            "CompleteMultipartUpload",
            "example-bucket",
            "example-object",
            upload_id="AAAsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA",
        ),
    ),
    # GetObject: a version; the response header overrides; a part
    (
        "GET",
        "/myObject?versionId=3/L4kqtJlcpXroDTDmpUMLUo",
        Operation("GetObject", "example-bucket", "myObject", version_id="3/L4kqtJlcpXroDTDmpUMLUo"),
    ),
    (
        "GET",
        "/Junk3.txt?response-cache-control=No-cache&response-content-disposition=attachment%3B%20filename%3D"
        "testing.txt&response-content-encoding=x-gzip&response-content-language=mi%2C%20en&response-expires="
        "Thu%2C%2001%20Dec%201994%2016:00:00%20GMT",
        Operation(
            "GetObject",
            "example-bucket",
            "Junk3.txt",
            overrides=(
                ("response-content-language", "mi, en"),
                ("response-expires", "Thu, 01 Dec 1994 16:00:00 GMT"),
                ("response-cache-control", "No-cache"),
                ("response-content-disposition", "attachment; filename=testing.txt"),
                ("response-content-encoding", "x-gzip"),
            ),
        ),
    ),
    ("HEAD", "/big?partNumber=2", Operation("HeadObject", "example-bucket", "big", part_number=2)),
    # DeleteObject of a version
    (
        "DELETE",
        "/my-second-image.jpg?versionId=UIORUnfndfiufdisojhr398493jfdkjFJjkndnqUifhnw89493jJFJ",
        Operation(
            "DeleteObject",
            "example-bucket",
            "my-second-image.jpg",
            version_id="UIORUnfndfiufdisojhr398493jfdkjFJjkndnqUifhnw89493jJFJ",
        ),
    ),
]


@pytest.mark.parametrize("method,target,expected", EXAMPLES, ids=[f"{c[0]} {c[1][:40]}" for c in EXAMPLES])
def test_documented_parameters(method: str, target: str, expected: Operation) -> None:
    assert request(method, target) == expected


def bad(message: str) -> Invalid:
    return Invalid("InvalidArgument", message)


INVALID = [
    ("GET", "/?max-keys=abc", bad("Argument max-keys must be an integer between 0 and 2147483647")),
    ("GET", "/?max-keys=%D9%A3", bad("Argument max-keys must be an integer between 0 and 2147483647")),  # arabic 3
    ("GET", "/?list-type=2&max-keys=-1", bad("Argument max-keys must be an integer between 0 and 2147483647")),
    (
        "GET",
        "/?uploads&max-uploads=2147483648",
        bad("Argument max-uploads must be an integer between 0 and 2147483647"),
    ),
    ("GET", "/?encoding-type=gzip", bad("Invalid Encoding Method specified in Request")),
    # the first bad parameter is the one answered: encoding-type before max-keys
    ("GET", "/?versions&encoding-type=gzip&max-keys=x", bad("Invalid Encoding Method specified in Request")),
    ("GET", "/?versions&version-id-marker=v", bad("A version-id marker cannot be specified without a key marker.")),
    ("GET", "/?list-type=2&continuation-token=", bad("The continuation token provided is incorrect")),
    (
        "GET",
        "/?list-type=2&continuation-token=_w%3D%3D",  # base64 of the byte 0xff: not UTF-8
        bad("The continuation token provided is incorrect"),
    ),
    (
        "GET",
        "/k?uploadId=u&part-number-marker=10001",
        bad("Argument part-number-marker must be an integer between 0 and 10000"),
    ),
    ("GET", "/k?uploadId=u&max-parts=x", bad("Argument max-parts must be an integer between 0 and 2147483647")),
    ("GET", "/k?partNumber=0", bad("Argument partNumber must be an integer between 1 and 10000")),
    ("HEAD", "/k?partNumber=%C2%B2", bad("Argument partNumber must be an integer between 1 and 10000")),  # superscript
]


@pytest.mark.parametrize("method,target,expected", INVALID, ids=[f"{c[0]} {c[1]}" for c in INVALID])
def test_invalid_parameters(method: str, target: str, expected: Invalid) -> None:
    op = request(method, target)
    assert op.invalid == expected
    assert op.bucket == "example-bucket"  # still named: the error is answered after authorisation


def test_part_number_of_an_upload_that_does_not_parse_is_left_to_the_handler() -> None:
    # UploadPart answers InvalidPart after its header checks (MissingContentLength first), so the router only
    # leaves the number out
    op = request("PUT", "/k?partNumber=one&uploadId=u")
    assert (op.name, op.part_number, op.invalid) == ("UploadPart", None, None)


def test_empty_values() -> None:
    # an empty number is the default (partNumber: 0, which the core refuses); an empty upload id names no upload
    assert request("GET", "/k?partNumber=").part_number == 0
    assert request("GET", "/?max-keys=").listing == Listing()
    assert request("DELETE", "/k?uploadId=").upload_id == ""
    assert request("GET", "/k?versionId=").version_id is None


def test_continuation_token_round_trip() -> None:
    token = token_encode("photos/2006/February/sample.jpg")
    op = request("GET", f"/?list-type=2&start-after=a&continuation-token={token}")
    assert op.listing == Listing(marker="photos/2006/February/sample.jpg", start_after="a", token=token)
