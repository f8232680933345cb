"""The request-document parser: bounded depth, elements and tag length; large documents off the loop."""

from __future__ import annotations

import asyncio

import pytest

from s3gw.api import xml as X

HUGE = 4_700_000  # the size of the hostile bodies of the security issue (under the 5 MiB cap)


def test_deep_nesting_is_refused_where_it_starts() -> None:
    n = HUGE // 7
    body = b"<Tagging>" + b"<a>" * n + b"</a>" * n + b"</Tagging>"
    with pytest.raises(X.XMLError, match="nested deeper") as e:
        X.parse(body)
    # parsing stopped at the element past the bound, not after reading the document
    assert e.value.offset is not None and e.value.offset < 200


def test_too_many_elements_are_refused_early() -> None:
    body = b"<Tagging><TagSet>" + b"<Tag/>" * (HUGE // 6) + b"</TagSet></Tagging>"
    with pytest.raises(X.XMLError, match="more than 20000 elements") as e:
        X.parse(body)
    assert e.value.offset is not None and e.value.offset < 20_001 * 6 + 100


def test_attributes_and_namespace_declarations_count_as_elements() -> None:
    attrs = b" ".join(b'a%d="1"' % i for i in range(600))
    X.parse(b"<Tagging " + attrs + b"/>")  # 600: fine
    many = b"".join(b"<T " + attrs + b"/>" for _ in range(40))
    with pytest.raises(X.XMLError, match="elements"):
        X.parse(b"<Tagging>" + many + b"</Tagging>")
    ns = b" ".join(b'xmlns:p%d="u%d"' % (i, i) for i in range(300))
    with pytest.raises(X.XMLError, match="elements"):
        X.parse(b"<Tagging>" + b"".join(b"<T " + ns + b"/>" for _ in range(70)) + b"</Tagging>")


def test_a_huge_start_tag_is_refused_before_expat_reads_it() -> None:
    body = b"<Tagging " + b" ".join(b'a%d="1"' % i for i in range(400_000)) + b"/>"
    with pytest.raises(X.XMLError, match="start tag longer") as e:
        X.parse(body)
    assert e.value.offset == 0
    # long text, comments and CDATA are not tags
    X.parse(b"<a>" + b"x" * 100_000 + b"<!--" + b"y" * 10_000 + b"--><![CDATA[" + b"z" * 10_000 + b"]]></a>")


def test_the_largest_legitimate_document_parses() -> None:
    part = b'<Part><PartNumber>%d</PartNumber><ETag>"%032x"</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>'
    body = (
        b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        + b"".join(part % (i, i) for i in range(1, 10001))
        + b"</CompleteMultipartUpload>"
    )
    with pytest.raises(X.XMLError):
        X.parse(body)  # past the default budget...
    doc = X.parse(body, max_elements=100_001)  # ...within CompleteMultipartUpload's
    assert len(doc["CompleteMultipartUpload"]["Part"]) == 10000
    # S3's real depth (LifecycleConfiguration/Rule/Filter/And/Tag/Key) is far from the bound
    X.parse(b"<L><Rule><Filter><And><Tag><Key>k</Key></Tag></And></Filter></Rule></L>")
    assert X.MAX_DEPTH >= 10


def test_entities_stay_refused() -> None:
    with pytest.raises(X.XMLError):
        X.parse(b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><Delete>&a;</Delete>")


async def test_large_documents_are_parsed_off_the_event_loop() -> None:
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    t = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        big = b"<Tagging><TagSet>" + b"<Tag><Key>k</Key></Tag>" * 5000 + b"</TagSet></Tagging>"
        assert len(big) > X.INLINE_PARSE
        before = ticks
        doc = await X.parse_async(big)
        # the loop ran other tasks while the document was parsed (a worker thread did it)
        assert ticks > before and len(doc["Tagging"]["TagSet"]["Tag"]) == 5000
        small = b"<Tagging><TagSet/></Tagging>"
        before = ticks
        assert await X.parse_async(small) == {"Tagging": {"TagSet": None}}
        assert ticks == before  # small documents are parsed inline
        with pytest.raises(X.XMLError):
            await X.parse_async(b"<a>" * 20_000 + b"</a>" * 20_000)
    finally:
        stop = True
        await t
