"""gunicorn settings for the reliability tests.

Under ``--preload`` the master builds the client and queues one event just before it
forks the workers: every worker must start with an empty queue (the event arrives
once, sent by the master) and send only its own page views.
"""

from __future__ import annotations

from typing import Any

# gunicorn 24+ opens a control socket at one fixed path per user; tests run side by side.
control_socket_disable = True


def when_ready(server: Any) -> None:
    if not server.cfg.preload_app:
        return
    from posthog_web.django.conf import get_config

    tracker = get_config().tracker
    assert tracker is not None, "POSTHOG_API_KEY is not set"
    tracker.client.capture("reliability_master_ready", distinct_id="gunicorn-master")
