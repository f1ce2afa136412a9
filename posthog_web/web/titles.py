"""The page's ``<title>``, read from the start of an HTML response body.

posthog-js sends ``title`` as ``document.title``; the server sends the same thing, read
here once for every integration. Only the first :data:`MAX_TITLE_SCAN` bytes of a body
the framework already holds whole are looked at: a stream is never read or buffered.

A body a compressing middleware inside this package's already encoded (Django's
``GZipMiddleware`` listed below ``PostHogMiddleware``, Starlette's ``GZipMiddleware``
added before it) is read too: gzip and deflate are inflated up to those first bytes
and no further, so a compression bomb costs nothing. Other encodings (br, zstd)
give no title.
"""

from __future__ import annotations

import codecs
import html
import re
import zlib
from functools import lru_cache

__all__ = ["MAX_TITLE_LENGTH", "MAX_TITLE_SCAN", "html_title"]

#: How many bytes from the start of the body are searched for ``<title>``.
MAX_TITLE_SCAN = 8192
#: The longest title sent (characters, after decoding and collapsing whitespace).
MAX_TITLE_LENGTH = 500

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([\w.:-]+)", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=64)
def _codec(content_type: str | None) -> str:
    if content_type:
        found = _CHARSET.search(content_type)
        if found:
            try:
                return codecs.lookup(found.group(1)).name
            except LookupError:
                pass
    return "utf-8"


def html_title(
    body: bytes | bytearray | memoryview,
    content_type: str | None,
    content_encoding: str | None = None,
) -> str | None:
    """The text of the first ``<title>`` in the first bytes of ``body``, or None.

    Entities are decoded (``html.unescape``), runs of whitespace become one space, and
    the result is cut to :data:`MAX_TITLE_LENGTH` characters. The charset comes from
    ``content_type`` (UTF-8 by default; undecodable bytes are replaced). A title that is
    empty, or not closed within the scanned bytes, or a body that is not HTML, gives None.
    ``content_encoding`` is the response's Content-Encoding (gzip and deflate are read).
    """
    if not (content_type or "").lstrip().lower().startswith(_HTML_TYPES):
        return None
    if content_encoding is not None:
        inflated = _inflated_start(body, content_encoding)
        if inflated is None:
            return None
        body = inflated
    raw = _title_bytes(bytes(body[:MAX_TITLE_SCAN]).lower(), body)
    if raw is None:
        return None
    codec = _codec(content_type)
    if codec.startswith(("utf-16", "utf-32")):
        return None  # an ASCII-byte search cannot read these; such pages are rare
    text = raw.decode(codec, errors="replace")
    title = _SPACE.sub(" ", html.unescape(text)).strip()
    return title[:MAX_TITLE_LENGTH] or None


def _inflated_start(
    body: bytes | bytearray | memoryview, encoding: str
) -> bytes | bytearray | memoryview | None:
    """The start of an encoded body, at most :data:`MAX_TITLE_SCAN` bytes of it inflated
    (an identity body as it is); None when unreadable."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        window_bits = [zlib.MAX_WBITS | 16]
    elif encoding == "deflate":
        # RFC 9110's deflate is zlib-wrapped; some servers send the raw stream.
        window_bits = [zlib.MAX_WBITS, -zlib.MAX_WBITS]
    else:
        return None  # br, zstd, several codings: nothing here reads them
    for bits in window_bits:
        try:
            # max_length bounds the output, whatever the input inflates to.
            return zlib.decompressobj(bits).decompress(body, MAX_TITLE_SCAN)
        except zlib.error:
            continue
    return None


def _title_bytes(lower: bytes, body: bytes | bytearray | memoryview) -> bytes | None:
    # find() rather than a regular expression: linear in the scanned bytes, whatever
    # they hold (a page may reflect a visitor's input).
    at = lower.find(b"<title")
    while at >= 0:
        after = lower[at + 6 : at + 7]
        if after == b">" or (after and after.isspace()):
            start = lower.find(b">", at + 6)
            if start < 0:
                return None
            end = lower.find(b"</title", start)
            return None if end < 0 else bytes(body[start + 1 : end])
        at = lower.find(b"<title", at + 6)
    return None
