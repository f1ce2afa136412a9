"""URL masking, size caps, the client IP, consent and cookieless modes (posthog_web.web.privacy)."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from posthog_web import Client
from posthog_web.delivery import RecorderTransport
from posthog_web.events import COOKIELESS_SENTINEL, MAX_EVENT_BYTES
from posthog_web.web import RequestView, ResponseView
from posthog_web.web.privacy import (
    MASK,
    MAX_PROPERTIES_BYTES,
    MAX_URL_LENGTH,
    AliasLedger,
    ClientIPResolver,
    ConsentRules,
    URLMasker,
    anonymize_ip,
    parse_address,
)
from posthog_web.web.properties import CAMPAIGN_PARAMS
from posthog_web.web.tracker import Tracker, TrackerOptions

HTML = ResponseView(200, "text/html")
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


def sent(client: Client, recorder: RecorderTransport) -> list[dict[str, Any]]:
    assert client.flush(timeout=10)
    return list(recorder.events)


def request(
    query: str = "",
    *,
    peer: str | None = "203.0.113.7",
    cookies: dict[str, str] | None = None,
    scheme: str = "https",
    **headers: str,
) -> RequestView:
    return RequestView(
        method="GET",
        scheme=scheme,
        host="shop.example.com",
        path="/p",
        query_string=query,
        headers={"user-agent": UA, **{k.replace("_", "-"): v for k, v in headers.items()}},
        cookies=cookies or {},
        client_ip=peer,
    )


def tracker(client: Client, **options: Any) -> Tracker:
    return Tracker(client, TrackerOptions(cookie_secret="s", **options))


def pageview(t: Tracker, req: RequestView) -> list[Any]:
    ctx = t.start(req)
    t.finish(ctx, HTML)
    return t.response_cookies(ctx)


# --- URL masking ----------------------------------------------------------------------

MASKER = URLMasker(always_kept=CAMPAIGN_PARAMS)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/p", "https://a.example/p"),
        ("https://a.example/p?", "https://a.example/p?"),
        ("https://a.example/p?q=shoes&page=2", "https://a.example/p?q=shoes&page=2"),
        (
            "https://a.example/cb?code=abc&state=xyz",
            f"https://a.example/cb?code={MASK}&state={MASK}",
        ),
        ("https://a.example/?Access_Token=t1", f"https://a.example/?Access_Token={MASK}"),
        ("https://a.example/?x=1#access_token=t2", "https://a.example/?x=1"),
        ("https://a.example/#frag", "https://a.example/"),
        ("https://a.example/?my_reset_token=t&csrfmiddlewaretoken=c", None),
        (
            "https://a.example/?user%5Bpassword%5D=p",
            f"https://a.example/?user%5Bpassword%5D={MASK}",
        ),
        ("https://a.example/?user[email]=a@b.c", f"https://a.example/?user[email]={MASK}"),
        ("https://a.example/?%70assword=p", f"https://a.example/?%70assword={MASK}"),
        (
            "https://a.example/?stripe_key=k&monkey=1",
            f"https://a.example/?stripe_key={MASK}&monkey=1",
        ),
        ("https://a.example/?X-Amz-Signature=s&X-Amz-Credential=c", None),
        ("https://a.example/?token", "https://a.example/?token"),
        ("https://a.example/?token=", f"https://a.example/?token={MASK}"),
        ("https://a.example/?a=1&&b=2", "https://a.example/?a=1&&b=2"),
        ("https://u:pw@a.example/x?y=1", "https://a.example/x?y=1"),
        ("$direct", "$direct"),
        ("mailto:a@b.example", "mailto:a@b.example"),
        ("https://a.example/@user?x=1", "https://a.example/@user?x=1"),
    ],
)
def test_mask(url: str, expected: str | None) -> None:
    masked = MASKER.mask(url)
    if expected is not None:
        assert masked == expected
    for secret in ("t1", "t2", "abc", "xyz", "=t&", "=c", "=s&", "pw@"):
        assert secret not in masked.replace(MASK, "")


def test_campaign_parameters_are_always_kept() -> None:
    query = "&".join(f"{name}=v{i}" for i, name in enumerate(sorted(CAMPAIGN_PARAMS)))
    url = f"https://a.example/?{query}&token=t"
    assert MASKER.mask(url) == f"https://a.example/?{query}&token={MASK}"
    allow = URLMasker(allowlist=True, always_kept=CAMPAIGN_PARAMS)
    assert allow.mask(url) == f"https://a.example/?{query}&token={MASK}"


def test_extended_kept_and_allowlist_modes() -> None:
    extended = URLMasker(masked=["Coupon"], kept=["STATE"])
    assert extended.mask("https://a/?coupon=c&state=s&code=x") == (
        f"https://a/?coupon={MASK}&state=s&code={MASK}"
    )
    allow = URLMasker(kept=["q", "page"], allowlist=True, always_kept=CAMPAIGN_PARAMS)
    assert allow.mask("https://a/?q=1&page=2&sort=price&utm_source=x&bare") == (
        f"https://a/?q=1&page=2&sort={MASK}&utm_source=x&{MASK}"
    )


def test_mask_caps_long_urls_without_leaking_a_cut_secret() -> None:
    url = "https://a.example/?" + "x" * (MAX_URL_LENGTH - 30) + "&password=" + "s" * 100
    masked = MASKER.mask(url)
    assert len(masked) <= MAX_URL_LENGTH
    assert "sss" not in masked
    huge = "https://a.example/?" + "&".join(f"k{i}=v" for i in range(100_000))
    assert len(MASKER.mask(huge)) <= MAX_URL_LENGTH


def test_pageview_urls_are_masked_but_campaigns_come_from_the_raw_query(
    client: Client, recorder: RecorderTransport
) -> None:
    t = tracker(client)
    pageview(
        t,
        request(
            "utm_source=news&gclid=G1&token=T0P&q=shoes",
            referer="https://idp.example/cb?code=C0DE&state=ST8#frag",
        ),
    )
    [event] = sent(client, recorder)
    props = event["properties"]
    assert props["$current_url"] == (
        f"https://shop.example.com/p?utm_source=news&gclid=G1&token={MASK}&q=shoes"
    )
    assert props["$referrer"] == f"https://idp.example/cb?code={MASK}&state={MASK}"
    assert (props["utm_source"], props["gclid"]) == ("news", "G1")
    blob = json.dumps(event)
    for secret in ("T0P", "C0DE", "ST8", "frag"):
        assert secret not in blob


def test_capture_and_set_once_urls_are_masked(client: Client, recorder: RecorderTransport) -> None:
    t = tracker(client)
    ctx = t.start(request("password=hunter2"))
    ctx.helper.capture("clicked", {"$current_url": "https://x/?jwt=J", "label": "?jwt=kept"})
    ctx.helper.identify(
        {"$initial_referrer": "https://r/?token=TT"}, {"$initial_current_url": "https://r/?otp=1"}
    )
    capture, identify = sent(client, recorder)
    assert capture["properties"]["$current_url"] == f"https://x/?jwt={MASK}"
    assert capture["properties"]["label"] == "?jwt=kept"  # the app's own properties
    assert identify["$set"]["$initial_referrer"] == f"https://r/?token={MASK}"
    assert identify["$set_once"]["$initial_current_url"] == f"https://r/?otp={MASK}"
    assert "hunter2" not in json.dumps([capture, identify])


def test_header_derived_values_are_capped(client: Client, recorder: RecorderTransport) -> None:
    t = tracker(client)
    req = RequestView(
        method="GET",
        scheme="https",
        host="h" * 5000,
        path="/" + "p" * 9000,
        query_string="",
        headers={"user-agent": "u" * 5000, "referer": "https://r/" + "r" * 9000},
        cookies={},
        client_ip="203.0.113.7",
    )
    pageview(t, req)
    [event] = sent(client, recorder)
    props = event["properties"]
    assert len(props["$raw_user_agent"]) == 1000
    assert len(props["$host"]) <= 1000
    assert len(props["$pathname"]) <= MAX_URL_LENGTH
    assert len(props["$current_url"]) <= MAX_URL_LENGTH
    assert len(props["$referrer"]) <= MAX_URL_LENGTH


def test_oversized_helper_properties_are_refused(client: Client) -> None:
    ctx = tracker(client).start(request())
    big = {"small": 1, "blob": "x" * MAX_PROPERTIES_BYTES}
    with pytest.raises(ValueError, match=r"properties\['blob'\]"):
        ctx.helper.capture("e", big)
    with pytest.raises(ValueError, match="properties_once"):
        ctx.helper.identify(None, big)
    with pytest.raises(ValueError, match="properties"):
        ctx.helper.page("p", big)
    assert MAX_PROPERTIES_BYTES < MAX_EVENT_BYTES
    ctx.helper.capture("e", {"blob": "x" * (MAX_PROPERTIES_BYTES - 20)})


# --- client IP --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "peer", "xff", "expected"),
    [
        ((), "203.0.113.7", None, "203.0.113.7"),
        ((), "203.0.113.7", "198.51.100.1", "203.0.113.7"),  # spoofed: ignored
        (("10.0.0.0/8",), "203.0.113.7", "198.51.100.1", "203.0.113.7"),
        (("10.0.0.0/8",), "10.1.2.3", "198.51.100.1", "198.51.100.1"),
        (("10.0.0.0/8",), "10.1.2.3", "1.1.1.1, 198.51.100.1, 10.9.9.9", "198.51.100.1"),
        (("10.0.0.0/8",), "10.1.2.3", "10.4.4.4, 10.9.9.9", "10.4.4.4"),  # all trusted
        (("10.0.0.0/8",), "10.1.2.3", None, "10.1.2.3"),
        (("10.0.0.0/8",), "10.1.2.3", "garbage, 198.51.100.1", "198.51.100.1"),
        (("10.0.0.0/8",), "10.1.2.3", "198.51.100.1, garbage", None),
        (("10.0.0.0/8",), "10.1.2.3", "198.51.100.1, ", "198.51.100.1"),
        (("10.0.0.0/8",), "10.1.2.3", "198.51.100.1:4711", "198.51.100.1"),
        (("10.0.0.0/8",), "10.1.2.3", "[2001:db8::1]:4711", "2001:db8::1"),
        (("10.0.0.0/8",), "::ffff:10.1.2.3", "198.51.100.1", "198.51.100.1"),
        (("127.0.0.1", "::1"), "::1", "2001:db8::5", "2001:db8::5"),
        (("*",), "203.0.113.7", "198.51.100.1, 192.0.2.1", "198.51.100.1"),
        (("unix",), None, "198.51.100.1", "198.51.100.1"),
        (("unix",), "", "198.51.100.1", "198.51.100.1"),
        ((), None, "198.51.100.1", None),
        (("10.0.0.0/8",), "testclient", "198.51.100.1", None),
        ((), "not-an-ip", None, None),
        (("10.0.0.0/8",), "10.1.2.3", ",".join(["10.0.0.1"] * 65), None),
    ],
)
def test_client_ip(
    trusted: tuple[str, ...], peer: str | None, xff: str | None, expected: str | None
) -> None:
    headers = {} if xff is None else {"x_forwarded_for": xff}
    assert ClientIPResolver(trusted).resolve(request(peer=peer, **headers)) == expected


def test_ip_modes() -> None:
    req = request(peer="203.0.113.7")
    assert ClientIPResolver(mode="anonymize").resolve(req) == "203.0.113.0"
    assert ClientIPResolver(mode="off").resolve(req) is None
    v6 = request(peer="2001:db8:abcd:1234:5678:9abc:def0:1234")
    assert ClientIPResolver(mode="anonymize").resolve(v6) == "2001:db8:abcd::"
    assert anonymize_ip(ipaddress.ip_address("::ffff:1.2.3.4")) == "::"
    assert parse_address("[::1") is None
    with pytest.raises(ValueError, match="ip_mode"):
        ClientIPResolver(mode="hashed")  # type: ignore[arg-type]
    assert parse_address("x" * 100) is None


def test_bad_trusted_proxies_are_refused() -> None:
    with pytest.raises(ValueError, match=r"trusted_proxies: '10\.0\.0\.0/33'"):
        TrackerOptions(trusted_proxies=["10.0.0.0/33"])
    with pytest.raises(TypeError, match="trusted_proxies must be a list"):
        TrackerOptions(trusted_proxies="10.0.0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ip_mode"):
        TrackerOptions(ip_mode="hashed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cookieless_mode"):
        TrackerOptions(cookieless_mode="on")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs the visitor's"):
        TrackerOptions(cookieless_mode="server_hash", ip_mode="off")
    with pytest.raises(TypeError, match="respect_gpc"):
        TrackerOptions(respect_gpc=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="masked_query_params entries"):
        TrackerOptions(masked_query_params=[1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="anonymous_cookie_name"):
        TrackerOptions(anonymous_cookie_name="id\r\nSet-Cookie: x=1")
    with pytest.raises(ValueError, match="cookie_domain"):
        TrackerOptions(cookie_domain="example.com; HttpOnly")
    assert TrackerOptions(trusted_proxies=["10.0.0.1"]).trusted_proxies == ("10.0.0.1",)


def test_ip_reaches_events_per_mode(client: Client, recorder: RecorderTransport) -> None:
    behind_proxy = request(peer="10.0.0.2", x_forwarded_for="198.51.100.23")
    for options in (
        {},
        {"trusted_proxies": ["10.0.0.0/8"]},
        {"trusted_proxies": ["10.0.0.0/8"], "ip_mode": "anonymize"},
        {"trusted_proxies": ["10.0.0.0/8"], "ip_mode": "off"},
    ):
        ctx = tracker(client, **options).start(behind_proxy)
        ctx.helper.capture("e")
    plain, proxied, anonymized, off = (e["properties"] for e in sent(client, recorder))
    assert (plain["$ip"], proxied["$ip"], anonymized["$ip"]) == (
        "10.0.0.2",
        "198.51.100.23",
        "198.51.100.0",
    )
    assert all("$geoip_disable" not in p for p in (plain, proxied, anonymized))
    assert "$ip" not in off
    assert off["$geoip_disable"] is True


def test_unknown_ip_disables_geoip(client: Client, recorder: RecorderTransport) -> None:
    tracker(client).start(request(peer=None)).helper.capture("e")
    [event] = sent(client, recorder)
    assert "$ip" not in event["properties"]
    assert event["properties"]["$geoip_disable"] is True


# --- consent ----------------------------------------------------------------------------


def test_consent_rules() -> None:
    default = ConsentRules()
    assert default.opted_out(request(sec_gpc="1"))
    assert default.opted_out(request(sec_gpc=" 1 "))
    assert not default.opted_out(request(sec_gpc="0"))
    assert not default.opted_out(request(dnt="1"))
    assert ConsentRules(respect_dnt=True).opted_out(request(dnt="1"))
    assert not ConsentRules(respect_gpc=False).opted_out(request(sec_gpc="1"))


def test_opted_out_visitor_gets_no_events_and_no_cookies(
    client: Client, recorder: RecorderTransport
) -> None:
    t = tracker(client, respect_dnt=True)
    for headers in ({"sec_gpc": "1"}, {"dnt": "1"}):
        ctx = t.start(request(**headers))
        ctx.helper.capture("e")
        ctx.helper.identify({"a": 1})
        ctx.helper.login("user-1", {"email": "a@example.com"})
        ctx.helper.page("p")
        t.finish(ctx, HTML)
        assert t.response_cookies(ctx) == []
    assert sent(client, recorder) == []


def test_opted_out_visitor_loses_an_existing_cookie(client: Client) -> None:
    t = tracker(client)
    cookies = pageview(t, request())  # the anonymous id and the server session
    expired = pageview(t, request(sec_gpc="1", cookies={c.name: c.value for c in cookies}))
    assert [(e.name, e.value, e.max_age) for e in expired] == [(c.name, "", 0) for c in cookies]


# --- cookieless modes -------------------------------------------------------------------


def test_server_hash_cookieless_mode(client: Client, recorder: RecorderTransport) -> None:
    t = tracker(client, cookieless_mode="server_hash", person_profiles="always")
    ctx = t.start(request())
    assert ctx.helper.distinct_id == COOKIELESS_SENTINEL
    ctx.helper.capture("e")
    ctx.helper.identify({"a": 1})  # no stable id: dropped
    t.finish(ctx, HTML)
    assert t.response_cookies(ctx) == []
    ctx = t.start(request(peer=None))  # PostHog would drop it without $ip: a one-off id
    ctx.helper.capture("no_ip")
    ctx.helper.login("user-1")  # never aliases a one-off id
    ctx.helper.capture("after_login")
    assert t.response_cookies(ctx) == []
    capture, page, no_ip, after_login = sent(client, recorder)
    for event in (capture, page):
        assert event["distinct_id"] == COOKIELESS_SENTINEL
        props = event["properties"]
        assert props["$cookieless_mode"] is True
        assert props["$process_person_profile"] is False
        assert props["$ip"]
        assert props["$raw_user_agent"]
        assert props["$host"]
    assert no_ip["distinct_id"] != COOKIELESS_SENTINEL
    assert "$cookieless_mode" not in no_ip["properties"]
    assert no_ip["properties"]["$process_person_profile"] is False
    assert after_login["distinct_id"] == "user-1"
    assert "$cookieless_mode" not in after_login["properties"]


def test_per_request_cookieless_mode(client: Client, recorder: RecorderTransport) -> None:
    t = tracker(client, cookieless_mode="per_request", person_profiles="always")
    ids = []
    for _ in range(2):
        ctx = t.start(request(cookies={"ph_web_id": "ignored"}))
        ctx.helper.capture("e")
        t.finish(ctx, HTML)
        assert t.response_cookies(ctx) == []
        ids.append(ctx.helper.distinct_id)
    events = sent(client, recorder)
    assert ids[0] != ids[1]
    assert [e["distinct_id"] for e in events] == [ids[0], ids[0], ids[1], ids[1]]
    assert all(e["properties"]["$process_person_profile"] is False for e in events)


def test_cookieless_still_uses_the_browsers_own_ids(
    client: Client, recorder: RecorderTransport
) -> None:
    t = tracker(client, cookieless_mode="per_request")
    browser_id = "01a028e7-e040-7a11-b222-333344445555"
    ctx = t.start(request(x_posthog_distinct_id=browser_id))
    ctx.helper.capture("e")
    [event] = sent(client, recorder)
    assert event["distinct_id"] == browser_id


# --- cross-user alias ledger -------------------------------------------------------------


def test_alias_ledger() -> None:
    ledger = AliasLedger(size=2)
    assert ledger.claim("anon-1", "alice")
    assert ledger.claim("anon-1", "alice")
    assert not ledger.claim("anon-1", "bob")
    assert ledger.claim("anon-2", "bob")
    assert ledger.claim("anon-3", "carol")  # anon-1 forgotten (bounded)
    assert ledger.claim("anon-1", "bob")
