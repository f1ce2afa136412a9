"""``POSTHOG_WEB["SPOOL_DIR"]`` and ``SPOOL_MAX_BYTES`` reach the client."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from posthog_web.django import conf


def test_spool_settings_reach_the_client(tmp_path: Path) -> None:
    config = conf.build(
        {"API_KEY": "phc_spool", "SPOOL_DIR": str(tmp_path), "SPOOL_MAX_BYTES": 4096},
        quiet=True,
    )
    assert config.tracker is not None
    options = config.tracker.client._sender.options
    assert options.spool_dir == str(tmp_path)
    assert options.spool_max_bytes == 4096
    config.tracker.client.shutdown(timeout=1)


def test_the_spool_is_off_by_default() -> None:
    config = conf.build({"API_KEY": "phc_spool"}, quiet=True)
    assert config.tracker is not None
    assert config.tracker.client._sender.options.spool_dir is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"SPOOL_DIR": 3}, "SPOOL_DIR"),
        ({"SPOOL_MAX_BYTES": 0}, "spool_max_bytes"),
    ],
)
def test_bad_spool_settings_are_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        conf.build({"API_KEY": "phc_spool", **raw}, quiet=True)
