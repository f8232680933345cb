"""Root credentials and other secrets: from the environment, or from files it (or the configuration) names.

Secrets never come from the YAML in plain text (``s3gw/config.py``): a variable
holds the secret itself, or a ``*_FILE`` variable names a file holding it (the
Docker/Kubernetes secrets convention), or a ``*_file`` configuration key does.

Standard library only, and no other s3gw module: the ops/ scripts
(``ops/s3gwops/target.py``) read the operator's root credentials with this same
function, even where s3gw itself is not installed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: the well-known root credentials of an unconfigured server (MinIO's); never served beyond loopback
DEFAULT_USER = "minioadmin"
DEFAULT_PASSWORD = "minioadmin"

#: where the root credentials come from, first found wins (each also as NAME_FILE: a file holding it)
ROOT_USER_VARS = ("S3GW_ROOT_USER", "MINIO_ROOT_USER")
ROOT_PASSWORD_VARS = ("S3GW_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD")
#: the previous root credentials, for one start after a rotation (user secrets are re-sealed)
OLD_ROOT_USER_VARS = ("S3GW_ROOT_USER_OLD", "MINIO_ROOT_USER_OLD")
OLD_ROOT_PASSWORD_VARS = ("S3GW_ROOT_PASSWORD_OLD", "MINIO_ROOT_PASSWORD_OLD")


class SecretError(ValueError):
    """A secret file that cannot be read; the message names it and what it was for."""


def read_secret(path: str, what: str) -> str:
    """The file's text, surrounding whitespace stripped."""
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        raise SecretError(f"{what}: cannot read {path}: {e.strerror}") from None


def secret(
    env: Mapping[str, str],
    names: tuple[str, ...],
    file_vars: tuple[str, ...],
    file_path: str,
    what: str,
    *,
    file_first: bool = False,
) -> str | None:
    """The first of: a variable in ``names``, a file named by ``file_vars``, the file ``file_path``
    (``file_first``: that file before the variables, when it was given on the command line).

    >>> secret({"A": "", "B": "b"}, ("A", "B"), (), "", "x")
    'b'
    >>> secret({}, ("A",), (), "", "x") is None
    True
    """
    if file_first and file_path:
        return read_secret(file_path, what)
    for n in names:
        if env.get(n):
            return env[n]
    for n in file_vars:
        if env.get(n):
            return read_secret(env[n], n)
    if file_path:
        return read_secret(file_path, what)
    return None


def root_credentials(
    env: Mapping[str, str] | None = None, user_file: str = "", password_file: str = "", *, default: bool = True
) -> tuple[str, str]:
    """(access key, secret key) of the root user.

    From ``S3GW_ROOT_USER`` / ``S3GW_ROOT_PASSWORD``, else ``MINIO_ROOT_USER`` /
    ``MINIO_ROOT_PASSWORD``, else the files named by those variables + ``_FILE``,
    else ``user_file`` / ``password_file`` (``security.root_user_file`` /
    ``root_password_file``), else MinIO's defaults (``default=False``: ``""``).

    >>> root_credentials({"MINIO_ROOT_USER": "admin", "S3GW_ROOT_PASSWORD": "pw"})
    ('admin', 'pw')
    >>> root_credentials({}), root_credentials({}, default=False)
    (('minioadmin', 'minioadmin'), ('', ''))
    """
    env = os.environ if env is None else env
    user = secret(env, ROOT_USER_VARS, tuple(n + "_FILE" for n in ROOT_USER_VARS), user_file, "security.root_user_file")
    password = secret(
        env,
        ROOT_PASSWORD_VARS,
        tuple(n + "_FILE" for n in ROOT_PASSWORD_VARS),
        password_file,
        "security.root_password_file",
    )
    if default:
        return user or DEFAULT_USER, password or DEFAULT_PASSWORD
    return user or "", password or ""


def old_root_credentials(env: Mapping[str, str], current: tuple[str, str]) -> tuple[str, str] | None:
    """The root credentials before a rotation (``S3GW_ROOT_USER_OLD`` / ``_PASSWORD_OLD``, or MinIO's
    names), the part not given being the current one; None when neither is set."""
    user = next((env[n] for n in OLD_ROOT_USER_VARS if env.get(n)), "")
    password = next((env[n] for n in OLD_ROOT_PASSWORD_VARS if env.get(n)), "")
    if not user and not password:
        return None
    return user or current[0], password or current[1]
