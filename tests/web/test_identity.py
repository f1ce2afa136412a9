"""Anonymous-id resolution: tracing headers, the posthog-js cookie, our signed cookie."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posthog_web.events import uuid7, uuid7_at
from posthog_web.web.identity import (
    AnonymousCookie,
    AnonymousIdentity,
    CookieSigner,
    parse_posthog_cookie,
    plan_login,
    plan_logout,
    posthog_cookie_name,
    resolve_anonymous,
    sanitize_header,
    usable_distinct_id,
)
from posthog_web.web.posthog_cookie import _load_json

NOW = 1_787_400_000_000
IDLE = 30 * 60 * 1000
signer = CookieSigner("secret")


def js(**data: object) -> str:
    return quote(json.dumps(data), safe="")


def parse(raw: str | None):  # type: ignore[no-untyped-def]
    return parse_posthog_cookie(raw, now_ms=NOW, idle_timeout_ms=IDLE)


def test_sanitize_header() -> None:
    assert sanitize_header("  abc\x00\x1f\x7f\x9f ") == "abc"
    assert sanitize_header("x" * 2000) == "x" * 1000
    assert sanitize_header(" \x00 ") is None
    assert sanitize_header(None) is None
    assert sanitize_header(b"abc") is None


def test_usable_distinct_id() -> None:
    assert usable_distinct_id("user-1") == "user-1"
    for bad in (None, "", "null", "'undefined'", "x" * 201):
        assert usable_distinct_id(bad) is None


def test_cookie_name() -> None:
    assert posthog_cookie_name("phc_a+b/c=") == "ph_phc_aPLbSLcEQ_posthog"


def test_anonymous_cookie_with_live_session() -> None:
    device, session = uuid7(), uuid7_at(NOW - 60_000)
    parsed = parse(
        js(
            distinct_id=device,
            **{
                "$device_id": device,
                "$user_state": "anonymous",
                "$sesid": [NOW - 5_000, session.upper(), NOW - 60_000],
            },
        )
    )
    assert parsed is not None
    assert (parsed.distinct_id, parsed.identified, parsed.session_id) == (device, False, session)


def test_identified_and_legacy_cookies() -> None:
    identified = parse(js(distinct_id="user-1", **{"$user_state": "identified"}))
    assert identified is not None
    assert identified.identified
    device = uuid7()
    legacy_anon = parse(js(distinct_id=device, **{"$device_id": device}))
    assert legacy_anon is not None
    assert not legacy_anon.identified
    legacy_user = parse(js(distinct_id="user-1", **{"$device_id": device}))
    assert legacy_user is not None
    assert legacy_user.identified


@pytest.mark.parametrize(
    "raw",
    [None, "", "%7B", "[1]", "x" * 9000, quote("{'a': 1}")],
)
def test_unusable_cookies(raw: str | None) -> None:
    assert parse(raw) is None


@pytest.mark.parametrize("distinct_id", ["$posthog_cookieless", "null", 5, None])
def test_unusable_distinct_ids(distinct_id: object) -> None:
    parsed = parse(js(distinct_id=distinct_id, **{"$user_state": "anonymous"}))
    assert parsed is not None
    assert parsed.distinct_id is None


@pytest.mark.parametrize(
    "sesid",
    [
        "nope",
        [NOW],
        [NOW - 1000, 5, NOW],
        [True, uuid7_at(NOW), NOW],
        [NOW - 1000, str(__import__("uuid").uuid4()), NOW - 1000],
        [NOW + 10 * 60_000, uuid7_at(NOW), NOW],
        [NOW, uuid7_at(NOW), NOW + 10 * 60_000],
        [NOW - IDLE - 1, uuid7_at(NOW - IDLE - 1), NOW - IDLE - 1],
        [NOW - 1000, uuid7_at(NOW - 25 * 3600_000), NOW - 25 * 3600_000],
    ],
)
def test_stale_or_broken_sessions(sesid: object) -> None:
    parsed = parse(js(distinct_id=uuid7(), **{"$sesid": sesid}))
    assert parsed is not None
    assert parsed.session_id is None


def test_legacy_two_item_session() -> None:
    session = uuid7_at(NOW - 1000)
    parsed = parse(js(distinct_id=uuid7(), **{"$sesid": [NOW - 1000, session]}))
    assert parsed is not None
    assert parsed.session_id == session


def test_signer_round_trip_and_tampering() -> None:
    cookie = AnonymousCookie(uuid7(), "a" * 11, "u" * 11, ("r" * 11, "s" * 11))
    raw = signer.dumps(cookie)
    assert signer.loads(raw) == cookie
    assert CookieSigner("other").loads(raw) is None
    assert CookieSigner(b"secret").loads(raw) == cookie
    body, _, sig = raw.rpartition(".")
    tampered = sig[:-1] + ("B" if sig.endswith("A") else "A")
    assert signer.loads(f"{body}.{tampered}") is None
    for bad in (None, "", "x" * 300, "2" + raw[1:], raw.replace(".", "", 1)):
        assert signer.loads(bad) is None


def test_signer_refuses_bad_bodies() -> None:
    for body in ("1.not-a-uuid...", f"1.{uuid7()}...abc"):
        assert signer.loads(f"{body}.{signer._mac(b's', body, 22)}") is None


def test_unsigned_cookies_still_work() -> None:
    unsigned = CookieSigner(None)
    cookie = unsigned.new()
    assert unsigned.loads(unsigned.dumps(cookie)) == cookie
    assert len(unsigned.new(["t" * 11] * 9).retired) == 4


def test_resolution_order() -> None:
    header, js_id, own = uuid7(), uuid7(), signer.new()
    anon_js = parse(js(distinct_id=js_id, **{"$user_state": "anonymous"}))
    assert resolve_anonymous(header, anon_js, own, signer) == AnonymousIdentity(header, "header")
    assert resolve_anonymous("user-1", None, None, signer).identified
    ident_js = parse(js(distinct_id="user-1", **{"$user_state": "identified"}))
    assert resolve_anonymous("user-1", ident_js, None, signer).identified
    assert resolve_anonymous(None, anon_js, own, signer) == AnonymousIdentity(js_id, "posthog-js")
    assert resolve_anonymous(None, None, own, signer) == AnonymousIdentity(own.anon_id, "cookie")
    assert resolve_anonymous(None, None, None, signer) == AnonymousIdentity(None, "new")
    retired = signer.new([signer.anon_tag(header), signer.anon_tag(js_id)])
    assert resolve_anonymous(header, anon_js, retired, signer).anon_id == retired.anon_id


def test_login_plans() -> None:
    anon = uuid7()
    assert plan_login(None, None, True, "u1", signer) == (False, None)
    assert plan_login(None, anon, False, "u1", signer) == (False, None)
    assert plan_login(None, "u1", True, "u1", signer) == (False, None)

    alias, cookie = plan_login(None, anon, True, "u1", signer)
    assert alias
    assert cookie is not None
    assert cookie.linked_anon == signer.anon_tag(anon)
    assert cookie.linked_user == signer.user_tag("u1")
    # Already linked, to the same user or another one: never again.
    assert plan_login(cookie, anon, True, "u1", signer) == (False, None)
    assert plan_login(cookie, anon, True, "u2", signer) == (False, None)
    # A new anonymous id replaces the link, and the old linked id is retired.
    other = uuid7()
    alias, relinked = plan_login(cookie, other, True, "u2", signer)
    assert alias
    assert relinked is not None
    assert relinked.retired == (signer.anon_tag(anon),)
    retired = AnonymousCookie(uuid7(), retired=(signer.anon_tag(other),))
    assert plan_login(retired, other, True, "u3", signer) == (False, None)


def test_logout_plans() -> None:
    anon = uuid7()
    _, linked = plan_login(None, anon, True, "u1", signer)
    rotated = plan_logout(linked, AnonymousIdentity(anon, "posthog-js"), signer)
    assert rotated.anon_id != linked.anon_id  # type: ignore[union-attr]
    assert rotated.retired == (signer.anon_tag(anon),)
    assert rotated.linked_anon == rotated.linked_user == ""
    fresh = plan_logout(None, AnonymousIdentity(None, "new"), signer)
    assert fresh.retired == ()


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_garbage_never_raises(raw: str) -> None:
    parse(raw)
    parse(quote(raw))
    signer.loads(raw)
    sanitize_header(raw)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(["distinct_id", "$device_id", "$user_state", "$sesid"]),
                children,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_garbage_json_never_raises(value: object) -> None:
    parse(quote(json.dumps(value), safe=""))


@pytest.mark.parametrize(
    "text", ['{"a":1}', ' {"a":1}', '{"a":1}  ', '{"a":1} x', "[1]x", "", "  ", "nul"]
)
def test_cookie_json_is_read_like_json_loads(text: str) -> None:
    try:
        expected: object = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            _load_json(text)
    else:
        assert _load_json(text) == expected
