"""JSON API for frameworks, descriptors, learning outcomes, outcome mappings and micro-credentials
(``/api/v1/frameworks...``), a flask-smorest blueprint in the hub's OpenAPI document
(``/api/v1/openapi.json``), authenticated like :mod:`hub.web.api` (bearer tokens, ``HUB_ADMIN_TOKEN``).
Errors are RFC 9457 problem JSON (an import refusal lists ``errors: [{"where": "line N", "message"}]``).

Mounted by ``create_app`` with :func:`hub.web.api.mount`; registering it also gives the public
templates the ``framework_facts`` helper (:func:`hub.web.framework_facts.init_app`).

Who may do what: everyone signed in reads frameworks and descriptors; site administrators load and
import frameworks (they are shared by every issuer); a badge class's outcomes and micro-credential
description are read with ``view`` and changed with ``configure`` at its issuer; a connector's outcome
mappings need ``configure`` at the connector's issuer, mappings for every connector a site administrator.

Endpoints:
- ``GET  /api/v1/frameworks``: frameworks with descriptor counts.
- ``POST /api/v1/frameworks/bundled``: load or refresh the bundled EQF and PRK levels.
- ``POST /api/v1/frameworks/import/esco?kind=skills|occupations&language=en|pl``: body = the ESCO CSV
  file (streamed, never read whole; up to :data:`MAX_IMPORT_BYTES`).
- ``POST /api/v1/frameworks/import?identifier=&name_en=&name_pl=&url=&target_type=``: body = custom CSV
  (streamed); with ``Content-Type: application/json``, the JSON format (metadata inside).
- ``GET  /api/v1/frameworks/descriptors?q=&framework=&limit=&offset=``: search by code or label (en/pl).
- ``GET  /api/v1/frameworks/<identifier>/descriptors/<code>``: one descriptor.
- ``GET|PUT /api/v1/frameworks/badges/<badge_id>/outcomes``: ``[{"text": {"en", "pl"}, "descriptors": ["eqf:4"]}]``.
- ``GET|PUT /api/v1/frameworks/badges/<badge_id>/micro-credential``: the Annex I description
  (:func:`hub.frameworks.microcredentials.describe`); answers add ``missing`` and ``missing_names`` (in
  the request's language).
- ``GET|POST /api/v1/frameworks/mappings``, ``DELETE /api/v1/frameworks/mappings?connector=&outcome_key=``:
  platform outcome key -> descriptor (``{"connector": slug|null, "outcome_key", "descriptor": "fw:code"}``).
"""

from __future__ import annotations

from flask import request
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import ValidationError as SchemaError
from marshmallow import fields, pre_load, validate
from sqlalchemy import func, or_, select

from hub.accounts.access import CONFIGURE, VIEW
from hub.badges.models import BadgeClass
from hub.connections.models import ConnectorConfig
from hub.context import current_context
from hub.errors import NotFound
from hub.frameworks import importers, microcredentials
from hub.frameworks import services as fw
from hub.frameworks.models import Descriptor, Framework, OutcomeMapping
from hub.i18n import lazy as _l
from hub.operations import actions
from hub.schemas import NO_NUL, Pattern
from hub.web import db_session
from hub.web.admin.scoping import load, scope
from hub.web.api import Base, Opt, Text, me

bp = ApiBlueprint(
    "api_v1_frameworks",
    __name__,
    url_prefix="/api/v1/frameworks",
    description="Qualifications frameworks (EQF, PRK, ESCO, custom), learning outcomes, EU micro-credentials",
)

#: Largest accepted import body (the ESCO skills file of one language is ~30 MB).
MAX_IMPORT_BYTES = 256 * 1024 * 1024
BINARY = {"type": "string", "format": "binary"}
#: A descriptor reference, ``framework:code`` (:func:`hub.frameworks.services.descriptor_ref`).
DESCRIPTOR = "^[^:\\u0000]+:[^\\u0000]+$"
LANG_TEXT = {"type": "string", "maxLength": 5000, "pattern": NO_NUL}
LANG_MAP = {
    "type": "object",
    "properties": {
        "en": {"type": ["string", "null"], "maxLength": 5000, "pattern": NO_NUL},
        "pl": {"type": ["string", "null"], "maxLength": 5000, "pattern": NO_NUL},
    },
    "additionalProperties": False,
}


@bp.record_once
def _templates(state) -> None:
    from hub.web.framework_facts import init_app

    init_app(state.app)


# ---- schemas -------------------------------------------------------------------------------------------


def _lang_text(value) -> None:
    """Valid: text (English), ``{"en": text|null, "pl": text|null}`` or null, each text at most 5,000
    characters without NUL (:data:`LANG_MAP`; the services read it, :func:`hub.frameworks.microcredentials`)."""
    texts = list(value.values()) if isinstance(value, dict) else [value]  # other keys: the services refuse them
    if not isinstance(value, str | dict) or not all(t is None or isinstance(t, str) for t in texts):
        raise SchemaError("Not text or an object with 'en' and/or 'pl' texts.")
    if any(t is not None and (len(t) > 5000 or "\x00" in t) for t in texts):
        raise SchemaError("Text longer than 5000 characters, or with NUL.")


def LangText(**kw):  # noqa: N802  (a field factory, named like the fields it makes)
    """Text in one language (English), or ``{"en": ..., "pl": ...}``, or null (:func:`_lang_text`)."""
    return fields.Raw(
        allow_none=True, validate=_lang_text, metadata={"oneOf": [LANG_TEXT, LANG_MAP, {"type": "null"}]}, **kw
    )


class LangPair(Base):
    en = Text(allow_none=True)
    pl = Text(allow_none=True)


class FrameworkOut(Base):
    identifier = Text()
    name = fields.Nested(LangPair)
    url = Text()
    target_type = Text(allow_none=True, metadata={"description": "OB 3.0 Alignment.targetType of its descriptors"})
    source = Text(allow_none=True)
    descriptors = fields.Integer(metadata={"description": "how many descriptors it has"})


class FrameworkList(Base):
    items = fields.List(fields.Nested(FrameworkOut))


class BundledOut(Base):
    loaded = fields.Dict(keys=Text(), values=fields.Integer(), metadata={"description": "identifier: descriptors"})


class EscoArgs(Base):
    kind = Text(required=True, validate=validate.OneOf(("skills", "occupations")))
    language = Text(required=True, validate=validate.OneOf(fw.LANGS))


class CustomImportArgs(Base):
    identifier = Text(metadata={"description": "CSV only: the framework's slug (`a-z`, digits, `-`, `_`)"})
    name_en = Text(metadata={"description": "CSV only"})
    name_pl = Text(**Opt)
    url = Text(metadata={"description": "CSV only: the framework's http(s) URL"})
    target_type = Text(**Opt, metadata={"description": "OB 3.0 AlignmentTargetType (`ceasn:Competency`, `ext:...`)"})


class ImportOut(Base):
    framework = Text()
    rows = fields.Integer()
    language = Text(allow_none=True)


class DescriptorArgs(Base):
    q = Text(required=True, validate=validate.Length(1, 500), metadata={"description": "part of a code or label"})
    framework = Text(**Opt, validate=validate.Length(max=64), metadata={"description": "framework identifier"})
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 200))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 100_000))


class DescriptorOut(Base):
    framework = Text()
    code = Text()
    url = Text()
    name = fields.Nested(LangPair)
    description = fields.Nested(LangPair)
    level = fields.Integer(allow_none=True)
    kind = Text(allow_none=True)
    parent = Text(allow_none=True)
    domains = fields.Dict(allow_none=True, metadata={"description": 'per domain: {"en", "pl"} (framework levels)'})


class DescriptorList(Base):
    items = fields.List(fields.Nested(DescriptorOut))


class LearningOutcomeIn(Base):
    text = LangText()
    text_en = Text(allow_none=True)
    text_pl = Text(allow_none=True)
    descriptors = fields.List(
        Text(validate=Pattern(DESCRIPTOR), metadata={"pattern": DESCRIPTOR}),
        validate=validate.Length(max=100),
        metadata={"description": '"framework:code"'},
    )


class LearningOutcomeOut(Base):
    text = fields.Nested(LangPair)
    descriptors = fields.List(Text())


class LearningOutcomesIn(Base):
    """``{"items": [...]}``, or the list of outcomes itself."""

    accepts_list = True
    items = fields.List(fields.Nested(LearningOutcomeIn), required=True, validate=validate.Length(max=100))

    @pre_load(pass_collection=True)
    def _bare_list(self, data, **_kw):
        return {"items": data} if isinstance(data, list) else data


class LearningOutcomesOut(Base):
    items = fields.List(fields.Nested(LearningOutcomeOut))


AWARDING_BODY = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": NO_NUL},
        "url": {"type": "string", "pattern": NO_NUL},
        "country": {"type": "string", "pattern": NO_NUL},
    },
    "required": ["name"],
}


AMOUNT = {
    "minimum": 0.01,
    "maximum": 10_000,
    "multipleOf": 0.01,
    "description": "at most two decimal places, from 0.01 to 10,000 (portable in every JSON-LD processor)",
}


def _awarding_body(value) -> None:
    """Valid: a name, or ``{"name", "url"?, "country"?}`` of texts (:data:`AWARDING_BODY`; the services check
    the rest)."""
    texts = [value] if isinstance(value, str) else list(value.values()) if isinstance(value, dict) else [None]
    if not all(isinstance(t, str) for t in texts):  # a missing name: the services say which body
        raise SchemaError("Not a name or an object with a text name (and url, country).")


def _choice(values, **kw):
    return Text(allow_none=True, metadata={"enum": [*values, None]}, **kw)


class MicroCredentialIn(Base):
    """The Annex I elements (2022/C 243/02); keys left out keep their value. Values are checked by
    :func:`hub.frameworks.microcredentials.describe` (422 naming the ``field``)."""

    # The portable form of a credential's numbers (hub.credentials.numbers): at most two decimals, 0.01-10,000.
    ects = fields.Float(allow_none=True, metadata=AMOUNT)
    workload_hours = fields.Float(allow_none=True, metadata=AMOUNT)
    issuer_country = Text(allow_none=True, metadata={"description": "ISO 3166-1 alpha-2 (PL)"})
    issuer_region = Text(allow_none=True)
    awarding_bodies = fields.List(
        fields.Raw(validate=_awarding_body, metadata={"oneOf": [{"type": "string", "pattern": NO_NUL}, AWARDING_BODY]})
    )
    eqf_level = fields.Integer(allow_none=True, metadata={"minimum": 1, "maximum": 8})
    prk_level = fields.Integer(allow_none=True, metadata={"minimum": 1, "maximum": 8, "description": "= eqf_level"})
    qf_ehea_cycle = _choice(microcredentials.QF_EHEA_CYCLES)
    participation_form = _choice(microcredentials.PARTICIPATION_FORMS)
    supervision = _choice(microcredentials.SUPERVISION)
    stackability = _choice(microcredentials.STACKABILITY)
    stackable_towards = Text(allow_none=True)
    assessment_type = LangText()
    quality_assurance = LangText()
    prerequisites = LangText()
    grading_scheme = LangText()
    further_information = LangText()
    in_language = Text(allow_none=True, metadata={"description": "BCP 47 (pl, en) of the credential's texts"})
    learning_outcomes = fields.List(fields.Nested(LearningOutcomeIn), validate=validate.Length(max=100))


class MicroCredentialOut(Base):
    micro_credential = fields.Boolean(metadata={"description": "achievementType is MicroCredential"})
    ects = fields.Float(allow_none=True)
    workload_hours = fields.Float(allow_none=True)
    issuer_country = Text(allow_none=True)
    issuer_region = Text(allow_none=True)
    awarding_bodies = fields.List(fields.Dict())
    eqf_level = fields.Integer(allow_none=True)
    prk_level = fields.Integer(allow_none=True)
    qf_ehea_cycle = Text(allow_none=True)
    participation_form = Text(allow_none=True)
    supervision = Text(allow_none=True)
    stackability = Text(allow_none=True)
    stackable_towards = Text(allow_none=True)
    assessment_type = fields.Nested(LangPair, allow_none=True)
    quality_assurance = fields.Nested(LangPair, allow_none=True)
    prerequisites = fields.Nested(LangPair, allow_none=True)
    grading_scheme = fields.Nested(LangPair, allow_none=True)
    further_information = fields.Nested(LangPair, allow_none=True)
    in_language = Text(allow_none=True)
    learning_outcomes = fields.List(fields.Nested(LearningOutcomeOut))
    missing = fields.List(Text(), metadata={"description": "mandatory elements still absent (keys)"})
    missing_names = fields.List(Text(), metadata={"description": "the same, named in the request's language"})


class MappingIn(Base):
    connector = Text(**Opt, metadata={"description": "connector slug; null: every connector (site admins)"})
    outcome_key = Text(required=True, metadata={"description": "the platform's outcome key (1-255 characters)"})
    descriptor = Text(
        required=True, validate=Pattern(DESCRIPTOR), metadata={"pattern": DESCRIPTOR, "description": '"framework:code"'}
    )


class MappingOut(Base):
    connector = Text(allow_none=True)
    outcome_key = Text()
    descriptor = Text()


class MappingList(Base):
    items = fields.List(fields.Nested(MappingOut))


class MappingArgs(Base):
    connector = Text(**Opt, metadata={"description": "connector slug"})


class MappingDeleteArgs(MappingArgs):
    outcome_key = Text(required=True)


class RemovedOut(Base):
    removed = fields.Integer()


# ---- frameworks and descriptors ------------------------------------------------------------------------


def _framework_json(f: Framework, count: int) -> dict:
    return {
        "identifier": f.identifier,
        "name": {"en": f.name_en, "pl": f.name_pl},
        "url": f.url,
        "target_type": f.target_type,
        "source": f.source,
        "descriptors": count,
    }


@bp.get("")
@bp.response(200, FrameworkList)
def list_frameworks():
    """Every framework with its number of descriptors."""
    session = db_session()
    counts = dict(
        session.execute(select(Descriptor.framework_id, func.count()).group_by(Descriptor.framework_id)).all()
    )
    rows = session.scalars(select(Framework).order_by(Framework.identifier))
    return {"items": [_framework_json(f, counts.get(f.id, 0)) for f in rows]}


@bp.post("/bundled")
@bp.response(200, BundledOut)
def load_bundled():
    """Load or refresh the bundled EQF and PRK levels (site administrators)."""
    session = db_session()
    counts = actions.import_framework(session, me(), "bundled", lambda: fw.load_bundled(session))
    session.flush()
    return {"loaded": counts}


def _import_stream():
    """The request body as a stream: imports read it line by line, never whole."""
    request.max_content_length = MAX_IMPORT_BYTES
    return request.stream


@bp.post("/import/esco")
@bp.arguments(EscoArgs, location="query")
@bp.doc(requestBody={"required": True, "content": {"text/csv": {"schema": BINARY}}})
@bp.response(200, ImportOut)
def import_esco(args):
    """Import one ESCO CSV file (site administrators): the body is the file as ESCO publishes it
    (`skills_en.csv`, `occupations_pl.csv`...), streamed; re-importing updates."""
    session = db_session()
    result = actions.import_framework(
        session,
        me(),
        "esco",
        lambda: importers.import_esco(session, _import_stream(), kind=args["kind"], language=args["language"]),
    )
    session.flush()
    return {"framework": result.framework, "rows": result.rows, "language": result.language}


@bp.post("/import")
@bp.arguments(CustomImportArgs, location="query")
@bp.doc(
    requestBody={
        "required": True,
        "description": "CSV (columns code, url, name_en, name_pl, description_en, description_pl, level, parent, "
        "kind) with the metadata in the query, or the JSON format with the metadata inside",
        "content": {"text/csv": {"schema": BINARY}, "application/json": {"schema": {"type": "object"}}},
    }
)
@bp.response(200, ImportOut)
def import_custom(args):
    """Import a custom framework (site administrators), streamed."""
    session = db_session()
    if request.mimetype == "application/json":
        result = actions.import_framework(
            session, me(), "json", lambda: importers.import_custom_json(session, _import_stream())
        )
    else:
        result = actions.import_framework(
            session,
            me(),
            "csv",
            lambda: importers.import_custom_csv(
                session,
                _import_stream(),
                identifier=args.get("identifier") or "",
                name_en=args.get("name_en") or "",
                name_pl=args.get("name_pl"),
                url=args.get("url") or "",
                target_type=args.get("target_type"),
            ),
        )
    session.flush()
    return {"framework": result.framework, "rows": result.rows}


@bp.get("/descriptors")
@bp.arguments(DescriptorArgs, location="query")
@bp.response(200, DescriptorList)
def search(args):
    """Descriptors whose code or English or Polish label contains `q` (case-insensitive); exact codes first."""
    found = fw.search_descriptors(
        db_session(), args["q"], framework=args.get("framework"), limit=args["limit"], offset=args["offset"]
    )
    return {"items": [fw.descriptor_json(d) for d in found]}


@bp.get("/<identifier>/descriptors/<path:code>")
@bp.response(200, DescriptorOut)
def descriptor(identifier: str, code: str):
    """One descriptor by framework identifier and code (`eqf/descriptors/4`)."""
    if "\x00" in identifier + code:  # PostgreSQL text cannot hold NUL: no such descriptor
        raise NotFound(_l('no descriptor "%(code)s" in framework "%(framework)s"', code=code, framework=identifier))
    return fw.descriptor_json(fw.get_descriptor(db_session(), identifier, code))


# ---- badge classes: outcomes and micro-credential ------------------------------------------------------


def _outcomes(session, badge) -> dict:
    return {"items": [fw.outcome_json(o) for o in fw.outcomes_of(session, badge)]}


@bp.get("/badges/<badge_id>/outcomes")
@bp.response(200, LearningOutcomesOut)
def get_outcomes(badge_id: str):
    """The badge class's learning outcomes, in order."""
    session = db_session()
    return _outcomes(session, load(session, me(), BadgeClass, badge_id, VIEW))


@bp.put("/badges/<badge_id>/outcomes")
@bp.arguments(LearningOutcomesIn, description='{"items": [...]}, or the list itself')
@bp.response(200, LearningOutcomesOut)
def put_outcomes(body, badge_id: str):
    """Replace the badge class's learning outcomes (issuer administrators)."""
    session = db_session()
    badge = load(session, me(), BadgeClass, badge_id, CONFIGURE, write=True)
    actions.set_learning_outcomes(session, me(), badge, body["items"], current_context())
    session.flush()
    return _outcomes(session, badge)


def _micro_json(session, badge) -> dict:
    doc = microcredentials.description_json(session, badge)
    doc["missing_names"] = [str(microcredentials.MANDATORY[k]) for k in doc["missing"]]
    return doc


@bp.get("/badges/<badge_id>/micro-credential")
@bp.response(200, MicroCredentialOut)
def get_micro(badge_id: str):
    """The badge class's EU micro-credential description and what it still lacks."""
    session = db_session()
    return _micro_json(session, load(session, me(), BadgeClass, badge_id, VIEW))


@bp.put("/badges/<badge_id>/micro-credential")
@bp.arguments(MicroCredentialIn)
@bp.response(200, MicroCredentialOut)
def put_micro(body, badge_id: str):
    """Make the badge class an EU micro-credential, or change its description (issuer administrators).
    Completeness is checked when a badge is issued, so the description may be saved in steps."""
    session = db_session()
    badge = load(session, me(), BadgeClass, badge_id, CONFIGURE, write=True)
    outcomes = body.pop("learning_outcomes", None)
    if outcomes is not None:
        actions.set_learning_outcomes(session, me(), badge, outcomes, current_context())
    actions.describe_micro_credential(session, me(), badge, body, current_context())
    session.flush()
    return _micro_json(session, badge)


# ---- platform outcome mappings -------------------------------------------------------------------------


def _connector(session, slug: str | None, ability: str = CONFIGURE) -> ConnectorConfig | None:
    """The connector with ``slug`` if the caller may configure it (None for no slug)."""
    if not slug:
        return None
    row = session.scalar(select(ConnectorConfig).where(ConnectorConfig.slug == slug))
    if row is None or not (me().site_admin or me().may(row.issuer_id, ability)):
        raise NotFound(_l('no connector "%(slug)s"', slug=slug))
    return row


def _mapping_json(m: OutcomeMapping, slugs: dict) -> dict:
    d = m.descriptor
    return {
        "connector": slugs.get(m.connector_id),
        "outcome_key": m.outcome_key,
        "descriptor": f"{d.framework.identifier}:{d.code}",
    }


@bp.get("/mappings")
@bp.arguments(MappingArgs, location="query")
@bp.response(200, MappingList)
def list_mappings(args):
    """Outcome mappings of the connectors you configure, and those for every connector."""
    session = db_session()
    mine = select(ConnectorConfig.id).where(scope(me(), ConnectorConfig, CONFIGURE))
    slugs = dict(
        session.execute(select(ConnectorConfig.id, ConnectorConfig.slug).where(ConnectorConfig.id.in_(mine))).all()
    )
    query = select(OutcomeMapping).order_by(OutcomeMapping.outcome_key, OutcomeMapping.id)
    if connector := _connector(session, args.get("connector")):
        query = query.where(OutcomeMapping.connector_id == connector.id)
    else:
        query = query.where(or_(OutcomeMapping.connector_id.is_(None), OutcomeMapping.connector_id.in_(mine)))
    return {"items": [_mapping_json(m, slugs) for m in session.scalars(query)]}


@bp.post("/mappings")
@bp.arguments(MappingIn)
@bp.response(201, MappingOut)
def add_mapping(body):
    """Map a platform outcome key (Moodle competency idnumber, LTI or webhook value) to a descriptor."""
    session = db_session()
    connector = _connector(session, body.get("connector"))
    m = actions.map_outcome(
        session, me(), connector, body["outcome_key"], fw.descriptor_ref(session, body["descriptor"])
    )
    session.flush()
    return _mapping_json(m, {m.connector_id: body.get("connector")}), 201


@bp.delete("/mappings")
@bp.arguments(MappingDeleteArgs, location="query")
@bp.response(200, RemovedOut)
def delete_mapping(args):
    """Remove every mapping of `outcome_key` for the connector (none: the mappings for every connector)."""
    session = db_session()
    removed = actions.unmap_outcome(session, me(), _connector(session, args.get("connector")), args["outcome_key"])
    session.flush()
    return {"removed": removed}
