"""Users, policies and who may do what.

* **Principals.** The root user comes from the configuration and may do
  everything. Other users live in the metadata store (``iam_users``); their
  keys sign S3 requests like root's. Lookups are cached for ``ttl`` seconds
  (a change made through this gateway is seen at once, through another within
  ``ttl``), unknown keys too, so garbage keys do not reach the database. The
  worker processes of one gateway (``serve --workers N``) are one gateway:
  each change moves on a shared generation (``cache/shared.py``) that every
  worker's cached entry must still match, so it is seen at once by all.
* **Secrets at rest.** SigV4 verification needs the secret key itself (the
  signing key is an HMAC chain over it), so a one-way hash cannot be stored.
  Each secret is sealed with AES-256-GCM under a key derived (HKDF-SHA256)
  from the root credentials, with the access key as associated data (a sealed
  secret copied onto another user's row does not open). ``key_id`` records
  which root key sealed a row; ``reseal`` moves rows to new root credentials.
* **Policies.** IAM JSON documents, parsed, validated and evaluated by the
  engine in ``core/policy.py`` (Conditions, NotAction and NotResource
  included). MinIO's canned policies are built in (``CANNED``); stored ones
  are validated when created and compiled once when loaded (cached like users).
* **Bucket policies** (``PutBucketPolicy``) live in the metadata store, one
  per bucket, compiled and cached per bucket for ``ttl`` seconds (a change
  through this gateway is seen at once).
* **Who may do what** (:meth:`Iam.authorize`, the one entry point): root may
  do everything; otherwise an explicit Deny in the caller's identity policies
  or in the bucket's policy refuses; else an Allow in either allows (AWS's
  rule for a caller of the bucket owner's account: the union); else refused.
  Anonymous callers have no identity policies: only a bucket policy whose
  statement is for everyone (``"Principal": "*"``) can let them in.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..cache.shared import Generations
from ..meta.base import BucketMissing, GroupMissing, GroupNotEmpty, MetaStore, UserMissing
from ..meta.model import GroupRecord, UserRecord
from . import errors as E
from . import policy as P
from .errors import CoreError
from .policy import wildcard_match

log = logging.getLogger(__name__)

ARN_PREFIX = "arn:aws:s3:::"
ENABLED, DISABLED = "enabled", "disabled"

# MinIO's canned policies (minio/pkg policy/constants.go), by name.
CANNED: dict[str, dict[str, Any]] = {
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


class IamError(CoreError):
    """An IAM request that cannot be done; ``code`` and ``status`` are MinIO's admin error's."""

    status = 400


def _iam_error(name: str, code: str, status: int = 400) -> type[IamError]:
    return type(name, (IamError,), {"code": code, "status": status, "__module__": __name__})


NoSuchUser = _iam_error("NoSuchUser", "XMinioAdminNoSuchUser", 404)
NoSuchPolicy = _iam_error("NoSuchPolicy", "XMinioAdminNoSuchPolicy", 404)
InvalidAccessKey = _iam_error("InvalidAccessKey", "XMinioAdminInvalidAccessKey")
InvalidSecretKey = _iam_error("InvalidSecretKey", "XMinioAdminInvalidSecretKey")
InvalidArgument = _iam_error("InvalidArgument", "XMinioAdminInvalidArgument")
PolicyChangeAlreadyApplied = _iam_error("PolicyChangeAlreadyApplied", "XMinioAdminPolicyChangeAlreadyApplied")
MalformedPolicy = _iam_error("MalformedPolicy", "XMinioMalformedIAMPolicy")
SealedWithOtherKey = _iam_error("SealedWithOtherKey", "XMinioInvalidIAMCredentials")
NoSuchServiceAccount = _iam_error("NoSuchServiceAccount", "XMinioInvalidIAMCredentials", 404)
NoSuchTempAccount = _iam_error("NoSuchTempAccount", "XMinioAdminNoSuchAccessKey", 404)
NoSuchGroup = _iam_error("NoSuchGroup", "XMinioAdminNoSuchGroup", 404)
GroupNotEmptyError = _iam_error("GroupNotEmptyError", "XMinioAdminGroupNotEmpty")
InvalidGroupName = _iam_error("InvalidGroupName", "XMinioInvalidGroupName")
NoAccessKey = _iam_error("NoAccessKey", "XMinioAdminNoAccessKey")
NoSecretKey = _iam_error("NoSecretKey", "XMinioAdminNoSecretKey")
IamActionNotAllowed = _iam_error("IamActionNotAllowed", "XMinioIAMActionNotAllowed", 403)
ServiceAccountNotAllowed = _iam_error("ServiceAccountNotAllowed", "XMinioIAMServiceAccountNotAllowed")
SessionPolicyTooLarge = _iam_error("SessionPolicyTooLarge", "XMinioIAMServiceAccountSessionPolicyTooLarge")
InvalidResourceName = _iam_error("InvalidResourceName", "XMinioInvalidResource")


# --------------------------------------------------------------------------- policies


def _malformed(e: P.PolicyError) -> IamError:
    return MalformedPolicy(str(e))


def compile_policy(doc: Any, *, strict: bool = True) -> P.Policy:
    """An identity policy (JSON text, bytes or value), validated and compiled (core/policy.py)."""
    try:
        return P.parse(doc, kind="identity", strict=strict)
    except P.PolicyError as e:
        raise _malformed(e) from None


def parse_policy(doc: Any) -> dict[str, Any]:
    """Validate an IAM policy document and return it normalised (lists, full ARNs).

    >>> parse_policy({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "b/*"}})["Statement"]
    [{'Effect': 'Allow', 'Action': ['s3:GetObject'], 'Resource': ['arn:aws:s3:::b/*']}]
    """
    return compile_policy(doc).doc


COMPILED_CANNED: dict[str, P.Policy] = {n: P.parse(d) for n, d in CANNED.items()}


def evaluate(policies: list[Any], action: str, resource: str, context: P.Context | None = None) -> bool:
    """Identity policies alone: deny wins; otherwise some Allow must match (``resource`` is a full ARN).

    >>> evaluate([CANNED["readonly"]], "s3:GetObject", "arn:aws:s3:::b/k")
    True
    >>> evaluate([CANNED["readonly"]], "s3:PutObject", "arn:aws:s3:::b/k")
    False
    >>> deny = {"Statement": [{"Effect": "Deny", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::secret/*"]}]}
    >>> evaluate([CANNED["readwrite"], deny], "s3:GetObject", "arn:aws:s3:::secret/k")
    False
    """
    compiled = [p if isinstance(p, P.Policy) else compile_policy(p) for p in policies]
    return P.decide(compiled, P.Request(action, resource, None, context or P.Context())) == P.ALLOW


def bucket_of(resource: str) -> str | None:
    """The bucket a resource ARN is in (None for every bucket: ListBuckets, admin calls).

    >>> bucket_of("arn:aws:s3:::pics/2024/a.jpg"), bucket_of("arn:aws:s3:::pics"), bucket_of("arn:aws:s3:::*")
    ('pics', 'pics', None)
    """
    if not resource.startswith(ARN_PREFIX):
        return None
    bucket = resource[len(ARN_PREFIX) :].split("/", 1)[0]
    return None if not bucket or "*" in bucket or "?" in bucket else bucket


#: what a stored bucket policy that no longer parses is replaced by: nobody but root gets in (fail closed)
_DENY_ALL = P.parse(
    {"Version": P.VERSION, "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]},
    kind="bucket",
)
_DENY_ALL_IDENTITY = P.parse({"Version": P.VERSION, "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})


# --------------------------------------------------------------------------- secrets at rest


class SecretBox:
    """Seals user secret keys under a key derived from the root credentials."""

    VERSION = b"\x01"

    def __init__(self, root_access: str, root_secret: str) -> None:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"s3gw iam secret seal v1", info=root_access.encode())
        self._key = hkdf.derive(root_secret.encode())
        self._aead = AESGCM(self._key)
        self.key_id = hmac.new(self._key, b"s3gw key id", hashlib.sha256).hexdigest()[:16]

    def seal(self, access_key: str, secret: str) -> bytes:
        nonce = os.urandom(12)
        return self.VERSION + nonce + self._aead.encrypt(nonce, secret.encode(), access_key.encode())

    def open(self, access_key: str, blob: bytes) -> str:
        if blob[:1] != self.VERSION or len(blob) < 29:
            raise SealedWithOtherKey("unknown secret format")
        try:
            return self._aead.decrypt(blob[1:13], blob[13:], access_key.encode()).decode()
        except InvalidTag as e:
            raise SealedWithOtherKey("the secret was sealed with other root credentials") from e


# --------------------------------------------------------------------------- session tokens


def check_session_token(p: Principal | None, signed_token: str | None, sent: bool) -> None:
    """The session-token rules of a request once its signature is verified (MinIO's
    checkClaimsFromToken): temporary credentials need their own token, covered by the
    signature (``signed_token``); any other signer, or none, must send no token at all
    (``sent``: one is present, signed or not).

    >>> check_session_token(None, None, False)
    >>> check_session_token(Principal("u", "s"), "t", True)
    Traceback (most recent call last):
    ...
    s3gw.core.errors.InvalidTokenId: The security token included in the request is invalid
    """
    if p is None:
        if sent:
            raise E.AccessDenied("No AWSAccessKey was presented")
        return
    if p.kind == STS:
        if (
            signed_token is None
            or not p.token_hash
            or not hmac.compare_digest(token_digest(signed_token), p.token_hash)
        ):
            raise E.InvalidTokenId("The security token included in the request is invalid")
    elif sent:
        raise E.InvalidTokenId("The security token included in the request is invalid")


# --------------------------------------------------------------------------- the service


ROOT, USER, SVCACCT, STS = "root", "user", "svcacct", "sts"


@dataclass
class Principal:
    """Who signed a request.

    ``kind``: ``root`` (the configuration's credentials: everything), ``user``,
    ``svcacct`` (a service account / access key) or ``sts`` (temporary
    credentials). The last two act for ``parent`` (a user, or root): they can do
    at most what it can, and, with ``session_policy`` (the key's embedded policy,
    the session policy of AssumeRole), only what that allows too. ``enabled`` is
    the credential's own status (its parent's is checked when authorising).
    ``group_policies``: the policies of a user's enabled groups.
    """

    access_key: str
    secret_key: str
    root: bool = False
    enabled: bool = True
    policies: tuple[str, ...] = ()
    kind: str = USER
    parent: Principal | None = None
    session_policy: P.Policy | None = None
    expires: float = 0.0  # seconds since the epoch; 0: never
    token_hash: str = ""  # sts: SHA-256 (hex) of its session token
    group_policies: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # a user's groups (enabled or not)

    @property
    def acting(self) -> Principal:
        """Whose policies apply: the parent of a derived credential, else itself."""
        return self.parent if self.parent is not None else self

    def expired(self, now: float | None = None) -> bool:
        return bool(self.expires) and self.expires <= (time.time() if now is None else now)

    def identity_policy_names(self) -> tuple[str, ...]:
        a = self.acting
        return a.policies + tuple(n for n in a.group_policies if n not in a.policies)


@dataclass
class _Cached:
    value: Any
    until: float
    gen: Any = None  # the shared generation it was read under (worker processes), else None


@dataclass
class UserInfo:
    access_key: str
    status: str
    policies: list[str] = field(default_factory=list)
    created: float = 0.0
    updated: float = 0.0
    groups: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_key": self.access_key,
            "status": self.status,
            "policies": self.policies,
            "created": self.created,
            "updated": self.updated,
            "groups": self.groups,
        }


@dataclass
class CredentialInfo:
    """A service account or temporary credential, as the admin APIs show it (never its secret)."""

    access_key: str
    parent: str
    status: str  # enabled / disabled
    name: str = ""
    description: str = ""
    expires: float = 0.0  # 0: never
    policy: str | None = None  # its own (embedded / session) policy, JSON; None: its parent's
    kind: str = SVCACCT
    created: float = 0.0


@dataclass
class TempCredentials:
    """What AssumeRole answers: the token is shown once and never stored (only its SHA-256)."""

    access_key: str
    secret_key: str
    session_token: str
    expires: float


def check_access_key(access_key: str) -> None:
    """MinIO's rules: 3+ characters, no ``=`` or ``,`` (reserved), no spaces, valid UTF-8."""
    if len(access_key) < 3 or any(c in access_key for c in "=, \t\r\n") or len(access_key) > 128:
        raise InvalidAccessKey("The access key is invalid.")


def check_secret_key(secret: str) -> None:
    if not 8 <= len(secret) <= 128:
        raise InvalidSecretKey("The secret key is invalid.")


#: MinIO's limits (cmd/iam.go maxSVCSessionPolicySize, cmd/sts-handlers.go maxSTSSessionPolicySize,
#: cmd/iam-store.go min/maxServiceAccountExpiry)
MAX_SVCACCT_POLICY = 4096
MAX_STS_POLICY = 2048
SVCACCT_MIN_EXPIRY = 15 * 60
SVCACCT_MAX_EXPIRY = 365 * 86400
_SVCACCT_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9_-]*")
_KEY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def check_svcacct_name(name: str) -> None:
    """madmin's rule (validateSAName): up to 32 ASCII letters, digits, ``_`` and ``-``, from a letter."""
    if name and (len(name) > 32 or not _SVCACCT_NAME.fullmatch(name)):
        raise InvalidArgument(
            "name must contain only ASCII letters, digits, underscores and hyphens and must start with a letter"
        )


def check_group_name(name: str) -> None:
    """MinIO: no leading or trailing spaces, no ``,`` or ``=`` (reserved)."""
    if not name or name != name.strip() or len(name) > 128:
        raise InvalidResourceName("Policy, user or group names are not allowed to begin or end with space characters")
    if any(c in name for c in ",="):
        raise InvalidGroupName("The group name is invalid.")


def generate_credentials() -> tuple[str, str]:
    """MinIO's GenerateCredentials: a 20-character access key of upper-case letters and digits,
    a 40-character secret (30 random bytes, base64, ``/`` as ``+``)."""
    access = "".join(_KEY_ALPHABET[b % len(_KEY_ALPHABET)] for b in os.urandom(20))
    secret = base64.b64encode(os.urandom(30)).decode().replace("/", "+")
    return access, secret


def generate_session_token() -> str:
    """An opaque session token: 48 random bytes, base64url (a bearer secret; only its digest is stored)."""
    return base64.urlsafe_b64encode(os.urandom(48)).decode().rstrip("=")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Iam:
    def __init__(
        self,
        meta: MetaStore,
        root_access: str,
        root_secret: str,
        extra_credentials: dict[str, str] | None = None,
        *,
        ttl: float = 1.0,
        generations: Generations | None = None,
    ) -> None:
        self.meta = meta
        self.root = Principal(root_access, root_secret, root=True, kind=ROOT)
        # extra static credentials of the configuration (tests, service keys): root's powers
        self.static = {k: Principal(k, v, root=True, kind=ROOT) for k, v in (extra_credentials or {}).items()}
        self.box = SecretBox(root_access, root_secret)
        self.ttl = ttl
        self.generations = generations
        self._users: dict[str, _Cached] = {}
        self._policies: dict[str, _Cached] = {}
        self._bucket_policies: dict[str, _Cached] = {}

    # -- the caches ---------------------------------------------------------------
    def _gen(self, ns: str, name: str) -> Any:
        """The shared generation of a cached name, taken before the store is read (None: one process)."""
        return self.generations.token(ns, name) if self.generations is not None else None

    def _changed(self, ns: str, name: str) -> None:
        """A name's stored value changed (after the store's commit): the other workers' entries go too."""
        if self.generations is not None:
            self.generations.bump(ns, [name])

    # -- requests ---------------------------------------------------------------
    async def principal(self, access_key: str) -> Principal | None:
        """The signer behind ``access_key`` (a disabled one too: the caller refuses it), or None
        (unknown, expired, or a derived credential whose parent is gone)."""
        if access_key == self.root.access_key:
            return self.root
        if access_key in self.static:
            return self.static[access_key]
        now = time.monotonic()
        gen = self._gen("iam:user", "*")  # one generation for all: forget() drops every user
        hit = self._users.get(access_key)
        if hit is not None and hit.until > now and hit.gen == gen:
            p = hit.value
            return None if p is not None and p.expired() else p
        rec = await self.meta.get_user(access_key)
        p = await self._load(rec) if rec is not None else None
        if len(self._users) > 10000:
            self._users.clear()
        self._users[access_key] = _Cached(p, now + self.ttl, gen)
        return None if p is not None and p.expired() else p

    async def _load(self, rec: UserRecord) -> Principal | None:
        try:
            secret = self.box.open(rec.access_key, rec.secret_enc)
        except SealedWithOtherKey:
            log.error(
                "credential %s: its secret was sealed with other root credentials; start once with "
                "S3GW_ROOT_USER_OLD/S3GW_ROOT_PASSWORD_OLD to re-seal it",
                rec.access_key,
            )
            return None
        enabled = rec.status == ENABLED
        if rec.kind == USER:
            groups = await self.meta.groups_of(rec.access_key)
            gp: list[str] = []
            for g in groups:
                if g.status == ENABLED:  # a disabled group gives its members nothing (MinIO)
                    gp += [n for n in g.policies if n not in gp]
            return Principal(
                rec.access_key,
                secret,
                enabled=enabled,
                policies=tuple(rec.policies),
                group_policies=tuple(gp),
                groups=tuple(g.name for g in groups),
            )
        parent = await self.principal(rec.parent or "")
        if parent is None or parent.parent is not None:
            return None  # its user is gone: so is it
        session = None
        doc = rec.info.get("policy")
        if doc:
            try:  # stored by this or an older s3gw: valid by the rules of its day
                session = await asyncio.to_thread(P.parse, doc, kind="identity", strict=False)
            except P.PolicyError as e:
                log.error("the policy of %s no longer parses (%s): it may do nothing", rec.access_key, e)
                session = _DENY_ALL_IDENTITY
        return Principal(
            rec.access_key,
            secret,
            enabled=enabled,
            kind=rec.kind,
            parent=parent,
            session_policy=session,
            expires=rec.expires,
            token_hash=str(rec.info.get("token", "")),
        )

    def forget(self, access_key: str | None = None) -> None:
        """Drop cached credentials: a change to one user reaches its keys, its groups' members... so all go."""
        self._users.clear()
        self._changed("iam:user", "*")

    async def policy_documents(self, names: tuple[str, ...] | list[str]) -> list[P.Policy]:
        out = []
        for n in names:
            doc = await self._policy(n)
            if doc is not None:
                out.append(doc)
        return out

    async def _policy(self, name: str) -> P.Policy | None:
        if name in COMPILED_CANNED:
            return COMPILED_CANNED[name]
        now = time.monotonic()
        gen = self._gen("iam:policy", name)
        hit = self._policies.get(name)
        if hit is not None and hit.until > now and hit.gen == gen:
            return hit.value
        text = await self.meta.get_policy(name)
        doc = None
        if text is not None:
            try:  # stored by this or an older s3gw: valid by the rules of its day
                doc = await asyncio.to_thread(P.parse, text, kind="identity", strict=False)
            except P.PolicyError as e:
                log.error("stored policy %s no longer parses (%s): it allows nothing and denies everything", name, e)
                doc = _DENY_ALL_IDENTITY
        self._policies[name] = _Cached(doc, now + self.ttl, gen)
        return doc

    async def _identity(self, p: Principal) -> list[P.Policy] | None:
        """The identity policies ``p`` acts under: its (or its parent's) own and its enabled groups';
        None for root's powers (root, and root's derived credentials)."""
        if p.acting.root:
            return None
        return await self.policy_documents(p.identity_policy_names())

    @staticmethod
    def _usable(p: Principal) -> bool:
        """Enabled, unexpired, and (a derived credential) its user enabled: a disabled user's keys
        are refused when authorised (AccessDenied, as MinIO), their own disabling at sign-in."""
        return p.enabled and not p.expired() and (p.parent is None or p.parent.enabled)

    async def allowed(
        self, p: Principal, action: str, resource: str = ARN_PREFIX + "*", context: P.Context | None = None
    ) -> bool:
        """Do ``p``'s identity policies allow this? (Admin calls: no bucket policy is involved.)
        A derived credential needs its parent's policies and its own (session) policy to allow it."""
        if p.root:
            return True
        if not self._usable(p):
            return False
        q = P.Request(action, resource, p.acting.access_key, context or P.Context())
        identity = await self._identity(p)
        if identity is not None and P.decide(identity, q) != P.ALLOW:
            return False
        return p.session_policy is None or P.decide([p.session_policy], q) == P.ALLOW

    async def authorize(
        self,
        p: Principal | None,
        action: str,
        resource: str,
        context: P.Context,
        existing_tags: Callable[[], Awaitable[dict[str, str] | None]] | None = None,
    ) -> bool:
        """May this caller (None: anonymous) do ``action`` on ``resource`` now? The one S3 entry point.

        Root may do everything. Otherwise the caller's identity policies (its
        own and its enabled groups'; a derived credential's parent's) and the
        bucket policy of the resource's bucket are evaluated together
        (core/policy.py ``decide``): an applicable Deny in either refuses, an
        applicable Allow in either allows, nothing applicable refuses. A
        service account or temporary credential with its own policy needs that
        policy to allow the request as well (the intersection: a Deny in either
        refuses). ``existing_tags`` loads the object's tags; it is awaited only
        when an applicable statement tests ``s3:ExistingObjectTag/...``.
        """
        if p is not None and p.root:
            return True
        if p is not None and not self._usable(p):
            return False
        identity = await self._identity(p) if p is not None else []
        policies = list(identity or [])
        bucket = bucket_of(resource)
        bp = await self.bucket_policy(bucket) if bucket is not None and identity is not None else None
        if bp is not None:
            policies.append(bp)
        session = p.session_policy if p is not None else None
        if identity is not None and not policies:
            return False
        q = P.Request(action, resource, p.acting.access_key if p is not None else None, context)
        every = policies + ([session] if session is not None else [])
        if existing_tags is not None and any(d.references("s3:ExistingObjectTag", q) for d in every):
            tags = await existing_tags()
            values = dict(context.values)
            for k, v in (tags or {}).items():
                values[f"s3:ExistingObjectTag/{k}"] = [v]
            q = P.Request(action, resource, q.principal, P.Context(values, context.unknown))
        if identity is not None and P.decide(policies, q) != P.ALLOW:  # root's keys: root's powers
            return False
        return session is None or P.decide([session], q) == P.ALLOW

    # -- bucket policies ----------------------------------------------------------
    async def bucket_policy(self, bucket: str) -> P.Policy | None:
        """The bucket's policy, compiled; cached for ``ttl`` (absent ones too)."""
        now = time.monotonic()
        gen = self._gen("iam:bucket", bucket)
        hit = self._bucket_policies.get(bucket)
        if hit is not None and hit.until > now and hit.gen == gen:
            return hit.value
        text = await self.meta.get_bucket_policy(bucket)
        doc = None
        if text is not None:
            try:
                doc = await asyncio.to_thread(P.parse, text, kind="bucket", bucket=bucket, strict=False)
            except P.PolicyError as e:
                log.error("the policy of bucket %s no longer parses (%s): only root gets in", bucket, e)
                doc = _DENY_ALL
        if len(self._bucket_policies) > 10000:
            self._bucket_policies.clear()
        self._bucket_policies[bucket] = _Cached(doc, now + self.ttl, gen)
        return doc

    async def bucket_policy_text(self, bucket: str) -> str | None:
        """The stored document (GetBucketPolicy), read from the store, not the cache."""
        return await self.meta.get_bucket_policy(bucket)

    async def put_bucket_policy(self, bucket: str, document: bytes | str) -> P.Policy:
        """Validate (P.PolicyError: the S3 API answers MalformedPolicy) and store a bucket policy."""
        doc = await asyncio.to_thread(P.parse, document, kind="bucket", bucket=bucket)
        try:
            await self.meta.put_bucket_policy(bucket, doc.to_json())
        except BucketMissing:
            raise E.NoSuchBucket() from None
        finally:
            self.forget_bucket(bucket)
        return doc

    async def delete_bucket_policy(self, bucket: str) -> None:
        try:
            await self.meta.delete_bucket_policy(bucket)
        finally:
            self.forget_bucket(bucket)

    def forget_bucket(self, bucket: str) -> None:
        """Drop the cached policy of a bucket (changed, deleted or created through this gateway)."""
        self._bucket_policies.pop(bucket, None)
        self._changed("iam:bucket", bucket)

    async def denied(
        self, p: Principal, action: str, resource: str = ARN_PREFIX + "*", context: P.Context | None = None
    ) -> bool:
        """Does an explicit Deny of the caller's policies match? (MinIO's ``DenyOnly``: what a
        user may do to itself, e.g. change its own secret, unless a policy forbids it.) A
        derived credential's own policy must allow it, not merely not deny it (MinIO)."""
        if p.root:
            return False
        q = P.Request(action, resource, p.acting.access_key, context or P.Context())
        identity = await self._identity(p)
        if identity is not None and P.decide(identity, q) == P.DENY:
            return True
        return p.session_policy is not None and P.decide([p.session_policy], q) != P.ALLOW

    # -- users ------------------------------------------------------------------
    async def _user_record(self, access_key: str) -> UserRecord | None:
        """A stored user (not a service account or temporary credential)."""
        rec = await self.meta.get_user(access_key)
        return rec if rec is not None and rec.kind == USER else None

    async def add_user(
        self, access_key: str, secret: str | None, *, status: str = ENABLED, policies: list[str] | None = None
    ) -> bool:
        """Create a user, or update an existing one's secret/status (MinIO's add-user). True when new."""
        check_access_key(access_key)
        if access_key == self.root.access_key or access_key in self.static:
            raise InvalidArgument("cannot create a user with the root access key")
        if status not in (ENABLED, DISABLED):
            raise InvalidArgument(f"status must be {ENABLED} or {DISABLED}")
        old = await self.meta.get_user(access_key)
        if old is not None and old.kind != USER:
            raise IamActionNotAllowed("Specified IAM action is not allowed")  # a service account's key
        if secret is None or secret == "":
            if old is None:
                raise InvalidSecretKey("The secret key is invalid.")
            secret_enc, key_id = old.secret_enc, old.key_id
        else:
            check_secret_key(secret)
            secret_enc, key_id = self.box.seal(access_key, secret), self.box.key_id
        if policies is not None:
            await self._check_policies(policies)
        now = time.time()
        rec = UserRecord(
            access_key,
            secret_enc,
            key_id,
            status,
            policies if policies is not None else (old.policies if old else []),
            old.created if old else now,
            now,
        )
        new = await self.meta.put_user(rec)
        self.forget(access_key)
        return new

    async def get_user(self, access_key: str) -> UserInfo:
        rec = await self._user_record(access_key)
        if rec is None:
            raise NoSuchUser("The specified user does not exist.")
        groups = [g.name for g in await self.meta.groups_of(access_key)]
        return UserInfo(rec.access_key, rec.status, list(rec.policies), rec.created, rec.updated, groups)

    async def list_users(self) -> list[UserInfo]:
        return [
            UserInfo(r.access_key, r.status, list(r.policies), r.created, r.updated)
            for r in await self.meta.list_users()
        ]

    async def set_status(self, access_key: str, status: str) -> None:
        if status not in (ENABLED, DISABLED):
            raise InvalidArgument(f"status must be {ENABLED} or {DISABLED}")
        if await self._user_record(access_key) is None or not await self.meta.update_user(
            access_key, status=status, updated=time.time()
        ):
            raise NoSuchUser("The specified user does not exist.")
        self.forget(access_key)

    async def remove_user(self, access_key: str) -> None:
        """Remove a user with its service accounts, temporary credentials and group memberships."""
        if await self._user_record(access_key) is None or not await self.meta.delete_user(access_key):
            raise NoSuchUser("The specified user does not exist.")
        self.forget(access_key)

    async def _check_policies(self, names: list[str]) -> None:
        for n in names:
            if not n or "," in n:
                raise InvalidArgument("Policy name may not be empty or contain a comma")
            if await self._policy(n) is None:
                raise NoSuchPolicy(f"The canned policy does not exist: {n}")

    async def set_policies(self, access_key: str, names: list[str]) -> None:
        await self._check_policies(names)
        if await self._user_record(access_key) is None or not await self.meta.update_user(
            access_key, policies=names, updated=time.time()
        ):
            raise NoSuchUser("The specified user does not exist.")
        self.forget(access_key)

    async def attach(self, access_key: str, names: list[str]) -> list[str]:
        """Add policies; the ones newly attached. All already there: PolicyChangeAlreadyApplied."""
        await self._check_policies(names)
        user = await self.get_user(access_key)
        added = [n for n in names if n not in user.policies]
        if not added:
            raise PolicyChangeAlreadyApplied("The specified policy change is already in effect.")
        await self.meta.update_user(access_key, policies=user.policies + added, updated=time.time())
        self.forget(access_key)
        return added

    async def detach(self, access_key: str, names: list[str]) -> list[str]:
        user = await self.get_user(access_key)
        removed = [n for n in names if n in user.policies]
        if not removed:
            raise PolicyChangeAlreadyApplied("The specified policy change is already in effect.")
        await self.meta.update_user(
            access_key, policies=[p for p in user.policies if p not in removed], updated=time.time()
        )
        self.forget(access_key)
        return removed

    # -- service accounts (access keys) ---------------------------------------------
    async def _session_policy(self, doc: Any, limit: int) -> str | None:
        """An embedded / session policy, validated (MinIO's size limit) and normalised; None for none."""
        if doc is None or doc == b"" or doc == "":
            return None
        policy = compile_policy(doc)
        text = policy.to_json()
        if len(text) > limit:
            raise SessionPolicyTooLarge(f"Session policy should not exceed {limit} characters")
        return text

    def _check_expiry(self, expires: float | None) -> float:
        """MinIO: 15 minutes to 365 days ahead; 0 or None for never."""
        if not expires:
            return 0.0
        now = time.time()
        if not now + SVCACCT_MIN_EXPIRY <= expires <= now + SVCACCT_MAX_EXPIRY:
            raise InvalidArgument("invalid service account expiration")
        return float(expires)

    async def add_service_account(
        self,
        parent: str,
        *,
        access_key: str = "",
        secret: str = "",
        policy: Any = None,
        name: str = "",
        description: str = "",
        expires: float | None = None,
    ) -> tuple[str, str, float]:
        """A new service account of ``parent`` (a user, or root's key): (access key, secret, expiry).

        Keys are generated unless both are given (MinIO's lengths: 3-20 and 8-40).
        ``policy``: an embedded policy narrowing the parent's (None: the parent's).
        """
        if bool(access_key) != bool(secret):
            raise (
                NoSecretKey("No secret key was provided.") if access_key else NoAccessKey("No access key was provided.")
            )
        if access_key:
            check_access_key(access_key)
            if len(access_key) > 20:
                raise InvalidAccessKey("The access key is invalid.")
            if not 8 <= len(secret) <= 40:
                raise InvalidSecretKey("The secret key is invalid.")
        else:
            access_key, secret = generate_credentials()
        if access_key == parent or access_key == self.root.access_key or access_key in self.static:
            raise IamActionNotAllowed("Specified IAM action is not allowed")
        check_svcacct_name(name)
        if len(description) > 256:
            raise InvalidArgument("description must be at most 256 bytes long")
        expiry = self._check_expiry(expires)
        info: dict[str, Any] = {k: v for k, v in (("name", name), ("description", description)) if v}
        text = await self._session_policy(policy, MAX_SVCACCT_POLICY)
        if text is not None:
            info["policy"] = text
        now = time.time()
        root_parent = parent == self.root.access_key
        rec = self._child_record(SVCACCT, access_key, secret, parent, expiry, info, now)
        try:
            if not await self.meta.add_credential(rec, stored_parent=not root_parent):
                raise ServiceAccountNotAllowed(
                    "Specified service account action is not allowed: the service account access key already taken"
                )
        except UserMissing:
            raise NoSuchUser(f"Specified target user {parent} does not exist") from None
        self.forget()
        return access_key, secret, expiry

    async def _credential(self, access_key: str, kind: str) -> UserRecord:
        rec = await self.meta.get_user(access_key)
        if rec is None or rec.kind != kind:
            raise (
                NoSuchServiceAccount("The specified service account is not found")
                if kind == SVCACCT
                else NoSuchTempAccount("The specified access key does not exist.")
            )
        return rec

    async def service_account(self, access_key: str) -> CredentialInfo:
        return self._info(await self._credential(access_key, SVCACCT))

    async def temporary_account(self, access_key: str) -> CredentialInfo:
        rec = await self._credential(access_key, STS)
        if rec.expires and rec.expires <= time.time():
            raise NoSuchTempAccount("The specified access key does not exist.")
        return self._info(rec)

    @staticmethod
    def _info(rec: UserRecord) -> CredentialInfo:
        return CredentialInfo(
            rec.access_key,
            rec.parent or "",
            rec.status,
            str(rec.info.get("name", "")),
            str(rec.info.get("description", "")),
            rec.expires,
            rec.info.get("policy"),
            rec.kind,
            rec.created,
        )

    async def combined_policy(self, access_key: str) -> dict[str, Any]:
        """The policy a derived credential of ``access_key`` inherits, as one document (MinIO's
        GetCombinedPolicy): the statements of the user's policies and its enabled groups'."""
        statements: list[Any] = []
        p = await self.principal(access_key)
        if p is not None and not p.root:
            for doc in await self.policy_documents(p.identity_policy_names()):
                statements += doc.doc["Statement"]
        return {"Version": P.VERSION, "Statement": statements}

    async def list_service_accounts(self, parent: str) -> list[CredentialInfo]:
        return [self._info(r) for r in await self.meta.list_credentials(parent, SVCACCT)]

    async def list_temporary_accounts(self, parent: str) -> list[CredentialInfo]:
        now = time.time()
        return [
            self._info(r) for r in await self.meta.list_credentials(parent, STS) if not (r.expires and r.expires <= now)
        ]

    async def update_service_account(
        self,
        access_key: str,
        *,
        secret: str = "",
        status: str = "",
        name: str = "",
        description: str = "",
        expires: float | None = None,
        policy: Any = None,
    ) -> None:
        """MinIO's update-service-account: empty fields are left as they are; ``policy``
        replaces the embedded one, and an empty policy (``{}``, ``null``) removes it."""
        rec = await self._credential(access_key, SVCACCT)
        fields: dict[str, Any] = {"updated": time.time()}
        info = dict(rec.info)
        if secret:
            if not 8 <= len(secret) <= 40:
                raise InvalidSecretKey("The secret key is invalid.")
            fields.update(secret_enc=self.box.seal(access_key, secret), key_id=self.box.key_id)
        if status:
            st = {"on": ENABLED, "off": DISABLED, ENABLED: ENABLED, DISABLED: DISABLED}.get(status)
            if st is None:
                raise InvalidArgument("unknown account status value")
            fields["status"] = st
        if name:
            check_svcacct_name(name)
            info["name"] = name
        if description:
            if len(description) > 256:
                raise InvalidArgument("description must be at most 256 bytes long")
            info["description"] = description
        if expires is not None:
            fields["expires"] = self._check_expiry(expires)
        if policy is not None:
            doc = json.loads(policy) if isinstance(policy, (str, bytes)) and policy.strip() else policy
            if doc in (None, {}, "", b"") or (
                isinstance(doc, dict) and not doc.get("Statement") and not doc.get("Version")
            ):
                info.pop("policy", None)  # no policy: the parent's
            else:
                info["policy"] = await self._session_policy(doc, MAX_SVCACCT_POLICY)
        fields["info"] = info
        await self.meta.update_user(access_key, **fields)
        self.forget()

    async def remove_service_account(self, access_key: str) -> None:
        await self._credential(access_key, SVCACCT)
        await self.meta.delete_user(access_key)
        self.forget()

    def _child_record(
        self, kind: str, access_key: str, secret: str, parent: str, expires: float, info: dict[str, Any], now: float
    ) -> UserRecord:
        """A new, enabled service account or temporary credential (``kind``) acting for ``parent``:
        its secret sealed, no policies of its own (a session policy, if any, is in ``info``)."""
        return UserRecord(
            access_key,
            self.box.seal(access_key, secret),
            self.box.key_id,
            ENABLED,
            [],
            now,
            now,
            kind=kind,
            parent=parent,
            expires=expires,
            info=info,
        )

    # -- temporary credentials (STS AssumeRole) ----------------------------------------
    async def assume_role(self, p: Principal, duration: int, policy: Any = None) -> TempCredentials:
        """Temporary credentials acting for user ``p`` for ``duration`` seconds, narrowed by a
        session policy when given. The secret is sealed and only the token's SHA-256 is kept."""
        if p.parent is not None or not self._usable(p):
            raise IamActionNotAllowed("Specified IAM action is not allowed")
        text = await self._session_policy(policy, MAX_STS_POLICY)
        access_key, secret = generate_credentials()
        token = generate_session_token()
        now = time.time()
        info: dict[str, Any] = {"token": token_digest(token)}
        if text is not None:
            info["policy"] = text
        rec = self._child_record(STS, access_key, secret, p.access_key, now + duration, info, now)
        await self.meta.purge_expired(STS, now)  # expired ones go when new ones come (index on expires)
        try:
            if not await self.meta.add_credential(rec, stored_parent=not p.root):
                raise IamActionNotAllowed("Specified IAM action is not allowed")
        except UserMissing:
            raise NoSuchUser("The specified user does not exist.") from None
        return TempCredentials(access_key, secret, token, rec.expires)

    # -- groups ---------------------------------------------------------------------
    async def add_to_group(self, group: str, members: list[str]) -> None:
        """Add users to a group (created when new). Only users: not root, not derived keys."""
        check_group_name(group)
        for m in members:
            if m == self.root.access_key or m in self.static:
                raise IamActionNotAllowed("Specified IAM action is not allowed")
            rec = await self.meta.get_user(m)
            if rec is not None and rec.kind != USER:
                raise IamActionNotAllowed("Specified IAM action is not allowed")
        try:
            await self.meta.add_members(group, members, time.time())
        except UserMissing:
            raise NoSuchUser("The specified user does not exist.") from None
        self.forget()

    async def remove_from_group(self, group: str, members: list[str]) -> None:
        """Remove users from a group; with none, remove the group (it must be empty)."""
        try:
            await self.meta.remove_members(group, members, time.time())
        except GroupMissing:
            raise NoSuchGroup("The specified group does not exist.") from None
        except GroupNotEmpty:
            raise GroupNotEmptyError("The specified group is not empty - cannot remove it.") from None
        except UserMissing:
            raise NoSuchUser("The specified user does not exist.") from None
        self.forget()

    async def group(self, name: str) -> GroupRecord:
        g = await self.meta.get_group(name)
        if g is None:
            raise NoSuchGroup("The specified group does not exist.")
        return g

    async def list_groups(self) -> list[str]:
        return await self.meta.list_groups()

    async def set_group_status(self, name: str, status: str) -> None:
        if status not in (ENABLED, DISABLED):
            raise InvalidArgument("Invalid arguments specified.")
        if not await self.meta.update_group(name, time.time(), status=status):
            raise NoSuchGroup("The specified group does not exist.")
        self.forget()

    async def set_group_policies(self, name: str, names: list[str]) -> None:
        await self._check_policies(names)
        if not await self.meta.update_group(name, time.time(), policies=names):
            raise NoSuchGroup("The specified group does not exist.")
        self.forget()

    async def attach_group(self, name: str, names: list[str]) -> list[str]:
        await self._check_policies(names)
        g = await self.group(name)
        added = [n for n in names if n not in g.policies]
        if not added:
            raise PolicyChangeAlreadyApplied("The specified policy change is already in effect.")
        await self.meta.update_group(name, time.time(), policies=g.policies + added)
        self.forget()
        return added

    async def detach_group(self, name: str, names: list[str]) -> list[str]:
        g = await self.group(name)
        removed = [n for n in names if n in g.policies]
        if not removed:
            raise PolicyChangeAlreadyApplied("The specified policy change is already in effect.")
        await self.meta.update_group(name, time.time(), policies=[p for p in g.policies if p not in removed])
        self.forget()
        return removed

    async def policy_entities(self) -> tuple[list[UserInfo], list[GroupRecord]]:
        """Every user (with its groups) and every group (with its policies): who holds which policy."""
        users = []
        for u in await self.list_users():
            u.groups = [g.name for g in await self.meta.groups_of(u.access_key)]
            users.append(u)
        groups = [g for g in [await self.meta.get_group(n) for n in await self.meta.list_groups()] if g is not None]
        return users, groups

    # -- policies -----------------------------------------------------------------
    async def list_policies(self) -> dict[str, dict[str, Any]]:
        stored = {n: json.loads(t) for n, t in (await self.meta.list_policies()).items()}
        return {**CANNED, **stored}

    async def get_policy(self, name: str) -> dict[str, Any]:
        if name in CANNED:
            return CANNED[name]
        text = await self.meta.get_policy(name)
        if text is None:
            raise NoSuchPolicy("The canned policy does not exist.")
        return json.loads(text)

    async def put_policy(self, name: str, document: Any) -> None:
        if not name or "," in name or len(name) > 128:
            raise InvalidArgument("Policy name may not be empty or contain a comma")
        if name in CANNED:
            raise InvalidArgument(f"{name} is a built-in policy")
        try:
            doc = await asyncio.to_thread(P.parse, document, kind="identity")
        except P.PolicyError as e:
            raise _malformed(e) from None
        await self.meta.put_policy(name, doc.to_json())
        self._forget_policy(name)

    async def remove_policy(self, name: str) -> None:
        if name in CANNED:
            raise InvalidArgument(f"{name} is a built-in policy")
        if not await self.meta.delete_policy(name):
            raise NoSuchPolicy("The canned policy does not exist.")
        self._forget_policy(name)

    def _forget_policy(self, name: str) -> None:
        self._policies.pop(name, None)
        self._changed("iam:policy", name)

    # -- root credential rotation ---------------------------------------------------
    async def reseal(self, old_access: str, old_secret: str) -> int:
        """Re-seal every secret sealed under the old root credentials; returns how many."""
        old = SecretBox(old_access, old_secret)
        moved = 0
        for rec in [r for kind in (USER, SVCACCT, STS) for r in await self.meta.list_users(kind)]:
            if rec.key_id != old.key_id:
                continue
            secret = old.open(rec.access_key, rec.secret_enc)
            await self.meta.update_user(
                rec.access_key, secret_enc=self.box.seal(rec.access_key, secret), key_id=self.box.key_id
            )
            moved += 1
        self._users.clear()
        return moved

    async def unreadable_users(self) -> list[str]:
        """Users whose secret this gateway's root credentials cannot open."""
        return [
            r.access_key
            for kind in (USER, SVCACCT, STS)
            for r in await self.meta.list_users(kind)
            if r.key_id != self.box.key_id
        ]


__all__ = [
    "check_session_token",
    "CANNED",
    "ENABLED",
    "DISABLED",
    "ROOT",
    "STS",
    "SVCACCT",
    "USER",
    "CredentialInfo",
    "Iam",
    "IamError",
    "Principal",
    "SecretBox",
    "TempCredentials",
    "UserInfo",
    "bucket_of",
    "compile_policy",
    "evaluate",
    "parse_policy",
    "wildcard_match",
]
