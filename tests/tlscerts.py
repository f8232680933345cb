"""Certificates for the TLS tests, from throwaway CAs (the ``trustme`` test extra), and
how to see which certificate a live server presents to a new connection."""

from __future__ import annotations

import hashlib
import os
import ssl
from dataclasses import dataclass

import trustme


@dataclass
class Pair:
    """A CA, and a server certificate it issued for 127.0.0.1 (and localhost), as PEM bytes."""

    ca: trustme.CA
    cert_pem: bytes  # the chain, leaf first
    key_pem: bytes

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(self.cert_pem.decode())).hexdigest()

    def write(self, directory: str, cert: str = "tls.crt", key: str = "tls.key", ca: str = "ca.crt") -> dict[str, str]:
        """The cert, key and CA files in ``directory`` (replacing what is there in place); their paths."""
        os.makedirs(directory, exist_ok=True)
        paths = {"cert": os.path.join(directory, cert), "key": os.path.join(directory, key)}
        paths["ca"] = os.path.join(directory, ca)
        for what, blob in (("cert", self.cert_pem), ("key", self.key_pem), ("ca", self.ca.cert_pem.bytes())):
            with open(paths[what], "wb") as f:
                f.write(blob)
        return paths


def issue(ca: trustme.CA | None = None, *names: str) -> Pair:
    ca = ca or trustme.CA()
    cert = ca.issue_cert(*(names or ("127.0.0.1", "localhost")))
    return Pair(ca, b"".join(b.bytes() for b in cert.cert_chain_pems), cert.private_key_pem.bytes())


def presented(port: int, host: str = "127.0.0.1") -> str:
    """SHA-256 of the certificate a new TLS connection to ``host:port`` is shown (not verified)."""
    pem = ssl.get_server_certificate((host, port), timeout=10)
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


class SecretVolume:
    """A directory laid out as Kubernetes mounts a Secret (what cert-manager's renewals update):
    ``tls.crt -> ..data/tls.crt``, ``..data -> ..<generation>/``; ``update`` writes a new
    generation and swaps the ``..data`` link atomically."""

    def __init__(self, root: str, pair: Pair) -> None:
        self.root = root
        self.generation = 0
        os.makedirs(root, exist_ok=True)
        self.update(pair)
        for name in ("tls.crt", "tls.key", "ca.crt"):
            os.symlink(os.path.join("..data", name), os.path.join(root, name))

    @property
    def cert(self) -> str:
        return os.path.join(self.root, "tls.crt")

    @property
    def key(self) -> str:
        return os.path.join(self.root, "tls.key")

    def update(self, pair: Pair) -> None:
        self.generation += 1
        gen = f"..gen{self.generation}"
        pair.write(os.path.join(self.root, gen))
        tmp = os.path.join(self.root, "..data_tmp")
        os.symlink(gen, tmp)
        os.replace(tmp, os.path.join(self.root, "..data"))
