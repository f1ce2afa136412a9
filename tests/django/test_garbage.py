"""Garbage cookies and headers never change the response nor raise."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.django.conftest import Harness
from tests.django.views import HTML

pytestmark = pytest.mark.django_db

header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"), max_size=80
)
cookie_text = st.one_of(
    st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=';,"\\'),
        max_size=120,
    ),
    st.builds(
        lambda v: quote(json.dumps(v), safe=""),
        st.dictionaries(
            st.sampled_from(["distinct_id", "$device_id", "$user_state", "$sesid"]),
            st.none()
            | st.booleans()
            | st.integers()
            | st.text(max_size=10)
            | st.lists(st.integers(), max_size=3),
        ),
    ),
)


@settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    own=cookie_text,
    js=cookie_text,
    distinct=header_text,
    session=header_text,
    referer=header_text,
    agent=header_text,
    query=header_text,
)
def test_garbage_is_harmless(
    posthog: Harness,
    caplog: pytest.LogCaptureFixture,
    own: str,
    js: str,
    distinct: str,
    session: str,
    referer: str,
    agent: str,
    query: str,
) -> None:
    client = Client()
    client.cookies["ph_web_id"] = own
    client.cookies["ph_phc_test_posthog"] = js
    response = client.get(
        "/",
        QUERY_STRING=quote(query, safe="=&"),
        HTTP_X_POSTHOG_DISTINCT_ID=distinct,
        HTTP_X_POSTHOG_SESSION_ID=session,
        HTTP_REFERER=referer,
        HTTP_USER_AGENT=agent,
    )
    assert response.status_code == 200
    assert response.content == HTML.encode()
    assert "failed" not in caplog.text
