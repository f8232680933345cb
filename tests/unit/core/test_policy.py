"""The policy engine (s3gw/core/policy.py): grammar, validation, every operator, evaluation order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from s3gw.core import policy as P

ARN = "arn:aws:s3:::"


def bucket_policy(*statements: dict[str, Any], bucket: str = "b") -> P.Policy:
    return P.parse({"Version": "2012-10-17", "Statement": list(statements)}, kind="bucket", bucket=bucket)


def allow(action: str = "s3:GetObject", resource: str = ARN + "b/*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": resource, **extra}


def deny(action: str = "s3:GetObject", resource: str = ARN + "b/*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": "*", "Action": action, "Resource": resource, **extra}


def ask(
    policies: list[P.Policy],
    action: str = "s3:GetObject",
    resource: str = ARN + "b/k",
    principal: str | None = None,
    unknown: frozenset[str] = frozenset(),
    **values: Any,
) -> str | None:
    return P.decide(policies, P.Request(action, resource, principal, P.Context(dict(values), unknown)))


def cond(
    op: str, key: str, values: Any, ctx: dict[str, list[str]], action: str = "s3:*", resource: str = ARN + "b/*"
) -> bool:
    """Does an Allow with this one condition let a request with ``ctx`` in?"""
    p = bucket_policy(allow(action, resource, Condition={op: {key: values}}))
    return P.decide([p], P.Request("s3:GetObject", ARN + "b/k", None, P.Context(ctx))) == P.ALLOW


# --------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    "op,values,got,expected",
    [
        ("StringEquals", ["a", "b"], ["b"], True),
        ("StringEquals", ["a"], ["A"], False),
        ("StringEquals", ["a"], None, False),
        ("StringNotEquals", ["a"], ["b"], True),
        ("StringNotEquals", ["a"], ["a"], False),
        ("StringNotEquals", ["a"], None, True),  # absent key: the negation of a non-match
        ("StringEqualsIgnoreCase", ["Photos/"], ["photos/"], True),
        ("StringNotEqualsIgnoreCase", ["Photos/"], ["PHOTOS/"], False),
        ("StringNotEqualsIgnoreCase", ["Photos/"], ["docs/"], True),
        ("StringLike", ["home/*", "pub?/"], ["home/alice/x"], True),
        ("StringLike", ["home/*", "pub?/"], ["pubs/"], True),
        ("StringLike", ["home/*"], ["other/"], False),
        ("StringNotLike", ["home/*"], ["other/"], True),
        ("StringNotLike", ["home/*"], ["home/"], False),
        ("StringLikeIfExists", ["home/*"], None, True),
        ("StringLikeIfExists", ["home/*"], ["other"], False),
        ("StringEqualsIfExists", ["a"], ["a"], True),
    ],
)
def test_string_operators(op: str, values: list[str], got: list[str] | None, expected: bool) -> None:
    assert cond(op, "s3:prefix", values, {"s3:prefix": got} if got is not None else {}) is expected


def test_binary_equals() -> None:
    assert cond("BinaryEquals", "aws:UserAgent", "Ym90bw==", {"aws:UserAgent": ["boto"]})
    assert not cond("BinaryEquals", "aws:UserAgent", "Ym90bw==", {"aws:UserAgent": ["mc"]})


@pytest.mark.parametrize(
    "op,value,got,expected",
    [
        ("NumericEquals", 10, "10", True),
        ("NumericEquals", "10", "11", False),
        ("NumericNotEquals", 10, "11", True),
        ("NumericNotEquals", 10, "10", False),
        ("NumericLessThan", 10, "9", True),
        ("NumericLessThan", 10, "10", False),
        ("NumericLessThanEquals", 10, "10", True),
        ("NumericLessThanEquals", 10, "11", False),
        ("NumericGreaterThan", 10, "11", True),
        ("NumericGreaterThan", 10, "10", False),
        ("NumericGreaterThanEquals", 10, "10", True),
        ("NumericGreaterThanEquals", 10, "9", False),
        ("NumericLessThan", 10, "abc", False),  # a request value that is no number matches nothing
        ("NumericLessThan", 10, None, False),
        ("NumericLessThanIfExists", 10, None, True),
        ("NumericGreaterThanIfExists", 10, "5", False),
    ],
)
def test_numeric_operators(op: str, value: Any, got: str | None, expected: bool) -> None:
    assert cond(op, "s3:max-keys", value, {"s3:max-keys": [got]} if got is not None else {}) is expected


def _list_cond(op: str, value: Any, got: str | None) -> bool:
    p = bucket_policy(allow("s3:ListBucket", ARN + "b", Condition={op: {"s3:max-keys": value}}))
    ctx = {"s3:max-keys": [got]} if got is not None else {}
    return P.decide([p], P.Request("s3:ListBucket", ARN + "b", None, P.Context(ctx))) == P.ALLOW


@pytest.mark.parametrize(
    "op,value,got,expected",
    [
        ("NumericEquals", 10, "10", True),
        ("NumericLessThan", 10, "11", False),
        ("NumericLessThan", 10, None, False),
        ("NumericLessThanIfExists", 10, None, True),
        ("NumericNotEquals", 10, None, True),
    ],
)
def test_numeric_on_a_listing(op: str, value: Any, got: str | None, expected: bool) -> None:
    assert _list_cond(op, value, got) is expected


@pytest.mark.parametrize(
    "op,expected_before,expected_after",
    [
        ("DateEquals", False, False),
        ("DateNotEquals", True, True),
        ("DateLessThan", True, False),
        ("DateLessThanEquals", True, False),
        ("DateGreaterThan", False, True),
        ("DateGreaterThanEquals", False, True),
    ],
)
def test_date_operators(op: str, expected_before: bool, expected_after: bool) -> None:
    limit = "2030-01-01T00:00:00Z"
    assert cond(op, "aws:CurrentTime", limit, {"aws:CurrentTime": ["2029-12-31T23:59:59Z"]}) is expected_before
    assert cond(op, "aws:CurrentTime", limit, {"aws:CurrentTime": ["2030-01-01T00:00:01Z"]}) is expected_after
    assert cond("DateEquals", "aws:CurrentTime", limit, {"aws:CurrentTime": ["2030-01-01T01:00:00+01:00"]})
    # aws:EpochTime is compared as a time too
    assert cond("DateLessThan", "aws:EpochTime", limit, {"aws:EpochTime": ["1700000000"]})
    assert not cond("DateLessThanIfExists", "aws:CurrentTime", limit, {"aws:CurrentTime": ["2031-01-01T00:00:00Z"]})
    assert cond("DateLessThanIfExists", "aws:CurrentTime", limit, {})


def test_bool_and_null() -> None:
    assert cond("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": ["true"]})
    assert cond("Bool", "aws:SecureTransport", True, {"aws:SecureTransport": ["true"]})
    assert not cond("Bool", "aws:SecureTransport", "false", {"aws:SecureTransport": ["true"]})
    assert cond("BoolIfExists", "aws:SecureTransport", "false", {})
    assert cond("Null", "aws:Referer", "true", {})
    assert not cond("Null", "aws:Referer", "true", {"aws:Referer": ["https://x"]})
    assert cond("Null", "aws:Referer", False, {"aws:Referer": ["https://x"]})
    assert not cond("Null", "aws:Referer", "false", {})


def test_ip_addresses() -> None:
    nets = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
    assert cond("IpAddress", "aws:SourceIp", nets, {"aws:SourceIp": ["10.20.30.40"]})
    assert cond("IpAddress", "aws:SourceIp", nets, {"aws:SourceIp": ["192.0.2.7"]})
    assert not cond("IpAddress", "aws:SourceIp", nets, {"aws:SourceIp": ["192.0.2.8"]})
    assert cond("IpAddress", "aws:SourceIp", nets, {"aws:SourceIp": ["2001:db8::1"]})
    assert not cond("IpAddress", "aws:SourceIp", nets, {"aws:SourceIp": ["2001:db9::1"]})
    assert cond("NotIpAddress", "aws:SourceIp", nets, {"aws:SourceIp": ["127.0.0.1"]})
    assert not cond("NotIpAddress", "aws:SourceIp", nets, {"aws:SourceIp": ["10.0.0.1"]})
    assert not cond("IpAddress", "aws:SourceIp", nets, {"aws:SourceIp": ["garbage"]})


def test_arn_operators() -> None:
    ctx = {"aws:PrincipalArn": ["arn:aws:iam::000000000000:user/alice"]}
    assert cond("ArnEquals", "aws:PrincipalArn", "arn:aws:iam::*:user/alice", ctx)
    assert cond("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:user/a*", ctx)
    assert not cond("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:user/b*", ctx)
    assert cond("ArnNotLike", "aws:PrincipalArn", "arn:aws:iam::*:user/b*", ctx)
    assert not cond("ArnNotEquals", "aws:PrincipalArn", "arn:aws:iam::*:user/alice", ctx)
    # each of the six parts on its own
    assert cond("ArnLike", "aws:PrincipalArn", "arn:aws:*::*:user/alice", ctx)
    assert not cond("ArnLike", "aws:PrincipalArn", "arn:aws:s3::*:user/alice", ctx)
    with pytest.raises(P.PolicyError, match="must be an ARN"):
        cond("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*", ctx)


def test_qualifiers_over_several_values() -> None:
    keys = "s3:RequestObjectTagKeys"
    two = {keys: ["project", "team"]}
    assert cond("ForAllValues:StringEquals", keys, ["project", "team", "cost"], two)
    assert not cond("ForAllValues:StringEquals", keys, ["project"], two)
    assert cond("ForAllValues:StringEquals", keys, ["project"], {})  # no values: vacuously true
    assert cond("ForAnyValue:StringEquals", keys, ["team"], two)
    assert not cond("ForAnyValue:StringEquals", keys, ["cost"], two)
    assert not cond("ForAnyValue:StringEquals", keys, ["team"], {})  # no values: false
    assert cond("ForAnyValue:StringLike", keys, ["te*"], two)
    assert cond("ForAllValues:StringLike", keys, ["p*", "t*"], two)
    # negated operators apply to each value: ForAllValues:StringNotEquals = no value is in the set
    assert cond("ForAllValues:StringNotEquals", keys, ["secret"], two)
    assert not cond("ForAllValues:StringNotEquals", keys, ["team"], two)
    assert cond("ForAnyValue:StringNotEquals", keys, ["team"], two)  # "project" is not "team"
    assert not cond("ForAnyValue:StringNotEquals", keys, ["team", "project"], two)
    assert cond("ForAnyValue:StringEqualsIfExists", keys, ["x"], {})


def test_policy_variables() -> None:
    p = P.parse(
        {
            "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"},
                {
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": "arn:aws:s3:::home",
                    "Condition": {"StringLike": {"s3:prefix": "${aws:username}/*"}},
                },
            ]
        }
    )
    me = P.Context({"aws:username": ["alice"]})
    assert P.decide([p], P.Request("s3:GetObject", ARN + "home/alice/a", "alice", me)) == P.ALLOW
    assert P.decide([p], P.Request("s3:GetObject", ARN + "home/bob/a", "alice", me)) is None
    listing = P.Context({"aws:username": ["alice"], "s3:prefix": ["alice/docs/"]})
    assert P.decide([p], P.Request("s3:ListBucket", ARN + "home", "alice", listing)) == P.ALLOW
    # a user named "*" gets its literal name, not a wildcard; without the key the variable matches nothing
    star = P.Context({"aws:username": ["*"]})
    assert P.decide([p], P.Request("s3:GetObject", ARN + "home/alice/a", "*", star)) is None
    assert P.decide([p], P.Request("s3:GetObject", ARN + "home/*/a", "*", star)) == P.ALLOW
    assert P.decide([p], P.Request("s3:GetObject", ARN + "home/alice/a", None, P.Context())) is None


# --------------------------------------------------------------------------- statements


def test_deny_wins_and_default_is_no() -> None:
    p = bucket_policy(allow("s3:*"), deny("s3:GetObject", ARN + "b/secret/*"))
    assert ask([p], resource=ARN + "b/public") == P.ALLOW
    assert ask([p], resource=ARN + "b/secret/x") == P.DENY
    assert ask([p], "s3:ListBucket", ARN + "b") is None  # nothing says yes: no


def test_not_action_and_not_resource() -> None:
    p = bucket_policy(
        {"Effect": "Allow", "Principal": "*", "NotAction": "s3:Delete*", "Resource": ARN + "b/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "NotResource": ARN + "b/pub/*"},
    )
    assert ask([p], "s3:PutObject", ARN + "b/pub/x") == P.ALLOW
    assert ask([p], "s3:DeleteObject", ARN + "b/pub/x") is None
    assert ask([p], "s3:GetObject", ARN + "b/pub/x") == P.ALLOW
    assert ask([p], "s3:GetObject", ARN + "b/private/x") == P.DENY


def test_principals() -> None:
    p = bucket_policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["alice", "arn:aws:iam::123456789012:user/bob"]},
            "Action": "s3:GetObject",
            "Resource": ARN + "b/*",
        }
    )
    assert ask([p], principal="alice") == P.ALLOW
    assert ask([p], principal="bob") == P.ALLOW
    assert ask([p], principal="carol") is None
    assert ask([p], principal=None) is None  # anonymous: only "*" lets it in
    star = bucket_policy({**allow(), "Principal": {"AWS": "*"}})
    assert ask([star], principal=None) == P.ALLOW and ask([star], principal="carol") == P.ALLOW


def test_not_principal() -> None:
    p = bucket_policy(
        allow("s3:*"),
        {"Effect": "Deny", "NotPrincipal": {"AWS": ["alice"]}, "Action": "s3:PutObject", "Resource": ARN + "b/*"},
    )
    assert ask([p], "s3:PutObject", principal="alice") == P.ALLOW
    assert ask([p], "s3:PutObject", principal="bob") == P.DENY
    assert ask([p], "s3:PutObject", principal=None) == P.DENY


def test_account_principal_denies_every_signed_caller_and_grants_nobody() -> None:
    acct = {"AWS": "arn:aws:iam::123456789012:root"}
    grant = bucket_policy({**allow(), "Principal": acct})
    assert ask([grant], principal="alice") is None
    block = bucket_policy({**deny(), "Principal": acct})
    assert ask([block], principal="alice") == P.DENY
    assert ask([block], principal=None) is None


def test_unknown_keys_fail_closed() -> None:
    tag = {"StringEquals": {"s3:RequestObjectTag/class": "secret"}}
    unknown = frozenset({"s3:RequestObjectTag"})
    d = bucket_policy(allow("s3:*"), deny("s3:PutObjectTagging", Condition=tag))
    assert ask([d], "s3:PutObjectTagging", unknown=unknown) == P.DENY  # a Deny we cannot rule out applies
    assert ask([d], "s3:PutObjectTagging") == P.ALLOW  # known and absent: it does not
    a = bucket_policy(allow("s3:PutObjectTagging", Condition=tag))
    assert ask([a], "s3:PutObjectTagging", unknown=unknown) is None  # an Allow we cannot confirm does not
    assert ask([a], "s3:PutObjectTagging", **{"s3:RequestObjectTag/class": ["secret"]}) == P.ALLOW


def test_references_only_counts_statements_that_target_the_request() -> None:
    p = bucket_policy(
        allow("s3:GetObject", ARN + "b/tagged/*", Condition={"StringEquals": {"s3:ExistingObjectTag/class": "public"}}),
        allow("s3:PutObject"),
    )
    q = P.Request("s3:GetObject", ARN + "b/tagged/x", None, P.Context())
    assert p.references("s3:ExistingObjectTag", q)
    assert not p.references("s3:ExistingObjectTag", P.Request("s3:GetObject", ARN + "b/other", None, P.Context()))
    assert not p.references("s3:ExistingObjectTag", P.Request("s3:PutObject", ARN + "b/tagged/x", None, P.Context()))


def test_identity_statements() -> None:
    p = P.parse(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["admin:*"]},
                {"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"},
            ],
        }
    )
    assert P.decide([p], P.Request("admin:CreateUser", ARN + "*", "u")) == P.ALLOW
    assert P.decide([p], P.Request("s3:GetObject", ARN + "b/k", "u")) == P.ALLOW
    assert P.decide([p], P.Request("s3:DeleteBucket", ARN + "b", "u")) is None
    # a NotAction statement of S3 actions never grants admin actions
    s3only = P.parse({"Statement": [{"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "*"}]})
    assert P.decide([s3only], P.Request("admin:CreateUser", ARN + "*", "u")) is None


def test_duplicate_resources_are_one() -> None:
    p = bucket_policy({**allow(), "Resource": [ARN + "b/*", ARN + "b/*"]})
    assert p.doc["Statement"][0]["Resource"] == [ARN + "b/*"]


def test_normalised_document_is_minio_shaped() -> None:
    p = bucket_policy(
        {
            "Sid": "pub",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": ARN + "b/*",
            "Condition": {"StringLike": {"aws:Referer": "https://x/*"}},
        }
    )
    assert p.doc == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "pub",
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": [ARN + "b/*"],
                "Condition": {"StringLike": {"aws:Referer": ["https://x/*"]}},
            }
        ],
    }
    assert P.parse(p.to_json(), kind="bucket", bucket="b").doc == p.doc


# --------------------------------------------------------------------------- validation


GOOD = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": ARN + "b/*"}


@pytest.mark.parametrize(
    "doc,message",
    [
        ({"Statement": [GOOD]}, "valid version string"),
        ({"Version": "2008-10-17", "Statement": [GOOD]}, "invalid version"),
        ({"Version": "2012-10-17", "Statement": []}, "at least one Statement"),
        ({"Version": "2012-10-17", "Statement": [GOOD], "Extra": 1}, "unknown field"),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "Effect": "allow"}]}, "invalid Effect"),
        ({"Version": "2012-10-17", "Statement": [{k: v for k, v in GOOD.items() if k != "Principal"}]}, "Principal"),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Principal": {"Service": "s3.amazonaws.com"}}]},
            "invalid Principal",
        ),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "Principal": {"AWS": "ali*"}}]}, "invalid Principal"),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "NotPrincipal": "*"}]}, "Principal"),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "Action": []}]}, "Action must not be empty"),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "NotAction": "s3:PutObject"}]},
            "Action and NotAction cannot be specified",
        ),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "Action": "s3:GetObjekt"}]}, "unsupported action"),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "Action": "admin:CreateUser"}]}, "unsupported action"),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "Resource": []}]}, "Resource must not be empty"),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "NotResource": ARN + "b/x"}]},
            "Resource and NotResource cannot be specified",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Resource": ARN + "other/*"}]},
            "Policy has invalid resource",
        ),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "Resource": "b/*"}]}, "invalid resource"),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "Resource": ARN + "/b/*"}]}, "starts with '/'"),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "Resource": ARN + "b"}]}, "unsupported Resource found"),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "Action": "s3:ListBucket"}]}, "unsupported Resource found"),
        ({"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": {}}]}, "condition must not be empty"),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": {"StringMatches": {"aws:Referer": "x"}}}]},
            "invalid condition name",
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [{**GOOD, "Condition": {"ForSomeValues:StringEquals": {"aws:Referer": "x"}}}],
            },
            "invalid condition name",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": {"NullIfExists": {"aws:Referer": True}}}]},
            "invalid condition name",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": {"StringEquals": {"aws:referer": "x"}}}]},
            "invalid condition key",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": {"StringEquals": {"jwt:sub": "x"}}}]},
            "invalid condition key",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": {"StringEquals": {"s3:prefix": "x"}}}]},
            "unsupported condition keys",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": {"StringEquals": {"aws:Referer": 1}}}]},
            "value must be a string",
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [{**GOOD, "Condition": {"StringEquals": {"aws:Referer": ["a", "a"]}}}],
            },
            "duplicate value",
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [{**GOOD, "Condition": {"NumericLessThan": {"aws:EpochTime": [1, 2]}}}],
            },
            "only one value is allowed",
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [{**GOOD, "Condition": {"NumericLessThan": {"aws:EpochTime": "1.5"}}}],
            },
            "must be a int",
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [{**GOOD, "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}}],
            },
            "must be a time.Time",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": {"Bool": {"aws:Referer": "true"}}}]},
            "only aws:SecureTransport key is allowed",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}]},
            "must be a boolean",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": {"Null": {"aws:Referer": "maybe"}}}]},
            "must be a boolean for Null",
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [{**GOOD, "Condition": {"IpAddress": {"aws:Referer": "10.0.0.0/8"}}}],
            },
            "only aws:SourceIp key is allowed",
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [{**GOOD, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}}],
            },
            "must be CIDR string",
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [
                    {**GOOD, "Action": "s3:PutObject", "Condition": {"StringEquals": {"s3:x-amz-copy-source": "nokey"}}}
                ],
            },
            "s3:x-amz-copy-source",
        ),
        (
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        **GOOD,
                        "Action": "s3:PutObject",
                        "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": "rot13"}},
                    }
                ],
            },
            "s3:x-amz-server-side-encryption",
        ),
        (
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": {"ArnLike": {"aws:PrincipalArn": "alice"}}}]},
            "must be an ARN",
        ),
    ],
)
def test_bucket_policies_minio_refuses_are_refused(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(P.PolicyError, match=None) as e:
        P.parse(doc, kind="bucket", bucket="b")
    assert message in str(e.value)


@pytest.mark.parametrize(
    "text,message",
    [
        ("not json", "not valid JSON"),
        ("[]", "a policy is a JSON object"),
        ('{"Version": NaN}', "invalid JSON value"),
        ("[" * 100 + "]" * 100, "nested too deeply"),
        ('{"Version": "2012-10-17", "Statement": [' + ",".join([json.dumps(GOOD)] * 1001) + "]}", "exceeds"),
    ],
)
def test_unparseable_and_oversized_documents(text: str, message: str) -> None:
    with pytest.raises(P.PolicyError) as e:
        P.parse(text, kind="bucket", bucket="b")
    assert message in str(e.value)


def test_bounds() -> None:
    many = {"Version": "2012-10-17", "Statement": [GOOD] * (P.MAX_STATEMENTS + 1)}
    with pytest.raises(P.PolicyError, match="at most"):
        P.parse(many, kind="identity")
    values = {"StringEquals": {"aws:Referer": [str(i) for i in range(P.MAX_LIST + 1)]}}
    with pytest.raises(P.PolicyError, match="more than"):
        P.parse({"Version": "2012-10-17", "Statement": [{**GOOD, "Condition": values}]}, kind="bucket", bucket="b")
    # an unterminated string does not make the depth scan quadratic (it would take minutes)
    P.check_depth('"' + '\\"' * 500_000)


def test_wildcards_match_as_a_regex_would_without_backtracking() -> None:
    import random
    import re

    rng = random.Random(7)
    for _ in range(5000):
        pattern = "".join(rng.choice("ab*?") for _ in range(rng.randint(0, 8)))
        value = "".join(rng.choice("ab") for _ in range(rng.randint(0, 10)))
        rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        assert P.wildcard_match(pattern, value) == (re.fullmatch(rx, value, re.DOTALL) is not None), (pattern, value)
    # a pattern a backtracking regex takes longer than the age of the universe on: answered at once
    assert not P.wildcard_match("*a" * 40 + "b", "a" * 1024)
    p = bucket_policy(allow(resource=ARN + "b/" + "*a" * 40 + "b"))
    assert ask([p], resource=ARN + "b/" + "a" * 1000) is None


def test_resources_within_the_bucket() -> None:
    for ok in (ARN + "b", ARN + "b/*", ARN + "b*", ARN + "*", "*", ARN + "?/*", ARN + "b/x/y"):
        action = "s3:*" if "/" in ok or "*" in ok else "s3:ListBucket"
        P.parse(
            {"Version": "2012-10-17", "Statement": [{**GOOD, "Action": action, "Resource": ok}]},
            kind="bucket",
            bucket="b",
        )
    for bad in (ARN + "bb/*", ARN + "c*", ARN + "a?/*"):
        with pytest.raises(P.PolicyError, match="Policy has invalid resource"):
            P.parse({"Version": "2012-10-17", "Statement": [{**GOOD, "Resource": bad}]}, kind="bucket", bucket="b")


def test_mc_canned_policies_parse() -> None:
    """What `mc anonymous set download|upload|public ALIAS/b/prefix` writes (minio-go's policy package)."""
    b, o = ARN + "b", ARN + "b/photos*"
    docs = [
        [
            {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetBucketLocation"], "Resource": [b]},
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:ListBucket"],
                "Resource": [b],
                "Condition": {"StringEquals": {"s3:prefix": ["photos"]}},
            },
            {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"], "Resource": [o]},
        ],
        [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
                "Resource": [b],
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
                "Resource": [o],
            },
        ],
    ]
    for statements in docs:
        p = P.parse({"Version": "2012-10-17", "Statement": statements}, kind="bucket", bucket="b")
        assert P.is_public(p)


def test_is_public() -> None:
    assert P.is_public(bucket_policy(allow()))
    assert not P.is_public(bucket_policy(deny()))
    assert not P.is_public(bucket_policy({**allow(), "Principal": {"AWS": "alice"}}))
    assert P.is_public(
        bucket_policy({**allow(), "Principal": {"AWS": "*"}, "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}})
    )
    assert not P.is_public(bucket_policy({**allow(), "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))
    assert P.is_public(bucket_policy({**allow(), "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))
    assert P.is_public(
        bucket_policy(
            {"Effect": "Allow", "NotPrincipal": {"AWS": "alice"}, "Action": "s3:GetObject", "Resource": ARN + "b/*"}
        )
    )


def test_identity_policies_keep_their_rules() -> None:
    with pytest.raises(P.PolicyError, match="unknown field 'Principal'"):
        P.parse({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]})
    with pytest.raises(P.PolicyError, match="mixing action types"):
        P.parse({"Statement": [{"Effect": "Allow", "Action": ["s3:*", "admin:*"], "Resource": "*"}]})
    with pytest.raises(P.PolicyError, match="unsupported condition keys"):
        P.parse(
            {"Statement": [{"Effect": "Allow", "Action": "admin:*", "Condition": {"StringEquals": {"s3:prefix": "x"}}}]}
        )
    # documents stored by an older s3gw are read without the naming checks
    old = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "admin:ServerInfo"], "Resource": "*"}]}
    assert P.parse(old, strict=False).decide(P.Request("s3:GetObject", ARN + "b/k", "u")) == P.ALLOW
