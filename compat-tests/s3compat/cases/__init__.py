"""Every case, registered on import (order = run order)."""

from . import (  # noqa: F401
    buckets, objects, listing, copy, ranges, conditionals, auth, checksums, xmlwire,
    multipart, versioning, objectlock, tagging, minio_py, awscli, mc, browser, policies,
    authz_matrix, identity, attributes,
)
