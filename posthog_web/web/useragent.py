"""Browser, OS and device from the User-Agent; language from Accept-Language.

The values use posthog-js's vocabulary and decision order (``packages/core/src/utils/
user-agent-utils.ts``), so that a server page view lands in the same row of a "Browser"
or "Device type" breakdown as the events posthog-js sends from the same browser, quirks
included. docs/browser.md has the measurements behind writing this instead of using a
parser package (tests/core/ua_cases.py holds the reference answers).

Results are cached per User-Agent string (bounded LRU): a site sees few distinct ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Any

__all__ = ["language_properties", "parse_user_agent", "user_agent_properties"]

PROP_BROWSER = "$browser"
PROP_BROWSER_VERSION = "$browser_version"
PROP_OS = "$os"
PROP_OS_VERSION = "$os_version"
PROP_DEVICE = "$device"
PROP_DEVICE_TYPE = "$device_type"
PROP_BROWSER_LANGUAGE = "$browser_language"
PROP_BROWSER_LANGUAGE_PREFIX = "$browser_language_prefix"

DESKTOP, MOBILE, TABLET, CONSOLE, WEARABLE = "Desktop", "Mobile", "Tablet", "Console", "Wearable"

_CACHE_SIZE = 4096
_MAX_USER_AGENT = 1000
_VERSION = r"(\d+(?:\.\d+)?)"


# Every rule gets the UA and its lower-case form; plain substring tests come first and
# gate the few regular expressions, which keeps an uncached parse cheap.
Rule = Callable[[str, str], bool]


def _has(*markers: str) -> Rule:
    if len(markers) == 1:
        marker = markers[0]
        return lambda ua, lower: marker in ua
    return lambda ua, lower: any(m in ua for m in markers)


def _blackberry(ua: str, lower: str) -> bool:
    return "blackberry" in lower or "playbook" in lower or "bb10" in lower


def _webkit_on_apple(ua: str, lower: str) -> bool:
    # posthog-js also accepts navigator.vendor "Apple Computer, Inc.", which every WebKit
    # browser on an Apple device reports; the server only has the UA, so infer it.
    if "Safari" in ua and "Chrome" not in ua and "Android" not in ua:
        return True
    return "AppleWebKit" in ua and any(d in ua for d in ("iPhone", "iPad", "iPod", "Macintosh"))


# (test, browser) in posthog-js's order: many UAs carry the markers of later entries too.
_BROWSERS: tuple[tuple[Rule, str], ...] = (
    (lambda ua, lower: " OPR/" in ua and "Mini" in ua, "Opera Mini"),
    (_has(" OPR/"), "Opera"),
    (_blackberry, "BlackBerry"),
    (_has("IEMobile", "WPDesktop"), "Internet Explorer Mobile"),
    (_has("OculusBrowser"), "Oculus Browser"),
    (_has("SamsungBrowser"), "Samsung Internet"),
    (_has("Edge", "Edg/"), "Microsoft Edge"),
    (_has("Vivaldi/"), "Vivaldi"),
    (_has("YaBrowser/"), "Yandex"),
    (_has("Whale/"), "Whale"),
    (_has("DuckDuckGo/", "Ddg/"), "DuckDuckGo"),
    (_has("FBIOS"), "Facebook Mobile"),
    (_has("UCWEB", "UCBrowser"), "UC Browser"),
    (_has("CriOS"), "Chrome iOS"),
    (_has("CrMo", "Chrome"), "Chrome"),
    (lambda ua, lower: "Android" in ua and "Safari" in ua, "Android Mobile"),
    (_has("FxiOS"), "Firefox iOS"),
    (lambda ua, lower: "konqueror" in lower, "Konqueror"),
    (_has("Brave/"), "Brave"),
    (_webkit_on_apple, "Safari"),  # "Mobile Safari" when the UA says Mobile
    (_has("PaleMoon/"), "Pale Moon"),
    (_has("Waterfox/"), "Waterfox"),
    (_has("Firefox"), "Firefox"),
    (_has("MSIE", "Trident/"), "Internet Explorer"),
    (_has("Gecko"), "Firefox"),
)


def _versions(*patterns: str, flags: int = 0) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p.replace("{v}", _VERSION), flags) for p in patterns)


_SAFARI_VERSION = _versions(r"Version/{v}")
_BROWSER_VERSIONS: dict[str, tuple[re.Pattern[str], ...]] = {
    "Internet Explorer Mobile": _versions(r"rv:{v}"),
    "Microsoft Edge": _versions(r"Edge?/{v}"),
    "Chrome": _versions(r"(?:Chrome|CrMo)/{v}"),
    "Chrome iOS": _versions(r"CriOS/{v}"),
    "UC Browser": _versions(r"(?:UCBrowser|UCWEB)/{v}"),
    "Safari": _SAFARI_VERSION,
    "Mobile Safari": _SAFARI_VERSION,
    "Opera": _versions(r"(?:Opera|OPR)/{v}"),
    "Firefox": _versions(r"Firefox/{v}"),
    "Firefox iOS": _versions(r"FxiOS/{v}"),
    "Konqueror": _versions(r"Konqueror[:/]?{v}", flags=re.IGNORECASE),
    "BlackBerry": _versions(r"BlackBerry {v}", r"Version/{v}"),
    "Android Mobile": _versions(r"android\s{v}", flags=re.IGNORECASE),
    "Samsung Internet": _versions(r"SamsungBrowser/{v}"),
    "Oculus Browser": _versions(r"OculusBrowser/{v}"),
    "Vivaldi": _versions(r"Vivaldi/{v}"),
    "Yandex": _versions(r"YaBrowser/{v}"),
    "Whale": _versions(r"Whale/{v}"),
    "Brave": _versions(r"Brave/{v}"),
    "DuckDuckGo": _versions(r"(?:DuckDuckGo|Ddg)/{v}"),
    "Pale Moon": _versions(r"PaleMoon/{v}"),
    "Waterfox": _versions(r"Waterfox/{v}"),
    "Internet Explorer": _versions(r"(?:rv:|MSIE ){v}"),
}


def _browser(ua: str, lower: str) -> tuple[str, float | int | None]:
    name = next((browser for test, browser in _BROWSERS if test(ua, lower)), "")
    if not name:
        return "", None
    if name == "Safari" and "Mobile" in ua:
        name = "Mobile Safari"
    for pattern in _BROWSER_VERSIONS.get(name, ()):
        match = pattern.search(ua)
        if match:
            version = float(match.group(1))
            # JSON like posthog-js's parseFloat: 124, not 124.0.
            return name, int(version) if version.is_integer() else version
    return name, None


_WINDOWS_VERSIONS = {
    "NT3.51": "NT 3.11",
    "NT4.0": "NT 4.0",
    "5.0": "2000",
    "5.1": "XP",
    "5.2": "XP",
    "6.0": "Vista",
    "6.1": "7",
    "6.2": "8",
    "6.3": "8.1",
    "6.4": "10",
    "10.0": "10",
}
_WINDOWS_NT = re.compile(r"Windows NT ([0-9.]+)", re.IGNORECASE)
_IE_MOBILE = re.compile(r"IEMobile\b")
_XBOX = re.compile(r"Xbox; Xbox (.*?)[);]", re.IGNORECASE)
_IOS = re.compile(r"(?:iPhone|iPad|iPod).*?OS (\d+)_(\d+)_?(\d+)?")
_WATCH_OS = re.compile(r"watch.*/(\d+\.\d+\.\d+)|watch os,(\d+\.\d+),", re.IGNORECASE)
# The first "Android" decides, with or without a version (as posthog-js's alternation does).
_ANDROID_VERSION = re.compile(r"Android(?: (\d+)\.(\d+)\.?(\d+)?)?", re.IGNORECASE)
_MAC_VERSION = re.compile(r"Mac OS X (\d+)[_.](\d+)[_.]?(\d+)?", re.IGNORECASE)


def _dotted(match: re.Match[str] | None) -> str:
    if match is None or match.group(1) is None:
        return ""
    major, minor, patch = match.groups()
    return f"{major}.{minor}.{patch or 0}"


def _windows(ua: str, lower: str) -> str:
    if "Phone" in ua or "WPDesktop" in ua:
        return "Windows Phone"
    if "Mobile" in ua and not _IE_MOBILE.search(ua):
        return "Windows Mobile"
    return "Windows"


def _os(ua: str, lower: str) -> tuple[str, str]:
    # posthog-js's order; the first family that matches decides.
    if "xbox" in lower:
        xbox = _XBOX.search(ua)
        if xbox:
            return "Xbox", xbox.group(1)
    if "nintendo" in lower:
        return "Nintendo", ""
    if "playstation" in lower:
        return "PlayStation", ""
    if _blackberry(ua, lower):
        return "BlackBerry", ""
    if "windows" in lower:
        family = _windows(ua, lower)
        if family != "Windows":
            return family, ""
        nt = _WINDOWS_NT.search(ua)
        if nt is None:
            return family, ""
        return family, "RT" if "arm" in lower else _WINDOWS_VERSIONS.get(nt.group(1), "")
    if "iPhone" in ua or "iPad" in ua or "iPod" in ua:
        ios = _IOS.search(ua)
        if ios or "iPhone" in ua:
            return "iOS", _dotted(ios)
    if "watch" in lower:
        watch = _WATCH_OS.search(ua)
        if watch:
            return "watchOS", watch.group(1) or watch.group(2) or ""
    if "android" in lower:
        return "Android", _dotted(_ANDROID_VERSION.search(ua))
    if "mac" in lower:
        return "Mac OS X", _dotted(_MAC_VERSION.search(ua))
    if "CrOS" in ua:
        return "Chrome OS", ""
    if "linux" in lower or "debian" in lower:
        return "Linux", ""
    return "", ""


_NINTENDO = re.compile(r"Nintendo \w+", re.IGNORECASE)
_PLAYSTATION = re.compile(r"PlayStation \w+", re.IGNORECASE)
_APPLE_WATCH = re.compile(r"watch(?: ?os[,/]|\d,\d/)[\d.]+", re.IGNORECASE)
_KOBO = re.compile(r"kobo\s(?:ereader|touch)", re.IGNORECASE)
_KINDLE = re.compile(
    r"(?:kf[a-z]{2}wi|aeo[c-r]{2})(?: bui|\))|kf[a-z]+(?: bui|\)).+silk/", re.IGNORECASE
)
_TABLET_ANYWAY = re.compile(
    r"9138B|TB782B|Nexus [97]|pixel c|HUAWEISHT|BTV|noble nook|smart ultra 6", re.IGNORECASE
)
_PHONE_ANYWAY = re.compile(r"huaweimed-al00|tah-|APA|SM-G92|i980|zte|U304AA", re.IGNORECASE)
_PIXEL = re.compile(r"pixel[\daxl ]{1,6}", re.IGNORECASE)


def _android_device(ua: str, lower: str) -> str:
    if "Mobile" in ua and not _TABLET_ANYWAY.search(ua):
        return "Android"
    if (
        (_PIXEL.search(ua) and "pixel c" not in lower)
        or _PHONE_ANYWAY.search(ua)
        or ("lmy47v" in lower and "qtaqz3" not in lower)
    ):
        return "Android"
    return "Android Tablet"


def _device(ua: str, lower: str) -> str:
    # posthog-js's order; the first device that matches decides.
    if "nintendo" in lower and _NINTENDO.search(ua):
        return "Nintendo"
    if "playstation" in lower and _PLAYSTATION.search(ua):
        return "PlayStation"
    if "xbox" in lower:
        return "Xbox"
    if "ouya" in lower:
        return "Ouya"
    if "windows phone" in lower or "wpdesktop" in lower:
        return "Windows Phone"
    for marker, device in (("iPad", "iPad"), ("iPod", "iPod Touch"), ("iPhone", "iPhone")):
        if marker in ua:
            return device
    if "watch" in lower and _APPLE_WATCH.search(ua):
        return "Apple Watch"
    if _blackberry(ua, lower):
        return "BlackBerry"
    if "kobo" in lower and _KOBO.search(ua):
        return "Kobo"
    if "nokia" in lower:
        return "Nokia"
    if ("kf" in lower or "aeo" in lower) and _KINDLE.search(ua):
        return "Kindle Fire"
    if "android" in lower or "zte" in lower:
        return _android_device(ua, lower)
    if "pda" in lower or "mobile" in lower:
        return "Generic mobile"
    if "tablet" in lower and "tablet pc" not in lower:
        return "Generic tablet"
    return ""


_DEVICE_TYPES = {
    "iPad": TABLET,
    "Android Tablet": TABLET,
    "Kobo": TABLET,
    "Kindle Fire": TABLET,
    "Generic tablet": TABLET,
    "Nintendo": CONSOLE,
    "Xbox": CONSOLE,
    "PlayStation": CONSOLE,
    "Ouya": CONSOLE,
    "Apple Watch": WEARABLE,
}


def _parse(user_agent: str) -> Mapping[str, Any]:
    lower = user_agent.lower()
    browser, version = _browser(user_agent, lower)
    os_name, os_version = _os(user_agent, lower)
    device = _device(user_agent, lower)
    device_type = _DEVICE_TYPES.get(device, MOBILE) if device else DESKTOP
    # posthog-js leaves out empty values (stripEmptyProperties) and sends no version as null.
    props: dict[str, Any] = {
        key: value
        for key, value in (
            (PROP_BROWSER, browser),
            (PROP_BROWSER_VERSION, version),
            (PROP_OS, os_name),
            (PROP_OS_VERSION, os_version),
            (PROP_DEVICE, device),
            (PROP_DEVICE_TYPE, device_type),
        )
        if value not in ("", None)
    }
    return MappingProxyType(props)


_parse_cached = lru_cache(maxsize=_CACHE_SIZE)(_parse)
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def parse_user_agent(user_agent: str | None) -> Mapping[str, Any]:
    """``$browser``, ``$browser_version``, ``$os``, ``$os_version``, ``$device`` and
    ``$device_type`` for ``user_agent``, as posthog-js would report them.

    Values posthog-js would leave empty are absent. The result is cached and read-only;
    copy it (``dict(...)`` or ``props.update(...)``) to use it.
    """
    if not user_agent:
        return _EMPTY
    # The part posthog-js sends as $raw_user_agent is plenty; longer input is hostile.
    return _parse_cached(user_agent[:_MAX_USER_AGENT])


def user_agent_properties(headers: Mapping[str, str]) -> Mapping[str, Any]:
    """:func:`parse_user_agent` of a request's ``User-Agent`` header."""
    return parse_user_agent(headers.get("user-agent"))


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


@lru_cache(maxsize=_CACHE_SIZE)
def _language(accept_language: str) -> Mapping[str, Any]:
    best, best_q = None, 0.0
    for item in accept_language.split(",", 20)[:20]:
        tag, _, params = item.partition(";")
        tag = tag.strip()
        if not _LANGUAGE_TAG.fullmatch(tag):
            continue  # "*", garbage, or too long
        q = 1.0
        params = params.strip()
        if params[:2].lower() == "q=":
            try:
                q = float(params[2:])
            except ValueError:
                continue
        # Highest q wins; among equals the first, as browsers list them in order.
        if q > best_q:
            best, best_q = tag, q
    if best is None:
        return _EMPTY
    return MappingProxyType(
        {PROP_BROWSER_LANGUAGE: best, PROP_BROWSER_LANGUAGE_PREFIX: best.split("-", 1)[0]}
    )


def language_properties(headers: Mapping[str, str]) -> Mapping[str, Any]:
    """``$browser_language`` (``navigator.language``: the preferred ``Accept-Language`` tag)
    and ``$browser_language_prefix`` (its primary subtag), or nothing without one."""
    value = headers.get("accept-language")
    if not value or len(value) > 500:
        return _EMPTY
    return _language(value)
