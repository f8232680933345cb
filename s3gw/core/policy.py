"""IAM policy documents: the grammar, its validation, and evaluation. Pure: no I/O.

One engine serves both kinds of document s3gw keeps:

* **identity policies** (attached to users; ``kind="identity"``): no
  ``Principal``/``NotPrincipal`` (AWS and MinIO refuse them there); ``s3:``,
  ``admin:``, ``kms:`` and ``sts:`` actions;
* **bucket policies** (``PutBucketPolicy``; ``kind="bucket"``): every
  statement names who it is about with ``Principal`` or ``NotPrincipal``;
  ``s3:`` actions only; every ``Resource``/``NotResource`` must be within the
  bucket.

The grammar is AWS's (Version, Id, Statement as a list or a single object,
Sid, Effect, Principal/NotPrincipal, Action/NotAction, Resource/NotResource,
Condition). Validation follows MinIO's ``minio/pkg`` policy package and uses its
error messages, so a document MinIO refuses is refused here with the same words;
s3gw also accepts a few things of AWS's grammar MinIO lacks (``NotPrincipal``,
the ``IfExists`` suffix on every operator, ``ArnEquals``/``ArnLike``), and
refuses a few MinIO accepts but could not honour (condition keys s3gw never
sets, such as ``jwt:*`` or ``s3:LocationConstraint``; wildcards inside a
principal name, which AWS refuses too). Sizes are bounded (``MAX_*``) and the
JSON nesting depth is checked before parsing, so no document recurses deeply.

Evaluation (:func:`decide`) is AWS's: a statement *applies* when its principal,
action, resource and every condition match; an applicable ``Deny`` wins over
everything, otherwise an applicable ``Allow`` allows, otherwise nothing does
(implicit deny). Documents are parsed once into compiled :class:`Policy`
objects (wildcards turned into regular expressions, values into sets), so a
request costs a few regex matches per statement.

Condition semantics, for a condition ``Op: {key: [v1, v2, ...]}`` and the
request's values ``R`` of ``key`` (a key may carry several values:
``s3:RequestObjectTagKeys``; most carry one; an absent key has none):

* a *positive* operator holds for one request value ``r`` when ``r`` matches
  any policy value; a *negated* one (``StringNotEquals``, ``NotIpAddress``,
  ``ArnNotLike``, ...) holds for ``r`` when ``r`` matches none;
* plain ``Op``: positive ones hold when some ``r`` does (absent key: false);
  negated ones are the negation of their positive twin (absent key: true);
* ``ForAnyValue:Op``: some ``r`` satisfies ``Op`` (absent key: false);
* ``ForAllValues:Op``: every ``r`` satisfies ``Op`` (absent key: true);
* ``OpIfExists``: as ``Op`` when the key is present, true when it is absent;
* ``Null: {key: true}`` holds when the key is absent, ``false`` when present.

A condition whose key s3gw cannot know while authorising (the tags of a
PutObjectTagging body, the retention in a PutObjectRetention body: listed in
:attr:`Context.unknown`) is *unknown*: an ``Allow`` with it does not apply, a
``Deny`` with it does (fail closed).

>>> p = parse({"Version": "2012-10-17", "Statement": [
...     {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pics/*"},
...     {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pics/*",
...      "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}, kind="bucket", bucket="pics")
>>> decide([p], Request("s3:GetObject", "arn:aws:s3:::pics/a.jpg", None, Context({"aws:SourceIp": ["10.1.2.3"]})))
'Allow'
>>> decide([p], Request("s3:GetObject", "arn:aws:s3:::pics/a.jpg", None, Context({"aws:SourceIp": ["192.0.2.1"]})))
'Deny'
>>> decide([p], Request("s3:PutObject", "arn:aws:s3:::pics/a.jpg", None, Context())) is None
True
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

ARN_S3 = "arn:aws:s3:::"
VERSION = "2012-10-17"
ALLOW, DENY = "Allow", "Deny"

#: a bucket policy's largest size (AWS and MinIO: 20 KiB), enforced by the API before parsing
MAX_BUCKET_POLICY = 20 * 1024
#: an identity policy's largest size (the admin API's body limit is 1 MiB)
MAX_IDENTITY_POLICY = 1 << 20
MAX_DEPTH = 8  # {Statement: [{Condition: {Op: {key: [value]}}}]} is 6 deep
MAX_STATEMENTS = 1000
MAX_LIST = 1000  # actions, resources, principals, or values of one condition key
MAX_CONDITIONS = 100  # (operator, key) pairs in one statement
MAX_STRING = 4096  # one action, resource, principal or condition value


class PolicyError(ValueError):
    """A document that is not a valid policy; the message says why (MinIO's words)."""


# --------------------------------------------------------------------------- wildcards


class Glob:
    """A ``*``/``?`` pattern, matched in time linear in the value's length (no backtracking regex).

    The pattern is cut at each ``*`` into segments of fixed length (literals
    and ``?``); the first must sit at the start, the last at the end, and each
    one between is placed leftmost after the one before — which is optimal
    when segments have fixed lengths, so no choice is ever revisited. (A
    regex ``.*a.*a.*...b`` would backtrack exponentially on a long value
    without ``b``: a policy writer could otherwise stall the gateway.) A NUL
    character before a character makes it literal (a substituted policy variable).
    """

    __slots__ = ("rx", "lengths")

    def __init__(self, pattern: str, fold: bool) -> None:
        segments: list[list[str]] = [[]]
        i = 0
        while i < len(pattern):
            c = pattern[i]
            if c == "\0" and i + 1 < len(pattern):
                segments[-1].append(re.escape(pattern[i + 1]))
                i += 2
                continue
            if c == "*":
                segments.append([])
            else:
                segments[-1].append("." if c == "?" else re.escape(c))
            i += 1
        flags = re.DOTALL | (re.IGNORECASE if fold else 0)
        self.rx = [re.compile("".join(seg), flags) for seg in segments]
        self.lengths = [len(seg) for seg in segments]

    def match(self, v: str) -> bool:
        rx, ln = self.rx, self.lengths
        if len(rx) == 1:
            return len(v) == ln[0] and rx[0].match(v) is not None
        first, last = ln[0], ln[-1]
        if len(v) < first + last or (first and rx[0].match(v) is None):
            return False
        end = len(v) - last
        if last and rx[-1].match(v, end) is None:
            return False
        pos = first
        for r, n in zip(rx[1:-1], ln[1:-1]):
            if n:
                m = r.search(v, pos, end)
                if m is None:
                    return False
                pos = m.end()
        return True


@lru_cache(maxsize=8192)
def glob(pattern: str, fold: bool = False) -> Glob:
    return Glob(pattern, fold)


def wildcard_match(pattern: str, value: str, *, fold: bool = False) -> bool:
    """IAM matching: ``*`` any run of characters (``/`` included), ``?`` exactly one.

    >>> wildcard_match("s3:Get*", "s3:getobject", fold=True), wildcard_match("arn:aws:s3:::b/a?c", "arn:aws:s3:::b/abc")
    (True, True)
    >>> wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b2/x"), wildcard_match("a*b*c", "aXbYbZc")
    (False, True)
    """
    return glob(pattern, fold).match(value)


def could_prefix(pattern: str, prefix: str) -> bool:
    """Can some string that starts with ``prefix`` match ``pattern``? (MinIO's MatchAsPatternPrefix.)

    How a bucket policy's resource is checked to be within its bucket: it must
    match the bucket itself, or something under ``bucket/``.

    >>> could_prefix("pics/*", "pics/"), could_prefix("pi?s/2024/*", "pics/"), could_prefix("other/*", "pics/")
    (True, True, False)
    >>> could_prefix("pics", "pics/")
    False
    """
    states = {0}
    for c in prefix:
        nxt: set[int] = set()
        for i in _closure(pattern, states):
            if i < len(pattern):
                if pattern[i] == "*":
                    nxt.add(i)
                elif pattern[i] == "?" or pattern[i] == c:
                    nxt.add(i + 1)
        states = nxt
        if not states:
            return False
    return True


def _closure(pattern: str, states: set[int]) -> set[int]:
    """States reachable without consuming a character (a ``*`` may match nothing)."""
    out, todo = set(states), list(states)
    while todo:
        i = todo.pop()
        if i < len(pattern) and pattern[i] == "*" and i + 1 not in out:
            out.add(i + 1)
            todo.append(i + 1)
    return out


# --------------------------------------------------------------------------- actions and keys

#: the S3 actions a policy may name (MinIO's list, with AWS's ACL, website, logging, ... actions)
S3_ACTIONS = frozenset(
    f"s3:{a}"
    for a in """
AbortMultipartUpload BypassGovernanceRetention CreateBucket DeleteBucket DeleteBucketCors DeleteBucketPolicy
DeleteBucketWebsite DeleteObject DeleteObjectTagging DeleteObjectVersion DeleteObjectVersionTagging ForceDeleteBucket
GetAccelerateConfiguration GetBucketAcl GetBucketCors GetBucketLocation GetBucketLogging GetBucketNotification
GetBucketObjectLockConfiguration GetBucketOwnershipControls GetBucketPolicy GetBucketPolicyStatus GetBucketQOS
GetBucketRequestPayment GetBucketTagging GetBucketVersioning GetBucketWebsite GetEncryptionConfiguration
GetInventoryConfiguration GetLifecycleConfiguration GetObject GetObjectAcl GetObjectAttributes GetObjectLegalHold
GetObjectRetention GetObjectTagging GetObjectTorrent GetObjectVersion GetObjectVersionAcl GetObjectVersionAttributes
GetObjectVersionForReplication GetObjectVersionTagging GetReplicationConfiguration HeadBucket ListAllMyBuckets
ListBucket ListBucketMultipartUploads ListBucketVersions ListMultipartUploadParts ListenBucketNotification
ListenNotification PutAccelerateConfiguration PutBucketAcl PutBucketCors PutBucketLogging PutBucketNotification
PutBucketObjectLockConfiguration PutBucketOwnershipControls PutBucketPolicy PutBucketQOS PutBucketRequestPayment
PutBucketTagging PutBucketVersioning PutBucketWebsite PutEncryptionConfiguration PutInventoryConfiguration
PutLifecycleConfiguration PutObject PutObjectAcl PutObjectFanOut PutObjectLegalHold PutObjectRetention
PutObjectTagging PutObjectVersionAcl PutObjectVersionTagging PutReplicationConfiguration ReplicateDelete
ReplicateObject ReplicateTags ResetBucketReplicationState RestoreObject
""".split()
)

#: actions on objects: in a bucket policy their Resource must name objects (``bucket/...``)
OBJECT_ACTIONS = frozenset(
    f"s3:{a}"
    for a in """
AbortMultipartUpload BypassGovernanceRetention DeleteObject DeleteObjectTagging DeleteObjectVersion
DeleteObjectVersionTagging GetObject GetObjectAcl GetObjectAttributes GetObjectLegalHold GetObjectRetention
GetObjectTagging GetObjectTorrent GetObjectVersion GetObjectVersionAcl GetObjectVersionAttributes
GetObjectVersionForReplication GetObjectVersionTagging ListMultipartUploadParts PutObject PutObjectAcl
PutObjectFanOut PutObjectLegalHold PutObjectRetention PutObjectTagging PutObjectVersionAcl PutObjectVersionTagging
ReplicateDelete ReplicateObject ReplicateTags ResetBucketReplicationState RestoreObject
""".split()
) | {"s3:*"}

#: condition keys every action accepts (what s3gw sets for every request; see api/policy_context.py)
COMMON_KEYS = frozenset(
    {
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:SecureTransport",
        "aws:SourceIp",
        "aws:UserAgent",
        "aws:Referer",
        "aws:principaltype",
        "aws:userid",
        "aws:username",
        "aws:groups",
        "aws:PrincipalArn",
        "s3:signatureversion",
        "s3:authType",
        "s3:x-amz-content-sha256",
    }
)
_SSE = (
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
)
_LOCK = ("s3:object-lock-mode", "s3:object-lock-retain-until-date", "s3:object-lock-legal-hold")
_REQ_TAGS = ("s3:RequestObjectTag", "s3:RequestObjectTagKeys")
_LIST = ("s3:prefix", "s3:delimiter", "s3:max-keys")
_VTAG = ("s3:versionid", "s3:ExistingObjectTag")

#: keys an action accepts beyond the common ones (MinIO's IAMActionConditionKeyMap, plus s3:x-amz-acl)
ACTION_KEYS: dict[str, frozenset[str]] = {
    a: frozenset(k)
    for a, k in {
        "s3:PutObject": (
            "s3:x-amz-copy-source",
            *_SSE,
            "s3:x-amz-metadata-directive",
            "s3:x-amz-storage-class",
            "s3:x-amz-acl",
            "s3:versionid",
            *_LOCK,
            *_REQ_TAGS,
        ),
        "s3:GetObject": (*_SSE, *_VTAG),
        "s3:DeleteObject": ("s3:versionid",),
        "s3:DeleteObjectVersion": ("s3:versionid",),
        "s3:ListBucket": _LIST,
        "s3:ListBucketVersions": _LIST,
        "s3:GetObjectAttributes": ("s3:ExistingObjectTag",),
        "s3:GetObjectVersionAttributes": _VTAG,
        "s3:PutObjectRetention": (*_SSE, "s3:object-lock-mode", "s3:object-lock-retain-until-date", "s3:versionid"),
        "s3:GetObjectRetention": (*_SSE, "s3:versionid"),
        "s3:PutObjectLegalHold": (*_SSE, "s3:object-lock-legal-hold", "s3:versionid"),
        "s3:BypassGovernanceRetention": ("s3:versionid", *_LOCK, *_REQ_TAGS),
        "s3:PutBucketTagging": _REQ_TAGS,
        "s3:PutObjectTagging": (*_VTAG, *_REQ_TAGS),
        "s3:PutObjectVersionTagging": (*_VTAG, *_REQ_TAGS),
        "s3:GetObjectTagging": _VTAG,
        "s3:DeleteObjectTagging": _VTAG,
        "s3:GetObjectVersion": _VTAG,
        "s3:GetObjectVersionTagging": _VTAG,
        "s3:DeleteObjectVersionTagging": _VTAG,
        "s3:GetObjectAcl": _VTAG,
        "s3:PutObjectAcl": ("s3:x-amz-acl", *_VTAG),
        "s3:PutBucketAcl": ("s3:x-amz-acl",),
        "s3:CreateBucket": ("s3:x-amz-acl",),
        "s3:ReplicateObject": _VTAG,
        "s3:ReplicateDelete": _VTAG,
        "s3:ReplicateTags": _VTAG,
        "s3:GetObjectVersionForReplication": _VTAG,
    }.items()
}

#: keys followed by ``/<tag key>``
TAG_KEYS = frozenset({"s3:ExistingObjectTag", "s3:RequestObjectTag"})
ALL_KEYS = COMMON_KEYS.union(*ACTION_KEYS.values())
#: admin, KMS and STS actions: keys about the caller and the connection only
ADMIN_KEYS = frozenset(k for k in COMMON_KEYS if k.startswith("aws:"))
#: keys holding one value whose ${...} policy variables are substituted (MinIO: its "common keys")
VARIABLE_KEYS = frozenset(COMMON_KEYS - {"aws:groups"})

_KINDS = ("s3", "admin", "kms", "sts")


def _action_kinds(actions: Sequence[str]) -> frozenset[str]:
    """The services a statement's actions are about (``*`` is about every one)."""
    kinds = set()
    for a in actions:
        if a == "*":
            kinds.update(_KINDS)
        else:
            kinds.add(a.split(":", 1)[0].lower())
    return frozenset(kinds)


def allowed_keys(action: str) -> frozenset[str]:
    """The condition keys a statement naming ``action`` may test (MinIO's rule).

    >>> "s3:prefix" in allowed_keys("s3:ListBucket"), "s3:prefix" in allowed_keys("s3:GetObject")
    (True, False)
    >>> allowed_keys("s3:*") == ALL_KEYS, "s3:prefix" in allowed_keys("s3:List*")
    (True, True)
    """
    if not action.lower().startswith("s3:") and action != "*":
        return ADMIN_KEYS
    if wildcard_match(action, "s3:*", fold=True):
        return ALL_KEYS
    out = set(COMMON_KEYS)
    for name, keys in ACTION_KEYS.items():
        if wildcard_match(action, name, fold=True):
            out |= keys
    return frozenset(out)


# --------------------------------------------------------------------------- request context


@dataclass
class Context:
    """What the conditions are evaluated against: key -> values, as the request gives them.

    Keys are condition key names as policies spell them (``aws:SourceIp``,
    ``s3:prefix``, ``s3:ExistingObjectTag/colour``); an absent key has no
    entry. ``unknown`` lists key names (without ``/<tag>``) whose values
    cannot be known while authorising (see the module docstring).
    """

    values: dict[str, list[str]] = field(default_factory=dict)
    unknown: frozenset[str] = frozenset()

    def get(self, key: str) -> list[str] | None:
        return self.values.get(key)

    def first(self, key: str) -> str | None:
        v = self.values.get(key)
        return v[0] if v else None


@dataclass(frozen=True)
class Request:
    """What is asked: ``action`` (``s3:GetObject``) on ``resource`` (a full ARN) by ``principal``.

    ``principal`` is the caller's access key, ``None`` for an anonymous caller.
    """

    action: str
    resource: str
    principal: str | None
    context: Context = field(default_factory=Context)


# --------------------------------------------------------------------------- templates (${...} policy variables)

_VAR = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True)
class _Template:
    """A policy string with ``${key}`` variables: literal parts and variable names, alternating.

    AWS's escapes ``${*}``, ``${?}`` and ``${$}`` stand for the literal
    characters; a variable whose key is absent from the request stays as
    written (so it matches nothing a real request sends), as in MinIO.
    """

    text: str
    parts: tuple[str, ...]  # literal, var, literal, var, ..., literal

    @staticmethod
    def of(text: str) -> _Template:
        parts: list[str] = []
        pos = 0
        for m in _VAR.finditer(text):
            name = m.group(1)
            if name in _ESCAPES or name in VARIABLE_KEYS:
                parts += [text[pos : m.start()], name]
                pos = m.end()
        parts.append(text[pos:])
        return _Template(text, tuple(parts))

    @property
    def static(self) -> bool:
        return len(self.parts) == 1

    def render(self, ctx: Context, *, as_pattern: bool) -> str:
        """The string for this request; ``as_pattern`` escapes substituted text for wildcard use."""
        if self.static:
            return self.text
        out = []
        for i, part in enumerate(self.parts):
            if i % 2 == 0:
                out.append(part)
                continue
            if part in _ESCAPES:
                value = _ESCAPES[part]
                out.append("\0" + value if as_pattern else value)  # \0 marks a literal * or ?
                continue
            value = ctx.first(part)
            if value:
                out.append("".join("\0" + c if c in "*?" else c for c in value) if as_pattern else value)
            else:
                out.append("${" + part + "}")
        return "".join(out)


class _Patterns:
    """Wildcard patterns (resources, actions, StringLike values), compiled once unless they hold variables."""

    def __init__(self, patterns: Sequence[str], fold: bool = False) -> None:
        self.templates = [_Template.of(p) for p in patterns]
        self.fold = fold
        self._static = [glob(t.text, fold) for t in self.templates if t.static]
        self._dynamic = [t for t in self.templates if not t.static]

    def match(self, value: str, ctx: Context) -> bool:
        if any(g.match(value) for g in self._static):
            return True
        return any(glob(t.render(ctx, as_pattern=True), self.fold).match(value) for t in self._dynamic)


# --------------------------------------------------------------------------- conditions

_QUALIFIERS = ("ForAnyValue", "ForAllValues")
_STRING_OPS = {
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "BinaryEquals",
}
_NUMERIC_OPS = {
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
}
_DATE_OPS = {
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
}
_ARN_OPS = {"ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"}
_OTHER_OPS = {"Bool", "IpAddress", "NotIpAddress", "Null"}
OPERATORS = frozenset(_STRING_OPS | _NUMERIC_OPS | _DATE_OPS | _ARN_OPS | _OTHER_OPS)
_NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "ArnNotEquals",
    "ArnNotLike",
    "NotIpAddress",
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a == b,  # negated afterwards
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def _parse_time(s: str) -> datetime | None:
    """RFC 3339 (as Go's time.RFC3339: a date, ``T``, a time and a zone), else None."""
    if "T" not in s and "t" not in s:
        return None
    try:
        t = datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def _request_time(s: str) -> datetime | None:
    """A request value as a time: RFC 3339, or seconds since the epoch (aws:EpochTime)."""
    if s.isascii() and s.isdigit() and len(s) <= 12:
        return datetime.fromtimestamp(int(s), UTC)
    return _parse_time(s)


def _int(s: str) -> int | None:
    s = s.strip()
    if not s.isascii() or len(s) > 20:
        return None
    try:
        return int(s)
    except ValueError:
        return None


def _arn_match(pattern: str, value: str) -> bool:
    """ArnEquals/ArnLike: each of the six ``:``-separated parts matched on its own, wildcards allowed."""
    p, v = pattern.split(":", 5), value.split(":", 5)
    if len(p) != 6 or len(v) != 6:
        return False
    return all(wildcard_match(a, b) for a, b in zip(p, v))


def parse_operator(name: str) -> tuple[str, str, bool]:
    """``[Qualifier:]Operator[IfExists]`` -> (qualifier, operator, if_exists).

    >>> parse_operator("ForAllValues:StringLikeIfExists")
    ('ForAllValues', 'StringLike', True)
    >>> parse_operator("StringMatches")
    Traceback (most recent call last):
    ...
    s3gw.core.policy.PolicyError: invalid condition name 'StringMatches'
    """
    qualifier, _, op = name.rpartition(":")
    if_exists = op.endswith("IfExists") and op != "IfExists"
    base = op[: -len("IfExists")] if if_exists else op
    if (
        (qualifier and qualifier not in _QUALIFIERS)
        or base not in OPERATORS
        or (base == "Null" and (qualifier or if_exists))
    ):
        raise PolicyError(f"invalid condition name '{name}'")
    return qualifier, base, if_exists


class Condition:
    """One ``Operator: {key: values}`` pair, compiled."""

    def __init__(self, name: str, key: str, values: list[Any]) -> None:
        self.name = name  # as written, for the normalised document
        self.qualifier, self.op, self.if_exists = parse_operator(name)
        base = self.op
        self.key = key
        self.family = key.split("/", 1)[0]
        self.negated = base in _NEGATED
        self.values = values
        self._compile(values)

    # -- validation and compilation (MinIO's constructors and messages)
    def _one(self) -> Any:
        if len(self.values) != 1:
            what = {"Bool": "boolean", "Null": "Null"}.get(self.op, self.op)
            raise PolicyError(f"only one value is allowed for {what} condition")
        return self.values[0]

    def _compile(self, values: list[Any]) -> None:
        op = self.op
        if op in _STRING_OPS or op in _ARN_OPS:
            if not all(isinstance(v, str) for v in values):
                raise PolicyError(f"value must be a string for {op} condition")
            self._check_string_values(values)
            if op == "BinaryEquals":
                try:
                    self._set = {base64.b64decode(v, validate=True).decode("latin-1") for v in values}
                except (binascii.Error, ValueError) as e:
                    raise PolicyError(f"invalid base64 value for {op} condition") from e
            elif op in _ARN_OPS:
                for v in values:
                    if len(v.split(":", 5)) != 6 or not v.startswith("arn"):
                        raise PolicyError(f"value {v} must be an ARN for {op} condition")
            elif op in ("StringLike", "StringNotLike"):
                self._patterns = _Patterns(values)
            else:
                self._templates = [_Template.of(v) for v in values]
                fold = "IgnoreCase" in op
                self._static = {t.text.lower() if fold else t.text for t in self._templates if t.static}
                self._dynamic = [t for t in self._templates if not t.static]
        elif op in _NUMERIC_OPS:
            v = self._one()
            n = v if isinstance(v, int) and not isinstance(v, bool) else _int(v) if isinstance(v, str) else None
            if n is None:
                raise PolicyError(f"value {v} must be a int for {op} condition")
            self._value = n
        elif op in _DATE_OPS:
            v = self._one()
            t = _parse_time(v) if isinstance(v, str) else None
            if t is None:
                raise PolicyError(f"value {v} must be a time.Time string for {op} condition")
            self._value = t
        elif op == "Bool":
            if self.key != "aws:SecureTransport":
                raise PolicyError(f"only aws:SecureTransport key is allowed for {op} condition")
            self._value = self._bool(self._one(), "boolean")
        elif op == "Null":
            self._value = self._bool(self._one(), "Null")
        else:  # IpAddress, NotIpAddress
            if self.key != "aws:SourceIp":
                raise PolicyError(f"only aws:SourceIp key is allowed for {op} condition")
            nets = []
            for v in values:
                try:
                    nets.append(ipaddress.ip_network(v, strict=False) if isinstance(v, str) else None)
                except ValueError:
                    nets.append(None)
                if nets[-1] is None:
                    raise PolicyError(f"value {v} must be CIDR string for {op} condition")
            self._nets = nets

    def _check_string_values(self, values: list[str]) -> None:
        for s in values:
            if self.key == "s3:x-amz-copy-source":
                bucket, _, obj = s.lstrip("/").partition("/")
                if not bucket or not obj:
                    raise PolicyError(f"invalid value '{s}' for 's3:x-amz-copy-source' for {self.op} condition")
            if self.op in ("StringLike", "StringNotLike"):
                continue
            allowed = {
                "s3:x-amz-server-side-encryption-customer-algorithm": ("AES256",),
                "s3:x-amz-server-side-encryption": ("AES256", "aws:kms"),
                "s3:x-amz-metadata-directive": ("COPY", "REPLACE"),
            }.get(self.key)
            if allowed is not None and s not in allowed:
                raise PolicyError(f"invalid value '{s}' for '{self.key}' for {self.op} condition")
            if self.key == "s3:x-amz-content-sha256" and not s:
                raise PolicyError(f"invalid empty value for '{self.key}' for {self.op} condition")

    @staticmethod
    def _bool(v: Any, what: str) -> bool:
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v in (
            "1",
            "t",
            "T",
            "TRUE",
            "true",
            "True",
            "0",
            "f",
            "F",
            "FALSE",
            "false",
            "False",
        ):
            return v in ("1", "t", "T", "TRUE", "true", "True")
        raise PolicyError(f"value must be a boolean for {what} condition")

    # -- evaluation
    def _positive(self, r: str, ctx: Context) -> bool:
        """Does one request value match (the positive form of the operator)?"""
        op = self.op
        if op in ("StringEquals", "StringNotEquals"):
            return r in self._static or any(t.render(ctx, as_pattern=False) == r for t in self._dynamic)
        if op in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
            low = r.lower()
            return low in self._static or any(t.render(ctx, as_pattern=False).lower() == low for t in self._dynamic)
        if op in ("StringLike", "StringNotLike"):
            return self._patterns.match(r, ctx)
        if op == "BinaryEquals":
            return r in self._set
        if op in _ARN_OPS:
            return any(_arn_match(v, r) for v in self.values)
        if op in _NUMERIC_OPS:
            n = _int(r)
            return n is not None and _COMPARE[op[len("Numeric") :]](n, self._value)
        if op in _DATE_OPS:
            t = _request_time(r)
            return t is not None and _COMPARE[op[len("Date") :]](t, self._value)
        if op == "Bool":
            return r.lower() == ("true" if self._value else "false")
        try:  # IpAddress / NotIpAddress
            ip = ipaddress.ip_address(r)
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in self._nets)

    def evaluate(self, ctx: Context) -> bool | None:
        """True, False, or None when the key cannot be known now (see the module docstring)."""
        if self.family in ctx.unknown:
            return None
        got = ctx.get(self.key)
        if self.op == "Null":
            return (not got) is self._value
        if not got:
            if self.if_exists:
                return True
            if self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return self.negated
        if self.qualifier:
            each = [self._positive(r, ctx) != self.negated for r in got]
            return all(each) if self.qualifier == "ForAllValues" else any(each)
        hit = any(self._positive(r, ctx) for r in got)
        return not hit if self.negated else hit

    def normalised(self) -> Any:
        return self.values


# --------------------------------------------------------------------------- principals


@dataclass(frozen=True)
class Principals:
    """A Principal/NotPrincipal: ``"*"`` or ``{"AWS": [...]}``.

    Values (s3gw has one account; its users are named by access key):

    * ``*`` — everyone, anonymous callers included;
    * a user: its access key as MinIO writes it (``alice``), or the AWS form
      ``arn:aws:iam::ACCOUNT:user/alice`` (any ACCOUNT);
    * the account (``arn:aws:iam::ACCOUNT:root`` or a 12-digit account id):
      as in AWS, it delegates to identity policies, so an Allow for it grants
      no user anything by itself, while a Deny for it applies to every signed
      caller;
    * wildcards inside a name are refused (AWS refuses them; MinIO matches them).
    """

    anyone: bool
    users: frozenset[str]
    account: bool
    doc: tuple[str, ...]

    @staticmethod
    def parse(value: Any, field_name: str) -> Principals:
        if value == "*":
            return Principals(True, frozenset(), False, ("*",))
        if not isinstance(value, dict) or set(value) != {"AWS"}:
            raise PolicyError(f"invalid {field_name} {json.dumps(value)[:200]}")
        names = _strings(value["AWS"], field_name)
        if not names:
            raise PolicyError(f"invalid {field_name} {json.dumps(value)[:200]}")
        anyone, account, users = False, False, set()
        for n in names:
            if n == "*":
                anyone = True
            elif re.fullmatch(r"\d{12}", n) or re.fullmatch(r"arn:aws:iam::[^:]*:root", n):
                account = True
            else:
                m = re.fullmatch(r"arn:aws:iam::[^:]*:user/(.+)", n)
                name = m.group(1) if m else n
                if not name or "*" in name or "?" in name or (not m and n.startswith("arn:")):
                    raise PolicyError(f"invalid {field_name} '{n}'")
                users.add(name)
        return Principals(anyone, frozenset(users), account, tuple(names))

    def match(self, principal: str | None, deny: bool) -> bool:
        if self.anyone:
            return True
        if principal is None:
            return False
        return principal in self.users or (self.account and deny)


# --------------------------------------------------------------------------- statements and policies


def _strings(value: Any, name: str) -> list[str]:
    """A string or a list of strings (MinIO: a string set), bounded."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{name} must be a string or a list of strings")
    if len(value) > MAX_LIST:
        raise PolicyError(f"{name} has more than {MAX_LIST} entries")
    if any(len(v) > MAX_STRING for v in value):
        raise PolicyError(f"{name} has an entry longer than {MAX_STRING} characters")
    return value


_STATEMENT_FIELDS = {
    "identity": {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"},
    "bucket": {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    },
}


class Statement:
    def __init__(self, st: Any, kind: str, strict: bool, bucket: str | None) -> None:
        if not isinstance(st, dict):
            raise PolicyError("a Statement is a JSON object")
        for k in st:
            if k not in _STATEMENT_FIELDS[kind]:
                raise PolicyError(f"unknown field '{k}' in Statement")
        self.sid = st.get("Sid", "")
        if not isinstance(self.sid, str):
            raise PolicyError("invalid SID")
        effect = st.get("Effect")
        if effect not in (ALLOW, DENY):
            raise PolicyError(f"invalid Effect {effect}")
        self.effect = effect
        self.deny = effect == DENY
        # principal (bucket policies only)
        self.principal: Principals | None = None
        self.not_principal = False
        if kind == "bucket":
            if ("Principal" in st) == ("NotPrincipal" in st):
                raise PolicyError("invalid Principal: a statement needs one of Principal and NotPrincipal")
            self.not_principal = "NotPrincipal" in st
            name = "NotPrincipal" if self.not_principal else "Principal"
            self.principal = Principals.parse(st[name], name)
        # actions
        if ("Action" in st) and ("NotAction" in st):
            raise PolicyError("Action and NotAction cannot be specified in the same statement")
        self.not_action = "NotAction" in st
        actions = _strings(st.get("NotAction" if self.not_action else "Action"), "Action")
        if not actions:
            raise PolicyError("Action must not be empty")
        for a in actions:
            self._check_action(a, kind, strict)
        self.actions = actions
        self.kinds = _action_kinds(actions)
        if strict and len(self.kinds) > 1 and "*" not in actions:
            raise PolicyError("mixing action types in the same statement is not allowed")
        self._actions = _Patterns(actions, fold=True)
        # resources
        if ("Resource" in st) and ("NotResource" in st):
            raise PolicyError("Resource and NotResource cannot be specified in the same statement")
        self.not_resource = "NotResource" in st
        raw = _strings(st.get("NotResource" if self.not_resource else "Resource", []), "Resource")
        self.resources = list(dict.fromkeys(self._resource(r, kind) for r in raw))  # a set, as in MinIO
        if not self.resources and (kind == "bucket" or "s3" in self.kinds):
            raise PolicyError("Resource must not be empty")
        if kind == "bucket":
            self._check_bucket_resources(bucket, strict)
        self._resources = _Patterns(self.resources)
        # conditions
        cond = st.get("Condition")
        self.conditions: list[Condition] = []
        if cond is not None:
            if not isinstance(cond, dict) or not cond:
                raise PolicyError("condition must not be empty")
            for name, pairs in cond.items():
                parse_operator(name)
                if not isinstance(pairs, dict) or not pairs:
                    raise PolicyError(f"invalid condition '{name}': a condition maps keys to values")
                for key, values in pairs.items():
                    self._check_key(key)
                    if not isinstance(values, list):
                        values = [values]
                    if not values:
                        raise PolicyError("invalid value")
                    if len(values) > MAX_LIST:
                        raise PolicyError(f"condition {name} has more than {MAX_LIST} values")
                    seen = set()
                    for v in values:
                        if isinstance(v, (dict, list)) or v is None or isinstance(v, float):
                            raise PolicyError(f"unknown json data '{json.dumps(v)[:100]}'")
                        if isinstance(v, str) and len(v) > MAX_STRING:
                            raise PolicyError(f"condition value longer than {MAX_STRING} characters")
                        if (type(v), v) in seen:
                            raise PolicyError(f"duplicate value found '{v}'")
                        seen.add((type(v), v))
                    self.conditions.append(Condition(name, key, list(values)))
                    if len(self.conditions) > MAX_CONDITIONS:
                        raise PolicyError(f"a statement has more than {MAX_CONDITIONS} conditions")
            if strict and not self.not_action:
                keys = {c.key.split("/", 1)[0] for c in self.conditions}
                for a in actions:
                    extra = keys - allowed_keys(a)
                    if extra:
                        raise PolicyError(
                            f"unsupported condition keys '[{' '.join(sorted(extra))}]' used for action '{a}'"
                        )
        self.families = frozenset(c.family for c in self.conditions)

    @staticmethod
    def _check_key(key: str) -> None:
        """A condition key s3gw sets (MinIO's names, case as written); tag keys carry ``/<tag key>``."""
        name, sep, tag = key.partition("/")
        if name in TAG_KEYS:
            if not tag or len(tag) > 128:
                raise PolicyError(f"invalid condition key '{key}'")
        elif sep or name not in ALL_KEYS:
            raise PolicyError(f"invalid condition key '{key}'")

    @staticmethod
    def _check_action(a: str, kind: str, strict: bool) -> None:
        if a == "*":
            return
        service, sep, name = a.partition(":")
        if not sep or not name or len(a) > 256:
            raise PolicyError(f"invalid action '{a}'")
        service = service.lower()
        if kind == "bucket" and service != "s3":
            raise PolicyError(f"unsupported action '{a}'")
        if service not in _KINDS:
            raise PolicyError(f"unsupported action '{a}'")
        if strict and service == "s3" and not any(wildcard_match(a, s, fold=True) for s in S3_ACTIONS):
            raise PolicyError(f"unsupported action '{a}'")
        if strict and service != "s3" and not re.fullmatch(r"[A-Za-z*?]+", name):
            raise PolicyError(f"unsupported action '{a}'")

    @staticmethod
    def _resource(r: str, kind: str) -> str:
        if r == "*":
            return r
        if not r.startswith(ARN_S3):
            if kind == "bucket" or r.startswith("arn:"):
                raise PolicyError(f"invalid resource '{r}'")
            r = ARN_S3 + r  # identity policies: "bucket/key" is s3gw's shorthand for the ARN
        pattern = r[len(ARN_S3) :]
        if not pattern:
            raise PolicyError(f"invalid resource '{r}'")
        if pattern.startswith("/"):
            raise PolicyError(f"invalid resource '{r}' - starts with '/' will not match a bucket")
        return r

    def _check_bucket_resources(self, bucket: str | None, strict: bool) -> None:
        patterns = [r if r == "*" else r[len(ARN_S3) :] for r in self.resources]
        is_object = [("/" in p or "*" in p) for p in patterns]
        is_bucket = [("/" not in p or p == "*") for p in patterns]
        if strict:
            for a in self.actions if not self.not_action else ():
                objecty = any(wildcard_match(a, o, fold=True) for o in OBJECT_ACTIONS)
                if objecty and not any(is_object):
                    raise PolicyError(f"unsupported Resource found {self._shown()} for action {a}")
                if not objecty and not any(is_bucket):
                    raise PolicyError(f"unsupported Resource found {self._shown()} for action {a}")
        if bucket is not None:
            for p in patterns:
                if not (wildcard_match(p, bucket) or could_prefix(p, bucket + "/")):
                    raise PolicyError("Policy has invalid resource")

    def _shown(self) -> str:
        return "[" + " ".join(self.resources) + "]"

    # -- evaluation
    def _targets(self, q: Request) -> bool:
        """Principal, action and resource match (conditions aside)."""
        if self.principal is not None:
            if self.principal.match(q.principal, self.deny) == self.not_principal:
                return False
        service = q.action.split(":", 1)[0].lower()
        if service not in self.kinds:
            return False
        if self._actions.match(q.action, q.context) == self.not_action:
            return False
        if service != "s3":
            return True  # admin and KMS actions are not about a resource (MinIO's consoleAdmin names none)
        if not self.resources:
            return self.not_resource
        hit = self._resources.match(q.resource, q.context)
        return hit != self.not_resource

    def applies(self, q: Request) -> bool | None:
        """True / False, or None when a condition cannot be known now."""
        if not self._targets(q):
            return False
        result: bool | None = True
        for c in self.conditions:
            r = c.evaluate(q.context)
            if r is False:
                return False
            if r is None:
                result = None
        return result

    def normalised(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sid:
            out["Sid"] = self.sid
        out["Effect"] = self.effect
        if self.principal is not None:
            # MinIO's form: {"AWS": [...]} even for "*" (what mc and minio-go parse)
            out["NotPrincipal" if self.not_principal else "Principal"] = {"AWS": list(self.principal.doc)}
        out["NotAction" if self.not_action else "Action"] = list(self.actions)
        if self.resources:
            out["NotResource" if self.not_resource else "Resource"] = list(self.resources)
        if self.conditions:
            cond: dict[str, dict[str, Any]] = {}
            for c in self.conditions:
                cond.setdefault(c.name, {})[c.key] = c.normalised()
            out["Condition"] = cond
        return out


class Policy:
    """A parsed, compiled policy document; ``doc`` is its normalised JSON form."""

    def __init__(self, statements: list[Statement], version: str, pid: str | None, kind: str) -> None:
        self.statements = statements
        self.kind = kind
        self.doc: dict[str, Any] = {"Version": version}
        if pid:
            self.doc["Id"] = pid
        self.doc["Statement"] = [s.normalised() for s in statements]

    def decide(self, q: Request) -> str | None:
        return decide([self], q)

    def references(self, family: str, q: Request) -> bool:
        """Does a statement that targets this request test condition key ``family``?

        How the caller knows whether a costly key (``s3:ExistingObjectTag``)
        is worth looking up for this request.
        """
        return any(family in s.families and s._targets(q) for s in self.statements)

    def to_json(self) -> str:
        return json.dumps(self.doc, separators=(",", ":"))


def decide(policies: Iterable[Policy], q: Request) -> str | None:
    """``"Deny"`` if any applicable statement denies, else ``"Allow"`` if one allows, else None.

    >>> ro = parse({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
    >>> deny = parse({"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/secret/*"}]})
    >>> decide([ro, deny], Request("s3:GetObject", "arn:aws:s3:::b/a", "alice"))
    'Allow'
    >>> decide([ro, deny], Request("s3:GetObject", "arn:aws:s3:::b/secret/a", "alice"))
    'Deny'
    """
    allowed = False
    for p in policies:
        for st in p.statements:
            r = st.applies(q)
            if st.deny and r is not False:
                return DENY
            if r is True and not st.deny:
                allowed = True
    return ALLOW if allowed else None


# a string (its closing quote optional, so an unterminated one cannot make the scan quadratic),
# a run of other characters, or one bracket: every alternative consumes, so the scan is linear
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[^"\[\]{}]+|[\[\]{}]')


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` before any parser recurses into it.

    >>> check_depth('{"a": [[["x"]]]}', 4)
    >>> check_depth('{"a": [[[["x"]]]]}', 4)
    Traceback (most recent call last):
    ...
    s3gw.core.policy.PolicyError: the policy is nested too deeply
    """
    depth = 0
    for m in _TOKENS.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > limit:
                raise PolicyError("the policy is nested too deeply")
        elif c in "]}":
            depth -= 1


def _no_constants(name: str) -> Any:
    raise PolicyError(f"invalid JSON value {name}")


def load_json(doc: Any, limit: int) -> Any:
    """Text or bytes -> JSON value, bounded in size and depth; other values pass."""
    if isinstance(doc, (bytes, bytearray)):
        if len(doc) > limit:
            raise PolicyError("Policy exceeds the maximum allowed document size.")
        try:
            doc = bytes(doc).decode("utf-8")
        except UnicodeDecodeError as e:
            raise PolicyError("the policy is not valid UTF-8") from e
    if isinstance(doc, str):
        if len(doc) > limit:
            raise PolicyError("Policy exceeds the maximum allowed document size.")
        check_depth(doc)
        try:
            return json.loads(doc, parse_constant=_no_constants)
        except ValueError as e:
            if isinstance(e, PolicyError):
                raise
            raise PolicyError(f"the policy is not valid JSON: {e}") from e
    return doc


def parse(doc: Any, *, kind: str = "identity", bucket: str | None = None, strict: bool = True) -> Policy:
    """Validate a policy document (JSON text, bytes, or the decoded value) and compile it.

    ``kind`` is ``"identity"`` or ``"bucket"``; a bucket policy's resources are
    checked to be within ``bucket``. ``strict=False`` skips the checks on
    action names, mixed action types and per-action condition keys: used for
    documents stored by an older s3gw, which were valid by its rules.

    >>> parse({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "b/*"}}).doc["Statement"]
    [{'Effect': 'Allow', 'Action': ['s3:GetObject'], 'Resource': ['arn:aws:s3:::b/*']}]
    >>> parse({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
    ...        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"}]}, kind="bucket", bucket="mine")
    Traceback (most recent call last):
    ...
    s3gw.core.policy.PolicyError: Policy has invalid resource
    """
    assert kind in ("identity", "bucket")
    doc = load_json(doc, MAX_BUCKET_POLICY if kind == "bucket" else MAX_IDENTITY_POLICY)
    if not isinstance(doc, dict):
        raise PolicyError("a policy is a JSON object")
    for k in doc:
        if k not in ("Version", "Id", "Statement", "ID"):
            raise PolicyError(f"unknown field '{k}'")
    version = doc.get("Version", "")
    if kind == "bucket" and not version:
        raise PolicyError("The policy must contain a valid version string")
    if version not in ("", VERSION):
        raise PolicyError(f"invalid version '{version}'")
    pid = doc.get("Id", doc.get("ID"))
    if pid is not None and not isinstance(pid, str):
        raise PolicyError("invalid Id")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise PolicyError("a policy needs at least one Statement")
    if len(statements) > MAX_STATEMENTS:
        raise PolicyError(f"a policy has at most {MAX_STATEMENTS} statements")
    return Policy([Statement(st, kind, strict, bucket) for st in statements], version or VERSION, pid, kind)


#: conditions that pin a statement to known callers or networks, so it does not make a bucket public
#: (AWS's "fixed values" rule for IsPublic, over the keys s3gw sets)
_PINNING = {
    "aws:SourceIp": {"IpAddress"},
    "aws:userid": {"StringEquals", "StringEqualsIgnoreCase"},
    "aws:username": {"StringEquals", "StringEqualsIgnoreCase"},
    "aws:PrincipalArn": {"ArnEquals", "StringEquals"},
}


def is_public(policy: Policy) -> bool:
    """GetBucketPolicyStatus' IsPublic, as AWS defines it.

    Public: some Allow statement is for everyone (``Principal: "*"`` or a
    NotPrincipal) and none of its conditions pins it to given addresses or
    callers (``IpAddress`` on ``aws:SourceIp`` other than a ``/0`` network;
    ``StringEquals`` on ``aws:username``/``aws:userid``; ``ArnEquals`` on
    ``aws:PrincipalArn``).

    >>> pub = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]},
    ...        "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]}]}
    >>> is_public(parse(pub, kind="bucket", bucket="b"))
    True
    >>> pub["Statement"][0]["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    >>> is_public(parse(pub, kind="bucket", bucket="b"))
    False
    """
    for st in policy.statements:
        if st.deny or st.principal is None:
            continue
        if not (st.not_principal or st.principal.anyone):
            continue
        if st.not_principal and st.principal.anyone:
            continue
        pinned = False
        for c in st.conditions:
            ops = _PINNING.get(c.key)
            if ops and c.op in ops and not c.qualifier and not c.if_exists:
                if c.op == "IpAddress" and any(n.prefixlen == 0 for n in c._nets):
                    continue
                pinned = True
        if not pinned:
            return True
    return False


__all__ = [
    "ALLOW",
    "ARN_S3",
    "Context",
    "DENY",
    "MAX_BUCKET_POLICY",
    "Policy",
    "PolicyError",
    "Request",
    "allowed_keys",
    "check_depth",
    "could_prefix",
    "decide",
    "is_public",
    "parse",
    "wildcard_match",
]
