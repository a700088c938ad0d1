"""Rows for the OB 3.0 tests, made directly with the ORM in a real SQLite file.

Kept apart from the shared factories so these tests run on any branch; ``World`` holds the pieces.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image
from sqlalchemy.orm import Session

import hub.credentials.models  # noqa: F401  (tables)
import hub.models  # noqa: F401
from hub.badges.models import Assertion, BadgeClass, Issuer, IssuerKey
from hub.badges.recipient import hash_identity
from hub.context import HubContext
from hub.credentials import ob3keys, status
from hub.credentials.models import AchievementDetails, IssuerCredentialSettings
from hub.db import Base, Database
from hub.settings import Settings

REPO = Path(__file__).resolve().parents[3]
SHARED_REF = REPO.parent / "shared" / "ref"


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (8, 8), (200, 30, 30, 255)).save(buf, "PNG")
    return buf.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>'


def make_ctx(tmp_path: Path, base_url: str = "https://badges.example.test") -> HubContext:
    settings = Settings(
        instance_path=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        base_url=base_url,
        secret_key="test",
        key_encryption_key=Fernet.generate_key().decode(),
    )
    ctx = HubContext.from_settings(settings, Database(settings.database_url))
    Base.metadata.create_all(ctx.db.engine)
    return ctx


def make_issuer(session: Session, ctx: HubContext, name: str = "Szkoła Główna", **settings) -> Issuer:
    issuer = Issuer(
        name=name,
        url="https://school.example.org",
        email="badges@school.example.org",
        description="Issues badges.",
        image=png_bytes(),
        image_type="image/png",
    )
    session.add(issuer)
    session.flush()
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    session.add(
        IssuerKey(
            issuer=issuer,
            algorithm="RS256",
            public_pem=public.decode(),
            private_key_encrypted=ctx.box.encrypt(pem),
        )
    )
    if settings:
        session.add(IssuerCredentialSettings(issuer_id=issuer.id, **settings))
    session.flush()
    ob3keys.ensure_keys(session, ctx, issuer)  # as the badges service's create_issuer does
    return issuer


def make_badge(
    session: Session,
    issuer: Issuer,
    *,
    name="Zażółć gęślą jaźń",
    svg=False,
    details=True,
    alignments=None,
    tags=("python", "lti"),
    expires_after_days=None,
) -> BadgeClass:
    badge = BadgeClass(
        issuer=issuer,
        name=name,
        description='Completed the "Intro" course.\nWell done\t(tab).',
        image=SVG if svg else png_bytes(),
        image_type="image/svg+xml" if svg else "image/png",
        criteria_url="https://school.example.org/courses/intro",
        criteria_narrative="Pass every quiz with 80% or more.",
        tags=list(tags),
        alignments=alignments
        if alignments is not None
        else [
            {
                "targetName": "Digital competence",
                "targetUrl": "https://esco.example.eu/skill/123",
                "targetFramework": "ESCO",
                "targetCode": "S1.2",
            }
        ],
        expires_after_days=expires_after_days,
    )
    session.add(badge)
    session.flush()
    if details:
        session.add(
            AchievementDetails(
                badge_class_id=badge.id,
                achievement_type="MicroCredential",
                credits_available=1.5,
                field_of_study="Computer science",
                human_code="CS-101",
                in_language="pl",
            )
        )
        session.flush()
    return badge


def make_assertion(
    session: Session,
    badge: BadgeClass,
    *,
    email="learner@example.org",
    issued_on=None,
    expires=None,
    evidence=None,
    status_entry=True,
) -> Assertion:
    issued_on = issued_on or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    salt = base64.b16encode(email.encode()[:8]).decode().lower()
    a = Assertion(
        badge_class=badge,
        recipient_type="email",
        recipient_plain=email,
        recipient_salt=salt,
        recipient_identity=hash_identity(email, salt),
        recipient_name="Learner",
        issued_on=issued_on,
        expires=expires,
        evidence=evidence
        if evidence is not None
        else [{"id": "https://school.example.org/work/1", "narrative": "Quiz 1: 92%"}],
    )
    session.add(a)
    session.flush()
    if status_entry:
        status.allocate_status(session, a, fresh=True)  # as the award service does
    return a


@dataclass
class World:
    ctx: HubContext
    session: Session
    issuer: Issuer
    badge: BadgeClass


def make_world(tmp_path: Path, **issuer_settings) -> World:
    ctx = make_ctx(tmp_path)
    session = ctx.db.Session()
    issuer = make_issuer(session, ctx, **issuer_settings)
    return World(ctx, session, issuer, make_badge(session, issuer))


def expired_dates() -> tuple[datetime, datetime]:
    now = datetime.now(UTC).replace(microsecond=0)
    return now - timedelta(days=400), now - timedelta(days=35)
