"""Users, policies and who may do what.

* **Principals.** The root user comes from the configuration and may do
  everything. Other users live in the metadata store (``iam_users``); their
  keys sign S3 requests like root's. Lookups are cached for ``ttl`` seconds
  (a change made through this gateway is seen at once, through another within
  ``ttl``), unknown keys too, so garbage keys do not reach the database.
* **Secrets at rest.** SigV4 verification needs the secret key itself (the
  signing key is an HMAC chain over it), so a one-way hash cannot be stored.
  Each secret is sealed with AES-256-GCM under a key derived (HKDF-SHA256)
  from the root credentials, with the access key as associated data (a sealed
  secret copied onto another user's row does not open). ``key_id`` records
  which root key sealed a row; ``reseal`` moves rows to new root credentials.
* **Policies.** IAM JSON documents, evaluated as AWS does for identity
  policies: an explicit Deny wins, otherwise an Allow is needed. MinIO's
  canned policies are built in (``CANNED``); stored ones are validated when
  created (``Condition``, ``NotAction`` and ``NotResource`` are refused rather
  than silently ignored). Actions and resources match with ``*`` and ``?``;
  actions case-insensitively, resources exactly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..meta.base import MetaStore
from ..meta.model import UserRecord
from .errors import CoreError

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


@lru_cache(maxsize=4096)
def _pattern(p: str, fold: bool) -> re.Pattern[str]:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in p)
    return re.compile(rx, re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, fold: bool = False) -> bool:
    """IAM matching: ``*`` any run of characters (``/`` included), ``?`` one.

    >>> wildcard_match("s3:Get*", "s3:getobject", fold=True), wildcard_match("arn:aws:s3:::b/a?c", "arn:aws:s3:::b/abc")
    (True, True)
    >>> wildcard_match("arn:aws:s3:::b/*", "arn:aws:s3:::b2/x")
    False
    """
    return _pattern(pattern, fold).fullmatch(value) is not None


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return v
    raise MalformedPolicy("Action and Resource must be strings or lists of strings")


def _resource(r: str) -> str:
    """MinIO accepts "bucket/key" as shorthand for the ARN; "*" means every resource."""
    return r if r.startswith(ARN_PREFIX) or r == "*" else ARN_PREFIX + r


def parse_policy(doc: Any) -> dict[str, Any]:
    """Validate an IAM policy document and return it normalised (lists, full ARNs).

    >>> parse_policy({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "b/*"}})["Statement"]
    [{'Effect': 'Allow', 'Action': ['s3:GetObject'], 'Resource': ['arn:aws:s3:::b/*']}]
    """
    if isinstance(doc, (str, bytes)):
        try:
            doc = json.loads(doc)
        except (ValueError, RecursionError) as e:   # RecursionError: nested past the stack
            raise MalformedPolicy(f"policy is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise MalformedPolicy("a policy is a JSON object")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise MalformedPolicy("a policy needs at least one Statement")
    out = []
    for st in statements:
        if not isinstance(st, dict):
            raise MalformedPolicy("a Statement is a JSON object")
        unsupported = {"Condition", "NotAction", "NotResource", "NotPrincipal"} & set(st)
        if unsupported:
            raise MalformedPolicy(f"{', '.join(sorted(unsupported))} is not supported by s3gw")
        effect = st.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise MalformedPolicy("Effect must be Allow or Deny")
        actions = _as_list(st.get("Action"))
        if not actions:
            raise MalformedPolicy("a Statement needs an Action")
        for a in actions:
            if a != "*" and ":" not in a:
                raise MalformedPolicy(f"invalid action {a!r}")
        norm: dict[str, Any] = {"Effect": effect, "Action": actions}
        if "Sid" in st:
            norm["Sid"] = st["Sid"]
        resources = [_resource(r) for r in _as_list(st.get("Resource"))]
        if resources:
            norm["Resource"] = resources
        elif any(not a.lower().startswith(("admin:", "kms:")) for a in actions):
            raise MalformedPolicy("a Statement with s3 actions needs a Resource")
        out.append(norm)
    return {"Version": doc.get("Version", "2012-10-17"), "Statement": out}


def _statement_matches(st: dict[str, Any], action: str, resource: str) -> bool:
    if not any(wildcard_match(a, action, fold=True) for a in st["Action"]):
        return False
    if action.lower().startswith(("admin:", "kms:")):
        return True      # admin and KMS actions are not about a resource (MinIO's consoleAdmin has none)
    return any(r == "*" or wildcard_match(r, resource) for r in st.get("Resource", []))


def evaluate(policies: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Deny wins; otherwise some Allow must match (``resource`` is a full ARN).

    >>> evaluate([CANNED["readonly"]], "s3:GetObject", "arn:aws:s3:::b/k")
    True
    >>> evaluate([CANNED["readonly"]], "s3:PutObject", "arn:aws:s3:::b/k")
    False
    >>> deny = {"Statement": [{"Effect": "Deny", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::secret/*"]}]}
    >>> evaluate([CANNED["readwrite"], deny], "s3:GetObject", "arn:aws:s3:::secret/k")
    False
    """
    allowed = False
    for doc in policies:
        for st in doc["Statement"]:
            if _statement_matches(st, action, resource):
                if st["Effect"] == "Deny":
                    return False
                allowed = True
    return allowed


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
                 extra_credentials: dict[str, str] | None = None, *, ttl: float = 1.0) -> None:
        self.meta = meta
        self.root = Principal(root_access, root_secret, root=True)
        # extra static credentials of the configuration (tests, service keys): root's powers
        self.static = {k: Principal(k, v, root=True) for k, v in (extra_credentials or {}).items()}
        self.box = SecretBox(root_access, root_secret)
        self.ttl = ttl
        self._users: dict[str, _Cached] = {}
        self._policies: dict[str, _Cached] = {}

    # -- requests ---------------------------------------------------------------
    async def principal(self, access_key: str) -> Principal | None:
        """The signer behind ``access_key`` (a disabled user too: the caller refuses it), or None."""
        if access_key == self.root.access_key:
            return self.root
        if access_key in self.static:
            return self.static[access_key]
        now = time.monotonic()
        hit = self._users.get(access_key)
        if hit is not None and hit.until > now:
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
        self._users[access_key] = _Cached(p, now + self.ttl)
        return p

    def forget(self, access_key: str) -> None:
        self._users.pop(access_key, None)

    async def policy_documents(self, names: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
        out = []
        for n in names:
            doc = await self._policy(n)
            if doc is not None:
                out.append(doc)
        return out

    async def _policy(self, name: str) -> dict[str, Any] | None:
        if name in CANNED:
            return CANNED[name]
        now = time.monotonic()
        hit = self._policies.get(name)
        if hit is not None and hit.until > now:
            return hit.value
        text = await self.meta.get_policy(name)
        doc = parse_policy(text) if text is not None else None
        self._policies[name] = _Cached(doc, now + self.ttl)
        return doc

    async def allowed(self, p: Principal, action: str, resource: str = ARN_PREFIX + "*") -> bool:
        if p.root:
            return True
        if not p.enabled:
            return False
        return evaluate(await self.policy_documents(p.policies), action, resource)

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
        stored = {n: parse_policy(t) for n, t in (await self.meta.list_policies()).items()}
        return {**CANNED, **stored}

    async def get_policy(self, name: str) -> dict[str, Any]:
        doc = await self._policy(name)
        if doc is None:
            raise NoSuchPolicy("The canned policy does not exist.")
        return doc

    async def put_policy(self, name: str, document: Any) -> None:
        if not name or "," in name or len(name) > 128:
            raise InvalidArgument("Policy name may not be empty or contain a comma")
        if name in CANNED:
            raise InvalidArgument(f"{name} is a built-in policy")
        doc = parse_policy(document)
        await self.meta.put_policy(name, json.dumps(doc))
        self._policies.pop(name, None)

    async def remove_policy(self, name: str) -> None:
        if name in CANNED:
            raise InvalidArgument(f"{name} is a built-in policy")
        if not await self.meta.delete_policy(name):
            raise NoSuchPolicy("The canned policy does not exist.")
        self._policies.pop(name, None)

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
           "evaluate", "parse_policy", "wildcard_match"]
