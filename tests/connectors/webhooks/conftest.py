"""The two-issuer ``world`` of the console tests (issuers A and B, their people), for the webhook tests
that read events in the console."""

from tests.hub.web.conftest import world  # noqa: F401  (fixture)
