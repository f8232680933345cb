"""The authorisation matrix (tests/authz_matrix.py) against a live s3gw: every operation the
router names × callers with canned, stored and no policies × buckets and keys inside and
outside what they may touch. Each cell sends the real request as a real user (created through
the admin API, as ``s3gw admin user add --policy`` does; or a group's member, a service account
or temporary credentials of such a user: ``make_caller``) or unsigned, and checks the answer:
AccessDenied where the matrix's own evaluator denies, anything else where it allows.

A failing cell is named ``caller|row|target`` (e.g. ``readonly|GetObject+version|main/pub``);
its message lists each permission the request needs and what the policies say about it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import boto3
import pytest

from s3gw.admin_cli import OpsClient
from tests import authz_matrix as M
from tests.conftest import Server, start_server
from tests.functional.conftest import s3_client
from tests.functional.rawhttp import send, sign

BOUNDARY = "matrixFormBoundary0b1c2d3e"


class Matrix:
    """One server, its world (buckets, objects, policies) and one user per caller."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.world = M.World.named("mx")
        self.root = s3_client(server)
        self.keys: dict[str, tuple[str, str, str | None]] = {}  # caller -> access, secret, session token

    def setup(self) -> None:
        w, s3 = self.world, self.root
        for logical, kind in M.BUCKETS.items():
            s3.create_bucket(Bucket=w.b(logical), ObjectLockEnabledForBucket=kind == "locked")
            if kind == "versioned":
                s3.put_bucket_versioning(Bucket=w.b(logical), VersioningConfiguration={"Status": "Enabled"})
            for key in M.OBJECTS:
                w.versions[(logical, key)] = s3.put_object(Bucket=w.b(logical), Key=key, Body=b"x")["VersionId"]
        self.restore()
        admin = OpsClient(self.server.url, self.server.access_key, self.server.secret_key)
        for logical, make in M.STORED.items():
            admin.create_policy(w.policies[logical], M.json_policy(make(w)).encode())
        for c in M.CALLERS:
            if not c.anonymous:
                self.keys[c.name] = make_caller(self.server, admin, c, w)

    def restore(self) -> None:
        for logical, make in M.BUCKET_POLICIES.items():
            self.root.put_bucket_policy(Bucket=self.world.b(logical), Policy=M.json_policy(make(self.world)))

    def send(self, c: M.Caller, req: M.Req) -> tuple[int, bytes]:
        if req.form_key is not None:
            return self._form(c, req)
        path = quote(req.path) + (f"?{urlencode(req.query)}" if req.query else "")
        if c.anonymous:
            headers = {"Host": f"127.0.0.1:{self.server.port}", **req.headers}
            if req.method in ("PUT", "POST"):
                headers["Content-Length"] = str(len(req.body))
        else:
            access, secret, token = self.keys[c.name]
            extra = {"x-amz-security-token": token} if token else {}
            headers = sign(
                self.server, req.method, path, req.body, {**req.headers, **extra}, access=access, secret=secret
            )
            if req.method in ("PUT", "POST"):
                headers["Content-Length"] = str(len(req.body))
        r = send(self.server, req.method, path, headers, req.body)
        return r.status, r.body

    def _form(self, c: M.Caller, req: M.Req) -> tuple[int, bytes]:
        bucket = req.path.strip("/")
        if c.anonymous:
            fields = {"key": req.form_key}
        else:
            access, secret, token = self.keys[c.name]
            client = boto3.client(
                "s3",
                endpoint_url=self.server.url,
                aws_access_key_id=access,
                aws_secret_access_key=secret,
                aws_session_token=token,
                region_name="us-east-1",
            )
            fields = client.generate_presigned_post(bucket, req.form_key)["fields"]
        body = bytearray()
        for name, value in fields.items():
            body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        body += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n').encode()
        body += b"form\r\n" + f"--{BOUNDARY}--\r\n".encode()
        r = send(
            self.server,
            "POST",
            "/" + quote(bucket),
            {
                "Host": f"127.0.0.1:{self.server.port}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                "Content-Length": str(len(body)),
            },
            bytes(body),
        )
        return r.status, r.body


def make_caller(server: Server, admin: OpsClient, c: M.Caller, w: M.World) -> tuple[str, str, str | None]:
    """The credentials of one caller of the matrix, made as an operator would (``Caller.kind``)."""
    name, secret = f"mx-{c.name.lower()}", f"secret-{uuid.uuid4().hex}"
    if c.kind == "group":
        admin.add_user(name, secret, None)
        admin.update_group(f"{name}-group", [name])
        admin.attach("", c.policy_names(w), group=f"{name}-group")
        return name, secret, None
    admin.add_user(name, secret, c.policy_names(w))
    if c.kind == "svcacct":
        cred = admin.add_svcacct({"targetUser": name, "policy": c.own_documents(w)[0]})
        return cred["accessKey"], cred["secretKey"], None
    if c.kind == "sts":
        sts = boto3.client(
            "sts",
            endpoint_url=server.url,
            aws_access_key_id=name,
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )
        cred = sts.assume_role(
            RoleArn="arn:aws:iam::123456789012:role/matrix",
            RoleSessionName="matrix",
            DurationSeconds=43200,
            Policy=M.json_policy(c.own_documents(w)[0]),
        )["Credentials"]
        return cred["AccessKeyId"], cred["SecretAccessKey"], cred["SessionToken"]
    return name, secret, None


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    server = start_server(str(tmp_path_factory.mktemp("authz-matrix")))
    try:
        m = Matrix(server)
        m.setup()
        yield m
    finally:
        server.stop()


CELLS = [pytest.param(c, r, t, id=M.cell_id(c, r, t)) for c, r, t in M.cells()]


@pytest.mark.parametrize("caller,row,target", CELLS)
def test_cell(matrix: Matrix, caller: M.Caller, row: M.Row, target: M.Target) -> None:
    req = row.build(matrix.world, target)
    want = "allow" if M.expected(caller, row, matrix.world, target) else "deny"
    try:
        status, body = matrix.send(caller, req)
    finally:
        if row.restore:
            matrix.restore()
    got = M.outcome(req, status, body)
    assert got == want, (
        f"{caller.name} {req.method} {req.path}?{urlencode(req.query)}: expected {want}, got "
        f"{status} {body[:300]!r}\nneeds: {M.explain(caller, row, matrix.world, target)}"
    )
