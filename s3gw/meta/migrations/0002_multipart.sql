-- Multipart uploads and their parts. A part's shards stay where UploadPart
-- wrote them: completing an upload moves the part table into the version's
-- layout in one transaction, it never copies data.
CREATE TABLE uploads (
    upload_id  TEXT PRIMARY KEY,
    bucket     TEXT NOT NULL,
    key        {{BLOB}} NOT NULL,
    initiated  DOUBLE PRECISION NOT NULL,
    info       TEXT NOT NULL DEFAULT '{}'
);
-- ListMultipartUploads walks (bucket, key, initiated): an index range scan
CREATE INDEX uploads_by_key ON uploads (bucket, key, initiated, upload_id);

CREATE TABLE parts (
    upload_id   TEXT NOT NULL,
    part_number INTEGER NOT NULL,
    size        BIGINT NOT NULL,
    etag        TEXT NOT NULL,
    mtime       DOUBLE PRECISION NOT NULL,
    info        TEXT NOT NULL DEFAULT '{}',
    layout      TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
