"""CORS as MinIO answers it, against real gateways: the default (any origin) and one with
an allow-list from MinIO's MINIO_API_CORS_ALLOW_ORIGIN. Preflights need no credentials;
everything else is still authenticated (with the CORS headers on the refusal)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server
from tests.functional.rawhttp import Response, send, signed_request

EXPOSED = (
    "Date, Etag, Server, Connection, Accept-Ranges, Content-Range, Content-Encoding, Content-Length, "
    "Content-Type, Content-Disposition, Last-Modified, Content-Language, Cache-Control, Retry-After, "
    "X-Amz-Bucket-Region, Expires, X-Amz*, X-Amz*, *"
)
CORS_HEADERS = (
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "access-control-max-age",
)


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A gateway that allows two origins, one a pattern (MinIO's variable)."""
    srv = start_server(
        str(tmp_path_factory.mktemp("cors-gw")),
        env={"MINIO_API_CORS_ALLOW_ORIGIN": "https://app.example,https://*.cdn.example"},
    )
    yield srv
    srv.stop()


def preflight(
    srv: Server,
    path: str,
    origin: str,
    method: str = "PUT",
    request_headers: str | None = "authorization, x-amz-date, x-amz-content-sha256, content-type",
) -> Response:
    headers = {"Host": f"127.0.0.1:{srv.port}", "Origin": origin, "Access-Control-Request-Method": method}
    if request_headers is not None:
        headers["Access-Control-Request-Headers"] = request_headers
    return send(srv, "OPTIONS", path, headers)


def cors_of(r: Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k in CORS_HEADERS}


@pytest.fixture
def obj(server: Server) -> Iterator[tuple[str, str]]:
    bucket = f"cors-{uuid.uuid4().hex[:12]}"
    assert signed_request(server, "PUT", f"/{bucket}").status == 200
    assert signed_request(server, "PUT", f"/{bucket}/hello.txt", b"hello cors").status == 200
    yield bucket, "hello.txt"
    signed_request(server, "DELETE", f"/{bucket}/hello.txt")
    signed_request(server, "DELETE", f"/{bucket}")


def test_preflight_from_any_origin_by_default(server: Server, obj: tuple[str, str]) -> None:
    bucket, key = obj
    for path in ("/", f"/{bucket}", f"/{bucket}/{key}", f"/{bucket}/no/such/key?uploads", "/minio/admin/v3/info"):
        r = preflight(server, path, "https://anything.example")
        assert r.status == 204 and r.body == b"", (path, r.status)
        assert cors_of(r) == {
            "access-control-allow-origin": "https://anything.example",  # the origin, never *: credentials
            "access-control-allow-methods": "PUT",
            "access-control-allow-headers": "authorization, x-amz-date, x-amz-content-sha256, content-type",
            "access-control-allow-credentials": "true",
        }, path
        assert r.headers["vary"] == "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    # without requested headers there is no Allow-Headers; a method outside MinIO's list gets no grant
    assert "access-control-allow-headers" not in cors_of(preflight(server, "/", "https://a.example", "GET", None))
    assert cors_of(preflight(server, "/", "https://a.example", "get")) == {}


def test_options_never_needs_credentials(server: Server, obj: tuple[str, str]) -> None:
    bucket, key = obj
    r = send(server, "OPTIONS", f"/{bucket}/{key}", {"Host": f"127.0.0.1:{server.port}"})
    assert (r.status, r.body, r.headers["vary"]) == (200, b"", "Origin")
    r = send(server, "OPTIONS", f"/{bucket}", {"Host": f"127.0.0.1:{server.port}", "Origin": "https://a.example"})
    assert r.status == 200 and cors_of(r)["access-control-allow-origin"] == "https://a.example"


def test_signed_get_with_origin_exposes_the_etag(server: Server, obj: tuple[str, str]) -> None:
    bucket, key = obj
    r = signed_request(server, "GET", f"/{bucket}/{key}", headers={"Origin": "https://web.example"})
    assert r.status == 200 and r.body == b"hello cors"
    assert cors_of(r) == {
        "access-control-allow-origin": "https://web.example",
        "access-control-expose-headers": EXPOSED,
        "access-control-allow-credentials": "true",
    }
    assert "Etag" in r.headers["access-control-expose-headers"].split(", ") and r.headers["etag"]
    assert r.headers["vary"] == "Origin"
    # no Origin: no CORS grant (Vary still says the answer depends on it)
    r = signed_request(server, "GET", f"/{bucket}/{key}")
    assert cors_of(r) == {} and r.headers["vary"] == "Origin"


def test_unsigned_requests_are_still_refused(server: Server, obj: tuple[str, str]) -> None:
    bucket, key = obj
    host = {"Host": f"127.0.0.1:{server.port}", "Origin": "https://web.example"}
    for method, path in (
        ("GET", f"/{bucket}/{key}"),
        ("GET", f"/{bucket}"),
        ("DELETE", f"/{bucket}/{key}"),
        ("PUT", f"/{bucket}/other"),
    ):
        r = send(server, method, path, {**host, "Content-Length": "0"})
        assert r.status == 403 and b"<Code>AccessDenied</Code>" in r.body, (method, path)
        # the refusal is readable by the page (as MinIO's), which is how a browser app sees the error
        assert cors_of(r)["access-control-allow-origin"] == "https://web.example"
    assert signed_request(server, "GET", f"/{bucket}/{key}").body == b"hello cors"  # nothing was deleted


def test_allow_list_from_minio_variable(listed: Server) -> None:
    for origin in ("https://app.example", "https://img.cdn.example"):
        r = preflight(listed, "/some-bucket/key", origin)
        assert r.status == 204 and cors_of(r)["access-control-allow-origin"] == origin
        r = send(listed, "GET", "/minio/health/live", {"Host": f"127.0.0.1:{listed.port}", "Origin": origin})
        assert r.status == 200 and cors_of(r)["access-control-allow-origin"] == origin
    for origin in ("https://evil.example", "https://APP.example", "https://app.example.evil", "null"):
        r = preflight(listed, "/some-bucket/key", origin)
        assert r.status == 204 and cors_of(r) == {}, origin  # a disallowed origin: no CORS header at all
        assert r.headers["vary"] == "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        r = send(listed, "GET", "/some-bucket/key", {"Host": f"127.0.0.1:{listed.port}", "Origin": origin})
        assert r.status == 403 and cors_of(r) == {}, origin


def test_bucket_cors_configuration_is_minios_answer(s3, bucket: str) -> None:
    from botocore.exceptions import ClientError

    rules = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]}
    for call, kwargs in (
        (s3.put_bucket_cors, {"CORSConfiguration": rules}),
        (s3.delete_bucket_cors, {}),
        (s3.get_bucket_cors, {}),
    ):
        with pytest.raises(ClientError) as e:
            call(Bucket=bucket, **kwargs)
        expected = "NoSuchCORSConfiguration" if call == s3.get_bucket_cors else "NotImplemented"
        assert e.value.response["Error"]["Code"] == expected
        with pytest.raises(ClientError) as e:
            call(Bucket=f"{bucket}-missing", **kwargs)
        assert e.value.response["Error"]["Code"] == "NoSuchBucket"
