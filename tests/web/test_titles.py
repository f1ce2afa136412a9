"""The page's <title>, read from the start of an HTML body (posthog-js's document.title)."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_web.web.titles import MAX_TITLE_LENGTH, MAX_TITLE_SCAN, html_title

HTML = "text/html; charset=utf-8"


@pytest.mark.parametrize(
    ("body", "title"),
    [
        (b"<!doctype html><title>Breads</title>", "Breads"),
        (b"<html><head><TITLE lang='en'>Shouty</TITLE></head>", "Shouty"),
        (
            b"<title>Fish &amp; chips &#8211; caf&eacute; &lt;3</title>",
            "Fish & chips \u2013 caf\u00e9 <3",
        ),
        (b"<title>\n   Breads\n\t|  Wagtail \r\n bakery </title >", "Breads | Wagtail bakery"),
        ("<title>Brot · Bäckerei</title>".encode(), "Brot · Bäckerei"),
        (b"<titles>no</titles><title>yes</title>", "yes"),
        (b"<title></title>", None),
        (b"<title>   </title>", None),
        (b"<title>never closed", None),
        (b"<title", None),
        (b"<p>no title at all</p>", None),
        (b"", None),
        (b"<title>\xff\xfe broken</title>", "\ufffd\ufffd broken"),
    ],
)
def test_titles(body: bytes, title: str | None) -> None:
    assert html_title(body, HTML) == title


def test_the_charset_comes_from_the_content_type() -> None:
    body = "<title>Caf\u00e9</title>".encode("latin-1")
    assert html_title(body, "text/html; charset=ISO-8859-1") == "Caf\u00e9"
    assert html_title(body, 'text/html; charset="latin-1"') == "Caf\u00e9"
    assert html_title(body, "text/html") == "Caf\ufffd"  # utf-8 by default, replaced
    assert html_title(body, "text/html; charset=no-such-codec") == "Caf\ufffd"
    assert html_title("<title>x</title>".encode("utf-16"), "text/html; charset=utf-16") is None


def test_only_html_has_a_title() -> None:
    body = b"<title>x</title>"
    assert html_title(body, "application/xhtml+xml") == "x"
    for content_type in ("application/json", "text/plain", None, ""):
        assert html_title(body, content_type) is None


def test_a_title_past_the_first_bytes_is_not_read() -> None:
    huge_head = (
        b"<head>" + b"<meta name=x content=y>" * (MAX_TITLE_SCAN // 10) + b"<title>late</title>"
    )
    assert html_title(huge_head, HTML) is None
    opened_in_time = b"<title>" + b"a" * MAX_TITLE_SCAN + b"</title>"
    assert html_title(opened_in_time, HTML) is None  # not closed within the scan


def test_a_long_title_is_capped() -> None:
    title = html_title(b"<title>" + b"word " * 1000 + b"</title>", HTML)
    assert title is not None
    assert len(title) == MAX_TITLE_LENGTH


def test_memoryview_and_bytearray() -> None:
    assert html_title(bytearray(b"<title>a</title>"), HTML) == "a"
    assert html_title(memoryview(b"<title>b</title>"), HTML) == "b"


@given(st.binary(max_size=2000), st.sampled_from([HTML, "text/html; charset=latin-1", "text/html"]))
def test_any_body_gives_a_short_title_or_none(body: bytes, content_type: str) -> None:
    title = html_title(b"<title>" + body + b"</title>" + body, content_type)
    assert title is None or (0 < len(title) <= MAX_TITLE_LENGTH and title == title.strip())


PAGE = b"<!doctype html><html><head><title>Compressed &amp; read</title></head><body>x</body>"


def _deflate(data: bytes, wbits: int) -> bytes:
    compressor = zlib.compressobj(wbits=wbits)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (gzip.compress(PAGE), "gzip"),
        (gzip.compress(PAGE), " GZIP "),
        (gzip.compress(PAGE), "x-gzip"),
        (_deflate(PAGE, zlib.MAX_WBITS), "deflate"),  # RFC 9110: zlib-wrapped
        (_deflate(PAGE, -zlib.MAX_WBITS), "deflate"),  # the raw stream some servers send
        (PAGE, "identity"),
    ],
)
def test_a_compressed_body_is_read(body: bytes, encoding: str) -> None:
    assert html_title(body, HTML, encoding) == "Compressed & read"


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, br", "compress"])
def test_an_encoding_it_cannot_read_gives_no_title(encoding: str) -> None:
    assert html_title(gzip.compress(PAGE), HTML, encoding) is None


def test_a_body_that_is_not_what_its_encoding_says_gives_no_title() -> None:
    assert html_title(PAGE, HTML, "gzip") is None
    assert html_title(PAGE, HTML, "deflate") is None
    assert html_title(gzip.compress(PAGE)[:10], HTML, "gzip") is None  # cut short


def test_only_the_first_bytes_are_inflated() -> None:
    # 10 MB of zeros before the title: about 10 KB compressed, never inflated whole.
    bomb = gzip.compress(b"<head>" + b"\0" * 10_000_000 + b"<title>late</title>", 1)
    assert html_title(bomb, HTML, "gzip") is None
    late = gzip.compress(b" " * MAX_TITLE_SCAN + b"<title>late</title>")
    assert html_title(late, HTML, "gzip") is None  # the same scan as a plain body
