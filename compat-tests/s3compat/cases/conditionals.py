"""Conditional reads: If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since,
alone and combined (RFC 7232 precedence as MinIO applies it), on GET and HEAD."""

from __future__ import annotations

import datetime as dt

from ..core import add, call

PAST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FUTURE = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
WRONG = '"00000000000000000000000000000000"'
CH = ("etag", "content-length", "last-modified")

# label -> (kwargs builder given (etag, last_modified), expected status)
CONDS = {
    "if-match-right": (lambda e, lm: {"IfMatch": e}, 200),
    "if-match-unquoted": (lambda e, lm: {"IfMatch": e.strip('"')}, 200),
    "if-match-wrong": (lambda e, lm: {"IfMatch": WRONG}, 412),
    "if-match-star": (lambda e, lm: {"IfMatch": "*"}, 200),
    "if-match-list": (lambda e, lm: {"IfMatch": f"{WRONG}, {e}"}, 412),  # MinIO takes one ETag only
    "if-none-match-right": (lambda e, lm: {"IfNoneMatch": e}, 304),
    "if-none-match-wrong": (lambda e, lm: {"IfNoneMatch": WRONG}, 200),
    "if-none-match-star": (lambda e, lm: {"IfNoneMatch": "*"}, 304),
    "if-modified-since-past": (lambda e, lm: {"IfModifiedSince": PAST}, 200),
    "if-modified-since-future": (lambda e, lm: {"IfModifiedSince": FUTURE}, 304),
    "if-modified-since-exact": (lambda e, lm: {"IfModifiedSince": lm}, 304),
    "if-unmodified-since-past": (lambda e, lm: {"IfUnmodifiedSince": PAST}, 412),
    "if-unmodified-since-future": (lambda e, lm: {"IfUnmodifiedSince": FUTURE}, 200),
    "if-unmodified-since-exact": (lambda e, lm: {"IfUnmodifiedSince": lm}, 200),
    "match-right+unmodified-past": (lambda e, lm: {"IfMatch": e, "IfUnmodifiedSince": PAST}, 200),
    "match-wrong+unmodified-future": (lambda e, lm: {"IfMatch": WRONG, "IfUnmodifiedSince": FUTURE}, 412),
    "none-match-right+modified-past": (lambda e, lm: {"IfNoneMatch": e, "IfModifiedSince": PAST}, 304),
    # MinIO evaluates each condition on its own (RFC 7232 would ignore the date here)
    "none-match-wrong+modified-future": (lambda e, lm: {"IfNoneMatch": WRONG, "IfModifiedSince": FUTURE}, 304),
    "match-right+none-match-right": (lambda e, lm: {"IfMatch": e, "IfNoneMatch": e}, 304),
    "match-wrong+none-match-wrong": (lambda e, lm: {"IfMatch": WRONG, "IfNoneMatch": WRONG}, 412),
    "match-wrong+modified-past": (lambda e, lm: {"IfMatch": WRONG, "IfModifiedSince": PAST}, 412),
    "unmodified-past+none-match-right": (lambda e, lm: {"IfUnmodifiedSince": PAST, "IfNoneMatch": e}, 304),
    "all-four-true": (
        lambda e, lm: {"IfMatch": e, "IfNoneMatch": WRONG, "IfModifiedSince": PAST, "IfUnmodifiedSince": FUTURE},
        200,
    ),
}


def _cond(kw, method):
    def fn(c):
        put = c.put("c", b"conditional body")
        head = c.admin.head_object(Bucket=c.bucket, Key="c")
        args = kw(put["ETag"], head["LastModified"])
        if method == "GET":
            return {"r": call(lambda: c.admin.get_object(Bucket=c.bucket, Key="c", **args), headers=CH, read=True)}
        return {"r": call(lambda: c.admin.head_object(Bucket=c.bucket, Key="c", **args), headers=CH)}

    return fn


for label, (kw, status) in CONDS.items():
    add(f"conditionals.get[{label}]", "GetObject", "boto3-wr", _cond(kw, "GET"), {"r.status": status})
    add(f"conditionals.head[{label}]", "HeadObject", "boto3-wr", _cond(kw, "HEAD"), {"r.status": status})


def _raw_date(value, header):
    def fn(c):
        c.put("c", b"x")
        from ..core import raw_obs

        return {"r": raw_obs(c.raw.request("GET", f"/{c.bucket}/c", headers={header: value}), headers=("etag",))}

    return fn


DATES = {
    "rfc1123": "Sat, 01 Jan 2000 00:00:00 GMT",
    "rfc850": "Saturday, 01-Jan-00 00:00:00 GMT",
    "asctime": "Sat Jan  1 00:00:00 2000",
    "iso8601": "2000-01-01T00:00:00Z",
    "garbage": "yesterday",
}
for label, value in DATES.items():
    add(
        f"conditionals.date-format[{label}]",
        "GetObject",
        "http",
        _raw_date(value, "if-modified-since"),
        {"r.status": lambda s: s in (200, 304)},
    )
    add(
        f"conditionals.date-format-unmodified[{label}]",
        "GetObject",
        "http",
        _raw_date(value, "if-unmodified-since"),
        {"r.status": lambda s: s in (200, 412)},
    )
