"""The node protocol's authentication: hostile credentials are refused, never a crash."""

from __future__ import annotations

import pytest

from nodes.protocol import AuthFailure, sign_request, verify_request

SECRET = b"k" * 16


@pytest.mark.parametrize("ts", ["²", "١٧٠٠٠٠٠٠٠٠", "9" * 5000, "", "-5", " 1"])
def test_a_timestamp_that_is_not_ascii_digits_is_malformed(ts: str) -> None:
    with pytest.raises(AuthFailure) as e:
        verify_request(SECRET, "GET", "/v1/health", f"{ts}:{'0' * 64}", now=1000)
    assert e.value.status == 401


def test_a_good_signature_still_verifies() -> None:
    header, sig = sign_request(SECRET, "GET", "/v1/health", now=1000)
    assert verify_request(SECRET, "GET", "/v1/health", header, now=1000) == sig
