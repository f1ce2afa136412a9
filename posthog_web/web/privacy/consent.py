"""Browser privacy signals that mean "do not track me" (GPC, DNT)."""

from __future__ import annotations

from posthog_web.web.request import RequestView


class ConsentRules:
    """Browser privacy signals that mean "do not track me".

    Args:
        respect_gpc: honour ``Sec-GPC: 1`` (Global Privacy Control).
        respect_dnt: honour ``DNT: 1`` (Do Not Track).
    """

    def __init__(self, *, respect_gpc: bool = True, respect_dnt: bool = False) -> None:
        self._headers = tuple(
            name for name, on in (("sec-gpc", respect_gpc), ("dnt", respect_dnt)) if on
        )

    def opted_out(self, request: RequestView) -> bool:
        """True when ``request`` carries a signal this configuration honours."""
        headers = request.headers
        for name in self._headers:
            value = headers.get(name)
            if value is not None and value.strip() == "1":
                return True
        return False
