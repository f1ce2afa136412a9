"""Reading a request body as PostHog's capture service does: a length or chunks, bounded."""

from __future__ import annotations

from email.message import Message
from io import BufferedIOBase

#: An oversized body is read and discarded up to this size so the client sees the 413.
MAX_DRAIN = 64 * 1024 * 1024


class BodyProblem(Exception):
    """The body is too big, has a bad length, or ended early (``kind``)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def read_body(rfile: BufferedIOBase, headers: Message, limit: int) -> bytes:
    """Read the request body; raise BodyProblem("too_big" | "bad_length" | "incomplete")."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        return _read_chunked(rfile, limit)
    raw_length = headers.get("Content-Length")
    if raw_length is None:
        return b""
    if not raw_length.strip().isdecimal():
        raise BodyProblem("bad_length")
    length = int(raw_length)
    if length > limit:
        if length <= MAX_DRAIN:
            _exact(rfile, length, discard=True)
        raise BodyProblem("too_big")
    return _exact(rfile, length)


def _exact(rfile: BufferedIOBase, length: int, discard: bool = False) -> bytes:
    chunks, remaining = [], length
    while remaining:
        chunk = rfile.read(min(remaining, 1 << 16))
        if not chunk:
            raise BodyProblem("incomplete")
        remaining -= len(chunk)
        if not discard:
            chunks.append(chunk)
    return b"".join(chunks)


def _read_chunked(rfile: BufferedIOBase, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = rfile.readline(1024)
        if not size_line.endswith(b"\n"):
            raise BodyProblem("incomplete")
        try:
            size = int(size_line.split(b";")[0].strip(), 16)
        except ValueError:
            raise BodyProblem("bad_length") from None
        if size < 0:
            raise BodyProblem("bad_length")
        if size == 0:
            # Skip trailers up to the blank line.
            while rfile.readline(1024).strip():
                pass
            return b"".join(chunks)
        total += size
        if total > limit:
            raise BodyProblem("too_big")
        chunks.append(_exact(rfile, size))
        rfile.readline(8)
