"""SigV2 against AWS's published example and botocore's V2 presigner."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from multidict import CIMultiDict

from s3gw.auth import AuthError, authenticate

from .helpers import status_of

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def lookup(key: str) -> str | None:
    return SK if key == AK else None


def test_aws_documented_v2_example() -> None:
    # "Signing and Authenticating REST Requests", Example Object GET (bucket johnsmith, path style)
    headers = CIMultiDict(
        {
            "Host": "s3.amazonaws.com",
            "Date": "Tue, 27 Mar 2007 19:36:42 +0000",
            "Authorization": f"AWS {AK}:bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
        }
    )
    now = datetime(2007, 3, 27, 19, 40, tzinfo=UTC)
    res = authenticate("GET", "/johnsmith/photos/puppy.jpg", [], headers, lookup, now=now)
    assert res.access_key == AK and not res.anonymous
    headers["Authorization"] = f"AWS {AK}:bWq2s1WEIj+Ydj0vQ697zp+IXMV="
    with pytest.raises(AuthError) as e:
        authenticate("GET", "/johnsmith/photos/puppy.jpg", [], headers, lookup, now=now)
    assert e.value.code == "SignatureDoesNotMatch"
    with pytest.raises(AuthError) as e:
        authenticate("GET", "/johnsmith/photos/puppy.jpg", [], headers, lookup, now=datetime(2007, 3, 28, tzinfo=UTC))
    assert e.value.code == "RequestTimeTooSkewed"


def presign_v2(path: str, expires: int = 3600) -> tuple[str, list[tuple[str, str]]]:
    req = AWSRequest(method="GET", url=f"http://127.0.0.1:9000{path}")
    HmacV1QueryAuth(Credentials(AK, SK), expires=expires).add_auth(req)
    parts = urlsplit(req.url)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


@pytest.mark.parametrize("path", ["/bucket/key", "/bucket/a%20b/c%2Bd", "/bucket/%E6%97%A5%E6%9C%AC"])
def test_botocore_v2_presigned_urls_verify(path: str) -> None:
    raw, query = presign_v2(path)
    res = authenticate("GET", raw, query, CIMultiDict({"Host": "127.0.0.1:9000"}), lookup)
    assert res.presigned and res.access_key == AK
    tampered = [(k, v) for k, v in query] + [("versionId", "x")]
    with pytest.raises(AuthError) as e:
        authenticate("GET", raw, tampered, CIMultiDict({"Host": "127.0.0.1:9000"}), lookup)
    assert e.value.code == "SignatureDoesNotMatch"


def test_v2_presigned_expiry() -> None:
    raw, query = presign_v2("/bucket/key", expires=10)
    later = datetime.fromtimestamp(int(dict(query)["Expires"]) + 1, UTC)
    with pytest.raises(AuthError) as e:
        authenticate("GET", raw, query, CIMultiDict({"Host": "127.0.0.1:9000"}), lookup, now=later)
    assert e.value.code == "AccessDenied" and "expired" in e.value.message


def test_v2_signs_every_amz_header() -> None:
    """V2 needs no unsigned-header check: CanonicalizedAmzHeaders puts every x-amz-* header in the
    string to sign, so one added to a presigned URL or a signed request breaks the signature."""
    raw, query = presign_v2("/bucket/key")
    for name, value in (
        ("x-amz-copy-source", "/other/secret"),
        ("x-amz-tagging", "a=b"),
        ("x-amz-object-lock-mode", "COMPLIANCE"),
    ):
        with pytest.raises(AuthError) as e:
            authenticate("GET", raw, query, CIMultiDict({"Host": "127.0.0.1:9000", name: value}), lookup)
        assert e.value.code == "SignatureDoesNotMatch"
    headers = CIMultiDict(
        {
            "Host": "s3.amazonaws.com",
            "Date": "Tue, 27 Mar 2007 19:36:42 +0000",
            "Authorization": f"AWS {AK}:bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
            "x-amz-tagging": "a=b",
        }
    )
    with pytest.raises(AuthError) as e:
        authenticate(
            "GET", "/johnsmith/photos/puppy.jpg", [], headers, lookup, now=datetime(2007, 3, 27, 19, 40, tzinfo=UTC)
        )
    assert e.value.code == "SignatureDoesNotMatch"


def test_v2_presigned_urls_live_at_most_a_week() -> None:
    # a V2 URL for the year 3000 is refused like X-Amz-Expires past 604800 (security issue, hole 8)
    raw, query = presign_v2("/bucket/key", expires=7 * 24 * 3600)
    host = CIMultiDict({"Host": "127.0.0.1:9000"})
    assert authenticate("GET", raw, query, host, lookup).presigned
    for too_long in (7 * 24 * 3600 + 3600, 365 * 24 * 3600):
        raw, query = presign_v2("/bucket/key", expires=too_long)
        with pytest.raises(AuthError) as e:
            authenticate("GET", raw, query, host, lookup)
        assert (e.value.code, status_of(e.value)) == ("AuthorizationQueryParametersError", 400)
    year_3000 = [(k, "32503680000" if k == "Expires" else v) for k, v in query]
    with pytest.raises(AuthError) as e:
        authenticate("GET", raw, year_3000, host, lookup)
    assert e.value.code == "AuthorizationQueryParametersError"
