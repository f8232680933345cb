"""madmin's EncryptData format, checked against bytes made by madmin-go itself.

``data/madmin_vectors.json`` was produced by madmin-go v3.0.96's EncryptData
(argon2id + AES-256-GCM over sio-go v0.3.1, the versions the pinned mc uses):
decrypting them proves the key derivation, the nonce layout and the sio
fragment framing (the second vector spans two 16 KiB fragments).
"""

from __future__ import annotations

import json
import pathlib

import pytest

from s3gw.api import madmin_crypto as mc

VECTORS = json.loads((pathlib.Path(__file__).parent / "data" / "madmin_vectors.json").read_text())["vectors"]


@pytest.mark.parametrize("v", VECTORS, ids=lambda v: f"{len(v['plaintext_hex']) // 2}B")
def test_decrypts_madmin_output(v: dict) -> None:
    assert mc.decrypt_data(v["password"], bytes.fromhex(v["ciphertext_hex"])) == bytes.fromhex(v["plaintext_hex"])


@pytest.mark.parametrize(
    "alg,size",
    [(mc.PBKDF2_AES_GCM, n) for n in (0, 1, mc.BUF_SIZE - 1, mc.BUF_SIZE, mc.BUF_SIZE + 1, 2 * mc.BUF_SIZE)]
    + [(mc.ARGON2ID_AES_GCM, mc.BUF_SIZE + 1), (mc.ARGON2ID_CHACHA20_POLY1305, 5)],
)
def test_round_trip(alg: int, size: int) -> None:
    """Every fragment boundary (with the fast PBKDF2 key), and each Argon2id AEAD once."""
    data = bytes(i % 251 for i in range(size))
    sealed = mc.encrypt_data("pw-0123456789", data, alg=alg)
    assert mc.is_encrypted(sealed) and sealed[32] == alg
    # salt | id | nonce | one 16-byte tag per fragment (the last one always exists)
    fragments = max(1, -(-size // mc.BUF_SIZE))
    assert len(sealed) == 41 + size + 16 * fragments
    assert mc.decrypt_data("pw-0123456789", sealed) == data


def test_wrong_password_and_tampering_are_refused() -> None:
    sealed = mc.encrypt_data("right", b"x" * (mc.BUF_SIZE + 10), alg=mc.PBKDF2_AES_GCM)
    with pytest.raises(mc.DecryptError):
        mc.decrypt_data("wrong", sealed)
    flipped = bytearray(sealed)
    flipped[60] ^= 1
    with pytest.raises(mc.DecryptError):
        mc.decrypt_data("right", bytes(flipped))
    # dropping the final fragment (truncation) must not pass for a complete stream
    with pytest.raises(mc.DecryptError):
        mc.decrypt_data("right", sealed[: 41 + mc.BUF_SIZE + 16])
    with pytest.raises(mc.DecryptError):
        mc.decrypt_data("right", b"short")
