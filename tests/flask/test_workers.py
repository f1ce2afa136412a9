"""Flask (Flask-Login) under a real ``gunicorn --workers 2``: the identity rules hold across
workers, as tests/django/test_workers.py shows them for Django.

Every request of the one browser goes to the other worker than the one before
(tests/gunicorn_workers.py). The app (tests/flask/workers_app.py) logs in with
``login_user`` and out with ``logout_user``; the journeys and their checks are
``WorkersContract``'s.
"""

from __future__ import annotations

import pytest

from tests.workers_contract import FormSiteWorkers

pytestmark = pytest.mark.slow


class TestFlaskWorkers(FormSiteWorkers):
    app = "tests.flask.workers_app:app"
