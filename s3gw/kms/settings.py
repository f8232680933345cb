"""What a KMS is built from (``security.encryption.*``, resolved by ``s3gw/config.py``;
built by ``factory.build_kms``). Plain data: importing it loads no client library."""

from __future__ import annotations

from dataclasses import dataclass, field

#: the deployment guide's key_rotation_period (90 days)
DEFAULT_ROTATION = 2160 * 3600.0
#: the AWS KMS key used when security.encryption.kms_key_id names none
DEFAULT_AWS_KEY = "alias/s3gw"


@dataclass
class KMSSettings:
    """Either an AWS-KMS-protocol endpoint or built-in master keys (or neither: no KMS)."""

    # AWS KMS protocol (security.encryption.kms_*): credentials from botocore's usual chain
    # (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, instance role)
    endpoint: str = ""
    region: str = ""
    key_id: str = ""  # the default key (SSE-S3, SSE-KMS without a key id); "" -> see build_kms
    timeout: float = 5.0  # connect and read timeout of one KMS call
    attempts: int = 2  # tries of one KMS call (throttling, a dropped connection), then 503
    # built-in (S3GW_KMS_SECRET_KEY / MINIO_KMS_SECRET_KEY, security.encryption.key_file)
    master_keys: list[tuple[str, bytes]] = field(default_factory=list, repr=False)
    key_rotation_period: float = DEFAULT_ROTATION  # 0: no automatic rotation

    @property
    def configured(self) -> bool:
        return bool(self.endpoint or self.master_keys)

    def describe(self) -> str:
        """One banner line (never a secret)."""
        if self.endpoint:
            return f"KMS: AWS KMS at {self.endpoint} (key {self.key_id or DEFAULT_AWS_KEY})"
        if self.master_keys:
            names = ", ".join(name for name, _ in self.master_keys)
            return f"KMS: built-in, master keys {names} (default {self.key_id or self.master_keys[0][0]})"
        return "KMS: none (SSE-S3/SSE-KMS refused)"
