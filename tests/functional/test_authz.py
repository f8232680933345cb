"""Who may do what: the admin API's authentication and self-service, and the
IAM actions an S3 request needs beyond its operation's own (issue 10, holes 1-3).

Real server, real users (created through the admin API as ``s3gw admin`` does),
requests as boto3 and madmin send them, or raw where a client would not.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.client
import json
import subprocess
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from s3gw.admin_cli import AdminFailed, OpsClient
from s3gw.api.madmin_crypto import encrypt_data
from tests.conftest import Server
from tests.functional.rawhttp import Response, send, signed_request


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def root_api(server: Server) -> OpsClient:
    return OpsClient(server.url, server.access_key, server.secret_key)


def user(server: Server, policies: list[str], prefix: str = "user") -> tuple[str, str]:
    name, secret = unique(prefix), f"secret-{uuid.uuid4().hex}"
    root_api(server).add_user(name, secret, policies)
    return name, secret


def unsigned(
    server: Server, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> Response:
    h = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
    if method in ("PUT", "POST"):
        h.setdefault("Content-Length", str(len(body)))
    return send(server, method, path, h, body)


def admin_code(r: Response) -> str:
    return json.loads(r.body)["Code"]


# --------------------------------------------------------------------------- admin: unsigned callers


def test_unsigned_admin_reads_learn_nothing(server: Server) -> None:
    """An unsigned user-info naming a user in AWSAccessKeyId used to answer that user's info
    (200) and 404 for unknown names: now the same 403 for both, and for a disabled user."""
    known, _ = user(server, ["readonly"])
    disabled, _ = user(server, ["readonly"])
    root_api(server).set_status(disabled, "disabled")
    answers = []
    for name in (known, disabled, unique("nobody")):
        r = unsigned(server, "GET", f"/minio/admin/v3/user-info?accessKey={name}&AWSAccessKeyId={name}")
        assert r.status == 403, r.body
        doc = json.loads(r.body)
        assert doc["Code"] == "AccessDenied" and doc["Message"] == "Access Denied."
        answers.append((r.status, doc["Code"], doc["Message"]))
    assert len(set(answers)) == 1
    # the S3 side does not look an unsigned claim up either (no "account is disabled" for anyone)
    for name in (disabled, unique("nobody")):
        r = unsigned(server, "GET", f"/some-bucket?AWSAccessKeyId={name}")
        assert r.status == 403 and b"<Code>AccessDenied</Code>" in r.body, r.body


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/minio/admin/v3/info"),
        ("GET", "/minio/admin/v3/list-users"),
        ("PUT", "/minio/admin/v3/add-user?accessKey=someone"),
        ("PUT", "/minio/admin/v3/set-user-status?accessKey=someone&status=enabled"),
        ("POST", "/minio/admin/v3/idp/builtin/policy/attach"),
        ("POST", "/minio/admin/v3/heal/"),
        ("GET", "/minio/admin/s3gw/v1/info"),
        ("POST", "/minio/admin/s3gw/v1/heal"),
        ("PUT", "/minio/admin/s3gw/v1/maintenance?state=on"),
        ("GET", "/minio/admin/s3gw/v1/backup"),
        # unknown paths and methods: refused alike, not 501 naming the server
        ("GET", "/minio/admin/v3/no-such-api"),
        ("POST", "/minio/admin/v3/service?action=restart"),
        ("DELETE", "/minio/admin/v3/info"),
        ("PATCH", "/minio/admin/s3gw/v1/nope"),
        ("GET", "/minio/admin/v2/info"),
        ("OPTIONS", "/minio/admin/v3/list-users"),
    ],
)
def test_unsigned_admin_calls_are_denied(server: Server, method: str, path: str) -> None:
    r = unsigned(server, method, path)
    assert r.status == 403, (r.status, r.body)
    doc = json.loads(r.body)
    assert doc["Code"] == "AccessDenied" and doc["Resource"] == path.split("?")[0]
    assert b"s3gw" not in r.body.replace(b"/s3gw/", b"")
    head = unsigned(server, "HEAD", path)
    assert head.status == 403 and head.body == b""


def test_unsigned_add_user_is_refused_before_its_body(server: Server) -> None:
    """Refused on the headers alone: the body (which madmin seals with Argon2id, costly to open)
    is never waited for. The client announces 1 MB and sends none of it."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.putrequest("PUT", "/minio/admin/v3/add-user?accessKey=victim&AWSAccessKeyId=victim", skip_host=True)
        conn.putheader("Host", f"127.0.0.1:{server.port}")
        conn.putheader("Content-Length", "1000000")
        conn.endheaders()
        r = conn.getresponse()
        assert r.status == 403
        assert json.loads(r.read())["Code"] == "AccessDenied"
    finally:
        conn.close()


def test_signed_unknown_admin_api(server: Server) -> None:
    """A signed caller gets MinIO's answer for an admin API the server does not have."""
    for who in ((server.access_key, server.secret_key), user(server, ["readonly"])):
        r = signed_request(server, "GET", "/minio/admin/v3/no-such-api", access=who[0], secret=who[1])
        assert r.status == 426, r.body
        doc = json.loads(r.body)
        assert doc["Code"] == "XMinioAdminVersionMismatch"
        assert doc["Message"] == "This 'admin' API is not supported by server in 'mode-server-xl'"
    r = signed_request(server, "GET", "/minio/admin/v2/info")
    assert r.status == 426 and "found 'v2', please upgrade the client" in json.loads(r.body)["Message"]
    # a wrong signature is still a signature error, in the same JSON shape
    r = signed_request(server, "GET", "/minio/admin/v3/no-such-api", secret="not-the-secret-key")
    assert r.status == 403 and admin_code(r) == "SignatureDoesNotMatch"


def test_s3gw_admin_info_needs_the_admin_action(server: Server) -> None:
    """s3gw's own info/heal calls go through the same admin authentication: a user needs
    admin:ServerInfo / admin:Heal, and errors are MinIO's JSON document."""
    name, secret = user(server, ["readonly"])
    with pytest.raises(AdminFailed) as e:
        OpsClient(server.url, name, secret).call("GET", "/minio/admin/s3gw/v1/info")
    assert (e.value.status, e.value.code) == (403, "AccessDenied")
    diag, diag_secret = user(server, ["diagnostics"])
    assert "nodes" in json.loads(OpsClient(server.url, diag, diag_secret).call("GET", "/minio/admin/s3gw/v1/info"))


# --------------------------------------------------------------------------- admin: self-service


def test_readonly_user_cannot_make_itself_admin(server: Server) -> None:
    """The escalation of issue 10: a readonly user sending madmin's sealed add-user body for
    itself with policy consoleAdmin got 200 and was an administrator."""
    name, secret = user(server, ["readonly"], "ro")
    me = OpsClient(server.url, name, secret)
    with pytest.raises(AdminFailed) as e:
        me.add_user(name, secret, ["consoleAdmin"])  # {"secretKey", "policy": "consoleAdmin", "status"}
    assert (e.value.status, e.value.code) == (403, "AccessDenied")
    with pytest.raises(AdminFailed) as e:  # nor disable (or re-enable) itself
        me.call(
            "PUT",
            "/minio/admin/v3/add-user",
            {"accessKey": name},
            encrypt_data(secret, json.dumps({"secretKey": secret, "status": "disabled"}).encode()),
        )
    assert (e.value.status, e.value.code) == (403, "AccessDenied")
    info = root_api(server).user_info(name)
    assert info["policyName"] == "readonly" and info["status"] == "enabled"
    with pytest.raises(AdminFailed) as e:
        me.list_users()
    assert e.value.code == "AccessDenied"


def test_self_service_changes_only_its_own_secret(server: Server, mc_bin: str, tmp_path) -> None:
    name, secret = user(server, ["readonly"], "self")
    other, _ = user(server, ["readonly"], "other")
    me = OpsClient(server.url, name, secret)
    with pytest.raises(AdminFailed) as e:
        me.add_user(other, "taken-over-secret-1")
    assert e.value.code == "AccessDenied"
    # what mc admin user add sends ({"secretKey", "status": "enabled"}), for itself: allowed
    new_secret = f"new-{uuid.uuid4().hex}"
    mc = [mc_bin, "--config-dir", str(tmp_path), "--no-color"]
    subprocess.run([*mc, "alias", "set", "me", server.url, name, secret], check=True, capture_output=True)
    cp = subprocess.run([*mc, "admin", "user", "add", "me", name, new_secret], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    with pytest.raises(AdminFailed) as e:
        me.user_info(name)
    assert e.value.code == "SignatureDoesNotMatch"
    assert OpsClient(server.url, name, new_secret).user_info(name)["policyName"] == "readonly"


def test_create_user_alone_cannot_grant_policies(server: Server) -> None:
    """admin:CreateUser without admin:AttachUserOrGroupPolicy creates users but attaches nothing."""
    policy = unique("usermgr")
    root_api(server).create_policy(
        policy,
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["admin:CreateUser", "admin:GetUser"]}],
            }
        ).encode(),
    )
    mgr_name, mgr_secret = user(server, [policy], "mgr")
    mgr = OpsClient(server.url, mgr_name, mgr_secret)
    minted = unique("minted")
    with pytest.raises(AdminFailed) as e:
        mgr.add_user(minted, "minted-secret-1", ["consoleAdmin"])
    assert (e.value.status, e.value.code) == (403, "AccessDenied")
    with pytest.raises(AdminFailed) as e:
        root_api(server).user_info(minted)
    assert e.value.code == "XMinioAdminNoSuchUser"
    mgr.add_user(minted, "minted-secret-1")
    assert "policyName" not in mgr.user_info(minted)


def test_explicit_deny_forbids_self_service(server: Server) -> None:
    policy = unique("no-self")
    root_api(server).create_policy(
        policy,
        json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::*"]},
                    {"Effect": "Deny", "Action": ["admin:CreateUser"]},
                ]
            }
        ).encode(),
    )
    name, secret = user(server, [policy], "denied")
    with pytest.raises(AdminFailed) as e:
        OpsClient(server.url, name, secret).add_user(name, "another-secret-1")
    assert e.value.code == "AccessDenied"
    assert OpsClient(server.url, name, secret).user_info(name)["status"] == "enabled"  # GetUser: not denied


# --------------------------------------------------------------------------- S3: headers that need their API's action


def client_of(server: Server, name: str, secret: str):
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id=name,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


def policy_user(server: Server, statements: list[dict], prefix: str = "pol") -> tuple[str, str]:
    policy = unique(prefix)
    root_api(server).create_policy(policy, json.dumps({"Version": "2012-10-17", "Statement": statements}).encode())
    return user(server, [policy], prefix)


def code(e: pytest.ExceptionInfo) -> str:
    return e.value.response["Error"]["Code"]


def lock_bucket(s3) -> str:
    name = unique("lock")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def in_a_day() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


def test_writeonly_cannot_lock_or_tag(server: Server, s3) -> None:
    """writeonly (s3:PutObject) used to PUT with COMPLIANCE retention (nobody could delete it
    after), a legal hold or tags: each needs its own API's action too."""
    b = lock_bucket(s3)
    wo = client_of(server, *user(server, ["writeonly"], "wo"))
    for extra in (
        {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": in_a_day()},
        {"ObjectLockLegalHoldStatus": "ON"},
        {"Tagging": "team=red"},
    ):
        key = unique("k")
        with pytest.raises(ClientError) as e:
            wo.put_object(Bucket=b, Key=key, Body=b"x", **extra)
        assert code(e) == "AccessDenied", extra
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=b, Key=key)
        assert e.value.response["Error"]["Code"] == "404"
        with pytest.raises(ClientError) as e:
            wo.create_multipart_upload(Bucket=b, Key=key, **extra)
        assert code(e) == "AccessDenied", extra
    wo.put_object(Bucket=b, Key="plain", Body=b"x")  # the PUT itself is still allowed
    assert "ObjectLockMode" not in s3.head_object(Bucket=b, Key="plain")
    # with the actions, the same headers work
    rw = client_of(
        server,
        *policy_user(
            server,
            [
                {
                    "Effect": "Allow",
                    "Resource": [f"arn:aws:s3:::{b}/*"],
                    "Action": ["s3:PutObject", "s3:PutObjectRetention", "s3:PutObjectLegalHold", "s3:PutObjectTagging"],
                }
            ],
        ),
    )
    rw.put_object(
        Bucket=b,
        Key="locked",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=in_a_day(),
        ObjectLockLegalHoldStatus="ON",
        Tagging="team=red",
    )
    head = s3.head_object(Bucket=b, Key="locked")
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockLegalHoldStatus"] == "ON"


def test_copy_needs_the_header_actions_and_the_source(server: Server, s3) -> None:
    b = lock_bucket(s3)
    v1 = s3.put_object(Bucket=b, Key="src", Body=b"one")["VersionId"]
    s3.put_object(Bucket=b, Key="src", Body=b"two")
    rd = [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": [f"arn:aws:s3:::{b}/*"]}]
    cp = client_of(server, *policy_user(server, rd, "copier"))
    cp.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"})
    for extra in (
        {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": in_a_day()},
        {"ObjectLockLegalHoldStatus": "ON"},
        {"Tagging": "a=b", "TaggingDirective": "REPLACE"},
    ):
        with pytest.raises(ClientError) as e:
            cp.copy_object(Bucket=b, Key="dst2", CopySource={"Bucket": b, "Key": "src"}, **extra)
        assert code(e) == "AccessDenied", extra
    # a named source version needs s3:GetObjectVersion (AWS), for CopyObject and UploadPartCopy
    with pytest.raises(ClientError) as e:
        cp.copy_object(Bucket=b, Key="dst3", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
    assert code(e) == "AccessDenied"
    up = cp.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    with pytest.raises(ClientError) as e:
        cp.upload_part_copy(
            Bucket=b, Key="mp", UploadId=up, PartNumber=1, CopySource={"Bucket": b, "Key": "src", "VersionId": v1}
        )
    assert code(e) == "AccessDenied"
    cp.upload_part_copy(Bucket=b, Key="mp", UploadId=up, PartNumber=1, CopySource={"Bucket": b, "Key": "src"})
    rdv = [{**rd[0], "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"]}]
    cpv = client_of(server, *policy_user(server, rdv, "vcopier"))
    cpv.copy_object(Bucket=b, Key="dst3", CopySource={"Bucket": b, "Key": "src", "VersionId": v1})
    assert s3.get_object(Bucket=b, Key="dst3")["Body"].read() == b"one"
    # the source's read is still needed, wherever it is
    wo = client_of(server, *user(server, ["writeonly"], "wo"))
    with pytest.raises(ClientError) as e:
        wo.copy_object(Bucket=b, Key="dst4", CopySource={"Bucket": b, "Key": "src"})
    assert code(e) == "AccessDenied"


def test_bypass_governance_needs_its_action(server: Server, s3) -> None:
    """x-amz-bypass-governance-retention from a user without s3:BypassGovernanceRetention is not
    honoured: the GOVERNANCE lock holds and the answer is AccessDenied (AWS)."""
    b = lock_bucket(s3)
    until = in_a_day()
    v = s3.put_object(Bucket=b, Key="gov", Body=b"g", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)[
        "VersionId"
    ]
    free = s3.put_object(Bucket=b, Key="free", Body=b"f")["VersionId"]
    deleter = client_of(
        server,
        *policy_user(
            server,
            [
                {
                    "Effect": "Allow",
                    "Resource": [f"arn:aws:s3:::{b}/*"],
                    "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention"],
                }
            ],
        ),
    )
    with pytest.raises(ClientError) as e:
        deleter.delete_object(Bucket=b, Key="gov", VersionId=v, BypassGovernanceRetention=True)
    assert code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:  # without the header: MinIO's ObjectLocked
        deleter.delete_object(Bucket=b, Key="gov", VersionId=v)
    assert code(e) == "InvalidRequest"
    res = deleter.delete_objects(
        Bucket=b, BypassGovernanceRetention=True, Delete={"Objects": [{"Key": "gov", "VersionId": v}]}
    )
    assert [(x["Key"], x["Code"]) for x in res.get("Errors", [])] == [("gov", "AccessDenied")]
    with pytest.raises(ClientError) as e:  # nor shorten the retention with it
        deleter.put_object_retention(
            Bucket=b,
            Key="gov",
            VersionId=v,
            BypassGovernanceRetention=True,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until - dt.timedelta(hours=1)},
        )
    assert code(e) == "AccessDenied"
    assert s3.head_object(Bucket=b, Key="gov", VersionId=v)["ObjectLockMode"] == "GOVERNANCE"
    # the header on an object that is not locked changes nothing
    deleter.delete_object(Bucket=b, Key="free", VersionId=free, BypassGovernanceRetention=True)
    # with the action, the bypass works
    bypasser = client_of(
        server,
        *policy_user(
            server,
            [
                {
                    "Effect": "Allow",
                    "Resource": [f"arn:aws:s3:::{b}/*"],
                    "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"],
                }
            ],
        ),
    )
    bypasser.delete_object(Bucket=b, Key="gov", VersionId=v, BypassGovernanceRetention=True)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=b, Key="gov", VersionId=v)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_named_version_needs_the_version_action(server: Server, s3, bucket: str) -> None:
    """GET/HEAD/DELETE of a versionId need s3:GetObjectVersion / s3:DeleteObjectVersion (AWS) on top
    of s3:GetObject / s3:DeleteObject (MinIO checks only those): readonly reads the current version
    only, and a public bucket policy (mc anonymous set public) no longer lets anyone destroy history."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    ro = client_of(server, *user(server, ["readonly"], "ro"))
    assert ro.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"
    for call in (
        lambda c: c.get_object(Bucket=bucket, Key="k", VersionId=old),
        lambda c: c.head_object(Bucket=bucket, Key="k", VersionId=old),
    ):
        with pytest.raises(ClientError) as e:
            call(ro)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    reader = client_of(
        server,
        *policy_user(
            server,
            [
                {
                    "Effect": "Allow",
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                    "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                }
            ],
        ),
    )
    assert reader.get_object(Bucket=bucket, Key="k", VersionId=old)["Body"].read() == b"old"
    # a Deny of s3:GetObject holds whatever version is asked for
    denied = client_of(
        server,
        *policy_user(
            server,
            [
                {"Effect": "Allow", "Resource": [f"arn:aws:s3:::{bucket}/*"], "Action": ["s3:GetObjectVersion"]},
                {"Effect": "Deny", "Resource": [f"arn:aws:s3:::{bucket}/*"], "Action": ["s3:GetObject"]},
            ],
        ),
    )
    with pytest.raises(ClientError) as e:
        denied.get_object(Bucket=bucket, Key="k", VersionId=old)
    assert code(e) == "AccessDenied"
    # anonymous callers of a public bucket delete (a delete marker) but never a version
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": ["*"]},
                        "Resource": [f"arn:aws:s3:::{bucket}/*"],
                        "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    }
                ],
            }
        ),
    )
    r = unsigned(server, "DELETE", f"/{bucket}/k?versionId={old}")
    assert r.status == 403 and b"<Code>AccessDenied</Code>" in r.body
    body = f"<Delete><Object><Key>k</Key><VersionId>{old}</VersionId></Object></Delete>".encode()
    r = unsigned(
        server,
        "POST",
        f"/{bucket}?delete",
        {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()},
        body,
    )
    assert r.status == 200 and b"<Code>AccessDenied</Code>" in r.body, r.body
    assert unsigned(server, "DELETE", f"/{bucket}/k").status == 204  # a delete marker
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=old)["Body"].read() == b"old"
    s3.delete_bucket_policy(Bucket=bucket)


def test_delete_objects_is_authorised_per_key(server: Server, s3, bucket: str) -> None:
    for key in ("tmp/a", "tmp/b", "keep/c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    cleaner = client_of(
        server,
        *policy_user(
            server,
            [
                {"Effect": "Allow", "Action": ["s3:DeleteObject"], "Resource": [f"arn:aws:s3:::{bucket}/tmp/*"]},
                {"Effect": "Deny", "Action": ["s3:DeleteObject"], "Resource": [f"arn:aws:s3:::{bucket}/tmp/b"]},
            ],
        ),
    )
    res = cleaner.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ("tmp/a", "tmp/b", "keep/c")]})
    assert [d["Key"] for d in res.get("Deleted", [])] == ["tmp/a"]
    assert sorted((x["Key"], x["Code"]) for x in res["Errors"]) == [
        ("keep/c", "AccessDenied"),
        ("tmp/b", "AccessDenied"),
    ]
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == ["keep/c", "tmp/b"]
    # a user with no delete right at all gets an error per key, not a refused request
    ro = client_of(server, *user(server, ["readonly"], "ro"))
    res = ro.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "keep/c"}], "Quiet": True})
    assert [(x["Key"], x["Code"], x["Message"]) for x in res["Errors"]] == [
        ("keep/c", "AccessDenied", "Access Denied.")
    ]


def test_policy_attach_needs_a_list_of_policies(server: Server) -> None:
    """madmin's PolicyAssociationReq carries ``policies`` as a list; a string was attached
    character by character (each a policy that does not exist) instead of refused."""
    name, _ = user(server, [], "assoc")
    root = root_api(server)
    with pytest.raises(AdminFailed) as e:
        root.call(
            "POST",
            "/minio/admin/v3/idp/builtin/policy/attach",
            {},
            encrypt_data(server.secret_key, json.dumps({"policies": "readonly", "user": name}).encode()),
        )
    assert (e.value.status, e.value.code) == (400, "XMinioAdminConfigBadJSON")
    assert root.user_info(name).get("policyName", "") == ""
