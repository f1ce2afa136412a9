"""The cross-user alias guard: one anonymous id is aliased into one user only."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

_LEDGER_SIZE = 10_000


class AliasLedger:
    """Remembers, per process, which user each anonymous id was aliased into.

    The anonymous cookie already carries its link, but a copied or crafted cookie (or a
    posthog-js cookie naming someone else's anonymous id) does not; this refuses to
    alias one anonymous id into a second user while the process remembers the first.
    Bounded (least recently used entries are forgotten); stores digests, not ids.
    """

    def __init__(self, size: int = _LEDGER_SIZE) -> None:
        self._links: OrderedDict[bytes, bytes] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    @staticmethod
    def _digest(value: str) -> bytes:
        return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=12).digest()

    def claim(self, anon_id: str, user_id: str) -> bool:
        """Record ``anon_id`` → ``user_id``; False if it already went to another user."""
        anon, user = self._digest(anon_id), self._digest(user_id)
        with self._lock:
            known = self._links.get(anon)
            if known is not None and known != user:
                return False
            self._links[anon] = user
            self._links.move_to_end(anon)
            while len(self._links) > self._size:
                self._links.popitem(last=False)
        return True
