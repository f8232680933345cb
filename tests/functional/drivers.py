"""What tests drive a gateway of their own with, as operators and applications do: boto3
as a given credential, ``s3gw admin`` (the CLI, or its client in this process) and mc.
Shared by the modules that start their own gateway (identities, operations, live admin)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import boto3
from botocore.config import Config

from s3gw.admin_cli import OpsClient
from tests.conftest import ACCESS_KEY, SECRET_KEY, Server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def s3(gw: Server, access: str = ACCESS_KEY, secret: str = SECRET_KEY, token: str | None = None) -> Any:
    """A boto3 S3 client of ``gw`` signing as ``access`` (with a session ``token`` when given); no retries."""
    return client("s3", gw, access, secret, token)


def client(service: str, gw: Server, access: str, secret: str, token: str | None = None) -> Any:
    """A boto3 client of ``service`` (s3, sts) at ``gw``, as ``s3`` describes it."""
    return boto3.client(
        service,
        endpoint_url=gw.url,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


def admin(
    gw: Server,
    *args: str,
    check: bool = True,
    stdin: str | None = None,
    access: str = ACCESS_KEY,
    secret: str = SECRET_KEY,
) -> subprocess.CompletedProcess:
    """``s3gw admin ARGS --endpoint`` ``gw`` as ``access``; with ``check``, it must succeed."""
    env = {**os.environ, "S3GW_ROOT_USER": access, "S3GW_ROOT_PASSWORD": secret}
    cp = subprocess.run(
        [sys.executable, "-m", "s3gw.cli", "admin", *args, "--endpoint", gw.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
        cwd=ROOT,
    )
    if check:
        assert cp.returncode == 0, f"s3gw admin {' '.join(args)}: {cp.returncode}\n{cp.stdout}\n{cp.stderr}"
    return cp


def api(gw: Server) -> OpsClient:
    """The client ``s3gw admin`` uses, in this process (for setup steps: no CLI start-up each time)."""
    return OpsClient(gw.url, ACCESS_KEY, SECRET_KEY)


class Mc:
    """mc with a config directory of its own and the alias ``s3gw`` (root's credentials) for ``gw``."""

    def __init__(self, binary: str, config_dir: str, gw: Server) -> None:
        self.binary, self.config_dir, self.gw = binary, config_dir, gw
        self("alias", "set", "s3gw", gw.url, ACCESS_KEY, SECRET_KEY)

    def alias(self, name: str, access: str, secret: str) -> None:
        self("alias", "set", name, self.gw.url, access, secret)

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--config-dir", self.config_dir, "--no-color", *args]

    def __call__(
        self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        cp = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout, input=stdin)
        if check:
            assert cp.returncode == 0, f"mc {' '.join(args)}: {cp.returncode}\n{cp.stdout}\n{cp.stderr}"
        return cp

    def json(self, *args: str) -> dict:
        return json.loads(self("--json", *args).stdout)


def metric_samples(text: str) -> dict[str, float]:
    """The samples of a Prometheus text exposition: series (name and labels) -> value."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out
