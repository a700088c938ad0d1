"""Standard Webhooks signature verification over the raw body, before it is parsed.

Scheme: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md —
HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}``, base64, ``v1,`` prefix, several
space-separated signatures allowed; timestamps more than 5 minutes off are refused. The HMAC and the
tolerance check are the ``standardwebhooks`` package's; this module tries each configured secret
(rotation) and turns its errors into :class:`hub.errors.SignatureError` with a precise reason.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from hub.errors import BadRequest, SignatureError
from hub.i18n import joined
from hub.i18n import lazy as _l

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def verify_signature(body: bytes, headers, secrets: Sequence[str]) -> str:
    """Verify ``body`` against any of ``secrets``; return the ``webhook-id``.

    Args:
        body: the raw request body bytes.
        headers: a case-insensitive mapping (e.g. ``flask.request.headers``).
        secrets: ``whsec_…`` secrets, newest first.

    Raises:
        SignatureError: a header is missing, the timestamp is malformed, stale or in the future, or no
            signature matches any secret.
        BadRequest: the body is not UTF-8 (it cannot be JSON).
    """
    values = {name: (headers.get(name) or "").strip() for name in HEADERS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise SignatureError(_l("missing header(s): %(headers)s", headers=joined(missing)), headers=missing)
    if not secrets:
        raise SignatureError(_l("this connector has no secret configured"))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(_l("the body is not UTF-8 text")) from None
    last = _l("no matching signature found")
    for secret in secrets:
        try:
            Webhook(secret).verify(text, values, json_parse=False)
            return values["webhook-id"]
        except WebhookVerificationError as exc:
            message = str(exc)
            if "timestamp" in message.lower() or "Invalid Signature Headers" in message:
                raise SignatureError(_timestamp_reason(message), header="webhook-timestamp") from None
            last = _l("no signature matches (check the secret and that the body is signed byte for byte)")
        except (ValueError, binascii.Error):
            raise SignatureError(_l("webhook-signature is malformed (expected 'v1,<base64>' entries)")) from None
    raise SignatureError(last)


def _timestamp_reason(message: str):
    if "too old" in message:
        return _l("webhook-timestamp is more than 5 minutes in the past (stale or replayed delivery)")
    if "too new" in message:
        return _l("webhook-timestamp is more than 5 minutes in the future (check the sender's clock)")
    return _l("webhook-timestamp is not a Unix time in seconds")
