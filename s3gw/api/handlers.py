"""The handler table: every operation the router names -> the function that answers it.

Handlers live by family: ``objects`` (GetObject/HeadObject, PutObject,
CopyObject, DeleteObject(s)), ``listing`` (buckets, objects, versions,
uploads), ``buckets`` (create/head/delete, location, versioning, policy, the
configurations s3gw keeps none of), ``tagging``, ``lifecycle``, ``locking`` (object lock,
retention, legal hold), ``acl`` (the canned answers), ``multipart``,
``postobject`` (browser form uploads); ``headers`` builds the headers in and
out. An operation s3gw does not build is listed in ``NOT_IMPLEMENTED`` and
answered with MinIO's NotImplemented (501) once authorised, never by omission:
``app.make_handler`` refuses a table that misses one, and
tests/unit/api/test_operations.py ties the table to the router and to the
authorisation table.
"""

from __future__ import annotations

from aiohttp import web

from . import (
    acl,
    attributes,
    buckets,
    lifecycle,
    listing,
    locking,
    multipart,
    notification,
    objects,
    postobject,
    replication,
    tagging,
)
from .app import Handler, Request
from .errors import S3Error
from .router import Op

#: operations routed but not built: NotImplemented, as MinIO answers them (after authorisation)
NOT_IMPLEMENTED = frozenset(
    {
        Op.PutBucketWebsite,
        Op.DeleteBucketWebsite,
        Op.GetBucketLogging,
        Op.PutBucketLogging,
        Op.GetBucketAccelerateConfiguration,
        Op.PutBucketAccelerateConfiguration,
        Op.GetBucketRequestPayment,
        Op.PutBucketRequestPayment,
        Op.GetBucketOwnershipControls,
        Op.PutBucketOwnershipControls,
        Op.DeleteBucketOwnershipControls,
        Op.GetObjectTorrent,
        Op.RestoreObject,
        Op.SelectObjectContent,
    }
)


async def not_implemented(rq: Request) -> web.StreamResponse:
    raise S3Error("NotImplemented")


HANDLERS: dict[Op, Handler] = {
    # objects
    Op.GetObject: objects.get_object,
    Op.HeadObject: objects.get_object,
    Op.PutObject: objects.put_object,
    Op.CopyObject: objects.copy_object,
    Op.DeleteObject: objects.delete_object,
    Op.DeleteObjects: objects.delete_objects,
    Op.PostObject: postobject.post_object,
    # listings
    Op.ListBuckets: listing.list_buckets,
    Op.ListObjects: listing.list_objects,
    Op.ListObjectsV2: listing.list_objects_v2,
    Op.ListObjectVersions: listing.list_object_versions,
    Op.ListMultipartUploads: listing.list_multipart_uploads,
    # buckets
    Op.CreateBucket: buckets.create_bucket,
    Op.HeadBucket: buckets.head_bucket,
    Op.DeleteBucket: buckets.delete_bucket,
    Op.GetBucketLocation: buckets.get_bucket_location,
    Op.PutBucketVersioning: buckets.put_bucket_versioning,
    Op.GetBucketVersioning: buckets.get_bucket_versioning,
    Op.PutBucketPolicy: buckets.put_bucket_policy,
    Op.GetBucketPolicy: buckets.get_bucket_policy,
    Op.DeleteBucketPolicy: buckets.delete_bucket_policy,
    Op.GetBucketPolicyStatus: buckets.get_bucket_policy_status,
    # lifecycle (api/lifecycle.py; applied by core/expiry.py)
    Op.PutBucketLifecycleConfiguration: lifecycle.put_bucket_lifecycle,
    Op.GetBucketLifecycleConfiguration: lifecycle.get_bucket_lifecycle,
    Op.DeleteBucketLifecycle: lifecycle.delete_bucket_lifecycle,
    Op.GetBucketCors: buckets.not_configured("NoSuchCORSConfiguration"),
    # MinIO's CORS is the server's allow-list (api/cors.py): bucket rules are NotImplemented once the bucket exists
    Op.PutBucketCors: buckets.not_configured("NotImplemented"),
    Op.DeleteBucketCors: buckets.not_configured("NotImplemented"),
    Op.GetBucketEncryption: buckets.get_bucket_encryption,
    Op.PutBucketEncryption: buckets.put_bucket_encryption,
    Op.DeleteBucketEncryption: buckets.delete_bucket_encryption,
    # replication (api/replication.py; targets: s3gw admin replicate)
    Op.PutBucketReplication: replication.put_bucket_replication,
    Op.GetBucketReplication: replication.get_bucket_replication,
    Op.DeleteBucketReplication: replication.delete_bucket_replication,
    Op.GetBucketWebsite: buckets.not_configured("NoSuchWebsiteConfiguration"),
    # bucket notifications (api/notification.py)
    Op.PutBucketNotificationConfiguration: notification.put_bucket_notification,
    Op.GetBucketNotificationConfiguration: notification.get_bucket_notification,
    # tagging
    Op.PutObjectTagging: tagging.put_object_tagging,
    Op.GetObjectTagging: tagging.get_object_tagging,
    Op.DeleteObjectTagging: tagging.delete_object_tagging,
    Op.PutBucketTagging: tagging.put_bucket_tagging,
    Op.GetBucketTagging: tagging.get_bucket_tagging,
    Op.DeleteBucketTagging: tagging.delete_bucket_tagging,
    # object lock
    Op.PutObjectLockConfiguration: locking.put_lock_config,
    Op.GetObjectLockConfiguration: locking.get_lock_config,
    Op.PutObjectRetention: locking.put_retention,
    Op.GetObjectRetention: locking.get_retention,
    Op.PutObjectLegalHold: locking.put_legal_hold,
    Op.GetObjectLegalHold: locking.get_legal_hold,
    # ACLs
    Op.GetBucketAcl: acl.get_acl,
    Op.GetObjectAcl: acl.get_acl,
    Op.PutBucketAcl: acl.put_acl,
    Op.PutObjectAcl: acl.put_acl,
    # multipart uploads
    Op.CreateMultipartUpload: multipart.create_multipart_upload,
    Op.UploadPart: multipart.upload_part,
    Op.UploadPartCopy: multipart.upload_part_copy,
    Op.CompleteMultipartUpload: multipart.complete_multipart_upload,
    Op.AbortMultipartUpload: multipart.abort_multipart_upload,
    Op.ListParts: multipart.list_parts,
    # attributes (api/attributes.py)
    Op.GetObjectAttributes: attributes.get_object_attributes,
    **{op: not_implemented for op in NOT_IMPLEMENTED},
}
