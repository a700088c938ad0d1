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
from hub.frameworks import microcredentials
from hub.frameworks import services as fw
from hub.frameworks.models import Descriptor

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
class Aligned:
    """A descriptor a learning outcome is aligned to (an EQF or PRK level, an ESCO skill...).

    ``name`` and ``framework`` are language maps (``{"en": ..., "pl": ...}``); ``level`` is set for
    EQF/PRK levels (the level number as text), ``code`` is the descriptor's code in its framework.
    """

    name: dict
    framework: dict
    code: str | None = None
    level: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class LearningOutcomeLine:
    """A learning outcome entered in the badge form: ``text`` a language map, its alignments in order."""

    text: dict
    aligned: tuple[Aligned, ...] = ()


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
    learning_outcomes: tuple[LearningOutcomeLine, ...] = ()
    revoked: bool = False
    revocation_reason: str | None = None
    revoked_at: datetime | None = None
    template_html: str | None = None
    template_css: str | None = None

    @property
    def expired(self) -> bool:
        return self.expires is not None and self.expires < utcnow()

    def text(self) -> str:
        """Every text the certificate may print, joined (to choose its fonts: :mod:`.fonts`)."""
        out: list[str] = []

        def walk(value) -> None:
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, (list, tuple)):
                for v in value:
                    walk(v)

        walk([v for v in asdict(self).values() if not isinstance(v, bytes)])
        return "\n".join(out)

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


def _lang_map(en: str | None, pl: str | None) -> dict:
    return {k: v for k, v in (("en", en), ("pl", pl)) if v}


def aligned(d: Descriptor) -> Aligned:
    """A framework descriptor as printed: names in both languages, the level for EQF/PRK levels."""
    frame = d.framework
    return Aligned(
        name=_lang_map(d.name_en, d.name_pl) or {"en": d.code},
        framework=_lang_map(frame.name_en, frame.name_pl) or {"en": frame.identifier},
        code=d.code,
        level=str(d.level) if d.level is not None else None,
        url=d.url,
    )


def learning_outcomes(session: Session, badge) -> tuple[LearningOutcomeLine, ...]:
    """The badge class's learning outcomes (as entered in the badge form) with their alignments."""
    return tuple(
        LearningOutcomeLine(text=_lang_map(o.text_en, o.text_pl), aligned=tuple(aligned(d) for d in o.descriptors))
        for o in fw.outcomes_of(session, badge)
    )


def micro_elements(session: Session, assertion: Assertion, details: AchievementDetails | None) -> dict:
    """The Annex I elements of Council Recommendation 2022/C 243/02 that are present, for printing
    (only keys with a value). Beside ``achievement_type``, ``credits``, ``field_of_study``,
    ``human_code`` and ``in_language`` (any badge with OB 3.0 details): for a micro-credential
    ``issuer_country`` (ISO 3166-1 code), ``issuer_region``, ``awarding_bodies`` ``[{"name", "url"?,
    "country"?}]``, ``workload_hours``, ``levels`` (:class:`Aligned` EQF/PRK levels as dicts),
    ``qf_ehea_cycle``, ``participation_form``, ``supervision``, ``stackability``, ``stackable_towards``
    (codes, labelled by the template), language maps ``assessment_type``, ``quality_assurance``,
    ``prerequisites``, ``grading_scheme``, ``further_information``; ``grade`` (this award's)."""
    badge = assertion.badge_class
    micro: dict = {}
    if details is not None:
        micro = {
            "achievement_type": details.achievement_type if details.achievement_type != "Badge" else None,
            "credits": details.credits_available,
            "field_of_study": details.field_of_study,
            "human_code": details.human_code,
            "in_language": details.in_language,
        }
    mc = microcredentials.description_of(session, badge)
    if mc is not None and details is not None and details.achievement_type == microcredentials.ACHIEVEMENT_TYPE:
        micro |= {
            "issuer_country": mc.issuer_country,
            "issuer_region": mc.issuer_region,
            "awarding_bodies": list(mc.awarding_bodies or []),
            "workload_hours": mc.workload_hours,
            "levels": [asdict(aligned(d)) for d in fw.level_descriptors(session, badge)],
            "qf_ehea_cycle": mc.qf_ehea_cycle,
            "assessment_type": mc.assessment_type,
            "participation_form": mc.participation_form,
            "quality_assurance": mc.quality_assurance,
            "prerequisites": mc.prerequisites,
            "supervision": mc.supervision,
            "stackability": mc.stackability,
            "stackable_towards": mc.stackable_towards,
            "grading_scheme": mc.grading_scheme,
            "further_information": mc.further_information,
            "grade": fw.grade_of(session, assertion),
        }
    return {k: v for k, v in micro.items() if v not in (None, "", [], {})}


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
    """The certificate content of ``assertion``: the learning outcomes of the badge form with their
    EQF/PRK/ESCO alignments, and the micro-credential elements that are present
    (:func:`micro_elements`)."""
    badge = assertion.badge_class
    issuer = badge.issuer
    details = session.scalar(select(AchievementDetails).where(AchievementDetails.badge_class_id == badge.id))
    micro = micro_elements(session, assertion, details)
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
        learning_outcomes=learning_outcomes(session, badge),
        revoked=assertion.revoked,
        revocation_reason=assertion.revocation_reason,
        revoked_at=assertion.revoked_at,
        template_html=template_html,
        template_css=template_css,
    )
