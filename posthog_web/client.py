"""The PostHog client: the five operations, their validation, and the delivery modes."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from posthog_web import events as ev
from posthog_web.config import (
    DEFAULT_HOST,
    EU_HOST,
    US_HOST,
    directory,
    is_loopback,
    non_negative_number,
    normalize_host,
    positive_int,
    positive_number,
    validate_api_key,
)
from posthog_web.delivery import (
    DEFAULT_SPOOL_MAX_BYTES,
    DeliveryError,
    DeliveryOptions,
    RequestsTransport,
    Sender,
    Transport,
)
from posthog_web.delivery import recorder as recording
from posthog_web.errors import ExceptionCapture
from posthog_web.errors.options import ExceptionOptions
from posthog_web.exceptions import ExceptionsMixin
from posthog_web.flags.api import FlagsMixin, validate_secret_key
from posthog_web.flags.cache import DirectoryStore
from posthog_web.flags.evaluator import FlagEvaluator
from posthog_web.flags.exposure import CalledLog
from posthog_web.flags.store import DefinitionsStore, guarded_store
from posthog_web.groups import GroupTypes
from posthog_web.hooks import BeforeSend, EventHooks, encode_hooked
from posthog_web.payloads import encode_event, url_properties
from posthog_web.persons import PersonsMixin

# The hosts and checks live in config.py, the encoding in payloads.py; these names stay
# importable from here.
__all__ = [
    "DEFAULT_HOST",
    "EU_HOST",
    "US_HOST",
    "Client",
    "is_loopback",
    "normalize_host",
    "url_properties",
    "validate_api_key",
]

logger = logging.getLogger(__name__)


class Client(FlagsMixin, ExceptionsMixin, PersonsMixin):
    """Sends events to one PostHog project.

    Args:
        api_key: the project API key (``phc_...``), never a personal key.
        host: PostHog Cloud (``https://us.i.posthog.com``, ``https://eu.i.posthog.com``;
            the app hosts are rewritten to these), or a self-hosted or reverse-proxy URL.
        sync_mode: send each event at once from the calling thread and return the
            HTTP status PostHog answered; a network failure after the retries raises
            :class:`~posthog_web.DeliveryError`.
        disabled: validate and then drop everything (tests, local runs).
        flush_at: send a batch as soon as this many events wait.
        flush_interval: otherwise send what waits every this many seconds.
        max_queue_size: events held in memory; beyond it new events are dropped.
        max_batch_size: events per request at most (batches also stay under 5 MiB).
        gzip: compress request bodies.
        max_retries: retries of a batch after network errors, timeouts, 408, 429 and 5xx.
        timeout: seconds per HTTP request.
        exit_flush_timeout: seconds the interpreter-exit flush may take.
        spool_dir: a directory where events that could not be delivered within the retry
            budget, or before the process stopped, are kept and later sent again (by any
            process using the same directory); None keeps them in memory only. See
            docs/reliability.md.
        spool_max_bytes: bound on the spool's size; past it the oldest events are dropped.
        allow_insecure_http: allow ``http://`` to a host that is not loopback.
        transport: replaces the HTTP transport (see :mod:`posthog_web.delivery.transport`).
        exception_options: how :meth:`capture_exception` builds ``$exception`` events
            (in-app modules, code variables, the flood limit; see docs/errors.md).
        flags_secret_key: a personal API key (``phx_...``) with ``feature_flag:read`` or
            the project's feature flags secure key: flags are then evaluated locally from
            polled definitions. Sent only as ``Authorization: Bearer`` to the definitions
            endpoint; never logged. Without it flags are evaluated remotely.
        flags_poll_interval: seconds between definitions polls.
        flags_timeout: the most seconds a flag call waits (first load, ``/flags``).
        flags_cache_dir: a directory the processes of one machine share the definitions
            through: one fetches per poll interval, the others read its copy.
        flags_store: any :class:`~posthog_web.DefinitionsStore` to share them through
            instead (Django's cache: :class:`posthog_web.django.flags_cache.DjangoCacheStore`).
        super_properties: properties every event carries (an event's own win).
        before_send: ``callable(event) -> event | None`` run on every event before it
            is queued; None or an exception drops it (counted, logged; docs/groups.md).
    """

    def __init__(
        self,
        api_key: str,
        *,
        host: str = DEFAULT_HOST,
        sync_mode: bool = False,
        disabled: bool = False,
        flush_at: int = 500,
        flush_interval: float = 0.5,
        max_queue_size: int = 10_000,
        max_batch_size: int = 1000,
        gzip: bool = True,
        max_retries: int = 6,
        timeout: float = 10.0,
        exit_flush_timeout: float = 5.0,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES,
        allow_insecure_http: bool = False,
        transport: Transport | None = None,
        exception_options: ExceptionOptions | None = None,
        flags_secret_key: str | None = None,
        flags_poll_interval: float = 30.0,
        flags_timeout: float = 3.0,
        flags_cache_dir: str | os.PathLike[str] | None = None,
        flags_store: DefinitionsStore | None = None,
        super_properties: Mapping[str, Any] | None = None,
        before_send: BeforeSend | None = None,
    ) -> None:
        self._api_key = validate_api_key(api_key)
        self.host = normalize_host(host, allow_insecure_http=allow_insecure_http)
        self.sync_mode = bool(sync_mode)
        self.disabled = bool(disabled)
        self._blocked = False
        # A custom transport is the caller's business; only real HTTP is blocked in tests.
        if not self.disabled and transport is None and recording.remote_blocked():
            hostname = urlsplit(self.host).hostname or ""
            self._blocked = not is_loopback(hostname)
            if self._blocked:
                logger.warning(
                    "posthog-web: running under pytest, so events for %s are not sent; use the "
                    "posthog_events fixture, or set %s=1 to send them",
                    self.host,
                    recording.ALLOW_NETWORK_ENV,
                )
        positive_int("flush_at", flush_at)
        positive_int("max_queue_size", max_queue_size)
        positive_int("max_batch_size", max_batch_size)
        positive_number("flush_interval", flush_interval)
        positive_number("timeout", timeout)
        non_negative_number("exit_flush_timeout", exit_flush_timeout)
        if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
            raise ValueError(f"max_retries must be an int >= 0, not {max_retries!r}")
        positive_int("spool_max_bytes", spool_max_bytes)
        options = DeliveryOptions(
            api_key=self._api_key,
            batch_url=f"{self.host}/batch/",
            gzip=bool(gzip),
            flush_at=flush_at,
            flush_interval=float(flush_interval),
            max_queue_size=max_queue_size,
            max_batch_size=max_batch_size,
            max_retries=max_retries,
            timeout=float(timeout),
            exit_flush_timeout=float(exit_flush_timeout),
            spool_dir=directory(spool_dir, "spool_dir"),
            spool_max_bytes=spool_max_bytes,
        )
        self._sender = Sender(options, transport if transport is not None else RequestsTransport())
        if exception_options is not None and not isinstance(exception_options, ExceptionOptions):
            raise TypeError(
                "exception_options must be a posthog_web.errors.ExceptionOptions, not "
                f"{type(exception_options).__name__}"
            )
        #: Builds this client's ``$exception`` events (integrations may share it).
        self.exception_capture = ExceptionCapture(exception_options)
        positive_number("flags_poll_interval", flags_poll_interval)
        positive_number("flags_timeout", flags_timeout)
        cache_dir = directory(flags_cache_dir, "flags_cache_dir")
        store = guarded_store(flags_store, "flags_store")
        if cache_dir is not None:
            if store is not None:
                raise ValueError("give flags_cache_dir or flags_store, not both")
            store = DirectoryStore(cache_dir, self.host, self._api_key)
        self.flags = FlagEvaluator(
            host=self.host,
            api_key=self._api_key,
            secret_key=validate_secret_key(flags_secret_key),
            poll_interval=float(flags_poll_interval),
            timeout=float(flags_timeout),
            network=not (self.disabled or self._blocked),
            store=store,
        )
        self._called = CalledLog()
        self._hooks = EventHooks(super_properties, before_send, self._sender.count_dropped)
        self._group_types = GroupTypes()

    @property
    def api_key(self) -> str:
        """The project API key (public by design: posthog-js ships it to browsers).

        Needed to name the posthog-js cookie; never logged or shown in a repr.
        """
        return self._api_key

    def __repr__(self) -> str:
        mode = "disabled" if self.disabled else "sync" if self.sync_mode else "background"
        return f"<posthog_web.Client host={self.host!r} mode={mode}>"

    # The five operations ---------------------------------------------------------

    def capture(
        self,
        event: str,
        *,
        distinct_id: str,
        properties: Mapping[str, Any] | None = None,
        timestamp: object = None,
        uuid: object = None,
        groups: Mapping[str, str] | None = None,
    ) -> int | None:
        """Capture a custom event.

        Args:
            event: the event name.
            distinct_id: the person's id.
            properties: event properties (JSON values; datetimes, dates, Decimals,
                UUIDs, sets and tuples are converted).
            timestamp: when it happened: an ISO 8601 str or a datetime (naive = UTC);
                defaults to now.
            uuid: the event's UUID; a UUIDv7 is minted when omitted.
            groups: ``{group_type: group_key}``, sent as ``$groups`` (docs/groups.md).

        Returns:
            In sync mode the HTTP status PostHog answered; otherwise None.
        """
        name = ev.validate_event_name(event)
        props = ev.check_properties(properties)
        event_uuid = None if uuid is None else ev.validate_uuid(uuid)
        self._add_groups(props, groups)
        return self._send(name, distinct_id, props, timestamp, event_uuid)

    def page(
        self,
        *,
        distinct_id: str,
        name: str,
        url: str | None = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: object = None,
        groups: Mapping[str, str] | None = None,
    ) -> int | None:
        """Capture a ``$pageview``: ``title`` is ``name``; ``url`` fills ``$current_url``,
        ``$host`` and ``$pathname``; ``groups`` as for :meth:`capture`."""
        title = ev.validate_event_name(name, "name")
        props = ev.check_properties(properties)
        props["title"] = title
        if url is not None:
            props.update(url_properties(url))
        self._add_groups(props, groups)
        return self._send(ev.EVENT_PAGEVIEW, distinct_id, props, timestamp, None)

    def screen(
        self,
        *,
        distinct_id: str,
        name: str,
        properties: Mapping[str, Any] | None = None,
        timestamp: object = None,
        groups: Mapping[str, str] | None = None,
    ) -> int | None:
        """Capture a ``$screen`` view with ``$screen_name`` = ``name``; ``groups``: see capture."""
        screen_name = ev.validate_event_name(name, "name")
        props = ev.check_properties(properties)
        props[ev.PROP_SCREEN_NAME] = screen_name
        self._add_groups(props, groups)
        return self._send(ev.EVENT_SCREEN, distinct_id, props, timestamp, None)

    def identify(
        self,
        *,
        distinct_id: str,
        properties: Mapping[str, Any] | None = None,
        properties_once: Mapping[str, Any] | None = None,
        anon_distinct_id: str | None = None,
        timestamp: object = None,
    ) -> int | None:
        """Send ``$identify``: set person properties (``$set``, and ``$set_once`` from
        ``properties_once``); with ``anon_distinct_id``, merge that anonymous person
        into ``distinct_id``'s person."""
        set_props = ev.check_properties(properties, "properties")
        set_once = ev.check_properties(properties_once, "properties_once")
        props: dict[str, Any] = {}
        if anon_distinct_id is not None:
            anon = ev.validate_distinct_id(anon_distinct_id, "anon_distinct_id")
            if anon != distinct_id:
                props[ev.PROP_ANON_DISTINCT_ID] = anon
        top: dict[str, Any] = {ev.PROP_SET: set_props}
        if set_once:
            top[ev.PROP_SET_ONCE] = set_once
        return self._send(ev.EVENT_IDENTIFY, distinct_id, props, timestamp, None, top)

    def alias(self, *, distinct_id: str, alias: str, timestamp: object = None) -> int | None:
        """Send ``$create_alias``: merge ``alias``'s person into ``distinct_id``'s person."""
        target = ev.validate_distinct_id(distinct_id)
        source = ev.validate_distinct_id(alias, "alias")
        if source == target:
            raise ValueError("alias must differ from distinct_id")
        props = {"distinct_id": target, "alias": source}
        return self._send(ev.EVENT_CREATE_ALIAS, target, props, timestamp, None)

    # Integrations' fast path -------------------------------------------------------

    def enqueue(self, event: dict[str, Any]) -> int | None:
        """Queue an event already built with :func:`posthog_web.events.new_event`.

        No validation and no copy: the integrations build it from validated parts. The
        ``super_properties`` and ``before_send`` apply.
        """
        if self._hooks.active and (event := self._hooks.apply(event)) is None:  # type: ignore[assignment]
            return None
        recorder = recording.active
        if recorder is not None:
            recorder.add(ev.encode_json(event))
            return 200 if self.sync_mode else None
        if self.disabled or self._blocked:
            return None
        if self.sync_mode:
            return self._post_now(ev.encode_json(event))
        self._sender.put(event)
        return None

    # Delivery control ----------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything queued so far is delivered, or ``timeout`` seconds pass.

        Returns True when it all went.
        """
        return self._sender.flush(timeout)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Flush within ``timeout`` seconds and stop the sender and flags threads."""
        self.flags.shutdown()
        return self._sender.shutdown(timeout)

    def stats(self) -> dict[str, int]:
        """Counts: queued, pending, sent, retried, dropped, and dropped_<reason>."""
        return self._sender.stats()

    # Internals -----------------------------------------------------------------------

    def _send(
        self,
        event: str,
        distinct_id: object,
        properties: dict[str, Any],
        timestamp: object,
        event_uuid: str | None,
        top_level: dict[str, Any] | None = None,
    ) -> int | None:
        did = ev.validate_distinct_id(distinct_id)
        recorder = recording.active
        hooks = self._hooks
        if event_uuid is None and recorder is None and not self.sync_mode and not hooks.active:
            self._queue(event, did, properties, timestamp, top_level)
            return None
        stamp = ev.format_timestamp(timestamp)
        message = ev.new_event(event, did, properties, timestamp=stamp, uuid=event_uuid)
        if not hooks.active:
            encoded = encode_event(message, properties, top_level, 0)
        elif (hooked := encode_hooked(hooks, message, properties, top_level)) is None:
            return None
        else:
            encoded = hooked
        if recorder is not None:
            recorder.add(encoded)
            return 200 if self.sync_mode else None
        if self.disabled or self._blocked:
            return None
        if self.sync_mode:
            return self._post_now(encoded)
        self._sender.put(encoded)
        return None

    def _queue(
        self,
        event: str,
        distinct_id: str,
        properties: dict[str, Any],
        timestamp: object,
        top_level: dict[str, Any] | None,
    ) -> None:
        # Background mode: the sender thread adds the time of this call as the timestamp
        # (unless one was given) and mints the UUIDv7 from it, once, before the first
        # attempt; the caller pays only for validation and encoding.
        stamp = None if timestamp is None else ev.format_timestamp(timestamp)
        unix_ns = time.time_ns()
        message = ev.new_partial_event(event, distinct_id, properties)
        encoded = encode_event(message, properties, top_level, ev.completion_bytes(stamp))
        if not (self.disabled or self._blocked):
            self._sender.put((encoded, unix_ns, stamp))

    def _post_now(self, encoded: bytes) -> int:
        attempt = self._sender.post([encoded])
        if attempt.status is None:
            raise DeliveryError(attempt.error or "PostHog could not be reached")
        return attempt.status
