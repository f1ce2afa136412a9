"""Who is logged in: :class:`Logins` (the framework's user, ``login()``, ``logout()``).

It also remembers which person properties were last sent for a user, in the browser's
signed cookie and in this process, so ``$identify`` goes out only when they change.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from posthog_web.events import encode_json, is_uuid, validate_distinct_id
from posthog_web.web.context import RequestContext
from posthog_web.web.emitter import Emitter
from posthog_web.web.identity import (
    SOURCE_COOKIE,
    SOURCE_NEW,
    AnonymousIdentity,
    plan_login,
    plan_logout,
)
from posthog_web.web.privacy import AliasLedger
from posthog_web.web.visitor import Visitors, now_ms

__all__ = ["Logins", "digest"]

logger = logging.getLogger(__name__)

_IDENTIFY_CACHE_SIZE = 10_000
_WARNED_IDS_SIZE = 1_000


class Logins:
    """Applies the user to a request and sends the alias and ``$identify`` it needs.

    Args:
        visitors: resolves the visitor (and owns the cookie signer and sessions).
        emitter: sends ``$create_alias`` and ``$identify``.
        ledger: which anonymous id this process aliased into which user.
    """

    def __init__(self, visitors: Visitors, emitter: Emitter, ledger: AliasLedger) -> None:
        self._visitors = visitors
        self._emitter = emitter
        self._ledger = ledger
        self.identified: OrderedDict[str, bytes] = OrderedDict()
        self.warned_ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def set_user(
        self,
        ctx: RequestContext,
        distinct_id: str | None,
        person_properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Set the framework's logged-in user of this request (None: anonymous)."""
        ctx.user_set = True
        ctx.user_remembered = False
        if distinct_id is None:
            ctx.user_id = None
            return
        try:
            validate_distinct_id(distinct_id)
        except (TypeError, ValueError) as exc:
            self._warn_illegal(distinct_id, exc)
            ctx.user_id = None
            return
        ctx.user_id = distinct_id
        ctx.person_properties = person_properties
        if person_properties is not None:
            self.identify_if_changed(ctx, dict(person_properties))

    def login(
        self, ctx: RequestContext, distinct_id: str, properties: dict[str, Any] | None
    ) -> None:
        """Alias the anonymous id into ``distinct_id`` (with the guards), then identify."""
        visitors = self._visitors
        if not ctx.resolved:
            visitors.resolve(ctx)
        anon_id = ctx.anon_id
        aliasable = (
            anon_id is not None
            and not ctx.anonymous.identified
            and is_uuid(anon_id)
            # An id minted by this very request has no history worth joining.
            and (ctx.anonymous.source != SOURCE_NEW or ctx.anon_used)
            and not visitors.is_cookieless(ctx)
            and not ctx.opted_out
        )
        own = ctx.set_cookie or ctx.own_cookie
        alias, cookie = plan_login(own, anon_id, aliasable, distinct_id, visitors.signer)
        if alias and anon_id is not None and not self._ledger.claim(anon_id, distinct_id):
            logger.warning(
                "posthog-web: not aliasing an anonymous id already aliased into another user "
                "(a copied or crafted cookie?)"
            )
            alias = False
        ctx.user_id = distinct_id
        ctx.user_remembered = False
        ctx.explicit_identity = True
        if alias:
            assert anon_id is not None
            self._emitter.alias(ctx, distinct_id, anon_id)
        if cookie is not None:
            ctx.set_cookie = cookie
        if visitors.remember and not ctx.opted_out:
            own = visitors.writable_cookie(ctx)
            if own.user != distinct_id:
                ctx.set_cookie = replace(own, user=distinct_id)
        ctx.person_properties = properties
        if properties is not None:
            self.identify_if_changed(ctx, properties)

    def logout(self, ctx: RequestContext) -> None:
        """Forget the user and rotate the anonymous id (posthog-js ``reset()``)."""
        visitors = self._visitors
        if not ctx.resolved:
            visitors.resolve(ctx)
        cookie = plan_logout(ctx.set_cookie or ctx.own_cookie, ctx.anonymous, visitors.signer)
        ctx.user_id = None
        ctx.user_remembered = False
        ctx.explicit_identity = True
        ctx.person_properties = None
        ctx.own_cookie = ctx.set_cookie = cookie
        ctx.anonymous = AnonymousIdentity(cookie.anon_id, SOURCE_COOKIE)
        ctx.anon_id = cookie.anon_id
        ctx.window_id = None
        ctx.session_checked = True
        ctx.session_id, ctx.set_session = None, None
        if visitors.cookies:
            session = visitors.sessions.start(now_ms())
            ctx.session_id, ctx.set_session = session.session_id, session

    def identify(
        self, ctx: RequestContext, properties: dict[str, Any], properties_once: dict[str, Any]
    ) -> None:
        """Send ``$identify`` with person properties for this visitor."""
        distinct_id = self._visitors.distinct_id(ctx)
        if properties and ctx.user_id is not None and not ctx.opted_out:
            self._remember_identify(ctx, distinct_id, digest(properties))
        self._emitter.identify(ctx, distinct_id, properties, properties_once)

    def identify_if_changed(self, ctx: RequestContext, properties: dict[str, Any]) -> None:
        """``$identify`` unless this browser (its cookie) or this process sent these already.

        The cookie is what every worker shares; the process memory spares a second
        ``$identify`` when the browser drops or refuses the cookie.
        """
        visitors = self._visitors
        if not ctx.resolved:
            visitors.resolve(ctx)
        # An opted-out request sends nothing, so it must not count as sent either.
        if ctx.opted_out:
            return
        distinct_id = ctx.user_id
        assert distinct_id is not None
        sent_digest = digest(properties)
        own = ctx.set_cookie or ctx.own_cookie
        if (
            visitors.cookies
            and own is not None
            and own.identify_tag == visitors.signer.identify_tag(distinct_id, sent_digest)
        ):
            return
        with self._lock:
            sent = self.identified.get(distinct_id) == sent_digest
        self._remember_identify(ctx, distinct_id, sent_digest)
        if not sent:
            self._emitter.identify(ctx, distinct_id, properties, None)

    def _remember_identify(self, ctx: RequestContext, distinct_id: str, sent: bytes) -> None:
        with self._lock:
            self.identified[distinct_id] = sent
            self.identified.move_to_end(distinct_id)
            while len(self.identified) > _IDENTIFY_CACHE_SIZE:
                self.identified.popitem(last=False)
        visitors = self._visitors
        if visitors.cookies:
            tag = visitors.signer.identify_tag(distinct_id, sent)
            own = visitors.writable_cookie(ctx)
            if own.identify_tag != tag:
                ctx.set_cookie = replace(own, identify_tag=tag)

    def _warn_illegal(self, distinct_id: object, exc: Exception) -> None:
        key = repr(distinct_id)[:100]
        with self._lock:
            if key in self.warned_ids:
                return
            self.warned_ids[key] = None
            while len(self.warned_ids) > _WARNED_IDS_SIZE:
                self.warned_ids.popitem(last=False)
        logger.warning("posthog-web: not sending user id %s as a distinct id: %s", key, exc)


def digest(properties: Mapping[str, Any]) -> bytes:
    """A short digest of person properties, to tell whether they changed."""
    try:
        encoded = encode_json(dict(sorted(properties.items())))
    except (TypeError, ValueError):
        encoded = repr(sorted(properties.items(), key=lambda kv: kv[0])).encode()
    return hashlib.blake2b(encoded, digest_size=16).digest()
