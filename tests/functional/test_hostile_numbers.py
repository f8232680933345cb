"""Every number a request carries, sent hostile: a 4xx S3 error (or MinIO's lenient answer), never a 500.

Python's ``int()`` takes other scripts' digits (``int("١٢") == 12``), lets
``"²"`` pass ``isdigit()`` and then fails, and refuses more than 4300 digits
with an exception; MinIO parses with Go's ``strconv`` (ASCII digits, 64 bits).
Each value below goes through a real server (security issue, hole 6).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from email.utils import formatdate
from urllib.parse import quote

import pytest

from tests.conftest import Server
from tests.functional.rawhttp import Response, send, signed_request
from tests.sigv4_client import EMPTY_SHA256, amz_now, sign, signing_key

# superscript two (passes str.isdigit, int() refuses it), Arabic-Indic digits (int() takes them),
# 5000 digits (past int()'s 4300-digit limit), and the plainly wrong
HOSTILE = ["²", "١٢", "9" * 5000, "abc", "1.5", "0x10", " 7", "1_0", "12²"]
IDS = ["superscript", "arabic-indic", "5000-digits", "letters", "decimal", "hex", "space", "underscore", "mixed"]


def code_of(r: Response) -> str:
    body = r.body.decode(errors="replace")
    return body.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in body else ""


def assert_s3_error(r: Response, status: int, code: str) -> None:
    assert (r.status, code_of(r)) == (status, code), (r.status, r.body[:400])


def host(server: Server) -> str:
    return f"127.0.0.1:{server.port}"


# ---------------------------------------------------------------- query parameters


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_listing_limits(server, bucket: str, value: str) -> None:
    q = quote(value)
    for path in (
        f"/{bucket}?max-keys={q}",
        f"/{bucket}?list-type=2&max-keys={q}",
        f"/{bucket}?versions&max-keys={q}",
        f"/{bucket}?uploads&max-uploads={q}",
    ):
        assert_s3_error(signed_request(server, "GET", path), 400, "InvalidArgument")


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_part_numbers(server, s3, bucket: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="obj", Body=b"0123456789")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    q = quote(value)
    # UploadPart: MinIO answers InvalidPart for a part number that does not parse
    assert_s3_error(
        signed_request(server, "PUT", f"/{bucket}/mp?partNumber={q}&uploadId={uid}", b"x"), 400, "InvalidPart"
    )
    for path in (
        f"/{bucket}/mp?uploadId={uid}&max-parts={q}",
        f"/{bucket}/mp?uploadId={uid}&part-number-marker={q}",
        f"/{bucket}/obj?partNumber={q}",
    ):
        assert_s3_error(signed_request(server, "GET", path), 400, "InvalidArgument")
    assert signed_request(server, "HEAD", f"/{bucket}/obj?partNumber={q}").status == 400
    # nothing was uploaded as some other part
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)


# ---------------------------------------------------------------- Range and copy ranges


@pytest.mark.parametrize(
    "rng",
    [
        "bytes=0-" + "9" * 5000,
        "bytes=" + "9" * 5000 + "-",
        "bytes=-" + "9" * 5000,
        "bytes=0-²",
        "bytes=١-٢",
        "bytes=-١",
        "bytes=0-99999999999999999999",
        "bytes=+1-2",
        "bytes= 1-2",
    ],
    ids=[
        "end-5000",
        "start-5000",
        "suffix-5000",
        "superscript",
        "arabic",
        "arabic-suffix",
        "past-int64",
        "sign",
        "space",
    ],
)
def test_range_that_does_not_parse_is_ignored(server, s3, bucket: str, rng: str) -> None:
    # MinIO (like AWS) serves the whole object when Range does not parse (strconv.ParseInt fails)
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    r = signed_request(server, "GET", f"/{bucket}/r", headers={"Range": rng})
    assert (r.status, r.body) == (200, b"0123456789"), (r.status, r.body[:300])


@pytest.mark.parametrize(
    "rng",
    ["bytes=0-" + "9" * 5000, "bytes=0-²", "bytes=١-٢", "bytes=0-99999999999999999999"],
    ids=["5000-digits", "superscript", "arabic", "past-int64"],
)
def test_copy_source_range(server, s3, bucket: str, rng: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    r = signed_request(
        server,
        "PUT",
        f"/{bucket}/dst?partNumber=1&uploadId={uid}",
        headers={"x-amz-copy-source": f"{bucket}/src", "x-amz-copy-source-range": rng},
    )
    assert_s3_error(r, 400, "InvalidArgument")
    s3.abort_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid)


# ---------------------------------------------------------------- XML numbers


@pytest.mark.parametrize(
    "number",
    ["²", "9" * 5000, "١", "<n>1</n>", "abc"],
    ids=["superscript", "5000-digits", "arabic", "element", "letters"],
)
def test_complete_multipart_part_number(server, s3, bucket: str, number: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="c")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="c", UploadId=uid, PartNumber=1, Body=b"x")["ETag"]
    body = (
        f"<CompleteMultipartUpload><Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
        "</CompleteMultipartUpload>"
    )
    assert_s3_error(signed_request(server, "POST", f"/{bucket}/c?uploadId={uid}", body.encode()), 400, "MalformedXML")
    s3.abort_multipart_upload(Bucket=bucket, Key="c", UploadId=uid)


@pytest.mark.parametrize(
    "days,message",
    [("²", ""), ("9" * 5000, ""), ("١", ""), ("<n>1</n>", ""), ("36501", "too large"), ("1", None)],
    ids=["superscript", "5000-digits", "arabic", "element", "past-100-years", "valid"],
)
def test_lock_configuration_days(server, s3, days: str, message: str | None) -> None:
    name = f"lockdays-{abs(hash(days)) % 10**8}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    body = (
        "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>"
        f"<Mode>GOVERNANCE</Mode><Days>{days}</Days></DefaultRetention></Rule></ObjectLockConfiguration>"
    ).encode()
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = signed_request(server, "PUT", f"/{name}?object-lock", body, {"Content-MD5": md5})
    if message is None:
        assert r.status == 200, r.body
    else:
        assert_s3_error(r, 400, "MalformedXML")
        assert message.encode() in r.body
    s3.delete_bucket(Bucket=name)


# ---------------------------------------------------------------- headers


@pytest.mark.parametrize(
    "value", ["²", "abc", "9" * 5000, "١٢", "1.5"], ids=["superscript", "letters", "5000-digits", "arabic", "decimal"]
)
def test_decoded_content_length(server, bucket: str, value: str) -> None:
    path = f"/{bucket}/chunked"
    date = amz_now()
    body = b"5\r\nhello\r\n0\r\n\r\n"
    headers, *_ = sign(
        "PUT",
        path,
        [],
        {"host": host(server), "x-amz-decoded-content-length": value, "content-encoding": "aws-chunked"},
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        server.access_key,
        server.secret_key,
        date,
    )
    headers["content-length"] = str(len(body))
    r = send(server, "PUT", path, headers, body)
    assert_s3_error(r, 400, "InvalidArgument")
    assert signed_request(server, "HEAD", path).status == 404


@pytest.mark.parametrize("value", ["²", "9" * 5000, "١٢"], ids=["superscript", "5000-digits", "arabic"])
def test_content_length(server, bucket: str, value: str) -> None:
    r = send(server, "PUT", f"/{bucket}/cl", {"Host": host(server), "Content-Length": value}, b"x")
    assert 400 <= r.status < 500, (r.status, r.body[:300])


# ---------------------------------------------------------------- signatures and dates


def _v2_presigned(server: Server, path: str, expires: str) -> str:
    sts = f"GET\n\n\n{expires}\n{path}"
    sig = base64.b64encode(hmac.new(server.secret_key.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    return f"{path}?AWSAccessKeyId={quote(server.access_key)}&Expires={quote(expires)}&Signature={quote(sig)}"


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_sigv2_presigned_expires(server, s3, bucket: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="v2", Body=b"x")
    r = send(server, "GET", _v2_presigned(server, f"/{bucket}/v2", value), {"Host": host(server)})
    assert_s3_error(r, 400, "AuthorizationQueryParametersError")


def test_sigv2_presigned_expires_in_arabic_digits_is_not_a_date(server, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="v2", Body=b"x")
    later = str(int(time.time()) + 600).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    r = send(server, "GET", _v2_presigned(server, f"/{bucket}/v2", later), {"Host": host(server)})
    assert_s3_error(r, 400, "AuthorizationQueryParametersError")


def _v4_presigned_query(server: Server, path: str, expires: str, amz_date: str | None = None) -> str:
    amz_date = amz_date or amz_now()
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    query = sorted(
        [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{server.access_key}/{scope}"),
            ("X-Amz-Date", amz_date),
            ("X-Amz-Expires", expires),
            ("X-Amz-SignedHeaders", "host"),
        ]
    )
    cq = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query)
    canonical = "\n".join(["GET", path, cq, f"host:{host(server)}\n", "host", "UNSIGNED-PAYLOAD"])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    sig = hmac.new(signing_key(server.secret_key, amz_date[:8]), sts.encode(), hashlib.sha256).hexdigest()
    return f"{path}?{cq}&X-Amz-Signature={sig}"


@pytest.mark.parametrize("value", HOSTILE, ids=IDS)
def test_sigv4_presigned_expires(server, s3, bucket: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="v4", Body=b"x")
    r = send(server, "GET", _v4_presigned_query(server, f"/{bucket}/v4", value), {"Host": host(server)})
    assert_s3_error(r, 400, "AuthorizationQueryParametersError")


def test_amz_date_in_other_digits_is_malformed(server, bucket: str) -> None:
    arabic = amz_now().translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    headers, *_ = sign(
        "GET", f"/{bucket}", [], {"host": host(server)}, EMPTY_SHA256, server.access_key, server.secret_key, arabic
    )
    r = send(server, "GET", f"/{bucket}", {k: v for k, v in headers.items()})
    assert 400 <= r.status < 500 and r.status != 200, (r.status, r.body[:300])


@pytest.mark.parametrize(
    "date",
    [
        "Mon, 01 Jan 2024 00:00:00 +9999999999999999999999",
        "Mon, 01 Jan 99999 00:00:00 GMT",
        formatdate(usegmt=True) + "9" * 5000,
    ],
    ids=["huge-zone", "huge-year", "5000-digits"],
)
def test_date_headers(server, bucket: str, date: str) -> None:
    # SigV2 header auth dated by Date:, and SigV4 dated only by Date:
    sts = f"GET\n\n\n{date}\n/{bucket}"
    sig = base64.b64encode(hmac.new(server.secret_key.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    r = send(
        server,
        "GET",
        f"/{bucket}",
        {"Host": host(server), "Date": date, "Authorization": f"AWS {server.access_key}:{sig}"},
    )
    assert 400 <= r.status < 500, (r.status, r.body[:300])
    scope = f"{dt.datetime.now(dt.UTC):%Y%m%d}/us-east-1/s3/aws4_request"
    r = send(
        server,
        "GET",
        f"/{bucket}",
        {
            "Host": host(server),
            "Date": date,
            "x-amz-content-sha256": EMPTY_SHA256,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={server.access_key}/{scope}, SignedHeaders=date;host, "
            f"Signature={'0' * 64}",
        },
    )
    assert 400 <= r.status < 500, (r.status, r.body[:300])


@pytest.mark.parametrize("value", ["Mon, ٠١ Jan 2024 00:00:00 GMT", "Mon, 01 Jan 2024 00:00:00 GMT" + "9" * 5000])
def test_conditional_dates_that_do_not_parse_are_ignored(server, s3, bucket: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="cond", Body=b"x")
    for name in ("If-Modified-Since", "If-Unmodified-Since"):
        r = signed_request(server, "GET", f"/{bucket}/cond", headers={name: value})
        assert (r.status, r.body) == (200, b"x"), (name, r.status, r.body[:300])


@pytest.mark.parametrize("vid", ["١" * 32, "9" * 5000, "{" + "a" * 32 + "}" + "9" * 5000])
def test_version_ids(server, s3, bucket: str, vid: str) -> None:
    s3.put_object(Bucket=bucket, Key="v", Body=b"x")
    assert_s3_error(signed_request(server, "GET", f"/{bucket}/v?versionId={quote(vid)}"), 400, "InvalidArgument")


@pytest.mark.parametrize("value", ["²", "9" * 5000, "١٢"], ids=["superscript", "5000-digits", "arabic"])
def test_retain_until_dates(server, s3, value: str) -> None:
    name = f"lockdate-{abs(hash(value)) % 10**8}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    body = b"x"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = signed_request(
        server,
        "PUT",
        f"/{name}/o",
        body,
        {
            "Content-MD5": md5,
            "x-amz-object-lock-mode": "GOVERNANCE",
            "x-amz-object-lock-retain-until-date": f"{value}-01-01T00:00:00Z",
        },
    )
    assert 400 <= r.status < 500, (r.status, r.body[:300])
    s3.delete_bucket(Bucket=name)


# ---------------------------------------------------------------- the metrics bearer token


def _jwt(secret: str, claims: object, alg: str = "HS512") -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(claims.encode() if isinstance(claims, str) else json.dumps(claims).encode())
    digest = hashlib.sha512 if alg == "HS512" else hashlib.sha256
    return f"{head}.{body}.{b64(hmac.new(secret.encode(), f'{head}.{body}'.encode(), digest).digest())}"


@pytest.mark.parametrize(
    "exp",
    ["abc", "²", "١٢", "9" * 5000, [1], {"a": 1}, True, "1e999"],
    ids=["letters", "superscript", "arabic", "5000-digits", "list", "object", "bool", "inf-text"],
)
def test_metrics_token_with_a_bad_exp(server, exp: object) -> None:
    token = _jwt(server.secret_key, {"exp": exp, "sub": server.access_key, "iss": "prometheus"})
    r = send(server, "GET", "/minio/v2/metrics/cluster", {"Host": host(server), "Authorization": f"Bearer {token}"})
    assert r.status == 403, (r.status, r.body[:300])


def test_metrics_token_with_odd_claims(server) -> None:
    # nested past the JSON parser's stack (and still under the token size bound), then far past that bound
    deep, huge = '{"exp":' + "[" * 2000 + "]" * 2000 + "}", '{"exp":' + "[" * 20_000 + "]" * 20_000 + "}"
    for claims in ('{"exp": 1e999, "sub": "%s"}' % server.access_key, deep, huge, "[]", '"s"'):
        token = _jwt(server.secret_key, claims)
        r = send(server, "GET", "/minio/v2/metrics/cluster", {"Host": host(server), "Authorization": f"Bearer {token}"})
        assert r.status == 403, (claims[:40], r.status, r.body[:300])


# ---------------------------------------------------------------- the service root


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_methods_on_the_service_root(server, method: str) -> None:
    # MinIO routes only GET / (ListBuckets); other methods answer 405 MethodNotAllowed
    r = signed_request(server, method, "/")
    assert_s3_error(r, 405, "MethodNotAllowed")
    assert signed_request(server, "HEAD", "/").status == 405
