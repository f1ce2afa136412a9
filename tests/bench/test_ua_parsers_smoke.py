"""bench/ua_parsers.py's own half runs in the repo's venv (the parser packages it compares
with live in a scratch venv): posthog-web's rules, uncached and cached, on the cases."""

from __future__ import annotations

from bench import ua_parsers
from tests.web.ua_cases import UA_CASES


def test_the_own_rules_agree_with_posthog_js_on_every_case() -> None:
    counts = ua_parsers.agreement(ua_parsers.own_fn())
    assert counts == dict.fromkeys((*ua_parsers.FIELDS, "all"), len(UA_CASES))


def test_the_costs_are_measured() -> None:
    assert ua_parsers.cost_us(ua_parsers.own_fn(), unique=True) > 0
    assert ua_parsers.cached_cost_us() > 0
