"""A request's condition context: the values policy Conditions are tested against.

Built once per request by :func:`request_context`, from what the request
itself says (no I/O): the caller, the connection, the query and the headers.
The keys are those of core/policy.py (MinIO's names):

==========================================  ==================================================
key                                         value
==========================================  ==================================================
``aws:SourceIp``                            the peer address; behind a proxy listed in
                                            ``server.trusted_proxies``, the right-most
                                            X-Forwarded-For address that is not a trusted proxy
``aws:SecureTransport``                     ``true`` when the request came over TLS
``aws:CurrentTime`` / ``aws:EpochTime``     now (RFC 3339 UTC / seconds)
``aws:UserAgent`` / ``aws:Referer``         the headers, when sent
``aws:username`` / ``aws:userid``           the signer's access key (absent when anonymous)
``aws:PrincipalArn``                        ``arn:aws:iam::000000000000:user/KEY`` (root: ``...:root``)
``aws:principaltype``                       ``Anonymous``, ``User`` or ``Account`` (root)
``s3:signatureversion`` / ``s3:authType``   ``AWS4-HMAC-SHA256``/``AWS``; ``REST-HEADER``/``REST-QUERY-STRING``
``s3:prefix`` ``s3:delimiter`` ``s3:max-keys``  the listing's query parameters, when sent
``s3:versionid``                            ``versionId`` of the query, else of the copy source
``s3:x-amz-copy-source``                    ``bucket/key`` of the header, percent-decoded
``s3:x-amz-acl``, ``s3:x-amz-*``            the header of that name (SSE, metadata directive,
                                            storage class, content SHA-256)
``s3:object-lock-*``                        the x-amz-object-lock-* headers
``s3:RequestObjectTag/K``,                  the x-amz-tagging header
``s3:RequestObjectTagKeys``
==========================================  ==================================================

``s3:ExistingObjectTag/K`` (the tags the object has) is not here: it costs a
metadata read, so core/iam.py ``Iam.authorize`` asks for it only when a
statement that applies to the request tests it. Keys whose values are in a
body not read yet (the tag set of PutObjectTagging, the retention of
PutObjectRetention) are marked *unknown*: a Deny testing them applies, an
Allow does not.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping, Sequence

from aiohttp import web

from ..auth import AuthResult
from ..core import tagging
from ..core.errors import CoreError
from ..core.iam import Principal
from ..core.policy import Context
from .authz import copy_source
from .router import Operation

#: the account id in the ARNs s3gw shows for its users (it has one account)
ACCOUNT_ID = "000000000000"
_LISTINGS = {"ListObjects", "ListObjectsV2", "ListObjectVersions"}
_LIST_PARAMS = {"prefix": "s3:prefix", "delimiter": "s3:delimiter", "max-keys": "s3:max-keys"}
_HEADER_KEYS = {
    "x-amz-acl": "s3:x-amz-acl",
    "x-amz-server-side-encryption": "s3:x-amz-server-side-encryption",
    "x-amz-server-side-encryption-customer-algorithm": "s3:x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-aws-kms-key-id": "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-metadata-directive": "s3:x-amz-metadata-directive",
    "x-amz-storage-class": "s3:x-amz-storage-class",
    "x-amz-content-sha256": "s3:x-amz-content-sha256",
    "x-amz-object-lock-mode": "s3:object-lock-mode",
    "x-amz-object-lock-retain-until-date": "s3:object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold": "s3:object-lock-legal-hold",
}
#: keys whose values are in the request body, which is read after authorisation
_IN_BODY = {
    "PutObjectTagging": frozenset({"s3:RequestObjectTag", "s3:RequestObjectTagKeys"}),
    "PutBucketTagging": frozenset({"s3:RequestObjectTag", "s3:RequestObjectTagKeys"}),
    "PutObjectRetention": frozenset({"s3:object-lock-mode", "s3:object-lock-retain-until-date"}),
    "PutObjectLegalHold": frozenset({"s3:object-lock-legal-hold"}),
}


def _plain_ip(addr: str) -> str:
    """An address as policies compare it (an IPv4-mapped IPv6 address as IPv4).

    >>> _plain_ip("::ffff:192.0.2.7"), _plain_ip("2001:db8::1"), _plain_ip("not an ip")
    ('192.0.2.7', '2001:db8::1', 'not an ip')
    """
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        return addr
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def source_ip(
    peer: str, forwarded_for: str | None, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str:
    """The client address ``aws:SourceIp`` holds.

    X-Forwarded-For is believed only when the peer is a trusted proxy, and
    then only up to the first address (from the right) that is not one: a
    client cannot put another address in front of its own.

    >>> nets = [ipaddress.ip_network("10.0.0.0/8")]
    >>> source_ip("192.0.2.1", "203.0.113.9", nets)        # not from a trusted proxy: the header is ignored
    '192.0.2.1'
    >>> source_ip("10.0.0.2", "198.51.100.1, 203.0.113.9, 10.0.0.3", nets)
    '203.0.113.9'
    """
    ip = _plain_ip(peer)
    if not trusted or not forwarded_for or not _in(ip, trusted):
        return ip
    for hop in reversed(forwarded_for.split(",")[-32:]):
        hop = _plain_ip(hop)
        if not _in(hop, trusted):
            return hop
    return ip


def _in(addr: str, nets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in nets)


def request_tags(header: str | None) -> dict[str, str] | None:
    """The x-amz-tagging header's tags, parsed as the upload will parse them; None when absent or refused.

    >>> request_tags("project=blue&team=a%20b")
    {'project': 'blue', 'team': 'a b'}
    >>> request_tags("a=1&a=2") is None      # the upload itself answers InvalidTag
    True
    """
    if header is None:
        return None
    try:
        return tagging.parse_header(header)
    except CoreError:
        return None


def request_context(
    http: web.Request,
    op: Operation | None,
    auth: AuthResult | None,
    principal: Principal | None,
    trusted_proxies: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
    version: str | None = None,
) -> Context:
    """The condition context of one request (see the table above); ``version``: the version the
    operation names when it is not the query's (a DeleteObjects entry's)."""
    headers: Mapping[str, str] = http.headers
    now = time.time()
    v: dict[str, list[str]] = {
        "aws:CurrentTime": [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))],
        "aws:EpochTime": [str(int(now))],
        "aws:SecureTransport": ["true" if http.secure else "false"],
        "aws:SourceIp": [source_ip(http.remote or "", headers.get("X-Forwarded-For"), trusted_proxies)],
    }
    for header, key in (("User-Agent", "aws:UserAgent"), ("Referer", "aws:Referer")):
        if header in headers:
            v[key] = [headers[header]]
    signed = auth is not None and not auth.anonymous
    name = principal.access_key if principal is not None else (auth.access_key if signed and auth else "")
    if not signed or not name:
        v["aws:principaltype"] = ["Anonymous"]
    else:
        root = principal is not None and principal.root
        v["aws:principaltype"] = ["Account" if root else "User"]
        v["aws:username"] = v["aws:userid"] = [name]
        v["aws:PrincipalArn"] = [f"arn:aws:iam::{ACCOUNT_ID}:" + ("root" if root else f"user/{name}")]
        assert auth is not None
        v["s3:signatureversion"] = ["AWS4-HMAC-SHA256" if auth.scope else "AWS"]
        v["s3:authType"] = ["REST-QUERY-STRING" if auth.presigned else "REST-HEADER"]
    query = http.query  # condition values are the strings as sent (the policy engine parses numbers)
    if op is not None and op.name in _LISTINGS:
        for param, key in _LIST_PARAMS.items():
            if param in query:
                v[key] = [query[param]]
    for header, key in _HEADER_KEYS.items():
        if header in headers:
            v[key] = [headers[header]]
    src = copy_source(headers)
    if src is not None:
        v["s3:x-amz-copy-source"] = [f"{src[0]}/{src[1]}"]
    if not version:
        version = op.version_id if op is not None and op.key else None  # versionId of an object operation (router)
    if not version and src is not None:
        version = src[2]
    if version:
        v["s3:versionid"] = [version]
    tags = request_tags(headers.get("x-amz-tagging"))
    if tags:
        for k, val in tags.items():
            v[f"s3:RequestObjectTag/{k}"] = [val]
        v["s3:RequestObjectTagKeys"] = list(tags)
    return Context(v, _IN_BODY.get(op.name, frozenset()) if op is not None else frozenset())
