"""Nothing secret from a request reaches PostHog: cookies, credentials, headers, bodies, forms.

Both middlewares are driven with a secret in every header, cookie, body and
secret-looking query parameter; the raw bodies the inbox received (and the package's
own log lines) must contain none of them, while the events themselves do arrive.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient
from django.test import Client as DjangoClient
from starlette.testclient import TestClient

from posthog_web import Client
from posthog_web.inbox import InboxServer
from tests.asgi.helpers import call, http_scope, run
from tests.security.asgi_apps import bare, starlette_app
from tests.security.conftest import LogWatcher, accepted

SECRETS = {
    "cookie": "S3CRET-cookie-0001",
    "sessionid": "S3CRET-session-0002",
    "csrftoken": "S3CRET-csrf-0003",
    "authorization": "S3CRET-bearer-0004",
    "x-api-key": "S3CRET-apikey-0005",
    "x-custom": "S3CRET-custom-0006",
    "form": "S3CRET-form-0007",
    "password": "S3CRET-password-0008",
    "json": "S3CRET-json-0009",
    "query_token": "S3CRET-query-0010",
    "referer_code": "S3CRET-oauth-0011",
    "fragment": "S3CRET-fragment-0012",
    "userinfo": "S3CRET-userinfo-0013",
    "proxy_auth": "S3CRET-proxyauth-0014",
    "x-forwarded-for": "198.51.100.99",
    "x-real-ip": "198.51.100.98",
    "forwarded": "198.51.100.97",
}

QUERY = (
    f"utm_source=news&q=shoes&access_token={SECRETS['query_token']}&Password=p{SECRETS['password']}"
)
HEADERS = {
    "Authorization": f"Bearer {SECRETS['authorization']}",
    "Proxy-Authorization": f"Basic {SECRETS['proxy_auth']}",
    "X-Api-Key": SECRETS["x-api-key"],
    "X-Custom-Thing": SECRETS["x-custom"],
    "X-Forwarded-For": SECRETS["x-forwarded-for"],
    "X-Real-IP": SECRETS["x-real-ip"],
    "Forwarded": f"for={SECRETS['forwarded']}",
    "Referer": (
        f"https://idp.example/cb?code={SECRETS['referer_code']}&session_state=x"
        f"#{SECRETS['fragment']}"
    ).replace("https://", f"https://user:{SECRETS['userinfo']}@"),
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    "Accept-Language": "en-GB,en;q=0.9",
}
COOKIE_HEADER = (
    f"sessionid={SECRETS['sessionid']}; csrftoken={SECRETS['csrftoken']}; "
    f"remember_me={SECRETS['cookie']}"
)
FORM = {"comment": SECRETS["form"], "password": SECRETS["password"]}
JSON_BODY = json.dumps({"card": SECRETS["json"]})


def assert_nothing_leaked(inbox: InboxServer, logs: LogWatcher, *, min_events: int) -> None:
    events = accepted(inbox)
    assert len(events) >= min_events, [e["event"] for e in events]
    raw = b"".join(r.body for r in inbox.requests) + json.dumps(inbox.events()).encode()
    text = logs.text()
    for name, secret in SECRETS.items():
        assert secret.encode() not in raw, f"the {name} secret reached PostHog"
        assert secret not in text, f"the {name} secret was logged"
    assert logs.failures() == []
    pageview = next(e for e in events if e["event"] == "$pageview")
    props: dict[str, Any] = pageview["properties"]  # type: ignore[assignment]
    assert props["utm_source"] == "news"
    assert "q=shoes" in props["$current_url"]
    assert props["$referring_domain"] == "idp.example"


LOGIN = {"username": "alice", "password": SECRETS["password"]}
JAR = {
    "sessionid": SECRETS["sessionid"],
    "csrftoken": SECRETS["csrftoken"],
    "remember_me": SECRETS["cookie"],
}


@pytest.fixture
def django_app(settings: Any, sync_client: Client) -> None:
    settings.ROOT_URLCONF = "tests.security.django_app"
    settings.POSTHOG_WEB = {"CLIENT": sync_client}


@pytest.mark.django_db
def test_django(django_app: None, inbox: InboxServer, logs: LogWatcher) -> None:
    User.objects.create_user("alice", password=SECRETS["password"])
    client = DjangoClient()
    for name, value in JAR.items():
        client.cookies[name] = value
    responses = [
        client.get(f"/page/?{QUERY}", headers=HEADERS),
        client.post("/form/", FORM, headers=HEADERS),
        client.post("/form/", JSON_BODY, content_type="application/json", headers=HEADERS),
        client.post("/login/", LOGIN, headers=HEADERS),
        client.get(f"/page/?{QUERY}", headers=HEADERS),
    ]
    assert [r.status_code for r in responses] == [200] * len(responses)
    assert_nothing_leaked(inbox, logs, min_events=6)
    assert inbox.events("$create_alias")
    assert inbox.events("$identify")


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_django_async(django_app: None, inbox: InboxServer, logs: LogWatcher) -> None:
    await User.objects.acreate_user("alice", password=SECRETS["password"])
    client = AsyncClient()
    for name, value in JAR.items():
        client.cookies[name] = value
    responses = [
        await client.get(f"/async/?{QUERY}", headers=HEADERS),
        await client.post("/form/", FORM, headers=HEADERS),
        await client.post("/login/", LOGIN, headers=HEADERS),
        await client.get(f"/async/?{QUERY}", headers=HEADERS),
    ]
    assert [r.status_code for r in responses] == [200] * len(responses)
    assert_nothing_leaked(inbox, logs, min_events=6)
    assert inbox.events("$create_alias")
    assert inbox.events("$identify")


def test_starlette(inbox: InboxServer, sync_client: Client, logs: LogWatcher) -> None:
    with TestClient(starlette_app(sync_client)) as client:
        client.cookies.update({"sessionid": SECRETS["sessionid"], "remember_me": SECRETS["cookie"]})
        responses = [
            client.get(f"/page?{QUERY}", headers=HEADERS),
            client.post("/form", data=FORM, headers=HEADERS),
            client.post("/page", content=JSON_BODY, headers=HEADERS),
            client.get("/login?user=alice", headers=HEADERS),
            client.get(f"/page?{QUERY}", headers={**HEADERS, "X-User": "alice"}),
        ]
    assert [r.status_code for r in responses] == [200] * len(responses)
    assert_nothing_leaked(inbox, logs, min_events=6)


def test_bare_asgi(inbox: InboxServer, sync_client: Client, logs: LogWatcher) -> None:
    app = bare(sync_client)
    headers = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
    headers += [(b"host", b"example.com"), (b"cookie", COOKIE_HEADER.encode())]
    scope = http_scope("/page", headers=headers, query_string=QUERY.encode(), method="POST")
    body = [
        {"type": "http.request", "body": JSON_BODY.encode(), "more_body": True},
        {"type": "http.request", "body": b"&password=" + SECRETS["password"].encode()},
    ]
    messages = run(call(app, scope, body))
    assert messages[0]["status"] == 200
    get_scope = http_scope("/page", headers=headers, query_string=QUERY.encode())
    run(call(app, get_scope))
    assert_nothing_leaked(inbox, logs, min_events=3)
