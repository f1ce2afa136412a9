"""The old home of :func:`private_cache_headers`, kept because docs named it.

It lives in :mod:`posthog_web.web.caching`; this module only re-exports it.
"""

from __future__ import annotations

from posthog_web.web.caching import private_cache_headers

__all__ = ["private_cache_headers"]
