"""POST policy forms: signatures made by real clients (boto3, minio-py) verify; the
policy grammar and its conditions behave as MinIO's (cmd/postpolicyform.go), with
AWS's stricter rule where MinIO is laxer (each such case says so)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from minio import Minio
from minio.datatypes import PostPolicy as MinioPostPolicy

from s3gw.auth import AuthError
from s3gw.auth import postpolicy as pp

from .helpers import status_of

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
NOW = datetime.now(UTC)


def lookup(key: str) -> str | None:
    return SK if key == AK else None


def fields_of(form: dict[str, str], **extra: str) -> dict[str, list[str]]:
    """A form as the API hands it over: lower-case names, lists of values."""
    out: dict[str, list[str]] = {}
    for k, v in {**form, **extra}.items():
        out.setdefault(k.lower(), []).append(v)
    return out


def b64(doc: Any) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


def expires(seconds: int = 300) -> str:
    return (NOW + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def v4_form(
    conditions: list[Any], *, secret: str = SK, expiration: str | None = None, date: str | None = None
) -> dict[str, list[str]]:
    """A SigV4 form with the fields boto3 sends and conditions naming them."""
    day = date or NOW.strftime("%Y%m%d")
    cred = f"{AK}/{day}/us-east-1/s3/aws4_request"
    amz_date = day + "T000000Z"
    doc = {
        "expiration": expiration or expires(),
        "conditions": [
            {"bucket": "b"},
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
            {"x-amz-credential": cred},
            {"x-amz-date": amz_date},
            *conditions,
        ],
    }
    policy = b64(doc)
    return fields_of(
        {
            "bucket": "b",
            "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": cred,
            "x-amz-date": amz_date,
            "policy": policy,
            "x-amz-signature": pp.sign_v4(secret, day, "us-east-1", policy),
        }
    )


def check(fields: dict[str, list[str]], now: datetime = NOW) -> None:
    policy = pp.parse_policy(fields["policy"][0])
    pp.check_policy(policy, fields, now, v2=pp.is_v2(fields))


def denied(fields: dict[str, list[str]], now: datetime = NOW) -> AuthError:
    with pytest.raises(AuthError) as e:
        check(fields, now)
    return e.value


# ---------------------------------------------------------------- signatures of real clients


def test_boto3_v4_and_v2_forms_verify_and_pass_their_own_policy() -> None:
    for version in ("s3v4", "s3"):
        s3 = boto3.client(
            "s3",
            endpoint_url="http://127.0.0.1:9",
            aws_access_key_id=AK,
            aws_secret_access_key=SK,
            region_name="us-east-1",
            config=Config(signature_version=version),
        )
        post = s3.generate_presigned_post(
            "b",
            "up/${filename}",
            Fields={"Content-Type": "image/png"},
            Conditions=[["starts-with", "$Content-Type", "image/"], ["content-length-range", 1, 1024]],
            ExpiresIn=600,
        )
        fields = fields_of(post["fields"], bucket="b")
        fields["key"] = ["up/cat.png"]  # ${filename} substituted, as the handler does
        assert pp.claimed_access_key(fields) == AK and pp.is_v2(fields) == (version == "s3")
        auth = pp.verify_signature(fields, lookup)
        assert auth.access_key == AK and not auth.anonymous
        policy = pp.parse_policy(fields["policy"][0])
        assert policy.length_range == (1, 1024)
        pp.check_policy(policy, fields, NOW, v2=pp.is_v2(fields))
        # a key outside the signed prefix fails its condition
        fields["key"] = ["elsewhere/cat.png"]
        with pytest.raises(AuthError) as e:
            pp.check_policy(policy, fields, NOW, v2=pp.is_v2(fields))
        assert e.value.code == "AccessDenied"


def test_minio_py_form_verifies() -> None:
    mc = Minio("127.0.0.1:9", access_key=AK, secret_key=SK, secure=False, region="us-east-1")
    pol = MinioPostPolicy("photos", NOW + timedelta(minutes=5))
    pol.add_starts_with_condition("key", "mpy/")
    pol.add_content_length_range_condition(1, 1000)
    form = mc.presigned_post_policy(pol)
    fields = fields_of(form, bucket="photos", key="mpy/x.bin")
    assert pp.verify_signature(fields, lookup).access_key == AK
    check(fields)


def test_tampered_signature_policy_or_key_is_refused() -> None:
    good = v4_form([{"key": "k"}])
    good["key"] = ["k"]
    pp.verify_signature(good, lookup)
    cases = {
        "signature": {**good, "x-amz-signature": ["0" * 64]},
        "policy": {**good, "policy": [b64({"expiration": expires(), "conditions": []})]},
        "secret": v4_form([{"key": "k"}], secret="not-the-secret-key"),
    }
    for name, fields in cases.items():
        with pytest.raises(AuthError) as e:
            pp.verify_signature(fields, lookup)
        assert e.value.code == "SignatureDoesNotMatch", name
    with pytest.raises(AuthError) as e:
        pp.verify_signature({**good, "x-amz-credential": ["nobody/20240101/us-east-1/s3/aws4_request"]}, lookup)
    assert e.value.code == "InvalidAccessKeyId"
    with pytest.raises(AuthError) as e:
        pp.verify_signature({**good, "x-amz-credential": ["garbage"]}, lookup)
    assert e.value.code == "AuthorizationQueryParametersError"


def test_v2_form_signature() -> None:
    policy = b64({"expiration": expires(), "conditions": [{"bucket": "b"}, {"key": "k"}]})
    fields = fields_of(
        {"AWSAccessKeyId": AK, "policy": policy, "signature": pp.sign_v2(SK, policy)}, bucket="b", key="k"
    )
    assert pp.verify_signature(fields, lookup).access_key == AK
    # AWSAccessKeyId and signature need no condition in a SigV2 form
    check(fields)
    with pytest.raises(AuthError) as e:
        pp.verify_signature({**fields, "signature": [pp.sign_v2("other-secret", policy)]}, lookup)
    assert e.value.code == "SignatureDoesNotMatch"


def test_anonymous_form() -> None:
    assert pp.is_anonymous({"key": ["k"], "policy": ["x"]})
    assert not pp.is_anonymous({"x-amz-credential": ["a/b/c/d/e"]}) and not pp.is_anonymous({"signature": ["s"]})
    assert pp.claimed_access_key({"key": ["k"]}) is None


# ---------------------------------------------------------------- the policy document


def invalid(doc: Any, raw: bool = False) -> AuthError:
    with pytest.raises(AuthError) as e:
        pp.parse_policy(base64.b64encode(doc.encode()).decode() if raw else b64(doc))
    return e.value


def test_malformed_policies_are_minio_errors() -> None:
    exp = expires()
    for doc in (
        [],
        {"expiration": exp, "conditions": [], "foo": 1},
        {"expiration": "tomorrow", "conditions": []},
        {"expiration": 5, "conditions": []},
        {"expiration": exp, "conditions": {"a": "b"}},
        {"expiration": exp, "conditions": [["eq", "$key"]]},
        {"expiration": exp, "conditions": [["eq", "key", "k"]]},
        {"expiration": exp, "conditions": [{"key": 1}]},
        {"expiration": exp, "conditions": ["x"]},
        {"expiration": exp, "conditions": [["matches", "$key", "k"]]},
        {"expiration": exp, "conditions": [["content-length-range", True, 10]]},
        {"expiration": exp, "conditions": [["content-length-range", "ten", 10]]},
        {"expiration": exp, "conditions": [["content-length-range", -1, 10]]},
        {"expiration": exp, "conditions": [["content-length-range", 0, 2**63]]},
    ):
        err = invalid(doc)
        assert (err.code, status_of(err)) == ("PostPolicyInvalidKeyName", 403), doc
        assert err.message.startswith(pp.MSG_FAILED + " '("), err.message
    for raw in (
        "not json",
        '{"expiration": "%s", "conditions": [], "conditions": []}' % exp,
        '{"conditions": %s}' % ("[" * 100000),
    ):
        assert invalid(raw, raw=True).code == "PostPolicyInvalidKeyName"
    assert (
        "multiple conditions"
        in invalid('{"expiration": "%s", "conditions": [], "conditions": []}' % exp, raw=True).message
    )
    with pytest.raises(AuthError) as e:
        pp.parse_policy("!!!not base64")
    assert e.value.code == "MalformedPOSTRequest"


def test_policy_grammar() -> None:
    doc = {
        "Expiration": "2099-01-01T00:00:00.123456789+02:00",
        "Conditions": [
            {"acl": "public-read", "Bucket": "b"},
            ["EQ", "$KEY", "k"],
            ["starts-with", "$Content-Type", "image/"],
            ["content-length-range", "10", 100.9],
            ["content-length-range", 5, 50],
        ],
    }
    p = pp.parse_policy(b64(doc))
    assert p.expiration == datetime(2098, 12, 31, 22, 0, 0, 123456, tzinfo=UTC)
    assert [(c.op, c.key, c.value) for c in p.conditions] == [
        ("eq", "$acl", "public-read"),
        ("eq", "$bucket", "b"),
        ("eq", "$key", "k"),
        ("starts-with", "$content-type", "image/"),
    ]
    assert p.length_range == (10, 50)  # every range holds (MinIO keeps the last one only)
    # base64 wrapped over lines, as some clients send it
    wrapped = "\r\n".join(b64(doc)[i : i + 76] for i in range(0, len(b64(doc)), 76))
    assert pp.parse_policy(wrapped) == p


# ---------------------------------------------------------------- conditions


def test_expired_policy() -> None:
    fields = v4_form([{"key": "k"}], expiration=expires(-1))
    fields["key"] = ["k"]
    err = denied(fields)
    assert err.code == "AccessDenied" and err.message == f"Access Denied. ({pp.MSG_EXPIRED})"


def test_each_violated_condition() -> None:
    base = [
        {"key": "k"},
        ["starts-with", "$Content-Type", "image/"],
        {"x-amz-meta-color": "red"},
        {"success_action_status": "201"},
    ]

    def form(**changes: str) -> dict[str, list[str]]:
        f = v4_form(base)
        f.update(
            {"key": ["k"], "content-type": ["image/png"], "x-amz-meta-color": ["red"], "success_action_status": ["201"]}
        )
        f.update({k.replace("_", "-") if k.startswith("x_") else k: [v] for k, v in changes.items()})
        return f

    check(form())
    assert denied(form(key="other")).message == f"Access Denied. ({pp.MSG_FAILED})"
    assert denied(form(**{"content-type": "text/html"})).code == "AccessDenied"
    assert (
        denied(form(x_amz_meta_color="blue")).message
        == f"Access Denied. ({pp.MSG_FAILED}: [eq, $x-amz-meta-color, red])"
    )
    assert denied(form(success_action_status="200")).code == "AccessDenied"
    assert denied(form(bucket="other")).code == "AccessDenied"
    # a field no condition names
    extra = form()
    extra["x-amz-meta-size"] = ["big"]
    assert denied(extra).message == (
        "Access Denied. (Each form field that you specify in a form must appear in the "
        'list of policy conditions. "X-Amz-Meta-Size" not specified in the policy.)'
    )
    # a field sent twice
    twice = form()
    twice["key"] = ["k", "k"]
    assert "FormValues have multiple values: [k, k]" in denied(twice).message
    # x-ignore- fields need no condition (AWS)
    ignored = form()
    ignored["x-ignore-tracking"] = ["1"]
    check(ignored)


def test_starts_with_is_refused_where_only_eq_is_allowed() -> None:
    for name in ("$bucket", "$x-amz-date", "$x-amz-credential", "$x-amz-algorithm", "$tagging"):
        fields = v4_form([{"key": "k"}, ["starts-with", name, ""]])
        fields["key"] = ["k"]
        fields.setdefault("tagging", ["<Tagging/>"])
        assert denied(fields).message == f"Access Denied. ({pp.MSG_FAILED})", name


def test_unknown_condition_is_checked_as_aws_does() -> None:
    # MinIO only excuses the field for a condition it does not know; AWS checks it
    fields = v4_form([{"key": "k"}, {"foo": "bar"}])
    fields["key"] = ["k"]
    assert denied(fields).message == f"Access Denied. ({pp.MSG_FAILED}: [eq, $foo, bar])"
    fields["foo"] = ["bar"]
    check(fields)


def test_canonical_names() -> None:
    assert pp.canonical_name("x-amz-meta-Color") == "X-Amz-Meta-Color"
    assert pp.canonical_name("content-md5") == "Content-Md5"
