"""The node protocol: hostile credentials, replays and altered upload bodies are refused."""

from __future__ import annotations

import pytest

from nodes.protocol import (
    BODY_MACS,
    MAX_SKEW,
    AuthFailure,
    BodyMac,
    FrameSplitter,
    ReplayGuard,
    StreamError,
    end_record,
    sign_request,
    verify_request,
)

SECRET = b"k" * 16
NONCE = "0123456789abcdef" * 2


@pytest.mark.parametrize("ts", ["²", "١٧٠٠٠٠٠٠٠٠", "9" * 5000, "", "-5", " 1"])
def test_a_timestamp_that_is_not_ascii_digits_is_malformed(ts: str) -> None:
    with pytest.raises(AuthFailure) as e:
        verify_request(SECRET, "GET", "/v1/health", f"{ts}:{NONCE}:none:{'0' * 64}", now=1000)
    assert e.value.status == 401


@pytest.mark.parametrize(
    "header",
    [
        "1000:" + "0" * 64,  # the old (v1) form
        f"1000:{NONCE[:-1]}:none:{'0' * 64}",  # short nonce
        f"1000:{NONCE.upper()}:none:{'0' * 64}",
        f"1000:{NONCE}:gzip:{'0' * 64}",  # unknown body mode
        f"1000:{NONCE}:none:{'0' * 63}",
        f"1000:{NONCE}:none:{'0' * 64}:x",
    ],
)
def test_malformed_headers(header: str) -> None:
    with pytest.raises(AuthFailure) as e:
        verify_request(SECRET, "GET", "/v1/health", header, now=1000)
    assert e.value.status == 401


def test_every_field_is_signed() -> None:
    header, sig = sign_request(SECRET, "PUT", "/v1/drives/d1/shards/a.0?block_size=4", now=1000, body="sha256")
    signed = verify_request(SECRET, "PUT", "/v1/drives/d1/shards/a.0?block_size=4", header, now=1000)
    assert (signed.sig, signed.ts, signed.body) == (sig, 1000, "sha256") and len(signed.nonce) == 32
    ts, nonce, body, mac = header.split(":")
    for forged in (f"{int(ts) + 1}:{nonce}:{body}:{mac}", f"{ts}:{'f' * 32}:{body}:{mac}", f"{ts}:{nonce}:none:{mac}"):
        with pytest.raises(AuthFailure, match="bad node signature"):
            verify_request(SECRET, "PUT", "/v1/drives/d1/shards/a.0?block_size=4", forged, now=1000)
    with pytest.raises(AuthFailure, match="bad node signature"):
        verify_request(SECRET, "PUT", "/v1/drives/d1/shards/b.0?block_size=4", header, now=1000)
    # a fresh nonce every time: two signatures of the same request differ
    assert (
        sign_request(SECRET, "GET", "/v1/health", now=1000)[1] != sign_request(SECRET, "GET", "/v1/health", now=1000)[1]
    )


def test_replays_are_refused_within_the_window() -> None:
    guard = ReplayGuard()
    header, _ = sign_request(SECRET, "GET", "/v1/health", now=1000)
    signed = verify_request(SECRET, "GET", "/v1/health", header, now=1000)
    guard.check(signed, now=1000)
    for later in (1000, 1100, 1000 + MAX_SKEW):
        with pytest.raises(AuthFailure, match="replayed") as e:
            guard.check(signed, now=later)
        assert e.value.status == 403
    # past the window the timestamp check refuses the request before the guard is asked
    with pytest.raises(AuthFailure, match="skewed"):
        verify_request(SECRET, "GET", "/v1/health", header, now=1000 + MAX_SKEW + 1)


def test_the_replay_guard_is_bounded_and_forgets_expired_nonces() -> None:
    guard = ReplayGuard(max_entries=3)
    signed = [
        verify_request(SECRET, "GET", "/", sign_request(SECRET, "GET", "/", now=1000)[0], now=1000) for _ in range(4)
    ]
    for s in signed[:3]:
        guard.check(s, now=1000)
    with pytest.raises(AuthFailure) as e:
        guard.check(signed[3], now=1000)  # full of live nonces: refused, none forgotten
    assert e.value.status == 503
    guard.check(signed[3], now=1000 + MAX_SKEW + 1)  # the others expired
    assert len(guard) == 1


@pytest.mark.parametrize("algo", BODY_MACS)
def test_the_body_mac_binds_the_frames_and_the_request(algo: str) -> None:
    frames = b"hhabcd" + b"hhxy"
    mac = BodyMac(SECRET, "sig-1", algo)
    mac.update(frames)
    good = mac.digest(len(frames))

    def of(data: bytes, sig: str = "sig-1", secret: bytes = SECRET) -> bytes:
        m = BodyMac(secret, sig, algo)
        m.update(data)
        return m.digest(len(data))

    assert of(frames) == good
    assert of(b"hhabcd" + b"hhxz") != good  # one byte changed
    assert of(frames, sig="sig-2") != good  # moved to another request
    assert of(frames, secret=b"x" * 16) != good  # made without the secret
    fs = FrameSplitter(block_size=4, hash_len=2)
    assert fs.feed(frames + end_record(len(frames), good)) == [(b"hhabcd", 4)]
    assert fs.finish() == [(b"hhxy", 2)] and fs.end_mac == good
    with pytest.raises(StreamError):  # the old 16-byte end record
        bad = FrameSplitter(4, 2)
        bad.feed(frames + b"S3GWEND1" + len(frames).to_bytes(8, "little"))
        bad.finish()


def test_a_good_signature_still_verifies() -> None:
    header, sig = sign_request(SECRET, "GET", "/v1/health", now=1000)
    assert verify_request(SECRET, "GET", "/v1/health", header, now=1000).sig == sig
