"""The hub's verifier for any badge: bytes (a baked PNG or SVG, a PDF certificate, JSON, a JWT) or a URL
in, a :class:`~hub.verification.report.Verdict` with named checks out.

Used by the learner's backpack (:mod:`hub.backpack`), the public ``/verify`` page and
``POST /api/v1/verify``. What is checked is described in :mod:`hub.verification.ob2`,
:mod:`hub.verification.ob3`, :mod:`hub.verification.unbake` and :mod:`hub.verification.pdf`; every
download goes through :mod:`hub.verification.fetch`. Nothing given to it is stored.

The verifier never raises for bad input and is never ``valid`` by default (see
:attr:`Verdict.state`): any failure becomes a failed check with a reason, logged.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.i18n import lazy as _l
from hub.i18n import number
from hub.verification import ob2, ob3
from hub.verification.fetch import Fetcher, FetchError, is_http_url
from hub.verification.pdf import verify_pdf_bytes
from hub.verification.report import Check, Verdict
from hub.verification.unbake import Baked, UnbakeError, unbake_png, unbake_svg

log = logging.getLogger(__name__)

_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")

__all__ = ["Check", "Verdict", "verify"]


def _jwt_payload(token: str) -> dict | None:
    try:
        part = token.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _is_ob3(doc: dict) -> bool:
    types = doc.get("type")
    types = types if isinstance(types, list) else [types]
    ctx = doc.get("@context")
    ctx = ctx if isinstance(ctx, list) else [ctx]
    return "VerifiableCredential" in types or any(isinstance(c, str) and "credentials" in c for c in ctx)


class _Run:
    """One verification: the verdict, the fetcher, the recipient addresses and the limits."""

    def __init__(self, ctx: HubContext, fetcher: Fetcher, emails, session: Session | None):
        self.ctx, self.fetcher, self.emails, self.session = ctx, fetcher, list(emails or []), session
        self.v = Verdict(checked_at=datetime.now(UTC))

    def text(self, v: Verdict, text: str, *, version: str | None = None) -> None:
        text = text.strip().lstrip("\ufeff")
        if text.startswith("{"):
            try:
                doc = json.loads(text)
            except ValueError:
                v.failed("format", _l("the text is not valid JSON"), "bad-json")
                return
            if not isinstance(doc, dict):
                v.failed("format", _l("the JSON is not an object"), "bad-json")
                return
            v.raw = text
            if version == "ob3" or version is None and _is_ob3(doc):
                ob3.verify_json(v, doc, self.fetcher, self.emails)
            elif "recipient" in doc or doc.get("type") == "Assertion" or "badge" in doc:
                ob2.verify_json(v, doc, self.fetcher, self.emails)
            else:
                v.failed("format", _l("the JSON is neither an Open Badges assertion nor a credential"), "unknown-json")
            return
        if _JWS.match(text):
            v.raw = text
            payload = _jwt_payload(text) or {}
            if isinstance(payload.get("verification"), dict) and version != "ob3":
                ob2.verify_signed(v, text, self.fetcher, self.emails)
            elif payload:
                ob3.verify_vc_jwt(v, text, self.fetcher, self.emails)
            else:
                v.failed("format", _l("not a readable JWT"), "bad-jwt")
            return
        if is_http_url(text):
            self.url(v, text, version=version)
            return
        v.failed("format", _l("not a badge: no JSON, JWT or URL found"), "unknown-text")

    def url(self, v: Verdict, url: str, *, version: str | None = None) -> None:
        try:
            got = self.fetcher.get(url, ok=(200, 410))
        except FetchError as exc:
            v.failed("input", exc.reason, exc.code)
            return
        body = got.body
        if got.status == 410 or body.lstrip()[:1] == b"{" and version != "ob3":
            try:
                doc = json.loads(body) if got.status == 200 else {}
            except ValueError:
                doc = {}
            if got.status == 410 or not _is_ob3(doc):
                ob2.verify_hosted(v, url, self.fetcher, self.emails)
                return
        v.source_url = url
        self.data(v, body, version=version)

    def baked(self, v: Verdict, baked: Baked) -> None:
        where = {
            "png-itxt": _l("read from the PNG's iTXt chunk"),
            "png-text": _l("read from the PNG's text chunk"),
            "svg-text": _l("read from the SVG's openbadges element"),
            "svg-verify": _l("the SVG carries only a verify attribute; verifying what it names"),
        }[baked.where]
        v.passed("unbake", where, baked.where)
        self.text(v, baked.text, version=baked.version)

    def data(self, v: Verdict, data: bytes, *, version: str | None = None) -> None:
        limit = self.ctx.settings.verify_max_bytes
        if len(data) > limit:
            log.info("verifier: %s bytes refused", len(data))
            v.failed("input", _l("the file is larger than %(limit)s bytes", limit=number(limit)), "too-large")
            return
        head = data[:1024].lstrip()
        try:
            if data.startswith(b"\x89PNG"):
                self.baked(v, unbake_png(data, max_pixels=self.ctx.settings.max_image_pixels, max_bytes=limit))
                return
            if data.startswith(b"%PDF-"):
                verify_pdf_bytes(v, data, self.session, self.ctx, lambda v2, t: self.text(v2, t))
                return
            if head.startswith(b"<"):
                self.baked(v, unbake_svg(data))
                return
        except UnbakeError as exc:
            log.info("verifier: cannot unbake: %s", exc.code)
            v.failed("unbake", exc.reason, exc.code)
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            v.failed("input", _l("not a badge: a PNG, SVG, PDF, JSON, JWT or URL was expected"), "unknown-file")
            return
        self.text(v, text, version=version)


def verify(
    ctx: HubContext,
    *,
    data: bytes | None = None,
    url: str | None = None,
    text: str | None = None,
    emails: list[str] | None = None,
    session: Session | None = None,
    fetcher: Fetcher | None = None,
) -> Verdict:
    """Verify one badge given as ``data`` (file bytes), ``url`` or ``text`` (JSON, JWT or URL).

    Args:
        emails: the recipient's verified addresses; without them the ``recipient`` check is skipped.
        session: a database session, for this hub's own PDF certificates (read only).
        fetcher: the downloads (default: :meth:`Fetcher.from_settings` of ``ctx.settings``).

    Returns:
        The :class:`Verdict` (never raises for bad input; an unexpected error is logged and answered as
        a failed ``input`` check).
    """
    own = fetcher is None
    fetcher = fetcher or Fetcher.from_settings(ctx.settings)
    run = _Run(ctx, fetcher, emails, session)
    v = run.v
    try:
        if data is not None:
            run.data(v, data)
        elif url:
            if not is_http_url(url):
                v.failed("input", _l("not an http(s) URL"), "not-http")
            else:
                run.url(v, url.strip())
        elif text and text.strip():
            if len(text.encode("utf-8", "replace")) > ctx.settings.verify_max_bytes:
                v.failed(
                    "input",
                    _l("the text is larger than %(limit)s bytes", limit=number(ctx.settings.verify_max_bytes)),
                    "too-large",
                )
            else:
                run.text(v, text)
        else:
            v.failed("input", _l("give a badge file, a URL, or the badge's JSON or JWT"), "empty")
    except RecursionError:  # JSON nested thousands deep (json.loads takes it; walking it does not)
        log.info("verifier: input nested too deeply")
        v.failed("input", _l("the badge's JSON is nested too deeply to be a badge"), "too-deep")
    except Exception:  # the safety net: a verifier bug must be a verdict, never a 500
        log.exception("verifier failed unexpectedly")
        v.failed("input", _l("the verifier could not finish; the badge is not confirmed"), "internal-error")
    finally:
        if own:
            fetcher.close()
    log.info("verified badge: %s", v.summary())
    return v
