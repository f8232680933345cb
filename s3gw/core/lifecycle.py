"""Bucket lifecycle rules: the configuration document, its validation, and when a rule is due.

PutBucketLifecycleConfiguration hands ``parse`` the document (as the API layer's
XML parser gives it: a dict of children, a list for repeated ones); what comes
back is a ``Lifecycle`` of ``Rule`` records, stored as JSON in the bucket's
config and rendered back by GetBucketLifecycleConfiguration. Validation follows
MinIO's ``internal/bucket/lifecycle`` package, in its order and with its messages
(MinIO answers every lifecycle.Error as ``InvalidArgument`` with the message;
a document that is not XML at all is ``MalformedXML``). Differences, written
down in docs/compat.md: AbortIncompleteMultipartUpload is applied (MinIO drops
it), and transitions are refused as InvalidStorageClass (s3gw has no tiers,
and a MinIO without the tier answers the same).

Time: an expiry measured in days falls on the "midnight" after the object's
time plus the days, as in S3 and MinIO (``expiry_time``). The length of a day is
a parameter (``lifecycle.day_seconds``; 86400 in production) so tests can run
"1 day" rules in seconds.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import errors as E

MAX_RULES = 1000
MAX_ID = 255
MAX_TAG_KEY = 128  # characters (MinIO counts runes)
MAX_TAG_VALUE = 256
DAY = 86400.0

# MinIO's messages (internal/bucket/lifecycle/*.go); each is answered as InvalidArgument
NOT_WELL_FORMED = "The XML you provided was not well-formed or did not validate against our published schema"
TOO_MANY_RULES = "Lifecycle configuration allows a maximum of 1000 rules"
NO_RULE = "Lifecycle configuration should have at least one rule"
DUPLICATE_ID = "Rule ID must be unique. Found same ID for more than one rule"
INVALID_ID = "ID length is limited to 255 characters"
EMPTY_STATUS = "Status should not be empty"
INVALID_STATUS = "Status must be set to either Enabled or Disabled"
INVALID_FILTER = "Filter must have exactly one of Prefix, Tag, or And specified"
DUPLICATE_TAG_KEY = "Duplicate Tag Keys are not allowed"
INVALID_TAG_KEY = "The TagKey you have provided is invalid"
INVALID_TAG_VALUE = "The TagValue you have provided is invalid"
DUPLICATED_XML_TAG = "duplicated XML Tag"
UNKNOWN_XML_TAG = "unknown XML Tag"
INVALID_DATE = "Date must be provided in ISO 8601 format"
INVALID_DAYS = "Days must be positive integer when used with Expiration"
INVALID_EXPIRATION = (
    "Exactly one of Days (positive integer) or Date (positive ISO 8601 format) should be present inside Expiration."
)
INVALID_DELETE_MARKER = "Delete marker cannot be specified with Days or Date in a Lifecycle Expiration Policy"
DATE_NOT_MIDNIGHT = "'Date' must be at midnight GMT"
# s3gw's own (MinIO ignores AbortIncompleteMultipartUpload): AWS's rule and wording
ABORT_WITH_TAGS = "AbortIncompleteMultipartUpload cannot be specified with Tags."
INVALID_ABORT_DAYS = "DaysAfterInitiation must be a positive integer"


class LifecycleError(E.InvalidArgument):
    """A configuration MinIO refuses with a lifecycle.Error: InvalidArgument with its message."""


@dataclass
class Rule:
    id: str
    status: str
    prefix: str = ""  # the effective prefix (legacy Prefix, Filter/Prefix or Filter/And/Prefix)
    legacy_prefix: bool = False  # given as the rule's own <Prefix> (the old PutBucketLifecycle form)
    legacy: str = ""  # that <Prefix>'s text
    has_filter: bool = False  # a <Filter> element was given
    use_and: bool = False  # the filter is an <And>
    prefix_set: bool = False  # a Prefix element was there (even empty): rendered back
    tags: list[tuple[str, str]] = field(default_factory=list)
    size_gt: int = 0  # ObjectSizeGreaterThan (0: none)
    size_lt: int = 0  # ObjectSizeLessThan (0: none)
    expiration_days: int | None = None
    expiration_date: str | None = None  # RFC 3339, midnight UTC
    expired_object_delete_marker: bool | None = None
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    abort_days: int | None = None

    @property
    def enabled(self) -> bool:
        return self.status == "Enabled"

    def matches(self, key: str, tags: dict[str, str], size: int) -> bool:
        """Whether an object version is within this rule's filter (prefix, every tag, sizes)."""
        if not key.startswith(self.prefix):
            return False
        if any(tags.get(k) != v for k, v in self.tags):
            return False
        if self.size_gt and size <= self.size_gt:
            return False
        return not (self.size_lt and size >= self.size_lt)

    @property
    def expiration_ts(self) -> float | None:
        return _parse_date(self.expiration_date) if self.expiration_date else None

    @property
    def expires_current(self) -> bool:
        return self.expiration_days is not None or self.expiration_date is not None

    @property
    def expires_noncurrent(self) -> bool:
        return self.noncurrent_days is not None or self.newer_noncurrent_versions is not None


@dataclass
class Lifecycle:
    rules: list[Rule]

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.rules]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> Lifecycle:
        rules = []
        for d in data:
            d = dict(d)
            d["tags"] = [tuple(t) for t in d.get("tags") or []]
            rules.append(Rule(**d))
        return cls(rules)

    @property
    def active(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]


# ---------------------------------------------------------------- time
def expiry_time(ts: float, days: int, day: float = DAY) -> float:
    """The "midnight" after ``ts`` plus ``days`` days (S3's and MinIO's ExpectedExpiryTime).

    >>> expiry_time(1590068570.0, 1)  # Thu 21 May 2020 13:42:50 GMT + 1 day
    1590192000.0
    >>> expiry_time(7.0, 1, day=5.0)  # a 5-second "day": 7 + 10, down to a multiple of 5
    15.0
    """
    return math.floor((ts + (days + 1) * day) / day) * day


def due_before(now: float, days: int, day: float = DAY) -> float:
    """The time before which an object's ``expiry_time(ts, days)`` has passed at ``now``
    (``ts < due_before(...)`` exactly when ``expiry_time(ts, days) < now``): the cutoff an
    indexed query uses.

    >>> due_before(1590192000.5, 1)  # just after the midnight that expires Thu 21 May's objects
    1590105600.0
    >>> expiry_time(1590105599.9, 1) < 1590192000.5 <= expiry_time(1590105600.0, 1)
    True
    """
    return math.ceil(now / day - days - 1) * day


def _parse_date(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


# ---------------------------------------------------------------- parsing
def _children(value: Any, what: str) -> dict[str, Any]:
    """An element's children ({} for an empty element); text where elements belong is malformed."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if not k.startswith("@")}
    if isinstance(value, list):
        raise E.MalformedXML()
    if isinstance(value, str) and not value.strip():
        return {}
    raise E.MalformedXML()


def _text(value: Any) -> str:
    """An element's text; a repeated or nested element is malformed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) <= {"#text"} | {k for k in value if k.startswith("@")}:
        return str(value.get("#text") or "")
    raise E.MalformedXML()


def _one(d: dict[str, Any], name: str) -> Any:
    """The single child ``name`` (the last one if repeated, as Go's decoder keeps)."""
    v = d.get(name)
    return v[-1] if isinstance(v, list) else v


def _int(value: Any) -> int:
    """An xs:int as Go's decoder reads it (surrounding space allowed); anything else is malformed."""
    text = _text(value).strip()
    body = text[1:] if text[:1] in "+-" else text
    if not body.isascii() or not body.isdigit() or len(body) > 19:
        raise E.MalformedXML()
    return int(text)


def _days(value: Any, message: str = INVALID_DAYS) -> int:
    n = _int(value)
    if n <= 0:
        raise LifecycleError(message)
    return n


def _bool(value: Any) -> bool:
    text = _text(value).strip()
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise E.MalformedXML()


def _date(value: Any) -> str:
    text = _text(value).strip()
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise LifecycleError(INVALID_DATE) from None
    if "T" not in text.upper() or t.tzinfo is None:
        raise LifecycleError(INVALID_DATE)  # RFC 3339: a date, a time and a zone
    if (t.hour, t.minute, t.second, t.microsecond) != (0, 0, 0, 0) or t.utcoffset() != UTC.utcoffset(None):
        raise LifecycleError(DATE_NOT_MIDNIGHT)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _tag(value: Any) -> tuple[str, str]:
    d = _children(value, "Tag")
    for name, v in d.items():
        if name not in ("Key", "Value"):
            raise LifecycleError(UNKNOWN_XML_TAG)
        if isinstance(v, list):
            raise LifecycleError(DUPLICATED_XML_TAG)
    return _text(d.get("Key")), _text(d.get("Value"))


def check_tag(key: str, value: str, error: type[Exception] | None = None) -> None:
    """A filter's tag, checked as MinIO's lifecycle and replication filters both check it, raising
    ``error`` (default LifecycleError) with MinIO's message."""
    if not key or len(key) > MAX_TAG_KEY:
        raise (error or LifecycleError)(INVALID_TAG_KEY)
    if len(value) > MAX_TAG_VALUE:
        raise (error or LifecycleError)(INVALID_TAG_VALUE)


def _size(value: Any) -> int:
    n = _int(value)
    if n < 0:
        raise LifecycleError(NOT_WELL_FORMED)
    return n


def _filter(rule: Rule, value: Any) -> None:
    """<Filter>: exactly one of Prefix, Tag, And, ObjectSizeGreaterThan, ObjectSizeLessThan (or none)."""
    d = _children(value, "Filter")
    for name in d:
        if name not in ("Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan"):
            raise LifecycleError(UNKNOWN_XML_TAG)
    rule.has_filter = True
    preds = 0
    if "And" in d:
        a = _children(_one(d, "And"), "And")
        for name in a:
            if name not in ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan"):
                raise E.MalformedXML()
        tags = [_tag(t) for t in (a["Tag"] if isinstance(a.get("Tag"), list) else [a["Tag"]] if "Tag" in a else [])]
        gt = _int(_one(a, "ObjectSizeGreaterThan")) if "ObjectSizeGreaterThan" in a else 0
        lt = _int(_one(a, "ObjectSizeLessThan")) if "ObjectSizeLessThan" in a else 0
        if tags or "Prefix" in a or gt or lt:  # an empty <And/> counts as absent (MinIO's isEmpty)
            preds += 1
            if len(tags) + ("Prefix" in a) + (gt > 0) + (lt > 0) < 2:
                raise LifecycleError(NOT_WELL_FORMED)
            if len({k for k, _ in tags}) != len(tags):
                raise LifecycleError(DUPLICATE_TAG_KEY)
            for k, v in tags:
                check_tag(k, v)
            if gt < 0 or lt < 0:
                raise LifecycleError(NOT_WELL_FORMED)
            rule.use_and, rule.tags, rule.size_gt, rule.size_lt = True, tags, gt, lt
            if "Prefix" in a:
                rule.prefix, rule.prefix_set = _text(_one(a, "Prefix")), True
    if "Prefix" in d:
        preds += 1
        rule.prefix, rule.prefix_set = _text(_one(d, "Prefix")), True
    if "Tag" in d:
        key, val = _tag(_one(d, "Tag"))
        if key or val:
            preds += 1
            check_tag(key, val)
            rule.tags = [(key, val)]
    gt = _int(_one(d, "ObjectSizeGreaterThan")) if "ObjectSizeGreaterThan" in d else 0
    lt = _int(_one(d, "ObjectSizeLessThan")) if "ObjectSizeLessThan" in d else 0
    preds += (gt != 0) + (lt != 0)
    if preds > 1:
        raise LifecycleError(INVALID_FILTER)
    if gt < 0 or lt < 0:
        raise LifecycleError(NOT_WELL_FORMED)
    if gt or lt:
        rule.size_gt, rule.size_lt = gt, lt


def _rule(value: Any) -> tuple[Rule, dict[str, Any]]:
    """A <Rule>, decoded (the errors MinIO raises while decoding); validated by ``_validate``."""
    d = _children(value, "Rule")
    rule = Rule(id=_text(_one(d, "ID")), status=_text(_one(d, "Status")))
    exp = _one(d, "Expiration")
    if "Expiration" in d:
        e = _children(exp, "Expiration")
        if "Days" in e:
            rule.expiration_days = _days(_one(e, "Days"))
        if "Date" in e:
            rule.expiration_date = _date(_one(e, "Date"))
        if "ExpiredObjectDeleteMarker" in e:
            rule.expired_object_delete_marker = _bool(_one(e, "ExpiredObjectDeleteMarker"))
    if "NoncurrentVersionExpiration" in d:
        n = _children(_one(d, "NoncurrentVersionExpiration"), "NoncurrentVersionExpiration")
        if "NoncurrentDays" in n:
            rule.noncurrent_days = _days(_one(n, "NoncurrentDays"))
        newer = n.get("NewerNoncurrentVersions", n.get("MaxNoncurrentVersions"))  # MinIO's older name
        if newer is not None:
            rule.newer_noncurrent_versions = _int(newer[-1] if isinstance(newer, list) else newer)
    if "AbortIncompleteMultipartUpload" in d:
        a = _children(_one(d, "AbortIncompleteMultipartUpload"), "AbortIncompleteMultipartUpload")
        if "DaysAfterInitiation" not in a:
            raise E.MalformedXML()
        rule.abort_days = _days(_one(a, "DaysAfterInitiation"), INVALID_ABORT_DAYS)
    if "Filter" in d:
        _filter(rule, _one(d, "Filter"))
    if "Prefix" in d:
        rule.legacy, rule.legacy_prefix = _text(_one(d, "Prefix")), True
        if rule.legacy:  # MinIO's GetPrefix: the rule's own Prefix first, then the filter's
            rule.prefix = rule.legacy
    return rule, d


def _validate(rule: Rule, d: dict[str, Any]) -> None:
    """MinIO's Rule.Validate, in its order."""
    if len(rule.id) > MAX_ID:
        raise LifecycleError(INVALID_ID)
    if not rule.status:
        raise LifecycleError(EMPTY_STATUS)
    if rule.status not in ("Enabled", "Disabled"):
        raise LifecycleError(INVALID_STATUS)
    if "Expiration" in d:
        dated = rule.expiration_days is not None or rule.expiration_date is not None
        if dated and rule.expired_object_delete_marker is not None:
            raise LifecycleError(INVALID_DELETE_MARKER)
        if not dated and rule.expired_object_delete_marker is None:
            raise LifecycleError(NOT_WELL_FORMED)
        if rule.expiration_days is not None and rule.expiration_date is not None:
            raise LifecycleError(INVALID_EXPIRATION)
    if "NoncurrentVersionExpiration" in d:
        newer = rule.newer_noncurrent_versions
        if rule.noncurrent_days is None and not newer:
            raise LifecycleError(NOT_WELL_FORMED)
        if newer is not None and newer < 0:
            raise LifecycleError(NOT_WELL_FORMED)
        if newer == 0:
            rule.newer_noncurrent_versions = None
    if rule.legacy_prefix and rule.has_filter and rule.prefix_set:
        raise LifecycleError(NOT_WELL_FORMED)
    if "Transition" in d or "NoncurrentVersionTransition" in d:
        raise E.InvalidStorageClass()  # no remote tiers here (MinIO: a tier that is not configured)
    if rule.abort_days is not None and rule.tags:
        raise LifecycleError(ABORT_WITH_TAGS)
    if "Expiration" not in d and "NoncurrentVersionExpiration" not in d and rule.abort_days is None:
        raise LifecycleError(NOT_WELL_FORMED)


def parse(doc: dict[str, Any]) -> Lifecycle:
    """The children of a <LifecycleConfiguration> -> a validated Lifecycle (errors as MinIO's)."""
    for name in doc:
        if name != "Rule" and not name.startswith("@"):
            raise E.MalformedXML()
    raw = doc.get("Rule")
    items = raw if isinstance(raw, list) else ([] if raw is None and "Rule" not in doc else [raw])
    decoded = [_rule(r) for r in items]
    if len(decoded) > MAX_RULES:
        raise LifecycleError(TOO_MANY_RULES)
    if not decoded:
        raise LifecycleError(NO_RULE)
    for rule, d in decoded:
        if not rule.id:
            rule.id = str(uuid.uuid4())  # MinIO names a rule without an ID (ParseLifecycleConfigWithID)
        _validate(rule, d)
    ids = [r.id for r, _ in decoded]
    if len(set(ids)) != len(ids):
        raise LifecycleError(DUPLICATE_ID)
    return Lifecycle([r for r, _ in decoded])


# ---------------------------------------------------------------- prediction
def predict_expiry(lc: Lifecycle, key: str, tags: dict[str, str], size: int, mtime: float, day: float = DAY):
    """(rule id, time) of the earliest expiration of a current version, or None (MinIO's
    PredictExpiryTime, which x-amz-expiration reports)."""
    best: tuple[str, float] | None = None
    for rule in lc.active:
        if not rule.expires_current or not rule.matches(key, tags, size):
            continue
        when = rule.expiration_ts if rule.expiration_date else expiry_time(mtime, rule.expiration_days or 0, day)
        assert when is not None
        if best is None or when < best[1]:
            best = (rule.id, when)
    return best
