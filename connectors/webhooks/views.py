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

from .mapping import map_payload
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
    415 content type, 400 not UTF-8 or not JSON (a UTF-8 byte order mark before the JSON is accepted),
    422 an event that can never be processed — mapped fields missing, text that is not valid Unicode, a
    NUL in the idempotency key: stored as failed with the reason, replayable —, 503 database unreachable).
    The view reads the raw body itself (``reads_raw_body``: the signature comes first, see
    :mod:`hub.web.boundary`).
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
        # JSON is UTF-8 (RFC 8259 section 8.1), and a byte order mark before it may be ignored: the text is
        # stored without one, so processing reads what intake read.
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            _l("the body is not UTF-8 text (invalid byte at offset %(offset)s)", offset=exc.start)
        ) from None
    try:
        payload = json.loads(text)
    except RecursionError:  # the decoder recurses per nesting level
        raise BadRequest(_l("the JSON body is nested too deeply")) from None
    except ValueError as exc:
        raise BadRequest(_l("the body is not JSON: %(error)s", error=str(exc))) from None
    if not isinstance(payload, dict):
        raise BadRequest(_l("the body must be a JSON object"))
    problem = None
    try:
        map_payload(slug, connector.config.get("mapping", {}), payload)
    except EventNotProcessable as exc:
        problem = exc  # stored as failed, so the sender's mistake can be replayed once fixed
    # One statement stores the event (as failed when the mapping refused it): nothing half-written.
    with ctx.db.statement_scope() as session:
        event, created = record_event(
            session,
            connector,
            webhook_id,
            text,
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


receive.reads_raw_body = True  # type: ignore[attr-defined]  # hub.web.boundary leaves the body to this view
