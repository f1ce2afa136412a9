"""The old home of the request tracker, kept because docs named it.

The tracker lives in :mod:`posthog_web.web.tracker` and its options in
:mod:`posthog_web.web.options`; this module only re-exports them.
"""

from __future__ import annotations

from posthog_web.web.options import TrackerOptions
from posthog_web.web.tracker import Tracker

__all__ = ["Tracker", "TrackerOptions"]
