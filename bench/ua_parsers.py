"""posthog-web's own User-Agent rules vs. the parser packages: agreement with posthog-js, cost.

Agreement is measured on tests/web/ua_cases.py (real UA strings with posthog-js's own
answers); the packages' names are mapped onto posthog-js's vocabulary first, generously.
Cost is the median time of one uncached parse over the same strings.

The packages are not dependencies of posthog-web; install them in a scratch venv::

    python3 -m venv /tmp/ua && /tmp/ua/bin/pip install ua-parser ua-parser-builtins \\
        ua-parser-rs google-re2 user-agents
    PYTHONPATH=. /tmp/ua/bin/python -m bench.ua_parsers
"""

from __future__ import annotations

import importlib.metadata
import statistics
import time
from collections.abc import Callable
from typing import Any

from posthog_web.web import useragent
from tests.web.ua_cases import UA_CASES

FIELDS = ("$browser", "$browser_version", "$os", "$os_version", "$device_type")
ROUNDS = 15

# uap-core family -> posthog-js name, wherever one clearly corresponds.
BROWSERS = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile WebView": "Chrome",
    "Chrome Mobile iOS": "Chrome iOS",
    "Chromium": "Chrome",
    "Electron": "Chrome",
    "HeadlessChrome": "Chrome",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox iOS",
    "Mobile Safari UI/WKWebView": "Mobile Safari",
    "Edge": "Microsoft Edge",
    "Edge Mobile": "Microsoft Edge",
    "Opera Mobile": "Opera",
    "IE": "Internet Explorer",
    "IE Mobile": "Internet Explorer Mobile",
    "Yandex Browser": "Yandex",
    "Facebook": "Facebook Mobile",
    "Android": "Android Mobile",
    "DuckDuckGo Mobile": "DuckDuckGo",
    "BlackBerry WebKit": "BlackBerry",
    "Silk": "Chrome",
    "MiuiBrowser": "Chrome",
    "Huawei Browser": "Chrome",
    "Oculus Browser": "Oculus Browser",
    "NetFront NX": "Firefox",
}
OSES = {
    "Ubuntu": "Linux",
    "Fedora": "Linux",
    "Debian": "Linux",
    "Tizen": "Linux",
    "webOS": "Linux",
    "BlackBerry OS": "BlackBerry",
    "Xbox": "Xbox",
}
UAP_OTHER = "Other"


def _version(major: str | None, minor: str | None) -> float | int | None:
    if not major or not major.isdigit():
        return None
    text = f"{major}.{minor}" if minor and minor.isdigit() else major
    value = float(text)
    return int(value) if value.is_integer() else value


def _os_version(family: str, parts: tuple[str | None, ...]) -> str:
    values = [p for p in parts if p]
    if not values:
        return ""
    if family in ("iOS", "Android", "Mac OS X"):
        padded = [*parts[:2], parts[2] or "0"]
        return ".".join(v for v in padded if v)
    return ".".join(values)


def _props(browser: str, version: float | int | None, os: str, os_version: str) -> dict[str, Any]:
    browser = BROWSERS.get(browser, browser)
    os = OSES.get(os, os)
    return {
        "$browser": "" if browser == UAP_OTHER else browser,
        "$browser_version": version,
        "$os": "" if os == UAP_OTHER else os,
        "$os_version": os_version,
    }


def ua_parser_fn(resolver: str) -> Callable[[str], dict[str, Any]]:
    """An uncached ua-parser 1.x parse with the given resolver, mapped to posthog-js names."""
    import ua_parser

    matchers = ua_parser.load_builtins()
    resolvers = {
        "basic": ua_parser.BasicResolver,
        "regex (ua-parser-rs)": ua_parser.RegexResolver,
        "re2": ua_parser.Re2Resolver,
    }
    parser = ua_parser.Parser(resolvers[resolver](matchers))

    def parse(ua: str) -> dict[str, Any]:
        result = parser.parse(ua).with_defaults()
        agent, os = result.user_agent, result.os
        props = _props(
            agent.family,
            _version(agent.major, agent.minor),
            os.family,
            _os_version(os.family, (os.major, os.minor, os.patch)),
        )
        # ua-parser has no device type: the common rule of thumb.
        device = result.device.family
        if "iPad" in device or "Tablet" in device or "Kindle" in device:
            props["$device_type"] = "Tablet"
        elif os.family in ("iOS", "Android") or "Mobile" in agent.family:
            props["$device_type"] = "Mobile"
        else:
            props["$device_type"] = "Desktop"
        return props

    return parse


def user_agents_fn() -> Callable[[str], dict[str, Any]]:
    """user-agents 2.x (ua-parser plus device-type rules), cache bypassed by a unique suffix."""
    import user_agents

    def parse(ua: str) -> dict[str, Any]:
        result = user_agents.parse(ua)
        browser, os = result.browser, result.os
        parts = (*(str(p) for p in os.version[:3]), None, None, None)[:3]
        props = _props(
            browser.family,
            _version(*(str(v) for v in (*browser.version[:2], "", "")[:2])),
            os.family,
            _os_version(os.family, tuple(p or None for p in parts)),
        )
        if result.is_tablet:
            props["$device_type"] = "Tablet"
        elif result.is_mobile:
            props["$device_type"] = "Mobile"
        else:
            props["$device_type"] = "Desktop"
        return props

    return parse


def own_fn() -> Callable[[str], dict[str, Any]]:
    """posthog-web's rules, uncached."""
    parse = useragent._parse  # the function behind the LRU cache
    return lambda ua: dict(parse(ua))


def agreement(parse: Callable[[str], dict[str, Any]]) -> dict[str, int]:
    """How many cases agree with posthog-js, per field and on all fields at once."""
    counts = dict.fromkeys((*FIELDS, "all"), 0)
    for _label, ua, expected in UA_CASES:
        got = parse(ua)
        ok = True
        for name in FIELDS:
            if (got.get(name) or None) == expected.get(name):
                counts[name] += 1
            else:
                ok = False
        counts["all"] += ok
    return counts


def cost_us(parse: Callable[[str], Any], unique: bool) -> float:
    """Median microseconds per uncached call over the cases."""
    timings = []
    for round_ in range(ROUNDS):
        uas = [f"{ua} r{round_}" if unique else ua for _l, ua, _e in UA_CASES]
        start = time.perf_counter()
        for ua in uas:
            parse(ua)
        timings.append((time.perf_counter() - start) / len(uas) * 1e6)
    return statistics.median(timings)


def cached_cost_us() -> float:
    """Median microseconds per call of the cached public function (the hot path)."""
    uas = [ua for _l, ua, _e in UA_CASES]
    for ua in uas:
        useragent.parse_user_agent(ua)
    timings = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(20):
            for ua in uas:
                useragent.parse_user_agent(ua)
        timings.append((time.perf_counter() - start) / (20 * len(uas)) * 1e6)
    return statistics.median(timings)


def main() -> None:
    candidates: list[tuple[str, Callable[[str], dict[str, Any]], bool]] = [
        ("posthog-web rules", own_fn(), False)
    ]
    for resolver in ("basic", "regex (ua-parser-rs)", "re2"):
        try:
            candidates.append((f"ua-parser {resolver}", ua_parser_fn(resolver), False))
        except Exception as exc:  # a missing optional accelerator
            print(f"skipping ua-parser {resolver}: {exc!r}")
    try:
        candidates.append(("user-agents", user_agents_fn(), True))
    except ImportError as exc:
        print(f"skipping user-agents: {exc!r}")

    versions = []
    for dist in ("ua-parser", "ua-parser-builtins", "ua-parser-rs", "google-re2", "user-agents"):
        try:
            versions.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    print(f"{len(UA_CASES)} cases; " + ", ".join(versions))
    header = "| parser | " + " | ".join(FIELDS) + " | all fields | µs per uncached call |"
    print(header)
    print("|" + " --- |" * (len(FIELDS) + 3))
    for name, parse, unique in candidates:
        counts = agreement(parse)
        cells = " | ".join(str(counts[f]) for f in FIELDS)
        print(f"| {name} | {cells} | {counts['all']} | {cost_us(parse, unique):.1f} |")
    print(f"posthog-web cached call (LRU hit): {cached_cost_us():.2f} µs")


if __name__ == "__main__":
    main()
