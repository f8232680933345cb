"""Users, policies and sealed secrets (s3gw/core/iam.py), over a real SQLite store."""

from __future__ import annotations

import json
import sqlite3

import pytest

from s3gw.api.authz import required
from s3gw.api.router import Operation
from s3gw.core import iam as I
from s3gw.meta.sqlite import SqliteMeta

ARN = "arn:aws:s3:::"


@pytest.mark.parametrize(
    "policy,op,allowed",
    [
        ("readonly", Operation("GetObject", "b", "k"), True),
        ("readonly", Operation("HeadObject", "b", "k"), True),
        ("readonly", Operation("GetBucketLocation", "b"), True),
        ("readonly", Operation("ListObjectsV2", "b"), False),  # as MinIO's readonly: no listing
        ("readonly", Operation("PutObject", "b", "k"), False),
        ("writeonly", Operation("PutObject", "b", "k"), True),
        ("writeonly", Operation("UploadPart", "b", "k"), True),
        ("writeonly", Operation("CompleteMultipartUpload", "b", "k"), True),
        ("writeonly", Operation("GetObject", "b", "k"), False),
        ("writeonly", Operation("DeleteObject", "b", "k"), False),
        ("readwrite", Operation("DeleteBucket", "b"), True),
        ("readwrite", Operation("ListBuckets"), True),
        ("consoleAdmin", Operation("PutBucketVersioning", "b"), True),
        ("diagnostics", Operation("GetObject", "b", "k"), False),
    ],
)
def test_canned_policies(policy: str, op: Operation, allowed: bool) -> None:
    need = required(op)[0]
    assert I.evaluate([I.CANNED[policy]], need.action, need.resource) is allowed


def test_admin_actions() -> None:
    assert I.evaluate([I.CANNED["consoleAdmin"]], "admin:CreateUser", ARN + "*")
    assert I.evaluate([I.CANNED["diagnostics"]], "admin:Prometheus", ARN + "*")
    assert not I.evaluate([I.CANNED["readwrite"]], "admin:CreateUser", ARN + "*")
    assert not I.evaluate([I.CANNED["diagnostics"]], "admin:CreateUser", ARN + "*")


def test_stored_policy_prefix_and_deny() -> None:
    doc = I.parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "photos/2024/*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::photos"},
                {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::photos/2024/private/*"},
            ],
        }
    )
    assert I.evaluate([doc], "s3:GetObject", ARN + "photos/2024/a.jpg")
    assert I.evaluate([doc], "s3:putobject", ARN + "photos/2024/a.jpg")  # actions fold case
    assert not I.evaluate([doc], "s3:GetObject", ARN + "photos/2023/a.jpg")
    assert not I.evaluate([doc], "s3:GetObject", ARN + "photos/2024/private/x")  # explicit deny wins
    assert not I.evaluate([doc, I.CANNED["readwrite"]], "s3:GetObject", ARN + "photos/2024/private/x")
    assert I.evaluate([doc], "s3:ListBucket", ARN + "photos")
    assert not I.evaluate([doc], "s3:ListBucket", ARN + "photosX")


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        [],
        {"Statement": []},
        {"Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "s3:*"}]},  # s3 action, no resource
        {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"x": {}}}]},
        {"Statement": [{"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]},
        {
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]
        },  # identity: no Principal
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:*",
                    "Resource": "*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "not-an-ip"}},
                }
            ]
        },
    ],
)
def test_malformed_policies_are_refused(bad: object) -> None:
    with pytest.raises(I.MalformedPolicy):
        I.parse_policy(bad)


def test_secret_box() -> None:
    box = I.SecretBox("root", "root-secret-1")
    sealed = box.seal("alice", "alice-secret")
    assert b"alice-secret" not in sealed
    assert box.open("alice", sealed) == "alice-secret"
    with pytest.raises(I.SealedWithOtherKey):  # bound to its user
        box.open("mallory", sealed)
    other = I.SecretBox("root", "root-secret-2")
    assert other.key_id != box.key_id
    with pytest.raises(I.SealedWithOtherKey):
        other.open("alice", sealed)


@pytest.fixture
async def meta(tmp_path):
    m = SqliteMeta(str(tmp_path / "meta.db"))
    await m.open()
    yield m
    await m.close()


async def test_users_lifecycle(meta: SqliteMeta, tmp_path) -> None:
    iam = I.Iam(meta, "root", "root-secret-1", ttl=0)
    assert await iam.add_user("alice", "alice-secret", policies=["readonly"]) is True
    p = await iam.principal("alice")
    assert p is not None and p.secret_key == "alice-secret" and p.enabled and p.policies == ("readonly",)
    assert await iam.allowed(p, "s3:GetObject", ARN + "b/k")
    assert not await iam.allowed(p, "s3:PutObject", ARN + "b/k")
    # the secret is not in the database file in clear
    raw = sqlite3.connect(str(tmp_path / "meta.db")).execute("SELECT secret_enc FROM iam_users").fetchone()[0]
    assert b"alice-secret" not in bytes(raw)
    await iam.set_status("alice", I.DISABLED)
    p = await iam.principal("alice")
    assert p is not None and not p.enabled and not await iam.allowed(p, "s3:GetObject", ARN + "b/k")
    await iam.set_status("alice", I.ENABLED)
    assert await iam.attach("alice", ["writeonly"]) == ["writeonly"]
    with pytest.raises(I.PolicyChangeAlreadyApplied):
        await iam.attach("alice", ["writeonly"])
    assert await iam.allowed(await iam.principal("alice"), "s3:PutObject", ARN + "b/k")
    assert await iam.detach("alice", ["readonly"]) == ["readonly"]
    with pytest.raises(I.NoSuchPolicy):
        await iam.attach("alice", ["nope"])
    # add-user again: a new secret, same policies (MinIO's add-user updates)
    assert await iam.add_user("alice", "alice-secret-2") is False
    p = await iam.principal("alice")
    assert p.secret_key == "alice-secret-2" and p.policies == ("writeonly",)
    assert [u.access_key for u in await iam.list_users()] == ["alice"]
    await iam.remove_user("alice")
    assert await iam.principal("alice") is None
    with pytest.raises(I.NoSuchUser):
        await iam.remove_user("alice")


async def test_user_validation(meta: SqliteMeta) -> None:
    iam = I.Iam(meta, "root", "root-secret-1", ttl=0)
    with pytest.raises(I.InvalidAccessKey):
        await iam.add_user("ab", "long-enough-secret")
    with pytest.raises(I.InvalidAccessKey):
        await iam.add_user("a,b,c", "long-enough-secret")
    with pytest.raises(I.InvalidSecretKey):
        await iam.add_user("carol", "short")
    with pytest.raises(I.InvalidArgument):
        await iam.add_user("root", "long-enough-secret")
    assert await iam.principal("root") is iam.root


async def test_stored_policies(meta: SqliteMeta) -> None:
    iam = I.Iam(meta, "root", "root-secret-1", ttl=0)
    await iam.put_policy(
        "photos-ro", '{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "photos/*"}]}'
    )
    await iam.add_user("dave", "dave-secret-1", policies=["photos-ro"])
    p = await iam.principal("dave")
    assert await iam.allowed(p, "s3:GetObject", ARN + "photos/x")
    assert not await iam.allowed(p, "s3:GetObject", ARN + "other/x")
    assert set(await iam.list_policies()) >= {"readonly", "readwrite", "writeonly", "consoleAdmin", "photos-ro"}
    with pytest.raises(I.InvalidArgument):
        await iam.put_policy("readonly", {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    await iam.remove_policy("photos-ro")
    assert not await iam.allowed(await iam.principal("dave"), "s3:GetObject", ARN + "photos/x")


async def test_explicit_deny_only(meta: SqliteMeta) -> None:
    """``denied``: only an explicit Deny counts (what a user may still do to itself, MinIO's DenyOnly)."""
    iam = I.Iam(meta, "root", "root-secret-1", ttl=0)
    await iam.put_policy(
        "no-self-service",
        {
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                {"Effect": "Deny", "Action": ["admin:CreateUser"]},
            ]
        },
    )
    await iam.add_user("frank", "frank-secret-1", policies=["readonly"])
    await iam.add_user("gina", "gina-secret-1", policies=["no-self-service"])
    frank, gina = await iam.principal("frank"), await iam.principal("gina")
    assert not await iam.allowed(frank, "admin:CreateUser") and not await iam.denied(frank, "admin:CreateUser")
    assert await iam.denied(gina, "admin:CreateUser") and not await iam.denied(gina, "admin:GetUser")
    assert not await iam.denied(iam.root, "admin:CreateUser")


async def test_root_rotation_reseals(meta: SqliteMeta) -> None:
    old = I.Iam(meta, "root", "old-root-secret", ttl=0)
    await old.add_user("erin", "erin-secret-1")
    new = I.Iam(meta, "root", "new-root-secret", ttl=0)
    assert await new.principal("erin") is None  # cannot open: not served with garbage
    assert await new.unreadable_users() == ["erin"]
    assert await new.reseal("root", "old-root-secret") == 1
    assert (await new.principal("erin")).secret_key == "erin-secret-1"
    assert await new.unreadable_users() == []


async def test_identity_and_bucket_policies_combined(meta: SqliteMeta) -> None:
    """Iam.authorize: deny in either wins, allow in either allows, anonymous has only the bucket policy."""
    from s3gw.core import policy as P
    from s3gw.meta.model import BucketRecord

    iam = I.Iam(meta, "root", "root-secret-1", ttl=60)
    await iam.add_user("alice", "alice-secret", policies=["readonly"])
    await iam.add_user("bob", "bob-secret-1", policies=[])
    await meta.create_bucket(BucketRecord("b", 1.0))
    alice, bob, root = await iam.principal("alice"), await iam.principal("bob"), await iam.principal("root")
    ctx = P.Context({"aws:SourceIp": ["192.0.2.1"]})

    async def may(p, action, key="k"):
        return await iam.authorize(p, action, ARN + "b" + (f"/{key}" if key else ""), ctx)

    assert await may(alice, "s3:GetObject") and not await may(alice, "s3:PutObject")
    assert not await may(None, "s3:GetObject") and not await may(bob, "s3:GetObject")
    await iam.put_bucket_policy(
        "b",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": ["alice"]},
                        "Action": "s3:PutObject",
                        "Resource": ARN + "b/*",
                    },
                    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": ARN + "b/pub/*"},
                    {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": ARN + "b/secret/*"},
                ],
            }
        ),
    )
    # a change through this gateway is seen at once, whatever the ttl
    assert await may(alice, "s3:PutObject")  # the bucket policy grants what IAM does not
    assert not await may(bob, "s3:PutObject")
    assert await may(None, "s3:GetObject", "pub/x") and await may(bob, "s3:GetObject", "pub/x")
    assert not await may(None, "s3:GetObject", "other")
    assert not await may(alice, "s3:GetObject", "secret/x")  # the bucket's Deny beats readonly's Allow
    assert await may(root, "s3:GetObject", "secret/x")  # root may do everything
    assert not await iam.authorize(None, "s3:ListAllMyBuckets", ARN + "*", ctx)
    # another gateway (no ttl) sees the deletion at once; this one forgets on delete
    other = I.Iam(meta, "root", "root-secret-1", ttl=0)
    await iam.delete_bucket_policy("b")
    assert not await may(alice, "s3:PutObject")
    assert not await other.authorize(None, "s3:GetObject", ARN + "b/pub/x", ctx)


async def test_existing_tags_are_read_only_when_a_statement_needs_them(meta: SqliteMeta) -> None:
    from s3gw.core import policy as P
    from s3gw.meta.model import BucketRecord

    iam = I.Iam(meta, "root", "root-secret-1", ttl=60)
    await meta.create_bucket(BucketRecord("b", 1.0))
    await iam.put_bucket_policy(
        "b",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": ARN + "b/tagged/*",
                        "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "public"}},
                    },
                    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": ARN + "b/plain/*"},
                ],
            }
        ),
    )
    reads = []

    def loader(tags):
        async def load():
            reads.append(tags)
            return tags

        return load

    ctx = P.Context()
    assert await iam.authorize(None, "s3:GetObject", ARN + "b/plain/x", ctx, loader({"class": "public"}))
    assert reads == []  # no statement about tags applies: no read
    assert await iam.authorize(None, "s3:GetObject", ARN + "b/tagged/x", ctx, loader({"class": "public"}))
    assert not await iam.authorize(None, "s3:GetObject", ARN + "b/tagged/x", ctx, loader({"class": "secret"}))
    assert not await iam.authorize(None, "s3:GetObject", ARN + "b/tagged/x", ctx, loader(None))
    assert len(reads) == 3


async def test_conditions_in_identity_policies(meta: SqliteMeta) -> None:
    from s3gw.core import policy as P

    iam = I.Iam(meta, "root", "root-secret-1", ttl=0)
    await iam.put_policy(
        "office-only",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:*",
                        "Resource": ARN + "*",
                        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                    }
                ],
            }
        ),
    )
    await iam.add_user("carol", "carol-secret", policies=["office-only"])
    carol = await iam.principal("carol")
    inside, outside = P.Context({"aws:SourceIp": ["10.1.1.1"]}), P.Context({"aws:SourceIp": ["192.0.2.1"]})
    assert await iam.authorize(carol, "s3:GetObject", ARN + "b/k", inside)
    assert not await iam.authorize(carol, "s3:GetObject", ARN + "b/k", outside)
    assert (await iam.get_policy("office-only"))["Statement"][0]["Condition"] == {
        "IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}
    }
    with pytest.raises(I.MalformedPolicy, match="invalid condition key"):
        await iam.put_policy(
            "bad",
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:*",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:Nope": "x"}},
                    }
                ]
            },
        )


def test_a_policy_nested_past_the_stack_is_malformed_not_a_crash() -> None:
    for doc in ("[" * 100_000, '{"Statement":' + "[" * 100_000):
        with pytest.raises(I.MalformedPolicy):
            I.parse_policy(doc)


async def test_service_accounts_act_for_their_user_narrowed_by_their_own_policy(meta: SqliteMeta) -> None:
    from s3gw.core import policy as P

    iam = I.Iam(meta, "root", "root-secret-1", ttl=0)
    await iam.add_user("alice", "alice-secret", policies=["readwrite"])
    ctx = P.Context()
    key, secret, exp = await iam.add_service_account("alice")
    assert len(key) == 20 and len(secret) == 40 and exp == 0.0
    sa = await iam.principal(key)
    assert sa is not None and sa.kind == I.SVCACCT and sa.acting.access_key == "alice" and sa.secret_key == secret
    assert await iam.authorize(sa, "s3:PutObject", ARN + "b/k", ctx)  # the user's powers
    narrow = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": [ARN + "b/pub/*"]},
            {"Effect": "Deny", "Action": ["s3:PutObject"], "Resource": [ARN + "b/pub/ro/*"]},
        ],
    }
    k2, _, _ = await iam.add_service_account("alice", policy=json.dumps(narrow))
    n = await iam.principal(k2)
    assert await iam.authorize(n, "s3:GetObject", ARN + "b/pub/x", ctx)
    assert not await iam.authorize(n, "s3:GetObject", ARN + "b/other", ctx)  # its policy does not allow
    assert not await iam.authorize(n, "s3:PutObject", ARN + "b/pub/ro/x", ctx)  # its policy denies
    await iam.set_policies("alice", ["readonly"])
    n = await iam.principal(k2)
    assert not await iam.authorize(n, "s3:PutObject", ARN + "b/pub/x", ctx)  # the user may not any more
    assert await iam.allowed(n, "s3:GetObject", ARN + "b/pub/x")
    # the user's state reaches its keys
    await iam.set_status("alice", I.DISABLED)
    n = await iam.principal(k2)
    assert n.enabled and not await iam.allowed(n, "s3:GetObject", ARN + "b/pub/x")  # refused when authorised
    await iam.set_status("alice", I.ENABLED)
    await iam.update_service_account(k2, status="off")
    assert not (await iam.principal(k2)).enabled
    await iam.update_service_account(k2, status="on", policy="{}")  # an empty policy: the user's
    n = await iam.principal(k2)
    assert n.enabled and n.session_policy is None and await iam.allowed(n, "s3:GetObject", ARN + "b/other")
    # root's keys: root's powers, unless their own policy narrows them
    rk, _, _ = await iam.add_service_account("root", policy=json.dumps(narrow))
    r = await iam.principal(rk)
    assert not r.root and await iam.allowed(r, "s3:GetObject", ARN + "b/pub/x")
    assert not await iam.allowed(r, "admin:CreateUser")
    rk2, _, _ = await iam.add_service_account("root")
    assert await iam.allowed(await iam.principal(rk2), "admin:CreateUser")
    await iam.remove_user("alice")
    assert await iam.principal(key) is None and await iam.principal(k2) is None
    with pytest.raises(I.NoSuchUser):
        await iam.add_service_account("alice")


async def test_temporary_credentials(meta: SqliteMeta) -> None:
    from s3gw.core import policy as P

    iam = I.Iam(meta, "root", "root-secret-1", ttl=0)
    await iam.add_user("bob", "bob-secret-1", policies=["readwrite"])
    bob = await iam.principal("bob")
    session = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [ARN + "b/*"]}],
    }
    t = await iam.assume_role(bob, 900, json.dumps(session))
    p = await iam.principal(t.access_key)
    assert p.kind == I.STS and p.expires == t.expires and p.secret_key == t.secret_key
    assert await iam.authorize(p, "s3:GetObject", ARN + "b/k", P.Context())
    assert not await iam.authorize(p, "s3:PutObject", ARN + "b/k", P.Context())
    I.check_session_token(p, t.session_token, True)
    for token, sent in ((None, False), (None, True), (t.session_token + "x", True)):
        with pytest.raises(I.E.InvalidTokenId):
            I.check_session_token(p, token, sent)
    with pytest.raises(I.E.InvalidTokenId):
        I.check_session_token(bob, t.session_token, True)  # a user's request carries no token
    raw = (
        sqlite3.connect(meta.path)
        .execute("SELECT secret_enc, info FROM iam_users WHERE access_key = ?", (t.access_key,))
        .fetchone()
    )
    assert t.secret_key.encode() not in bytes(raw[0]) and t.session_token not in raw[1]
    with pytest.raises(I.IamActionNotAllowed):
        await iam.assume_role(p, 900)  # temporary credentials make no more
    await meta.update_user(t.access_key, expires=1.0)
    assert await iam.principal(t.access_key) is None  # expired: unknown
