"""Bot and crawler detection from the User-Agent string.

The list is posthog-js's ``DEFAULT_BLOCKED_UA_STRS`` (``packages/core/src/utils/
bot-detection.ts``), matched the same way (lower-cased substring), plus clients that
never run posthog-js but do reach a server: HTTP libraries, command-line tools,
headless automation and AI crawlers from PostHog's server-side bot definitions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["POSTHOG_JS_BLOCKED_UAS", "SERVER_BLOCKED_UAS", "BotMatcher", "is_bot"]

POSTHOG_JS_BLOCKED_UAS: tuple[str, ...] = (
    "amazonbot",
    "amazonproductbot",
    "app.hypefactors.com",
    "applebot",
    "archive.org_bot",
    "awariobot",
    "backlinksextendedbot",
    "baiduspider",
    "bingbot",
    "bingpreview",
    "chrome-lighthouse",
    "dataforseobot",
    "deepscan",
    "duckduckbot",
    "facebookexternal",
    "facebookcatalog",
    "http://yandex.com/bots",
    "hubspot",
    "ia_archiver",
    "leikibot",
    "linkedinbot",
    "meta-externalagent",
    "mj12bot",
    "msnbot",
    "nessus",
    "petalbot",
    "pinterest",
    "prerender",
    "rogerbot",
    "screaming frog",
    "sebot-wa",
    "sitebulb",
    "slackbot",
    "slurp",
    "trendictionbot",
    "turnitin",
    "twitterbot",
    "vercel-screenshot",
    "vercelbot",
    "yahoo! slurp",
    "yandexbot",
    "zoombot",
    "bot.htm",
    "bot.php",
    "(bot;",
    "bot/",
    "crawler",
    "ahrefsbot",
    "ahrefssiteaudit",
    "semrushbot",
    "siteauditbot",
    "splitsignalbot",
    "gptbot",
    "oai-searchbot",
    "chatgpt-user",
    "perplexitybot",
    "better uptime bot",
    "sentryuptimebot",
    "uptimerobot",
    "headlesschrome",
    "cypress",
    "google-hoteladsverifier",
    "adsbot-google",
    "apis-google",
    "duplexweb-google",
    "feedfetcher-google",
    "google favicon",
    "google web preview",
    "google-read-aloud",
    "googlebot",
    "googleother",
    "google-cloudvertexbot",
    "googleweblight",
    "mediapartners-google",
    "storebot-google",
    "google-inspectiontool",
    "bytespider",
)

# A browser never sends these; posthog-js never sees them because they run no JS.
SERVER_BLOCKED_UAS: tuple[str, ...] = (
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "axios/",
    "node-fetch",
    "okhttp",
    "java/",
    "libwww-perl",
    "httpie",
    "postmanruntime",
    "insomnia",
    "kube-probe",
    "elb-healthchecker",
    "googlehc",
    "claudebot",
    "claude-user",
    "claude-searchbot",
    "anthropic-ai",
    "ccbot",
    "playwright",
    "puppeteer",
    "phantomjs",
    "selenium",
    # The rest of PostHog's server-side bot definitions (web analytics' traffic types).
    "google-extended",
    "google-notebooklm",
    "googleimageproxy",
    "claude-web",
    "perplexity-user",
    "tiktokspider",
    "cohere-ai",
    "diffbot",
    "omgili",
    "webzio-extended",
    "timpibot",
    "brightbot",
    "meta-externalfetcher",
    "duckassistbot",
    "mistralai-user",
    "manus-user",
    "yeti/",
    "barkrowler",
    "serankingbacklinksbot",
    "dotbot",
    "lighthouse",
    "facebookbot",
    "slack-imgproxy",
    "telegrambot",
    "whatsapp",
    "iframely",
    "pingdom",
    "site24x7",
    "statuscake",
    "datadog",
    "wget",
    "axios",
    "apache-httpclient",
    "scrapy",
    "chrome privacy preserving prefetch proxy",
    "mozlila/",
)


class BotMatcher:
    """A compiled, cached substring matcher over a list of lower-case UA fragments.

    Args:
        fragments: substrings that mark a UA as a bot (matched case-insensitively).
        cache_size: how many distinct UA strings to remember (bounded LRU).
    """

    def __init__(self, fragments: Iterable[str], cache_size: int = 2048) -> None:
        parts = sorted({f.lower() for f in fragments if f}, key=len, reverse=True)
        # One alternation scans the UA once; an empty list matches nothing.
        self._pattern = re.compile("|".join(map(re.escape, parts))) if parts else None
        self.is_bot = lru_cache(maxsize=cache_size)(self._match)

    def _match(self, user_agent: str) -> bool:
        if not user_agent or self._pattern is None:
            return False
        return self._pattern.search(user_agent.lower()) is not None


_default = BotMatcher(POSTHOG_JS_BLOCKED_UAS + SERVER_BLOCKED_UAS)


def is_bot(user_agent: str | None) -> bool:
    """Return True if ``user_agent`` belongs to a known bot, crawler or HTTP library."""
    return bool(user_agent) and _default.is_bot(user_agent)
