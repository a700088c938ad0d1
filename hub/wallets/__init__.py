"""Into wallets: OpenID for Verifiable Credential Issuance 1.0, pre-authorized code flow
(https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html). Models in
:mod:`hub.wallets.models`, the protocol's steps in :mod:`hub.wallets.services`, the audited
operations in :mod:`hub.operations.wallets`, the endpoints in :mod:`hub.web.oid4vci`."""
