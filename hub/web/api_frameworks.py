"""JSON API for frameworks, descriptors, learning outcomes, outcome mappings and micro-credentials
(``/api/v1/frameworks...``). Same bearer authentication as :mod:`hub.web.api`; errors are RFC 9457
problem JSON (an import refusal lists ``errors: [{"where": "line N", "message"}]``).

Register with ``app.register_blueprint(hub.web.api_frameworks.bp)``; registering it also gives the
public templates the ``framework_facts`` helper (:func:`hub.frameworks.views.init_app`).

Endpoints:
- ``GET  /api/v1/frameworks``: frameworks with descriptor counts.
- ``POST /api/v1/frameworks/bundled``: load or refresh the bundled EQF and PRK levels.
- ``POST /api/v1/frameworks/import/esco?kind=skills|occupations&language=en|pl``: body = the ESCO CSV
  file (streamed; up to :data:`MAX_IMPORT_BYTES`).
- ``POST /api/v1/frameworks/import?identifier=&name_en=&name_pl=&url=&target_type=``: body = custom CSV;
  with ``Content-Type: application/json``, the JSON format (metadata inside).
- ``GET  /api/v1/frameworks/descriptors?q=&framework=&limit=&offset=``: search by code or label (en/pl).
- ``GET  /api/v1/frameworks/<identifier>/descriptors/<code>``: one descriptor.
- ``GET|PUT /api/v1/frameworks/badges/<badge_id>/outcomes``: ``[{"text": {"en", "pl"}, "descriptors": ["eqf:4"]}]``.
- ``GET|PUT /api/v1/frameworks/badges/<badge_id>/micro-credential``: the Annex I description
  (:func:`hub.frameworks.microcredentials.describe`); GET adds ``missing`` and ``missing_names`` (in the
  request's language).
- ``GET|POST /api/v1/frameworks/mappings``, ``DELETE /api/v1/frameworks/mappings?connector=&outcome_key=``:
  platform outcome key -> descriptor (``{"connector": slug|null, "outcome_key", "descriptor": "fw:code"}``).
"""

from __future__ import annotations

from flask import Blueprint, request
from sqlalchemy import func, select

from hub.badges.models import BadgeClass
from hub.badges.services import get_by_public_id
from hub.connections.models import ConnectorConfig
from hub.errors import BadRequest, NotFound, ValidationError
from hub.frameworks import importers, microcredentials
from hub.frameworks import services as fw
from hub.frameworks.models import Descriptor, Framework, OutcomeMapping
from hub.web import db_session
from hub.web.api import _authenticate

bp = Blueprint("api_v1_frameworks", __name__, url_prefix="/api/v1/frameworks")
bp.before_request(_authenticate)

#: Largest accepted import body (the ESCO skills file of one language is ~30 MB).
MAX_IMPORT_BYTES = 256 * 1024 * 1024


@bp.record_once
def _templates(state) -> None:
    from hub.frameworks.views import init_app

    init_app(state.app)


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
def list_frameworks():
    session = db_session()
    counts = dict(
        session.execute(select(Descriptor.framework_id, func.count()).group_by(Descriptor.framework_id)).all()
    )
    rows = session.scalars(select(Framework).order_by(Framework.identifier))
    return {"items": [_framework_json(f, counts.get(f.id, 0)) for f in rows]}


@bp.post("/bundled")
def load_bundled():
    session = db_session()
    counts = fw.load_bundled(session)
    session.commit()
    return {"loaded": counts}


def _import_stream():
    request.max_content_length = MAX_IMPORT_BYTES
    return request.stream


@bp.post("/import/esco")
def import_esco():
    """Import one ESCO CSV file (body). Query: ``kind`` (skills|occupations), ``language`` (en|pl)."""
    session = db_session()
    result = importers.import_esco(
        session, _import_stream(), kind=request.args.get("kind", ""), language=request.args.get("language", "")
    )
    session.commit()
    return {"framework": result.framework, "rows": result.rows, "language": result.language}


@bp.post("/import")
def import_custom():
    """Import a custom framework: CSV body with metadata in the query, or a JSON body."""
    session = db_session()
    if request.mimetype == "application/json":
        result = importers.import_custom_json(session, _import_stream())
    else:
        a = request.args
        result = importers.import_custom_csv(
            session,
            _import_stream(),
            identifier=a.get("identifier", ""),
            name_en=a.get("name_en", ""),
            name_pl=a.get("name_pl"),
            url=a.get("url", ""),
            target_type=a.get("target_type"),
        )
    session.commit()
    return {"framework": result.framework, "rows": result.rows}


@bp.get("/descriptors")
def search():
    try:
        limit, offset = int(request.args.get("limit", 20)), int(request.args.get("offset", 0))
    except ValueError:
        raise ValidationError("limit and offset must be numbers", field="limit") from None
    found = fw.search_descriptors(
        db_session(), request.args.get("q", ""), framework=request.args.get("framework"), limit=limit, offset=offset
    )
    return {"items": [fw.descriptor_json(d) for d in found]}


@bp.get("/<identifier>/descriptors/<path:code>")
def descriptor(identifier: str, code: str):
    return fw.descriptor_json(fw.get_descriptor(db_session(), identifier, code))


def _body() -> dict | list:
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("the body must be JSON")
    return data


@bp.get("/badges/<badge_id>/outcomes")
def get_outcomes(badge_id: str):
    session = db_session()
    badge = get_by_public_id(session, BadgeClass, badge_id)
    return {"items": [fw.outcome_json(o) for o in fw.outcomes_of(session, badge)]}


@bp.put("/badges/<badge_id>/outcomes")
def put_outcomes(badge_id: str):
    session = db_session()
    badge = get_by_public_id(session, BadgeClass, badge_id)
    body = _body()
    items = body.get("items") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ValidationError('expected a list of outcomes (or {"items": [...]})', field="items")
    fw.set_learning_outcomes(session, badge, items)
    session.commit()
    return get_outcomes(badge_id)


def _micro_json(session, badge) -> dict:
    doc = microcredentials.description_json(session, badge)
    doc["missing_names"] = [str(microcredentials.MANDATORY[k]) for k in doc["missing"]]
    return doc


@bp.get("/badges/<badge_id>/micro-credential")
def get_micro(badge_id: str):
    session = db_session()
    return _micro_json(session, get_by_public_id(session, BadgeClass, badge_id))


@bp.put("/badges/<badge_id>/micro-credential")
def put_micro(badge_id: str):
    session = db_session()
    badge = get_by_public_id(session, BadgeClass, badge_id)
    body = _body()
    if not isinstance(body, dict):
        raise ValidationError("expected an object", field="body")
    microcredentials.describe(session, badge, body)
    session.commit()
    return _micro_json(session, badge)


def _connector_id(session, slug: str | None) -> int | None:
    if not slug:
        return None
    cid = session.scalar(select(ConnectorConfig.id).where(ConnectorConfig.slug == slug))
    if cid is None:
        raise NotFound(f"no connector {slug!r}")
    return cid


def _mapping_json(m: OutcomeMapping, slugs: dict) -> dict:
    d = m.descriptor
    return {
        "connector": slugs.get(m.connector_id),
        "outcome_key": m.outcome_key,
        "descriptor": f"{d.framework.identifier}:{d.code}",
    }


@bp.get("/mappings")
def list_mappings():
    session = db_session()
    slugs = dict(session.execute(select(ConnectorConfig.id, ConnectorConfig.slug)).all())
    query = select(OutcomeMapping).order_by(OutcomeMapping.outcome_key, OutcomeMapping.id)
    if slug := request.args.get("connector"):
        query = query.where(OutcomeMapping.connector_id == _connector_id(session, slug))
    return {"items": [_mapping_json(m, slugs) for m in session.scalars(query)]}


@bp.post("/mappings")
def add_mapping():
    session = db_session()
    body = _body()
    if not isinstance(body, dict):
        raise ValidationError("expected an object", field="body")
    cid = _connector_id(session, body.get("connector"))
    m = fw.map_outcome(
        session, cid, str(body.get("outcome_key") or ""), fw.descriptor_ref(session, body.get("descriptor") or "")
    )
    session.commit()
    return _mapping_json(m, {cid: body.get("connector")}), 201


@bp.delete("/mappings")
def delete_mapping():
    session = db_session()
    removed = fw.unmap_outcome(
        session, _connector_id(session, request.args.get("connector")), request.args.get("outcome_key", "")
    )
    session.commit()
    return {"removed": removed}
