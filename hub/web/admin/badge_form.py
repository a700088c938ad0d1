"""The console's badge class form: the badge's fields and expiry, its static alignments, its learning
outcomes with their descriptors (EQF/PRK levels, ESCO skills, custom frameworks) and the EU
micro-credential elements, read from the request or the database and saved in one unit of work.

The form works without JavaScript: its row buttons (add or remove an outcome, alignment or awarding
body; search descriptors for an outcome; pick or drop one) submit it with ``form_action`` and the page
comes back with the input kept and the change made, nothing saved. With JavaScript
(``static/badge_form.js``) the same buttons act in the page and the search asks the console's JSON
endpoint (``GET /admin/descriptors?q=``, :func:`find_descriptors`).

Field names: ``outcome-<i>-text_pl|text_en|descriptor (repeated)|q``, ``alignment-<i>-name|url|
description|framework|code``, ``body-<i>-name|url|country``, and one name per other element (see
:data:`VALUES`). Errors are keyed by the id of the element they belong to (the same as its name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import request
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.accounts.access import Principal
from hub.badges.models import BadgeClass
from hub.context import current_context
from hub.credentials import numbers
from hub.errors import HubError, ImageError, NotFound, ValidationError
from hub.frameworks import microcredentials
from hub.frameworks import services as fw
from hub.frameworks.models import Descriptor
from hub.i18n import lazy as _l
from hub.operations import actions

FORM_ACTION = "form_action"
SAVE = "save"
ROW = re.compile(r"^(outcome|alignment|body)-(\d+)-([a-z_]+)$")
#: Alignment row field -> OB 2.0 AlignmentObject / OB 3.0 Alignment property.
ALIGNMENT = {
    "name": "targetName",
    "url": "targetUrl",
    "description": "targetDescription",
    "framework": "targetFramework",
    "code": "targetCode",
}
BODY = ("name", "url", "country")
#: Micro-credential texts kept in Polish and English (``<key>_pl``, ``<key>_en`` in the form).
LANG_TEXTS = ("assessment_type", "quality_assurance", "prerequisites", "grading_scheme", "further_information")
MICRO_PLAIN = (
    "issuer_country",
    "issuer_region",
    "eqf_level",
    "prk_level",
    "qf_ehea_cycle",
    "participation_form",
    "supervision",
    "stackability",
    "stackable_towards",
    "in_language",
)
#: Every single-valued field of the form.
VALUES = (
    "issuer",
    "name",
    "description",
    "criteria_url",
    "criteria_narrative",
    "tags",
    "expires_after_days",
    "allow_multiple",
    "micro_credential",
    "ects",
    "workload_hours",
    *MICRO_PLAIN,
    *(f"{key}_{lang}" for key in LANG_TEXTS for lang in ("pl", "en")),
)
CHECKBOXES = ("allow_multiple", "micro_credential")
HTTP = ("http://", "https://")


def page_language() -> str:
    """``pl`` or ``en``: the language the console page is shown in."""
    return "pl" if str(get_locale() or "en").startswith("pl") else "en"


def chip(d: Descriptor, lang: str) -> dict:
    """A descriptor as the form shows it: ``{"ref": "framework:code", "code", "label", "framework"}``,
    the label and the framework's name in ``lang`` (the other language when missing)."""
    a = fw.alignment(d, lang)
    return {
        "ref": f"{d.framework.identifier}:{d.code}",
        "code": d.code,
        "label": a.get("targetName") or d.code,
        "framework": a.get("targetFramework") or d.framework.identifier,
    }


def find_descriptors(session: Session, query: str, lang: str, *, limit: int = 20) -> list[dict]:
    """Descriptors matching ``query`` (:func:`hub.frameworks.services.search_descriptors`) as chips.
    Loads the bundled EQF and PRK levels the first time, so they can always be found.

    Raises:
        ValidationError: an empty query.
    """
    ensure_levels(session)
    return [chip(d, lang) for d in fw.search_descriptors(session, query, limit=limit)]


def ensure_levels(session: Session) -> None:
    """Load the bundled EQF and PRK levels if they are not there yet (committed at once: they are
    reference data, not part of the form's unit of work)."""
    try:
        fw.ensure_bundled(session)
        session.commit()
    except IntegrityError:  # another request loaded them at the same moment
        session.rollback()


@dataclass
class Outcome:
    """One learning outcome row: texts, picked descriptors (chips), and the no-JavaScript search."""

    text_pl: str = ""
    text_en: str = ""
    descriptors: list[dict] = field(default_factory=list)
    q: str = ""
    results: list[dict] | None = None
    refs: list[str] = field(default_factory=list)

    def blank(self) -> bool:
        """No text and no descriptor: the row is left out when saving."""
        return not (self.text_pl.strip() or self.text_en.strip() or self.refs)


def _blank(row: dict) -> bool:
    return not any(v.strip() for v in row.values())


def _number(value) -> str:
    return "" if value is None else f"{value:g}"


@dataclass
class BadgeForm:
    """What the badge form shows and what it saves (see the module docstring)."""

    values: dict[str, str] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    alignments: list[dict] = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    action: str = SAVE
    #: service index of an outcome / awarding body -> its row (blank rows are not sent)
    _outcome_rows: list[int] = field(default_factory=list)
    _body_rows: list[int] = field(default_factory=list)

    # ---- reading ---------------------------------------------------------------------------------------

    @classmethod
    def blank(cls) -> BadgeForm:
        """The form of a new badge class: one empty outcome, the page's language for the credential."""
        return cls(values={"in_language": page_language()}, outcomes=[Outcome()])

    @classmethod
    def from_badge(cls, session: Session, badge: BadgeClass) -> BadgeForm:
        """The form of a saved badge class."""
        lang = page_language()
        values = {
            "name": badge.name,
            "description": badge.description,
            "criteria_url": badge.criteria_url or "",
            "criteria_narrative": badge.criteria_narrative or "",
            "tags": "\n".join(badge.tags or []),
            "expires_after_days": _number(badge.expires_after_days),
            "allow_multiple": "on" if badge.allow_multiple else "",
        }
        outcomes = [
            Outcome(o.text_pl or "", o.text_en or "", descriptors=[chip(d, lang) for d in o.descriptors])
            for o in fw.outcomes_of(session, badge)
        ]
        alignments = [{k: str(a.get(ob) or "") for k, ob in ALIGNMENT.items()} for a in badge.alignments or []]
        details = microcredentials.details_of(session, badge)
        mc = microcredentials.description_of(session, badge)
        values["micro_credential"] = "on" if microcredentials.is_micro_credential(session, badge) else ""
        values["ects"] = _number(details.credits_available) if details else ""
        values["in_language"] = (details.in_language if details else None) or ""
        bodies = []
        if mc is not None:
            values["workload_hours"] = _number(mc.workload_hours)
            for key in MICRO_PLAIN:
                if key != "in_language":
                    value = getattr(mc, key)
                    values[key] = "" if value is None else str(value)
            for key in LANG_TEXTS:
                texts = getattr(mc, key) or {}
                for lang_code in ("pl", "en"):
                    values[f"{key}_{lang_code}"] = texts.get(lang_code, "")
            bodies = [{k: str(b.get(k) or "") for k in BODY} for b in mc.awarding_bodies or []]
        return cls(values=values, outcomes=outcomes or [Outcome()], alignments=alignments, bodies=bodies)

    @classmethod
    def from_request(cls, session: Session) -> BadgeForm:
        """The submitted form, its descriptors resolved and its row action (if any) applied."""
        form = request.form
        values = {k: (form.get(k) or "") for k in VALUES}
        for k in CHECKBOXES:
            values[k] = "on" if form.get(k) in ("on", "1", "true") else ""
        rows: dict[str, dict[int, dict]] = {"outcome": {}, "alignment": {}, "body": {}}
        for name in form:
            m = ROW.match(name)
            if m:
                kind, index, key = m.group(1), int(m.group(2)), m.group(3)
                if kind == "outcome" and key == "descriptor":
                    rows[kind].setdefault(index, {})[key] = form.getlist(name)
                else:
                    rows[kind].setdefault(index, {})[key] = form.get(name) or ""
        self = cls(values=values, action=form.get(FORM_ACTION) or SAVE)
        order = {kind: sorted(found) for kind, found in rows.items()}
        for i in order["outcome"]:
            r = rows["outcome"][i]
            refs = list(dict.fromkeys(x.strip() for x in r.get("descriptor", []) if x.strip()))
            self.outcomes.append(
                Outcome(text_pl=r.get("text_pl", ""), text_en=r.get("text_en", ""), q=r.get("q", ""), refs=refs)
            )
        self.alignments = [{k: rows["alignment"][i].get(k, "") for k in ALIGNMENT} for i in order["alignment"]]
        self.bodies = [{k: rows["body"][i].get(k, "") for k in BODY} for i in order["body"]]
        self._apply(session, {kind: {orig: new for new, orig in enumerate(found)} for kind, found in order.items()})
        self._resolve(session)
        return self

    def _apply(self, session: Session, position: dict[str, dict[int, int]]) -> None:
        """Do the row action named by the pressed button (``add:outcome``, ``remove:body:2``,
        ``search:0``, ``pick:0:eqf:4``, ``unpick:0:eqf:4``; indices as submitted)."""
        verb, _sep, rest = self.action.partition(":")
        if verb == "add":
            {"outcome": self.outcomes, "alignment": self.alignments, "body": self.bodies}.get(rest, []).append(
                Outcome() if rest == "outcome" else dict.fromkeys(ALIGNMENT if rest == "alignment" else BODY, "")
            )
            return
        if verb == "remove":
            kind, _sep, index = rest.partition(":")
            rows = {"outcome": self.outcomes, "alignment": self.alignments, "body": self.bodies}.get(kind)
            pos = position.get(kind, {}).get(int(index)) if index.isdigit() else None
            if rows is not None and pos is not None:
                del rows[pos]
            return
        index, _sep, ref = rest.partition(":")
        pos = position["outcome"].get(int(index)) if index.isdigit() else None
        if pos is None:
            return
        outcome = self.outcomes[pos]
        if verb == "search":
            if not outcome.q.strip():
                self.errors[f"outcome-{pos}-q"] = _("Type part of a code or a name.")
                return
            try:
                outcome.results = find_descriptors(session, outcome.q, page_language())
            except ValidationError:
                self.errors[f"outcome-{pos}-q"] = _("Type part of a code or a name.")
        elif verb == "pick" and ref and ref not in outcome.refs:
            outcome.refs.append(ref)
        elif verb == "unpick" and ref in outcome.refs:
            outcome.refs.remove(ref)

    def _resolve(self, session: Session) -> None:
        lang = page_language()
        if any(ref.split(":")[0].lower() in fw.BUNDLED for o in self.outcomes for ref in o.refs):
            ensure_levels(session)
        for i, outcome in enumerate(self.outcomes):
            outcome.descriptors = []
            for ref in outcome.refs:
                try:
                    outcome.descriptors.append(chip(fw.descriptor_ref(session, ref), lang))
                except (NotFound, ValidationError):
                    self.errors[f"outcome-{i}-descriptors"] = _("There is no descriptor %(ref)s.", ref=ref)

    # ---- what is saved ---------------------------------------------------------------------------------

    def _text(self, key: str) -> str | None:
        return (self.values.get(key) or "").strip() or None

    def _whole(self, key: str) -> int | None:
        raw = self._text(key)
        if raw is None:
            return None
        if not raw.isdigit() or int(raw) < 1:
            self.errors[key] = _("Give a whole number of days, 1 or more.")
            return None
        return int(raw)

    def _positive(self, key: str) -> float | None:
        """An ECTS / hours amount, checked as the service checks it (:func:`hub.credentials.numbers.parse_amount`)."""
        try:
            return numbers.parse_amount(self._text(key), key)
        except ValidationError:
            self.errors[key] = _("Give a number from 0.01 to 10,000 with at most two decimal places.")
            return None

    def badge_fields(self) -> dict:
        """The keyword arguments of :func:`hub.operations.actions.create_badge_class` (without the issuer
        and image); malformed values are recorded in :attr:`errors`."""
        tags = [t.strip() for t in (self.values.get("tags") or "").replace(",", "\n").splitlines() if t.strip()]
        return {
            "name": self._text("name"),
            "description": self._text("description"),
            "criteria_url": self._text("criteria_url"),
            "criteria_narrative": self._text("criteria_narrative"),
            "tags": tags,
            "alignments": self._alignments(),
            "expires_after_days": self._whole("expires_after_days"),
            "allow_multiple": self.values.get("allow_multiple") == "on",
        }

    def _alignments(self) -> list[dict]:
        out = []
        for i, row in enumerate(self.alignments):
            if _blank(row):
                continue
            if not row["name"].strip():
                self.errors[f"alignment-{i}-name"] = _("Give the name of what the badge is aligned to.")
            if not row["url"].strip().startswith(HTTP):
                self.errors[f"alignment-{i}-url"] = _("Give a web address starting with https:// or http://.")
            out.append({ALIGNMENT[k]: v.strip() for k, v in row.items() if v.strip()})
        return out

    def outcomes_input(self) -> list[dict]:
        """The learning outcomes for :func:`hub.frameworks.services.set_learning_outcomes` (blank rows left out)."""
        out, self._outcome_rows = [], []
        for i, o in enumerate(self.outcomes):
            if o.blank():
                continue
            if not (o.text_pl.strip() or o.text_en.strip()):
                self.errors[f"outcome-{i}-text_pl"] = _("Write the outcome in Polish or in English.")
            self._outcome_rows.append(i)
            out.append({"text": {"pl": o.text_pl, "en": o.text_en}, "descriptors": [d["ref"] for d in o.descriptors]})
        return out

    def micro_input(self) -> dict | None:
        """The :func:`hub.frameworks.microcredentials.describe` input, or None when the badge is not
        (or no longer) a micro-credential."""
        if self.values.get("micro_credential") != "on":
            return None
        data = {"ects": self._positive("ects"), "workload_hours": self._positive("workload_hours")}
        self._country(self._text("issuer_country"), "issuer_country")
        for key in MICRO_PLAIN:
            data[key] = self._text(key)
        for key in LANG_TEXTS:
            data[key] = {lang: self.values.get(f"{key}_{lang}") or "" for lang in ("pl", "en")}
        data["awarding_bodies"] = self._awarding_bodies()
        return data

    def _country(self, value: str | None, name: str) -> None:
        """Check a country field as the service will (:func:`hub.frameworks.microcredentials.country_code`),
        so its message shows next to the field."""
        try:
            microcredentials.country_code(value, name)
        except ValidationError as exc:
            self.errors[name] = exc.detail

    def _awarding_bodies(self) -> list[dict]:
        out, self._body_rows = [], []
        for i, row in enumerate(self.bodies):
            if _blank(row):
                continue
            if not row["name"].strip():
                self.errors[f"body-{i}-name"] = _("Give the awarding body's name.")
            if row["url"].strip() and not row["url"].strip().startswith(HTTP):
                self.errors[f"body-{i}-url"] = _("Give a web address starting with https:// or http://.")
            self._country(row["country"], f"body-{i}-country")
            self._body_rows.append(i)
            out.append({k: v.strip() for k, v in row.items() if v.strip()})
        return out

    def validated(self) -> tuple[dict, list[dict], dict | None]:
        """``(badge fields, outcomes, micro-credential description or None)`` to save.

        Raises:
            ValidationError: the form's own checks failed (the messages are in :attr:`errors`).
        """
        fields, outcomes, micro = self.badge_fields(), self.outcomes_input(), self.micro_input()
        if self.errors:
            raise ValidationError(_l("Some fields need correcting: see the messages next to them."))
        return fields, outcomes, micro

    @staticmethod
    def save(session: Session, p: Principal, badge: BadgeClass, outcomes: list[dict], micro: dict | None) -> None:
        """Save the outcomes and the micro-credential description of ``badge`` (in the caller's unit of
        work, after the badge itself; audited by :mod:`hub.operations.actions`)."""
        ctx = current_context()
        actions.set_learning_outcomes(session, p, badge, outcomes, ctx)
        if micro is not None or microcredentials.is_micro_credential(session, badge):
            actions.describe_micro_credential(session, p, badge, micro, ctx)

    def failed(self, exc: HubError) -> None:
        """Put a service's error next to the field it names (``field`` of a :class:`ValidationError`)."""
        if self.errors and not exc.extra.get("field"):
            return  # the form's own messages are already there
        name = "image" if isinstance(exc, ImageError) else str(exc.extra.get("field") or "")
        m = re.fullmatch(r"(outcomes|awarding_bodies)\[(\d+)\]", name)
        if m:
            rows = self._outcome_rows if m.group(1) == "outcomes" else self._body_rows
            index = int(m.group(2))
            row = rows[index] if index < len(rows) else index
            name = f"outcome-{row}-text_pl" if m.group(1) == "outcomes" else f"body-{row}-name"
        elif name in LANG_TEXTS:
            name = f"{name}_pl"
        if name:
            self.errors.setdefault(name, exc.detail)

    # ---- what is shown ---------------------------------------------------------------------------------

    def get(self, key: str, default: str = "") -> str:
        """The value of a single-valued field as the form shows it."""
        return self.values.get(key) or default

    def missing(self, session: Session, badge: BadgeClass | None) -> list[str]:
        """Names of the mandatory micro-credential elements the saved badge class still lacks (in the page's
        language); empty for a new badge or an ordinary one."""
        if badge is None or not microcredentials.is_micro_credential(session, badge):
            return []
        return [str(microcredentials.MANDATORY[k]) for k in microcredentials.missing_elements(session, badge)]
