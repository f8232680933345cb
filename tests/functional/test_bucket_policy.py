"""Bucket policies and conditions against a real gateway (docs/policies.md): the S3 calls
(boto3), anonymous access through them (unsigned HTTP, boto3 UNSIGNED, the real ``mc``),
users combined with bucket policies, and condition keys taken from the request.

The gateway is this module's own: users are deployment-wide.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from s3gw.admin_cli import AdminFailed, OpsClient
from tests.conftest import ACCESS_KEY, SECRET_KEY, Server, start_server
from tests.waiting import wait_until

ARN = "arn:aws:s3:::"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(str(tmp_path_factory.mktemp("policy-gw")))
    yield srv
    srv.stop()


def client(gw: Server, access: str | None = ACCESS_KEY, secret: str | None = SECRET_KEY):
    extra = {"signature_version": UNSIGNED} if access is None else {}
    return boto3.client(
        "s3",
        endpoint_url=gw.url,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, **extra),
    )


@pytest.fixture(scope="module")
def root(gw: Server):
    return client(gw)


@pytest.fixture
def bucket(root) -> str:
    name = f"pol-{uuid.uuid4().hex[:10]}"
    root.create_bucket(Bucket=name)
    root.put_object(Bucket=name, Key="pub/a.txt", Body=b"public a")
    root.put_object(Bucket=name, Key="secret/b.txt", Body=b"secret b")
    root.put_object(Bucket=name, Key="top.txt", Body=b"top")
    return name


def anon(
    gw: Server, path: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """An unsigned request, as a browser or curl sends it."""
    req = urllib.request.Request(gw.url + path, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def put_policy(s3, bucket: str, *statements: dict) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def everyone(action, resource, effect: str = "Allow", **extra) -> dict:
    return {"Effect": effect, "Principal": {"AWS": ["*"]}, "Action": action, "Resource": resource, **extra}


def code_of(e: ClientError) -> str:
    return e.response["Error"]["Code"]


# --------------------------------------------------------------------------- the S3 calls


def test_put_get_status_delete(root, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        root.get_bucket_policy(Bucket=bucket)
    assert code_of(e.value) == "NoSuchBucketPolicy"
    assert root.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    doc = {"Version": "2012-10-17", "Statement": [everyone("s3:GetObject", f"{ARN}{bucket}/pub/*")]}
    r = root.put_bucket_policy(Bucket=bucket, Policy=json.dumps(doc))
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    got = json.loads(root.get_bucket_policy(Bucket=bucket)["Policy"])
    assert got == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": [f"{ARN}{bucket}/pub/*"],
            }
        ],
    }
    assert root.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    r = root.delete_bucket_policy(Bucket=bucket)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        root.get_bucket_policy(Bucket=bucket)
    assert code_of(e.value) == "NoSuchBucketPolicy"
    root.delete_bucket_policy(Bucket=bucket)  # none: still 204, as S3 and MinIO


@pytest.mark.parametrize(
    "policy,message",
    [
        (b"{not json", "not valid JSON"),
        (
            json.dumps(
                {"Version": "2012-10-17", "Statement": [everyone("s3:GetObject", ARN + "elsewhere/*")]}
            ).encode(),
            "Policy has invalid resource",
        ),
        (
            json.dumps({"Statement": [everyone("s3:GetObject", ARN + "*")]}).encode(),
            "The policy must contain a valid version string",
        ),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        everyone("s3:GetObject", ARN + "*", Condition={"IpAddress": {"aws:SourceIp": "nowhere"}})
                    ],
                }
            ).encode(),
            "must be CIDR string",
        ),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ARN + "*"}],
                }
            ).encode(),
            "Principal",
        ),
    ],
)
def test_malformed_policies(root, bucket: str, policy: bytes, message: str) -> None:
    with pytest.raises(ClientError) as e:
        root.put_bucket_policy(Bucket=bucket, Policy=policy.decode())
    assert code_of(e.value) == "MalformedPolicy" and message in e.value.response["Error"]["Message"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError):
        root.get_bucket_policy(Bucket=bucket)  # nothing was stored


def test_size_and_missing_bucket(root, bucket: str) -> None:
    big = {
        "Version": "2012-10-17",
        "Statement": [everyone("s3:GetObject", f"{ARN}{bucket}/{'x' * 200}{i}") for i in range(100)],
    }
    with pytest.raises(ClientError) as e:
        root.put_bucket_policy(Bucket=bucket, Policy=json.dumps(big))
    assert code_of(e.value) == "PolicyTooLarge"
    with pytest.raises(ClientError) as e:
        root.put_bucket_policy(
            Bucket="no-such-bucket-here",
            Policy=json.dumps(
                {"Version": "2012-10-17", "Statement": [everyone("s3:GetObject", ARN + "no-such-bucket-here/*")]}
            ),
        )
    assert code_of(e.value) == "NoSuchBucket"


def test_policy_goes_with_its_bucket(root) -> None:
    name = f"pol-{uuid.uuid4().hex[:10]}"
    root.create_bucket(Bucket=name)
    put_policy(root, name, everyone("s3:GetObject", f"{ARN}{name}/*"))
    root.delete_bucket(Bucket=name)
    root.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        root.get_bucket_policy(Bucket=name)
    assert code_of(e.value) == "NoSuchBucketPolicy"
    root.delete_bucket(Bucket=name)


# --------------------------------------------------------------------------- anonymous access


def test_anonymous_download(gw: Server, root, bucket: str) -> None:
    assert anon(gw, f"/{bucket}/pub/a.txt")[0] == 403  # no policy: refused
    put_policy(
        root,
        bucket,
        everyone(["s3:GetBucketLocation", "s3:ListBucket"], ARN + bucket),
        everyone("s3:GetObject", f"{ARN}{bucket}/*"),
    )
    assert anon(gw, f"/{bucket}/pub/a.txt") == (200, b"public a")
    assert anon(gw, f"/{bucket}/pub/a.txt", "HEAD")[0] == 200
    status, body = anon(gw, f"/{bucket}?list-type=2")
    assert status == 200 and b"<Key>top.txt</Key>" in body
    assert anon(gw, f"/{bucket}/pub/new.txt", "PUT", b"no")[0] == 403  # download is not upload
    assert anon(gw, f"/{bucket}/top.txt", "DELETE")[0] == 403
    assert anon(gw, "/")[0] == 403  # ListBuckets never anonymous
    unsigned = client(gw, None, None)
    assert unsigned.get_object(Bucket=bucket, Key="top.txt")["Body"].read() == b"top"
    # a Deny statement wins over the Allow
    put_policy(
        root,
        bucket,
        everyone("s3:GetObject", f"{ARN}{bucket}/*"),
        everyone("s3:GetObject", f"{ARN}{bucket}/secret/*", effect="Deny"),
    )
    assert anon(gw, f"/{bucket}/pub/a.txt")[0] == 200
    assert anon(gw, f"/{bucket}/secret/b.txt")[0] == 403
    assert root.get_object(Bucket=bucket, Key="secret/b.txt")["Body"].read() == b"secret b"  # root: always
    root.delete_bucket_policy(Bucket=bucket)
    assert anon(gw, f"/{bucket}/pub/a.txt")[0] == 403  # seen at once


def test_anonymous_upload(gw: Server, root, bucket: str) -> None:
    put_policy(root, bucket, everyone("s3:PutObject", f"{ARN}{bucket}/inbox/*"))
    assert anon(gw, f"/{bucket}/inbox/drop.txt", "PUT", b"dropped")[0] == 200
    assert root.get_object(Bucket=bucket, Key="inbox/drop.txt")["Body"].read() == b"dropped"
    assert anon(gw, f"/{bucket}/elsewhere.txt", "PUT", b"x")[0] == 403
    assert anon(gw, f"/{bucket}/inbox/drop.txt")[0] == 403  # upload is not download
    # a digest an anonymous uploader sends is verified like a signer's
    status, body = anon(gw, f"/{bucket}/inbox/bad.txt", "PUT", b"body", {"x-amz-content-sha256": "0" * 64})
    assert status == 400 and b"XAmzContentSHA256Mismatch" in body
    with pytest.raises(ClientError):
        root.head_object(Bucket=bucket, Key="inbox/bad.txt")


def test_prefix_scoped_listing(gw: Server, root, bucket: str) -> None:
    put_policy(
        root,
        bucket,
        everyone("s3:ListBucket", ARN + bucket, Condition={"StringLike": {"s3:prefix": "pub/*"}}),
        everyone("s3:GetObject", f"{ARN}{bucket}/pub/*"),
    )
    status, body = anon(gw, f"/{bucket}?list-type=2&prefix=pub/")
    assert status == 200 and b"<Key>pub/a.txt</Key>" in body and b"secret" not in body
    assert anon(gw, f"/{bucket}?list-type=2")[0] == 403  # no prefix: not allowed
    assert anon(gw, f"/{bucket}?list-type=2&prefix=secret/")[0] == 403
    assert anon(gw, f"/{bucket}?prefix=pub/x")[0] == 200  # ListObjects (v1) too
    assert anon(gw, f"/{bucket}/secret/b.txt")[0] == 403


def test_conditions_from_the_request(gw: Server, root, bucket: str) -> None:
    loopback = everyone("s3:GetObject", f"{ARN}{bucket}/*", Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})
    put_policy(root, bucket, loopback)
    assert anon(gw, f"/{bucket}/top.txt")[0] == 200
    put_policy(root, bucket, {**loopback, "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}})
    assert anon(gw, f"/{bucket}/top.txt")[0] == 403
    # X-Forwarded-For is not believed unless the peer is a configured trusted proxy
    assert anon(gw, f"/{bucket}/top.txt", headers={"X-Forwarded-For": "203.0.113.9"})[0] == 403
    # plain HTTP: a Deny unless aws:SecureTransport refuses it
    put_policy(
        root,
        bucket,
        everyone("s3:GetObject", f"{ARN}{bucket}/*"),
        everyone("s3:*", f"{ARN}{bucket}/*", effect="Deny", Condition={"Bool": {"aws:SecureTransport": "false"}}),
    )
    assert anon(gw, f"/{bucket}/top.txt")[0] == 403
    # user agent and referer
    put_policy(
        root,
        bucket,
        everyone(
            "s3:GetObject", f"{ARN}{bucket}/*", Condition={"StringLike": {"aws:Referer": "https://example.com/*"}}
        ),
    )
    assert anon(gw, f"/{bucket}/top.txt")[0] == 403
    assert anon(gw, f"/{bucket}/top.txt", headers={"Referer": "https://example.com/page"})[0] == 200
    # s3:ExistingObjectTag: the tags the object has
    root.put_object(Bucket=bucket, Key="tagged.txt", Body=b"t", Tagging="share=yes")
    put_policy(
        root,
        bucket,
        everyone("s3:GetObject", f"{ARN}{bucket}/*", Condition={"StringEquals": {"s3:ExistingObjectTag/share": "yes"}}),
    )
    assert anon(gw, f"/{bucket}/tagged.txt")[0] == 200
    assert anon(gw, f"/{bucket}/top.txt")[0] == 403
    # s3:x-amz-* headers of an upload
    put_policy(
        root,
        bucket,
        everyone(
            "s3:PutObject", f"{ARN}{bucket}/*", Condition={"StringEquals": {"s3:x-amz-storage-class": "STANDARD"}}
        ),
    )
    assert anon(gw, f"/{bucket}/sc.txt", "PUT", b"x", {"x-amz-storage-class": "STANDARD"})[0] == 200
    assert anon(gw, f"/{bucket}/sc.txt", "PUT", b"x")[0] == 403


def test_trusted_proxy(tmp_path, root) -> None:
    srv = start_server(str(tmp_path), env={"S3GW_SERVER_TRUSTED_PROXIES": "127.0.0.1"})
    try:
        s3 = client(srv)
        name = f"pol-{uuid.uuid4().hex[:10]}"
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="k", Body=b"k")
        put_policy(
            s3,
            name,
            everyone("s3:GetObject", f"{ARN}{name}/*", Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
        )
        assert anon(srv, f"/{name}/k")[0] == 403
        assert anon(srv, f"/{name}/k", headers={"X-Forwarded-For": "203.0.113.9"})[0] == 200
        # a client's own X-Forwarded-For entry in front of the proxy's does not count
        assert anon(srv, f"/{name}/k", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"})[0] == 403
    finally:
        srv.stop()


# --------------------------------------------------------------------------- users and bucket policies


def test_users_and_bucket_policies_combine(gw: Server, root, bucket: str) -> None:
    ops = OpsClient(gw.url, ACCESS_KEY, SECRET_KEY)
    ops.add_user("pol-alice", "pol-alice-secret", [])
    ops.add_user("pol-bob", "pol-bob-secret-1", ["readwrite"])
    alice, bob = client(gw, "pol-alice", "pol-alice-secret"), client(gw, "pol-bob", "pol-bob-secret-1")
    with pytest.raises(ClientError) as e:
        alice.put_object(Bucket=bucket, Key="alice.txt", Body=b"a")
    assert code_of(e.value) == "AccessDenied"
    put_policy(
        root,
        bucket,
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["pol-alice"]},
            "Action": "s3:PutObject",
            "Resource": f"{ARN}{bucket}/*",
        },
        {
            "Effect": "Deny",
            "Principal": {"AWS": ["*"]},
            "Action": "s3:GetObject",
            "Resource": f"{ARN}{bucket}/secret/*",
        },
    )
    alice.put_object(Bucket=bucket, Key="alice.txt", Body=b"a")  # the bucket policy grants it
    with pytest.raises(ClientError) as e:
        bob.get_object(Bucket=bucket, Key="secret/b.txt")  # the bucket's Deny beats readwrite
    assert code_of(e.value) == "AccessDenied"
    assert bob.get_object(Bucket=bucket, Key="pub/a.txt")["Body"].read() == b"public a"
    # a user may not change the policy without s3:PutBucketPolicy
    with pytest.raises(ClientError) as e:
        alice.delete_bucket_policy(Bucket=bucket)
    assert code_of(e.value) == "AccessDenied"


def test_identity_policy_conditions(gw: Server, root, bucket: str) -> None:
    """User policies with a Condition are accepted and enforced (they were refused before)."""
    ops = OpsClient(gw.url, ACCESS_KEY, SECRET_KEY)
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{ARN}{bucket}/*",
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"{ARN}{bucket}",
                "Condition": {"StringEquals": {"s3:prefix": "pub/"}},
            },
        ],
    }
    ops.create_policy("pol-office", json.dumps(doc).encode())
    ops.add_user("pol-carol", "pol-carol-secret", ["pol-office"])
    carol = client(gw, "pol-carol", "pol-carol-secret")
    with pytest.raises(ClientError) as e:
        carol.get_object(Bucket=bucket, Key="top.txt")  # from 127.0.0.1: not the office
    assert code_of(e.value) == "AccessDenied"
    assert [o["Key"] for o in carol.list_objects_v2(Bucket=bucket, Prefix="pub/")["Contents"]] == ["pub/a.txt"]
    with pytest.raises(ClientError):
        carol.list_objects_v2(Bucket=bucket)
    doc["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}
    ops.create_policy("pol-office", json.dumps(doc).encode())
    wait_until(lambda: _can_get(carol, bucket), "carol reads from 127.0.0.1")  # stored policies: cached a second


def _can_get(s3, bucket: str) -> bool:
    try:
        s3.get_object(Bucket=bucket, Key="top.txt")
        return True
    except ClientError:
        return False


# --------------------------------------------------------------------------- mc anonymous


class Mc:
    def __init__(self, binary: str, config_dir: str, gw: Server) -> None:
        self.binary, self.config_dir = binary, config_dir
        self("alias", "set", "gw", gw.url, ACCESS_KEY, SECRET_KEY)
        self("alias", "set", "anon", gw.url, "", "")

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cp = subprocess.run(
            [self.binary, "--config-dir", self.config_dir, "--no-color", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check:
            assert cp.returncode == 0, f"mc {' '.join(args)}: {cp.returncode}\n{cp.stdout}\n{cp.stderr}"
        return cp


def test_mc_anonymous(mc_bin: str, gw: Server, root, bucket: str, tmp_path) -> None:
    mc = Mc(mc_bin, str(tmp_path / "mc"), gw)
    assert "is `private`" in mc("anonymous", "get", f"gw/{bucket}").stdout
    mc("anonymous", "set", "download", f"gw/{bucket}")
    assert "is `download`" in mc("anonymous", "get", f"gw/{bucket}").stdout
    assert root.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert mc("cat", f"anon/{bucket}/pub/a.txt").stdout == "public a"
    assert "top.txt" in mc("ls", f"anon/{bucket}").stdout
    assert mc("pipe", f"anon/{bucket}/no.txt", check=False).returncode != 0
    # upload under a prefix, listed next to the bucket-wide download
    mc("anonymous", "set", "upload", f"gw/{bucket}/inbox")
    listed = mc("anonymous", "list", f"gw/{bucket}").stdout
    assert f"{bucket}/* => readonly" in listed and f"{bucket}/inbox* => writeonly" in listed
    src = tmp_path / "up.txt"
    src.write_bytes(b"anonymous upload")
    mc("cp", str(src), f"anon/{bucket}/inbox/up.txt")
    assert root.get_object(Bucket=bucket, Key="inbox/up.txt")["Body"].read() == b"anonymous upload"
    doc = json.loads(mc("anonymous", "get-json", f"gw/{bucket}").stdout)
    assert doc["Version"] == "2012-10-17" and any(
        "s3:PutObject" in st["Action"] and st["Resource"] == [f"{ARN}{bucket}/inbox*"] for st in doc["Statement"]
    )
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Version": "2012-10-17", "Statement": [everyone("s3:GetObject", ARN + "other/*")]}))
    cp = mc("anonymous", "set-json", str(bad), f"gw/{bucket}", check=False)
    assert cp.returncode != 0 and "Policy has invalid resource" in cp.stderr
    mc("anonymous", "set", "public", f"gw/{bucket}/both")
    assert f"{bucket}/both* => readwrite" in mc("anonymous", "list", f"gw/{bucket}").stdout
    for target in ("inbox", "both", ""):
        mc("anonymous", "set", "none", f"gw/{bucket}/{target}".rstrip("/"))
    assert "is `private`" in mc("anonymous", "get", f"gw/{bucket}").stdout
    assert mc("anonymous", "list", f"gw/{bucket}").stdout.strip() == ""
    assert mc("cat", f"anon/{bucket}/pub/a.txt", check=False).returncode != 0
    assert anon(gw, f"/{bucket}/pub/a.txt")[0] == 403


def test_admin_calls_see_the_condition_context(gw: Server) -> None:
    """Identity-policy conditions hold for admin actions too (aws:SourceIp of the admin call)."""
    ops = OpsClient(gw.url, ACCESS_KEY, SECRET_KEY)
    for name, net in (("pol-admin-here", "127.0.0.0/8"), ("pol-admin-away", "10.0.0.0/8")):
        ops.create_policy(
            name,
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["admin:ListUsers"],
                            "Condition": {"IpAddress": {"aws:SourceIp": net}},
                        }
                    ],
                }
            ).encode(),
        )
        ops.add_user(name, f"{name}-secret", [name])
    assert "pol-admin-away" in OpsClient(gw.url, "pol-admin-here", "pol-admin-here-secret").list_users()
    with pytest.raises(AdminFailed) as e:
        OpsClient(gw.url, "pol-admin-away", "pol-admin-away-secret").list_users()
    assert e.value.code == "AccessDenied"


def test_request_tags(gw: Server, root, bucket: str) -> None:
    """s3:RequestObjectTag from x-amz-tagging; from a PutObjectTagging body it cannot be known
    before the body is read, so a Deny that tests it applies (fail closed)."""
    secret = {"StringEquals": {"s3:RequestObjectTag/class": "secret"}}
    put_policy(
        root,
        bucket,
        everyone(["s3:PutObject", "s3:PutObjectTagging"], f"{ARN}{bucket}/*"),
        everyone("s3:PutObject", f"{ARN}{bucket}/*", effect="Deny", Condition=secret),
    )
    assert anon(gw, f"/{bucket}/t1", "PUT", b"x", {"x-amz-tagging": "class=public"})[0] == 200
    assert anon(gw, f"/{bucket}/t2", "PUT", b"x", {"x-amz-tagging": "class=secret"})[0] == 403
    tagging = (
        b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>class</Key>'
        b"<Value>public</Value></Tag></TagSet></Tagging>"
    )
    assert anon(gw, f"/{bucket}/t1?tagging", "PUT", tagging)[0] == 200
    put_policy(
        root,
        bucket,
        everyone(["s3:PutObject", "s3:PutObjectTagging"], f"{ARN}{bucket}/*"),
        everyone("s3:PutObjectTagging", f"{ARN}{bucket}/*", effect="Deny", Condition=secret),
    )
    assert anon(gw, f"/{bucket}/t1?tagging", "PUT", tagging)[0] == 403
    assert root.get_object_tagging(Bucket=bucket, Key="t1")["TagSet"] == [{"Key": "class", "Value": "public"}]
