"""Property-based run of the whole JSON API against its own OpenAPI document (schemathesis): whatever
the generated parameters and bodies, the API answers without a server error, with problem JSON for
client errors. Runs as site administrator (the bootstrap token) over a populated hub."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

AUTH = {"Authorization": "Bearer admin-token"}
EXAMPLES = 10  # per operation; 21 operations


def test_api_has_no_server_errors(app, world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures = []
    for operation in operations:

        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(headers=AUTH)
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400:
                assert response.headers["Content-Type"].startswith("application/problem+json"), response.text

        try:
            run()
        except Exception as exc:  # collect all operations' failures in one report
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
