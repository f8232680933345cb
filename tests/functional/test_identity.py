"""Identities beyond users, against a real gateway process, driven as operators and
applications drive them: service accounts / access keys (``mc admin user svcacct``,
``mc admin accesskey``, ``s3gw admin svcacct``), groups (``mc admin group``,
``mc admin policy entities``) and temporary credentials (boto3's ``sts.assume_role``),
each enforced on S3 requests by the one policy engine.

The gateway is this module's own: identities are deployment-wide.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from s3gw.admin_cli import OpsClient
from s3gw.api.madmin_iam import parse_time
from tests.conftest import ACCESS_KEY, SECRET_KEY, Server, start_server
from tests.functional.drivers import Mc, admin, api, client, s3
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(str(tmp_path_factory.mktemp("identity-gw")))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def mc(mc_bin: str, gw: Server, tmp_path_factory: pytest.TempPathFactory) -> Mc:
    return Mc(mc_bin, str(tmp_path_factory.mktemp("mc")), gw)


def code_of(e: ClientError) -> str:
    return e.response["Error"]["Code"]


def denied(call, code: str = "AccessDenied") -> None:
    with pytest.raises(ClientError) as e:
        call()
    assert code_of(e.value) == code, e.value.response


def new_user(gw: Server, *policies: str) -> tuple[str, str]:
    name, secret = f"u-{uuid.uuid4().hex[:8]}", f"secret-{uuid.uuid4().hex}"
    api(gw).add_user(name, secret, list(policies) or None)
    return name, secret


@pytest.fixture(scope="module")
def bucket(gw: Server) -> str:
    name = f"id-{uuid.uuid4().hex[:10]}"
    root = s3(gw)
    root.create_bucket(Bucket=name)
    for key in ("pub/a.txt", "private/b.txt"):
        root.put_object(Bucket=name, Key=key, Body=key.encode())
    return name


def policy_doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def read_pub(b: str) -> dict:
    return {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{b}/pub/*"]}


# --------------------------------------------------------------------------- service accounts


def test_service_accounts_with_mc(gw: Server, mc: Mc, bucket: str, tmp_path) -> None:
    """mc admin user svcacct add/ls/info/edit/disable/enable/rm, and what the keys can do."""
    user, _ = new_user(gw, "readwrite")
    made = mc.json("admin", "user", "svcacct", "add", "s3gw", user, "--name", "ci-key", "--description", "for the CI")
    key, secret = made["accessKey"], made["secretKey"]
    assert len(key) == 20 and len(secret) == 40
    pol = tmp_path / "ro.json"
    pol.write_text(policy_doc(read_pub(bucket)))
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 48 * 3600))
    mc(
        "admin",
        "user",
        "svcacct",
        "add",
        "s3gw",
        user,
        "--access-key",
        "SVCFIXED01",
        "--secret-key",
        "svc-secret-0123",
        "--policy",
        str(pol),
        "--expiry",
        expiry,
    )
    listed = mc("admin", "user", "svcacct", "ls", "s3gw", user).stdout
    assert key in listed and "SVCFIXED01" in listed
    info = mc.json("admin", "user", "svcacct", "info", "s3gw", key)
    assert (info["parentUser"], info["accountStatus"], info["name"], info["description"], info["impliedPolicy"]) == (
        user,
        "on",
        "ci-key",
        "for the CI",
        True,
    )
    info = mc.json("admin", "user", "svcacct", "info", "s3gw", "SVCFIXED01")
    assert not info.get("impliedPolicy") and info["policy"]["Statement"][0]["Action"] == ["s3:GetObject"]
    assert time.time() + 47 * 3600 < _epoch(info["expiration"]) < time.time() + 49 * 3600
    # the generated key works like its user (readwrite)
    k = s3(gw, key, secret)
    k.put_object(Bucket=bucket, Key="pub/by-key.txt", Body=b"k")
    # the fixed one only reads pub/ (its policy), though its user may write
    f = s3(gw, "SVCFIXED01", "svc-secret-0123")
    assert f.get_object(Bucket=bucket, Key="pub/a.txt")["Body"].read() == b"pub/a.txt"
    denied(lambda: f.get_object(Bucket=bucket, Key="private/b.txt"))
    denied(lambda: f.put_object(Bucket=bucket, Key="pub/x.txt", Body=b"x"))
    # disable / enable / edit / rm (its embedded policy stays: MinIO drops it on any edit without one)
    mc("admin", "user", "svcacct", "disable", "s3gw", "SVCFIXED01")
    mc("admin", "user", "svcacct", "enable", "s3gw", "SVCFIXED01")
    mc("admin", "user", "svcacct", "edit", "s3gw", "SVCFIXED01", "--description", "still narrow")
    info = mc.json("admin", "user", "svcacct", "info", "s3gw", "SVCFIXED01")
    assert not info.get("impliedPolicy") and info["description"] == "still narrow"
    denied(lambda: f.put_object(Bucket=bucket, Key="pub/x.txt", Body=b"x"))
    mc("admin", "user", "svcacct", "disable", "s3gw", key)
    assert mc.json("admin", "user", "svcacct", "info", "s3gw", key)["accountStatus"] == "off"
    wait_until(lambda: _refused(lambda: k.list_objects_v2(Bucket=bucket)), "a disabled key refused")
    mc("admin", "user", "svcacct", "enable", "s3gw", key)
    wait_until(lambda: not _refused(lambda: k.list_objects_v2(Bucket=bucket)), "an enabled key served")
    mc("admin", "user", "svcacct", "edit", "s3gw", key, "--secret-key", "a-new-secret-0123")
    wait_until(
        lambda: _refused(lambda: k.list_objects_v2(Bucket=bucket), "SignatureDoesNotMatch"), "the old secret refused"
    )
    s3(gw, key, "a-new-secret-0123").list_objects_v2(Bucket=bucket)
    mc("admin", "user", "svcacct", "rm", "s3gw", key)
    wait_until(
        lambda: _refused(lambda: s3(gw, key, "a-new-secret-0123").list_objects_v2(Bucket=bucket), "InvalidAccessKeyId"),
        "a removed key refused",
    )
    cp = mc("admin", "user", "svcacct", "info", "s3gw", key, check=False)
    assert cp.returncode != 0 and "The specified service account is not found" in cp.stderr
    # mc admin accesskey: the same keys, the list API mc uses for it
    keys = mc("admin", "accesskey", "ls", "s3gw", user).stdout
    assert "SVCFIXED01" in keys and key not in keys
    assert "SVCFIXED01" in mc("admin", "accesskey", "info", "s3gw", "SVCFIXED01").stdout
    mc("admin", "accesskey", "disable", "s3gw", "SVCFIXED01")
    assert mc.json("admin", "accesskey", "info", "s3gw", "SVCFIXED01")["accountStatus"] == "off"


def _epoch(rfc3339: str) -> float:
    return parse_time(rfc3339) or 0.0


def _refused(call, code: str = "InvalidAccessKeyId") -> bool:
    try:
        call()
    except ClientError as e:
        return code_of(e) == code
    return False


def test_effective_policy_is_the_intersection(gw: Server, bucket: str) -> None:
    """A key's own policy narrows its user's; it never widens it, and a Deny in either wins."""
    reader, _ = new_user(gw, "readonly")
    c = api(gw)
    wide = c.add_svcacct(
        {
            "targetUser": reader,
            "policy": json.loads(policy_doc({"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]})),
        }
    )
    k = s3(gw, wide["accessKey"], wide["secretKey"])
    k.get_object(Bucket=bucket, Key="private/b.txt")  # both allow
    denied(lambda: k.put_object(Bucket=bucket, Key="pub/w.txt", Body=b"w"))  # the user may not
    writer, _ = new_user(gw, "readwrite")
    deny = c.add_svcacct(
        {
            "targetUser": writer,
            "policy": json.loads(
                policy_doc(
                    {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]},
                    {"Effect": "Deny", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{bucket}/private/*"]},
                )
            ),
        }
    )
    d = s3(gw, deny["accessKey"], deny["secretKey"])
    d.get_object(Bucket=bucket, Key="pub/a.txt")
    denied(lambda: d.get_object(Bucket=bucket, Key="private/b.txt"))
    # root's keys have root's powers, narrowed by their own policy when they have one
    mine = c.add_svcacct({"policy": json.loads(policy_doc(read_pub(bucket)))})
    assert c.svcacct_info(mine["accessKey"])["parentUser"] == ACCESS_KEY
    r = s3(gw, mine["accessKey"], mine["secretKey"])
    r.get_object(Bucket=bucket, Key="pub/a.txt")
    denied(lambda: r.get_object(Bucket=bucket, Key="private/b.txt"))
    denied(lambda: r.create_bucket(Bucket=f"id-{uuid.uuid4().hex[:10]}"))
    # ... and may not administer beyond it either
    with pytest.raises(Exception, match="AccessDenied"):
        OpsClient(gw.url, mine["accessKey"], mine["secretKey"]).list_users()


def test_a_users_disable_and_removal_reach_its_keys(gw: Server, mc: Mc, bucket: str) -> None:
    user, _ = new_user(gw, "readwrite")
    cred = api(gw).add_svcacct({"targetUser": user})
    k = s3(gw, cred["accessKey"], cred["secretKey"])
    k.head_bucket(Bucket=bucket)
    mc("admin", "user", "disable", "s3gw", user)
    denied(lambda: k.list_objects_v2(Bucket=bucket))  # the key is valid, its user may do nothing (MinIO)
    mc("admin", "user", "enable", "s3gw", user)
    k.list_objects_v2(Bucket=bucket)
    mc("admin", "user", "remove", "s3gw", user)
    denied(lambda: k.list_objects_v2(Bucket=bucket), "InvalidAccessKeyId")
    cp = mc("admin", "user", "svcacct", "info", "s3gw", cred["accessKey"], check=False)
    assert cp.returncode != 0 and "not found" in cp.stderr


def test_users_manage_their_own_keys(gw: Server, mc: Mc, bucket: str) -> None:
    """Without admin rights a user may create, list, read and remove its own access keys
    (MinIO's self-service), and nobody else's."""
    alice, alice_secret = new_user(gw, "readwrite")
    bob, _ = new_user(gw, "readwrite")
    bobs = api(gw).add_svcacct({"targetUser": bob})["accessKey"]
    mc.alias("alice", alice, alice_secret)
    own = mc.json("admin", "user", "svcacct", "add", "alice", alice)["accessKey"]
    assert own in mc("admin", "user", "svcacct", "ls", "alice", alice).stdout
    assert mc.json("admin", "user", "svcacct", "info", "alice", own)["parentUser"] == alice
    for args in (
        ("admin", "user", "svcacct", "add", "alice", bob),
        ("admin", "user", "svcacct", "ls", "alice", bob),
        ("admin", "user", "svcacct", "info", "alice", bobs),
        ("admin", "user", "svcacct", "disable", "alice", own),
    ):  # edits need the admin action
        cp = mc(*args, check=False)
        assert cp.returncode != 0 and "Access Denied" in cp.stderr, args
    cp = mc("admin", "user", "svcacct", "rm", "alice", bobs, check=False)  # another's: as if unknown
    assert cp.returncode != 0 and "The specified service account is not found" in cp.stderr
    mc("admin", "user", "svcacct", "rm", "alice", own)
    # a key may make keys for its user, never for itself
    k = api(gw).add_svcacct({"targetUser": alice})
    sub = OpsClient(gw.url, k["accessKey"], k["secretKey"]).add_svcacct({})
    assert api(gw).svcacct_info(sub["accessKey"])["parentUser"] == alice


def test_service_account_requests_are_validated(gw: Server) -> None:
    c = api(gw)
    user, _ = new_user(gw)
    for doc, code in (
        ({"targetUser": "nobody-here"}, "XMinioAdminNoSuchUser"),
        ({"targetUser": user, "accessKey": "ONLYKEY123"}, "XMinioAdminNoSecretKey"),
        ({"targetUser": user, "accessKey": "K" * 21, "secretKey": "s" * 12}, "XMinioAdminInvalidAccessKey"),
        ({"targetUser": user, "name": "1bad"}, "XMinioAdminInvalidArgument"),
        ({"targetUser": user, "expiration": "2001-01-01T00:00:00Z"}, "XMinioAdminInvalidArgument"),
        (
            {"targetUser": user, "policy": {"Statement": [{"Effect": "Allow", "Action": "s3:Nope", "Resource": "*"}]}},
            "XMinioMalformedIAMPolicy",
        ),
        ({"targetUser": user, "accessKey": user, "secretKey": "s" * 12}, "XMinioIAMActionNotAllowed"),
    ):
        with pytest.raises(Exception, match=code):
            c.add_svcacct(doc)
    c.add_svcacct({"targetUser": user, "accessKey": "TAKENKEY01", "secretKey": "s" * 12})
    with pytest.raises(Exception, match="XMinioIAMServiceAccountNotAllowed"):
        c.add_svcacct({"targetUser": user, "accessKey": "TAKENKEY01", "secretKey": "s" * 12})


def test_secrets_of_keys_are_sealed_at_rest(gw: Server) -> None:
    user, _ = new_user(gw)
    api(gw).add_svcacct({"targetUser": user, "accessKey": "SEALCHECK1", "secretKey": "plain-secret-7731"})
    db = sqlite3.connect(os.path.join(gw.data, "meta", "s3gw.db"))
    try:
        row = db.execute("SELECT secret_enc, kind, parent FROM iam_users WHERE access_key = 'SEALCHECK1'").fetchone()
    finally:
        db.close()
    assert row[1:] == ("svcacct", user) and b"plain-secret-7731" not in bytes(row[0])


def test_an_expired_key_is_refused(gw: Server, bucket: str) -> None:
    """Expiry is at least 15 minutes ahead when set (MinIO), so the test moves it into the past in
    the store, as time would."""
    user, _ = new_user(gw, "readwrite")
    cred = api(gw).add_svcacct(
        {"targetUser": user, "expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))}
    )
    k = s3(gw, cred["accessKey"], cred["secretKey"])
    k.head_bucket(Bucket=bucket)
    db = sqlite3.connect(os.path.join(gw.data, "meta", "s3gw.db"))
    try:
        db.execute("UPDATE iam_users SET expires = ? WHERE access_key = ?", (time.time() - 1, cred["accessKey"]))
        db.commit()
    finally:
        db.close()
    wait_until(lambda: _refused(lambda: k.head_bucket(Bucket=bucket), "403"), "an expired key refused")
    denied(lambda: k.list_objects_v2(Bucket=bucket), "InvalidAccessKeyId")


def test_s3gw_admin_svcacct(gw: Server, bucket: str, tmp_path) -> None:
    user, _ = new_user(gw, "readwrite")
    pol = tmp_path / "p.json"
    pol.write_text(policy_doc(read_pub(bucket)))
    made = json.loads(
        admin(gw, "svcacct", "add", user, "--policy", str(pol), "--name", "etl", "--expiry", "2d", "--json").stdout
    )
    key = made["access_key"]
    assert made["ok"] and len(made["secret_key"]) == 40 and made["expiration"]
    rows = json.loads(admin(gw, "svcacct", "ls", user, "--json").stdout)["accounts"]
    assert [r["accessKey"] for r in rows] == [key] and rows[0]["name"] == "etl"
    info = json.loads(admin(gw, "svcacct", "info", key, "--json").stdout)
    assert info["parentUser"] == user and info["impliedPolicy"] is False
    assert "s3:GetObject" in admin(gw, "svcacct", "info", key, "--policy").stdout
    k = s3(gw, key, made["secret_key"])
    k.get_object(Bucket=bucket, Key="pub/a.txt")
    admin(gw, "svcacct", "disable", key)
    assert json.loads(admin(gw, "svcacct", "info", key, "--json").stdout)["accountStatus"] == "off"
    admin(gw, "svcacct", "enable", key)
    admin(gw, "svcacct", "edit", key, "--description", "nightly", "--secret-key", "edited-secret-99")
    assert json.loads(admin(gw, "svcacct", "info", key, "--json").stdout)["description"] == "nightly"
    s3(gw, key, "edited-secret-99").get_object(Bucket=bucket, Key="pub/a.txt")
    admin(gw, "svcacct", "rm", key)
    cp = admin(gw, "svcacct", "info", key, check=False)
    assert cp.returncode == 1 and "XMinioInvalidIAMCredentials" in cp.stderr


# --------------------------------------------------------------------------- groups


def test_groups_with_mc(gw: Server, mc: Mc, bucket: str, tmp_path) -> None:
    """mc admin group add/info/ls/disable/enable/remove, policies attached to a group, and a
    member's effective policy: its own ∪ its enabled groups', an explicit Deny winning."""
    member, secret = new_user(gw)
    other, _ = new_user(gw)
    group = f"g-{uuid.uuid4().hex[:6]}"
    k = s3(gw, member, secret)
    denied(lambda: k.get_object(Bucket=bucket, Key="pub/a.txt"))  # no policy of its own
    mc("admin", "group", "add", "s3gw", group, member, other)
    info = mc.json("admin", "group", "info", "s3gw", group)
    assert (info["groupName"], info["groupStatus"], sorted(info["members"])) == (
        group,
        "enabled",
        sorted([member, other]),
    )
    assert group in mc("admin", "group", "ls", "s3gw").stdout
    mc("admin", "policy", "attach", "s3gw", "readonly", "--group", group)
    assert mc.json("admin", "group", "info", "s3gw", group)["groupPolicy"] == "readonly"
    wait_until(
        lambda: not _refused(lambda: k.get_object(Bucket=bucket, Key="pub/a.txt"), "AccessDenied"),
        "the group's policy applies to its member",
    )
    denied(lambda: k.put_object(Bucket=bucket, Key="pub/m.txt", Body=b"m"))
    # the member's own policies add to the group's ...
    api(gw).attach(member, ["writeonly"])
    k.put_object(Bucket=bucket, Key="pub/m.txt", Body=b"m")
    k.get_object(Bucket=bucket, Key="pub/m.txt")
    # ... and a Deny in a group's policy wins over an Allow in the user's
    name = f"deny-{uuid.uuid4().hex[:6]}"
    f = tmp_path / "deny.json"
    f.write_text(
        policy_doc({"Effect": "Deny", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{bucket}/private/*"]})
    )
    mc("admin", "policy", "create", "s3gw", name, str(f))
    api(gw).attach(member, ["readwrite"])
    k.get_object(Bucket=bucket, Key="private/b.txt")
    mc("admin", "policy", "attach", "s3gw", name, "--group", group)
    denied(lambda: k.get_object(Bucket=bucket, Key="private/b.txt"))
    # a disabled group gives its members nothing (neither its grants nor its denials), re-enabled it does
    mc("admin", "group", "disable", "s3gw", group)
    info = mc.json("admin", "group", "info", "s3gw", group)
    assert info["groupStatus"] == "disabled" and not info.get("groupPolicy")  # MinIO shows no policy then
    k.get_object(Bucket=bucket, Key="private/b.txt")
    mc("admin", "group", "enable", "s3gw", group)
    denied(lambda: k.get_object(Bucket=bucket, Key="private/b.txt"))
    # the user's info names its groups; the policy's entities name the group
    assert group in mc.json("admin", "user", "info", "s3gw", member)["memberOf"][0]["name"]
    ents = mc.json("admin", "policy", "entities", "s3gw", "--policy", "readonly")["result"]["policyMappings"]
    assert any(group in (e.get("groups") or []) for e in ents if e["policy"] == "readonly")
    ents = mc.json("admin", "policy", "entities", "s3gw", "--user", member)["result"]["userMappings"][0]
    assert sorted(ents["policies"]) == ["readwrite", "writeonly"]
    assert ents["memberOfMappings"][0]["group"] == group
    # a group with members cannot go; removing a member takes the group's powers away from it
    cp = mc("admin", "group", "remove", "s3gw", group, check=False)
    assert cp.returncode != 0 and "not empty" in cp.stderr
    mc("admin", "group", "remove", "s3gw", group, member)
    k.get_object(Bucket=bucket, Key="private/b.txt")
    mc("admin", "group", "remove", "s3gw", group, other)
    mc("admin", "group", "remove", "s3gw", group)
    cp = mc("admin", "group", "info", "s3gw", group, check=False)
    assert cp.returncode != 0 and "The specified group does not exist" in cp.stderr


def test_group_rules(gw: Server, mc: Mc) -> None:
    """Only users are members (not root, not service accounts), members must exist, a removed
    user leaves its groups, and a user without the admin actions manages no groups."""
    user, secret = new_user(gw, "readwrite")
    group = f"g-{uuid.uuid4().hex[:6]}"
    c = api(gw)
    with pytest.raises(Exception, match="XMinioAdminNoSuchUser"):
        c.update_group(group, [user, "nobody-at-all"])
    with pytest.raises(Exception, match="XMinioAdminNoSuchGroup"):
        c.group_info(group)  # nothing of a refused change
    with pytest.raises(Exception, match="XMinioIAMActionNotAllowed"):
        c.update_group(group, [ACCESS_KEY])
    key = c.add_svcacct({"targetUser": user})["accessKey"]
    with pytest.raises(Exception, match="XMinioIAMActionNotAllowed"):
        c.update_group(group, [key])
    with pytest.raises(Exception, match="XMinioInvalidGroupName"):
        c.update_group("a,b", [user])
    c.update_group(group, [user])
    mc.alias("grp-user", user, secret)
    for args in (
        ("admin", "group", "add", "grp-user", group, user),
        ("admin", "group", "info", "grp-user", group),
        ("admin", "group", "ls", "grp-user"),
        ("admin", "group", "disable", "grp-user", group),
    ):
        cp = mc(*args, check=False)
        assert cp.returncode != 0 and "Access Denied" in cp.stderr, args
    c.remove_user(user)
    assert c.group_info(group)["members"] in (None, [])
    c.update_group(group, [], remove=True)


def test_s3gw_admin_group(gw: Server, bucket: str) -> None:
    user, secret = new_user(gw)
    group = f"g-{uuid.uuid4().hex[:6]}"
    admin(gw, "group", "add", group, user)
    admin(gw, "policy", "attach", "readonly", "--group", group)
    info = json.loads(admin(gw, "group", "info", group, "--json").stdout)
    assert (info["members"], info["policies"], info["status"]) == ([user], ["readonly"], "enabled")
    assert group in json.loads(admin(gw, "group", "ls", "--json").stdout)["groups"]
    s3(gw, user, secret).get_object(Bucket=bucket, Key="pub/a.txt")
    admin(gw, "group", "disable", group)
    denied(lambda: s3(gw, user, secret).get_object(Bucket=bucket, Key="pub/a.txt"))
    admin(gw, "group", "enable", group)
    admin(gw, "policy", "detach", "readonly", "--group", group)
    assert json.loads(admin(gw, "group", "info", group, "--json").stdout)["policies"] == []
    cp = admin(gw, "group", "rm", group, check=False)
    assert cp.returncode == 1 and "XMinioAdminGroupNotEmpty" in cp.stderr
    admin(gw, "group", "rm", group, user)
    admin(gw, "group", "rm", group)
    assert group not in json.loads(admin(gw, "group", "ls", "--json").stdout)["groups"]


# --------------------------------------------------------------------------- temporary credentials (STS)

ROLE = {"RoleArn": "arn:aws:iam::123456789012:role/any", "RoleSessionName": "tests"}


def sts(gw: Server, access: str, secret: str, token: str | None = None):
    return client("sts", gw, access, secret, token)


def sts_form(gw: Server, access: str, secret: str, form: dict[str, str], service: str = "sts") -> tuple[int, str]:
    """A raw AssumeRole (what boto3 refuses to send: out-of-range values), signed for ``service``."""
    import urllib.error
    import urllib.request
    from urllib.parse import urlencode

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = urlencode(form)
    req = AWSRequest(
        "POST", gw.url + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    )
    SigV4Auth(Credentials(access, secret), service, "us-east-1").add_auth(req)
    r = urllib.request.Request(gw.url + "/", data=body.encode(), method="POST", headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_assume_role_with_boto3(gw: Server, mc: Mc, bucket: str) -> None:
    """sts.assume_role, then S3 with the credentials, unmodified: headers, presigned URLs (V4 and
    V2), a session policy narrowing the user's, the default and a chosen duration."""
    import urllib.request

    user, secret = new_user(gw, "readwrite")
    before = time.time()
    c = sts(gw, user, secret).assume_role(**ROLE)["Credentials"]
    assert before + 3600 - 5 <= c["Expiration"].timestamp() <= time.time() + 3600 + 5
    assert len(c["AccessKeyId"]) == 20 and c["SessionToken"]
    t = s3(gw, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    t.put_object(Bucket=bucket, Key="pub/sts.txt", Body=b"sts")
    assert t.get_object(Bucket=bucket, Key="pub/sts.txt")["Body"].read() == b"sts"
    for version in ("s3v4", "s3"):
        signer = boto3.client(
            "s3",
            endpoint_url=gw.url,
            aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"],
            region_name="us-east-1",
            config=Config(signature_version=version),
        )
        url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pub/sts.txt"})
        assert "ecurity-" in url and urllib.request.urlopen(url, timeout=30).read() == b"sts", version
    # a session policy: only reads under pub/
    session = policy_doc(read_pub(bucket))
    c2 = sts(gw, user, secret).assume_role(**ROLE, Policy=session, DurationSeconds=900)["Credentials"]
    assert c2["Expiration"].timestamp() <= time.time() + 905
    n = s3(gw, c2["AccessKeyId"], c2["SecretAccessKey"], c2["SessionToken"])
    n.get_object(Bucket=bucket, Key="pub/a.txt")
    denied(lambda: n.get_object(Bucket=bucket, Key="private/b.txt"))
    denied(lambda: n.put_object(Bucket=bucket, Key="pub/y.txt", Body=b"y"))
    # a session policy never widens: a readonly user's credentials do not write
    reader, rsecret = new_user(gw, "readonly")
    wide = policy_doc({"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]})
    c3 = sts(gw, reader, rsecret).assume_role(**ROLE, Policy=wide)["Credentials"]
    w = s3(gw, c3["AccessKeyId"], c3["SecretAccessKey"], c3["SessionToken"])
    w.get_object(Bucket=bucket, Key="pub/a.txt")
    denied(lambda: w.put_object(Bucket=bucket, Key="pub/z.txt", Body=b"z"))
    # mc sees them: accesskey ls --temp-only, accesskey info (temporary-account-info)
    listed = mc("admin", "accesskey", "ls", "s3gw", user, "--temp-only").stdout
    assert c["AccessKeyId"] in listed and c2["AccessKeyId"] in listed
    info = mc.json("admin", "accesskey", "info", "s3gw", c2["AccessKeyId"])
    assert info["parentUser"] == user and info["policy"]["Statement"][0]["Action"] == ["s3:GetObject"]
    # root may assume a role too: root's powers, unless narrowed
    r = sts(gw, ACCESS_KEY, SECRET_KEY).assume_role(**ROLE)["Credentials"]
    s3(gw, r["AccessKeyId"], r["SecretAccessKey"], r["SessionToken"]).list_buckets()


def test_the_session_token_is_required_and_verified(gw: Server, bucket: str) -> None:
    from tests.functional.rawhttp import send, sign

    user, secret = new_user(gw, "readwrite")
    c = sts(gw, user, secret).assume_role(**ROLE)["Credentials"]
    key, sk, token = c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]
    denied(lambda: s3(gw, key, sk).list_objects_v2(Bucket=bucket), "InvalidTokenId")  # none
    denied(lambda: s3(gw, key, sk, token[:-1] + "A").list_objects_v2(Bucket=bucket), "InvalidTokenId")
    other = sts(gw, user, secret).assume_role(**ROLE)["Credentials"]["SessionToken"]
    denied(lambda: s3(gw, key, sk, other).list_objects_v2(Bucket=bucket), "InvalidTokenId")  # another's
    # a token the signature does not cover is refused, whatever its value
    path = f"/{bucket}?list-type=2"
    headers = sign(gw, "GET", path, b"", {}, access=key, secret=sk)
    r = send(gw, "GET", path, {**headers, "x-amz-security-token": token}, b"")
    assert r.status == 400 and b"<Code>AccessDenied</Code>" in r.body and b"not signed" in r.body
    # a user's (or root's) request carries no token
    denied(lambda: s3(gw, user, secret, token).list_objects_v2(Bucket=bucket), "InvalidTokenId")
    denied(lambda: s3(gw, ACCESS_KEY, SECRET_KEY, "x" * 20).list_buckets(), "InvalidTokenId")
    # and an anonymous request none either
    r = send(gw, "GET", f"/{bucket}/pub/a.txt", {"Host": f"127.0.0.1:{gw.port}", "x-amz-security-token": token}, b"")
    assert r.status == 403 and b"No AWSAccessKey was presented" in r.body


def test_temporary_credentials_end(gw: Server, mc: Mc, bucket: str) -> None:
    """After expiry, and when their user is disabled or removed."""
    user, secret = new_user(gw, "readwrite")
    c = sts(gw, user, secret).assume_role(**ROLE, DurationSeconds=900)["Credentials"]
    t = s3(gw, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    t.list_objects_v2(Bucket=bucket)
    mc("admin", "user", "disable", "s3gw", user)
    denied(lambda: t.list_objects_v2(Bucket=bucket))
    mc("admin", "user", "enable", "s3gw", user)
    t.list_objects_v2(Bucket=bucket)
    # expiry (at least 15 minutes ahead: moved into the past in the store, as time would)
    db = sqlite3.connect(os.path.join(gw.data, "meta", "s3gw.db"))
    try:
        db.execute("UPDATE iam_users SET expires = ? WHERE access_key = ?", (time.time() - 1, c["AccessKeyId"]))
        db.commit()
    finally:
        db.close()
    wait_until(lambda: _refused(lambda: t.list_objects_v2(Bucket=bucket)), "expired credentials refused")
    c2 = sts(gw, user, secret).assume_role(**ROLE)["Credentials"]
    t2 = s3(gw, c2["AccessKeyId"], c2["SecretAccessKey"], c2["SessionToken"])
    t2.list_objects_v2(Bucket=bucket)
    mc("admin", "user", "remove", "s3gw", user)
    denied(lambda: t2.list_objects_v2(Bucket=bucket), "InvalidAccessKeyId")


def test_assume_role_is_refused(gw: Server, bucket: str) -> None:
    user, secret = new_user(gw, "readwrite")
    c = sts(gw, user, secret).assume_role(**ROLE)["Credentials"]
    # temporary credentials and service accounts make no more
    denied(lambda: sts(gw, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).assume_role(**ROLE))
    k = api(gw).add_svcacct({"targetUser": user})
    denied(lambda: sts(gw, k["accessKey"], k["secretKey"]).assume_role(**ROLE))
    denied(lambda: sts(gw, user, "not-the-secret").assume_role(**ROLE))
    denied(lambda: sts(gw, "nobody-at-all", "not-the-secret").assume_role(**ROLE))
    base = {"Action": "AssumeRole", "Version": "2011-06-15"}
    for form, code, message in (
        ({**base, "DurationSeconds": "899"}, "InvalidParameterValue", "invalid token expiry"),
        ({**base, "DurationSeconds": "43201"}, "InvalidParameterValue", "invalid token expiry"),
        ({**base, "DurationSeconds": "1e3"}, "InvalidParameterValue", "invalid token expiry"),
        ({**base, "Version": "2010-01-01"}, "MissingParameter", "Invalid STS API version 2010-01-01"),
        ({**base, "Action": "GetCallerIdentity"}, "InvalidParameterValue", "Unsupported action GetCallerIdentity"),
        ({**base, "Policy": "{not json"}, "InvalidParameterValue", "not valid JSON"),
        (
            {**base, "Policy": '{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'},
            "InvalidParameterValue",
            "Version cannot be empty",
        ),
        (
            {**base, "Policy": policy_doc(*[read_pub(bucket + str(i)) for i in range(30)])},
            "InvalidParameterValue",
            "should not exceed 2048",
        ),
    ):
        status, body = sts_form(gw, user, secret, form)
        assert (status, f"<Code>{code}</Code>") == (400, f"<Code>{code}</Code>") and code in body and message in body, (
            form,
            status,
            body,
        )
    status, body = sts_form(gw, user, secret, base, service="s3")  # signed for another service
    assert status == 403 and "<Code>AccessDenied</Code>" in body and "incorrect service" in body


def test_temporary_secrets_are_sealed_at_rest(gw: Server) -> None:
    user, secret = new_user(gw, "readonly")
    c = sts(gw, user, secret).assume_role(**ROLE)["Credentials"]
    db = sqlite3.connect(os.path.join(gw.data, "meta", "s3gw.db"))
    try:
        row = db.execute(
            "SELECT secret_enc, info, kind, parent FROM iam_users WHERE access_key = ?", (c["AccessKeyId"],)
        ).fetchone()
    finally:
        db.close()
    assert row[2:] == ("sts", user)
    assert c["SecretAccessKey"].encode() not in bytes(row[0]) and c["SessionToken"] not in row[1]


def test_only_root_manages_roots_keys(gw: Server) -> None:
    """Root's service accounts have root's powers: an administrator that is not root may not
    make one, re-key one or take its narrowing policy off (MinIO lets admin:CreateServiceAccount
    and admin:UpdateServiceAccount do so)."""
    c = api(gw)
    name = f"keyadmin-{uuid.uuid4().hex[:6]}"
    c.create_policy(
        name,
        policy_doc(
            {
                "Effect": "Allow",
                "Action": [
                    "admin:CreateServiceAccount",
                    "admin:UpdateServiceAccount",
                    "admin:RemoveServiceAccount",
                    "admin:ListServiceAccounts",
                ],
            }
        ).encode(),
    )
    user, secret = new_user(gw, name)
    other, _ = new_user(gw)
    root_key = c.add_svcacct({"policy": json.loads(policy_doc(read_pub("any")))})["accessKey"]
    a = OpsClient(gw.url, user, secret)
    for call in (
        lambda: a.add_svcacct({"targetUser": ACCESS_KEY}),
        lambda: a.edit_svcacct(root_key, {"newSecretKey": "taken-over-123", "newPolicy": {}}),
        lambda: a.remove_svcacct(root_key),
    ):
        with pytest.raises(Exception, match="AccessDenied"):
            call()
    assert c.svcacct_info(root_key)["impliedPolicy"] is False  # untouched
    made = a.add_svcacct({"targetUser": other})  # another user's: the actions suffice
    a.edit_svcacct(made["accessKey"], {"newDescription": "by an admin"})
    a.remove_svcacct(made["accessKey"])
