"""EU micro-credentials: the European standard elements of Council Recommendation 2022/C 243/02, Annex I.

https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32022H0627(02)

A badge class is a micro-credential when its :class:`hub.credentials.models.AchievementDetails` has
``achievement_type = "MicroCredential"`` (OB 3.0 AchievementType). Then every mandatory element must be
present before an award is issued (:func:`check_issuable`, called by the award service); the error
names the missing elements in the request's language (English outside a request).

Where each element lives -> how the OB 3.0 credential carries it:

- identification of the learner: the assertion's hashed recipient -> ``credentialSubject.identifier``
- title: ``BadgeClass.name`` -> ``achievement.name``
- country/region of the issuer: ``issuer_country``/``issuer_region`` -> extension
- awarding body(ies): ``awarding_bodies`` -> extension ``awardingBody``
- date of issuing: ``Assertion.issued_on`` -> ``validFrom``
- learning outcomes: :class:`LearningOutcome` (+ descriptors) -> extension ``learningOutcome`` and
  ``achievement.alignment``
- notional workload: ECTS in ``AchievementDetails.credits_available`` -> ``creditsAvailable``;
  hours in ``workload_hours`` -> extension ``workloadHours``
- level: ``eqf_level`` (+ ``prk_level``) -> ``achievement.alignment`` (``targetType`` ``ext:EQFLevel``,
  ``ext:PRKLevel``) and extension ``eqfLevel``/``prkLevel``; cycle ``qf_ehea_cycle`` -> extension
- type of assessment, form of participation, type of quality assurance -> extension
- grade achieved (optional, per award): :class:`AwardGrade` -> ``credentialSubject.result`` (a Result
  pointing at the achievement's ``resultDescription`` ``<badge URL>#grade``, resultType ``ext:Grade``)
- prerequisites, supervision and identity verification, integration/stackability, grading scheme,
  further information (optional) -> extension

The extension is the ``microCredential`` object of the Achievement, defined by the hub's own JSON-LD
context (``hub/credentials/contexts/badgehub-microcredential-v1.jsonld``, pinned by sha256, served at
``<base>/contexts/badgehub-microcredential-v1.jsonld``); its texts are JSON-LD language maps
(``{"en": ..., "pl": ...}``). OB 2.0 has no place for these elements: the BadgeClass carries the
outcomes' and levels' alignments, the assertion the learner and the date.
"""

from __future__ import annotations

import functools

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.badges.models import BadgeClass
from hub.context import HubContext
from hub.credentials import numbers
from hub.credentials.models import AchievementDetails
from hub.errors import ValidationError
from hub.frameworks import services as fw
from hub.frameworks.models import MicroCredentialDescription
from hub.i18n import N_, joined, number
from hub.i18n import lazy as _l

CONTEXT_FILE = "badgehub-microcredential-v1.jsonld"
ACHIEVEMENT_TYPE = "MicroCredential"
PARTICIPATION_FORMS = ("online", "onsite", "blended")
QF_EHEA_CYCLES = ("short", "first", "second", "third")
#: Annex I, optional element "supervision and identity verification during assessment".
SUPERVISION = (
    "unsupervised-no-identity-verification",
    "supervised-no-identity-verification",
    "supervised-online-identity-verification",
    "supervised-onsite-identity-verification",
)
STACKABILITY = ("standalone", "stackable")

#: The mandatory elements of Annex I, in its order, with their names for error messages and pages.
MANDATORY = {
    "learner": _l("identification of the learner"),
    "title": _l("title of the micro-credential"),
    "issuer_country": _l("country or region of the issuer"),
    "awarding_bodies": _l("awarding body or bodies"),
    "issued_on": _l("date of issuing"),
    "learning_outcomes": _l("learning outcomes"),
    "workload": _l("notional workload (ECTS credits or hours)"),
    "level": _l("level (EQF)"),
    "assessment_type": _l("type of assessment"),
    "participation_form": _l("form of participation in the learning activity"),
    "quality_assurance": _l("type of quality assurance"),
}


#: Two-letter codes in CLDR's territory list (Babel) that are not officially assigned ISO 3166-1 alpha-2
#: codes: exceptionally reserved (AC, CP, CQ, DG, EA, EU, EZ, IC, TA, UN) or user-assigned (QO, XA, XB,
#: XK, ZZ).
_NOT_ISO = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "TA", "UN", "QO", "XA", "XB", "XK", "ZZ"})


@functools.cache
def _countries() -> tuple[frozenset[str], dict[str, str]]:
    """ISO 3166-1 alpha-2 codes, and ``{case-folded English or Polish name: code}`` to suggest a code."""
    from babel import Locale

    codes = frozenset(
        code for code in Locale("en").territories if len(code) == 2 and code.isalpha() and code not in _NOT_ISO
    )
    names = {
        name.casefold(): code
        for lang in ("en", "pl")
        for code, name in Locale(lang).territories.items()
        if code in codes
    }
    return codes, names


def country_code(value, field: str = "issuer_country") -> str | None:
    """``value`` as an ISO 3166-1 alpha-2 country code (``pl`` -> ``PL``), None when empty. The codes
    are Babel's (CLDR) territory list without the reserved and user-assigned ones.

    Raises:
        ValidationError: not such a code (``field`` names the element); a country's English or Polish
            name (``Polska``) is answered with its code.
    """
    text = fw.text(value)
    if not text:
        return None
    codes, names = _countries()
    if text.upper() in codes:
        return text.upper()
    if text.casefold() in names:
        code = names[text.casefold()]
        raise ValidationError(
            _l('"%(value)s" is a country name: write its two-letter code, %(code)s', value=text, code=code), field=field
        )
    raise ValidationError(
        _l('"%(value)s" is not an ISO 3166-1 alpha-2 country code (two letters, e.g. PL)', value=text[:60]),
        field=field,
    )


class MicroCredentialIncomplete(ValidationError):
    """A micro-credential lacks mandatory elements of 2022/C 243/02 Annex I; ``missing`` lists their keys
    (see :data:`MANDATORY`), the detail names them in the user's language."""

    status = 409  # the badge class's state refuses the award until its description is complete
    slug = "micro-credential-incomplete"
    title = N_("Micro-credential description incomplete")


def details_of(session: Session, badge: BadgeClass) -> AchievementDetails | None:
    return session.scalar(select(AchievementDetails).where(AchievementDetails.badge_class_id == badge.id))


def description_of(session: Session, badge: BadgeClass) -> MicroCredentialDescription | None:
    return session.scalar(
        select(MicroCredentialDescription).where(MicroCredentialDescription.badge_class_id == badge.id)
    )


def is_micro_credential(session: Session, badge: BadgeClass) -> bool:
    details = details_of(session, badge)
    return details is not None and details.achievement_type == ACHIEVEMENT_TYPE


def _lang_map(value, field: str) -> dict | None:
    """``{"en": ..., "pl": ...}`` (a plain string is taken as English); None when empty."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict) or not set(value) <= set(fw.LANGS):
        raise ValidationError(_l("%(field)s must be text or an object with 'en' and/or 'pl'", field=field), field=field)
    out = {k: fw.text(v) for k, v in value.items() if fw.text(v)}
    if any(len(v) > 5000 for v in out.values()):
        raise ValidationError(
            _l("%(field)s is longer than %(limit)s characters", field=field, limit=number(5000)), field=field
        )
    return out or None


def _choice(value, allowed: tuple[str, ...], field: str) -> str | None:
    value = fw.text(value)
    if value is not None and value not in allowed:
        raise ValidationError(
            _l("%(field)s must be one of %(choices)s", field=field, choices=joined(allowed)), field=field
        )
    return value


def _level(value, field: str) -> int | None:
    return numbers.parse_level(value, field)


def _positive(value, field: str) -> float | None:
    """An ECTS / hours amount in the portable form (:func:`hub.credentials.numbers.parse_amount`)."""
    return numbers.parse_amount(value, field)


def _bodies(value) -> list[dict]:
    out = []
    for i, body in enumerate(value or []):
        body = {"name": body} if isinstance(body, str) else body
        if not isinstance(body, dict) or not fw.text(body.get("name")):
            raise ValidationError(_l("awarding body %(n)s needs a name", n=i + 1), field=f"awarding_bodies[{i}]")
        url = fw.text(body.get("url"))
        if url and not url.startswith(("http://", "https://")):
            raise ValidationError(
                _l("awarding body %(n)s: the url must be http(s)", n=i + 1), field=f"awarding_bodies[{i}]"
            )
        try:
            country = country_code(body.get("country"), f"awarding_bodies[{i}]")
        except ValidationError as exc:
            raise ValidationError(
                _l("awarding body %(n)s: %(detail)s", n=i + 1, detail=exc.detail), field=f"awarding_bodies[{i}]"
            ) from None
        out.append({k: v for k, v in {"name": fw.text(body["name"]), "url": url, "country": country}.items() if v})
    return out


def describe(session: Session, badge: BadgeClass, data: dict) -> MicroCredentialDescription:
    """Make ``badge`` a micro-credential, or update its description, from ``data`` (the API's shape):

    ``ects`` (float, stored as ``AchievementDetails.credits_available``), ``workload_hours``,
    ``issuer_country`` (ISO 3166-1 alpha-2), ``issuer_region``, ``awarding_bodies`` (``[{"name", "url"?,
    "country"?}]``), ``eqf_level``, ``prk_level`` (1-8; equal when both are given), ``qf_ehea_cycle``,
    ``assessment_type``, ``quality_assurance``, ``prerequisites``, ``grading_scheme``,
    ``further_information`` (text or ``{"en", "pl"}``), ``participation_form``, ``supervision``,
    ``stackability``, ``stackable_towards``; ``learning_outcomes`` (see
    :func:`hub.frameworks.services.set_learning_outcomes`) replaces the outcomes when given; ``in_language``.
    Keys left out keep their value. Completeness is checked when issuing (:func:`check_issuable`), so a
    description can be saved in steps.

    Raises:
        ValidationError: a malformed value (the ``field`` names it).
    """
    details = details_of(session, badge)
    if details is None:
        details = AchievementDetails(badge_class_id=badge.id)
        session.add(details)
    details.achievement_type = ACHIEVEMENT_TYPE
    if "ects" in data:
        details.credits_available = _positive(data["ects"], "ects")
    if "in_language" in data:
        details.in_language = fw.text(data["in_language"])
    mc = description_of(session, badge)
    if mc is None:
        mc = MicroCredentialDescription(badge_class_id=badge.id, awarding_bodies=[])
        session.add(mc)
    if "issuer_country" in data:
        mc.issuer_country = country_code(data["issuer_country"])
    if "issuer_region" in data:
        mc.issuer_region = fw.text(data["issuer_region"])
    if "awarding_bodies" in data:
        mc.awarding_bodies = _bodies(data["awarding_bodies"])
    if "workload_hours" in data:
        mc.workload_hours = _positive(data["workload_hours"], "workload_hours")
    for key in ("eqf_level", "prk_level"):
        if key in data:
            setattr(mc, key, _level(data[key], key))
    if mc.eqf_level or mc.prk_level:
        fw.ensure_bundled(session)  # the levels' descriptors, so serialising never has to write
    if mc.eqf_level and mc.prk_level and mc.eqf_level != mc.prk_level:
        raise ValidationError(
            _l("PRK levels are referenced 1:1 to EQF levels: prk_level must equal eqf_level"), field="prk_level"
        )
    choices = {
        "qf_ehea_cycle": QF_EHEA_CYCLES,
        "participation_form": PARTICIPATION_FORMS,
        "supervision": SUPERVISION,
        "stackability": STACKABILITY,
    }
    for key, allowed in choices.items():
        if key in data:
            setattr(mc, key, _choice(data[key], allowed, key))
    for key in ("assessment_type", "quality_assurance", "prerequisites", "grading_scheme", "further_information"):
        if key in data:
            setattr(mc, key, _lang_map(data[key], key))
    if "stackable_towards" in data:
        mc.stackable_towards = fw.text(data["stackable_towards"])
    if "learning_outcomes" in data:
        fw.set_learning_outcomes(session, badge, data["learning_outcomes"] or [])
    session.flush()
    return mc


def unmark(session: Session, badge: BadgeClass) -> None:
    """Make ``badge`` an ordinary badge again (``achievement_type`` ``Badge``). Its description is kept,
    so marking it again with :func:`describe` restores every element; no-op for ordinary badges."""
    details = details_of(session, badge)
    if details is not None and details.achievement_type == ACHIEVEMENT_TYPE:
        details.achievement_type = "Badge"
        session.flush()


def missing_elements(
    session: Session, badge: BadgeClass, *, for_award: bool = False, recipient_email: str | None = None
) -> list[str]:
    """Keys of :data:`MANDATORY` that ``badge`` lacks; with ``for_award``, also the learner
    (``recipient_email``). The date of issuing is never missing: an award is always dated (default now)."""
    mc = description_of(session, badge)
    details = details_of(session, badge)
    missing = []
    if for_award and not fw.text(recipient_email):
        missing.append("learner")
    if not fw.text(badge.name):
        missing.append("title")
    if mc is None or not mc.issuer_country:
        missing.append("issuer_country")
    if mc is None or not mc.awarding_bodies:
        missing.append("awarding_bodies")
    if not fw.outcomes_of(session, badge):
        missing.append("learning_outcomes")
    if (details is None or not details.credits_available) and (mc is None or not mc.workload_hours):
        missing.append("workload")
    if mc is None or not mc.eqf_level:
        missing.append("level")
    for key in ("assessment_type", "participation_form", "quality_assurance"):
        if mc is None or not getattr(mc, key):
            missing.append(key)
    return missing


def check_issuable(session: Session, badge: BadgeClass, *, recipient_email: str | None) -> None:
    """Refuse to issue a micro-credential with missing mandatory elements (no-op for other badges).

    Raises:
        MicroCredentialIncomplete: ``missing`` = element keys; the detail names them in the user's
            language (Flask-Babel's locale in a request; English elsewhere).
    """
    if not is_micro_credential(session, badge):
        return
    missing = missing_elements(session, badge, for_award=True, recipient_email=recipient_email)
    if missing:
        raise MicroCredentialIncomplete(
            _l(
                "This micro-credential cannot be issued: missing %(elements)s.",
                elements=joined(MANDATORY[k] for k in missing),
            ),
            missing=missing,
        )


def context_url(ctx: HubContext) -> str:
    """The URL of the micro-credential extension's JSON-LD context on this hub."""
    return ctx.urls.context(CONTEXT_FILE)


def extension_json(session: Session, badge: BadgeClass) -> dict | None:
    """The Achievement's ``microCredential`` extension object (terms of the hub's pinned context), or
    None when the badge class is not a micro-credential or has no description yet. Shape::

        {"type": ["MicroCredentialDescription"], "issuerCountry": "PL", "issuerRegion"?,
         "awardingBody": [{"type": ["AwardingBody"], "name", "url"?, "addressCountry"?}],
         "learningOutcome": [{"type": ["LearningOutcome"], "outcomeStatement": {"en", "pl"},
                              "alignedTo": [descriptor URL]}],
         "creditSystem": "ECTS"?, "workloadHours"?, "eqfLevel"?, "prkLevel"?, "qfEheaCycle"?,
         "assessmentType", "participationForm", "qualityAssurance", "prerequisites"?,
         "supervision"?, "stackability"?, "stackableTowards"?, "gradingScheme"?, "furtherInformation"?}
    """
    mc = description_of(session, badge)
    if mc is None or not is_micro_credential(session, badge):
        return None
    details = details_of(session, badge)
    out = {"type": ["MicroCredentialDescription"]}

    def put(key, value):
        if value not in (None, "", [], {}):
            out[key] = value

    put("issuerCountry", mc.issuer_country)
    put("issuerRegion", mc.issuer_region)
    put(
        "awardingBody",
        [
            {"type": ["AwardingBody"], **{("addressCountry" if k == "country" else k): v for k, v in b.items()}}
            for b in mc.awarding_bodies or []
        ],
    )
    outcomes = []
    for o in fw.outcomes_of(session, badge):
        item = {
            "type": ["LearningOutcome"],
            "outcomeStatement": {k: v for k, v in (("en", o.text_en), ("pl", o.text_pl)) if v},
        }
        if o.descriptors:
            item["alignedTo"] = [d.url for d in o.descriptors]
        outcomes.append(item)
    put("learningOutcome", outcomes)
    if details is not None and details.credits_available:
        out["creditSystem"] = "ECTS"
    put("workloadHours", numbers.portable_amount(mc.workload_hours))
    put("eqfLevel", numbers.portable_level(mc.eqf_level))
    put("prkLevel", numbers.portable_level(mc.prk_level))
    put("qfEheaCycle", mc.qf_ehea_cycle)
    put("assessmentType", mc.assessment_type)
    put("participationForm", mc.participation_form)
    put("qualityAssurance", mc.quality_assurance)
    put("prerequisites", mc.prerequisites)
    put("supervision", mc.supervision)
    put("stackability", mc.stackability)
    put("stackableTowards", mc.stackable_towards)
    put("gradingScheme", mc.grading_scheme)
    put("furtherInformation", mc.further_information)
    return out


def description_json(session: Session, badge: BadgeClass) -> dict:
    """The micro-credential description as the API shows it (the :func:`describe` input shape) plus
    ``missing`` (mandatory element keys still absent, for the badge class alone)."""
    mc = description_of(session, badge) or MicroCredentialDescription(awarding_bodies=[])
    details = details_of(session, badge)
    doc = {
        "micro_credential": is_micro_credential(session, badge),
        "ects": details.credits_available if details else None,
        "in_language": details.in_language if details else None,
    }
    for col in MicroCredentialDescription.__table__.columns.keys():
        if col not in ("id", "badge_class_id", "created_at", "updated_at"):
            doc[col] = getattr(mc, col)
    doc["learning_outcomes"] = [fw.outcome_json(o) for o in fw.outcomes_of(session, badge)]
    doc["missing"] = missing_elements(session, badge)
    return doc
