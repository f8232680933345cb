"""The one exception of the auth layer, named by its S3 error code."""

from __future__ import annotations

# Codes that MinIO / S3 answer with 403; every other auth failure is a 400.
# (A few AccessDenied cases are 400 in MinIO, e.g. a missing date header; those
# are raised with an explicit status.)
_FORBIDDEN = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "RequestTimeTooSkewed"}
)


class AuthError(Exception):
    """An authentication failure: ``code`` is the S3 error code, ``message`` the text.

    ``status`` is the HTTP status MinIO sends with it (cmd/api-errors.go); the
    API layer may use it or its own code table.
    """

    code: str
    message: str
    status: int

    def __init__(self, code: str, message: str = "", status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status if status is not None else (403 if code in _FORBIDDEN else 400)

    def __repr__(self) -> str:
        return f"AuthError({self.code!r}, {self.message!r}, status={self.status})"
