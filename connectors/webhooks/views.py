"""``POST /hooks/<slug>``: verify the raw body, store the event, answer fast, process after commit."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, jsonify, request

from hub.connections.services import intake_connector
from hub.context import current_context
from hub.errors import BadRequest, EventNotProcessable, UnsupportedMediaType
from hub.i18n import lazy
from hub.i18n import lazy as _l
from hub.inbox.services import record_event

from .mapping import apply_mapping
from .verify import verify_signature

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)
KIND = "webhooks"


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


@bp.post("/hooks/<slug>")
def receive(slug: str):
    """Accept one signed event.

    Answers 202 with ``{"event": id, "status": "accepted"}`` once stored; 200 for a redelivery of a
    stored ``webhook-id``; RFC 9457 problems otherwise (401 signature, 404 connector, 413 size,
    415 content type, 400 not JSON, 422 mapped fields missing — stored as failed, replayable —,
    503 database unreachable).
    """
    ctx = current_context()
    if not _is_json(request.mimetype):
        raise UnsupportedMediaType(
            _l("send the event as application/json (Content-Type was %(type)s)", type=request.mimetype or _l("missing"))
        )
    body = request.get_data(cache=False)  # MAX_CONTENT_LENGTH refuses >1 MiB bodies with 413

    connector = intake_connector(ctx, slug, KIND)  # cached per process: no database read here
    webhook_id = verify_signature(body, request.headers, connector.secrets)
    try:
        payload = json.loads(body)
    except RecursionError:  # the decoder recurses per nesting level
        raise BadRequest(_l("the JSON body is nested too deeply")) from None
    except ValueError as exc:
        raise BadRequest(_l("the body is not JSON: %(error)s", error=str(exc))) from None
    if not isinstance(payload, dict):
        raise BadRequest(_l("the body must be a JSON object"))
    problem = None
    try:
        apply_mapping(slug, connector.config.get("mapping", {}), payload)
    except EventNotProcessable as exc:
        problem = exc  # stored as failed, so the sender's mistake can be replayed once fixed
    # One statement stores the event (as failed when the mapping refused it): nothing half-written.
    with ctx.db.statement_scope() as session:
        event, created = record_event(
            session,
            connector,
            webhook_id,
            body.decode("utf-8"),
            # Stored in English, and as a message the console shows in the reader's language.
            failed_reason=_l("%(title)s: %(detail)s", title=lazy(problem.title), detail=problem.detail)
            if problem
            else None,
        )
        event_id, public_id, status = event.id, event.public_id, event.status

    if problem is not None and created:
        log.warning("webhook %s: event %s stored as failed: %s", slug, public_id, problem)  # English
        problem.extra.update(event=public_id, event_status=status)
        raise problem
    if not created:
        log.info("webhook %s: redelivery of %s ignored", slug, webhook_id)
        return jsonify(event=public_id, status=status, duplicate=True), 200
    current_app.extensions["hub.jobs"].enqueue(event_id)
    return jsonify(event=public_id, status="accepted"), 202
