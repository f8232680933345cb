"""Cases, the context a case runs in, observations and their normalisation.

A case is a function ``fn(ctx) -> dict``: it drives one client against one
target and returns an *observation*, a JSON-like dict of what that client can
see (status, S3 error code, the headers that matter, bodies and listings).
The runner normalises what legitimately differs between servers (request ids,
dates, version and upload id values, the endpoint's address) so that two
targets' observations of the same case can be compared with ``==``; the case's
own ``expect`` (dotted path -> value or predicate) is checked on each target.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from . import clients
from .targets import Target

# ---------------------------------------------------------------- registry


@dataclass
class Case:
    id: str
    op: str  # the operation in the matrix: an AWS API name or a CLI command
    client: str  # one of clients.CLIENTS
    fn: Callable[[Ctx], dict]
    expect: dict[str, Any] | None = None
    bucket: str | None = "plain"  # None, "plain", "versioned", "locked"
    doc: str = ""
    tls: bool = False  # run against the target's HTTPS instance (targets.Pool.get)

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]


REGISTRY: dict[str, Case] = {}


def add(
    id: str,
    op: str,
    client: str,
    fn: Callable[[Ctx], dict],
    expect: dict | None = None,
    bucket: str | None = "plain",
    doc: str = "",
    tls: bool = False,
) -> Case:
    assert client in clients.CLIENTS, client
    assert id not in REGISTRY, f"duplicate case id {id}"
    c = Case(id, op, client, fn, expect, bucket, doc, tls)
    REGISTRY[id] = c
    return c


def case(id: str, op: str, client: str, expect: dict | None = None, bucket: str | None = "plain", tls: bool = False):
    def deco(fn: Callable[[Ctx], dict]) -> Callable[[Ctx], dict]:
        add(id, op, client, fn, expect, bucket, (fn.__doc__ or "").strip(), tls)
        return fn

    return deco


# ---------------------------------------------------------------- errors inside a case


class SetupFailed(Exception):
    """A step that prepares a case (not the step observed) failed."""


# ---------------------------------------------------------------- context


def bucket_name(token: str, case_id: str, suffix: str = "") -> str:
    return f"c{token}-{hashlib.sha1(case_id.encode()).hexdigest()[:12]}{suffix}"


@dataclass
class Ctx:
    case: Case
    t: Target
    token: str
    tmp: Path
    bucket: str = ""
    _buckets: list[str] = field(default_factory=list)

    # ---- clients
    def s3(self, variant: str = "boto3", **config: Any):
        return clients.boto3_client(self.t, variant, **config)

    @property
    def admin(self):
        """The client used for setup and cleanup (plain payloads)."""
        return clients.boto3_client(self.t, "boto3-wr")

    @property
    def minio(self):
        return clients.minio_client(self.t)

    def aws(self, *args: str, **kw: Any) -> clients.CliResult:
        return clients.aws(self.t, *args, **kw)

    def mc(self, *args: str, **kw: Any) -> clients.McResult:
        return clients.mc(self.t, *args, **kw)

    @property
    def raw(self) -> clients.Raw:
        return clients.Raw(self.t)

    def alias(self, path: str = "") -> str:
        """An mc path: t/<bucket>/<path>."""
        return f"t/{self.bucket}/{path}" if path or self.bucket else "t/"

    # ---- setup helpers (failures here are SetupFailed, not observations)
    def name(self, suffix: str = "") -> str:
        return bucket_name(self.token, self.case.id, suffix)

    def make_bucket(self, kind: str = "plain", suffix: str = "") -> str:
        name = self.name(suffix)
        try:
            if kind == "locked":
                self.admin.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
            else:
                self.admin.create_bucket(Bucket=name)
            self._buckets.append(name)
            if kind == "versioned":
                self.admin.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        except ClientError as e:
            raise SetupFailed(f"{kind} bucket: {e.response['Error'].get('Code')}") from e
        return name

    def shared(self, label: str, setup: Callable[[str], Any], kind: str = "plain") -> str:
        """A bucket shared by several cases on this target: made and filled once by
        ``setup(name)``, removed when the target's pool closes. Cases must not change it."""
        shared = self.t.cache.setdefault("shared", {})
        if label not in shared:
            name = f"c{self.token}-shared-{label}"[:63]
            try:
                self.admin.create_bucket(Bucket=name)
                self.t.cache.setdefault("finalizers", []).append(lambda: empty_and_delete(self.admin, name, self.raw))
                if kind == "versioned":
                    self.admin.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
                setup(name)
                shared[label] = (name, None)
            except ClientError as e:
                shared[label] = (name, f"shared bucket {label}: {e.response['Error'].get('Code')}")
        name, problem = shared[label]
        if problem:
            raise SetupFailed(problem)
        return name

    def track(self, bucket: str) -> None:
        """Clean this bucket up at the end if it exists."""
        if bucket not in self._buckets:
            self._buckets.append(bucket)

    def put(self, key: str, body: bytes | str = b"", bucket: str | None = None, **kw: Any) -> dict:
        if isinstance(body, str):
            body = body.encode()
        try:
            return self.admin.put_object(Bucket=bucket or self.bucket, Key=key, Body=body, **kw)
        except ClientError as e:
            raise SetupFailed(f"put {key}: {e.response['Error'].get('Code')}") from e

    def setup(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ClientError as e:
            raise SetupFailed(f"{e.response['Error'].get('Code')}") from e

    def file(self, name: str, data: bytes) -> Path:
        p = self.tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return p

    def cleanup(self) -> list[str]:
        problems = []
        for b in reversed(self._buckets):
            try:
                empty_and_delete(self.admin, b, self.raw)
            except Exception as e:  # noqa: BLE001
                problems.append(f"{b}: {e}")
        return problems


def empty_and_delete(s3: Any, bucket: str, raw: clients.Raw | None = None) -> None:
    from botocore.exceptions import ParamValidationError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        return
    except ParamValidationError:
        # a name boto3 refuses to send (space, non-ASCII): the server should not have it
        if raw is not None:
            raw.request("DELETE", f"/{bucket}")
        return
    try:
        for up in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
    except ClientError:
        pass
    for _ in range(20):
        try:
            page = s3.list_object_versions(Bucket=bucket)
            items = page.get("Versions", []) + page.get("DeleteMarkers", [])
        except ClientError:
            items = [
                {"Key": o["Key"], "VersionId": None} for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
            ]
        if not items:
            break
        for it in items:
            kw: dict[str, Any] = {"Bucket": bucket, "Key": it["Key"]}
            if it.get("VersionId"):
                kw["VersionId"] = it["VersionId"]
            try:
                s3.delete_object(**kw, BypassGovernanceRetention=True)
            except ClientError:
                try:
                    s3.put_object_legal_hold(**kw, LegalHold={"Status": "OFF"})
                    s3.delete_object(**kw, BypassGovernanceRetention=True)
                except ClientError:
                    pass
    s3.delete_bucket(Bucket=bucket)


# ---------------------------------------------------------------- observing responses

CHECKSUM_HEADERS = (
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-checksum-type",
)

# The response headers a client can act on (compared); everything else is ignored.
HEADERS = (
    "etag",
    "x-amz-version-id",
    "x-amz-delete-marker",
    "content-range",
    "content-length",
    "content-type",
    "last-modified",
    "x-amz-mp-parts-count",
    "x-amz-tagging-count",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
    "x-amz-storage-class",
    "x-amz-copy-source-version-id",
    "location",
    "x-amz-bucket-region",
    *CHECKSUM_HEADERS,
)


def pick_headers(h: dict[str, str], names: tuple[str, ...] | None = None, meta: bool = True) -> dict:
    h = {k.lower(): v for k, v in (h or {}).items()}
    names = names or HEADERS
    out = {k: h[k] for k in names if k in h}
    if "xml" in h.get("content-type", ""):
        # the length of an XML answer (CopyObjectResult, an error) varies with its
        # messages, ids and whitespace: its parsed fields are compared instead
        out.pop("content-length", None)
    if meta:
        out.update({k: v for k, v in h.items() if k.startswith("x-amz-meta-")})
    return dict(sorted(out.items()))


def _status(resp: dict) -> int:
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def ok(
    resp: dict,
    *fields: str,
    headers: tuple[str, ...] | None = None,
    body: bytes | None = None,
    no_headers: bool = False,
) -> dict:
    """Observe a boto3 success: status, headers that matter, selected parsed fields."""
    o: dict[str, Any] = {"status": _status(resp)}
    if not no_headers:
        o["h"] = pick_headers(resp["ResponseMetadata"].get("HTTPHeaders", {}), headers)
    for f in fields:
        if f in resp:
            v = resp[f]
            o[f] = v.read() if hasattr(v, "read") else v
    if body is not None:
        o["body"] = body
    return o


def err(e: ClientError, headers: tuple[str, ...] | None = ("x-amz-delete-marker", "x-amz-version-id")) -> dict:
    r = e.response
    o: dict[str, Any] = {
        "status": r.get("ResponseMetadata", {}).get("HTTPStatusCode"),
        "code": r.get("Error", {}).get("Code"),
    }
    hh = pick_headers(r.get("ResponseMetadata", {}).get("HTTPHeaders", {}), headers, meta=False)
    if hh:
        o["h"] = hh
    return o


def call(
    fn: Callable[[], dict],
    *fields: str,
    headers: tuple[str, ...] | None = None,
    read: bool = False,
    no_headers: bool = False,
) -> dict:
    """Run one boto3 call and observe it, success or S3 error alike."""
    try:
        resp = fn()
    except ClientError as e:
        return err(e)
    o = ok(resp, *fields, headers=headers, no_headers=no_headers)
    if read and "Body" in resp:
        o["body"] = resp["Body"].read()
    return o


def minio_err(fn: Callable[[], Any]) -> dict:
    """Run a minio-py call; observe S3Error code/status or the returned value."""
    from minio.error import S3Error

    try:
        return {"ok": fn()}
    except S3Error as e:
        return {"status": e.response.status if e.response is not None else None, "code": e.code}


def raw_obs(r: clients.RawResponse, headers: tuple[str, ...] | None = None, body: bool = False) -> dict:
    o: dict[str, Any] = {"status": r.status, "code": r.code}
    hh = pick_headers(r.headers, headers)
    if r.status >= 300:
        hh.pop("content-length", None)  # error bodies differ in message text and request id
    if hh:
        o["h"] = hh
    if body:
        o["body"] = r.body
    return o


# ---------------------------------------------------------------- normalisation

HTTP_DATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT$"
)
ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")
MINIO_CACHE = re.compile(r"\[minio_cache:[^\]]*\]|%5Bminio_cache%3A.*?%5D")
VERSION_KEYS = {
    "x-amz-version-id",
    "VersionId",
    "versionId",
    "version_id",
    "VersionIdMarker",
    "NextVersionIdMarker",
    "x-amz-copy-source-version-id",
    "versionID",
    "DeleteMarkerVersionId",
}
UPLOAD_KEYS = {"UploadId", "uploadId", "upload_id", "UploadIdMarker", "NextUploadIdMarker", "uploadID"}
DATE_KEYS = {
    "last-modified",
    "LastModified",
    "lastModified",
    "CreationDate",
    "Initiated",
    "time",
    "date",
    "expires",
    "Expires",
    "RetainUntilDate",
    "x-amz-object-lock-retain-until-date",
    "x-amz-expiration",
    "retainUntil",
    "until",
    "creationDate",
    "LastModifiedDate",
    "mod_time",
    "last_modified",
    "creation_date",
}
OPAQUE_KEYS = {"NextContinuationToken", "ContinuationToken", "continuation_token"}


class Normaliser:
    def __init__(self, t: Target, tmp: Path | None = None) -> None:
        self.t = t
        self.tmp = str(tmp) if tmp else None
        self.ids: dict[str, dict[str, str]] = {"v": {}, "u": {}}

    def _id(self, kind: str, v: Any) -> Any:
        if not isinstance(v, str) or v in ("", "null"):
            return v
        table = self.ids[kind]
        if v not in table:
            table[v] = f"<{kind}{len(table) + 1}>"
        return table[v]

    def _date(self, v: Any) -> Any:
        if isinstance(v, dt.datetime):
            return "<datetime>"
        if isinstance(v, str):
            if HTTP_DATE.match(v):
                return "<http-date>"
            if ISO_DATE.match(v):
                return "<iso8601" + (".ms>" if "." in v else ">")
        return v

    def _str(self, s: str) -> str:
        s = s.replace(self.t.url, "<endpoint>").replace(self.t.hostport, "<hostport>")
        # MinIO appends a listing-cache hint to the markers it hands out
        # ("key[minio_cache:v2,return:]"); a client only passes it back.
        s = MINIO_CACHE.sub("", s)
        if self.tmp:
            s = s.replace(self.tmp, "<tmp>")
        return s

    def __call__(self, v: Any, key: str | None = None) -> Any:
        if key in VERSION_KEYS:
            if isinstance(v, list):
                return [self._id("v", x) for x in v]
            return self._id("v", v)
        if key in UPLOAD_KEYS:
            return self._id("u", v)
        if key in DATE_KEYS:
            return self._date(v)
        if key in OPAQUE_KEYS and isinstance(v, str) and v:
            return "<token>"
        if isinstance(v, dict):
            return {k: self(x, k) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [self(x) for x in v]
        if isinstance(v, dt.datetime):
            return "<datetime>"
        if isinstance(v, bytes):
            if len(v) > 256:
                return f"<{len(v)} bytes md5={hashlib.md5(v).hexdigest()}>"
            try:
                return self._str(v.decode())
            except UnicodeDecodeError:
                return repr(v)
        if isinstance(v, str):
            return self._str(v)
        return v


def run(case: Case, t: Target, token: str, tmp: Path) -> dict:
    """Run one case on one target and return its normalised observation."""
    ctx = Ctx(case, t, token, tmp)
    try:
        if case.bucket:
            ctx.bucket = ctx.make_bucket(case.bucket)
        obs = case.fn(ctx)
    except SetupFailed as e:
        obs = {"setup_failed": str(e)}
    except Exception as e:  # noqa: BLE001 - a crash is an observation too
        tb = traceback.extract_tb(e.__traceback__)
        where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb) if "cases" in f.filename), "")
        obs = {"crash": f"{type(e).__name__}: {str(e)[:300]} {where}".strip()}
    finally:
        problems = ctx.cleanup()
    if problems:
        obs = {**obs, "_cleanup": problems}
    return Normaliser(t, tmp)(obs)


# ---------------------------------------------------------------- expectations


def flatten(o: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(o, dict):
        if prefix:
            out[prefix] = o
        for k, v in o.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = o
    return out


MISSING = object()


def check(obs: dict, expect: dict[str, Any] | None) -> list[str]:
    """Problems with ``obs`` against ``expect`` (path -> value, or predicate)."""
    problems = []
    for k in ("crash", "setup_failed", "_cleanup"):
        if k in obs:
            problems.append(f"{k}: {obs[k]}")
    if problems:
        return problems
    flat = flatten(obs)
    for path, want in (expect or {}).items():
        got = flat.get(path, MISSING)
        if callable(want):
            good = got is not MISSING and bool(want(got))
        else:
            good = got == want if want is not MISSING else got is MISSING
        if not good:
            problems.append(
                f"{path}: expected {getattr(want, '__name__', want)!r}, got "
                f"{'<missing>' if got is MISSING else repr(got)}"
            )
    return problems


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Human-readable differences between two observations."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            p = f"{path}.{k}" if path else str(k)
            if k not in b:
                out.append(f"{p}: only in reference: {a[k]!r}")
            elif k not in a:
                out.append(f"{p}: only in target: {b[k]!r}")
            else:
                out += diff(a[k], b[k], p)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [f"{path}: reference {a!r} != target {b!r}"]


# predicates for expectations
def present(v: Any) -> bool:
    return v is not None


def is_int(v: Any) -> bool:
    return isinstance(v, int)


LIST_FIELDS = (
    "Name",
    "Prefix",
    "Delimiter",
    "MaxKeys",
    "KeyCount",
    "IsTruncated",
    "StartAfter",
    "Marker",
    "NextMarker",
    "EncodingType",
    "ContinuationToken",
    "NextContinuationToken",
    "KeyMarker",
    "VersionIdMarker",
    "NextKeyMarker",
    "NextVersionIdMarker",
    "UploadIdMarker",
    "NextUploadIdMarker",
    "MaxUploads",
    "MaxParts",
    "PartNumberMarker",
    "NextPartNumberMarker",
)


def listing(resp: dict, owner: bool = False) -> dict:
    """Observe a ListObjects(V2)/ListObjectVersions/ListMultipartUploads/ListParts answer."""
    o: dict[str, Any] = {"status": resp["ResponseMetadata"]["HTTPStatusCode"]}
    for f in LIST_FIELDS:
        if f in resp:
            o[f] = resp[f]
    for f in ("Contents", "Versions", "DeleteMarkers", "Uploads", "Parts"):
        if f in resp:
            items = []
            for it in resp[f]:
                d = {k: v for k, v in it.items() if k not in ("Owner", "Initiator") or owner}
                if owner and "Owner" in it:
                    d["Owner"] = sorted(it["Owner"])
                items.append(d)
            o[f] = items
    if "CommonPrefixes" in resp:
        o["CommonPrefixes"] = [p.get("Prefix") for p in resp["CommonPrefixes"]]
    return o


def call_list(fn: Callable[[], dict], owner: bool = False) -> dict:
    try:
        return listing(fn(), owner)
    except ClientError as e:
        return err(e, headers=None)
