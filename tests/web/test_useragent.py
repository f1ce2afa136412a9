"""Browser, OS and device from the User-Agent, language and search engine, on real strings."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_web import Client
from posthog_web.delivery import RecorderTransport
from posthog_web.web import RequestView, ResponseView
from posthog_web.web.bots import is_bot
from posthog_web.web.properties import pageview_properties, search_properties
from posthog_web.web.tracker import Tracker, TrackerOptions
from posthog_web.web.useragent import language_properties, parse_user_agent
from tests.web.ua_cases import UA_CASES

CHROME = UA_CASES[0][1]
HTML = ResponseView(200, "text/html")


@pytest.mark.parametrize(
    ("label", "user_agent", "expected"), UA_CASES, ids=[c[0] for c in UA_CASES]
)
def test_answers_match_posthog_js(label: str, user_agent: str, expected: dict[str, Any]) -> None:
    assert dict(parse_user_agent(user_agent)) == expected


def test_the_case_list_is_broad() -> None:
    assert len(UA_CASES) >= 60
    types = {expected.get("$device_type") for _, _, expected in UA_CASES}
    assert types == {"Desktop", "Mobile", "Tablet", "Console"}  # no browser runs on a watch
    assert len({expected.get("$browser") for _, _, expected in UA_CASES}) >= 20


def test_results_are_cached_and_read_only() -> None:
    first = parse_user_agent(CHROME)
    assert parse_user_agent(CHROME) is first
    with pytest.raises(TypeError):
        first["$browser"] = "Other"  # type: ignore[index]


def test_no_user_agent_gives_nothing() -> None:
    assert dict(parse_user_agent(None)) == {}
    assert dict(parse_user_agent("")) == {}


def test_versions_are_numbers_like_parse_float() -> None:
    assert parse_user_agent(CHROME)["$browser_version"] == 120
    assert isinstance(parse_user_agent(CHROME)["$browser_version"], int)
    safari = next(ua for label, ua, _ in UA_CASES if label == "Safari 17 on macOS")
    assert parse_user_agent(safari)["$browser_version"] == 17.4


def test_a_huge_user_agent_is_parsed_from_its_start_only() -> None:
    huge = CHROME + " x" * 50_000
    assert dict(parse_user_agent(huge)) == dict(parse_user_agent(CHROME))


@given(st.text(max_size=300))
def test_any_text_parses(user_agent: str) -> None:
    props = parse_user_agent(user_agent)
    assert props.get("$device_type", "Desktop") in {
        "Desktop",
        "Mobile",
        "Tablet",
        "Console",
        "Wearable",
    }


@pytest.mark.parametrize(
    ("header", "language", "prefix"),
    [
        ("en-US,en;q=0.9,de;q=0.8", "en-US", "en"),
        ("de", "de", "de"),
        ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "fr-CH", "fr"),
        ("en;q=0.5, pt-BR", "pt-BR", "pt"),  # the highest q wins
        ("*, es-419;q=0.8", "es-419", "es"),
        ("zh-Hant-TW", "zh-Hant-TW", "zh"),
    ],
)
def test_browser_language(header: str, language: str, prefix: str) -> None:
    assert dict(language_properties({"accept-language": header})) == {
        "$browser_language": language,
        "$browser_language_prefix": prefix,
    }


@pytest.mark.parametrize("header", ["", "*", "q=1", "en;q=oops", "<script>", "x" * 600, "en;q=0"])
def test_no_usable_language(header: str) -> None:
    assert dict(language_properties({"accept-language": header})) == {}
    assert dict(language_properties({})) == {}


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://www.google.com/", {"$search_engine": "google"}),
        (
            "https://www.google.co.uk/search?q=hedgehog+mug",
            {"$search_engine": "google", "ph_keyword": "hedgehog mug"},
        ),
        (
            "https://www.bing.com/search?q=mugs&form=QBLH",
            {"$search_engine": "bing", "ph_keyword": "mugs"},
        ),
        ("https://search.yahoo.com/search?p=mug", {"$search_engine": "yahoo", "ph_keyword": "mug"}),
        ("https://duckduckgo.com/?q=mug", {"$search_engine": "duckduckgo", "ph_keyword": "mug"}),
        ("https://example.com/google.html", {}),
        ("https://news.ycombinator.com/", {}),
        ("android-app://com.google.android.gm/", {}),
        ("not a url", {}),
    ],
)
def test_search_engine(referrer: str, expected: dict[str, str]) -> None:
    assert search_properties({"referer": referrer}) == expected


def _request(**headers: str) -> RequestView:
    return RequestView(
        method="GET",
        scheme="https",
        host="shop.example.com",
        path="/",
        query_string="utm_source=newsletter",
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        cookies={},
        client_ip="203.0.113.7",
    )


def test_page_view_properties_have_the_browser_fields() -> None:
    props = pageview_properties(
        _request(
            user_agent=CHROME,
            accept_language="nl-BE,nl;q=0.9",
            referer="https://www.google.com/",
        )
    )
    assert props["$browser"] == "Chrome"
    assert props["$os"] == "Windows"
    assert props["$os_version"] == "10"
    assert props["$device_type"] == "Desktop"
    assert props["$browser_language"] == "nl-BE"
    assert props["$browser_language_prefix"] == "nl"
    assert props["$search_engine"] == "google"
    assert props["$referring_domain"] == "www.google.com"
    assert props["utm_source"] == "newsletter"


def _sent(client: Client, recorder: RecorderTransport) -> list[dict[str, Any]]:
    assert client.flush(timeout=10)
    return list(recorder.events)


def test_custom_events_carry_the_browser_fields(
    client: Client, recorder: RecorderTransport
) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    ctx = tracker.start(_request(user_agent=CHROME, accept_language="de-DE"))
    ctx.helper.capture("clicked")
    [event] = _sent(client, recorder)
    assert event["properties"]["$browser"] == "Chrome"
    assert event["properties"]["$browser_language"] == "de-DE"


BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def test_bots_are_skipped_by_default(client: Client, recorder: RecorderTransport) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    for ua in (BOT, "curl/8.5.0", "python-requests/2.32.3", "Go-http-client/1.1", "axios/1.7.2"):
        ctx = tracker.start(_request(user_agent=ua))
        tracker.finish(ctx, HTML)
    assert _sent(client, recorder) == []


def test_bot_pageviews_are_recorded_as_bot_pageviews(
    client: Client, recorder: RecorderTransport
) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s", bot_pageviews=True))
    for ua in (BOT, CHROME):
        ctx = tracker.start(_request(user_agent=ua))
        tracker.finish(ctx, HTML)
    bot, person = _sent(client, recorder)
    assert bot["event"] == "$bot_pageview"
    assert bot["properties"]["$browser_type"] == "bot"
    assert bot["properties"]["$raw_user_agent"] == BOT
    assert person["event"] == "$pageview"
    assert "$browser_type" not in person["properties"]


def test_bot_pageviews_option_is_checked() -> None:
    with pytest.raises(TypeError, match="bot_pageviews must be True or False"):
        TrackerOptions(bot_pageviews="yes")  # type: ignore[arg-type]


def test_no_real_browser_is_a_bot() -> None:
    assert [label for label, ua, _ in UA_CASES if is_bot(ua)] == []


@pytest.mark.parametrize(
    "user_agent",
    [
        "curl/8.5.0",
        "python-requests/2.32.3",
        "Go-http-client/2.0",
        "axios/1.7.2",
        "Wget/1.21.4",
        "Scrapy/2.11.2 (+https://scrapy.org)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0)",
        "WhatsApp/2.23.20.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0.0.0 Safari/537.36",
    ],
)
def test_posthog_server_side_bots(user_agent: str) -> None:
    assert is_bot(user_agent)
