"""Who is this visitor: the anonymous id from the headers and cookies, and merge guards.

The sources are read by :mod:`posthog_web.web.posthog_cookie` (posthog-js's headers and
cookie) and :mod:`posthog_web.web.signed_cookie` (our own cookie); this module decides
between them and plans what a login or a logout writes. Their names are re-exported
here. Wire facts: docs/posthog-ingestion.md §3 (illegal ids, merge hazards).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from posthog_web.events import (
    is_uuid,
)
from posthog_web.web.posthog_cookie import (
    HEADER_DISTINCT_ID,
    HEADER_SESSION_ID,
    HEADER_WINDOW_ID,
    OPT_OUT_COOKIE_PREFIX,
    PostHogCookie,
    is_opt_out,
    opt_out_cookie_name,
    parse_posthog_cookie,
    posthog_cookie_name,
    sanitize_header,
    usable_distinct_id,
)
from posthog_web.web.signed_cookie import MAX_RETIRED, AnonymousCookie, CookieSigner

__all__ = [
    "HEADER_DISTINCT_ID",
    "HEADER_SESSION_ID",
    "HEADER_WINDOW_ID",
    "OPT_OUT_COOKIE_PREFIX",
    "SOURCE_COOKIE",
    "SOURCE_HEADER",
    "SOURCE_NEW",
    "SOURCE_POSTHOG_JS",
    "AnonymousCookie",
    "AnonymousIdentity",
    "CookieSigner",
    "PostHogCookie",
    "is_opt_out",
    "opt_out_cookie_name",
    "parse_posthog_cookie",
    "plan_login",
    "plan_logout",
    "posthog_cookie_name",
    "resolve_anonymous",
    "sanitize_header",
    "usable_distinct_id",
]

SOURCE_HEADER = "header"
SOURCE_POSTHOG_JS = "posthog-js"
SOURCE_COOKIE = "cookie"
SOURCE_NEW = "new"


@dataclass(slots=True)
class AnonymousIdentity:
    """The browser's id for a visitor before any logged-in user is considered.

    ``anon_id`` is None when the request carried no usable id (one is minted on use).
    ``identified`` is True when the browser itself already identified the visitor
    (posthog-js ``$user_state == "identified"``, or a tracing header that is not a UUID),
    in which case the id is not anonymous and is never aliased.
    """

    anon_id: str | None
    source: str
    identified: bool = False


def resolve_anonymous(
    header_id: str | None,
    posthog_js: PostHogCookie | None,
    own: AnonymousCookie | None,
    signer: CookieSigner,
) -> AnonymousIdentity:
    """Pick the visitor's id: tracing header, then posthog-js cookie, then our cookie.

    An id that a logout retired on this browser is skipped, so the next person on a
    shared device does not continue the previous person's anonymous id.
    """
    retired = own.retired if own else ()
    js_id = posthog_js.distinct_id if posthog_js else None
    if header_id is not None and (not retired or signer.anon_tag(header_id) not in retired):
        if header_id == js_id and posthog_js is not None:
            return AnonymousIdentity(header_id, SOURCE_HEADER, posthog_js.identified)
        return AnonymousIdentity(header_id, SOURCE_HEADER, not is_uuid(header_id))
    if (
        posthog_js is not None
        and js_id is not None
        and (not retired or signer.anon_tag(js_id) not in retired)
    ):
        return AnonymousIdentity(js_id, SOURCE_POSTHOG_JS, posthog_js.identified)
    if own is not None:
        return AnonymousIdentity(own.anon_id, SOURCE_COOKIE)
    return AnonymousIdentity(None, SOURCE_NEW)


def plan_login(
    own: AnonymousCookie | None,
    anon_id: str | None,
    aliasable: bool,
    user_id: str,
    signer: CookieSigner,
) -> tuple[bool, AnonymousCookie | None]:
    """Decide whether logging ``user_id`` in may alias ``anon_id`` into it.

    Returns ``(alias, cookie)``: ``cookie`` is the anonymous cookie to write (with the
    new link), or None when it does not change. Never aliases an id that is not
    anonymous, that equals the user id, that a logout retired, or that this browser
    already linked to any user (a second user would otherwise join the first one's
    person: posthog-ingestion.md §3.3, posthog-js#148).
    """
    if anon_id is None or not aliasable or anon_id == user_id:
        return False, None
    anon_tag = signer.anon_tag(anon_id)
    if own is not None and (anon_tag in own.retired or own.linked_anon == anon_tag):
        return False, None
    base = own or signer.new()
    retired = base.retired
    if base.linked_anon and base.linked_anon not in retired:
        retired = (*retired, base.linked_anon)[-MAX_RETIRED:]
    return True, replace(
        base, linked_anon=anon_tag, linked_user=signer.user_tag(user_id), retired=retired
    )


def plan_logout(
    own: AnonymousCookie | None, current: AnonymousIdentity, signer: CookieSigner
) -> AnonymousCookie:
    """The cookie after a logout: a fresh anonymous id, the old ones retired.

    This is posthog-js ``reset()`` on the server side.
    """
    retired = list(own.retired) if own else []
    tags = [own.linked_anon] if own and own.linked_anon else []
    if current.anon_id is not None and current.source in (SOURCE_HEADER, SOURCE_POSTHOG_JS):
        tags.append(signer.anon_tag(current.anon_id))
    for tag in tags:
        if tag not in retired:
            retired.append(tag)
    return signer.new(retired)
