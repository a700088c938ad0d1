"""Frameworks and descriptors, learning outcomes, outcome mappings and what an award achieved.

Services take a session, ``flush`` and never ``commit`` (the boundary commits). Alignments are built
here once, in the Open Badges shape (OB 2.0 AlignmentObject https://www.imsglobal.org/spec/ob/v2p0/#Alignment,
OB 3.0 Alignment https://www.imsglobal.org/spec/ob/v3p0/#alignment), and serialised by
:mod:`hub.credentials.ob2` and :mod:`hub.credentials.ob3`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from hub.badges.models import Assertion, BadgeClass
from hub.credentials.fastcanon import UNSAFE_CHARS
from hub.credentials.models import AchievementDetails
from hub.db import utcnow
from hub.errors import NotFound, ValidationError
from hub.frameworks.models import (
    AchievedAlignment,
    AwardGrade,
    Descriptor,
    Framework,
    LearningOutcome,
    MicroCredentialDescription,
    OutcomeMapping,
)
from hub.i18n import lazy as _l
from hub.i18n import number

log = logging.getLogger(__name__)

#: Bundled framework data (EQF, PRK), written by this project with its sources (see each file).
BUNDLED_DIR = Path(__file__).resolve().parents[2] / "config" / "frameworks"
BUNDLED = ("eqf", "prk")
LANGS = ("en", "pl")
DESCRIPTOR_COLUMNS = (
    "url",
    "name_en",
    "name_pl",
    "description_en",
    "description_pl",
    "level",
    "kind",
    "parent_code",
    "domains",
    "search_en",
    "search_pl",
)


def text(value) -> str | None:
    """Stripped text without the control characters credentials refuse (as :func:`hub.credentials.ob3.clean_text`,
    which this module cannot import: ob3 imports it); None if empty."""
    if value is None:
        return None
    return UNSAFE_CHARS.sub("", str(value)).strip() or None


def folded(*parts: str | None) -> str | None:
    """The case-folded, space-joined search text of ``parts`` (Unicode-aware, so ``Ł`` finds ``ł``)."""
    joined = " ".join(p for p in parts if p)
    return joined.casefold() or None


# -- frameworks and descriptors ------------------------------------------------------------------------


def ensure_framework(
    session: Session,
    *,
    identifier: str,
    name_en: str | None,
    name_pl: str | None = None,
    url: str,
    target_type: str | None = None,
    source: str | None = None,
) -> Framework:
    """Create the framework ``identifier`` or update its metadata (idempotent).

    Raises:
        ValidationError: empty identifier/name, non-http(s) URL, ``target_type`` not an OB 3.0
            AlignmentTargetType (``ceasn:Competency``, ``ceterms:Credential``, ``CFItem``... or ``ext:Name``).
    """
    identifier = (text(identifier) or "").lower()
    if not identifier or len(identifier) > 64 or not identifier.replace("-", "").replace("_", "").isalnum():
        raise ValidationError(
            _l("the framework identifier must be 1-64 letters, digits, '-' or '_'"), field="identifier"
        )
    english_name = text(name_en)
    if not english_name:
        raise ValidationError(_l("the framework name is required"), field="name_en")
    link = text(url) or ""
    if not link.startswith(("http://", "https://")):
        raise ValidationError(_l("the framework url must be an http(s) URL"), field="url")
    if target_type and not _valid_target_type(target_type):
        raise ValidationError(
            _l('target_type "%(value)s" is not an OB 3.0 AlignmentTargetType', value=target_type), field="target_type"
        )
    fw = session.scalar(select(Framework).where(Framework.identifier == identifier))
    if fw is None:
        fw = Framework(identifier=identifier)
        session.add(fw)
    fw.name_en, fw.name_pl, fw.url = english_name, text(name_pl), link
    fw.target_type, fw.source = target_type or None, text(source)
    session.flush()
    return fw


_TARGET_TYPES = {
    "ceasn:Competency",
    "ceterms:Credential",
    "CFItem",
    "CFRubric",
    "CFRubricCriterion",
    "CFRubricCriterionLevel",
    "CTDL",
}


def _valid_target_type(value: str) -> bool:
    # OB 3.0 AlignmentTargetType: the enumeration, or "ext:" + [A-Za-z0-9.-_]+ (the JSON Schema's pattern)
    if value in _TARGET_TYPES:
        return True
    rest = value.removeprefix("ext:")
    return rest != value and bool(rest) and all(c.isascii() and (c.isalnum() or c in ".-_") for c in rest)


def get_framework(session: Session, identifier: str) -> Framework:
    """Raises: NotFound: no framework ``identifier``."""
    fw = session.scalar(select(Framework).where(Framework.identifier == identifier))
    if fw is None:
        raise NotFound(_l('no framework "%(framework)s"', framework=identifier))
    return fw


def get_descriptor(session: Session, framework: str, code: str) -> Descriptor:
    """The descriptor ``code`` of framework ``framework`` (its identifier).

    Raises:
        NotFound: no such framework or descriptor.
    """
    d = session.scalar(
        select(Descriptor).join(Framework).where(Framework.identifier == framework, Descriptor.code == code)
    )
    if d is None:
        raise NotFound(_l('no descriptor "%(code)s" in framework "%(framework)s"', code=code, framework=framework))
    return d


def descriptor_ref(session: Session, ref: str | dict) -> Descriptor:
    """Resolve ``"framework:code"`` (``"eqf:4"``, ``"esco-skills:<uuid>"``) or ``{"framework", "code"}``.

    References come from input (a request body, a form, a CSV), so an unknown one is bad input, not a
    missing resource.

    Raises:
        ValidationError: malformed reference, or no such descriptor.
    """
    if isinstance(ref, dict):
        fw, code = ref.get("framework"), ref.get("code")
    else:
        fw, _, code = str(ref).partition(":")
    if not fw or not code:
        raise ValidationError(
            _l("the descriptor reference \"%(ref)s\" must be 'framework:code'", ref=str(ref)), field="descriptor"
        )
    try:
        return get_descriptor(session, str(fw).strip().lower(), str(code).strip())
    except NotFound as exc:
        raise ValidationError(exc.detail, field="descriptor") from None


def upsert_descriptors(session: Session, framework: Framework, rows: Sequence[dict], columns: Iterable[str]) -> None:
    """Insert or update ``rows`` (dicts with ``code`` + ``columns``) of ``framework`` in one statement.

    On a conflict on ``(framework_id, code)`` only ``columns`` are updated, so importing the Polish
    file of a framework keeps its English labels. Uses ``INSERT ... ON CONFLICT DO UPDATE`` on SQLite
    and PostgreSQL (one round trip per batch), row by row elsewhere.
    """
    if not rows:
        return
    columns = [c for c in columns if c in DESCRIPTOR_COLUMNS]
    now = utcnow()
    values = [{"framework_id": framework.id, "created_at": now, "updated_at": now, **r} for r in rows]
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        stmt = (sqlite if dialect == "sqlite" else postgresql).insert(Descriptor)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Descriptor.framework_id, Descriptor.code],
            set_={c: stmt.excluded[c] for c in [*columns, "updated_at"]},
        )
        session.execute(stmt, values)
        return
    for v in values:  # other databases: correct, slower
        d = session.scalar(select(Descriptor).filter_by(framework_id=framework.id, code=v["code"]))
        if d is None:
            session.add(Descriptor(**v))
        else:
            for c in columns:
                setattr(d, c, v.get(c))
    session.flush()


def load_framework_document(session: Session, doc: dict, *, where: str = "document") -> tuple[Framework, int]:
    """Create or update a framework from the JSON shape of the bundled files (and of custom imports):

    ``{"identifier", "name": {"en", "pl"}, "url", "target_type"?, "sources"?: [str], "descriptors":
    [{"code", "url", "name": {"en", "pl"}, "description"?: {"en", "pl"}, "level"?, "parent"?, "kind"?,
    "domains"?: {domain: {"en", "pl"}}}]}``. A descriptor without ``description`` gets its domains'
    texts joined. Returns ``(framework, descriptor count)``.

    Raises:
        ImportRefused: with one message per bad descriptor (``descriptors[i]: ...``).
    """
    from hub.frameworks.importers import ImportRefused, RowError

    if not isinstance(doc, dict) or not isinstance(doc.get("descriptors"), list):
        raise ImportRefused(_l("%(where)s: expected an object with a 'descriptors' list", where=where))
    raw_name = doc.get("name")
    name = raw_name if isinstance(raw_name, dict) else {"en": raw_name}
    sources = doc.get("sources") or doc.get("source")
    fw = ensure_framework(
        session,
        identifier=str(doc.get("identifier") or ""),
        name_en=name.get("en") or name.get("pl"),
        name_pl=name.get("pl"),
        url=str(doc.get("url") or ""),
        target_type=doc.get("target_type"),
        source="\n".join(sources) if isinstance(sources, list) else sources,
    )
    domain_names = doc.get("domains") or {}
    rows: list[dict] = []
    errors: list[RowError] = []
    seen: dict = {}
    for i, item in enumerate(doc["descriptors"]):
        try:
            row = _document_row(item, domain_names)
        except ValueError as exc:
            errors.append(RowError(f"descriptors[{i}]", exc.args[0] if exc.args else str(exc)))
            continue
        if row["code"] in seen:
            first = f"descriptors[{seen[row['code']]}]"
            errors.append(
                RowError(
                    f"descriptors[{i}]", _l('duplicate code "%(code)s" (also %(other)s)', code=row["code"], other=first)
                )
            )
            continue
        seen[row["code"]] = i
        rows.append(row)
    if errors:
        raise ImportRefused(
            _l("%(where)s: invalid descriptors: %(n)s", where=where, n=number(len(errors))), errors=errors
        )
    if not rows:
        raise ImportRefused(_l("%(where)s: no descriptors", where=where))
    upsert_descriptors(session, fw, rows, DESCRIPTOR_COLUMNS)
    session.flush()
    return fw, len(rows)


def _document_row(item, domain_names: dict) -> dict:
    if not isinstance(item, dict):
        raise ValueError(_l("not an object"))
    code, url = text(item.get("code")), text(item.get("url"))
    if not code:
        raise ValueError(_l("code is required"))
    if len(code) > 255:
        raise ValueError(_l("code is longer than 255 characters"))
    if not url or not url.startswith(("http://", "https://")):
        raise ValueError(_l('the url of "%(code)s" must be an http(s) URL', code=code))
    raw_name, raw_desc = item.get("name"), item.get("description")
    name = raw_name if isinstance(raw_name, dict) else {"en": raw_name}
    desc = raw_desc if isinstance(raw_desc, dict) else {"en": raw_desc}
    if not (text(name.get("en")) or text(name.get("pl"))):
        raise ValueError(_l('the name of "%(code)s" is required (en or pl)', code=code))
    level = item.get("level")
    if level is not None and (not isinstance(level, int) or isinstance(level, bool)):
        raise ValueError(_l('the level of "%(code)s" must be a whole number', code=code))
    domains = item.get("domains") or None
    row: dict[str, Any] = {
        "code": code,
        "url": url,
        "level": level,
        "kind": text(item.get("kind")),
        "parent_code": text(item.get("parent")),
        "domains": domains,
    }
    for lang in LANGS:
        row[f"name_{lang}"] = text(name.get(lang))
        d = text(desc.get(lang))
        if d is None and isinstance(domains, dict):
            d = (
                "; ".join(
                    f"{(domain_names.get(k) or {}).get(lang, k)}: {v.get(lang)}"
                    for k, v in domains.items()
                    if isinstance(v, dict) and v.get(lang)
                )
                or None
            )
        row[f"description_{lang}"] = d
        row[f"search_{lang}"] = folded(code, row[f"name_{lang}"])
    return row


def load_bundled(session: Session, which: Iterable[str] = BUNDLED) -> dict[str, int]:
    """Load (or refresh) the bundled frameworks from ``config/frameworks/<id>.json``.

    Returns ``{identifier: descriptor count}``. Idempotent.
    """
    counts = {}
    for ident in which:
        path = BUNDLED_DIR / f"{ident}.json"
        fw, n = load_framework_document(session, json.loads(path.read_text("utf-8")), where=path.name)
        counts[fw.identifier] = n
    return counts


def ensure_bundled(session: Session) -> None:
    """Load the bundled frameworks unless they are there already (cheap check for the award path)."""
    have = set(session.scalars(select(Framework.identifier).where(Framework.identifier.in_(BUNDLED))))
    missing = [i for i in BUNDLED if i not in have]
    if missing:
        load_bundled(session, missing)


def level_descriptor(session: Session, framework: str, level: int) -> Descriptor:
    """The descriptor of ``level`` in a levels framework (``eqf``, ``prk``); loads bundled data if needed.

    Raises:
        NotFound: no such level.
    """
    if framework in BUNDLED:
        ensure_bundled(session)
    d = session.scalar(
        select(Descriptor).join(Framework).where(Framework.identifier == framework, Descriptor.level == level)
    )
    if d is None:
        raise NotFound(_l('no level %(level)s in framework "%(framework)s"', level=level, framework=framework))
    return d


#: Names people type for a framework, beyond its identifier: ERK is the Polish acronym of the EQF.
FRAMEWORK_ALIASES = {"erk": "eqf"}


def search_descriptors(
    session: Session, query: str, *, framework: str | None = None, limit: int = 20, offset: int = 0
) -> list[Descriptor]:
    """Descriptors matching ``query``, exact code matches first, then by label. ``limit`` 1-200.

    The query is ``framework:code`` (``eqf:4``, as descriptors are referenced elsewhere), or words that
    must all match (case-insensitive, Unicode-aware): a word naming a framework (its identifier, or an
    alias such as ``ERK``) narrows the search to it, any other word must be in the code or the English
    or Polish label. So ``EQF 4``, ``ERK 4``, ``level 4`` and ``poziom 4`` find EQF level 4.

    Raises:
        ValidationError: empty query.
    """
    q = folded(text(query))
    if not q:
        raise ValidationError(_l("a search query is required"), field="q")
    identifiers = set(session.scalars(select(Framework.identifier)))
    stmt = select(Descriptor).join(Framework)
    if framework:
        stmt = stmt.where(Framework.identifier == framework)
    prefix, _, code = q.partition(":")
    if code and FRAMEWORK_ALIASES.get(prefix, prefix) in identifiers:
        stmt = stmt.where(
            Framework.identifier == FRAMEWORK_ALIASES.get(prefix, prefix), func.lower(Descriptor.code) == code
        )
        return list(session.scalars(stmt.order_by(Descriptor.id).limit(min(max(limit, 1), 200))))
    words = q.split()
    for word in words:
        named = FRAMEWORK_ALIASES.get(word, word)
        if named in identifiers and len(words) > 1:
            stmt = stmt.where(Framework.identifier == named)
            continue
        like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                func.lower(Descriptor.code) == word,
                Descriptor.search_en.like(like, escape="\\"),
                Descriptor.search_pl.like(like, escape="\\"),
            )
        )
    exact = func.lower(Descriptor.code).in_(words)
    stmt = stmt.order_by(exact.desc(), Descriptor.name_en, Descriptor.id)
    return list(session.scalars(stmt.limit(min(max(limit, 1), 200)).offset(max(offset, 0))))


def descriptor_json(d: Descriptor) -> dict:
    """A descriptor as the API shows it."""
    return {
        "framework": d.framework.identifier,
        "code": d.code,
        "url": d.url,
        "name": {"en": d.name_en, "pl": d.name_pl},
        "description": {"en": d.description_en, "pl": d.description_pl},
        "level": d.level,
        "kind": d.kind,
        "parent": d.parent_code,
        "domains": d.domains,
    }


# -- alignments -------------------------------------------------------------------------------------


def _pick(en: str | None, pl: str | None, lang: str) -> str | None:
    return (pl or en) if lang == "pl" else (en or pl)


def alignment(d: Descriptor, lang: str = "en") -> dict:
    """The descriptor as an OB alignment dict: ``targetName``, ``targetUrl``, ``targetDescription``,
    ``targetFramework``, ``targetCode`` and ``targetType`` (OB 3.0 only; OB 2.0 drops it). ``lang``
    (``en``/``pl``) picks the label, falling back to the other language."""
    fw = d.framework
    out = {
        "targetName": _pick(d.name_en, d.name_pl, lang),
        "targetUrl": d.url,
        "targetDescription": _pick(d.description_en, d.description_pl, lang),
        "targetFramework": _pick(fw.name_en, fw.name_pl, lang),
        "targetCode": d.code,
        "targetType": fw.target_type,
    }
    return {k: v for k, v in out.items() if v}


def credential_language(session: Session, badge: BadgeClass) -> str:
    """The language the badge class's credentials are written in: ``AchievementDetails.in_language``
    (``pl``/``en``, BCP 47 primary subtag), default ``en``."""
    lang = session.scalar(select(AchievementDetails.in_language).where(AchievementDetails.badge_class_id == badge.id))
    return "pl" if (lang or "").lower().split("-")[0] == "pl" else "en"


def outcomes_of(session: Session, badge: BadgeClass) -> list[LearningOutcome]:
    """The badge class's learning outcomes in order."""
    return list(
        session.scalars(
            select(LearningOutcome)
            .where(LearningOutcome.badge_class_id == badge.id)
            .order_by(LearningOutcome.position, LearningOutcome.id)
        )
    )


def level_descriptors(session: Session, badge: BadgeClass) -> list[Descriptor]:
    """EQF and PRK level descriptors stated by the badge class's micro-credential description."""
    mc = session.scalar(select(MicroCredentialDescription).filter_by(badge_class_id=badge.id))
    out = []
    if mc is not None:
        for fw, level in (("eqf", mc.eqf_level), ("prk", mc.prk_level)):
            if level:
                out.append(level_descriptor(session, fw, level))
    return out


def badge_alignments(session: Session, badge: BadgeClass) -> list[dict]:
    """Every alignment of a badge class, deduplicated by ``targetUrl``: its static ``alignments``, the
    EQF/PRK levels of its micro-credential description, then its learning outcomes' descriptors."""
    lang = credential_language(session, badge)
    found = [dict(a) for a in badge.alignments or []]
    found += [alignment(d, lang) for d in level_descriptors(session, badge)]
    for outcome in outcomes_of(session, badge):
        found += [alignment(d, lang) for d in outcome.descriptors]
    seen, out = set(), []
    for a in found:
        if a.get("targetUrl") in seen:
            continue
        seen.add(a.get("targetUrl"))
        out.append(a)
    return out


def achieved_alignments(session: Session, assertion: Assertion) -> list[dict]:
    """Alignments of the descriptors this award achieved (from the platform's outcomes), in order."""
    lang = credential_language(session, assertion.badge_class)
    rows = session.scalars(
        select(AchievedAlignment).where(AchievedAlignment.assertion_id == assertion.id).order_by(AchievedAlignment.id)
    )
    return [alignment(r.descriptor, lang) for r in rows]


def grade_of(session: Session, assertion: Assertion) -> str | None:
    """The grade recorded for this award, if any."""
    return session.scalar(select(AwardGrade.grade).where(AwardGrade.assertion_id == assertion.id))


# -- learning outcomes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeInput:
    """A learning outcome to set: texts (at least one) and descriptor references (``"eqf:4"``...)."""

    text_en: str | None = None
    text_pl: str | None = None
    descriptors: tuple[str, ...] = ()


def set_learning_outcomes(session: Session, badge: BadgeClass, outcomes: Iterable[OutcomeInput | dict]) -> list:
    """Replace the badge class's learning outcomes. Dicts take ``{"text": {"en", "pl"} | str (English),
    "descriptors": [...]}`` or the :class:`OutcomeInput` fields.

    Raises:
        ValidationError: an outcome with no text, or over 5,000 characters; NotFound: unknown descriptor.
    """
    items = []
    for i, o in enumerate(outcomes):
        if isinstance(o, dict):
            raw_text = o.get("text")
            texts = raw_text if isinstance(raw_text, dict) else {"en": raw_text} if raw_text else {}
            o = OutcomeInput(
                text_en=texts.get("en", o.get("text_en")),
                text_pl=texts.get("pl", o.get("text_pl")),
                descriptors=tuple(o.get("descriptors") or ()),
            )
        en, pl = text(o.text_en), text(o.text_pl)
        if not (en or pl):
            raise ValidationError(_l("learning outcome %(n)s has no text", n=i + 1), field=f"outcomes[{i}]")
        if len(en or "") > 5000 or len(pl or "") > 5000:
            raise ValidationError(
                _l("learning outcome %(n)s is longer than %(limit)s characters", n=i + 1, limit=number(5000)),
                field=f"outcomes[{i}]",
            )
        descriptors = []
        for ref in o.descriptors:
            d = descriptor_ref(session, ref)
            if d not in descriptors:
                descriptors.append(d)
        items.append(
            LearningOutcome(badge_class_id=badge.id, position=i, text_en=en, text_pl=pl, descriptors=descriptors)
        )
    for old in outcomes_of(session, badge):
        session.delete(old)
    session.flush()
    session.add_all(items)
    session.flush()
    return items


def outcome_json(o: LearningOutcome) -> dict:
    return {
        "text": {"en": o.text_en, "pl": o.text_pl},
        "descriptors": [f"{d.framework.identifier}:{d.code}" for d in o.descriptors],
    }


# -- platform outcome mapping and awards ----------------------------------------------------------------


def map_outcome(session: Session, connector_id: int | None, outcome_key: str, descriptor: Descriptor) -> OutcomeMapping:
    """Map a platform outcome key (Moodle competency idnumber, LTI custom parameter value, webhook field
    value) of one connector (``None``: every connector) to ``descriptor``. Idempotent.

    Raises:
        ValidationError: empty key or longer than 255 characters.
    """
    key = text(outcome_key)
    if not key or len(key) > 255:
        raise ValidationError(_l("the outcome key must be 1-255 characters"), field="outcome_key")
    row = session.scalar(
        select(OutcomeMapping).filter_by(connector_id=connector_id, outcome_key=key, descriptor_id=descriptor.id)
    )
    if row is None:
        row = OutcomeMapping(connector_id=connector_id, outcome_key=key, descriptor=descriptor)
        session.add(row)
        session.flush()
    return row


def unmap_outcome(session: Session, connector_id: int | None, outcome_key: str) -> int:
    """Remove every mapping of ``outcome_key`` for the connector. Returns how many were removed."""
    rows = session.scalars(select(OutcomeMapping).filter_by(connector_id=connector_id, outcome_key=outcome_key)).all()
    for r in rows:
        session.delete(r)
    session.flush()
    return len(rows)


def resolve_outcomes(session: Session, connector_id: int | None, keys: Iterable[str]) -> list[tuple[str, Descriptor]]:
    """``(outcome key, descriptor)`` for every mapped key, the connector's mappings and the global ones;
    unmapped keys are skipped (logged at debug level)."""
    keys = [k for k in dict.fromkeys(text(k) for k in keys) if k]
    if not keys:
        return []
    conds: list[ColumnElement[bool]] = [OutcomeMapping.connector_id.is_(None)]
    if connector_id is not None:
        conds.append(OutcomeMapping.connector_id == connector_id)
    rows = session.scalars(
        select(OutcomeMapping).where(OutcomeMapping.outcome_key.in_(keys), or_(*conds)).order_by(OutcomeMapping.id)
    ).all()
    by_key: dict[str, list[Descriptor]] = {}
    for r in rows:
        by_key.setdefault(r.outcome_key, []).append(r.descriptor)
    out = []
    for k in keys:
        if k not in by_key:
            log.debug("unmapped platform outcome", extra={"outcome_key": k, "connector_id": connector_id})
        out += [(k, d) for d in by_key.get(k, [])]
    return out


def record_award(
    session: Session, assertion: Assertion, *, connector_id: int | None, outcomes: Iterable[str] = (), grade=None
) -> list[AchievedAlignment]:
    """Store what one award achieved: the descriptors its platform ``outcomes`` map to, and its ``grade``.

    Called by :func:`hub.badges.services.award` inside the award's transaction, before signing.

    Raises:
        ValidationError: a grade longer than 255 characters.
    """
    grade = text(grade)
    if grade and len(grade) > 255:
        raise ValidationError(_l("the grade is longer than 255 characters"), field="grade")
    rows, seen = [], set()
    for key, d in resolve_outcomes(session, connector_id, outcomes):
        if d.id in seen:
            continue
        seen.add(d.id)
        rows.append(AchievedAlignment(assertion_id=assertion.id, descriptor_id=d.id, outcome_key=key))
    session.add_all(rows)
    if grade:
        session.add(AwardGrade(assertion_id=assertion.id, grade=grade))
    session.flush()
    return rows
