"""Public URLs of hub resources, all under ``HUB_BASE_URL``. One home for every URL shape.

Hosted OB 2.0 verification needs stable URLs (https://www.imsglobal.org/spec/ob/v2p0/#HostedBadge);
these shapes are part of the hub's public contract: do not change them, add new ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit


@dataclass(frozen=True)
class Urls:
    """Builds absolute URLs from ``base`` (scheme + host + optional path, no trailing slash)."""

    base: str

    def issuer(self, issuer_id: str) -> str:
        return f"{self.base}/issuers/{issuer_id}"

    def issuer_image(self, issuer_id: str) -> str:
        return f"{self.base}/issuers/{issuer_id}/image"

    def key(self, issuer_id: str, key_id: str) -> str:
        return f"{self.base}/issuers/{issuer_id}/keys/{key_id}"

    def revocation_list(self, issuer_id: str) -> str:
        return f"{self.base}/issuers/{issuer_id}/revocations"

    def badge_class(self, badge_id: str) -> str:
        return f"{self.base}/badges/{badge_id}"

    def badge_image(self, badge_id: str) -> str:
        return f"{self.base}/badges/{badge_id}/image"

    def criteria(self, badge_id: str) -> str:
        return f"{self.base}/badges/{badge_id}/criteria"

    def assertion(self, assertion_id: str) -> str:
        return f"{self.base}/assertions/{assertion_id}"

    def assertion_json(self, assertion_id: str) -> str:
        """The hosted OB 2.0 assertion as a JSON-LD download, whatever the client's ``Accept``."""
        return f"{self.base}/assertions/{assertion_id}?format=json"

    def assertion_signed(self, assertion_id: str) -> str:
        return f"{self.base}/assertions/{assertion_id}/signed"

    def assertion_baked(self, assertion_id: str, ext: str = "png") -> str:
        return f"{self.base}/assertions/{assertion_id}/baked.{ext}"

    # Open Badges 3.0 (hub.credentials.ob3, hub.web.ob3)

    def credential(self, assertion_id: str) -> str:
        """The OB 3.0 credential (JSON-LD with a Data Integrity proof; HTML for browsers)."""
        return f"{self.base}/credentials/{assertion_id}"

    def credential_json(self, assertion_id: str) -> str:
        """The OB 3.0 credential (Data Integrity proof) as a JSON download, whatever the ``Accept``."""
        return f"{self.base}/credentials/{assertion_id}?format=json"

    def credential_jwt(self, assertion_id: str) -> str:
        """The OB 3.0 credential as a VC-JWT (compact JWS, ``text/plain``)."""
        return f"{self.base}/credentials/{assertion_id}/jwt"

    def credential_baked(self, assertion_id: str, ext: str = "png", fmt: str = "ldp") -> str:
        """The badge image with the credential baked in; ``fmt`` is ``ldp`` (JSON) or ``jwt``."""
        return f"{self.base}/credentials/{assertion_id}/baked.{ext}?format={fmt}"

    def issuer_did(self, issuer_id: str) -> str:
        """The issuer's ``did:web`` (https://w3c-ccg.github.io/did-method-web/), resolving to
        :meth:`issuer_did_document`: host (port percent-encoded), then path segments joined by ``:``."""
        parts = urlsplit(self.base)
        path = [quote(seg, safe="") for seg in parts.path.split("/") if seg]
        return ":".join(["did:web", quote(parts.netloc, safe=""), *path, "issuers", issuer_id])

    def issuer_did_document(self, issuer_id: str) -> str:
        return f"{self.base}/issuers/{issuer_id}/did.json"

    def status_list(self, issuer_id: str, list_id: str) -> str:
        """A signed BitstringStatusListCredential."""
        return f"{self.base}/issuers/{issuer_id}/status/{list_id}"

    def status_list_jwt(self, issuer_id: str, list_id: str) -> str:
        """The same status list as a VC-JWT (``application/vc+jwt``), for JWT-only verifiers; the
        ``statusListCredential`` of VC-JWT credentials."""
        return f"{self.base}/issuers/{issuer_id}/status/{list_id}/jwt"

    def revocation_list_1edtech(self, issuer_id: str) -> str:
        """The 1EdTech Revocation List (OB 3.0 ``1EdTechRevocationList``) of the issuer."""
        return f"{self.base}/issuers/{issuer_id}/revocations/1edtech"

    # Certificates, sharing and the learner's side (hub.certificates, hub.learners)

    def certificate_pdf(self, assertion_id: str) -> str:
        """The award's signed PDF certificate."""
        return f"{self.base}/assertions/{assertion_id}/certificate.pdf"

    def preview_image(self, assertion_id: str) -> str:
        """The 1200x628 (1.91:1) sharing preview image (OpenGraph / Twitter card)."""
        return f"{self.base}/assertions/{assertion_id}/preview.png"

    def verify_certificate(self) -> str:
        """The page that checks an uploaded PDF certificate."""
        return f"{self.base}/verify"

    def portfolio(self, learner_id: str) -> str:
        return f"{self.base}/portfolio/{learner_id}"

    def claim(self, token: str) -> str:
        return f"{self.base}/me/claim/{token}"

    def login_link(self, token: str) -> str:
        return f"{self.base}/me/login/{token}"

    def learner_home(self) -> str:
        return f"{self.base}/me"

    def context(self, file: str) -> str:
        """A JSON-LD context the hub ships and serves (:func:`hub.credentials.jsonld.hosted_contexts`)."""
        return f"{self.base}/contexts/{file}"

    def path(self, path_id: str) -> str:
        """A development path's public page (:mod:`hub.web.paths`)."""
        return f"{self.base}/paths/{path_id}"

    def hook(self, connector_slug: str) -> str:
        return f"{self.base}/hooks/{connector_slug}"
