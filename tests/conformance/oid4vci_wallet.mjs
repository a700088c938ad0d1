// A wallet made of an independent OpenID4VCI client library: @openid4vc/openid4vci and @openid4vc/oauth2
// (npm, by Animo, the OID4VC libraries of Credo), with jose for the holder's key and the JWT signatures.
// Run by tests/hub/wallets/test_oid4vci_client_library.py as `node oid4vci_wallet.mjs`.
//
// stdin: {"offer": "openid-credential-offer://?credential_offer_uri=...", "configurations": [ids],
//         "alg": "EdDSA" | "ES256"}
// stdout (last line): {"holderJwk": {...}, "received": {configuration id: credential}, "metadata": {...}}
// or {"error": "...", "details": ...} with exit code 1.
// Every fetch goes to the hub on 127.0.0.1 only (refused otherwise): the tests never reach the network.
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Openid4vciClient } from '@openid4vc/openid4vci'
import { clientAuthenticationAnonymous, setGlobalConfig } from '@openid4vc/oauth2'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'

const input = JSON.parse(readFileSync(0, 'utf8'))
setGlobalConfig({ allowInsecureUrls: true }) // the test hub speaks http on 127.0.0.1

const localFetch = async (url, init) => {
  const host = new URL(url).hostname
  if (host !== '127.0.0.1' && host !== 'localhost') throw new Error(`offline test: refusing ${url}`)
  return fetch(url, init)
}

const alg = input.alg || 'EdDSA'
const { privateKey, publicKey } = await generateKeyPair(alg, { crv: alg === 'EdDSA' ? 'Ed25519' : undefined })
const holderJwk = await exportJWK(publicKey)

const callbacks = {
  fetch: localFetch,
  clientAuthentication: clientAuthenticationAnonymous(),
  generateRandom: (n) => randomBytes(n),
  hash: (data, algorithm) => createHash(algorithm.replace('-', '')).update(data).digest(),
  signJwt: async (signer, { header, payload }) => {
    const jwt = await new SignJWT(payload).setProtectedHeader(header).sign(privateKey)
    return { jwt, signerJwk: holderJwk }
  },
}

try {
  const client = new Openid4vciClient({ callbacks })
  const offer = await client.resolveCredentialOffer(input.offer)
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer)
  const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: offer,
    issuerMetadata,
  })
  const received = {}
  for (const credentialConfigurationId of input.configurations) {
    const { c_nonce } = await client.requestNonce({ issuerMetadata })
    const { jwt } = await client.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId,
      nonce: c_nonce,
      signer: { method: 'jwk', alg, publicJwk: holderJwk },
    })
    const response = await client.retrieveCredentials({
      issuerMetadata,
      accessToken: accessTokenResponse.access_token,
      credentialConfigurationId,
      proofs: { jwt: [jwt] },
    })
    received[credentialConfigurationId] = response.credentialResponse.credentials[0].credential
  }
  console.log(JSON.stringify({ holderJwk, received, metadata: issuerMetadata.credentialIssuer }))
} catch (error) {
  console.log(JSON.stringify({ error: String(error), details: error.response?.body ?? error.errorResponse ?? error.cause ?? null }))
  process.exit(1)
}
