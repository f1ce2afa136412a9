"""FLAGS_CACHE: flag definitions shared through a Django cache (DjangoCacheStore).

The store runs on Django's own LocMemCache and FileBasedCache; a FileBasedCache whose
directory cannot exist stands for a cache that is down. The pollers fetch from the
flags stand-in on 127.0.0.1: what it received is what is checked.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client as DjangoClient

from posthog_web import Client
from posthog_web.django import conf
from posthog_web.django.checks import check_settings
from posthog_web.django.flags_cache import DjangoCacheStore
from posthog_web.flags.definitions import Definitions
from posthog_web.flags.store import DefinitionsStore
from tests.flags.server import SECRET, TOKEN, FlagsServer
from tests.flags.test_client import checkout, definitions

HOST = "https://eu.i.posthog.com"
LOGGER = "posthog_web.django.flags_cache"


@pytest.fixture(params=["locmem", "file"])
def caches_setting(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> str:
    """CACHES with a "shared" alias of the parametrized backend and a "broken" one."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    shared = (
        {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(tmp_path)}
        if request.param == "locmem"
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    )
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": shared,
        # Its directory would be under a file: every operation raises OSError.
        "broken": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(blocker / "cache"),
        },
    }
    return str(request.param)


def store(alias: str = "shared", host: str = HOST, api_key: str = TOKEN) -> DjangoCacheStore:
    return DjangoCacheStore(alias, host=host, api_key=api_key, poll_interval=30)


def age(target: DjangoCacheStore, seconds: float) -> None:
    stored = caches[target.alias].get(target.key)
    stored["saved_at"] = time.time() - seconds
    caches[target.alias].set(target.key, stored, timeout=None)


BODY = definitions(checkout())


@pytest.mark.usefixtures("caches_setting")
def test_saved_definitions_are_read_fresh_and_parsed_once() -> None:
    writer, reader = store(), store()
    assert reader.load_fresh(30) is None
    assert reader.load_any() is None
    writer.save(BODY, '"v1"')
    first = reader.load_fresh(30)
    assert isinstance(first, Definitions)
    assert first.etag == '"v1"'
    assert reader.load_fresh(30) is first  # the same version: not parsed again
    assert reader.load_any() is first
    age(writer, 60)
    assert reader.load_fresh(30) is None  # older than the interval: fetch
    assert reader.load_any() is first  # while another worker fetches
    writer.touch()  # a 304: current again, the same version
    assert reader.load_fresh(30) is first
    writer.save(definitions(checkout(), checkout(key="other")), '"v2"')
    second = reader.load_fresh(30)
    assert second is not None
    assert second is not first
    assert second.etag == '"v2"'


@pytest.mark.usefixtures("caches_setting")
def test_the_entry_is_named_by_host_and_project_and_holds_no_key() -> None:
    one = store()
    assert TOKEN not in one.key
    assert SECRET not in one.key
    assert store().key == one.key
    assert store(host="https://us.i.posthog.com").key != one.key
    assert store(api_key="phc_other").key != one.key
    one.save(BODY, None)
    assert store(api_key="phc_other").load_any() is None
    stored = caches["shared"].get(one.key)
    assert set(stored) == {"version", "etag", "body", "saved_at"}
    assert SECRET not in repr(stored)
    assert repr(one) == "<DjangoCacheStore 'shared'>"


@pytest.mark.usefixtures("caches_setting")
def test_one_worker_holds_the_fetch_lock_and_releases_only_its_own() -> None:
    one, other = store(), store()
    with one.fetch_lock() as holding:
        assert holding
        with other.fetch_lock() as second:
            assert not second
        assert caches["shared"].get(one.lock_key) is not None  # the loser left it alone
    with other.fetch_lock() as holding:
        assert holding  # released on exit
        caches["shared"].set(one.lock_key, "a later holder's token", timeout=60)
    assert caches["shared"].get(one.lock_key) == "a later holder's token"
    assert one.lock_timeout == 40  # the definitions timeout (10 s) + the interval


@pytest.mark.usefixtures("caches_setting")
def test_something_else_under_the_key_is_not_definitions() -> None:
    target = store()
    for junk in ("text", {"version": "x", "body": "not json", "saved_at": time.time()},
                 {"version": "y", "body": "[1]", "saved_at": time.time()},
                 {"version": "z", "body": "{}", "saved_at": "now"}):  # fmt: skip
        caches["shared"].set(target.key, junk)
        assert target.load_fresh(30) is None
    target.touch()  # nothing it can refresh: no error


@pytest.mark.usefixtures("caches_setting")
@pytest.mark.parametrize("alias", ["broken", "not-configured"])
def test_a_failing_cache_means_fetch_and_is_logged_once(
    alias: str, caplog: pytest.LogCaptureFixture
) -> None:
    target = store(alias)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(3):
            assert target.load_fresh(30) is None
            assert target.load_any() is None
            with target.fetch_lock() as holding:
                assert holding  # fetch yourself
            target.save(BODY, '"v1"')
            target.touch()
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert f"the Django cache {alias!r} failed" in record.getMessage()
    assert TOKEN not in record.getMessage()


@pytest.fixture
def server() -> Iterator[FlagsServer]:
    server = FlagsServer().start()
    server.definitions = BODY
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_client(server: FlagsServer) -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(
        alias: str = "shared", store_class: type[DjangoCacheStore] = DjangoCacheStore
    ) -> Client:
        shared = store_class(alias, host=server.url, api_key=TOKEN, poll_interval=60)
        client = Client(
            TOKEN, host=server.url, sync_mode=True, flags_secret_key=SECRET, flags_timeout=2.0,
            flags_poll_interval=60, flags_store=shared,
        )  # fmt: skip
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown(timeout=1.0)


def poll(client: Client) -> None:
    poller = client.flags.poller
    assert poller is not None
    poller.poll()


@pytest.mark.usefixtures("caches_setting")
def test_one_worker_fetches_and_a_304_keeps_the_shared_copy(
    server: FlagsServer, make_client: Callable[..., Client]
) -> None:
    workers = [make_client() for _ in range(4)]
    for worker in workers:
        assert worker.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
    assert len(server.made("definitions")) == 1
    assert server.made("flags") == []

    shared = store(host=server.url)
    age(shared, 120)  # past the interval: the next poll fetches, with the stored ETag
    poll(workers[2])
    (_, second) = server.made("definitions")
    assert second["headers"]["If-None-Match"] == server.etag()
    assert time.time() - caches["shared"].get(shared.key)["saved_at"] < 60  # touched
    for worker in workers:
        poll(worker)  # fresh again: read, not fetched
    assert len(server.made("definitions")) == 2


@pytest.mark.usefixtures("caches_setting")
def test_a_broken_cache_falls_back_to_fetching(
    server: FlagsServer, make_client: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        workers = [make_client("broken") for _ in range(2)]
        for worker in workers:
            assert worker.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
            poll(worker)  # a 304: still fine, nothing more logged
    assert len(server.made("definitions")) == 4  # each worker on its own
    assert server.made("flags") == []
    assert len([r for r in caplog.records if r.name == LOGGER]) == 2  # once per worker


class ThreadRecordingStore(DjangoCacheStore):
    """Notes the thread of every call the poller makes."""

    threads: ClassVar[set[str]] = set()

    def load_fresh(self, max_age: float) -> Definitions | None:
        self.threads.add(threading.current_thread().name)
        return super().load_fresh(max_age)

    def save(self, body: object, etag: str | None) -> None:
        self.threads.add(threading.current_thread().name)
        super().save(body, etag)


@pytest.mark.usefixtures("caches_setting")
def test_the_cache_is_used_from_the_poller_thread_never_the_request(
    server: FlagsServer, make_client: Callable[..., Client], settings: Any
) -> None:
    ThreadRecordingStore.threads = set()
    client = make_client(store_class=ThreadRecordingStore)
    settings.ROOT_URLCONF = "tests.django.flag_urls"
    settings.POSTHOG_WEB = {"CLIENT": client}
    for _ in range(3):
        page = DjangoClient().get("/banner/").content.decode()
        assert re.search(r"<p>(control|test-a|test-b)</p>", page), page
    assert server.made("flags") == []  # evaluated locally, from the definitions stored
    assert ThreadRecordingStore.threads == {"posthog-web-flags"}


@pytest.mark.usefixtures("caches_setting")
def test_the_setting_builds_the_store_and_requests_share_it(
    server: FlagsServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POSTHOG_FLAGS_SECRET_KEY", raising=False)
    raw = {
        "API_KEY": TOKEN,
        "HOST": server.url,
        "SYNC_MODE": True,
        "FLAGS_SECRET_KEY": SECRET,
        "FLAGS_TIMEOUT": 2.0,
        "FLAGS_CACHE": "shared",
    }
    settings.ROOT_URLCONF = "tests.django.flag_urls"
    settings.POSTHOG_WEB = raw
    page = DjangoClient().get("/banner/").content.decode()
    assert re.search(r"<p>(control|test-a|test-b)</p>", page), page
    assert server.made("flags") == []
    assert len(server.made("definitions")) == 1
    stored = caches["shared"].get(store(host=server.url).key)
    assert isinstance(stored, dict)
    assert stored["etag"] == server.etag()
    other = conf.build(raw, quiet=True)  # another worker: reads the cache
    try:
        assert other.tracker is not None
        shared = other.tracker.client.flags.poller._store  # type: ignore[union-attr]
        assert isinstance(shared, DefinitionsStore)
        assert "DjangoCacheStore 'shared'" in repr(shared)
        assert (
            other.tracker.client.get_feature_flag(
                "checkout-test", distinct_id="user-42", send_event=False
            )
            == "test-b"
        )
    finally:
        other.tracker.client.shutdown(timeout=1.0)  # type: ignore[union-attr]
    assert len(server.made("definitions")) == 1


def test_flags_cache_and_flags_cache_dir_together_are_refused(tmp_path: Path) -> None:
    raw = {"API_KEY": TOKEN, "HOST": "http://127.0.0.1:9", "FLAGS_SECRET_KEY": SECRET,
           "FLAGS_CACHE": "default", "FLAGS_CACHE_DIR": str(tmp_path)}  # fmt: skip
    with pytest.raises(ImproperlyConfigured, match="FLAGS_CACHE or FLAGS_CACHE_DIR"):
        conf.build(raw, quiet=True)


def test_checks_name_a_missing_alias_both_settings_and_a_per_process_cache(
    settings: Any, tmp_path: Path
) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
        "files": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path),
        },
    }
    base = {"API_KEY": TOKEN, "HOST": HOST}
    settings.POSTHOG_WEB = {**base, "FLAGS_CACHE": "redis"}
    (error,) = check_settings()
    assert error.id == "posthog_web.E007"
    assert "'redis'" in error.msg
    assert "['default', 'dummy', 'files']" in str(error.hint)
    settings.POSTHOG_WEB = {**base, "FLAGS_CACHE": "files", "FLAGS_CACHE_DIR": str(tmp_path)}
    (error,) = check_settings()
    assert error.id == "posthog_web.E008"
    settings.POSTHOG_WEB = {**base, "FLAGS_CACHE": "default"}
    (warning,) = check_settings()
    assert warning.id == "posthog_web.W006"
    assert "each process has its own LocMemCache" in warning.msg
    settings.POSTHOG_WEB = {**base, "FLAGS_CACHE": "dummy"}
    (warning,) = check_settings()
    assert warning.id == "posthog_web.W006"
    assert "DummyCache stores nothing" in warning.msg
    settings.POSTHOG_WEB = {**base, "FLAGS_CACHE": "files"}
    assert check_settings() == []
    settings.POSTHOG_WEB = {**base, "FLAGS_CACHE": 3}
    (error,) = check_settings()
    assert error.id == "posthog_web.E003"


def test_a_cache_that_fails_while_the_lock_is_held_is_logged(
    settings: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    location = tmp_path / "cache"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(location),
        }
    }
    target = store("default")
    with caplog.at_level(logging.WARNING, logger=LOGGER), target.fetch_lock() as holding:
        assert holding
        shutil.rmtree(location)
        location.write_text("the cache's directory is gone")  # every operation now fails
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert "releasing the fetch lock" in record.getMessage()
    with pytest.raises(TypeError, match="alias must be a cache alias"):
        DjangoCacheStore(3, host=HOST, api_key=TOKEN, poll_interval=30)  # type: ignore[arg-type]


@pytest.mark.django_db
def test_the_database_cache_before_and_after_createcachetable(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "db": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "posthog_flags_test_cache",
        },
    }
    target = store("db")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert target.load_fresh(30) is None  # no table yet: fetch yourself
        with target.fetch_lock() as holding:
            assert holding
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert "the Django cache 'db' failed" in record.getMessage()
    call_command("createcachetable", "--database", "default", verbosity=0)
    target.save(BODY, '"v1"')
    loaded = store("db").load_fresh(30)
    assert loaded is not None
    assert loaded.etag == '"v1"'
    with target.fetch_lock() as holding, store("db").fetch_lock() as other:
        assert holding
        assert not other
