"""Wallet operations (OpenID4VCI 1.0 pre-authorized code flow, :mod:`hub.wallets.services`): a learner
offers one of their awards to a wallet, the wallet redeems the offer's code and fetches the credential.

The actor is the learner the award belongs to (``learner:<public id>``; via ``learner`` for the offer
made on their page, via ``wallet`` for what their wallet does with it). Audit entries:
``wallet.offer`` (object: the award; after: the offer's public id and expiry) and ``wallet.issue`` for
each credential issued to a wallet (after: the offer, the format and the holder's DID). No secret
(offer, code, token, nonce) is ever audited.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.accounts import audit
from hub.accounts.access import Principal
from hub.context import HubContext
from hub.learners.models import Learner
from hub.operations.backpack import learner_principal
from hub.timefmt import isoformat_z
from hub.wallets import services as wallets
from hub.wallets.models import WalletOffer


def _wallet_principal(session: Session, offer: WalletOffer) -> Principal:
    learner = session.get(Learner, offer.learner_id)
    public_id = learner.public_id if learner is not None else "erased"
    return Principal(None, f"learner:{public_id}", scope="read", via="wallet")


def create_offer(session: Session, ctx: HubContext, learner: Learner, assertion_public_id: str) -> wallets.NewOffer:
    """Offer the learner's award to a wallet (:func:`hub.wallets.services.create_offer`), audited as
    ``wallet.offer``. Raises NotFound (not theirs) or Forbidden (revoked)."""
    new = wallets.create_offer(session, ctx, learner, assertion_public_id)
    audit.record(
        session,
        learner_principal(learner),
        "wallet.offer",
        "assertion",
        assertion_public_id,
        issuer_id=new.row.assertion.badge_class.issuer_id,
        after={"offer": new.row.public_id, "expires_at": isoformat_z(new.row.expires_at)},
    )
    return new


def offer_document(session: Session, ctx: HubContext, offer_secret: str) -> dict:
    """The Credential Offer behind a ``credential_offer_uri`` (read only). Raises NotFound."""
    return wallets.offer_document(session, ctx, offer_secret)


def redeem_code(session: Session, ctx: HubContext, form: dict) -> dict:
    """The token endpoint's pre-authorized code grant; the Token Response. Raises WalletError."""
    _offer, answer = wallets.redeem_code(session, ctx, form)
    return answer


def new_nonce(session: Session) -> str:
    """A ``c_nonce`` for the nonce endpoint."""
    return wallets.new_nonce(session)


def issue_credential(session: Session, ctx: HubContext, authorization: str | None, body: object) -> dict:
    """The credential endpoint (:func:`hub.wallets.services.issue_credential`), audited as
    ``wallet.issue``; returns the Credential Response. Raises WalletError (nothing is issued then)."""
    issued = wallets.issue_credential(session, ctx, authorization, body)
    audit.record(
        session,
        _wallet_principal(session, issued.offer),
        "wallet.issue",
        "assertion",
        issued.offer.assertion.public_id,
        issuer_id=issued.offer.assertion.badge_class.issuer_id,
        after={"offer": issued.offer.public_id, "format": issued.format, "holder": issued.holder[:255]},
    )
    return issued.response
