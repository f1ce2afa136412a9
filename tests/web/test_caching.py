"""private_cache_headers: the Cache-Control and Vary of a per-visitor response."""

from __future__ import annotations

import pytest

from posthog_web.web.caching import private_cache_headers


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "private"),
        ("", "private"),
        ("public", "private"),
        ("public, max-age=600", "private, max-age=600"),
        ("max-age=60, s-maxage=3600, proxy-revalidate", "private, max-age=60"),
        ("no-cache", "private, no-cache"),
        ("Public, Max-Age=5, must-revalidate", "private, Max-Age=5, must-revalidate"),
        # Already at least as strict: kept as the app wrote it.
        ("no-store", "no-store"),
        ("private, max-age=60", "private, max-age=60"),
        ('private="Set-Cookie", max-age=60', 'private="Set-Cookie", max-age=60'),
        ("no-store, public", "no-store, public"),
    ],
)
def test_cache_control(given: str | None, expected: str) -> None:
    assert private_cache_headers(given, None)[0] == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "Cookie"),
        ("Accept-Encoding", "Accept-Encoding, Cookie"),
        ("accept-encoding,cookie", "accept-encoding, cookie"),
        ("*", "*"),
    ],
)
def test_vary(given: str | None, expected: str) -> None:
    assert private_cache_headers(None, given)[1] == expected
