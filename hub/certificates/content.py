"""What a certificate says: the award's facts gathered from the database into one plain value.

Rendering (:mod:`.render`) works from this value only, so it needs no session, and the cache
fingerprint (:func:`CertificateContent.fingerprint`) covers exactly what the reader sees.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.badges.models import Assertion
from hub.bidi import isolate_if_needed
from hub.context import HubContext
from hub.credentials.models import AchievementDetails
from hub.db import utcnow

# Frameworks whose alignment codes are levels (EQF: European Qualifications Framework; PRK: Polska Rama
# Kwalifikacji, the Polish Qualifications Framework). Matched in ``targetFramework``/``targetType``.
LEVEL_FRAMEWORKS = ("EQF", "ERK", "PRK")


def certificate_number(assertion_public_id: str) -> str:
    """A short, stable, unique-in-practice certificate number from the award's public id: 80 bits of
    its UUID as 16 base32 characters in groups of four (``ABCD-EFGH-JKLM-NPQR``)."""
    raw = bytes.fromhex(assertion_public_id.replace("-", ""))
    text = base64.b32encode(raw[:10]).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, 16, 4))


@dataclass(frozen=True)
class Outcome:
    """A learning outcome or alignment; ``level`` is set for EQF/PRK framework levels."""

    name: str
    framework: str | None = None
    code: str | None = None
    level: str | None = None
    description: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class CertificateContent:
    """Everything printed on a certificate. Times are aware UTC; images are raw bytes + media type."""

    assertion_public_id: str
    number: str
    verify_url: str
    languages: tuple[str, ...]
    recipient_name: str | None
    badge_name: str
    badge_description: str
    badge_image: bytes
    badge_image_type: str
    issuer_name: str
    issuer_url: str
    issuer_image: bytes | None
    issuer_image_type: str | None
    issued_on: datetime
    expires: datetime | None
    criteria_narrative: str | None
    criteria_url: str | None
    outcomes: tuple[Outcome, ...] = ()
    micro: dict = field(default_factory=dict)
    revoked: bool = False
    revocation_reason: str | None = None
    revoked_at: datetime | None = None
    template_html: str | None = None
    template_css: str | None = None

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires < utcnow()

    def fingerprint(self, *extra: str) -> str:
        """SHA-256 (hex) over every field plus ``extra`` (e.g. the signing certificate's fingerprint)."""
        h = hashlib.sha256()
        for k, v in sorted(asdict(self).items()):
            h.update(k.encode())
            h.update(v if isinstance(v, bytes) else json.dumps(v, default=str, sort_keys=True).encode())
        for e in extra:
            h.update(e.encode())
        return h.hexdigest()


def isolated(content: CertificateContent) -> CertificateContent:
    """``content`` with the texts people typed (names, descriptions, the criteria narrative, the
    revocation reason, outcomes' names and descriptions) isolated where they need it
    (:func:`hub.bidi.isolate_if_needed`): xhtml2pdf applies UAX #9 with isolates, so a U+202E in a name
    cannot reverse the text after it (``Issued by <name> (<url>)``). What templates see as ``c``."""
    fix = isolate_if_needed
    return replace(
        content,
        recipient_name=fix(content.recipient_name),
        badge_name=fix(content.badge_name) or "",
        badge_description=fix(content.badge_description) or "",
        issuer_name=fix(content.issuer_name) or "",
        criteria_narrative=fix(content.criteria_narrative),
        revocation_reason=fix(content.revocation_reason),
        outcomes=tuple(replace(o, name=fix(o.name) or "", description=fix(o.description)) for o in content.outcomes),
    )


def outcome(a: dict) -> Outcome | None:
    """An OB 2.0 AlignmentObject dict as an :class:`Outcome` (None without ``targetName``)."""
    name = (a.get("targetName") or "").strip()
    if not name:
        return None
    framework = a.get("targetFramework") or None
    kind = f"{framework or ''} {a.get('targetType') or ''}".upper()
    level = a.get("targetCode") if any(f in kind for f in LEVEL_FRAMEWORKS) else None
    return Outcome(
        name=name,
        framework=framework,
        code=a.get("targetCode") or None,
        level=level,
        description=a.get("targetDescription") or None,
        url=a.get("targetUrl") or None,
    )


def gather(
    session: Session,
    ctx: HubContext,
    assertion: Assertion,
    *,
    recipient_name: str | None,
    languages: tuple[str, ...],
    template_html: str | None = None,
    template_css: str | None = None,
) -> CertificateContent:
    """The certificate content of ``assertion`` (micro-credential elements from the OB 3.0
    AchievementDetails row when there is one)."""
    badge = assertion.badge_class
    issuer = badge.issuer
    details = session.scalar(select(AchievementDetails).where(AchievementDetails.badge_class_id == badge.id))
    micro = {}
    if details is not None:
        micro = {
            k: v
            for k, v in {
                "achievement_type": details.achievement_type if details.achievement_type != "Badge" else None,
                "credits": details.credits_available,
                "field_of_study": details.field_of_study,
                "human_code": details.human_code,
                "in_language": details.in_language,
            }.items()
            if v not in (None, "")
        }
    return CertificateContent(
        assertion_public_id=assertion.public_id,
        number=certificate_number(assertion.public_id),
        verify_url=ctx.urls.assertion(assertion.public_id),
        languages=languages,
        recipient_name=recipient_name,
        badge_name=badge.name,
        badge_description=badge.description,
        badge_image=badge.image,
        badge_image_type=badge.image_type,
        issuer_name=issuer.name,
        issuer_url=issuer.url,
        issuer_image=issuer.image,
        issuer_image_type=issuer.image_type,
        issued_on=assertion.issued_on,
        expires=assertion.expires,
        criteria_narrative=badge.criteria_narrative,
        criteria_url=badge.criteria_url or ctx.urls.criteria(badge.public_id),
        outcomes=tuple(o for o in map(outcome, badge.alignments or []) if o),
        micro=micro,
        revoked=assertion.revoked,
        revocation_reason=assertion.revocation_reason,
        revoked_at=assertion.revoked_at,
        template_html=template_html,
        template_css=template_css,
    )
