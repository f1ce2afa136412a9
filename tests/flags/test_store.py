"""Client(flags_store=...): any DefinitionsStore, checked at the call, guarded in the poller."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from posthog_web import Client, DefinitionsStore
from posthog_web.flags.definitions import Definitions
from posthog_web.flags.store import GuardedStore, guarded_store
from posthog_web.web.settings import DEFAULTS, settings_client
from tests.flags.conftest import MakeClient
from tests.flags.server import TOKEN, FlagsServer
from tests.flags.test_client import checkout, definitions


class MemoryStore(DefinitionsStore):
    """The whole contract over one dict: what processes sharing it would see."""

    def __init__(self, shared: dict[str, object]) -> None:
        self.shared = shared
        self.lock = threading.Lock()

    def load_fresh(self, max_age: float) -> Definitions | None:
        saved_at = self.shared.get("saved_at")
        if not isinstance(saved_at, float) or time.time() - saved_at >= max_age:
            return None
        return self.load_any()

    def load_any(self) -> Definitions | None:
        parsed = self.shared.get("parsed")
        return parsed if isinstance(parsed, Definitions) else None

    @contextlib.contextmanager
    def fetch_lock(self) -> Iterator[bool]:
        if not self.lock.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            self.lock.release()

    def save(self, body: object, etag: str | None) -> None:
        self.shared.update(parsed=Definitions.from_json(body, etag), saved_at=time.time())

    def touch(self) -> None:
        self.shared["saved_at"] = time.time()


class BrokenStore(MemoryStore):
    def load_fresh(self, max_age: float) -> Definitions | None:
        raise ConnectionError("the store's backend is down")

    @contextlib.contextmanager
    def fetch_lock(self) -> Iterator[bool]:
        raise ConnectionError("the store's backend is down")
        yield True  # pragma: no cover

    def save(self, body: object, etag: str | None) -> None:
        raise ConnectionError("the store's backend is down")


def test_a_store_of_the_callers_shares_one_fetch(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.definitions = definitions(checkout())
    shared: dict[str, object] = {}
    workers = [flags_client(flags_store=MemoryStore(shared)) for _ in range(3)]
    for worker in workers:
        assert worker.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
    assert len(flags_server.made("definitions")) == 1


def test_a_store_that_raises_is_logged_once_and_the_poller_fetches(
    flags_server: FlagsServer, flags_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    flags_server.definitions = definitions(checkout())
    with caplog.at_level(logging.WARNING, logger="posthog_web.flags.store"):
        worker = flags_client(flags_store=BrokenStore({}))
        assert worker.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
        poller = worker.flags.poller
        assert poller is not None
        poller.poll()
    assert len(flags_server.made("definitions")) == 2  # the first load, then a 304
    (record,) = [r for r in caplog.records if r.name == "posthog_web.flags.store"]
    assert "BrokenStore.load_fresh() raised" in record.getMessage()


def test_a_wrong_store_and_two_stores_are_refused_at_the_call(tmp_path: Path) -> None:
    with pytest.raises(
        TypeError, match=r"flags_store must be a posthog_web\.DefinitionsStore, not PosixPath"
    ):
        Client(TOKEN, flags_store=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="flags_cache_dir or flags_store, not both"):
        Client(TOKEN, flags_cache_dir=tmp_path, flags_store=MemoryStore({}))
    with pytest.raises(TypeError, match="abstract"):
        type("Partial", (DefinitionsStore,), {})()


def test_flags_cache_outside_django_is_refused() -> None:
    conf = {**DEFAULTS, "API_KEY": TOKEN, "FLAGS_CACHE": "default"}
    with pytest.raises(ValueError, match=r"POSTHOG_WEB\['FLAGS_CACHE'\] names a Django cache"):
        settings_client(conf, debug=False)


class FailingLock:
    def __enter__(self) -> bool:
        return True

    def __exit__(self, *exc: object) -> None:
        self.seen = exc
        raise OSError("the lock could not be released")


class EveryMethodRaises(DefinitionsStore):
    def __init__(self) -> None:
        self.lock = FailingLock()

    def load_fresh(self, max_age: float) -> Definitions | None:
        raise OSError("down")

    def load_any(self) -> Definitions | None:
        raise OSError("down")

    def fetch_lock(self) -> contextlib.AbstractContextManager[bool]:
        return self.lock

    def save(self, body: object, etag: str | None) -> None:
        raise OSError("down")

    def touch(self) -> None:
        raise OSError("down")


def test_the_guard_answers_fetch_for_every_method_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = EveryMethodRaises()
    guarded = GuardedStore(inner)
    with caplog.at_level(logging.WARNING, logger="posthog_web.flags.store"):
        assert guarded.load_fresh(30) is None
        assert guarded.load_any() is None
        guarded.save({}, None)
        guarded.touch()
        with guarded.fetch_lock() as holding:
            assert holding
        with pytest.raises(KeyError), guarded.fetch_lock():
            raise KeyError("a bug in the block")  # reaches the caller, and the lock sees it
    assert inner.lock.seen[0] is KeyError
    assert len([r for r in caplog.records if r.name == "posthog_web.flags.store"]) == 1
    assert repr(guarded) == f"<GuardedStore {inner!r}>"
    assert guarded_store(guarded, "flags_store") is guarded
