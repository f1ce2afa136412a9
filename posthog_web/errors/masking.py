"""Secrets taken out of text that leaves the process: URL credentials and auth headers.

Applied to exception messages, source context lines and variable reprs; PostHog re-masks
code variables on its side (errors-groups.md A.3), but nothing else.
"""

from __future__ import annotations

import re

MASK = "[masked]"

# scheme://user:password@host -> scheme://user:[masked]@host
_URL_CREDENTIALS_RE = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@")
_AUTH_VALUE_RE = re.compile(r"\b(?P<head>(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=-]{8,}")


def mask_text(text: str) -> str:
    """``text`` with URL passwords and Bearer/Basic/Token values replaced by the mask."""
    if "@" in text:
        text = _URL_CREDENTIALS_RE.sub(rf"\g<head>{MASK}@", text)
    if "Bearer" in text or "Basic" in text or "Token" in text:
        text = _AUTH_VALUE_RE.sub(rf"\g<head>{MASK}", text)
    return text


def clean_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (an ellipsis marks the cut) and valid UTF-8.

    Lone surrogates (from undecodable file names, or built by hand) become U+FFFD: PostHog
    refuses a body that is not valid UTF-8.
    """
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if not text.isascii():
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text
