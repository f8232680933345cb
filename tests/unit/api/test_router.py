"""Pure routing, checked against the request shapes of the AWS API reference."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, MultiDict

from s3gw.api.router import BadPath, Operation, route, split_path

CASES = [
    ("GET", "/", {}, {}, Operation("ListBuckets")),
    ("PUT", "/b", {}, {}, Operation("CreateBucket", "b")),
    ("HEAD", "/b", {}, {}, Operation("HeadBucket", "b")),
    ("DELETE", "/b", {}, {}, Operation("DeleteBucket", "b")),
    ("GET", "/b", {}, {}, Operation("ListObjects", "b")),
    ("GET", "/b/", {}, {}, Operation("ListObjects", "b")),
    ("GET", "/b", {"list-type": "2"}, {}, Operation("ListObjectsV2", "b")),
    ("GET", "/b", {"location": ""}, {}, Operation("GetBucketLocation", "b")),
    ("GET", "/b", {"versions": ""}, {}, Operation("ListObjectVersions", "b")),
    ("GET", "/b", {"uploads": ""}, {}, Operation("ListMultipartUploads", "b")),
    ("PUT", "/b", {"versioning": ""}, {}, Operation("PutBucketVersioning", "b")),
    ("PUT", "/b", {"object-lock": ""}, {}, Operation("PutObjectLockConfiguration", "b")),
    ("POST", "/b", {"delete": ""}, {}, Operation("DeleteObjects", "b")),
    ("PUT", "/b/k", {}, {}, Operation("PutObject", "b", "k")),
    ("PUT", "/b/k", {}, {"x-amz-copy-source": "/a/b"}, Operation("CopyObject", "b", "k")),
    ("PUT", "/b/k", {"partNumber": "1", "uploadId": "u"}, {}, Operation("UploadPart", "b", "k")),
    ("PUT", "/b/k", {"partNumber": "1", "uploadId": "u"}, {"x-amz-copy-source": "/a/b"},
     Operation("UploadPartCopy", "b", "k")),
    ("PUT", "/b/k", {"tagging": ""}, {}, Operation("PutObjectTagging", "b", "k")),
    ("PUT", "/b/k", {"retention": ""}, {}, Operation("PutObjectRetention", "b", "k")),
    ("PUT", "/b/k", {"legal-hold": ""}, {}, Operation("PutObjectLegalHold", "b", "k")),
    ("GET", "/b/k", {}, {}, Operation("GetObject", "b", "k")),
    ("GET", "/b/k", {"uploadId": "u"}, {}, Operation("ListParts", "b", "k")),
    ("GET", "/b/k", {"versionId": "v"}, {}, Operation("GetObject", "b", "k")),
    ("HEAD", "/b/k", {}, {}, Operation("HeadObject", "b", "k")),
    ("DELETE", "/b/k", {}, {}, Operation("DeleteObject", "b", "k")),
    ("DELETE", "/b/k", {"uploadId": "u"}, {}, Operation("AbortMultipartUpload", "b", "k")),
    ("POST", "/b/k", {"uploads": ""}, {}, Operation("CreateMultipartUpload", "b", "k")),
    ("POST", "/b/k", {"uploadId": "u"}, {}, Operation("CompleteMultipartUpload", "b", "k")),
    ("GET", "/b/a%20b/c%2Bd", {}, {}, Operation("GetObject", "b", "a b/c+d")),
    ("GET", "/b/dir/", {}, {}, Operation("GetObject", "b", "dir/")),
    ("GET", "/b/a/../c", {}, {}, Operation("GetObject", "b", "a/../c")),  # not normalised: refused later
    ("PATCH", "/b/k", {}, {}, Operation("MethodNotAllowed", "b", "k")),
]


@pytest.mark.parametrize("method,path,query,headers,expected", CASES, ids=[f"{c[0]} {c[1]} {c[4].name}" for c in CASES])
def test_route(method: str, path: str, query: dict, headers: dict, expected: Operation) -> None:
    assert route(method, path, MultiDict(query), CIMultiDict(headers)) == expected


def test_virtual_hosted_style() -> None:
    op = route("GET", "/photos/a.jpg", MultiDict(), CIMultiDict(), host="media.s3.example.com:8080",
               domains=("s3.example.com",))
    assert op == Operation("GetObject", "media", "photos/a.jpg")
    assert route("GET", "/", MultiDict(), CIMultiDict(), host="media.s3.example.com",
                 domains=("s3.example.com",)) == Operation("ListObjects", "media")
    # the bare domain is path style
    assert route("GET", "/media", MultiDict(), CIMultiDict(), host="s3.example.com",
                 domains=("s3.example.com",)) == Operation("ListObjects", "media")


def test_invalid_utf8_path() -> None:
    with pytest.raises(BadPath):
        split_path("/b/%ff")
