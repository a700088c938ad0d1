"""Property-based run of the whole JSON API against its own OpenAPI document (schemathesis): whatever
the generated parameters and bodies, the API answers without a server error, with problem JSON for
client errors. Runs as site administrator (the bootstrap token) over a populated hub."""

from __future__ import annotations

import logging
import os
import time

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

AUTH = {"Authorization": "Bearer admin-token"}
EXAMPLES = int(os.environ.get("HUB_SCHEMATHESIS_EXAMPLES", "40"))  # per operation; 21 operations
log = logging.getLogger(__name__)


def test_api_has_no_server_errors(app, world):
    # Half the cases name existing objects (issuer A's), so bodies reach the services, not only the 404.
    real = {
        "issuer_id": world["a"]["issuer_pid"],
        "badge_id": world["a"]["badge"],
        "connector_id": world["a"]["connector_id"],
        "rule_id": world["a"]["rule"],
        "event_id": world["a"]["event"],
        "assertion_id": world["a"]["assertion"],
    }
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures = []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is reported as found
        )
        @given(case=operation.as_strategy(), existing=st.booleans())
        def run(case, existing):
            if existing:
                case.path_parameters = {
                    **case.path_parameters,
                    **{k: v for k, v in real.items() if k in case.path_parameters},
                }
            response = case.call(headers=AUTH)
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400:
                kind = {k.lower(): v for k, v in response.headers.items()}.get("content-type") or [""]
                kind = kind[0] if isinstance(kind, list) else kind
                assert kind.startswith("application/problem+json"), response.text

        started = time.perf_counter()
        try:
            run()
        except Exception as exc:  # collect all operations' failures in one report
            failures.append(f"{operation.label}: {exc}")
        log.warning("schemathesis %s: %.1f s", operation.label, time.perf_counter() - started)
    assert not failures, "\n\n".join(failures)
