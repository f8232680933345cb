"""Object and bucket tags: parsing and MinIO's limits.

Object tags: at most 10; bucket tags: at most 50; keys 1-128 characters,
values 0-256, no duplicate keys (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html;
MinIO internal/bucket/tags).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from .errors import BadRequest, InvalidTag, MalformedXML

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256


def validate(tags: list[tuple[str, str]], limit: int = MAX_OBJECT_TAGS) -> dict[str, str]:
    """Check a tag list against the limits and return it as a dict (order kept)."""
    if len(tags) > limit:
        # MinIO's codes: BadRequest for too many object tags, MalformedXML for bucket tags
        if limit == MAX_OBJECT_TAGS:
            raise BadRequest(f"Object tags cannot be greater than {limit}")
        raise MalformedXML()
    out: dict[str, str] = {}
    for key, value in tags:
        if not key or len(key) > MAX_KEY or not key.isascii():
            raise InvalidTag("The TagKey you have provided is invalid")
        if len(value) > MAX_VALUE or not value.isascii():
            raise InvalidTag("The TagValue you have provided is invalid")
        if key in out:
            raise InvalidTag("Cannot provide multiple Tags with the same key")
        out[key] = value
    return out


def parse_header(value: str) -> dict[str, str]:
    """x-amz-tagging: URL query form, "k1=v1&k2=v2"."""
    try:
        pairs = parse_qsl(value, keep_blank_values=True, strict_parsing=bool(value))
    except ValueError as e:
        raise InvalidTag(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."
        ) from e
    return validate(pairs)
