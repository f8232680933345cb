"""A server's TLS certificate that can be replaced while it runs.

cert-manager (and most renewal tools) rotate a certificate by replacing the
files in place, or by swapping the symlink a Kubernetes Secret volume points
through (``tls.crt -> ..data/tls.crt``). ``ReloadingTLS`` gives the listening
socket one ``ssl.SSLContext`` whose server-name callback (which OpenSSL runs for
every handshake, with or without SNI) hands each new connection the context of
the newest pair that loaded: every *new* connection presents the new
certificate while connections already open keep theirs. No restart, no dropped
connection. A whole new context per pair (rather than loading the new pair into
the old context) means a change of key type, RSA to ECDSA say, never leaves the
old certificate beside the new one.

A reload happens on ``reload()`` (the servers call it on SIGHUP) and when
``watch()`` sees the files' bytes change (checked every ``interval`` seconds;
the files are read through symlinks, so a swapped link counts as a change).
The new pair is read once and loaded into a fresh context: a certificate that
does not parse, a key that does not match it (cert-manager writes the two
files one after the other), or a file that vanished leaves the old certificate
in service and is logged as an error; the next change is tried again. Only a
context whose pair loaded cleanly is ever handed to connections.

The gateway (``s3gw serve``, ``security.tls.*``) and the storage node
(``s3gw node --tls-cert/--tls-key``) both serve with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import ssl
import tempfile
from collections.abc import Iterator

log = logging.getLogger(__name__)

#: how often the files are checked for a new certificate unless told otherwise (seconds)
RELOAD_INTERVAL = 10.0


def server_context() -> ssl.SSLContext:
    """A TLS server context with Python's defaults (TLS 1.2 or newer, no compression)."""
    return ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)


@contextlib.contextmanager
def _as_files(cert: bytes, key: bytes) -> Iterator[tuple[str, str]]:
    """Paths holding ``cert`` and ``key`` for ``load_cert_chain`` (which only reads paths):
    anonymous memory files on Linux (the key never touches a disk), else private temp files."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fds = []
        try:
            for blob in (cert, key):
                fd = os.memfd_create("s3gw-tls", os.MFD_CLOEXEC)
                fds.append(fd)
                os.write(fd, blob)
            yield f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}"
        finally:
            for fd in fds:
                os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="s3gw-tls-") as d:  # mkdtemp: 0700
        paths = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        for path, blob in zip(paths, (cert, key), strict=True):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
        yield paths


def leaf_fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the first certificate of a PEM chain (what ``openssl x509 -fingerprint -sha256`` shows).

    >>> leaf_fingerprint(b"no certificate")
    'unknown'
    """
    start = cert_pem.find(b"-----BEGIN CERTIFICATE-----")
    end = cert_pem.find(b"-----END CERTIFICATE-----", start)
    if start < 0 or end < 0:
        return "unknown"
    try:
        der = ssl.PEM_cert_to_DER_cert(cert_pem[start : end + 25].decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return "unknown"
    return hashlib.sha256(der).hexdigest()


class ReloadingTLS:
    """The context a server listens with, reloaded from ``cert_file``/``key_file`` when they change.

    The constructor loads the pair and raises (``OSError``, ``ssl.SSLError``)
    when it cannot: a bad certificate at start is a start-up error, not a log line.
    """

    def __init__(self, cert_file: str, key_file: str, *, interval: float = RELOAD_INTERVAL, name: str = "TLS") -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.interval = interval
        self.name = name
        self.reloads = 0  # successful reloads after the first load
        self.failures = 0  # reloads refused (the old certificate stayed)
        pair = self._read()
        #: what the socket listens with (its own pair: the first one); each handshake gets ``_current``
        self.context = self._load(pair)
        self.context.sni_callback = self._pick
        self._current = self.context
        self._seen = pair  # the bytes last tried, loaded or not
        self.fingerprint = leaf_fingerprint(pair[0])

    def _pick(self, conn: ssl.SSLObject, server_name: str | None, ctx: ssl.SSLContext) -> None:
        """OpenSSL's server-name callback, in every handshake: the newest certificate."""
        if self._current is not ctx:
            conn.context = self._current

    def _read(self) -> tuple[bytes, bytes]:
        with open(self.cert_file, "rb") as c, open(self.key_file, "rb") as k:
            return c.read(), k.read()

    @staticmethod
    def _load(pair: tuple[bytes, bytes]) -> ssl.SSLContext:
        """A fresh server context serving ``pair``; raises (ssl.SSLError, OSError) when it does not load."""
        ctx = server_context()
        with _as_files(*pair) as (cert, key):
            ctx.load_cert_chain(cert, key)
        return ctx

    def reload(self, why: str = "SIGHUP") -> bool:
        """Load the files now (whether or not they changed); True when the new pair is in service."""
        try:
            pair = self._read()
        except OSError as e:
            self.failures += 1
            log.error("%s: %s: cannot read the certificate files (%s); the old certificate stays", self.name, why, e)
            return False
        return self._try(pair, why)

    def _try(self, pair: tuple[bytes, bytes], why: str) -> bool:
        self._seen = pair
        try:
            ctx = self._load(pair)
        except (OSError, ssl.SSLError, ValueError) as e:
            self.failures += 1
            log.error(
                "%s: %s: %s / %s do not load (%s); the old certificate (sha256 %s) stays in service",
                self.name,
                why,
                self.cert_file,
                self.key_file,
                e,
                self.fingerprint,
            )
            return False
        self._current = ctx
        self.reloads += 1
        old, self.fingerprint = self.fingerprint, leaf_fingerprint(pair[0])
        log.warning(
            "%s: %s: certificate reloaded from %s (sha256 %s, was %s); new connections present it",
            self.name,
            why,
            self.cert_file,
            self.fingerprint,
            old,
        )
        return True

    def check(self) -> bool | None:
        """Reload when the files' bytes differ from those last tried; None when nothing changed."""
        try:
            pair = self._read()
        except OSError:
            return None  # mid-swap (a link briefly missing): the next check sees the new files
        if pair == self._seen:
            return None
        return self._try(pair, "the files changed")

    async def watch(self) -> None:
        """Check the files every ``interval`` seconds, until cancelled (``interval`` 0: never)."""
        if self.interval <= 0:
            return
        while True:
            await asyncio.sleep(self.interval)
            self.check()


__all__ = ["RELOAD_INTERVAL", "ReloadingTLS", "leaf_fingerprint", "server_context"]
