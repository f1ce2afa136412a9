"""A bare WSGI app under a real ``gunicorn --workers 2``: the helper's remembered login and
the identity rules hold across workers, as tests/django/test_workers.py shows for Django.

Every request of the one browser goes to the other worker than the one before
(tests/gunicorn_workers.py). The app (tests/wsgi/workers_app.py) logs in and out with
the helper; the journeys and their checks are ``WorkersContract``'s.
"""

from __future__ import annotations

import pytest

from tests.workers_contract import FormSiteWorkers

pytestmark = pytest.mark.slow


class TestWsgiWorkers(FormSiteWorkers):
    app = "tests.wsgi.workers_app:app"
