"""What the public badge class and assertion pages show of frameworks: learning outcomes, alignments,
micro-credential elements, the outcomes an award achieved and its grade, in the page's language.

:func:`init_app` makes ``framework_facts(badge, assertion=None)`` available to templates (called when
:mod:`hub.web.api_frameworks` is registered), so the public views need no change.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import get_locale

from hub.badges.models import Assertion, BadgeClass
from hub.frameworks import microcredentials
from hub.frameworks import services as fw
from hub.web import db_session


def _lang() -> str:
    return "pl" if str(get_locale() or "en").startswith("pl") else "en"


def _text(value: dict | None, lang: str) -> str | None:
    if not value:
        return None
    return value.get(lang) or value.get("en") or value.get("pl")


def framework_facts(badge: BadgeClass, assertion: Assertion | None = None) -> dict:
    """``{"outcomes": [{"text", "alignments": [alignment]}], "alignments": [alignment],
    "micro": {...} | None, "achieved": [alignment], "grade": str | None}`` for the page's language."""
    session = db_session()
    lang = _lang()
    outcomes = [
        {
            "text": _text({"en": o.text_en, "pl": o.text_pl}, lang),
            "alignments": [fw.alignment(d, lang) for d in o.descriptors],
        }
        for o in fw.outcomes_of(session, badge)
    ]
    levels = [fw.alignment(d, lang) for d in fw.level_descriptors(session, badge)]
    micro = None
    mc = microcredentials.description_of(session, badge)
    if mc is not None and microcredentials.is_micro_credential(session, badge):
        details = microcredentials.details_of(session, badge)
        micro = {
            "issuer_country": mc.issuer_country,
            "issuer_region": mc.issuer_region,
            "awarding_bodies": mc.awarding_bodies or [],
            "ects": details.credits_available if details else None,
            "workload_hours": mc.workload_hours,
            "levels": levels,
            "qf_ehea_cycle": mc.qf_ehea_cycle,
            "assessment_type": _text(mc.assessment_type, lang),
            "participation_form": mc.participation_form,
            "quality_assurance": _text(mc.quality_assurance, lang),
            "prerequisites": _text(mc.prerequisites, lang),
            "supervision": mc.supervision,
            "stackability": mc.stackability,
            "stackable_towards": mc.stackable_towards,
            "grading_scheme": _text(mc.grading_scheme, lang),
            "further_information": _text(mc.further_information, lang),
        }
    facts = {"outcomes": outcomes, "levels": levels, "micro": micro, "achieved": [], "grade": None}
    if assertion is not None:
        facts["achieved"] = fw.achieved_alignments(session, assertion)
        facts["grade"] = fw.grade_of(session, assertion)
    return facts


def init_app(app: Flask) -> None:
    """Expose :func:`framework_facts` to the app's templates."""
    app.jinja_env.globals["framework_facts"] = framework_facts
