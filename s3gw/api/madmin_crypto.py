"""madmin's ``EncryptData`` / ``DecryptData``: the sealed bodies of MinIO's admin API.

``mc admin user add`` sends the new user's secret, and ``mc admin user list``
expects the user table back, sealed with a key derived from the *caller's*
secret key. The format (madmin-go ``encrypt.go`` over secure-io ``sio-go``)::

    salt (32) | AEAD id (1) | nonce (8) | sio stream

* key = Argon2id(password, salt, t=1, m=64 MiB, p=4, 32 bytes) for ids 0
  (AES-256-GCM) and 1 (ChaCha20-Poly1305); PBKDF2-SHA256(8192 rounds) for id 2
  (AES-256-GCM, madmin's FIPS mode).
* The sio stream cuts the plaintext into 16 KiB fragments, each sealed with
  the AEAD under nonce ``nonce || uint32_le(seq)``, ``seq`` counting from 1.
  Every fragment's associated data is a flag byte (0x00; 0x80 for the final
  fragment) followed by the 16-byte tag of an empty message sealed under
  ``seq`` 0: so fragments cannot be reordered, dropped or the stream cut
  short. The final fragment holds the rest (0..16 KiB); it always exists.

Argon2id with 64 MiB is deliberately slow (~0.1 s): callers on an event loop
run these functions in a thread.
"""

from __future__ import annotations

import hashlib
import os

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

ARGON2ID_AES_GCM = 0x00
ARGON2ID_CHACHA20_POLY1305 = 0x01
PBKDF2_AES_GCM = 0x02

BUF_SIZE = 1 << 14  # sio.BufSize
TAG_SIZE = 16
HEADER = 32 + 1 + 8


class DecryptError(ValueError):
    """Not madmin-sealed data, or sealed with another password."""


def _key(password: str, salt: bytes, alg: int) -> bytes:
    if alg in (ARGON2ID_AES_GCM, ARGON2ID_CHACHA20_POLY1305):
        return hash_secret_raw(
            password.encode(), salt, time_cost=1, memory_cost=64 * 1024, parallelism=4, hash_len=32, type=Type.ID
        )
    if alg == PBKDF2_AES_GCM:
        return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 8192, 32)
    raise DecryptError(f"madmin: invalid encryption algorithm ID {alg}")


def _aead(alg: int, key: bytes) -> AESGCM | ChaCha20Poly1305:
    return ChaCha20Poly1305(key) if alg == ARGON2ID_CHACHA20_POLY1305 else AESGCM(key)


def _nonce(nonce8: bytes, seq: int) -> bytes:
    return nonce8 + seq.to_bytes(4, "little")


def encrypt_data(
    password: str, data: bytes, *, alg: int = ARGON2ID_AES_GCM, salt: bytes | None = None, nonce: bytes | None = None
) -> bytes:
    salt = salt if salt is not None else os.urandom(32)
    nonce = nonce if nonce is not None else os.urandom(8)
    aead = _aead(alg, _key(password, salt, alg))
    tag0 = aead.encrypt(_nonce(nonce, 0), b"", None)
    out = [salt, bytes([alg]), nonce]
    regular = (len(data) - 1) // BUF_SIZE if data else 0
    for i in range(regular):
        out.append(aead.encrypt(_nonce(nonce, i + 1), data[i * BUF_SIZE : (i + 1) * BUF_SIZE], b"\x00" + tag0))
    out.append(aead.encrypt(_nonce(nonce, regular + 1), data[regular * BUF_SIZE :], b"\x80" + tag0))
    return b"".join(out)


def decrypt_data(password: str, data: bytes) -> bytes:
    """The plaintext of ``encrypt_data`` (or of madmin's EncryptData).

    >>> decrypt_data("secret-key", encrypt_data("secret-key", b"hello", alg=PBKDF2_AES_GCM))
    b'hello'
    """
    if len(data) < HEADER + TAG_SIZE:
        raise DecryptError("madmin: unexpected header")
    salt, alg, nonce, body = data[:32], data[32], data[33:41], data[41:]
    aead = _aead(alg, _key(password, salt, alg))
    tag0 = aead.encrypt(_nonce(nonce, 0), b"", None)
    size = BUF_SIZE + TAG_SIZE
    regular = (len(body) - 1) // size
    out = []
    try:
        for i in range(regular):
            out.append(aead.decrypt(_nonce(nonce, i + 1), body[i * size : (i + 1) * size], b"\x00" + tag0))
        out.append(aead.decrypt(_nonce(nonce, regular + 1), body[regular * size :], b"\x80" + tag0))
    except InvalidTag as e:
        raise DecryptError("sio: data is not authentic") from e
    return b"".join(out)


def is_encrypted(data: bytes) -> bool:
    """madmin's IsEncrypted: long enough, and a known AEAD id at byte 32."""
    return len(data) > 32 and data[32] in (ARGON2ID_AES_GCM, ARGON2ID_CHACHA20_POLY1305, PBKDF2_AES_GCM)
