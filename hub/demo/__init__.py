"""``badgehub demo``: one real event through the real HTTP stack to verified badges on disk.

Creates an issuer, two badge classes (PNG and SVG images), a webhook connector with a mapping shaped
for a Moodle course-completion notice, and a rule; sends a Standard Webhooks-signed event over HTTP;
processes it; writes the hosted assertion JSON, the signed JWS and the baked PNG and SVG; verifies them
with :mod:`hub.credentials.verify` and prints the public URLs.
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
from hub.credentials.verify import verify_baked, verify_hosted, verify_signed
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


def run_demo(settings: Settings, out: Path) -> DemoResult:
    """Run the demo against ``settings`` (its database is created/upgraded) and write files to ``out``.

    The hub is served on 127.0.0.1:<free port> until the caller calls ``result.stop()``.
    """
    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
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
            url = ctx.urls.assertion(public_id)
            ext = "png" if image_type == "image/png" else "svg"
            hosted = http.get(url, headers={"Accept": "application/ld+json"}, timeout=30).json()
            jws = http.get(ctx.urls.assertion_signed(public_id), timeout=30).text
            baked = http.get(ctx.urls.assertion_baked(public_id, ext), timeout=30).content
            (out / f"assertion-{ext}-badge.json").write_text(json.dumps(hosted, ensure_ascii=False, indent=2))
            (out / f"assertion-{ext}-badge.jws").write_text(jws)
            (out / f"baked.{ext}").write_bytes(baked)
            checks = {
                "hosted": verify_hosted(url, email=LEARNER_EMAIL, http=http),
                "signed": verify_signed(jws, email=LEARNER_EMAIL, http=http),
                f"baked {ext}": verify_baked(baked, email=LEARNER_EMAIL, http=http),
            }
            lines.append(f"assertion {url}")
            lines.append(f"  page (HTML): {url}  signed: {ctx.urls.assertion_signed(public_id)}")
            for name, report in checks.items():
                lines.append(f"  verify {name}: {'OK' if report.valid else 'FAILED ' + '; '.join(report.errors)}")
                ok = ok and report.valid
        lines.append(f"issuer {ctx.urls.issuer(issuer.public_id)}")
        lines.append(f"files written to {out.resolve()}")
    except BaseException:
        server.shutdown()
        raise
    return DemoResult(ok, lines, ctx.urls.base, server, app)
