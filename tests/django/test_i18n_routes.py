"""A site translated with i18n_patterns: one ``route`` per page in every language."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.django import i18n_urls
from tests.django.conftest import Harness

pytestmark = [pytest.mark.urls("tests.django.i18n_urls"), pytest.mark.django_db]

NAVIGATE = {
    "HTTP_USER_AGENT": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    ),
    "HTTP_SEC_FETCH_DEST": "document",
    "HTTP_SEC_FETCH_MODE": "navigate",
}


@pytest.fixture(autouse=True)
def _translated(settings: Any) -> None:
    settings.USE_I18N = True
    settings.LANGUAGE_CODE = "en"
    settings.LANGUAGES = [("en", "English"), ("fr", "French"), ("pt-br", "Brazilian")]
    settings.MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.locale.LocaleMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "posthog_web.django.PostHogMiddleware",
    ]


def _routes(posthog: Harness, client: Client, *urls: str) -> list[tuple[str, str, str]]:
    for url in urls:
        assert client.get(url, **NAVIGATE).status_code == 200  # type: ignore[arg-type]
    return [
        (v["properties"]["$pathname"], v["properties"]["route"], v["properties"]["route_name"])
        for v in posthog.pageviews()
    ]


def test_the_language_prefix_is_not_part_of_the_route(posthog: Harness, client: Client) -> None:
    assert _routes(posthog, client, "/products/1/", "/fr/products/2/", "/pt-br/products/3/") == [
        ("/products/1/", "/products/<int:pk>/", "product"),
        ("/fr/products/2/", "/products/<int:pk>/", "product"),
        ("/pt-br/products/3/", "/products/<int:pk>/", "product"),
    ]


def test_a_nested_include_keeps_its_own_prefix(posthog: Harness, client: Client) -> None:
    assert _routes(posthog, client, "/shop/items/1/", "/fr/shop/items/1/") == [
        ("/shop/items/1/", "/shop/items/<int:pk>/", "item"),
        ("/fr/shop/items/1/", "/shop/items/<int:pk>/", "item"),
    ]


def test_the_default_language_prefixed_too(posthog: Harness, client: Client, settings: Any) -> None:
    settings.ROOT_URLCONF = i18n_urls.EveryLanguagePrefixed
    assert _routes(posthog, client, "/en/products/1/", "/fr/products/1/") == [
        ("/en/products/1/", "/products/<int:pk>/", "product"),
        ("/fr/products/1/", "/products/<int:pk>/", "product"),
    ]


def test_a_route_outside_i18n_patterns_stays_whole(posthog: Harness, client: Client) -> None:
    assert _routes(posthog, client, "/fr/legacy/") == [("/fr/legacy/", "/fr/legacy/", "legacy")]


def test_a_view_switching_language_does_not_change_the_prefix_taken_off(
    posthog: Harness, client: Client
) -> None:
    assert _routes(posthog, client, "/fr/switch/") == [("/fr/switch/", "/switch/", "switch")]
