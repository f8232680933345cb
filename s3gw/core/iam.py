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
import hashlib
import hmac
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..cache.shared import Generations
from ..meta.base import BucketMissing, MetaStore
from ..meta.model import UserRecord
from . import errors as E
from . import policy as P
from .errors import CoreError
from .policy import wildcard_match

log = logging.getLogger("s3gw.iam")

ARN_PREFIX = "arn:aws:s3:::"
ENABLED, DISABLED = "enabled", "disabled"

# MinIO's canned policies (minio/pkg policy/constants.go), by name.
CANNED: dict[str, dict[str, Any]] = {
    "readwrite": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]},
    "readonly": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetObject"], "Resource": ["arn:aws:s3:::*"]}]},
    "writeonly": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::*"]}]},
    "diagnostics": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["admin:Profiling", "admin:ServerTrace", "admin:ConsoleLog",
                                       "admin:ServerInfo", "admin:TopLocksInfo", "admin:OBDInfo",
                                       "admin:BandwidthMonitor", "admin:Prometheus"],
         "Resource": ["arn:aws:s3:::*"]}]},
    "consoleAdmin": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["admin:*"]},
        {"Effect": "Allow", "Action": ["kms:*"]},
        {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]},
}


class IamError(CoreError):
    """An IAM request that cannot be done; ``code`` is MinIO's admin error code."""


def _iam_error(name: str, code: str) -> type[IamError]:
    return type(name, (IamError,), {"code": code, "__module__": __name__})


NoSuchUser = _iam_error("NoSuchUser", "XMinioAdminNoSuchUser")
NoSuchPolicy = _iam_error("NoSuchPolicy", "XMinioAdminNoSuchPolicy")
InvalidAccessKey = _iam_error("InvalidAccessKey", "XMinioAdminInvalidAccessKey")
InvalidSecretKey = _iam_error("InvalidSecretKey", "XMinioAdminInvalidSecretKey")
InvalidArgument = _iam_error("InvalidArgument", "XMinioAdminInvalidArgument")
PolicyChangeAlreadyApplied = _iam_error("PolicyChangeAlreadyApplied", "XMinioAdminPolicyChangeAlreadyApplied")
MalformedPolicy = _iam_error("MalformedPolicy", "XMinioMalformedIAMPolicy")
SealedWithOtherKey = _iam_error("SealedWithOtherKey", "XMinioInvalidIAMCredentials")


# --------------------------------------------------------------------------- policies


def _malformed(e: P.PolicyError) -> "IamError":
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
    bucket = resource[len(ARN_PREFIX):].split("/", 1)[0]
    return None if not bucket or "*" in bucket or "?" in bucket else bucket


#: what a stored bucket policy that no longer parses is replaced by: nobody but root gets in (fail closed)
_DENY_ALL = P.parse({"Version": P.VERSION, "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}, kind="bucket")
_DENY_ALL_IDENTITY = P.parse({"Version": P.VERSION, "Statement": [
    {"Effect": "Deny", "Action": "*", "Resource": "*"}]})


# --------------------------------------------------------------------------- secrets at rest


class SecretBox:
    """Seals user secret keys under a key derived from the root credentials."""

    VERSION = b"\x01"

    def __init__(self, root_access: str, root_secret: str) -> None:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"s3gw iam secret seal v1",
                    info=root_access.encode())
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


# --------------------------------------------------------------------------- the service


@dataclass
class Principal:
    """Who signed a request."""

    access_key: str
    secret_key: str
    root: bool = False
    enabled: bool = True
    policies: tuple[str, ...] = ()


@dataclass
class _Cached:
    value: Any
    until: float
    gen: Any = None   # the shared generation it was read under (worker processes), else None


@dataclass
class UserInfo:
    access_key: str
    status: str
    policies: list[str] = field(default_factory=list)
    created: float = 0.0
    updated: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"access_key": self.access_key, "status": self.status, "policies": self.policies,
                "created": self.created, "updated": self.updated}


def check_access_key(access_key: str) -> None:
    """MinIO's rules: 3+ characters, no ``=`` or ``,`` (reserved), no spaces, valid UTF-8."""
    if len(access_key) < 3 or any(c in access_key for c in "=, \t\r\n") or len(access_key) > 128:
        raise InvalidAccessKey("The access key is invalid.")


def check_secret_key(secret: str) -> None:
    if not 8 <= len(secret) <= 128:
        raise InvalidSecretKey("The secret key is invalid.")


class Iam:
    def __init__(self, meta: MetaStore, root_access: str, root_secret: str,
                 extra_credentials: dict[str, str] | None = None, *, ttl: float = 1.0,
                 generations: Generations | None = None) -> None:
        self.meta = meta
        self.root = Principal(root_access, root_secret, root=True)
        # extra static credentials of the configuration (tests, service keys): root's powers
        self.static = {k: Principal(k, v, root=True) for k, v in (extra_credentials or {}).items()}
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
        """The signer behind ``access_key`` (a disabled user too: the caller refuses it), or None."""
        if access_key == self.root.access_key:
            return self.root
        if access_key in self.static:
            return self.static[access_key]
        now = time.monotonic()
        gen = self._gen("iam:user", access_key)
        hit = self._users.get(access_key)
        if hit is not None and hit.until > now and hit.gen == gen:
            return hit.value
        rec = await self.meta.get_user(access_key)
        p = None
        if rec is not None:
            try:
                secret = self.box.open(rec.access_key, rec.secret_enc)
            except SealedWithOtherKey:
                log.error("user %s: its secret was sealed with other root credentials; start once with "
                          "S3GW_ROOT_USER_OLD/S3GW_ROOT_PASSWORD_OLD to re-seal it", access_key)
                secret = None
            if secret is not None:
                p = Principal(rec.access_key, secret, enabled=rec.status == ENABLED, policies=tuple(rec.policies))
        if len(self._users) > 10000:
            self._users.clear()
        self._users[access_key] = _Cached(p, now + self.ttl, gen)
        return p

    def forget(self, access_key: str) -> None:
        self._users.pop(access_key, None)
        self._changed("iam:user", access_key)

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
            try:   # stored by this or an older s3gw: valid by the rules of its day
                doc = await asyncio.to_thread(P.parse, text, kind="identity", strict=False)
            except P.PolicyError as e:
                log.error("stored policy %s no longer parses (%s): it allows nothing and denies everything", name, e)
                doc = _DENY_ALL_IDENTITY
        self._policies[name] = _Cached(doc, now + self.ttl, gen)
        return doc

    async def allowed(self, p: Principal, action: str, resource: str = ARN_PREFIX + "*",
                      context: P.Context | None = None) -> bool:
        """Do ``p``'s identity policies allow this? (Admin calls: no bucket policy is involved.)"""
        if p.root:
            return True
        if not p.enabled:
            return False
        q = P.Request(action, resource, p.access_key, context or P.Context())
        return P.decide(await self.policy_documents(p.policies), q) == P.ALLOW

    async def authorize(self, p: Principal | None, action: str, resource: str, context: P.Context,
                        existing_tags: Callable[[], Awaitable[dict[str, str] | None]] | None = None) -> bool:
        """May this caller (None: anonymous) do ``action`` on ``resource`` now? The one S3 entry point.

        Root may do everything. Otherwise the caller's identity policies and
        the bucket policy of the resource's bucket are evaluated together
        (core/policy.py ``decide``): an applicable Deny in either refuses, an
        applicable Allow in either allows, nothing applicable refuses.
        ``existing_tags`` loads the object's tags; it is awaited only when an
        applicable statement tests ``s3:ExistingObjectTag/...``.
        """
        if p is not None and p.root:
            return True
        if p is not None and not p.enabled:
            return False
        policies = await self.policy_documents(p.policies) if p is not None else []
        bucket = bucket_of(resource)
        if bucket is not None:
            bp = await self.bucket_policy(bucket)
            if bp is not None:
                policies.append(bp)
        if not policies:
            return False
        q = P.Request(action, resource, p.access_key if p is not None else None, context)
        if existing_tags is not None and any(d.references("s3:ExistingObjectTag", q) for d in policies):
            tags = await existing_tags()
            values = dict(context.values)
            for k, v in (tags or {}).items():
                values[f"s3:ExistingObjectTag/{k}"] = [v]
            q = P.Request(action, resource, q.principal, P.Context(values, context.unknown))
        return P.decide(policies, q) == P.ALLOW

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

    async def denied(self, p: Principal, action: str, resource: str = ARN_PREFIX + "*",
                     context: P.Context | None = None) -> bool:
        """Does an explicit Deny of the caller's policies match? (MinIO's ``DenyOnly``: what a
        user may do to itself, e.g. change its own secret, unless a policy forbids it.)"""
        if p.root:
            return False
        q = P.Request(action, resource, p.access_key, context or P.Context())
        return P.decide(await self.policy_documents(p.policies), q) == P.DENY

    # -- users ------------------------------------------------------------------
    async def add_user(self, access_key: str, secret: str | None, *, status: str = ENABLED,
                       policies: list[str] | None = None) -> bool:
        """Create a user, or update an existing one's secret/status (MinIO's add-user). True when new."""
        check_access_key(access_key)
        if access_key == self.root.access_key or access_key in self.static:
            raise InvalidArgument("cannot create a user with the root access key")
        if status not in (ENABLED, DISABLED):
            raise InvalidArgument(f"status must be {ENABLED} or {DISABLED}")
        old = await self.meta.get_user(access_key)
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
        rec = UserRecord(access_key, secret_enc, key_id, status,
                         policies if policies is not None else (old.policies if old else []),
                         old.created if old else now, now)
        new = await self.meta.put_user(rec)
        self.forget(access_key)
        return new

    async def get_user(self, access_key: str) -> UserInfo:
        rec = await self.meta.get_user(access_key)
        if rec is None:
            raise NoSuchUser("The specified user does not exist.")
        return UserInfo(rec.access_key, rec.status, list(rec.policies), rec.created, rec.updated)

    async def list_users(self) -> list[UserInfo]:
        return [UserInfo(r.access_key, r.status, list(r.policies), r.created, r.updated)
                for r in await self.meta.list_users()]

    async def set_status(self, access_key: str, status: str) -> None:
        if status not in (ENABLED, DISABLED):
            raise InvalidArgument(f"status must be {ENABLED} or {DISABLED}")
        if not await self.meta.update_user(access_key, status=status, updated=time.time()):
            raise NoSuchUser("The specified user does not exist.")
        self.forget(access_key)

    async def remove_user(self, access_key: str) -> None:
        if not await self.meta.delete_user(access_key):
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
        if not await self.meta.update_user(access_key, policies=names, updated=time.time()):
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
        await self.meta.update_user(access_key, policies=[p for p in user.policies if p not in removed],
                                    updated=time.time())
        self.forget(access_key)
        return removed

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
        for rec in await self.meta.list_users():
            if rec.key_id != old.key_id:
                continue
            secret = old.open(rec.access_key, rec.secret_enc)
            await self.meta.update_user(rec.access_key, secret_enc=self.box.seal(rec.access_key, secret),
                                        key_id=self.box.key_id)
            moved += 1
        self._users.clear()
        return moved

    async def unreadable_users(self) -> list[str]:
        """Users whose secret this gateway's root credentials cannot open."""
        return [r.access_key for r in await self.meta.list_users() if r.key_id != self.box.key_id]


__all__ = ["CANNED", "ENABLED", "DISABLED", "Iam", "IamError", "Principal", "SecretBox", "UserInfo",
           "bucket_of", "compile_policy", "evaluate", "parse_policy", "wildcard_match"]
