"""Request-body verification: plain sha256 payloads and aws-chunked streaming bodies.

aws-chunked (``Content-Encoding: aws-chunked``) is announced by
x-amz-content-sha256 (S3 API reference, sigv4-streaming.html and
sigv4-streaming-trailers.html)::

    STREAMING-AWS4-HMAC-SHA256-PAYLOAD           signed chunks
    STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER   signed chunks + signed trailers
    STREAMING-UNSIGNED-PAYLOAD-TRAILER           plain chunks + trailers (botocore/aws-cli over HTTPS)

Signed framing::

    <hex size>;chunk-signature=<64 hex>\\r\\n <size bytes> \\r\\n      ... repeated
    0;chunk-signature=<64 hex>\\r\\n                                   the final chunk
    \\r\\n                                                             (no-trailer mode)
    <name>:<value>\\r\\n ... x-amz-trailer-signature:<64 hex>\\r\\n \\r\\n  (trailer mode)

Unsigned framing is the same without ``;chunk-signature=...``, the trailers
ending with an empty line (botocore AwsChunkedWrapper: ``0\\r\\nx-amz-checksum-crc32:...\\r\\n\\r\\n``).

Every chunk signature chains on the previous one, the first on the seed (the
Authorization header's signature)::

    AWS4-HMAC-SHA256-PAYLOAD\\n<date>\\n<scope>\\n<prev sig>\\n<sha256("")>\\n<sha256(chunk data)>

and the trailer signature on the final chunk's::

    AWS4-HMAC-SHA256-TRAILER\\n<date>\\n<scope>\\n<prev sig>\\n<sha256(trailer lines)>

where the trailer lines are ``name:value\\n`` each (AWS's example hashes
``x-amz-checksum-crc32c:sOO8/Q==\\n``; MinIO readTrailers does the same).

Error codes: a bad chunk or trailer signature is SignatureDoesNotMatch; any
malformed framing or a truncated body is IncompleteBody (what S3 answers for
malformed aws-chunked bodies; MinIO answers a generic 400); trailer problems
are MalformedTrailerError; more data than x-amz-decoded-content-length is
ExcessData (MinIO), less is IncompleteBody.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Iterable

from .errors import AuthError
from .sigv4 import (
    EMPTY_SHA256,
    SIGNED_STREAMING_MODES,
    STREAMING_MODES,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    AuthResult,
    is_sha256_hex,
)

__all__ = ["MAX_LINE", "ChunkedDecoder", "PayloadHasher"]

# Longest chunk-header or trailer line we buffer (MinIO maxLineLength, 4 KiB).
# Chunk *data* is never buffered: it is handed out as it arrives.
MAX_LINE = 4096

_CHUNK_ALGORITHM = "AWS4-HMAC-SHA256-PAYLOAD"
_TRAILER_ALGORITHM = "AWS4-HMAC-SHA256-TRAILER"
_TRAILER_SIGNATURE = "x-amz-trailer-signature"
_CHUNK_SIGNATURE = b"chunk-signature="
_HEX_SIZE_RE = re.compile(rb"[0-9a-fA-F]{1,16}")

_MSG_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your key and signing method."
)
_MSG_TRAILER = (
    "The request contained trailing data that was not well-formed or did not conform to our published schema."
)


class PayloadHasher:
    """Verify a body against a hex x-amz-content-sha256 as it streams through."""

    def __init__(self, expected_hex: str) -> None:
        if not is_sha256_hex(expected_hex):
            raise AuthError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        self._expected = expected_hex.lower()
        self._h = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._h.update(data)

    @property
    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def finish(self) -> None:
        """Call at end of body; raises XAmzContentSHA256Mismatch if the digest differs."""
        if not hmac.compare_digest(self._h.hexdigest(), self._expected):
            raise AuthError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )


class _State(enum.Enum):
    HEADER = "chunk header line"
    DATA = "chunk data"
    DATA_CRLF = "CRLF after chunk data"
    TRAILER = "trailer lines"
    END_CRLF = "final empty line"
    DONE = "done"


def _malformed(what: str) -> AuthError:
    return AuthError("IncompleteBody", f"Malformed aws-chunked body: {what}.")


def _bad_trailer(what: str) -> AuthError:
    return AuthError("MalformedTrailerError", f"{_MSG_TRAILER} ({what})")


class ChunkedDecoder:
    """Incremental aws-chunked decoder and verifier, fed arbitrary pieces of the body.

    ``mode`` is the request's x-amz-content-sha256 value (one of
    ``STREAMING_MODES``); ``trailer_names`` are the lower-cased names listed in
    x-amz-trailer (ignored, as MinIO does, for the mode without trailers);
    ``decoded_length`` is x-amz-decoded-content-length when the client sent it.

    Memory is bounded: only one header/trailer line (<= ``MAX_LINE`` bytes) is
    buffered, chunk data is returned as soon as it arrives. Consequently data
    of a signed chunk is handed out *before* that chunk's signature has been
    checked (the check happens when its last byte arrives): nothing decoded
    may be made visible until :meth:`finish` has returned.

    After the first error every further call re-raises it.
    """

    def __init__(
        self,
        auth: AuthResult,
        mode: str,
        trailer_names: Iterable[str] = (),
        decoded_length: int | None = None,
    ) -> None:
        if mode not in STREAMING_MODES:
            raise ValueError(f"not an aws-chunked mode: {mode!r}")
        self._signed = mode in SIGNED_STREAMING_MODES
        self._with_trailer = mode in (STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_PAYLOAD_TRAILER)
        if self._signed and (
            auth.anonymous or not auth.signing_key or not auth.signature or not auth.scope or not auth.amz_date
        ):
            raise ValueError("signed aws-chunked decoding needs an authenticated AuthResult")
        if decoded_length is not None and decoded_length < 0:
            raise ValueError("decoded_length must be >= 0")
        self._key = auth.signing_key
        self._date = auth.amz_date
        self._scope = auth.scope
        self._prev_signature = auth.signature
        self._expected = {n.strip().lower() for n in trailer_names if n.strip()} if self._with_trailer else set()
        self._declared = decoded_length

        self._state = _State.HEADER
        self._line = bytearray()
        self._remaining = 0  # bytes left in the current chunk's data
        self._crlf_seen = 0  # bytes of the CRLF after chunk data seen so far
        self._chunk_hash = hashlib.sha256()
        self._chunk_signature = b""
        self._decoded = 0
        self._trailers: dict[str, str] = {}
        self._trailer_lines: list[bytes] = []
        self._skipped_blank = False
        self._error: AuthError | None = None

    @property
    def decoded_bytes(self) -> int:
        """Payload bytes decoded so far."""
        return self._decoded

    # ----------------------------------------------------------------- public

    def feed(self, data: bytes) -> list[bytes]:
        """Decode the next piece of the body; returns the payload pieces it completed."""
        if self._error is not None:
            raise self._error
        out: list[bytes] = []
        try:
            self._feed(data if isinstance(data, bytes) else bytes(data), out)
        except AuthError as e:
            self._error = e
            raise
        return out

    def finish(self) -> dict[str, str]:
        """Call at end of body: checks it ended properly; returns the trailers (lower-case names)."""
        if self._error is not None:
            raise self._error
        try:
            self._finish()
        except AuthError as e:
            self._error = e
            raise
        return dict(self._trailers)

    # --------------------------------------------------------------- decoding

    def _feed(self, data: bytes, out: list[bytes]) -> None:
        i, n = 0, len(data)
        while i < n:
            state = self._state
            if state is _State.DATA:
                take = min(self._remaining, n - i)
                piece = data if take == n else data[i : i + take]
                i += take
                self._remaining -= take
                self._decoded += take
                if self._signed:
                    self._chunk_hash.update(piece)
                out.append(piece)
                if self._remaining == 0:
                    if self._signed:
                        self._verify_chunk()
                    self._state = _State.DATA_CRLF
            elif state is _State.DATA_CRLF:
                if data[i] != b"\r\n"[self._crlf_seen]:
                    raise _malformed("chunk data not followed by CRLF")
                i += 1
                self._crlf_seen += 1
                if self._crlf_seen == 2:
                    self._crlf_seen = 0
                    self._state = _State.HEADER
            elif state is _State.DONE:
                raise _malformed("data after the end of the body")
            else:
                # A line state: buffer up to and including the LF, with a cap.
                j = data.find(b"\n", i)
                end = n if j < 0 else j + 1
                if len(self._line) + (end - i) > MAX_LINE:
                    if state is _State.TRAILER:
                        raise _bad_trailer("trailer line too long")
                    raise _malformed(f"{state.value} too long")
                self._line += data[i:end]
                i = end
                if j >= 0:
                    line = bytes(self._line)
                    self._line.clear()
                    if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
                        raise _malformed("line not terminated by CRLF")
                    self._on_line(line[:-2])

    def _on_line(self, line: bytes) -> None:
        state = self._state
        if state is _State.HEADER:
            self._on_chunk_header(line)
        elif state is _State.TRAILER:
            self._on_trailer(line)
        else:  # END_CRLF
            if line:
                if b":" in line:
                    raise _bad_trailer("unexpected trailer")
                raise _malformed("unexpected data after the final chunk")
            self._state = _State.DONE

    def _on_chunk_header(self, line: bytes) -> None:
        size_part, sep, ext = line.partition(b";")
        if not _HEX_SIZE_RE.fullmatch(size_part):
            raise _malformed("invalid chunk size")
        size = int(size_part, 16)
        if self._signed:
            if not sep or not ext.startswith(_CHUNK_SIGNATURE):
                raise _malformed("missing chunk-signature")
            self._chunk_signature = ext[len(_CHUNK_SIGNATURE) :]
        # (Unsigned chunks: HTTP chunk extensions, if any, carry nothing for us.)
        if self._declared is not None and self._decoded + size > self._declared:
            raise AuthError("ExcessData", "More data provided than indicated content length")
        if size:
            self._remaining = size
            self._state = _State.DATA
            return
        # The final, zero-length chunk: signed too (over the empty string).
        if self._signed:
            self._verify_chunk()
        self._state = _State.TRAILER if self._with_trailer else _State.END_CRLF

    def _sign(self, string_to_sign: str) -> bytes:
        return hmac.new(self._key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest().encode("ascii")

    def _verify_chunk(self) -> None:
        sts = "\n".join(
            [
                _CHUNK_ALGORITHM,
                self._date,
                self._scope,
                self._prev_signature,
                EMPTY_SHA256,
                self._chunk_hash.hexdigest(),
            ]
        )
        expected = self._sign(sts)
        if not hmac.compare_digest(expected, self._chunk_signature):
            raise AuthError("SignatureDoesNotMatch", _MSG_SIGNATURE)
        self._prev_signature = expected.decode("ascii")
        self._chunk_hash = hashlib.sha256()

    def _on_trailer(self, line: bytes) -> None:
        if not line:
            if not self._signed:
                self._state = _State.DONE  # the empty line ending the trailers
                return
            if not self._trailer_lines and not self._skipped_blank:
                # AWS's published trailer example has an empty line between
                # "0;chunk-signature=...\r\n" and the trailers; SDKs do not.
                # The signature line being mandatory, skipping it is unambiguous.
                self._skipped_blank = True
                return
            raise _bad_trailer("missing x-amz-trailer-signature")
        raw_name, sep, raw_value = line.partition(b":")
        try:
            name = raw_name.decode("ascii").strip(" \t").lower()
            value = raw_value.decode("ascii").strip(" \t")
        except UnicodeDecodeError:
            raise _bad_trailer("non-ASCII trailer") from None
        if not sep or not name:
            raise _bad_trailer("trailer line without a name")
        if self._signed and name == _TRAILER_SIGNATURE:
            self._verify_trailers(value)
            self._state = _State.END_CRLF
            return
        if name not in self._expected:
            raise _bad_trailer(f"{name} was not announced in x-amz-trailer")
        if name in self._trailers:
            raise _bad_trailer(f"duplicate {name}")
        self._trailers[name] = value
        self._trailer_lines.append(line)

    def _verify_trailers(self, provided: str) -> None:
        # The signed bytes: each trailer line + "\n", as received (MinIO); SDKs
        # that canonicalise (lower-case names, trimmed values, sorted; the .NET
        # SDK) sign the same bytes for the usual single checksum trailer, and
        # that form is accepted too.
        as_received = b"".join(line + b"\n" for line in self._trailer_lines)
        canonical = "".join(f"{k}:{v}\n" for k, v in sorted(self._trailers.items())).encode("ascii")
        candidates = [as_received] if canonical == as_received else [as_received, canonical]
        given = provided.encode("ascii")
        for body in candidates:
            sts = "\n".join(
                [_TRAILER_ALGORITHM, self._date, self._scope, self._prev_signature, hashlib.sha256(body).hexdigest()]
            )
            expected = self._sign(sts)
            if hmac.compare_digest(expected, given):
                self._prev_signature = expected.decode("ascii")
                return
        raise AuthError("SignatureDoesNotMatch", _MSG_SIGNATURE)

    def _finish(self) -> None:
        state = self._state
        if state is not _State.DONE:
            if self._line:
                raise _malformed("body ends inside a line")
            # Lenient about the very last CRLF, which some encoders leave out:
            # after the final chunk (no-trailer modes) or the trailer
            # signature, and after complete unsigned trailer lines.
            ok = state is _State.END_CRLF or (state is _State.TRAILER and not self._signed)
            if not ok:
                raise AuthError("IncompleteBody", f"The request body terminated unexpectedly (in {state.value}).")
            self._state = _State.DONE
        if self._declared is not None and self._decoded != self._declared:
            raise AuthError(
                "IncompleteBody",
                f"Decoded {self._decoded} bytes, x-amz-decoded-content-length announced {self._declared}.",
            )
        missing = self._expected - self._trailers.keys()
        if missing:
            raise _bad_trailer(f"missing trailer {', '.join(sorted(missing))}")
