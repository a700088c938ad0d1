"""Fixtures the LTI browser tests share with tests/connectors/lti: the hub over HTTP, a served platform
registered in it, and console people."""

from tests.connectors.lti.conftest import hub_server, people, platform_server, world  # noqa: F401
