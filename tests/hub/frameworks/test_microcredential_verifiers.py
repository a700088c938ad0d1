"""An OB 3.0 micro-credential (extension context, level alignments, grade and achieved-outcome Results)
checked by the independent Node verifiers and the OB 3.0 JSON Schema, as tests/conformance does for
the plain credentials. The verifiers fetch the extension's context from the hub (served at
``/contexts/...`` by the OB 3.0 blueprint), through the harness's localhost-only fetch."""

from __future__ import annotations

import copy
import io
from pathlib import Path

import pytest

from hub.credentials import ob3
from hub.frameworks import importers, microcredentials
from hub.frameworks import services as fw
from tests.conformance.conftest import node_modules  # noqa: F401
from tests.conformance.test_ob3_verifiers import hub, run_verifiers, tamper_jwt  # noqa: F401
from tests.hub.credentials.ob3_support import SHARED_REF, make_assertion, make_badge, make_issuer

pytestmark = pytest.mark.conformance
DATA = Path(__file__).parent / "data"


def test_micro_credential_passes_the_independent_verifiers(node_modules, hub):  # noqa: F811
    ctx, local = hub
    s = ctx.db.Session()
    issuer = make_issuer(s, ctx)
    badge = make_badge(s, issuer, name="Mikropoświadczenie: Python", details=False)
    fw.load_bundled(s)
    for lang in ("en", "pl"):
        importers.import_esco(s, io.BytesIO((DATA / f"skills_{lang}.csv").read_bytes()), kind="skills", language=lang)
    microcredentials.describe(
        s,
        badge,
        {
            "ects": 2.5,
            "workload_hours": 60,
            "issuer_country": "PL",
            "awarding_bodies": [{"name": "Szkoła Główna", "url": "https://school.example.org"}, "Klub Sportowy"],
            "eqf_level": 4,
            "prk_level": 4,
            "qf_ehea_cycle": "short",
            "assessment_type": {"en": "Online test", "pl": "Test online"},
            "participation_form": "online",
            "quality_assurance": "ISO 9001",
            "supervision": "supervised-online-identity-verification",
            "stackability": "standalone",
            "learning_outcomes": [
                {"text": {"en": "Writes Python", "pl": "Pisze w Pythonie"}, "descriptors": ["esco-skills:0001-python"]},
                {"text": {"pl": "Pracuje w zespole"}, "descriptors": ["esco-skills:0002-teamwork"]},
            ],
            "in_language": "pl",
        },
    )
    fw.map_outcome(s, None, "PY", fw.get_descriptor(s, "esco-skills", "0001-python"))
    a = make_assertion(s, badge, email="mc@example.org")
    fw.record_award(s, a, connector_id=None, outcomes=["PY"], grade="4.5")
    s.commit()

    ldp = ob3.issue(s, ctx, a, "data-integrity").document
    assert ldp["@context"][-1].endswith("/contexts/badgehub-microcredential-v1.jsonld")
    assert ldp["credentialSubject"]["achievement"]["creditsAvailable"] == 2.5
    forged = copy.deepcopy(ldp)
    forged["credentialSubject"]["achievement"]["microCredential"]["issuerCountry"] = "DE"
    jwt = ob3.issue(s, ctx, a, "vc-jwt", "EdDSA").text
    s.commit()  # keys made while issuing must be published in the DID document
    s.close()

    results = run_verifiers(
        local,
        {
            "mc_ldp": {"ldp": ldp},
            "mc_forged": {"ldp": forged},
            "mc_jwt": {"jwt": jwt},
            "mc_jwt_bad": {"jwt": tamper_jwt(jwt)},
        },
    )
    problems = {k: v.get("exception") for k, v in results.items() if v.get("exception")}
    assert not problems, problems
    core = results["mc_ldp"]["verifierCore"]
    assert core["signature"] is True and core["revoked"] is False, core
    if SHARED_REF.exists():
        assert core["schemaValid"] is True, core
    for lib in ("dcVc", "dbVc"):
        assert results["mc_ldp"][lib]["signature"] is True, results["mc_ldp"][lib]
    # a changed extension value breaks the signature: the extension's terms are signed, not dropped
    assert results["mc_forged"]["verifierCore"]["signature"] is False
    assert results["mc_forged"]["dcVc"]["signature"] is False and results["mc_forged"]["dbVc"]["signature"] is False
    assert results["mc_jwt"]["jwt"]["signature"] is True and results["mc_jwt"]["jwt"]["claims"] is True
    assert results["mc_jwt_bad"]["jwt"]["signature"] is False
