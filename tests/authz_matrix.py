"""The authorisation matrix: every S3 operation the router names, sent by callers with
different policies to buckets and keys they may or may not touch: allowed, or AccessDenied?

One definition, three users:

* ``tests/unit/api/test_authz_table.py``: every operation of ``s3gw.api.router`` has a row
  here and in ``s3gw.api.authz.ACTIONS``; each row's request routes to its operation; and
  ``authz.required`` asks for exactly what this module expects (no server);
* ``tests/functional/test_authz_matrix.py``: every cell (caller × row × target) sent to a live
  s3gw as a real user, the answer compared with the decision computed here;
* ``compat-tests/s3compat/cases/authz_matrix.py``: the same requests against s3gw and MinIO,
  with real users on both; the two must agree (or the difference is a listed divergence).

The expected decision is computed by ``expected()``, a deliberately small evaluator of the
policy documents below (literal copies, not s3gw's), over the actions this module's own
table (``AWS_ACTIONS``, written from the S3 API reference, plus what MinIO checks on top)
says each request needs. It is not s3gw's engine: the point is to catch mistakes in it.

Rows are requests: one per operation (``ROWS``), plus rows for what headers and query
parameters add (``+version``, ``+tagging``, ``+retention``, ``+legal-hold``, ``+bypass``,
``+private-source``, ``+lock``, ``+all`` for a listing without prefix). A request is built
minimally: when allowed it may well fail for other reasons (NoSuchUpload, MalformedXML,
BucketNotEmpty, NotImplemented...), which proves authorisation passed. Writes that could
change what later cells see are sent with bodies that do not parse, at objects of their own,
or undone (``Row.restore``); the few whose body a server may read before it authorises
(object tags, retention, legal hold) carry a valid, harmless document.

Reading a failure: the cell id is ``caller|row|target`` and the message lists each
permission the request needs with what the policies say about it. Adding an operation to
the router fails ``tests/unit/api/test_authz_table.py`` until it has a row in
``AWS_ACTIONS``, ``ROWS`` and ``s3gw.api.authz.ACTIONS`` (or is ``EXEMPT``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

# --------------------------------------------------------------------------- the world a run sets up

MAIN, OTHER, PUBLIC = "main", "other", "public"
#: logical bucket -> how it is made: MAIN has object lock (so versioning), the others versioning
BUCKETS = {MAIN: "locked", OTHER: "versioned", PUBLIC: "versioned"}
PREFIXES = ("pub/", "private/")
#: the objects each bucket holds before the first request (their first version ids are recorded)
OBJECTS = tuple(p + n for p in PREFIXES for n in ("obj", "src", "del", "del2"))
ARN = "arn:aws:s3:::"


@dataclass
class World:
    """The real names of one run: buckets (logical -> real), object versions, stored policies."""

    buckets: dict[str, str]
    policies: dict[str, str]  # logical stored policy -> real name
    versions: dict[tuple[str, str], str] = field(default_factory=dict)  # (logical bucket, key) -> version id
    retain_until: str = ""

    def __post_init__(self) -> None:
        if not self.retain_until:
            until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
            self.retain_until = until.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def b(self, logical: str) -> str:
        return self.buckets[logical]

    def version(self, logical: str, key: str) -> str:
        return self.versions[(logical, key)]

    def arn(self, logical: str, key: str = "") -> str:
        return ARN + self.b(logical) + (f"/{key}" if key else "")

    @classmethod
    def named(cls, prefix: str) -> World:
        return cls({b: f"{prefix}-{b}" for b in BUCKETS}, {p: f"{prefix}-{p}" for p in STORED})


# --------------------------------------------------------------------------- policies (literal copies)

#: MinIO's canned policies (minio/pkg policy/constants.go), written out here, not imported from s3gw
CANNED: dict[str, dict] = {
    "readwrite": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}],
    },
    "readonly": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetObject"], "Resource": ["arn:aws:s3:::*"]}
        ],
    },
    "writeonly": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::*"]}],
    },
    "diagnostics": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "admin:Profiling",
                    "admin:ServerTrace",
                    "admin:ConsoleLog",
                    "admin:ServerInfo",
                    "admin:TopLocksInfo",
                    "admin:OBDInfo",
                    "admin:BandwidthMonitor",
                    "admin:Prometheus",
                ],
                "Resource": ["arn:aws:s3:::*"],
            }
        ],
    },
    "consoleAdmin": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["admin:*"]},
            {"Effect": "Allow", "Action": ["kms:*"]},
            {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]},
        ],
    },
}


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


#: stored identity policies (logical name -> document for a world)
STORED: dict[str, Callable[[World], dict]] = {
    # everything on one bucket and its objects, nothing elsewhere
    "bucket": lambda w: _doc({"Effect": "Allow", "Action": ["s3:*"], "Resource": [w.arn(MAIN), w.arn(MAIN, "*")]}),
    # listing only under pub/ (s3:prefix), reading and writing objects only under pub/
    "prefix": lambda w: _doc(
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": [w.arn(MAIN)],
            "Condition": {"StringLike": {"s3:prefix": ["pub/*"]}},
        },
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [w.arn(MAIN)]},
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:GetObjectTagging",
                "s3:PutObjectTagging",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": [w.arn(MAIN, "pub/*")],
        },
    ),
    # attached with readwrite: explicit Deny statements over the grant
    "deny": lambda w: _doc(
        {
            "Effect": "Deny",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [w.arn(MAIN, "private/*")],
        },
        {
            "Effect": "Deny",
            "Action": [
                "s3:DeleteBucket",
                "s3:PutBucketPolicy",
                "s3:DeleteBucketPolicy",
                "s3:ListBucketVersions",
                "s3:PutBucketVersioning",
            ],
            "Resource": [w.arn(MAIN)],
        },
        {"Effect": "Deny", "Action": ["s3:PutObject*", "s3:DeleteObject*"], "Resource": [w.arn(OTHER, "*")]},
    ),
}

#: bucket policies (logical bucket -> document): PUBLIC is MinIO's "mc anonymous set public"
#: with a Deny for everyone under private/ (which, as in AWS, binds users too)
BUCKET_POLICIES: dict[str, Callable[[World], dict]] = {
    PUBLIC: lambda w: _doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["*"]},
            "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            "Resource": [w.arn(PUBLIC)],
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["*"]},
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": [w.arn(PUBLIC, "*")],
        },
        {
            "Effect": "Deny",
            "Principal": {"AWS": ["*"]},
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [w.arn(PUBLIC, "private/*")],
        },
    ),
}


@dataclass(frozen=True)
class Caller:
    """Who sends a cell's request. ``kind`` says what signs it:

    * ``user``: a user holding ``policies``;
    * ``group``: a user with no policy of its own, member of a group holding ``policies``;
    * ``svcacct``: a service account of a user holding ``policies``, with ``own`` as its
      embedded policy;
    * ``sts``: temporary credentials (AssumeRole) of a user holding ``policies``, with ``own``
      as the session policy (requests carry the session token).

    A derived credential's requests are allowed only where its user's would be *and* its own
    policy allows (``allowed``: the intersection; a Deny in either refuses).
    """

    name: str
    policies: tuple[str, ...] | None  # canned names, "@stored" names; None: anonymous (unsigned)
    kind: str = "user"
    own: str | None = None  # "@stored" or canned: a service account's / session's own policy

    @property
    def anonymous(self) -> bool:
        return self.policies is None

    def documents(self, w: World) -> list[dict]:
        """The identity policies the caller acts under: its own, its group's, its user's."""
        return [_policy(p, w) for p in self.policies or ()]

    def own_documents(self, w: World) -> list[dict]:
        return [_policy(self.own, w)] if self.own else []

    def policy_names(self, w: World) -> list[str]:
        return [w.policies[p[1:]] if p.startswith("@") else p for p in self.policies or ()]


def _policy(ref: str, w: World) -> dict:
    return STORED[ref[1:]](w) if ref.startswith("@") else CANNED[ref]


CALLERS = (
    Caller("readonly", ("readonly",)),
    Caller("readwrite", ("readwrite",)),
    Caller("writeonly", ("writeonly",)),
    Caller("diagnostics", ("diagnostics",)),
    Caller("consoleAdmin", ("consoleAdmin",)),
    Caller("bucket-scoped", ("@bucket",)),
    Caller("prefix-scoped", ("@prefix",)),
    Caller("deny-over-readwrite", ("readwrite", "@deny")),
    Caller("anonymous", None),
    # identities beyond users: a group's member, a service account and temporary credentials
    # narrower than their user (docs/operations.md)
    Caller("group-member", ("@bucket",), kind="group"),
    Caller("svcacct-narrow", ("readwrite",), kind="svcacct", own="@prefix"),
    Caller("sts-session", ("readwrite", "@deny"), kind="sts", own="@bucket"),
)

# --------------------------------------------------------------------------- what each operation needs

#: operation -> the IAM action AWS's S3 API reference names for it (the "Permissions" of each
#: operation), written here independently of s3gw.api.authz.ACTIONS
AWS_ACTIONS: dict[str, str] = {
    "ListBuckets": "s3:ListAllMyBuckets",
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketAcl": "s3:GetBucketAcl",
    "PutBucketAcl": "s3:PutBucketAcl",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "GetBucketWebsite": "s3:GetBucketWebsite",
    "PutBucketWebsite": "s3:PutBucketWebsite",
    "DeleteBucketWebsite": "s3:DeleteBucketWebsite",
    "GetBucketLogging": "s3:GetBucketLogging",
    "PutBucketLogging": "s3:PutBucketLogging",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
    "GetBucketRequestPayment": "s3:GetBucketRequestPayment",
    "PutBucketRequestPayment": "s3:PutBucketRequestPayment",
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "DeleteObjects": "s3:DeleteObject",  # per key
    "PostObject": "s3:PutObject",  # on the form's key
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "GetObjectTorrent": "s3:GetObjectTorrent",
    "SelectObjectContent": "s3:GetObject",
    "GetObjectAttributes": "s3:GetObjectAttributes",
    "PutObject": "s3:PutObject",
    "CopyObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "UploadPartCopy": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
    "DeleteObjectTagging": "s3:DeleteObjectTagging",
    "GetObjectRetention": "s3:GetObjectRetention",
    "PutObjectRetention": "s3:PutObjectRetention",
    "GetObjectLegalHold": "s3:GetObjectLegalHold",
    "PutObjectLegalHold": "s3:PutObjectLegalHold",
    "GetObjectAcl": "s3:GetObjectAcl",
    "PutObjectAcl": "s3:PutObjectAcl",
    "RestoreObject": "s3:RestoreObject",
}

#: what a versionId adds (AWS: "to ... a specific version, you must have s3:...Version..."),
#: on top of the operation's own action (which MinIO checks, and which a Deny must keep covering)
VERSION_ACTIONS: dict[str, tuple[str, ...]] = {
    "GetObject": ("s3:GetObjectVersion",),
    "HeadObject": ("s3:GetObjectVersion",),
    "DeleteObject": ("s3:DeleteObjectVersion",),
    "DeleteObjects": ("s3:DeleteObjectVersion",),
    "GetObjectTagging": ("s3:GetObjectVersionTagging",),
    "PutObjectTagging": ("s3:PutObjectVersionTagging",),
    "DeleteObjectTagging": ("s3:DeleteObjectVersionTagging",),
    "GetObjectAcl": ("s3:GetObjectVersionAcl",),
    "PutObjectAcl": ("s3:PutObjectVersionAcl",),
    "GetObjectAttributes": ("s3:GetObjectVersionAttributes", "s3:GetObjectVersion"),
}

#: actions an operation always needs besides its own (AWS and MinIO: GetObjectAttributes reads the object)
ALSO_NEEDS: dict[str, tuple[str, ...]] = {"GetObjectAttributes": ("s3:GetObject",)}

#: operations that are not S3 APIs (nothing to authorise: the request names no operation)
EXEMPT = {"MethodNotAllowed": "no S3 API has this method on this path"}


@dataclass(frozen=True)
class Target:
    """Where a request goes: a bucket and, for object and listing requests, a key prefix."""

    name: str
    bucket: str
    prefix: str = "pub/"

    def key(self, name: str = "obj") -> str:
        return self.prefix + name


OBJECT_TARGETS = (
    Target("main/pub", MAIN),
    Target("main/private", MAIN, "private/"),
    Target("other/pub", OTHER),
    Target("public/pub", PUBLIC),
    Target("public/private", PUBLIC, "private/"),
)
BUCKET_TARGETS = (Target("main", MAIN), Target("other", OTHER), Target("public", PUBLIC))
LOCK_TARGETS = OBJECT_TARGETS[:2]  # lock headers only mean something in the object-lock bucket
SERVICE_TARGETS = (Target("service", ""),)


@dataclass
class Req:
    """One request, as data: the sender signs it with the caller's keys (or sends it unsigned)."""

    method: str
    path: str  # unencoded: "/bucket/key"
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    form_key: str | None = None  # PostObject: a browser form upload of this key
    per_key: str | None = None  # DeleteObjects: the entry of this key decides

    def __post_init__(self) -> None:
        if self.body and "content-md5" not in self.headers:
            self.headers["content-md5"] = base64.b64encode(hashlib.md5(self.body).digest()).decode()


@dataclass(frozen=True)
class Need:
    action: str
    resource: str


@dataclass(frozen=True)
class Row:
    """A request shape for one operation; ``needs`` beyond the operation's own action."""

    id: str
    op: str
    build: Callable[[World, Target], Req]
    targets: tuple[Target, ...]
    extra: Callable[[World, Target], list[Need]] = lambda w, t: []
    version: bool = False  # the request names a version (VERSION_ACTIONS apply)
    restore: bool = False  # an allowed request changes the world: set it up again after

    def needs(self, w: World, t: Target) -> list[Need]:
        """Every permission the request needs (AWS's actions, and MinIO's where it checks more),
        on what it names: every resource (ListBuckets), the bucket, or the object (for
        DeleteObjects the key of its entry, for a form upload the form's key)."""
        req = self.build(w, t)
        if self.op == "ListBuckets":
            resource = ARN + "*"
        else:
            key = req.per_key or req.form_key or (req.path.split("/", 2)[2] if req.path.count("/") >= 2 else "")
            resource = w.arn(t.bucket, key)
        actions = [AWS_ACTIONS[self.op], *ALSO_NEEDS.get(self.op, ())]
        if self.version:
            actions += VERSION_ACTIONS[self.op]
        return [Need(a, resource) for a in actions] + self.extra(w, t)


LISTINGS = {"ListObjects", "ListObjectsV2", "ListObjectVersions"}

# --------------------------------------------------------------------------- the rows

BAD_XML = b"<NotAnS3Document"


def _bucket(
    method: str,
    sub: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    query: list[tuple[str, str]] | None = None,
) -> Callable[[World, Target], Req]:
    def build(w: World, t: Target) -> Req:
        q = ([(sub, "")] if sub else []) + list(query or [])
        return Req(method, f"/{w.b(t.bucket)}", q, dict(headers or {}), body)

    return build


def _object(
    method: str,
    sub: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    query: list[tuple[str, str]] | None = None,
    key: str = "obj",
    version_of: str | None = None,
) -> Callable[[World, Target], Req]:
    def build(w: World, t: Target) -> Req:
        q = ([(sub, "")] if sub else []) + list(query or [])
        if version_of is not None:
            q.append(("versionId", w.version(t.bucket, t.key(version_of))))
        h = {k: v.replace("{until}", w.retain_until) for k, v in (headers or {}).items()}
        return Req(method, f"/{w.b(t.bucket)}/{t.key(key)}", q, h, body.replace(b"{until}", w.retain_until.encode()))

    return build


def _listing(sub: str = "", extra: list[tuple[str, str]] | None = None, prefixed: bool = True):
    def build(w: World, t: Target) -> Req:
        q = ([(sub, "")] if sub else []) + list(extra or [])
        if prefixed:
            q.append(("prefix", t.prefix))
        return Req("GET", f"/{w.b(t.bucket)}", q)

    return build


def _copy(op: str, src: Callable[[World, Target], tuple[str, str, str | None]], headers: dict[str, str] | None = None):
    def build(w: World, t: Target) -> Req:
        bucket, key, version = src(w, t)
        source = f"/{bucket}/{key}" + (f"?versionId={version}" if version else "")
        h = {
            "x-amz-copy-source": source,
            **{k: v.replace("{until}", w.retain_until) for k, v in (headers or {}).items()},
        }
        q = [("partNumber", "1"), ("uploadId", "no-such-upload")] if op == "UploadPartCopy" else []
        return Req("PUT", f"/{w.b(t.bucket)}/{t.key()}", q, h)

    return build


def _sibling(w: World, t: Target) -> tuple[str, str, str | None]:
    return w.b(t.bucket), t.key("src"), None


def _sibling_version(w: World, t: Target) -> tuple[str, str, str | None]:
    return w.b(t.bucket), t.key("src"), w.version(t.bucket, t.key("src"))


def _private_source(w: World, t: Target) -> tuple[str, str, str | None]:
    return w.b(t.bucket), "private/src", None


def _source_needs(src: Callable[[World, Target], tuple[str, str, str | None]]) -> Callable[[World, Target], list[Need]]:
    def extra(w: World, t: Target) -> list[Need]:
        bucket, key, version = src(w, t)
        needs = [Need("s3:GetObject", f"{ARN}{bucket}/{key}")]
        if version:
            needs.append(Need("s3:GetObjectVersion", f"{ARN}{bucket}/{key}"))
        return needs

    return extra


def _header_needs(*actions: str) -> Callable[[World, Target], list[Need]]:
    def extra(w: World, t: Target) -> list[Need]:
        return [Need(a, w.arn(t.bucket, t.key())) for a in actions]

    return extra


def _delete_objects(key: str, with_version: bool = False) -> Callable[[World, Target], Req]:
    def build(w: World, t: Target) -> Req:
        k = t.key(key)
        version = f"<VersionId>{w.version(t.bucket, k)}</VersionId>" if with_version else ""
        body = f"<Delete><Object><Key>{k}</Key>{version}</Object></Delete>".encode()
        return Req("POST", f"/{w.b(t.bucket)}", [("delete", "")], {}, body, per_key=k)

    return build


def _post_form(w: World, t: Target) -> Req:
    return Req("POST", f"/{w.b(t.bucket)}", form_key=t.key("post"))


COMPLETE = (
    b'<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"0123456789abcdef0123456789abcdef"'
    b"</ETag></Part></CompleteMultipartUpload>"
)
# bodies that parse (a server may read the body before it authorises): harmless when allowed
TAGS = b"<Tagging><TagSet><Tag><Key>team</Key><Value>red</Value></Tag></TagSet></Tagging>"
RETAIN = b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>{until}</RetainUntilDate></Retention>"
HOLD_OFF = b"<LegalHold><Status>OFF</Status></LegalHold>"
RETENTION = {"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "{until}"}
LEGAL_HOLD = {"x-amz-object-lock-legal-hold": "ON"}
TAGGING = {"x-amz-tagging": "team=red"}
BYPASS = {"x-amz-bypass-governance-retention": "true"}
NO_UPLOAD = [("uploadId", "no-such-upload")]

B, O = BUCKET_TARGETS, OBJECT_TARGETS

ROWS: list[Row] = [
    # ---- service
    Row("ListBuckets", "ListBuckets", lambda w, t: Req("GET", "/"), SERVICE_TARGETS),
    # ---- buckets (an allowed write fails: the bucket exists, is not empty, or the body does not parse)
    Row("CreateBucket", "CreateBucket", _bucket("PUT"), B),
    Row(
        "CreateBucket+lock",
        "CreateBucket",
        _bucket("PUT", headers={"x-amz-bucket-object-lock-enabled": "true"}),
        B,
        extra=lambda w, t: [
            Need("s3:PutBucketObjectLockConfiguration", w.arn(t.bucket)),
            Need("s3:PutBucketVersioning", w.arn(t.bucket)),
        ],
    ),
    Row("DeleteBucket", "DeleteBucket", _bucket("DELETE"), B),
    Row("HeadBucket", "HeadBucket", _bucket("HEAD"), B),
    Row("ListObjects", "ListObjects", _listing(), O),
    Row("ListObjects+all", "ListObjects", _listing(prefixed=False), B),
    Row("ListObjectsV2", "ListObjectsV2", _listing(extra=[("list-type", "2")]), O),
    Row("ListObjectsV2+all", "ListObjectsV2", _listing(extra=[("list-type", "2")], prefixed=False), B),
    Row("ListObjectVersions", "ListObjectVersions", _listing("versions"), O),
    Row("ListObjectVersions+all", "ListObjectVersions", _listing("versions", prefixed=False), B),
    Row("ListMultipartUploads", "ListMultipartUploads", _bucket("GET", "uploads"), B),
    Row("GetBucketLocation", "GetBucketLocation", _bucket("GET", "location"), B),
    Row("GetBucketVersioning", "GetBucketVersioning", _bucket("GET", "versioning"), B),
    Row("PutBucketVersioning", "PutBucketVersioning", _bucket("PUT", "versioning", BAD_XML), B),
    Row("GetBucketTagging", "GetBucketTagging", _bucket("GET", "tagging"), B),
    Row("PutBucketTagging", "PutBucketTagging", _bucket("PUT", "tagging", BAD_XML), B),
    Row("DeleteBucketTagging", "DeleteBucketTagging", _bucket("DELETE", "tagging"), B),
    Row("GetObjectLockConfiguration", "GetObjectLockConfiguration", _bucket("GET", "object-lock"), B),
    Row("PutObjectLockConfiguration", "PutObjectLockConfiguration", _bucket("PUT", "object-lock", BAD_XML), B),
    Row("GetBucketPolicy", "GetBucketPolicy", _bucket("GET", "policy"), B),
    Row("GetBucketPolicyStatus", "GetBucketPolicyStatus", _bucket("GET", "policyStatus"), B),
    Row("PutBucketPolicy", "PutBucketPolicy", _bucket("PUT", "policy", b"{not json"), B),
    Row("DeleteBucketPolicy", "DeleteBucketPolicy", _bucket("DELETE", "policy"), B, restore=True),
    Row("GetBucketLifecycleConfiguration", "GetBucketLifecycleConfiguration", _bucket("GET", "lifecycle"), B),
    Row("PutBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration", _bucket("PUT", "lifecycle", BAD_XML), B),
    Row("DeleteBucketLifecycle", "DeleteBucketLifecycle", _bucket("DELETE", "lifecycle"), B),
    Row("GetBucketAcl", "GetBucketAcl", _bucket("GET", "acl"), B),
    Row("PutBucketAcl", "PutBucketAcl", _bucket("PUT", "acl", headers={"x-amz-acl": "private"}), B),
    Row("GetBucketCors", "GetBucketCors", _bucket("GET", "cors"), B),
    Row("PutBucketCors", "PutBucketCors", _bucket("PUT", "cors", BAD_XML), B),
    Row("DeleteBucketCors", "DeleteBucketCors", _bucket("DELETE", "cors"), B),
    Row("GetBucketEncryption", "GetBucketEncryption", _bucket("GET", "encryption"), B),
    Row("PutBucketEncryption", "PutBucketEncryption", _bucket("PUT", "encryption", BAD_XML), B),
    Row("DeleteBucketEncryption", "DeleteBucketEncryption", _bucket("DELETE", "encryption"), B),
    Row("GetBucketNotificationConfiguration", "GetBucketNotificationConfiguration", _bucket("GET", "notification"), B),
    Row(
        "PutBucketNotificationConfiguration",
        "PutBucketNotificationConfiguration",
        _bucket("PUT", "notification", BAD_XML),
        B,
    ),
    Row("GetBucketReplication", "GetBucketReplication", _bucket("GET", "replication"), B),
    Row("PutBucketReplication", "PutBucketReplication", _bucket("PUT", "replication", BAD_XML), B),
    Row("DeleteBucketReplication", "DeleteBucketReplication", _bucket("DELETE", "replication"), B),
    Row("GetBucketWebsite", "GetBucketWebsite", _bucket("GET", "website"), B),
    Row("PutBucketWebsite", "PutBucketWebsite", _bucket("PUT", "website", BAD_XML), B),
    Row("DeleteBucketWebsite", "DeleteBucketWebsite", _bucket("DELETE", "website"), B),
    Row("GetBucketLogging", "GetBucketLogging", _bucket("GET", "logging"), B),
    Row("PutBucketLogging", "PutBucketLogging", _bucket("PUT", "logging", BAD_XML), B),
    Row("GetBucketAccelerateConfiguration", "GetBucketAccelerateConfiguration", _bucket("GET", "accelerate"), B),
    Row(
        "PutBucketAccelerateConfiguration", "PutBucketAccelerateConfiguration", _bucket("PUT", "accelerate", BAD_XML), B
    ),
    Row("GetBucketRequestPayment", "GetBucketRequestPayment", _bucket("GET", "requestPayment"), B),
    Row("PutBucketRequestPayment", "PutBucketRequestPayment", _bucket("PUT", "requestPayment", BAD_XML), B),
    Row("GetBucketOwnershipControls", "GetBucketOwnershipControls", _bucket("GET", "ownershipControls"), B),
    Row("PutBucketOwnershipControls", "PutBucketOwnershipControls", _bucket("PUT", "ownershipControls", BAD_XML), B),
    Row("DeleteBucketOwnershipControls", "DeleteBucketOwnershipControls", _bucket("DELETE", "ownershipControls"), B),
    # ---- objects named in a bucket request: authorised per key / on the form's key
    Row("DeleteObjects", "DeleteObjects", _delete_objects("gone"), O),
    Row("DeleteObjects+version", "DeleteObjects", _delete_objects("del2", with_version=True), O, version=True),
    Row("PostObject", "PostObject", _post_form, O),
    # ---- objects
    Row("GetObject", "GetObject", _object("GET"), O),
    Row("GetObject+version", "GetObject", _object("GET", version_of="obj"), O, version=True),
    Row("HeadObject", "HeadObject", _object("HEAD"), O),
    Row("HeadObject+version", "HeadObject", _object("HEAD", version_of="obj"), O, version=True),
    Row("GetObjectTorrent", "GetObjectTorrent", _object("GET", "torrent"), O),
    Row(
        "SelectObjectContent",
        "SelectObjectContent",
        _object("POST", "select", BAD_XML, query=[("select-type", "2")]),
        O,
    ),
    Row(
        "GetObjectAttributes",
        "GetObjectAttributes",
        _object("GET", "attributes", headers={"x-amz-object-attributes": "ETag"}),
        O,
    ),
    Row(
        "GetObjectAttributes+version",
        "GetObjectAttributes",
        _object("GET", "attributes", headers={"x-amz-object-attributes": "ETag"}, version_of="obj"),
        O,
        version=True,
    ),
    Row("PutObject", "PutObject", _object("PUT", key="put"), O),
    Row(
        "PutObject+tagging",
        "PutObject",
        _object("PUT", key="put", headers=TAGGING),
        O,
        extra=lambda w, t: [Need("s3:PutObjectTagging", w.arn(t.bucket, t.key("put")))],
    ),
    Row(
        "PutObject+retention",
        "PutObject",
        _object("PUT", key="put", headers=RETENTION),
        LOCK_TARGETS,
        extra=lambda w, t: [Need("s3:PutObjectRetention", w.arn(t.bucket, t.key("put")))],
    ),
    Row(
        "PutObject+legal-hold",
        "PutObject",
        _object("PUT", key="put", headers=LEGAL_HOLD),
        LOCK_TARGETS,
        extra=lambda w, t: [Need("s3:PutObjectLegalHold", w.arn(t.bucket, t.key("put")))],
    ),
    Row("CopyObject", "CopyObject", _copy("CopyObject", _sibling), O, extra=_source_needs(_sibling)),
    Row(
        "CopyObject+version",
        "CopyObject",
        _copy("CopyObject", _sibling_version),
        O,
        extra=_source_needs(_sibling_version),
    ),
    Row(
        "CopyObject+private-source",
        "CopyObject",
        _copy("CopyObject", _private_source),
        O,
        extra=_source_needs(_private_source),
    ),
    Row(
        "CopyObject+tagging",
        "CopyObject",
        _copy("CopyObject", _sibling, {**TAGGING, "x-amz-tagging-directive": "REPLACE"}),
        O,
        extra=lambda w, t: _source_needs(_sibling)(w, t) + _header_needs("s3:PutObjectTagging")(w, t),
    ),
    Row(
        "CopyObject+retention",
        "CopyObject",
        _copy("CopyObject", _sibling, RETENTION),
        LOCK_TARGETS,
        extra=lambda w, t: _source_needs(_sibling)(w, t) + _header_needs("s3:PutObjectRetention")(w, t),
    ),
    Row(
        "CopyObject+legal-hold",
        "CopyObject",
        _copy("CopyObject", _sibling, LEGAL_HOLD),
        LOCK_TARGETS,
        extra=lambda w, t: _source_needs(_sibling)(w, t) + _header_needs("s3:PutObjectLegalHold")(w, t),
    ),
    Row("DeleteObject", "DeleteObject", _object("DELETE", key="gone"), O),
    Row("DeleteObject+version", "DeleteObject", _object("DELETE", key="del", version_of="del"), O, version=True),
    Row("DeleteObject+bypass", "DeleteObject", _object("DELETE", key="gone", headers=BYPASS), O),
    Row("CreateMultipartUpload", "CreateMultipartUpload", _object("POST", "uploads", key="mp"), O),
    Row(
        "CreateMultipartUpload+tagging",
        "CreateMultipartUpload",
        _object("POST", "uploads", key="mp", headers=TAGGING),
        O,
        extra=lambda w, t: [Need("s3:PutObjectTagging", w.arn(t.bucket, t.key("mp")))],
    ),
    Row(
        "CreateMultipartUpload+retention",
        "CreateMultipartUpload",
        _object("POST", "uploads", key="mp", headers=RETENTION),
        LOCK_TARGETS,
        extra=lambda w, t: [Need("s3:PutObjectRetention", w.arn(t.bucket, t.key("mp")))],
    ),
    Row(
        "CreateMultipartUpload+legal-hold",
        "CreateMultipartUpload",
        _object("POST", "uploads", key="mp", headers=LEGAL_HOLD),
        LOCK_TARGETS,
        extra=lambda w, t: [Need("s3:PutObjectLegalHold", w.arn(t.bucket, t.key("mp")))],
    ),
    Row("UploadPart", "UploadPart", _object("PUT", query=[("partNumber", "1"), *NO_UPLOAD], body=b"part"), O),
    Row("UploadPartCopy", "UploadPartCopy", _copy("UploadPartCopy", _sibling), O, extra=_source_needs(_sibling)),
    Row(
        "UploadPartCopy+version",
        "UploadPartCopy",
        _copy("UploadPartCopy", _sibling_version),
        O,
        extra=_source_needs(_sibling_version),
    ),
    Row(
        "UploadPartCopy+private-source",
        "UploadPartCopy",
        _copy("UploadPartCopy", _private_source),
        O,
        extra=_source_needs(_private_source),
    ),
    Row("CompleteMultipartUpload", "CompleteMultipartUpload", _object("POST", query=NO_UPLOAD, body=COMPLETE), O),
    Row("AbortMultipartUpload", "AbortMultipartUpload", _object("DELETE", query=NO_UPLOAD), O),
    Row("ListParts", "ListParts", _object("GET", query=NO_UPLOAD), O),
    Row("GetObjectTagging", "GetObjectTagging", _object("GET", "tagging"), O),
    Row("GetObjectTagging+version", "GetObjectTagging", _object("GET", "tagging", version_of="obj"), O, version=True),
    Row("PutObjectTagging", "PutObjectTagging", _object("PUT", "tagging", TAGS), O),
    Row(
        "PutObjectTagging+version",
        "PutObjectTagging",
        _object("PUT", "tagging", TAGS, version_of="obj"),
        O,
        version=True,
    ),
    Row("DeleteObjectTagging", "DeleteObjectTagging", _object("DELETE", "tagging", key="src"), O),
    Row(
        "DeleteObjectTagging+version",
        "DeleteObjectTagging",
        _object("DELETE", "tagging", key="src", version_of="src"),
        O,
        version=True,
    ),
    Row("GetObjectRetention", "GetObjectRetention", _object("GET", "retention"), O),
    Row("PutObjectRetention", "PutObjectRetention", _object("PUT", "retention", RETAIN), O),
    Row("PutObjectRetention+bypass", "PutObjectRetention", _object("PUT", "retention", RETAIN, headers=BYPASS), O),
    Row("GetObjectLegalHold", "GetObjectLegalHold", _object("GET", "legal-hold"), O),
    Row("PutObjectLegalHold", "PutObjectLegalHold", _object("PUT", "legal-hold", HOLD_OFF), O),
    Row("GetObjectAcl", "GetObjectAcl", _object("GET", "acl"), O),
    Row("GetObjectAcl+version", "GetObjectAcl", _object("GET", "acl", version_of="obj"), O, version=True),
    Row("PutObjectAcl", "PutObjectAcl", _object("PUT", "acl", headers={"x-amz-acl": "private"}), O),
    Row(
        "PutObjectAcl+version",
        "PutObjectAcl",
        _object("PUT", "acl", headers={"x-amz-acl": "private"}, version_of="obj"),
        O,
        version=True,
    ),
    Row("RestoreObject", "RestoreObject", _object("POST", "restore", BAD_XML), O),
]

ROW_BY_ID = {r.id: r for r in ROWS}
assert len(ROW_BY_ID) == len(ROWS), "duplicate row ids"


def cells() -> list[tuple[Caller, Row, Target]]:
    """Every (caller, row, target) of the matrix, in a stable order."""
    return [(c, r, t) for c in CALLERS for r in ROWS for t in r.targets]


def cell_id(c: Caller, r: Row, t: Target) -> str:
    return f"{c.name}|{r.id}|{t.name}"


# --------------------------------------------------------------------------- the independent evaluator


def _like(pattern: str, value: str, ci: bool = False) -> bool:
    """IAM wildcard match: * any run, ? one character."""
    rx = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(rx, value, re.S | (re.I if ci else 0)) is not None


def _listed(v: str | list[str] | None) -> list[str]:
    return [] if v is None else [v] if isinstance(v, str) else list(v)


def _condition_holds(cond: dict, ctx: dict[str, str]) -> bool:
    for op, keys in cond.items():
        for key, values in keys.items():
            got = ctx.get(key)
            if op == "StringLike":
                ok = got is not None and any(_like(v, got) for v in _listed(values))
            elif op == "StringEquals":
                ok = got is not None and got in _listed(values)
            else:
                raise ValueError(f"this evaluator knows StringLike and StringEquals, not {op}")
            if not ok:
                return False
    return True


def _applies(st: dict, need: Need, ctx: dict[str, str], bucket_policy: bool) -> bool:
    if bucket_policy:
        principal = st.get("Principal")
        if principal != "*" and _listed((principal or {}).get("AWS")) != ["*"]:
            raise ValueError("this evaluator knows only Principal '*'")
    if not any(_like(a, need.action, ci=True) for a in _listed(st.get("Action"))):
        return False
    if not any(_like(r, need.resource) for r in _listed(st.get("Resource", "*"))):
        return False
    return _condition_holds(st.get("Condition", {}), ctx)


def allowed(c: Caller, w: World, need: Need, ctx: dict[str, str], users_bucket_policy: bool = True) -> bool:
    """AWS's evaluation for a caller of the bucket owner's account: an explicit Deny in the
    identity policies or the bucket's policy refuses; else an Allow in either allows; and a
    derived credential's own policy must allow it as well (no Deny in it).
    (``users_bucket_policy=False``: MinIO's, where the bucket policy is for anonymous callers only.)"""
    if c.anonymous and need.action == "s3:ListAllMyBuckets":
        return False
    docs = [(d, False) for d in c.documents(w)]
    bucket = need.resource[len(ARN) :].split("/", 1)[0]
    for logical, make in BUCKET_POLICIES.items():
        if w.b(logical) == bucket and (c.anonymous or users_bucket_policy):
            docs.append((make(w), True))
    statements = [(st, bp) for d, bp in docs for st in d["Statement"]]
    if any(st["Effect"] == "Deny" and _applies(st, need, ctx, bp) for st, bp in statements):
        return False
    if not any(st["Effect"] == "Allow" and _applies(st, need, ctx, bp) for st, bp in statements):
        return False
    # a service account's or a session's own policy must allow it too (a Deny in it refuses)
    own = [st for d in c.own_documents(w) for st in d["Statement"]]
    if own and (
        any(st["Effect"] == "Deny" and _applies(st, need, ctx, False) for st in own)
        or not any(st["Effect"] == "Allow" and _applies(st, need, ctx, False) for st in own)
    ):
        return False
    return True


def context(r: Row, w: World, t: Target) -> dict[str, str]:
    """The condition keys the policies above test: s3:prefix of a listing, when sent."""
    req = r.build(w, t)
    ctx = {}
    for name, value in req.query:
        if name == "prefix" and r.op in LISTINGS:
            ctx["s3:prefix"] = value
    return ctx


def expected(c: Caller, r: Row, w: World, t: Target) -> bool:
    """Is the request allowed? Every need must be."""
    ctx = context(r, w, t)
    return all(allowed(c, w, n, ctx) for n in r.needs(w, t))


def explain(c: Caller, r: Row, w: World, t: Target) -> str:
    ctx = context(r, w, t)
    return ", ".join(
        f"{n.action} on {n.resource}: {'allow' if allowed(c, w, n, ctx) else 'deny'}" for n in r.needs(w, t)
    )


# --------------------------------------------------------------------------- reading an answer


#: answers that say the request never reached authorisation (or broke): neither allow nor deny
NOT_DECIDED = {
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AuthorizationHeaderMalformed",
    "MissingFields",
    "XAmzContentSHA256Mismatch",
    "RequestTimeTooSkewed",
    "AccessDeniedUnsigned",
    "InternalError",
}


def outcome(req: Req, status: int, body: bytes) -> str:
    """ "deny" (AccessDenied), "allow" (anything else: authorisation passed, whatever came
    next), or "error CODE" when the request failed before authorisation could decide (a
    signature error, a header left unsigned, a 5xx). For DeleteObjects the entry of
    ``req.per_key`` decides."""
    m = re.search(rb"<Code>([^<]*)</Code>", body)
    code = m.group(1).decode() if m else ""
    if code == "AccessDenied" and status == 400:
        code = "AccessDeniedUnsigned"  # "There were headers present in the request which were not signed"
    if code in NOT_DECIDED or status >= 500 and code != "NotImplemented":
        return f"error {status} {code}".strip()
    if req.per_key is not None and status == 200:
        entry = re.search(
            rb"<Error>(?:(?!</Error>).)*<Key>" + re.escape(req.per_key.encode()) + rb"</Key>(?:(?!</Error>).)*</Error>",
            body,
            re.S,
        )
        return "deny" if entry and b"<Code>AccessDenied</Code>" in entry.group(0) else "allow"
    if status == 403 and (code == "AccessDenied" or not body.strip()):
        return "deny"  # a HEAD answer, or MinIO's header-only AccessDenied
    return "allow"


def json_policy(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))
