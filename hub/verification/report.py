"""The verifier's answer: a :class:`Verdict` made of named :class:`Check` results.

Each check is ``passed``, ``failed`` or ``skipped`` with a reason (a lazy text, :mod:`hub.i18n`, shown in
Polish or English). The verdict is never ``valid`` by default: it is ``valid`` only when at least one
check that proves authenticity (a hosted fetch, a signature or proof) passed and no check failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hub.i18n import Lazy, dump_text, english, load_text
from hub.i18n import lazy as _l

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"

#: Verdict states: ``valid`` (authentic, current, for this recipient when one was asked), ``revoked``,
#: ``expired``, ``invalid`` (a check failed), ``unverifiable`` (nothing could prove it authentic).
VALID, REVOKED, EXPIRED, INVALID, UNVERIFIABLE = "valid", "revoked", "expired", "invalid", "unverifiable"

#: Checks whose success proves the badge authentic (one must pass for ``valid``).
AUTHENTICITY = frozenset({"hosted", "signature", "proof", "pdf_signature"})

#: Each check's title, shown beside its reason.
TITLES = {
    "input": _l("Input"),
    "unbake": _l("Baked data"),
    "format": _l("Format"),
    "contexts": _l("JSON-LD contexts"),
    "schema": _l("1EdTech JSON Schema"),
    "hosted": _l("Hosted assertion"),
    "badge_class": _l("Badge class"),
    "issuer": _l("Issuer"),
    "signature": _l("Signature"),
    "proof": _l("Data Integrity proof"),
    "key": _l("Issuer's key"),
    "revocation": _l("Revocation"),
    "recipient": _l("Recipient"),
    "expiry": _l("Validity period"),
    "image": _l("Image"),
    "pdf_signature": _l("PDF signature"),
    "pdf_credential": _l("Credential in the PDF"),
}

VERDICT_TITLES = {
    VALID: _l("Valid"),
    REVOKED: _l("Revoked"),
    EXPIRED: _l("Expired"),
    INVALID: _l("Not valid"),
    UNVERIFIABLE: _l("Cannot be verified"),
}


@dataclass
class Check:
    """One named check: ``name`` (a key of :data:`TITLES`), ``status`` (passed/failed/skipped), ``reason``
    (lazy text) and ``code`` (a stable machine-readable slug of the reason, e.g. ``png-duplicate-chunk``)."""

    name: str
    status: str
    reason: object
    code: str = ""

    @property
    def title(self):
        return TITLES.get(self.name, self.name)

    def as_json(self, *, rendered: bool = True) -> dict:
        """``{"name", "title", "status", "code", "reason"}``; texts rendered in the current language
        (``rendered=False``: stored form, :func:`hub.i18n.dump_text`)."""
        text = str if rendered else dump_text
        return {
            "name": self.name,
            "title": text(self.title),
            "status": self.status,
            "code": self.code,
            "reason": text(self.reason),
        }


@dataclass
class Verdict:
    """The outcome of one verification.

    ``checks`` in the order they ran; ``kind`` what was found (``ob2-hosted``, ``ob2-signed``,
    ``ob3-data-integrity``, ``ob3-vc-jwt``, ``pdf`` or ``unknown``); ``document`` the assertion or
    credential JSON that was verified (None when none was read); ``name``/``issuer_name`` for display;
    ``checked_at`` (UTC) when the verification ran; ``source_url`` the URL to fetch again when
    re-verifying (None for an uploaded credential that carries everything).
    """

    checks: list[Check] = field(default_factory=list)
    kind: str = "unknown"
    document: dict | None = None
    name: str | None = None
    issuer_name: str | None = None
    checked_at: datetime | None = None
    source_url: str | None = None
    raw: str | None = None

    def add(self, name: str, status: str, reason: object, code: str = "") -> Check:
        check = Check(name, status, reason, code)
        self.checks.append(check)
        return check

    def passed(self, name: str, reason: object, code: str = "ok") -> Check:
        return self.add(name, PASSED, reason, code)

    def failed(self, name: str, reason: object, code: str) -> Check:
        return self.add(name, FAILED, reason, code)

    def skipped(self, name: str, reason: object, code: str = "skipped") -> Check:
        return self.add(name, SKIPPED, reason, code)

    def status_of(self, name: str) -> str | None:
        found = [c.status for c in self.checks if c.name == name]
        if FAILED in found:
            return FAILED
        return found[-1] if found else None

    @property
    def state(self) -> str:
        """:data:`VALID`, :data:`REVOKED`, :data:`EXPIRED`, :data:`INVALID` or :data:`UNVERIFIABLE`."""
        failed = [c for c in self.checks if c.status == FAILED]
        if any(c.name == "revocation" for c in failed):
            return REVOKED
        if failed and all(c.name == "expiry" for c in failed):
            return EXPIRED
        if failed:
            return INVALID
        if any(c.status == PASSED and c.name in AUTHENTICITY for c in self.checks):
            return VALID
        return UNVERIFIABLE

    @property
    def valid(self) -> bool:
        return self.state == VALID

    def as_json(self, *, rendered: bool = True) -> dict:
        """The verdict as JSON (the ``POST /api/v1/verify`` answer; ``rendered=False`` for storage)."""
        text = str if rendered else dump_text
        return {
            "verdict": self.state,
            "title": text(VERDICT_TITLES[self.state]),
            "kind": self.kind,
            "name": self.name,
            "issuerName": self.issuer_name,
            "checkedAt": self.checked_at.isoformat().replace("+00:00", "Z") if self.checked_at else None,
            "checks": [c.as_json(rendered=rendered) for c in self.checks],
        }

    def summary(self) -> str:
        """One English line for the logs: state and the failed checks' codes."""
        bad = [c.code for c in self.checks if c.status == FAILED]
        return f"{self.state} ({self.kind})" + (f": {', '.join(bad)}" if bad else "")


def checks_from_json(items: list[dict]) -> list[Check]:
    """Stored checks (:meth:`Verdict.as_json` with ``rendered=False``) back as :class:`Check` objects."""
    return [Check(i["name"], i["status"], load_text(i["reason"]), i.get("code", "")) for i in items or []]


def reason_text(value) -> str:
    """English text of a reason (for logs)."""
    return english(value) if isinstance(value, Lazy) else str(value)
