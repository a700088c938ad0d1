"""The JSON API against its own OpenAPI document: a schemathesis run with every phase, counted per failure class.

Usage::

    .venv/bin/python bench/schemathesis_run.py [--max-examples 100] [--seed 4242] [--db sqlite|postgresql]
                                               [--max-steps 20] [--show 3]

What runs: the hub app in-process (WSGI, no server), on a fresh migrated database (a SQLite file, or a new
PostgreSQL database on ``BENCH_PG_URL``), populated through the real services with an issuer, a badge
class, a webhook connector, a rule, a processed event with its award, and a site administrator whose
per-user API token (scope ``manage``) every request carries. schemathesis (https://schemathesis.readthedocs.io/)
loads ``/api/v1/openapi.json`` from the app and runs its phases in order — examples, coverage (boundary
values, wrong types, missing fields, undeclared methods), fuzzing (hypothesis-generated cases, positive
and negative), stateful (chains of calls linked by the ids the answers carry, inferred from the document
and from ``Location`` headers) — with every check it has (not_a_server_error, status_code_conformance,
content_type_conformance, response_headers_conformance, response_schema_conformance,
negative_data_rejection, positive_data_acceptance, missing_required_header, unsupported_method,
allow_header_conformance, ignored_auth, use_after_free, ensure_resource_availability, ...).

Prints the generated cases and, per check, the distinct failures schemathesis reports (its own
de-duplication, as its CLI counts them) with the first few examples; exits 1 unless every count is 0.
The suite runs the same code with a CI-sized budget (``tests/hub/web/test_openapi_schemathesis.py``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NotSet
from schemathesis.core.transforms import to_wire_text
from schemathesis.engine import Status, events
from schemathesis.engine.statistic import Statistic
from schemathesis.transport.serialization import Binary
from schemathesis.transport.wsgi import WSGI_TRANSPORT, WSGITransport

#: Every phase schemathesis 4 has that sends requests (probing and schema analysis run too).
PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclass
class Outcome:
    """What one run found: ``cases`` generated and sent, ``failures`` (check name → distinct failures),
    ``examples`` (check name → a few ``"METHOD /path: title — message"`` lines), ``errors`` (the
    engine's own errors: a schema it cannot read, a crash in a check), ``phases`` (phase → status)."""

    cases: int = 0
    failures: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    phases: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.failures.values()) + len(self.errors)

    def report(self, show: int = 3) -> str:
        """Human-readable counts, one line per check with failures, then up to ``show`` examples each."""
        lines = [
            f"{self.cases} cases in {self.seconds:.0f} s; phases: "
            + ", ".join(f"{k} {v}" for k, v in self.phases.items())
        ]
        for name, count in sorted(self.failures.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {name}: {count}")
            lines.extend(f"      {line}" for line in self.examples.get(name, [])[:show])
        lines.extend(f"  engine error: {e}" for e in self.errors)
        if not self.total:
            lines.append("  no failures")
        return "\n".join(lines)


#: Operations whose input the document cannot describe fully: their content has a grammar or meaning
#: beyond JSON Schema, so a schema-valid request may still be refused with 422 naming the field. For
#: these (and only these) positive_data_acceptance takes 422 as an answer; every other check is unchanged.
CONTENT_CHECKED = {
    "POST /api/v1/issuers": "image: base64 of a PNG or SVG file (the bytes are checked)",
    "PATCH /api/v1/issuers/{issuer_id}": "image: as for POST",
    "POST /api/v1/badge-classes": "image: as for issuers",
    "PATCH /api/v1/badge-classes/{badge_id}": "image: as for issuers",
    "POST /api/v1/connectors": "mapping: JMESPath expressions, with the fields a mapping must have",
    "PATCH /api/v1/connectors/{connector_id}": "mapping: as for POST",
    "POST /api/v1/connectors/{connector_id}/test-event": "body: a payload the connector's mapping must read",
    "POST /api/v1/rules": "condition: a JMESPath expression",
    "PUT /api/v1/issuers/{issuer_id}/certificate-layout": "html, css: a Jinja template and CSS the sanitiser takes",
    "POST /api/v1/issuers/{issuer_id}/signing-certificate": "pkcs12: a PKCS#12 file its passphrase opens",
    "POST /api/v1/frameworks/import": "the CSV or JSON file's content; a CSV needs `identifier` in the query, a "
    "JSON file does not (a parameter's being required cannot depend on the body's media type in OpenAPI)",
    "POST /api/v1/frameworks/import/esco": "the ESCO CSV file (as above)",
    "POST /api/v1/frameworks/mappings": "descriptor: must name an existing descriptor (data, not schema)",
    "PUT /api/v1/frameworks/badges/{badge_id}/outcomes": "descriptors: must name existing descriptors",
    "PUT /api/v1/frameworks/badges/{badge_id}/micro-credential": "the Annex I values checked together",
    "POST /api/v1/lti/registrations": "badge_issuer: must name an issuer (422, `field: badge_issuer`)",
    "PATCH /api/v1/lti/registrations/{reg_id}": "badge_issuer as for POST; issuer and client id fixed once used",
    "POST /api/v1/lti/registrations/{reg_id}/approve": "badge_issuer as for POST",
    "PATCH /api/v1/moodle/sites/{connector_id}": "course_ids, course_idnumbers: with the stored ones, one course",
    "POST /api/v1/webhooks": "url: https (http too only by a setting), its host resolving to public addresses",
    "PATCH /api/v1/webhooks/{sub_id}": "url: as for POST",
}
#: Operations that reach another server (a Moodle site): its silence or refusal is a documented 502/504.
UPSTREAM = {
    "POST /api/v1/moodle/sites/{connector_id}/check": ["2xx", "3xx", "4xx", "502", "504"],
}
#: schemathesis' default for positive_data_acceptance, plus 422.
_ACCEPTED_OR_422 = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]


class _WsgiTransport(WSGITransport):
    """schemathesis' WSGI transport, minus a fault of 4.32: the probes of the ``ignored_auth`` check are sent
    without a session but with the network settings (``max_redirects``...), which werkzeug's test client
    refuses with a TypeError. They mean nothing in-process, so they are dropped here."""

    def send(self, case, *, session=None, **kwargs):
        if session is None:
            for name in ("max_redirects", "verify", "cert", "proxies"):
                kwargs.pop(name, None)
        return super().send(case, session=session, **kwargs)


def _file_body(ctx, value) -> bytes:
    """A file body (the imports' ``text/csv``, ``format: binary``) as the bytes generated: schemathesis 4.32
    sends other ``text/*`` types through its ``text/plain`` serializer, which writes a generated
    :class:`Binary` (a ``str`` subclass whose text is empty) as an empty body, which the hub rightly refuses
    (422 ``field: body``). Registered for every transport (``case.call`` picks the WSGI one itself)."""
    if isinstance(value, Binary):
        return value.data
    return to_wire_text(value).encode()


schemathesis.serializer("text/csv")(_file_body)  # (its decorator returns None)


_TRANSPORT = _WsgiTransport()
_TRANSPORT._copy_serializers_from(WSGI_TRANSPORT)


def _in_process(schema):
    """``schema`` (loaded with ``from_wsgi``) sending through :class:`_WsgiTransport`."""

    class Schema(type(schema)):
        @property
        def transport(self):
            return _TRANSPORT

    schema.__class__ = Schema
    return schema


def config(
    *, token: str, seed: int, max_examples: int, max_steps: int | None = None, strict: bool = False
) -> SchemathesisConfig:
    """The schemathesis configuration of a run: every phase, every check, both
    positive and negative data, the bearer ``token``, a fixed ``seed``, ``max_examples`` per operation
    and phase, stateful scenarios of at most ``max_steps`` calls."""
    stateful: dict = {"enabled": True, "inference": {"algorithms": ["location-headers", "dependency-analysis"]}}
    if max_steps:
        stateful["max-steps"] = max_steps
    return SchemathesisConfig.from_dict(
        {
            "seed": seed,
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {"mode": "all", "max-examples": max_examples, "database": "none"},
            "checks": {"enabled": True},  # every check (max_response_time needs a budget: not set)
            "phases": {
                "examples": {"enabled": True, "fill-missing": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": stateful,
            },
            "operations": [
                {
                    "include-name": label,
                    "checks": {"positive_data_acceptance": {"expected-statuses": _ACCEPTED_OR_422}},
                }
                for label in ({} if strict else CONTENT_CHECKED)
            ]
            + [
                {
                    "include-name": label,
                    "checks": {"not_a_server_error": {"expected-statuses": statuses}},
                }
                for label, statuses in UPSTREAM.items()
            ],
            "continue-on-failure": True,  # every case of an operation, not only up to its first failure
            "suppress-health-check": ["all"],
            "warnings": False,
        }
    )


def run(
    app,
    *,
    token: str,
    seed: int = 4242,
    max_examples: int = 100,
    max_steps: int | None = None,
    include: str | None = None,
    strict: bool = False,
) -> Outcome:
    """Run schemathesis in-process against the Flask ``app`` (its ``/api/v1/openapi.json``), every phase
    and check, as a caller with the bearer ``token``; ``include``: only the operations whose path matches
    this regular expression; ``strict``: without the :data:`CONTENT_CHECKED` allowances. Returns the
    :class:`Outcome`."""
    settings = config(token=token, seed=seed, max_examples=max_examples, max_steps=max_steps, strict=strict)
    schema = _in_process(schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=settings))
    if include:
        schema = schema.include(path_regex=include)
    outcome = Outcome()
    statistic = Statistic()
    started = time.perf_counter()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            before = set(statistic.unique_failures_map)
            statistic.on_scenario_finished(event.recorder)
            for case_id, checks in event.recorder.checks.items():
                case = event.recorder.cases[case_id].value
                for check in checks:
                    failure = check.failure_info.failure if check.failure_info else None
                    if failure is not None and failure in statistic.unique_failures_map and failure not in before:
                        before.add(failure)
                        outcome.failures[check.name] += 1
                        outcome.examples.setdefault(check.name, []).append(
                            _example(event.phase.value, case, failure, event.recorder.interactions.get(case_id))
                        )
        elif isinstance(event, events.NonFatalError):
            outcome.errors.append(f"{event.label}: {event.info.title}: {event.info.message}"[:500])
        elif isinstance(event, events.FatalError):
            outcome.errors.append(f"fatal: {event.exception!r}"[:500])
        elif isinstance(event, events.PhaseFinished):
            phase = event.phase
            status = event.status.value if event.status != Status.SKIP else f"skipped ({phase.skip_reason})"
            outcome.phases[phase.name.value] = status
    outcome.cases = statistic.total_cases
    outcome.seconds = time.perf_counter() - started
    return outcome


def _example(phase: str, case, failure, interaction) -> str:
    """One line saying what was sent and what came back, for a failure's report."""

    def short(value, n=160):
        return " ".join(str(value).split())[:n]

    sent = f" query={case.query!r}" if case.query else ""
    if not isinstance(case.body, NotSet):
        sent += f" body={short(repr(case.body), 200)}"
    if case.media_type:
        sent += f" ({case.media_type})"
    answer = ""
    if interaction is not None and interaction.response is not None:
        response = interaction.response
        answer = f" -> {response.status_code} {response.headers.get('content-type', [''])[0]} " + short(
            response.content[:400].decode("utf-8", "replace"), 200
        )
    return (
        f"[{phase}] {case.method} {case.formatted_path}{sent}{answer} :: {failure.title}: {short(failure.message, 200)}"
    )


# ---- a populated hub -----------------------------------------------------------------------------------


def populate(ctx, client) -> str:
    """Give the hub of ``ctx`` (``client``: a Flask test client of its app) something to find: an issuer,
    a badge class, a webhook connector with a rule, one processed webhook event and its award (through the
    real services and a signed delivery), and a site administrator. Returns that administrator's API
    token (scope ``manage``)."""
    from hub.accounts import services as accounts
    from tests.conftest import Factory, completion, post_event

    Factory(ctx).setup(slug="lms")
    response = post_event(client, completion(email="learner@example.org"), slug="lms")
    assert response.status_code == 202, response.get_data(as_text=True)
    with ctx.db.session_scope() as s:
        admin = accounts.create_user(
            s, email="api-admin@example.org", password="correct horse battery", site_admin=True
        )
        _, token = accounts.create_api_token(s, admin, name="schemathesis", scope="manage")
    return token


def main(argv: list[str] | None = None) -> int:
    from cryptography.fernet import Fernet

    from bench.common import fresh_database
    from hub import create_app
    from hub.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=100, help="per operation and phase (default 100)")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument(
        "--max-steps", type=int, default=None, help="longest stateful scenario (default: schemathesis')"
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--include", metavar="REGEX", help="only operations whose path matches (for debugging)")
    parser.add_argument("--strict", action="store_true", help="no CONTENT_CHECKED allowances (see the list)")
    parser.add_argument("--show", type=int, default=3, help="examples printed per check (default 3)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="badgehub-schemathesis-") as tmp:
        database = fresh_database(args.db, Path(tmp) / "db")
        try:
            settings = Settings(
                instance_path=Path(tmp) / "instance",
                database_url=database.url,
                base_url="http://hub.test",
                secret_key="bench-secret",
                key_encryption_key=Fernet.generate_key().decode(),
                job_mode="sync",
                log_level="CRITICAL",
            )
            app = create_app(settings)
            try:
                token = populate(app.extensions["hub"], app.test_client())
                outcome = run(
                    app,
                    token=token,
                    seed=args.seed,
                    max_examples=args.max_examples,
                    max_steps=args.max_steps,
                    include=args.include,
                    strict=args.strict,
                )
            finally:
                app.extensions["hub.jobs"].shutdown()
                app.extensions["hub"].db.dispose()
        finally:
            database.drop()
    print(
        f"schemathesis {schemathesis.__version__ if hasattr(schemathesis, '__version__') else ''} "
        f"seed {args.seed}, max-examples {args.max_examples}, {args.db}"
    )
    print(outcome.report(args.show))
    print("PASS" if not outcome.total else f"FAIL: {outcome.total} failures")
    return 0 if not outcome.total else 1


if __name__ == "__main__":
    sys.exit(main())
