"""aws-chunked decoding: any feed split, every tampering and truncation caught, bounded buffering."""

from __future__ import annotations

import base64
import io
import zlib
from collections.abc import Sequence

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum
from hypothesis import given, settings
from hypothesis import strategies as st

from s3gw.auth import (
    EMPTY_SHA256,
    MAX_LINE,
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    AuthError,
    AuthResult,
    ChunkedDecoder,
    PayloadHasher,
)

from .helpers import chunk_signature, chunked_example_auth, encode_signed, encode_unsigned, status_of

MODES = [STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER]
CRC_NAME = "x-amz-checksum-crc32"


AUTH = chunked_example_auth()
UNSIGNED = AuthResult(anonymous=True, content_sha256=STREAMING_UNSIGNED_PAYLOAD_TRAILER)


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def encode(mode: str, data: bytes, chunk_size: int, trailers: dict[str, str] | None) -> bytes:
    if mode == STREAMING_PAYLOAD:
        return encode_signed(AUTH, data, chunk_size)
    if mode == STREAMING_PAYLOAD_TRAILER:
        return encode_signed(AUTH, data, chunk_size, trailers or {})
    return encode_unsigned(data, chunk_size, trailers)


def decoder(mode: str, names: Sequence[str] = (), declared: int | None = None) -> ChunkedDecoder:
    return ChunkedDecoder(AUTH if mode != STREAMING_UNSIGNED_PAYLOAD_TRAILER else UNSIGNED, mode, names, declared)


def decode(dec: ChunkedDecoder, body: bytes, cuts: Sequence[int] = ()) -> tuple[bytes, dict[str, str]]:
    out: list[bytes] = []
    prev = 0
    for cut in sorted({c for c in cuts if 0 < c < len(body)}) + [len(body)]:
        out += dec.feed(body[prev:cut])
        prev = cut
    trailers = dec.finish()
    return b"".join(out), trailers


# ------------------------------------------------------------------ round trips


@settings(max_examples=200, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    data=st.binary(max_size=5000),
    chunk_size=st.integers(1, 3000),
    with_trailer=st.booleans(),
    cuts=st.lists(st.integers(0, 6000), max_size=30),
    declare=st.booleans(),
)
def test_round_trip_any_split(
    mode: str, data: bytes, chunk_size: int, with_trailer: bool, cuts: list[int], declare: bool
) -> None:
    trailers = {CRC_NAME: crc32_b64(data)} if with_trailer and mode != STREAMING_PAYLOAD else None
    body = encode(mode, data, chunk_size, trailers)
    names = [CRC_NAME] if trailers else []
    got, got_trailers = decode(decoder(mode, names, len(data) if declare else None), body, cuts)
    assert got == data
    assert got_trailers == (trailers or {})


@pytest.mark.parametrize("mode", MODES)
def test_one_byte_at_a_time(mode: str) -> None:
    data = bytes(range(256)) * 20
    trailers = None if mode == STREAMING_PAYLOAD else {CRC_NAME: crc32_b64(data)}
    body = encode(mode, data, 1000, trailers)
    dec = decoder(mode, [CRC_NAME] if trailers else [], len(data))
    out = b"".join(b"".join(dec.feed(body[i : i + 1])) for i in range(len(body)))
    assert out == data
    assert dec.finish() == (trailers or {})


def test_botocore_unsigned_trailer_body() -> None:
    data = b"hello world" * 10000
    wrapper = AwsChunkedWrapper(io.BytesIO(data), checksum_cls=Crc32Checksum, checksum_name=CRC_NAME, chunk_size=7000)
    body = wrapper.read()
    got, trailers = decode(decoder(STREAMING_UNSIGNED_PAYLOAD_TRAILER, [CRC_NAME], len(data)), body, [5, 7001, 7003])
    assert got == data and trailers == {CRC_NAME: crc32_b64(data)}
    # Without a checksum botocore ends with "0\r\n\r\n".
    body = AwsChunkedWrapper(io.BytesIO(data)).read()
    assert decode(decoder(STREAMING_UNSIGNED_PAYLOAD_TRAILER), body) == (data, {})


def test_data_is_streamed_before_the_chunk_ends() -> None:
    body = encode_signed(AUTH, b"x" * 100000, chunk_size=100000)
    dec = decoder(STREAMING_PAYLOAD)
    header_end = body.index(b"\r\n") + 2
    assert dec.feed(body[: header_end + 10]) == [b"x" * 10]
    assert dec.feed(body[header_end + 10 : header_end + 30]) == [b"x" * 20]
    assert dec.decoded_bytes == 30


def test_lenient_endings() -> None:
    data = b"abc" * 100
    # No final CRLF after the last chunk / after the trailer signature.
    assert decode(decoder(STREAMING_PAYLOAD), encode_signed(AUTH, data, 64, final_crlf=False))[0] == data
    body = encode_signed(AUTH, data, 64, {CRC_NAME: crc32_b64(data)}, final_crlf=False)
    assert decode(decoder(STREAMING_PAYLOAD_TRAILER, [CRC_NAME]), body)[1] == {CRC_NAME: crc32_b64(data)}
    # Unsigned chunk extensions are ignored.
    body = b"3;foo=bar\r\nabc\r\n0\r\n\r\n"
    assert decode(decoder(STREAMING_UNSIGNED_PAYLOAD_TRAILER), body) == (b"abc", {})
    # Multiple trailers, any order.
    body = encode_signed(AUTH, data, 64, {"x-amz-checksum-sha256": "AAAA", CRC_NAME: crc32_b64(data)})
    assert len(decode(decoder(STREAMING_PAYLOAD_TRAILER, [CRC_NAME, "x-amz-checksum-sha256"]), body)[1]) == 2


# ------------------------------------------------------------------ tampering


SIGNED_BODIES = {
    "no-trailer": (STREAMING_PAYLOAD, encode_signed(AUTH, b"0123456789abcdef" * 5, 30), []),
    "trailer": (
        STREAMING_PAYLOAD_TRAILER,
        encode_signed(AUTH, b"0123456789abcdef" * 5, 30, {CRC_NAME: "AAAAAA=="}),
        [CRC_NAME],
    ),
}


@pytest.mark.parametrize("case", SIGNED_BODIES)
def test_every_flipped_byte_is_caught(case: str) -> None:
    mode, body, names = SIGNED_BODIES[case]
    for i in range(len(body)):
        bad = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
        with pytest.raises(AuthError) as e:
            decode(decoder(mode, names), bad)
        assert e.value.code in {"SignatureDoesNotMatch", "IncompleteBody", "MalformedTrailerError"}, i


@pytest.mark.parametrize("case", SIGNED_BODIES)
def test_every_truncation_is_caught(case: str) -> None:
    mode, body, names = SIGNED_BODIES[case]
    # Only the very last CRLF may be missing (some encoders omit it).
    for n in range(len(body) - 2):
        with pytest.raises(AuthError) as e:
            decode(decoder(mode, names), body[:n])
        assert e.value.code == "IncompleteBody", n
    decode(decoder(mode, names), body[:-2])


def test_tampered_data_is_signature_mismatch() -> None:
    body = encode_signed(AUTH, b"a" * 100, 40)
    bad = body.replace(b"a" * 40, b"a" * 39 + b"b", 1)
    with pytest.raises(AuthError) as e:
        decode(decoder(STREAMING_PAYLOAD), bad)
    assert e.value.code == "SignatureDoesNotMatch" and status_of(e.value) == 403


def test_reordered_chunks_fail() -> None:
    c1, c2 = b"A" * 10, b"B" * 10
    s1 = chunk_signature(AUTH, AUTH.signature, c1)
    s2 = chunk_signature(AUTH, s1, c2)
    first = f"a;chunk-signature={s1}\r\n".encode() + c1 + b"\r\n"
    second = f"a;chunk-signature={s2}\r\n".encode() + c2 + b"\r\n"
    with pytest.raises(AuthError, match="SignatureDoesNotMatch"):
        decoder(STREAMING_PAYLOAD).feed(second + first)


def test_signature_chain_starts_at_the_seed() -> None:
    other = AuthResult(**{**AUTH.__dict__, "signature": "1" * 64})
    with pytest.raises(AuthError, match="SignatureDoesNotMatch"):
        ChunkedDecoder(other, STREAMING_PAYLOAD).feed(encode_signed(AUTH, b"abc", 10))


@pytest.mark.parametrize(
    "body",
    [
        b"3\r\nabc\r\n",  # no signature in signed mode
        b"3;chunk-signature\r\nabc\r\n",
        b"3;chunk-sig=" + b"0" * 64 + b"\r\n",
        b"x;chunk-signature=" + b"0" * 64 + b"\r\n",
        b"0x3;chunk-signature=" + b"0" * 64 + b"\r\n",
        b"1_0;chunk-signature=" + b"0" * 64 + b"\r\n",
        b";chunk-signature=" + b"0" * 64 + b"\r\n",
        b"11111111111111111;chunk-signature=" + b"0" * 64 + b"\r\n",  # 17 hex digits
        b"0;chunk-signature=" + b"0" * 64 + b"\n",  # bare LF
    ],
)
def test_malformed_framing(body: bytes) -> None:
    with pytest.raises(AuthError) as e:
        decode(decoder(STREAMING_PAYLOAD), body)
    assert e.value.code == "IncompleteBody"


def test_bad_signature_forms() -> None:
    for sig in (b"0" * 63, b"0" * 65, b"", "é".encode() * 32):
        with pytest.raises(AuthError) as e:
            decoder(STREAMING_PAYLOAD).feed(b"0;chunk-signature=" + sig + b"\r\n")
        assert e.value.code == "SignatureDoesNotMatch"
    good = chunk_signature(AUTH, AUTH.signature, b"")
    with pytest.raises(AuthError, match="SignatureDoesNotMatch"):
        decoder(STREAMING_PAYLOAD).feed(f"0;chunk-signature={good.upper()}\r\n".encode())


def test_data_not_followed_by_crlf() -> None:
    body = encode_unsigned(b"abc", 3).replace(b"abc\r\n", b"abcX\n")
    with pytest.raises(AuthError, match="IncompleteBody"):
        decode(decoder(STREAMING_UNSIGNED_PAYLOAD_TRAILER), body)


def test_data_after_the_end() -> None:
    dec = decoder(STREAMING_PAYLOAD)
    with pytest.raises(AuthError, match="IncompleteBody"):
        dec.feed(encode_signed(AUTH, b"abc", 10) + b"more")


def test_errors_are_sticky() -> None:
    dec = decoder(STREAMING_PAYLOAD)
    with pytest.raises(AuthError) as first:
        dec.feed(b"zz\r\n")
    with pytest.raises(AuthError) as again:
        dec.feed(b"")
    assert again.value is first.value
    with pytest.raises(AuthError) as at_end:
        dec.finish()
    assert at_end.value is first.value


# ------------------------------------------------------------------ trailers


@pytest.mark.parametrize("mode", [STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER])
def test_trailer_errors(mode: str) -> None:
    data = b"payload"
    crc = crc32_b64(data)

    def run(trailers: dict[str, str], names: list[str]) -> AuthError:
        with pytest.raises(AuthError) as e:
            decode(decoder(mode, names), encode(mode, data, 4, trailers))
        return e.value

    assert run({CRC_NAME: crc}, []).code == "MalformedTrailerError"  # not announced
    assert run({CRC_NAME: crc}, ["x-amz-checksum-crc32c"]).code == "MalformedTrailerError"  # another one
    assert run({}, [CRC_NAME]).code == "MalformedTrailerError"  # announced, never sent
    # A line without a colon; a duplicate.
    if mode == STREAMING_UNSIGNED_PAYLOAD_TRAILER:
        bad = encode_unsigned(data, 4, {CRC_NAME: crc}).replace(f"{CRC_NAME}:".encode(), CRC_NAME.encode())
        with pytest.raises(AuthError, match="MalformedTrailerError"):
            decode(decoder(mode, [CRC_NAME]), bad)
        dup = encode_unsigned(data, 4).replace(
            b"0\r\n\r\n", f"0\r\n{CRC_NAME}:{crc}\r\n{CRC_NAME}:{crc}\r\n\r\n".encode()
        )
        with pytest.raises(AuthError, match="MalformedTrailerError"):
            decode(decoder(mode, [CRC_NAME]), dup)


def test_trailer_names_are_case_insensitive() -> None:
    data = b"abc"
    body = encode_unsigned(data, 2, {"X-Amz-Checksum-CRC32": crc32_b64(data)})
    assert decode(decoder(STREAMING_UNSIGNED_PAYLOAD_TRAILER, ["x-amz-checksum-crc32"]), body)[1] == {
        CRC_NAME: crc32_b64(data)
    }


def test_signed_trailer_without_signature() -> None:
    body = encode_signed(AUTH, b"abc", 2, {CRC_NAME: crc32_b64(b"abc")})
    cut = body[: body.index(b"x-amz-trailer-signature")] + b"\r\n"
    with pytest.raises(AuthError, match="MalformedTrailerError"):
        decode(decoder(STREAMING_PAYLOAD_TRAILER, [CRC_NAME]), cut)


def test_signed_trailer_value_is_signed() -> None:
    body = encode_signed(AUTH, b"abc", 2, {CRC_NAME: crc32_b64(b"abc")})
    bad = body.replace(crc32_b64(b"abc").encode(), crc32_b64(b"abd").encode())
    with pytest.raises(AuthError, match="SignatureDoesNotMatch"):
        decode(decoder(STREAMING_PAYLOAD_TRAILER, [CRC_NAME]), bad)


def test_unsigned_mode_rejects_a_trailer_signature_it_did_not_announce() -> None:
    body = b"0\r\nx-amz-trailer-signature:" + b"0" * 64 + b"\r\n\r\n"
    with pytest.raises(AuthError, match="MalformedTrailerError"):
        decode(decoder(STREAMING_UNSIGNED_PAYLOAD_TRAILER), body)


def test_trailers_after_a_no_trailer_stream() -> None:
    body = encode_signed(AUTH, b"abc", 2)[:-2] + f"{CRC_NAME}:AAAAAA==\r\n\r\n".encode()
    with pytest.raises(AuthError, match="MalformedTrailerError"):
        decode(decoder(STREAMING_PAYLOAD), body)


def test_trailer_names_ignored_without_trailer_mode() -> None:
    # MinIO drops x-amz-trailer unless the mode carries trailers.
    assert decode(decoder(STREAMING_PAYLOAD, [CRC_NAME]), encode_signed(AUTH, b"abc", 2)) == (b"abc", {})


# ------------------------------------------------------------------ limits


def test_header_line_is_capped() -> None:
    dec = decoder(STREAMING_UNSIGNED_PAYLOAD_TRAILER)
    fed = 0
    with pytest.raises(AuthError) as e:
        for _ in range(10_000):  # 10 MB of chunk-size digits, never a newline
            dec.feed(b"1" * 1024)
            fed += 1024
    assert e.value.code == "IncompleteBody"
    assert fed <= MAX_LINE


def test_trailer_line_is_capped() -> None:
    dec = decoder(STREAMING_UNSIGNED_PAYLOAD_TRAILER, [CRC_NAME])
    dec.feed(b"0\r\n" + CRC_NAME.encode() + b":")
    with pytest.raises(AuthError, match="MalformedTrailerError"):
        for _ in range(100):
            dec.feed(b"A" * 1024)


def test_decoded_length() -> None:
    body = encode_signed(AUTH, b"x" * 100, 30)
    with pytest.raises(AuthError) as e:
        decode(decoder(STREAMING_PAYLOAD, declared=99), body)
    assert e.value.code == "ExcessData"
    with pytest.raises(AuthError) as e:
        decode(decoder(STREAMING_PAYLOAD, declared=101), body)
    assert e.value.code == "IncompleteBody"
    # Excess is refused at the chunk header, before any of its data is handed out.
    dec = decoder(STREAMING_PAYLOAD, declared=10)
    with pytest.raises(AuthError, match="ExcessData"):
        dec.feed(body[: body.index(b"\r\n") + 2])


def test_constructor_checks() -> None:
    with pytest.raises(ValueError):
        ChunkedDecoder(AUTH, "UNSIGNED-PAYLOAD")
    with pytest.raises(ValueError):
        ChunkedDecoder(UNSIGNED, STREAMING_PAYLOAD)
    with pytest.raises(ValueError):
        ChunkedDecoder(AUTH, STREAMING_PAYLOAD, decoded_length=-1)
    # Unsigned streaming needs no credentials.
    ChunkedDecoder(AuthResult(anonymous=True), STREAMING_UNSIGNED_PAYLOAD_TRAILER)


# ------------------------------------------------------------------ PayloadHasher


def test_payload_hasher() -> None:
    h = PayloadHasher(EMPTY_SHA256)
    h.finish()
    h = PayloadHasher("44CE7DD67C959E0D3524FFAC1771DFBBA87D2B6B4B4E99E42034A8B803F8B072")  # either case
    for piece in (b"Welcome ", b"to ", b"Amazon S3."):
        h.update(piece)
    h.finish()
    h = PayloadHasher(EMPTY_SHA256)
    h.update(b"x")
    with pytest.raises(AuthError) as e:
        h.finish()
    assert (e.value.code, status_of(e.value)) == ("XAmzContentSHA256Mismatch", 400)
    for bad in ("", "abc", "g" * 64, EMPTY_SHA256 + "0", "UNSIGNED-PAYLOAD"):
        with pytest.raises(AuthError, match="XAmzContentSHA256Mismatch"):
            PayloadHasher(bad)
