"""Bot detection from the User-Agent."""

from __future__ import annotations

import pytest

from posthog_web.web.bots import POSTHOG_JS_BLOCKED_UAS, BotMatcher, is_bot

BROWSERS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Macintosh) AppleWebKit/537.36 (KHTML, like Gecko) Electron/31.0.0 Safari/537.36",
]

BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Linux) Chrome-Lighthouse",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Go-http-client/1.1",
    "axios/1.7.2",
    "Wget/1.21.4",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
    "+claudebot@anthropic.com)",
    "CCBot/2.0 (https://commoncrawl.org/faq/)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Playwright/1.45",
]


@pytest.mark.parametrize("ua", BROWSERS)
def test_browsers_are_not_bots(ua: str) -> None:
    assert not is_bot(ua)


@pytest.mark.parametrize("ua", BOTS)
def test_bots(ua: str) -> None:
    assert is_bot(ua)


@pytest.mark.parametrize("fragment", POSTHOG_JS_BLOCKED_UAS)
def test_every_posthog_js_entry_matches(fragment: str) -> None:
    assert is_bot(f"Mozilla/5.0 {fragment.upper()} test")


def test_empty_and_missing() -> None:
    assert not is_bot(None)
    assert not is_bot("")


def test_custom_matcher_and_cache() -> None:
    matcher = BotMatcher(["MyMonitor", ""], cache_size=4)
    assert matcher.is_bot("mymonitor/1.0")
    assert not matcher.is_bot("Mozilla/5.0")
    assert not matcher.is_bot("")
    assert matcher.is_bot("mymonitor/1.0")
    assert matcher.is_bot.cache_info().hits == 1
    assert not BotMatcher([]).is_bot("curl/8")
