"""Turn a capture request body into JSON the way PostHog's v0 capture does.

See docs/posthog-ingestion.md §1.5: form bodies with ``data=``, the ``compression`` hint (query
parameter, then form field, then ``Content-Encoding``), gzip detected by its magic bytes, and a
body that is strict base64 JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

GZIP_MAGIC = b"\x1f\x8b"
_BASE64_RE = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_FORM_TYPE = "application/x-www-form-urlencoded"
_GZIP_HINTS = frozenset({"gzip", "gzip-js"})
_BASE64_HINTS = frozenset({"base64", "b64"})
_LZ_HINTS = frozenset({"lz64", "lz-string"})
# A leftover layer of base64 (or base64 around gzip) is undone at most this many times.
_MAX_LAYERS = 3


class DecodeError(ValueError):
    """The body cannot be decoded; ``status`` is what capture answers (400 or 413)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def too_big(limit: int) -> DecodeError:
    """The refusal for a payload over the route's limit."""
    return DecodeError(413, "event_too_big", f"payload is over the {limit} byte limit")


def decode_body(
    body: bytes,
    *,
    query: Mapping[str, str],
    content_type: str | None,
    content_encoding: str | None,
    limit: int,
) -> Any:
    """Decode a capture body (or a GET ``data=`` value) into a JSON value.

    Raises DecodeError when the body is undecodable (400) or over ``limit`` bytes once
    decompressed (413).
    """
    if len(body) > limit:
        raise too_big(limit)
    hint = query.get("compression")
    if content_type is not None and content_type.split(";")[0].strip().lower() == _FORM_TYPE:
        body, form_hint = _read_form(body)
        hint = hint or form_hint
    if not hint and content_encoding == "gzip":
        hint = "gzip"
    return _unwrap(body, (hint or "").strip().lower(), limit)


def _read_form(body: bytes) -> tuple[bytes, str | None]:
    try:
        form = parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise DecodeError(400, "invalid_payload", "form body is not ASCII") from None
    if not form.get("data"):
        raise DecodeError(400, "invalid_payload", "form body has no data field")
    hint = form.get("compression", [None])[0]
    return form["data"][0].encode("utf-8"), hint


def _unwrap(data: bytes, hint: str, limit: int) -> Any:
    if hint in _LZ_HINTS:
        raise DecodeError(400, "unsupported_compression", "lz-string is not supported here")
    if data[:2] == GZIP_MAGIC or hint in _GZIP_HINTS:
        data = gunzip(data, limit)
    elif hint in _BASE64_HINTS:
        decoded = _strict_base64(data)
        if decoded is None:
            raise DecodeError(400, "invalid_payload", "body is not valid base64")
        data = _maybe_gunzip(decoded, limit)
    for _ in range(_MAX_LAYERS):
        try:
            return parse_json(data)
        except ValueError:
            decoded = _strict_base64(data)
            if decoded is None:
                break
            data = _maybe_gunzip(decoded, limit)
    raise DecodeError(400, "invalid_payload", "body is not valid JSON")


def _maybe_gunzip(data: bytes, limit: int) -> bytes:
    return gunzip(data, limit) if data[:2] == GZIP_MAGIC else data


def gunzip(data: bytes, limit: int) -> bytes:
    """Gunzip ``data``, refusing to inflate past ``limit`` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise DecodeError(400, "invalid_payload", "body is not valid gzip") from None
    if len(out) > limit:
        raise too_big(limit)
    if not inflater.eof:
        raise DecodeError(400, "invalid_payload", "gzip body is truncated")
    return out


def _strict_base64(data: bytes) -> bytes | None:
    # Form decoding turns an unescaped "+" into a space; put it back.
    text = data.strip().replace(b" ", b"+").replace(b"\r", b"").replace(b"\n", b"")
    if not text or _BASE64_RE.fullmatch(text) is None:
        return None
    text += b"=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(data: bytes) -> Any:
    """Parse strict JSON (no NaN, no lone surrogates, bounded nesting); raise ValueError."""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
        # serde_json refuses unpaired surrogates, and SQLite cannot store them.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None
    return value
