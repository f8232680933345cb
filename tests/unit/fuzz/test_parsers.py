"""Property-based fuzzing of every parser a client's bytes reach before authorisation.

Each harness feeds hostile input (mutations of valid requests, not only noise) to
one parser and asserts that it answers with its own refusal type and nothing else:
an unexpected exception here is a 500 on the wire. The budget is small in
``make test`` (``S3GW_FUZZ_EXAMPLES``, default 150 per harness) and large in
``make fuzz``; a crash found once is kept below as an ``@example``.
"""

from __future__ import annotations

import datetime as dt
import os
import string

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from s3gw.api import madmin_crypto
from s3gw.api import xml as X
from s3gw.auth import (
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    AuthError,
    AuthResult,
    ChunkedDecoder,
    authenticate,
)
from s3gw.core import conditions as C
from s3gw.core.errors import CoreError
from s3gw.core.ranges import parse_range
from tests.sigv4_client import sign
from tests.unit.auth.helpers import AK, SK, chunked_example_auth, encode_signed

EXAMPLES = int(os.environ.get("S3GW_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
AMZ_DATE = NOW.strftime("%Y%m%dT%H%M%SZ")

# text that stresses parsers: digits of other scripts (int() accepts them), long runs, separators
tricky = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789", min_size=1, max_size=6000),
    st.sampled_from(
        [
            "²",
            "٣",
            "१२३",
            "\u00a0",
            "-1",
            "+5",
            "0x10",
            "1e9",
            "nan",
            "inf",
            "99999999999999999999",
            "",
            " ",
            ",",
            "=",
            "/",
            ";",
            "\r\n",
            "\x00",
            "%",
            "%zz",
            "AWS4-HMAC-SHA256",
        ]
    ),
    st.text(alphabet=string.printable, max_size=200),
)


def lookup(access_key: str) -> str | None:
    return SK if access_key == AK else None


def _auth(method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str]) -> None:
    try:
        authenticate(method, path, query, headers, lookup, now=NOW, region="")
    except AuthError:
        pass


def _signed_headers() -> dict[str, str]:
    headers, *_ = sign("PUT", "/b/k", [], {"host": "127.0.0.1:9000"}, "UNSIGNED-PAYLOAD", AK, SK, AMZ_DATE)
    return headers


@FUZZ
@given(
    name=st.sampled_from(
        [
            "authorization",
            "x-amz-date",
            "x-amz-content-sha256",
            "host",
            "date",
            "x-amz-decoded-content-length",
            "content-md5",
            "x-amz-trailer",
        ]
    ),
    value=tricky,
    cut=st.integers(min_value=0, max_value=400),
)
@example(name="x-amz-date", value="²" * 16, cut=400)
def test_sigv4_header_auth_mutated(name: str, value: str, cut: int) -> None:
    headers = _signed_headers()
    original = headers.get(name, "")
    headers[name] = original[:cut] + value
    _auth("PUT", "/b/k", [], headers)


@FUZZ
@given(
    param=st.sampled_from(
        [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
            "X-Amz-Content-Sha256",
            "X-Amz-Security-Token",
        ]
    ),
    value=tricky,
)
@example(param="X-Amz-Expires", value="9" * 5000)
@example(param="X-Amz-Expires", value="٣٠٠")
def test_sigv4_presigned_mutated(param: str, value: str) -> None:
    query = [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Credential", f"{AK}/{AMZ_DATE[:8]}/us-east-1/s3/aws4_request"),
        ("X-Amz-Date", AMZ_DATE),
        ("X-Amz-Expires", "300"),
        ("X-Amz-SignedHeaders", "host"),
        ("X-Amz-Signature", "0" * 64),
    ]
    query = [(k, value if k == param else v) for k, v in query]
    if param not in {k for k, _ in query}:
        query.append((param, value))
    _auth("GET", "/b/k", query, {"host": "127.0.0.1:9000"})


@FUZZ
@given(expires=tricky, key=tricky, sig=tricky, header=tricky)
@example(expires="²", key=AK, sig="x", header="")
@example(expires="9" * 5000, key=AK, sig="x", header="")
def test_sigv2_header_and_presigned(expires: str, key: str, sig: str, header: str) -> None:
    _auth("GET", "/b/k", [("AWSAccessKeyId", key), ("Expires", expires), ("Signature", sig)], {"host": "h"})
    _auth("GET", "/b/k", [], {"host": "h", "authorization": "AWS " + header, "date": expires})


@FUZZ
@given(
    data=st.binary(max_size=3000),
    pos=st.integers(min_value=0),
    junk=st.binary(max_size=64),
    splits=st.lists(st.integers(min_value=1, max_value=700), max_size=8),
    mode=st.sampled_from([STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER]),
    declared=st.one_of(st.none(), st.integers(min_value=0, max_value=1 << 40)),
)
def test_chunked_decoder_mutations(
    data: bytes, pos: int, junk: bytes, splits: list[int], mode: str, declared: int | None
) -> None:
    """A valid aws-chunked body with bytes spliced in at any place, fed in any split."""
    auth = chunked_example_auth()
    body = (
        encode_signed(auth, data, 1024)
        if mode != STREAMING_UNSIGNED_PAYLOAD_TRAILER
        else (b"%x\r\n" % len(data) + data + b"\r\n0\r\n\r\n")
    )
    pos %= len(body) + 1
    body = body[:pos] + junk + body[pos:]
    use = auth if mode != STREAMING_UNSIGNED_PAYLOAD_TRAILER else AuthResult(anonymous=True, content_sha256=mode)
    try:
        dec = ChunkedDecoder(use, mode, ["x-amz-checksum-crc32"] if mode != STREAMING_PAYLOAD else [], declared)
        i = 0
        for n in splits + [len(body)]:
            dec.feed(body[i : i + n])
            i += n
        dec.finish()
    except AuthError:
        pass


@FUZZ
@given(
    header=st.one_of(tricky, st.builds(lambda a, b: f"bytes={a}-{b}", tricky, tricky)),
    size=st.integers(min_value=0, max_value=1 << 50),
)
@example(header="bytes=0-" + "9" * 5000, size=10)
@example(header="bytes=²-5", size=10)
def test_range(header: str, size: int) -> None:
    try:
        r = parse_range(header, size)
    except CoreError:
        return
    if r is not None:
        start, length = r
        assert 0 <= start < max(size, 1) and 0 <= length and start + length <= size


@FUZZ
@given(value=tricky, etag=st.text(max_size=40))
def test_conditional_headers(value: str, etag: str) -> None:
    C.parse_http_date(value)
    C.etag_matches(etag, value)
    for names in (("If-Match",), ("If-None-Match",), ("If-Modified-Since",), ("If-Unmodified-Since",)):
        cond = C.Conditions(
            **{
                {
                    "If-Match": "if_match",
                    "If-None-Match": "if_none_match",
                    "If-Modified-Since": "if_modified_since",
                    "If-Unmodified-Since": "if_unmodified_since",
                }[names[0]]: value
            }
        )
        try:
            C.check_read(cond, etag, 1_700_000_000.0)
        except CoreError:
            pass
        try:
            C.check_write(value, None, etag)
            C.check_write(None, value, etag or None)
        except CoreError:
            pass


xml_tree = st.recursive(
    st.text(alphabet=string.ascii_letters + "<>&;/=\"' ", max_size=20),
    lambda inner: st.builds(
        lambda tag, kids: f"<{tag}>{''.join(kids)}</{tag}>",
        st.sampled_from(["Delete", "Object", "Key", "Tagging", "TagSet", "Tag", "Part", "x:y"]),
        st.lists(inner, max_size=4),
    ),
    max_leaves=30,
)


@FUZZ
@given(
    doc=st.one_of(xml_tree, st.binary(max_size=300).map(lambda b: b.decode("latin-1"))),
    prefix=st.sampled_from(["", '<?xml version="1.0"?>', "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"]),
)
def test_xml_documents(doc: str, prefix: str) -> None:
    try:
        X.parse((prefix + doc).encode("utf-8", "surrogatepass"))
    except X.XMLError:
        pass


@settings(max_examples=max(10, EXAMPLES // 10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=200), password=st.text(max_size=20))
@example(data=b"\x00" * 41, password="x")
def test_madmin_decryptor(data: bytes, password: str) -> None:
    try:
        madmin_crypto.decrypt_data(password, data)
    except madmin_crypto.DecryptError:
        pass


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), tricky),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(tricky, inner, max_size=4)),
    max_leaves=20,
)


@FUZZ
@given(
    doc=st.one_of(
        json_value,
        st.fixed_dictionaries(
            {
                "expiration": st.one_of(tricky, st.just("2030-01-01T00:00:00.000Z")),
                "conditions": st.lists(
                    st.one_of(st.lists(json_value, max_size=4), st.dictionaries(tricky, json_value, max_size=2)),
                    max_size=6,
                ),
            }
        ),
    ),
    raw=st.one_of(st.none(), st.binary(max_size=200)),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "key",
                "bucket",
                "content-type",
                "x-amz-meta-a",
                "policy",
                "x-amz-credential",
                "x-amz-date",
                "x-amz-signature",
                "x-amz-algorithm",
                "awsaccesskeyid",
                "signature",
                "success_action_status",
                "success_action_redirect",
                "tagging",
            ]
        ),
        st.lists(tricky, min_size=1, max_size=2),
        max_size=8,
    ),
)
@example(
    doc={"expiration": "2030-01-01T00:00:00.000Z", "conditions": [["content-length-range", "9" * 5000, 1]]},
    raw=None,
    fields={},
)
def test_post_policy_forms(doc, raw: bytes | None, fields: dict[str, list[str]]) -> None:
    """The policy document (any JSON, or any bytes), its conditions against any form, and the
    form's signature fields: only AuthError."""
    import base64
    import json as _json

    from s3gw.auth import postpolicy as pp

    try:
        text = _json.dumps(doc)
    except (ValueError, TypeError):
        return
    policy_b64 = base64.b64encode(raw if raw is not None else text.encode()).decode()
    try:
        policy = pp.parse_policy(policy_b64)
        pp.check_policy(policy, fields, NOW)
        pp.check_policy(policy, fields, NOW, v2=True)
    except AuthError:
        pass
    try:
        pp.verify_signature({**fields, "policy": [policy_b64]}, lookup)
    except AuthError:
        pass
