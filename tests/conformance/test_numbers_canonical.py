"""Every number the hub writes into a credential canonicalises the same in pyld, the hub's own
canonicaliser and jsonld.js / rdf-canonize, and the proof over it verifies in @digitalbazaar/vc.

The numeric fields of an OpenBadgeCredential the hub makes: ``achievement.creditsAvailable`` (ECTS),
``microCredential.workloadHours``, ``microCredential.eqfLevel`` / ``prkLevel`` (see
:mod:`hub.credentials.numbers`). Hypothesis draws their input (the API's JSON numbers and the console's
text, accepted ones and refused ones); each accepted example goes through the real path (the
micro-credential service, the database, the OB 3.0 builder, signing) and all examples are checked by
one Node process at the end (``canonize_ob3.mjs``), so the run stays CI-sized.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.credentials import fastcanon, jsonld, numbers, ob3
from hub.errors import ValidationError
from hub.frameworks import microcredentials
from tests.conformance.test_ob3_verifiers import run_node
from tests.hub.credentials.ob3_support import make_assertion, make_badge, make_ctx, make_issuer

pytestmark = pytest.mark.conformance

HERE = Path(__file__).resolve().parent

# The two-decimal amounts from 0.01 to 10,000 (as JSON numbers), and whole ones.
amounts = st.integers(1, 1_000_000).map(lambda n: n / 100)
# What a client may send: anything a JSON number or a form field can be.
any_amount = st.one_of(
    amounts,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10, 20_000),
    st.decimals(places=4, min_value=-1, max_value=20_000, allow_nan=False).map(str),
    st.sampled_from([1e-07, 5.0, 0.1 + 0.2, "2,5", "1e-7", " 7.25 ", "abc", True, "", None]),
)
levels = st.integers(1, 8)


def node_canonize(contexts: dict, items: dict[str, dict]) -> dict:
    payload = {"contexts": contexts, "items": [{"name": k, "document": v} for k, v in items.items()]}
    return run_node("canonize_ob3.mjs", payload)["results"]


def _contexts(ctx) -> dict:
    out = dict(jsonld.pinned_contexts())
    for name, doc in jsonld.hosted_contexts().items():
        out[ctx.urls.context(name)] = doc
    return out


@settings(max_examples=300, database=None, deadline=None)
@given(any_amount)
def test_an_accepted_amount_is_portable_and_a_refused_one_says_why(value):
    """Input side: every amount is either refused with a field-naming message, or stored in the
    portable form (two decimals at most, 0.01-10,000), which is what the credential carries."""
    try:
        stored = numbers.parse_amount(value, "ects")
    except ValidationError as exc:
        assert exc.extra.get("field") == "ects"
        assert "two decimal places" in str(exc.detail)
        return
    if stored is None:
        assert value is None or (isinstance(value, str) and not value.strip())
        return
    assert 0.01 <= stored <= 10_000 and math.isfinite(stored)
    out = numbers.portable_amount(stored)
    assert Decimal(repr(out)) == Decimal(repr(out)).quantize(Decimal("0.01"))
    # the emitted JSON never needs an exponent (jsonld.js reads exponent forms such as 1e-7 as integers)
    assert "e" not in json.dumps(out).lower()
    assert isinstance(out, int) == float(out).is_integer()


@pytest.mark.parametrize("value", [1e-07, 0.001, 0, -1, 10_000.01, 2.555, "1e-7", float("nan"), True, "x"])
def test_values_that_do_not_canonicalise_alike_are_refused(value):
    with pytest.raises(ValidationError) as err:
        numbers.parse_amount(value, "workload_hours")
    assert err.value.extra["field"] == "workload_hours"


def test_levels_are_whole_numbers_from_1_to_8():
    assert [numbers.parse_level(v, "eqf_level") for v in (1, "8", 4.0, None, "")] == [1, 8, 4, None, None]
    for bad in (0, 9, 3.5, "3.5", True, "four"):
        with pytest.raises(ValidationError):
            numbers.parse_level(bad, "eqf_level")


def test_every_numeric_field_canonicalises_like_jsonld_js(node_modules, tmp_path):
    ctx = make_ctx(tmp_path)
    s = ctx.db.Session()
    issuer = make_issuer(s, ctx, name="did:key school", did_method="key")  # resolved offline by the oracle
    badge = make_badge(s, issuer, name="Numbers")
    assertion = make_assertion(s, badge, email="n@example.org")
    s.commit()
    items: dict[str, dict] = {}
    expected: dict[str, str] = {}

    @settings(
        max_examples=40,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(ects=amounts, hours=st.one_of(st.none(), amounts), level=levels, text_input=st.booleans())
    def build(ects, hours, level, text_input):
        # the console sends text with a decimal comma, the API JSON numbers: both through the one service
        data = {
            "ects": f"{ects:.2f}".replace(".", ",") if text_input else ects,
            "workload_hours": hours,
            "eqf_level": str(level) if text_input else level,
            "prk_level": level,
        }
        microcredentials.describe(s, badge, data)
        s.flush()
        issued = ob3.issue(s, ctx, assertion, "data-integrity")
        doc = issued.document
        achievement = doc["credentialSubject"]["achievement"]
        assert achievement["creditsAvailable"] == ects
        assert achievement["microCredential"].get("workloadHours") == hours
        assert achievement["microCredential"]["eqfLevel"] == level
        unsecured = {k: v for k, v in doc.items() if k != "proof"}
        general = jsonld.canonize_general(unsecured)
        assert fastcanon.canonize(unsecured) == general  # the hub's canonicaliser agrees with pyld
        name = f"ects={ects!r} hours={hours!r} level={level} text={text_input}"
        items[name] = json.loads(issued.text)  # what a verifier receives: the served JSON text
        expected[name] = general

    build()
    s.rollback()
    # a control the oracle must catch: the number that broke every JS verifier, signed raw
    control = json.loads(json.dumps(next(iter(items.values()))))
    control["credentialSubject"]["achievement"]["creditsAvailable"] = 1e-07
    control.pop("proof")
    control_general = jsonld.canonize_general(control)
    control = ob3.sign_data_integrity(s, ctx, issuer, control, created=assertion.issued_on)
    items["control 1e-07"] = json.loads(json.dumps(control))

    results = node_canonize(_contexts(ctx), items)
    assert results["control 1e-07"]["nquads"] != control_general, "jsonld.js no longer differs on 1e-07"
    assert results["control 1e-07"]["verified"] is False
    failures = {
        name: {"js": r["nquads"], "pyld": expected[name], "error": r["error"]}
        for name, r in results.items()
        if name in expected and (r["nquads"] != expected[name] or not r["verified"])
    }
    assert not failures, json.dumps(failures, indent=1)[:4000]
    ctx.db.dispose()


def test_stored_values_are_emitted_in_the_portable_form():
    """Rows written before the input check are rounded on the way out; a value that rounds to nothing
    is left out rather than signed as 0."""
    assert numbers.portable_amount(5.0) == 5 and isinstance(numbers.portable_amount(5.0), int)
    assert numbers.portable_amount(2.499999) == 2.5
    assert numbers.portable_amount(1e-07) is None and numbers.portable_amount(float("inf")) is None
    assert numbers.portable_level(9) is None and numbers.portable_level(4) == 4
