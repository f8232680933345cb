"""The one exception of the auth layer, named by its row in the S3 error table, and the
unknown-access-key check both signature versions make."""

from __future__ import annotations

from collections.abc import Callable


class AuthError(Exception):
    """An authentication failure, named by its row in the one S3 error table
    (``s3gw/api/errors.py``): the S3 code, or ``Code.Variant`` where MinIO
    answers that code with another status (``AccessDenied.UnsignedHeaders`` is
    AccessDenied with 400). The HTTP status is the table's; the auth layer
    keeps none. ``message`` is the text when it says more than the table's.
    """

    name: str
    code: str
    message: str

    def __init__(self, name: str, message: str = "") -> None:
        super().__init__(f"{name}: {message}" if message else name)
        self.name = name
        self.code = name.partition(".")[0]  # the S3 code the client sees
        self.message = message

    def __repr__(self) -> str:
        return f"AuthError({self.name!r}, {self.message!r})"


def known_secret(lookup_secret: Callable[[str], str | None], access_key: str) -> str:
    """The secret key of ``access_key``; InvalidAccessKeyId when there is none."""
    secret = lookup_secret(access_key)
    if secret is None:
        raise AuthError("InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records.")
    return secret
