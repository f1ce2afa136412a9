"""Hostile requests through both middlewares: the app's response is untouched, nothing fails,
and every event that goes out is one PostHog accepts.

Each case is sent twice, to the app with and without posthog-web, and the two responses
must match except for the package's own cookies. The inbox (which validates like
PostHog) must accept every event the case produced, and posthog-web must log no
failure. Each test counts its cases; docs/security.md records the totals.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import quote

import pytest
from django.test import AsyncClient, override_settings
from django.test import Client as DjangoClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from posthog_web import Client
from posthog_web.events import uuid7, uuid7_at
from posthog_web.inbox import InboxServer
from posthog_web.web.caching import private_cache_headers
from posthog_web.web.identity import OPT_OUT_COOKIE_PREFIX, CookieSigner, posthog_cookie_name
from tests.asgi.helpers import call, run
from tests.security.asgi_apps import SECRET_KEY, bare, bare_app, starlette_app
from tests.security.conftest import API_KEY, LogWatcher, accepted

OWN_COOKIES = ("ph_web_id", "ph_web_session")
JS_COOKIE = posthog_cookie_name(API_KEY)
#: A cookie value our middleware may write: the signer's alphabet only.
SAFE_VALUE = re.compile(r"[A-Za-z0-9._~-]*")
NOW_MS = int(time.time() * 1000)

HEADER_NAMES = [
    "user-agent",
    "referer",
    "accept-language",
    "x-posthog-distinct-id",
    "x-posthog-session-id",
    "x-posthog-window-id",
    "x-forwarded-for",
    "sec-gpc",
    "dnt",
    "hx-request",
    "hx-boosted",
    "sec-purpose",
    "turbo-frame",
    "x-requested-with",
    "x-user",
]
INJECTIONS = [
    "x\r\nSet-Cookie: evil=1",
    "\r\n\r\n<script>alert(1)</script>",
    "a\x00b\x7f\x9f",
    "%0d%0aSet-Cookie:%20evil=1",
    "\u00ff\u00fe\u00e9",
    "01a028e7-e040-7a11-b222-333344445555\r\nX: y",
    "1",
    " 1 ",
    "null",
    "$posthog_cookieless",
    "10.0.0.1, 198.51.100.7, garbage, [::1]:80",
]

latin1 = st.characters(min_codepoint=0, max_codepoint=255)
huge = st.integers(min_value=1_000, max_value=20_000).map(lambda n: "A" * n)
header_text = st.one_of(st.text(latin1, max_size=120), st.sampled_from(INJECTIONS), huge)

# posthog-js cookies: right shape with wrong types, future and absurd timestamps, deep nesting.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
timestamps = (
    st.sampled_from(
        [NOW_MS, NOW_MS + 10 * 365 * 86_400_000, NOW_MS - 1, 0, -5, 2**63, NOW_MS + 60_000]
    )
    | st.integers()
)
session_ids = st.sampled_from([uuid7(), uuid7_at(NOW_MS + 86_400_000), "not-a-uuid", ""])
distinct_ids = st.sampled_from([uuid7(), "user-42", "null", "", " ", "$posthog_cookieless"])
js_payloads = st.fixed_dictionaries(
    {},
    optional={
        "distinct_id": distinct_ids | json_values,
        "$device_id": distinct_ids | json_values,
        "$user_state": st.sampled_from(["anonymous", "identified", "x"]) | json_values,
        "$sesid": st.tuples(timestamps, session_ids, timestamps).map(list)
        | st.lists(json_values, max_size=4)
        | json_values,
    },
)
js_cookie_values = st.one_of(
    js_payloads.map(lambda d: quote(json.dumps(d), safe="")),
    json_values.map(lambda v: quote(json.dumps(v), safe="")),
    st.integers(min_value=500, max_value=4000).map(lambda n: quote("[" * n + "]" * n, safe="")),
    st.text(latin1, max_size=80),
    st.just("%7B%22distinct_id%22"),
)
signer = CookieSigner(SECRET_KEY)
own_cookie_values = st.one_of(
    st.just(signer.dumps(signer.new())),
    st.text(latin1, max_size=80),
    st.builds(lambda s: "1." + s + "....x", st.text(latin1, max_size=40)),
)
cookie_pairs = st.lists(
    st.one_of(
        st.tuples(st.just(JS_COOKIE), js_cookie_values),
        st.tuples(st.sampled_from(OWN_COOKIES), own_cookie_values),
        st.tuples(st.just(OPT_OUT_COOKIE_PREFIX + API_KEY), st.sampled_from(["0", "1", "no", ""])),
        st.tuples(st.text(latin1, max_size=10), st.text(latin1, max_size=40)),
    ),
    max_size=4,
)
headers = st.dictionaries(st.sampled_from(HEADER_NAMES), header_text, max_size=6)
paths = st.one_of(
    st.sampled_from(
        ["/", "/page/", "/a%00b", "/%ff%fe", "//double//", "/../etc", "/caf%C3%A9", "/;x"]
    ),
    st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="?#"), max_size=40
    ).map(lambda p: "/" + p),
)
queries = st.one_of(
    st.text(latin1, max_size=100),
    st.sampled_from(
        [
            "token=abc&utm_source=x",
            "%ff=%fe&&=&a",
            "code=1#frag",
            "utm_source=" + "u" * 5000,
            "a=%0d%0a",
        ]
    ),
)
methods = st.sampled_from(["GET", "GET", "POST"])


def cookie_header(pairs: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name}={value}" for name, value in pairs)


class Counter:
    def __init__(self) -> None:
        self.cases = 0
        self.events = 0

    def report(self, name: str, minimum: int) -> None:
        print(f"{name}: {self.cases} cases, {self.events} events accepted")
        assert self.cases >= minimum
        assert self.events >= self.cases // 2  # most cases do send something


def check_case(inbox: InboxServer, logs: LogWatcher, counter: Counter) -> None:
    counter.events += len(accepted(inbox))
    assert logs.failures() == [], logs.failures()


def hostile_settings(examples: int) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --- Django -------------------------------------------------------------------------------

BASE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
POSTHOG = "posthog_web.django.PostHogMiddleware"


def django_clients(settings_fixture: Any, client: Client) -> tuple[DjangoClient, DjangoClient]:
    settings_fixture.ROOT_URLCONF = "tests.security.django_app"
    settings_fixture.POSTHOG_WEB = {"CLIENT": client, "RESPECT_DNT": True}
    baseline, tracked = DjangoClient(), DjangoClient()
    with override_settings(MIDDLEWARE=BASE_MIDDLEWARE):
        baseline.get("/")  # the handler loads (and keeps) the middleware chain now
    settings_fixture.MIDDLEWARE = [*BASE_MIDDLEWARE, POSTHOG]
    tracked.get("/")
    return baseline, tracked


def django_request(
    client: DjangoClient | AsyncClient,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    cookies: str,
) -> Any:
    extra: dict[str, Any] = {"QUERY_STRING": query, "HTTP_COOKIE": cookies}
    for name, value in headers.items():
        extra["HTTP_" + name.upper().replace("-", "_")] = value
    return client.generic(
        method, path, b"a=1&password=x", "application/x-www-form-urlencoded", **extra
    )


_CACHE_HEADERS = (b"cache-control", b"vary")


def assert_same_headers(
    theirs: list[tuple[bytes, bytes]], mine: list[tuple[bytes, bytes]], sets_cookie: bool
) -> None:
    """The app's headers, except that a response setting our cookie is private (item 6)."""
    if not sets_cookie:
        assert mine == theirs
        return
    assert [h for h in mine if h[0].lower() not in _CACHE_HEADERS] == [
        h for h in theirs if h[0].lower() not in _CACHE_HEADERS
    ]

    def joined(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
        return ", ".join(v.decode("latin-1") for k, v in headers if k.lower() == name)

    private = private_cache_headers(joined(theirs, b"cache-control"), joined(theirs, b"vary"))
    assert (joined(mine, b"cache-control"), joined(mine, b"vary")) == private


def assert_same_django_response(baseline: Any, tracked: Any) -> None:
    assert tracked.status_code == baseline.status_code
    assert tracked.content == baseline.content
    theirs = {k: m.value for k, m in baseline.cookies.items()}
    ours = {k: m for k, m in tracked.cookies.items() if k in OWN_COOKIES and k not in theirs}
    assert_same_headers(
        [(k.encode("latin-1"), v.encode("latin-1")) for k, v in baseline.headers.items()],
        [(k.encode("latin-1"), v.encode("latin-1")) for k, v in tracked.headers.items()],
        bool(ours),
    )
    assert {k: m.value for k, m in tracked.cookies.items() if k not in ours} == theirs
    for morsel in ours.values():
        assert SAFE_VALUE.fullmatch(morsel.value), morsel.value
        assert morsel["httponly"]
        assert (morsel["samesite"], morsel["path"]) == ("Lax", "/")


@pytest.mark.django_db
def test_django_sync(
    settings: Any, sync_client: Client, shared_inbox: InboxServer, logs: LogWatcher
) -> None:
    baseline, tracked = django_clients(settings, sync_client)
    counter = Counter()

    @hostile_settings(300)
    @given(method=methods, path=paths, query=queries, headers=headers, cookies=cookie_pairs)
    def case(
        method: str, path: str, query: str, headers: dict[str, str], cookies: list[tuple[str, str]]
    ) -> None:
        counter.cases += 1
        shared_inbox.clear()
        logs.clear()
        raw_cookies = cookie_header(cookies)
        expected = django_request(baseline, method, path, query, headers, raw_cookies)
        got = django_request(tracked, method, path, query, headers, raw_cookies)
        assert_same_django_response(expected, got)
        check_case(shared_inbox, logs, counter)

    case()
    counter.report("django (sync)", 300)


@pytest.mark.django_db(transaction=True)
def test_django_async(
    settings: Any, sync_client: Client, shared_inbox: InboxServer, logs: LogWatcher
) -> None:
    baseline, _ = django_clients(settings, sync_client)
    counter = Counter()

    @hostile_settings(100)
    @given(path=paths, query=queries, headers=headers, cookies=cookie_pairs)
    def case(
        path: str, query: str, headers: dict[str, str], cookies: list[tuple[str, str]]
    ) -> None:
        counter.cases += 1
        shared_inbox.clear()
        logs.clear()
        raw_cookies = cookie_header(cookies)
        # The async path: an async view under Django's ASGI request handling.
        path = "/async/"
        expected = django_request(baseline, "GET", path, query, headers, raw_cookies)
        got = run(django_request(AsyncClient(), "GET", path, query, headers, raw_cookies))
        assert got.status_code == expected.status_code
        assert got.content == expected.content
        assert got["X-App"] == expected["X-App"]
        for name, morsel in got.cookies.items():
            assert name in OWN_COOKIES
            assert SAFE_VALUE.fullmatch(morsel.value)
        check_case(shared_inbox, logs, counter)

    case()
    counter.report("django (async)", 100)


# --- Starlette and a bare ASGI app ---------------------------------------------------------


def starlette_headers(headers: dict[str, str], cookies: str) -> list[tuple[bytes, bytes]]:
    raw = [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]
    raw.append((b"cookie", cookies.encode("latin-1")))
    return raw


def test_starlette(sync_client: Client, shared_inbox: InboxServer, logs: LogWatcher) -> None:
    counter = Counter()
    with (
        TestClient(starlette_app(None)) as baseline,
        TestClient(starlette_app(sync_client, respect_dnt=True)) as tracked,
    ):

        @hostile_settings(250)
        @given(method=methods, path=paths, headers=headers, cookies=cookie_pairs)
        def case(
            method: str,
            path: str,
            headers: dict[str, str],
            cookies: list[tuple[str, str]],
        ) -> None:
            counter.cases += 1
            shared_inbox.clear()
            logs.clear()
            raw = starlette_headers(headers, cookie_header(cookies))
            url = quote(path, safe="/%;=&") + "?token=t&utm_source=s&%ff=1"
            expected = baseline.request(method, url, headers=raw, content=b"password=x")
            got = tracked.request(method, url, headers=raw, content=b"password=x")
            assert (got.status_code, got.content) == (expected.status_code, expected.content)
            theirs = [(k, v) for k, v in expected.headers.raw]
            mine = [(k, v) for k, v in got.headers.raw if k != b"set-cookie"]
            sets_cookie = len(mine) != len(got.headers.raw)
            assert_same_headers(theirs, mine, sets_cookie)
            for key, value in got.headers.raw:
                if key == b"set-cookie":
                    assert_safe_set_cookie(value)
            check_case(shared_inbox, logs, counter)

        case()
    counter.report("Starlette", 250)


def assert_safe_set_cookie(value: bytes) -> None:
    text = value.decode("latin-1")
    assert "\r" not in text
    assert "\n" not in text
    name, _, rest = text.partition("=")
    assert name in OWN_COOKIES, text
    cookie_value, _, attributes = rest.partition(";")
    assert SAFE_VALUE.fullmatch(cookie_value), text
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in attributes, text


raw_header_names = st.sampled_from(
    [n.encode() for n in [*HEADER_NAMES, "cookie", "host"]]
) | st.binary(max_size=12)
raw_headers = st.lists(
    st.tuples(
        raw_header_names, st.binary(max_size=150) | header_text.map(lambda t: t.encode("latin-1"))
    )
    | st.tuples(st.just(b"cookie"), cookie_pairs.map(lambda p: cookie_header(p).encode("latin-1"))),
    max_size=10,
)
peers = st.one_of(
    st.none(),
    st.sampled_from(
        [("203.0.113.7", 1), ("::1", 1), ("testclient", 50000), ("", 0), ("10.0.0.1", 0)]
    ).map(list),
    st.tuples(st.text(max_size=20), st.integers(0, 65535)).map(list),
)


def test_bare_asgi(sync_client: Client, shared_inbox: InboxServer, logs: LogWatcher) -> None:
    app = bare(sync_client, trusted_proxies=["10.0.0.0/8", "unix"], respect_dnt=True)
    counter = Counter()

    @hostile_settings(600)
    @given(
        method=methods,
        path=st.text(max_size=60),
        query=st.binary(max_size=200) | queries.map(lambda q: q.encode("latin-1")),
        headers=raw_headers,
        client=peers,
        scheme=st.sampled_from(["http", "https", "HTTPS", "", "ftp"]),
    )
    def case(
        method: str,
        path: str,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        client: list[Any] | None,
        scheme: str,
    ) -> None:
        counter.cases += 1
        shared_inbox.clear()
        logs.clear()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": scheme,
            "path": "/" + path,
            "raw_path": b"/" + path.encode("utf-8", "surrogatepass"),
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "client": client,
            "server": None,
        }
        body = [{"type": "http.request", "body": b"password=x", "more_body": False}]
        expected = run(call(bare_app, dict(scope), body))
        got = run(call(app, dict(scope), body))
        assert len(got) == len(expected)
        assert got[1:] == expected[1:]
        assert got[0]["status"] == expected[0]["status"]
        cookies = [v for k, v in got[0]["headers"] if k == b"set-cookie"]
        mine = [h for h in got[0]["headers"] if h[0] != b"set-cookie"]
        assert_same_headers(list(expected[0]["headers"]), mine, bool(cookies))
        for value in cookies:
            assert_safe_set_cookie(value)
        check_case(shared_inbox, logs, counter)

    case()
    counter.report("bare ASGI", 600)
