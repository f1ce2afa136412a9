from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from django.http.response import HttpResponseBase

COOKIE = "ph_web_id"
BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)


def anon_id_of(response: HttpResponseBase) -> str:
    """The anonymous id in the response's ph_web_id cookie."""
    return response.cookies[COOKIE].value.split(".")[1]


def posthog_js_cookie(**data: Any) -> str:
    """A ph_<token>_posthog cookie value as posthog-js writes it."""
    return quote(json.dumps(data), safe="")
