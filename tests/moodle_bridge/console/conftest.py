"""Console and API tests of Moodle sites: the hub app (``app``/``client``: the Flask test client, not the
Moodle client of the parent conftest), the two-issuer ``world``, and the fake Moodle on real HTTP."""

from __future__ import annotations

import pytest

from tests.hub.web.conftest import world  # noqa: F401  (fixture: issuers A and B, their people)


@pytest.fixture
def client(app):
    return app.test_client()
