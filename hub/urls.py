"""Public URLs of hub resources, all under ``HUB_BASE_URL``. One home for every URL shape.

Hosted OB 2.0 verification needs stable URLs (https://www.imsglobal.org/spec/ob/v2p0/#HostedBadge);
these shapes are part of the hub's public contract: do not change them, add new ones.
"""

from __future__ import annotations

from dataclasses import dataclass


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

    def assertion_signed(self, assertion_id: str) -> str:
        return f"{self.base}/assertions/{assertion_id}/signed"

    def assertion_baked(self, assertion_id: str, ext: str = "png") -> str:
        return f"{self.base}/assertions/{assertion_id}/baked.{ext}"

    def hook(self, connector_slug: str) -> str:
        return f"{self.base}/hooks/{connector_slug}"
