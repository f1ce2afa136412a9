"""What one feature flag read adds to a Django page: ``request.posthog.get_feature_flag``.

``.venv/bin/python -m bench.request_flags_django [--quick]``: bench/request_flags_bench.py's
method (interleaved variants, each request timed alone, then each variant's delivery)
on Django's WSGI handler called directly: posthog-web's middleware behind a stand-in for
Django's authentication middleware (a logged-in user with bench/request_flags_bench.py's
4 person properties, no database) and the product page with a live posthog-js cookie,
one visitor request after request. ``request.posthog`` is a plain attribute of the
request, so this is the read's own cost with no framework lookup in it (the Starlette
bench's ``request.state`` has one).

Variants (one URL pattern, the view does what the path names): ``no flag``, ``one
rollout flag``, ``one flag`` (the 3-condition flag of bench/flags_bench.py) and
``distinct id only`` (``request.posthog.distinct_id``: the user, and its person
properties, read in the view instead of when the page view is built, as a flag read
does), and ``same work, one function``: ``one flag``'s read written as one function
(see :func:`_same_work_inline`), which tells the package's layering from the work.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test.utils import override_settings
from django.urls import path

from bench import django_app, scenarios
from bench.asgi_app import PAGE
from bench.inbox_process import InboxProcess
from bench.request_flags_bench import (
    FLAG,
    PERSON,
    SIMPLE,
    Samples,
    flags_client,
    report_line,
    timed_rounds,
)
from posthog_web.web.request_flags import RequestFlags


class _User:
    """A logged-in user as Django's authentication middleware leaves it."""

    pk = 42
    is_authenticated = True
    is_anonymous = False


_SAME_USER = _User()


class BenchAuthenticationMiddleware:
    """Django's ``AuthenticationMiddleware`` without its session lookup: the same user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.user = _SAME_USER  # type: ignore[assignment]
        return self.get_response(request)


def person_properties(user: Any) -> dict[str, Any]:
    return PERSON


#: The value each flag read last (a read the guard swallowed gives None).
VALUES: dict[str, bool | str | None] = {}


def _flag(key: str) -> Callable[[HttpRequest], None]:
    def read(request: HttpRequest) -> None:
        VALUES[key] = request.posthog.get_feature_flag(key)  # type: ignore[attr-defined]

    return read


def _distinct_id(request: HttpRequest) -> None:
    request.posthog.distinct_id  # type: ignore[attr-defined]  # noqa: B018


#: Where the measuring stick below leaves the value it read.
INLINE = "inline:" + FLAG


def _same_work_inline(request: HttpRequest) -> None:
    """``one flag``'s read for a returning visitor, written as one function: a measuring
    stick, not a way to read a flag.

    It does the work the package's read does when the visitor's last value is reused:
    the visitor's distinct id, the request's flag state, the reuse table's entry and
    the comparison of the person properties the flag reads, the flag marked read (the
    page view then carries its properties), the exposure dedupe's lookup. None of the
    calls between them (the helper, the reader, the evaluator, the reuse table's
    method) is made. What ``one flag`` adds beyond it is what the package's layering
    costs; the rest is the work. It reaches into private attributes on purpose; a
    visitor not yet kept, or not yet reported, gets the real read.
    """
    helper = request.posthog  # type: ignore[attr-defined]
    ctx, tracker = helper._context, helper._tracker
    distinct_id = tracker._visitors.distinct_id(ctx)
    state = ctx.flags
    if state is None:
        state = ctx.flags = RequestFlags(distinct_id)
    client = tracker._flags._client
    defs = client.flags.definitions()
    entry = defs.recent._entries[FLAG].get(distinct_id) if defs is not None else None
    seen = client._called._seen.get(distinct_id)
    result = None
    if entry is not None:
        read, same, kept, kept_types, kept_result = entry
        if same(read(ctx.person_properties), kept, kept_types):
            result = kept_result
    if result is None or seen is None or (FLAG, result.value) not in seen:
        VALUES[INLINE] = helper.get_feature_flag(FLAG)
        return
    state.results[FLAG] = result
    if FLAG not in state.read:
        state.read[FLAG] = result
        state._properties = None
    VALUES[INLINE] = result.value


#: Variant name -> what its page does before answering (None: nothing).
VARIANTS: dict[str, Callable[[HttpRequest], None] | None] = {
    "no flag": None,
    "one rollout flag": _flag(SIMPLE),
    "one flag": _flag(FLAG),
    "distinct id only": _distinct_id,
    "same work, one function": _same_work_inline,
}
#: Where each variant leaves the value it read (VALUES' key).
FLAGS_READ = {"one rollout flag": SIMPLE, "one flag": FLAG, "same work, one function": INLINE}
_SLUGS = {name: f"v{index}" for index, name in enumerate(VARIANTS)}
_DOES = {_SLUGS[name]: does for name, does in VARIANTS.items()}


def product(request: HttpRequest, variant: str, product_id: int) -> HttpResponse:
    does = _DOES[variant]
    if does is not None:
        does(request)
    return HttpResponse(PAGE)


urlpatterns = [path("products/<str:variant>/<int:product_id>", product)]

_MIDDLEWARE = [
    "bench.request_flags_django.BenchAuthenticationMiddleware",
    "posthog_web.django.PostHogMiddleware",
]


@contextmanager
def _django(client: Any) -> Iterator[None]:
    if not settings.configured:
        settings.configure(**django_app.STANDALONE)
        django.setup()
    with override_settings(
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=[scenarios.HOST],
        MIDDLEWARE=_MIDDLEWARE,
        POSTHOG_WEB={"CLIENT": client, "PERSON_PROPERTIES": person_properties},
    ):
        yield


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def variant_environ(template: dict[str, Any], name: str) -> dict[str, Any]:
    """``template`` (a WSGI environ) for variant ``name``'s page."""
    return {**template, "PATH_INFO": f"/products/{_SLUGS[name]}/42"}


def respond(handler: Any, environ: dict[str, Any]) -> int:
    """One request through Django's WSGI ``handler``, its body read; its status."""
    response = handler(environ, _start_response)
    for _chunk in response:
        pass
    response.close()
    status: int = response.status_code
    return status


def check_reads(variants: list[str]) -> None:
    """Raise unless each variant that reads a flag got its value (a broken read would be
    measured as a cheap one)."""
    unread = [key for name in variants if (key := FLAGS_READ.get(name)) and VALUES.get(key) is None]
    if unread:
        raise RuntimeError(f"flags not evaluated: {unread}")


def measure(variants: list[str], rounds: int, n: int) -> Samples:
    """Each variant's request and delivery µs per request, one figure per round."""
    from django.core.handlers.wsgi import WSGIHandler

    inbox = InboxProcess()
    client = flags_client(inbox)
    try:
        with _django(client):
            handler = WSGIHandler()
            template = scenarios.wsgi_environ(scenarios.build("page"))
            environs = {name: variant_environ(template, name) for name in variants}
            clock = time.perf_counter_ns

            def serve(plan: list[tuple[str, dict[str, Any]]]) -> dict[str, list[int]]:
                spent: dict[str, list[int]] = {name: [] for name in variants}
                for name, environ in plan:
                    environ = environ.copy()
                    environ["wsgi.input"] = io.BytesIO(b"")
                    start = clock()
                    status = respond(handler, environ)
                    spent[name].append(clock() - start)
                    if status != 200:
                        raise RuntimeError(f"{name}: HTTP {status}")
                return spent

            VALUES.clear()
            samples = timed_rounds(
                variants, rounds, lambda name: [environs[name]] * n, serve, client, inbox
            )
            check_reads(variants)
            return samples
    finally:
        client.shutdown(timeout=5)
        inbox.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--n", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 15)
    n = args.n or (300 if args.quick else 1000)
    names = list(VARIANTS)
    samples = measure(names, rounds, n)
    print(f"Django, {rounds} rounds x {n} requests of each variant, interleaved; µs per")
    print("request (median of rounds), and what each adds to the no-flag page (median of")
    print("the paired rounds, quartiles):")
    print(f"  {'':<23} {'request':>8} {'delivery':>9}   {'adds: request':>24}  delivery  total")
    for name in names:
        print(report_line(samples, name, "no flag", width=23))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
