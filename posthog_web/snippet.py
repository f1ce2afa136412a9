"""The old home of :func:`posthog_snippet`, kept because docs named it.

The snippet lives in :mod:`posthog_web.web.snippet`; this module only re-exports it.
"""

from __future__ import annotations

from posthog_web.web.snippet import posthog_snippet

__all__ = ["posthog_snippet"]
