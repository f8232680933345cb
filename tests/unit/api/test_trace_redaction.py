"""What mc admin trace shows of a request's headers: signatures, session tokens and SSE-C keys redacted."""

from __future__ import annotations

from s3gw.api.trace import _headers


def test_customer_keys_never_reach_a_trace() -> None:
    shown = _headers(
        [
            ("X-Amz-Server-Side-Encryption-Customer-Key", "c2VjcmV0LWtleQ=="),
            ("x-amz-copy-source-server-side-encryption-customer-key", "b3RoZXIta2V5"),
            ("X-Amz-Server-Side-Encryption-Customer-Key-MD5", "md5"),
            ("X-Amz-Security-Token", "tok"),
        ]
    )
    assert shown["X-Amz-Server-Side-Encryption-Customer-Key"] == ["REDACTED"]
    assert shown["X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key"] == ["REDACTED"]
    assert shown["X-Amz-Server-Side-Encryption-Customer-Key-MD5"] == ["md5"]  # not secret: MinIO shows it
    assert shown["X-Amz-Security-Token"] == ["REDACTED"]
