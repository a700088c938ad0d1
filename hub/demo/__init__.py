"""``badgehub demo``: one real event through the real HTTP stack to every form of credential the hub
makes, written to disk and verified.

Creates an issuer, two badge classes (PNG and SVG images) -- the PNG one an EU micro-credential (Council
Recommendation 2022/C 243/02, Annex I) whose learning outcomes are aligned to EQF and PRK level 5 and
to ESCO skills --, a webhook connector with a mapping shaped for a Moodle course-completion notice, and
rules; sends a Standard Webhooks-signed event over HTTP; processes it; then, for each award, writes and
verifies over HTTP:

- OB 2.0: the hosted assertion (JSON-LD), the signed assertion (JWS), the baked PNG or SVG
  (:mod:`hub.credentials.verify`);
- OB 3.0: the credential with its Data Integrity proof (JSON), the VC-JWT, the baked PNG or SVG
  (:mod:`hub.credentials.verify`);
- for the micro-credential, the signed PDF certificate: checked by the hub's ``POST /verify`` and its
  embedded OB 3.0 and OB 2.0 credentials verified on their own.

It prints the public URLs; they answer while the server runs (``--serve`` keeps it running).
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from PIL import Image, ImageDraw
from standardwebhooks.webhooks import Webhook
from werkzeug.serving import make_server

from hub import configure_logging, create_app
from hub.badges import services as badges
from hub.connections.services import create_connector, new_webhook_secret
from hub.credentials.verify import (
    Report,
    verify_baked,
    verify_baked_credential,
    verify_data_integrity,
    verify_hosted,
    verify_signed,
    verify_vc_jwt,
)
from hub.frameworks import importers, microcredentials
from hub.frameworks import services as frameworks
from hub.migrations import upgrade
from hub.rules.services import create_rule
from hub.settings import Settings

LEARNER_EMAIL = "  Zofia.Gesla@Example.EDU "  # as an LMS may store it: mixed case, stray spaces
LEARNER_NAME = "Zażółć Gęślą Jaźń"

# The mapping for the payload of the hub's Moodle plugin (README.md, "Moodle" > "Push"); a test in
# tests/moodle_bridge keeps it equal to ``moodle_bridge.events.WEBHOOK_MAPPING`` (the hub itself never
# imports a connector).
MOODLE_MAPPING = {
    "event_type": "type",
    "key": "data.course.idnumber || data.course.shortname",
    "recipient_email": "data.user.email",
    "recipient_name": "data.user.fullname",
    "occurred_at": "data.completion.completed_at",
    "idempotency_key": "join(':', ['moodle', data.site.url, 'course', to_string(data.course.id), "
    "'user', to_string(data.user.id)])",
    "outcomes": "data.competencies[?idnumber].idnumber",
    "platform_user_id": "to_string(data.user.id)",
    "platform": "data.site.url",
    "course_id": "to_string(data.course.id)",
}


def badge_png(size: int = 256) -> bytes:
    """A simple round PNG badge drawn with Pillow."""
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.ellipse((8, 8, size - 8, size - 8), fill=(220, 20, 60, 255), outline=(255, 215, 0, 255), width=10)
    d.polygon([(size / 2, 50), (size - 70, size - 60), (70, size - 60)], fill=(255, 255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


BADGE_SVG = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <title>Odznaka: Zażółć gęślą jaźń</title>
  <circle cx="128" cy="128" r="118" fill="#1d4e89" stroke="#f2c14e" stroke-width="10"/>
  <text x="128" y="140" font-size="28" text-anchor="middle" fill="#fff">Zażółć</text>
</svg>
"""


#: Two rows of the ESCO skills pillar in the CSV format of the ESCO download (``skills_<lang>.csv``),
#: as ``badgehub frameworks import-esco`` reads it: the skill groups "S1" and "S5" at the top of the
#: pillar, enough to align the demo's learning outcomes without a download.
ESCO_COLUMNS = "conceptType,conceptUri,skillType,reuseLevel,preferredLabel,altLabels,status,description"
ESCO_SKILLS = {
    "en": [
        ("S1", "communication, collaboration and creativity", "Communicating, collaborating, being creative."),
        ("S5", "working with computers", "Using computers and digital tools."),
    ],
    "pl": [
        ("S1", "komunikacja, współpraca i kreatywność", "Komunikowanie się, współpraca, kreatywność."),
        ("S5", "praca z komputerami", "Korzystanie z komputerów i narzędzi cyfrowych."),
    ],
}

#: The micro-credential description of the PNG badge (the input of
#: :func:`hub.frameworks.microcredentials.describe`): every Annex I element, outcomes aligned to the
#: EQF and PRK level and to ESCO.
MICRO_CREDENTIAL = {
    "ects": 2,
    "workload_hours": 50,
    "issuer_country": "PL",
    "issuer_region": "mazowieckie",
    "awarding_bodies": [{"name": "Fundacja Odznaka+ (demo)", "url": "https://example.org", "country": "PL"}],
    "eqf_level": 5,
    "prk_level": 5,
    "assessment_type": {"pl": "Projekt oceniony przez prowadzącego", "en": "Project assessed by the tutor"},
    "participation_form": "online",
    "quality_assurance": {"pl": "Wewnętrzny system zapewniania jakości", "en": "Internal quality assurance"},
    "prerequisites": {"pl": "Brak", "en": "None"},
    "supervision": "supervised-online-identity-verification",
    "stackability": "stackable",
    "stackable_towards": "Kurs „Zażółć gęślą jaźń” II",
    "grading_scheme": {"pl": "zaliczone / niezaliczone", "en": "pass / fail"},
    "further_information": {"en": "https://example.org/zgj-101"},
    "in_language": "pl",
    "learning_outcomes": [
        {
            "text": {"pl": "Redaguje teksty z polskimi znakami", "en": "Edits texts with Polish letters"},
            "descriptors": ["esco-skills:S5", "eqf:5", "prk:5"],
        },
        {
            "text": {"pl": "Współpracuje w zespole kursu", "en": "Works with the course team"},
            "descriptors": ["esco-skills:S1"],
        },
    ],
}


def _esco_csv(language: str) -> bytes:
    rows = [ESCO_COLUMNS]
    for code, label, description in ESCO_SKILLS[language]:
        rows.append(
            f"KnowledgeSkillCompetence,http://data.europa.eu/esco/skill/{code},skill/competence,cross-sector,"
            f'"{label}",,released,"{description}"'
        )
    return ("\n".join(rows) + "\n").encode()


def describe_micro_credential(session, badge) -> None:
    """Load the EQF/PRK levels and the demo's ESCO rows, and describe ``badge`` as a micro-credential."""
    frameworks.load_bundled(session)
    for language in ESCO_SKILLS:
        importers.import_esco(session, io.BytesIO(_esco_csv(language)), kind="skills", language=language)
    microcredentials.describe(session, badge, MICRO_CREDENTIAL)


def check_port(port: int) -> None:
    """Raise OSError (with ``strerror``) when 127.0.0.1:``port`` cannot be served; Werkzeug's
    ``make_server`` would print its own message and exit instead."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DemoResult:
    """The demo's outcome. The server keeps running until :meth:`stop` (so its URLs can be visited)."""

    ok: bool
    lines: list[str]
    base_url: str
    server: object
    app: object
    email: str = LEARNER_EMAIL

    def stop(self) -> None:
        self.server.shutdown()
        self.app.extensions["hub.jobs"].shutdown()
        self.app.extensions["hub"].db.dispose()


def completion_payload(
    site: str = "https://moodle.example.edu",
    *,
    email: str = LEARNER_EMAIL,
    name: str = LEARNER_NAME,
    course_id: int = 42,
    user_id: int = 7,
    idnumber: str = "ZGJ-101",
    completed_at: datetime | None = None,
) -> dict:
    """A ``course_completed`` notice exactly as the hub's Moodle plugin sends it (README.md, "Moodle")."""
    when = (completed_at or datetime.now(UTC)).replace(microsecond=0)
    first, _, last = name.partition(" ")
    return {
        "type": "course_completed",
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "site": {"url": site},
            "course": {"id": course_id, "shortname": idnumber, "idnumber": idnumber, "fullname": "Zażółć gęślą jaźń"},
            "user": {
                "id": user_id,
                "idnumber": f"S-{user_id:04d}",
                "email": email,
                "firstname": first,
                "lastname": last,
                "fullname": name,
            },
            "completion": {"timecompleted": int(when.timestamp()), "completed_at": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "competencies": [],
        },
    }


def run_demo(settings: Settings, out: Path, port: int | None = None) -> DemoResult:
    """Run the demo against ``settings`` (its database is created/upgraded) and write files to ``out``.

    The hub is served on 127.0.0.1:``port`` (a free port when None) until the caller calls
    ``result.stop()``; ``result.lines`` is the report (one ``verify <form>: OK|FAILED ...`` line per
    form checked).

    Raises:
        OSError: ``port`` is taken.
    """
    out.mkdir(parents=True, exist_ok=True)
    if port:
        check_port(port)
    port = port or _free_port()
    settings = settings.with_(base_url=f"http://127.0.0.1:{port}", job_mode="sync")
    configure_logging(settings.log_level)  # before the migrations, which log at INFO
    upgrade(settings.database_url)
    app = create_app(settings)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns the report
    ctx = app.extensions["hub"]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    lines: list[str] = []
    ok = False
    try:
        secret = new_webhook_secret()
        slug = f"moodle-demo-{uuid.uuid4().hex[:6]}"
        with ctx.db.session_scope() as s:
            issuer = badges.create_issuer(
                s,
                ctx,
                name="Fundacja Odznaka+ (demo)",
                url="https://example.org",
                email="badges@example.org",
                description="Wystawca odznak demonstracyjnych / demo issuer",
            )
            png_badge = badges.create_badge_class(
                s,
                ctx,
                issuer,
                name="Zażółć gęślą jaźń — kurs ukończony",
                description="Ukończenie kursu ZGJ-101 / Completed course ZGJ-101",
                image=badge_png(),
                criteria_narrative="Ukończ wszystkie zajęcia kursu ZGJ-101.",
                tags=["mikropoświadczenie", "kurs"],
                expires_after_days=730,
            )
            describe_micro_credential(s, png_badge)
            svg_badge = badges.create_badge_class(
                s,
                ctx,
                issuer,
                name="Odznaka SVG: Zażółć",
                description="The same course, as an SVG badge",
                image=BADGE_SVG.encode(),
            )
            connector = create_connector(
                s,
                ctx,
                slug=slug,
                kind="webhooks",
                name="Moodle (demo)",
                config={"mapping": MOODLE_MAPPING},
                secret=secret,
            )
            for badge in (png_badge, svg_badge):
                create_rule(s, connector, badge, event_type="course_completed", key="ZGJ-101")

        body = json.dumps(completion_payload(), ensure_ascii=False)
        msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        }
        resp = requests.post(ctx.urls.hook(slug), data=body.encode("utf-8"), headers=headers, timeout=30)
        lines.append(f"POST {ctx.urls.hook(slug)} -> {resp.status_code} {resp.text.strip()}")
        with ctx.db.session_scope() as s:
            from sqlalchemy import select

            from hub.badges.models import Assertion

            made = s.scalars(select(Assertion).order_by(Assertion.id)).all()
            made = [(a.public_id, a.badge_class.image_type) for a in made if a.badge_class.issuer_id == issuer.id]
        ok = resp.status_code == 202 and len(made) == 2
        http = requests.Session()
        for public_id, image_type in made:
            ext = "png" if image_type == "image/png" else "svg"
            checks = _ob2_forms(ctx, http, out, public_id, ext, lines)
            checks |= _ob3_forms(ctx, http, out, public_id, ext)
            if ext == "png":  # the micro-credential
                checks |= _certificate(ctx, http, out, public_id)
            for name, report in checks.items():
                lines.append(f"  verify {name}: {'OK' if report.valid else 'FAILED ' + '; '.join(report.errors)}")
                ok = ok and report.valid
        lines.append(f"issuer {ctx.urls.issuer(issuer.public_id)}")
        lines.append(f"files written to {out.resolve()}")
    except BaseException:
        server.shutdown()
        raise
    return DemoResult(ok, lines, ctx.urls.base, server, app)


def _ob2_forms(ctx, http: requests.Session, out: Path, public_id: str, ext: str, lines: list[str]) -> dict:
    """Write and verify the OB 2.0 forms of one award: hosted JSON, JWS, baked image."""
    url = ctx.urls.assertion(public_id)
    hosted = http.get(url, headers={"Accept": "application/ld+json"}, timeout=30).json()
    jws = http.get(ctx.urls.assertion_signed(public_id), timeout=30).text
    baked = http.get(ctx.urls.assertion_baked(public_id, ext), timeout=30).content
    (out / f"assertion-{ext}-badge.json").write_text(json.dumps(hosted, ensure_ascii=False, indent=2))
    (out / f"assertion-{ext}-badge.jws").write_text(jws)
    (out / f"baked.{ext}").write_bytes(baked)
    lines.append(f"assertion {url}")
    lines.append(f"  page (HTML): {url}  OB 3.0: {ctx.urls.credential(public_id)}")
    return {
        "OB 2.0 hosted": verify_hosted(url, email=LEARNER_EMAIL, http=http),
        "OB 2.0 signed (JWS)": verify_signed(jws, email=LEARNER_EMAIL, http=http),
        f"OB 2.0 baked {ext.upper()}": verify_baked(baked, email=LEARNER_EMAIL, http=http),
    }


def _ob3_forms(ctx, http: requests.Session, out: Path, public_id: str, ext: str) -> dict:
    """Write and verify the OB 3.0 forms: Data Integrity JSON, VC-JWT, baked image (with the JSON)."""
    json_url = ctx.urls.credential(public_id)
    document = http.get(json_url, headers={"Accept": "application/vc+ld+json"}, timeout=30).json()
    token = http.get(ctx.urls.credential_jwt(public_id), timeout=30).text
    baked = http.get(ctx.urls.credential_baked(public_id, ext), timeout=30).content
    (out / f"credential-{ext}-badge.json").write_text(json.dumps(document, ensure_ascii=False, indent=2))
    (out / f"credential-{ext}-badge.jwt").write_text(token)
    (out / f"credential-baked.{ext}").write_bytes(baked)
    return {
        "OB 3.0 Data Integrity (JSON)": verify_data_integrity(document, email=LEARNER_EMAIL, http=http),
        "OB 3.0 VC-JWT": verify_vc_jwt(token, email=LEARNER_EMAIL, http=http),
        f"OB 3.0 baked {ext.upper()}": verify_baked_credential(baked, email=LEARNER_EMAIL, http=http),
    }


def _certificate(ctx, http: requests.Session, out: Path, public_id: str) -> dict:
    """Write the signed PDF certificate (as the ``certificate.render`` job stored it) and verify it:
    the hub's ``POST /verify`` (signature, embedded credential, status), then each embedded credential."""
    from pypdf import PdfReader
    from sqlalchemy import select

    from hub.badges.models import Assertion
    from hub.certificates import services as certificates
    from hub.certificates.sign import OB2_FILENAME, OB3_FILENAME

    with ctx.db.session_scope() as s:
        assertion = s.scalar(select(Assertion).where(Assertion.public_id == public_id))
        pdf = certificates.certificate_pdf(s, ctx, assertion)
    (out / "certificate.pdf").write_bytes(pdf)
    checked = http.post(
        ctx.urls.verify_certificate(),
        files={"file": ("certificate.pdf", pdf, "application/pdf")},
        headers={"Accept": "application/json"},
        timeout=60,
    )
    report = Report()
    answer = checked.json() if checked.headers.get("content-type", "").startswith("application/") else {}
    if not answer.get("ok"):
        report.fail(f"POST /verify: HTTP {checked.status_code} {'; '.join(answer.get('problems', []))}")
    embedded = {name: data[0] for name, data in PdfReader(io.BytesIO(pdf)).attachments.items()}
    ob3_doc, ob2_doc = embedded.get(OB3_FILENAME), embedded.get(OB2_FILENAME)
    inner3 = verify_data_integrity(json.loads(ob3_doc), email=LEARNER_EMAIL, http=http) if ob3_doc else None
    inner2 = verify_hosted(json.loads(ob2_doc)["id"], email=LEARNER_EMAIL, http=http) if ob2_doc else None
    return {
        "PDF certificate (signature, POST /verify)": report,
        "PDF embedded OB 3.0 credential": inner3 or Report().fail(f"no {OB3_FILENAME} in the PDF"),
        "PDF embedded OB 2.0 assertion": inner2 or Report().fail(f"no {OB2_FILENAME} in the PDF"),
    }
