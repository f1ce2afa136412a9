"""posthog-js's per-app configuration and the ``<script>`` that loads and starts it.

:class:`PostHogJS` is built once with the tracker (:func:`posthog_js_config`) and, per
request, gets the visitor's bootstrap; :func:`render_snippet` writes the element. Nothing
here knows about requests or the helper: :mod:`posthog_web.web.snippet` finds those.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from posthog_web.web.identity import posthog_cookie_name

if TYPE_CHECKING:
    from posthog_web.client import Client

__all__ = [
    "DEFAULT_POSTHOG_JS_SRC",
    "PostHogJS",
    "SafeHTML",
    "check_posthog_js_options",
    "posthog_js_config",
    "render_snippet",
    "script_json",
]

#: Where the snippet loads posthog-js from unless configured: a copy of
#: ``posthog-js/dist/array.full.js`` (npm) that the app serves itself.
DEFAULT_POSTHOG_JS_SRC = "/static/posthog-js/array.full.js"

_SCRIPT_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}

# A queue that stands in for posthog-js until the script has loaded: posthog.init() and
# the listed methods are recorded, and posthog-js replays them (its snippet protocol:
# ``_i`` holds the init calls, the array the method calls).
_LOADER = (
    "!function(w,d,src){var p=w.posthog=w.posthog||[];if(p.__SV)return;p._i=[];"
    "p.init=function(t,c,n){p._i.push([t,c,n])};"
    '"capture identify alias register register_once unregister reset group '
    "setPersonProperties opt_in_capturing opt_out_capturing startSessionRecording "
    'stopSessionRecording".split(" ").forEach(function(m){p[m]=function(){'
    "p.push([m].concat(Array.prototype.slice.call(arguments)))}});p.__SV=1;"
    'var s=d.createElement("script");s.async=true;s.src=src;'
    "(d.head||d.documentElement).appendChild(s)}(window,document,{src});"
    "posthog.init({token},{options});"
)

# posthog.reset() before posthog-js loads: its cookie expired on this host and on every
# parent domain (cross_subdomain_cookie writes it on the site's registrable domain),
# and its localStorage and sessionStorage entries removed, so init() starts from the
# bootstrap alone and nothing of the previous visitor (id, session, $epp, initial
# person info) survives. The opt-out entry (``__ph_opt_in_out_``) is kept.
_RESET = (
    "!function(n,x){{var h=location.hostname.split('.'),i;"
    "for(i=0;i<h.length;i++)document.cookie=n+'=;Max-Age=0;path=/;domain='+h.slice(i).join('.');"
    "document.cookie=n+'=;Max-Age=0;path=/';"
    "['localStorage','sessionStorage'].forEach(function(t){{try{{var s=window[t],k;"
    "for(k=s.length-1;k>=0;k--)if((s.key(k)||'').indexOf(x)===0)s.removeItem(s.key(k))"
    "}}catch(e){{}}}})}}({name},{prefix});"
)


class SafeHTML(str):
    """Markup that Django and Jinja2 templates insert as is (it has ``__html__``)."""

    __slots__ = ()

    def __html__(self) -> str:
        return self


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element.

    ``<``, ``>`` and ``&`` become ``\\u003c``-style escapes (no ``</script>`` or
    ``<!--`` can close or confuse the element), and so do U+2028 and U+2029, which
    older JavaScript engines do not accept in string literals.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.translate(_SCRIPT_ESCAPES)


@dataclass(frozen=True, slots=True)
class PostHogJS:
    """What a page needs to start posthog-js: the token, the script and the init options.

    ``reset``: clear what posthog-js stored in this browser before ``init`` (its
    ``reset()``), because it holds a visitor the server no longer continues.
    """

    token: str
    script_src: str
    options: dict[str, Any] = field(default_factory=dict)
    reset: bool = False

    def with_bootstrap(self, bootstrap: dict[str, Any], *, reset: bool = False) -> PostHogJS:
        """A copy with ``bootstrap`` among the options (before the configured ones)."""
        return PostHogJS(
            self.token, self.script_src, {"bootstrap": bootstrap, **self.options}, reset
        )


def check_posthog_js_options(options: Any) -> None:
    """Validate the ``posthog_js_*`` fields of a ``TrackerOptions``."""
    if not isinstance(options.posthog_js_src, str) or not options.posthog_js_src.strip():
        raise ValueError(f"posthog_js_src must be a non-empty URL, not {options.posthog_js_src!r}")
    host = options.posthog_js_api_host
    if host is not None and (not isinstance(host, str) or not host.startswith("http")):
        raise ValueError(f"posthog_js_api_host must be an http(s) URL or None, not {host!r}")
    extra = options.posthog_js_options
    if extra is None:
        return
    if not isinstance(extra, Mapping) or not all(isinstance(k, str) for k in extra):
        raise TypeError("posthog_js_options must be a dict with str keys, or None")
    try:
        script_json(dict(extra))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"posthog_js_options must be JSON-compatible: {exc}") from None
    object.__setattr__(options, "posthog_js_options", dict(extra))


def posthog_js_config(options: Any, client: Client) -> PostHogJS | None:
    """The per-app part of :class:`PostHogJS`, built once with the tracker."""
    token = getattr(client, "api_key", None)
    if not isinstance(token, str) or not token or getattr(client, "disabled", False):
        return None  # a disabled client: the browser should not send either
    init: dict[str, Any] = {
        "api_host": options.posthog_js_api_host or client.host,
        "capture_pageview": False,
    }
    init.update(options.posthog_js_options or {})
    return PostHogJS(token, options.posthog_js_src, init)


def render_snippet(config: PostHogJS, *, nonce: str | None = None) -> SafeHTML:
    """The ``<script>`` element that loads posthog-js and calls ``posthog.init``."""
    script = ""
    if config.reset:
        name = posthog_cookie_name(config.token)
        script = _RESET.format(
            name=script_json(name), prefix=script_json(name.removesuffix("posthog"))
        )
    script += (
        _LOADER.replace("{src}", script_json(config.script_src))
        .replace("{token}", script_json(config.token))
        .replace("{options}", script_json(config.options))
    )
    attribute = f' nonce="{html.escape(nonce, quote=True)}"' if nonce else ""
    return SafeHTML(f"<script{attribute}>{script}</script>")
