"""Bucket replication: the configuration document, its validation, and the remote targets.

PutBucketReplication hands ``parse`` the document (as the API layer's XML parser gives
it: a dict of children, a list for repeated ones); ``validate`` checks it against the
bucket's remote targets. What comes back is a ``Config`` of ``Rule`` records, stored as
JSON in the bucket's config (like lifecycle rules) and rendered back by
GetBucketReplication in MinIO's shape.

Validation follows MinIO's ``internal/bucket/replication`` package and its
PutBucketReplicationConfig handler, in their order: versioning must be Enabled on the
bucket (InvalidRequest), the document must decode (MalformedXML: Go's decoder ignores
elements it does not know; a destination that is no ARN or an unknown storage class is
a decode error), each destination must name a configured remote target
(XMinioAdminBucketRemoteArnInvalid / XMinioAdminRemoteTargetNotFoundError), then the
rules' checks (MinIO answers every replication.Error as MalformedXML with its message).

Destinations: MinIO's ``arn:minio:replication:REGION:ID:BUCKET`` names a target by the
ARN ``s3gw admin replicate add`` printed; s3gw also takes the AWS form
``arn:aws:s3:::BUCKET`` (MinIO refuses it) and matches it to the bucket's target whose
remote bucket has that name. An AWS document's ``Role`` (an IAM role ARN) is accepted
and kept; a ``Role`` that is a MinIO replication ARN is MinIO's legacy single-target
form and names the target of every rule. The remote bucket is not contacted here (MinIO
checks it exists): a target that is down or wrong shows as FAILED replication.

Targets: an endpoint, a bucket there, and the credentials to write to it. The secret
is stored sealed under the root credentials (``iam.SecretBox``), because the workers
need it; it is never logged and never returned by ``targets``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import errors as E
from .lifecycle import check_tag

MAX_RULES = 1000
MAX_ID = 255
#: MinIO reads at most 2 MiB of a replication configuration
MAX_DOCUMENT = 2 << 20

AWS_ARN = "arn:aws:s3:::"
MINIO_ARN = "arn:minio:replication:"

# MinIO's messages (internal/bucket/replication/*.go), answered as MalformedXML
TOO_MANY_RULES = "Replication configuration allows a maximum of 1000 rules"
NO_RULE = "Replication configuration should have at least one rule"
UNIQUE_PRIORITY = "Replication configuration has duplicate priority"
ROLE_MISSING_LEGACY = "Missing required parameter `Role` in ReplicationConfiguration"
DESTINATION_MISSING = "Missing required parameter `Destination` in Replication rule"
INVALID_SOURCE_SELECTION = "Invalid ReplicaModification status"
ROLE_FOR_MULTIPLE_TARGETS = "`Role` should be empty in ReplicationConfiguration for multiple targets"
INVALID_ID = "ID must be less than 255 characters"
EMPTY_STATUS = "Status should not be empty"
INVALID_STATUS = "Status must be set to either Enabled or Disabled"
DELETE_MARKER_MISSING = "DeleteMarkerReplication must be specified"
PRIORITY_MISSING = "Priority must be specified"
INVALID_DELETE_MARKER_STATUS = "Delete marker replication status is invalid"
INVALID_DELETE_STATUS = "Delete replication is either enable|disable"
INVALID_EXISTING_STATUS = "Existing object replication status is invalid"
TAGS_WITH_DELETE_MARKER = "Delete marker replication is not supported if any Tag filter is specified"
INVALID_FILTER = "Filter must have exactly one of Prefix, Tag, or And specified"
DUPLICATE_TAG_KEY = "Duplicate Tag Keys are not allowed"
NEEDS_VERSIONING = "Versioning must be 'Enabled' on the bucket to apply a replication configuration"
TARGET_NEEDS_VERSIONING = "Versioning must be 'Enabled' on the bucket to add a replication target"

STATUSES = ("Enabled", "Disabled")
STORAGE_CLASSES = ("STANDARD", "REDUCED_REDUNDANCY")


class ReplicationError(E.MalformedXML):
    """A configuration MinIO refuses with a replication.Error: MalformedXML with its message."""


@dataclass
class Rule:
    id: str = ""
    status: str = ""
    priority: int = 0
    # the filter: "" (none), "prefix", "tag" or "and" (as MinIO marshals it back)
    prefix: str = ""
    tags: list[tuple[str, str]] = field(default_factory=list)
    delete_marker: str = ""  # DeleteMarkerReplication Status ("": absent)
    delete: str = "Disabled"  # DeleteReplication Status (MinIO's extension; Disabled when absent)
    existing: str = ""  # ExistingObjectReplication Status ("": absent)
    replica_modifications: str = "Enabled"  # SourceSelectionCriteria/ReplicaModifications
    destination: str = ""  # the ARN as given
    storage_class: str = ""
    target: str = ""  # the ARN of the remote target it resolved to (validate)

    @property
    def enabled(self) -> bool:
        return self.status == "Enabled"

    @property
    def dest_bucket(self) -> str:
        """The destination bucket the ARN names (its last field)."""
        if self.destination.startswith(AWS_ARN):
            return self.destination[len(AWS_ARN) :]
        return self.destination.rsplit(":", 1)[-1]

    def matches(self, key: str, tags: dict[str, str]) -> bool:
        """The rule's prefix and tags select this object (MinIO's FilterActionableRules)."""
        return key.startswith(self.prefix) and all(tags.get(k) == v for k, v in self.tags)


@dataclass
class Config:
    rules: list[Rule]
    role: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "rules": [asdict(r) for r in self.rules]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Config:
        rules = []
        for d in data.get("rules", []):
            r = Rule(**{k: v for k, v in d.items() if k in Rule.__dataclass_fields__})
            r.tags = [(str(k), str(v)) for k, v in r.tags]
            rules.append(r)
        return cls(rules, str(data.get("role", "")))

    def actionable(self, key: str, tags: dict[str, str], *, existing: bool = False) -> list[Rule]:
        """The enabled rules that select an object, highest priority first, one per target."""
        seen: set[str] = set()
        out = []
        for r in sorted(self.rules, key=lambda r: -r.priority):
            if not r.enabled or r.target in seen or not r.matches(key, tags):
                continue
            if existing and r.existing != "Enabled":
                continue
            seen.add(r.target)
            out.append(r)
        return out


def note(cfg: Config) -> Any:
    """The replication hook a write carries (``meta.model.ReplicaNote``): run in its transaction,
    it names the (target, operation) rows the change owes. A new version goes to every target
    whose rule selects it; a delete marker where the rule replicates delete markers; a version's
    deletion where it replicates deletes (MinIO's DeleteReplication)."""

    def rows(rec: Any, what: str) -> list[tuple[str, str]]:
        out = []
        for r in cfg.actionable(rec.key, rec.info.tags):
            if what == "marker" and r.delete_marker != "Enabled":
                continue
            if what == "delete" and r.delete != "Enabled":
                continue
            out.append((r.target, what))
        return out

    return rows


# ---------------------------------------------------------------- decoding (Go's encoding/xml rules)
def _children(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if not k.startswith("@")}
    if isinstance(value, str) and not value.strip():
        return {}
    if isinstance(value, str):
        return {}  # character data where elements belong: Go skips it
    raise E.MalformedXML()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("#text") or "")
    raise E.MalformedXML()


def _one(d: dict[str, Any], name: str) -> Any:
    """The single child ``name`` (Go's decoder keeps the last of repeated ones)."""
    v = d.get(name)
    return v[-1] if isinstance(v, list) else v


def _all(d: dict[str, Any], name: str) -> list[Any]:
    v = d.get(name)
    return v if isinstance(v, list) else ([] if name not in d else [v])


def _int(value: Any) -> int:
    text = _text(value).strip()
    body = text[1:] if text[:1] in "+-" else text
    if not body.isascii() or not body.isdigit() or len(body) > 18:
        raise E.MalformedXML()
    return int(text)


def _status(d: dict[str, Any], name: str, default: str = "") -> str:
    if name not in d:
        return default
    return _text(_one(_children(_one(d, name)), "Status")) or default


def _tag(value: Any) -> tuple[str, str]:
    t = _children(value)
    return _text(_one(t, "Key")), _text(_one(t, "Value"))


def _rule(value: Any) -> Rule:
    """A <Rule> decoded, then checked as MinIO's Rule.Validate does (in its order)."""
    d = _children(value)
    r = Rule(id=_text(_one(d, "ID")), status=_text(_one(d, "Status")))
    if "Priority" in d:
        r.priority = _int(_one(d, "Priority"))
    r.delete_marker = _status(d, "DeleteMarkerReplication")
    r.delete = _status(d, "DeleteReplication", "Disabled")
    r.existing = _status(d, "ExistingObjectReplication", "Disabled" if "ExistingObjectReplication" in d else "")
    if "SourceSelectionCriteria" in d:
        ssc = _children(_one(d, "SourceSelectionCriteria"))
        r.replica_modifications = _status(ssc, "ReplicaModifications", "Enabled")
    dest = _children(_one(d, "Destination"))
    arn = _text(_one(dest, "Bucket")).strip()
    if "Destination" in d and arn and not arn.startswith((AWS_ARN, MINIO_ARN)):
        raise ReplicationError(f"invalid destination '{arn}'")
    if "Destination" in d and not arn:
        raise ReplicationError("invalid destination ''")
    r.destination = arn
    r.storage_class = _text(_one(dest, "StorageClass")).strip()
    if r.storage_class and r.storage_class not in STORAGE_CLASSES:
        raise ReplicationError(f"unknown storage class {r.storage_class}")
    # the filter: Filter/Prefix, Filter/Tag, Filter/And, or AWS's older rule-level Prefix
    f = _children(_one(d, "Filter"))
    fprefix = _text(_one(f, "Prefix"))
    tkey, tval = _tag(_one(f, "Tag")) if "Tag" in f else ("", "")
    a = _children(_one(f, "And"))
    aprefix = _text(_one(a, "Prefix"))
    atags = [_tag(t) for t in _all(a, "Tag")]
    and_set = bool(aprefix or atags)
    # validate: ID, Status, Filter, DeleteMarkerReplication, DeleteReplication, SourceSelectionCriteria
    if len(r.id) > MAX_ID:
        raise ReplicationError(INVALID_ID)
    if not r.status:
        raise ReplicationError(EMPTY_STATUS)
    if r.status not in STATUSES:
        raise ReplicationError(INVALID_STATUS)
    if and_set:
        if fprefix or tkey:
            raise ReplicationError(INVALID_FILTER)
        if len({k for k, _ in atags}) != len(atags):
            raise ReplicationError(DUPLICATE_TAG_KEY)
        for k, v in atags:
            check_tag(k, v, ReplicationError)
    if fprefix and tkey:
        raise ReplicationError(INVALID_FILTER)
    if tkey:
        check_tag(tkey, tval, ReplicationError)
    if not r.delete_marker:
        raise ReplicationError(DELETE_MARKER_MISSING)
    if r.delete_marker not in STATUSES:
        raise ReplicationError(INVALID_DELETE_MARKER_STATUS)
    if r.delete not in STATUSES:
        raise ReplicationError(INVALID_DELETE_STATUS)
    if r.replica_modifications not in STATUSES:
        raise ReplicationError(INVALID_SOURCE_SELECTION)
    if r.priority < 0:
        raise ReplicationError(PRIORITY_MISSING)
    if tkey and r.delete_marker == "Enabled":
        raise ReplicationError(TAGS_WITH_DELETE_MARKER)
    if r.existing and r.existing not in STATUSES:
        raise ReplicationError(INVALID_EXISTING_STATUS)
    if and_set:
        r.prefix, r.tags = aprefix, atags
    elif tkey:
        r.tags = [(tkey, tval)]
    else:
        r.prefix = fprefix
        if not fprefix and "Filter" not in d and "Prefix" in d:
            r.prefix = _text(_one(d, "Prefix"))  # AWS's V1 rule: <Prefix> outside a Filter
    return r


def parse(doc: dict[str, Any]) -> Config:
    """The children of a <ReplicationConfiguration> -> a Config whose rules passed their
    own checks (the configuration's: ``validate``, once the targets are known)."""
    raw = _all(doc, "Rule")
    if len(raw) > MAX_RULES:
        raise ReplicationError(TOO_MANY_RULES)
    role = _text(_one(doc, "Role")).strip()
    return Config([_rule(x) for x in raw], role)


def parse_arn(arn: str) -> tuple[str, str, str]:
    """MinIO's madmin.ParseARN: ``arn:minio:TYPE:REGION:ID:BUCKET`` -> (type, id, bucket)."""
    tokens = arn.split(":")
    if not arn.startswith("arn:minio:") or len(tokens) != 6 or not tokens[4] or not tokens[5]:
        raise E.RemoteArnInvalid(f"Invalid ARN {arn}")
    return tokens[2], tokens[4], tokens[5]


def validate(cfg: Config, bucket: str, targets: list[Target]) -> None:
    """MinIO's validateReplicationDestination then Config.Validate; sets each rule's ``target``."""
    legacy_role = cfg.role.startswith(MINIO_ARN)
    by_arn = {t.arn: t for t in targets}
    for r in cfg.rules:
        arn = cfg.role if legacy_role else r.destination
        if arn.startswith(AWS_ARN):
            found = [t for t in targets if t.target_bucket == arn[len(AWS_ARN) :]]
            if not found:
                raise E.RemoteTargetNotFound(bucket=bucket)
            r.target = found[0].arn
            continue
        kind, _, _ = parse_arn(arn)  # "" too: MinIO's ParseARN refuses it
        if kind != "replication":
            raise E.RemoteArnTypeInvalid(bucket=bucket)
        if arn not in by_arn:
            raise E.RemoteTargetNotFound(bucket=bucket)
        r.target = arn
    if not cfg.rules:
        raise ReplicationError(NO_RULE)
    priorities: set[int] = set()
    destinations: set[str] = set()
    for r in cfg.rules:
        destinations.add(r.destination)
        if r.priority in priorities:
            raise ReplicationError(UNIQUE_PRIORITY)
        priorities.add(r.priority)
        if r.destination.startswith(AWS_ARN):
            if not cfg.role:  # AWS requires the Role with this form (MinIO: its legacy form)
                raise ReplicationError(ROLE_MISSING_LEGACY)
        elif not cfg.role and not r.destination.startswith(MINIO_ARN):
            raise ReplicationError(DESTINATION_MISSING)
    if legacy_role and len(destinations) > 1:
        raise ReplicationError(ROLE_FOR_MULTIPLE_TARGETS)


# ---------------------------------------------------------------- remote targets
@dataclass
class Target:
    """A remote bucket that a source bucket replicates to."""

    arn: str
    bucket: str  # the source bucket
    endpoint: str  # http(s)://host:port
    target_bucket: str
    access_key: str
    secret_sealed: str = ""  # base64 of SecretBox.seal(arn, secret)
    region: str = "us-east-1"
    created: float = 0.0

    def to_doc(self) -> str:
        d = asdict(self)
        del d["arn"], d["bucket"]
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_row(cls, arn: str, bucket: str, doc: str) -> Target:
        d = json.loads(doc)
        return cls(arn=arn, bucket=bucket, **{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def public(self) -> dict[str, Any]:
        """What ``ls`` shows: everything but the secret."""
        return {
            "arn": self.arn,
            "sourcebucket": self.bucket,
            "endpoint": self.endpoint,
            "targetbucket": self.target_bucket,
            "accessKey": self.access_key,
            "region": self.region,
            "created": self.created,
        }


def new_arn(target_bucket: str) -> str:
    """A target's ARN in MinIO's form (``arn:minio:replication::ID:BUCKET``)."""
    return f"{MINIO_ARN}:{uuid.uuid4()}:{target_bucket}"


def check_endpoint(endpoint: str) -> str:
    """``http(s)://host[:port]`` with nothing after it; the normal form."""
    u = urlsplit(endpoint.strip())
    if u.scheme not in ("http", "https") or not u.hostname or u.path.strip("/") or u.query:
        raise E.InvalidArgument(f"the target endpoint must be http(s)://host[:port], not {endpoint!r}")
    return f"{u.scheme}://{u.netloc}"


def make_target(
    bucket: str, endpoint: str, target_bucket: str, access_key: str, secret: str, seal: Any, region: str = ""
) -> Target:
    """A new target (its ARN minted, its secret sealed by ``seal(arn, secret) -> bytes``)."""
    if not target_bucket or "/" in target_bucket:
        raise E.InvalidArgument("the target needs a bucket: URL/BUCKET")
    if not access_key or not secret:
        raise E.InvalidArgument("the target needs an access key and a secret key")
    arn = new_arn(target_bucket)
    return Target(
        arn=arn,
        bucket=bucket,
        endpoint=check_endpoint(endpoint),
        target_bucket=target_bucket,
        access_key=access_key,
        secret_sealed=base64.b64encode(seal(arn, secret)).decode(),
        region=region or "us-east-1",
        created=time.time(),
    )
