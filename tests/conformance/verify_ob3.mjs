// Independent verification of the hub's OB 3.0 credentials (run by tests/conformance/test_ob3_verifiers.py).
//
// stdin: {"hubOrigin": "https://badges.example.test", "localOrigin": "http://127.0.0.1:PORT",
//         "schemaDir": ".../shared/ref" | null, "items": [{"name", "ldp": {...}} | {"name", "jwt": "..."}]}
// stdout: {"results": {name: {...per verifier...}}}
//
// Network: `fetch` is replaced before any verifier is imported. URLs under hubOrigin go to the hub
// running on localhost (it serves DID documents and status lists); the OB 3.0 JSON Schema comes from
// schemaDir; every other URL is refused. Contexts come from the verifiers' bundled loaders.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const input = JSON.parse(readFileSync(0, 'utf8'));
const SCHEMA_URL_PREFIX = 'https://purl.imsglobal.org/spec/ob/v3p0/schema/json/';
const realFetch = globalThis.fetch;
const fetched = [];

globalThis.fetch = async (resource, init) => {
  const url = typeof resource === 'string' ? resource : resource.url ?? String(resource);
  fetched.push(url);
  if (url.startsWith(SCHEMA_URL_PREFIX) && input.schemaDir) {
    const file = path.join(input.schemaDir, url.slice(SCHEMA_URL_PREFIX.length));
    return new Response(readFileSync(file), { headers: { 'content-type': 'application/json' } });
  }
  if (url.startsWith(input.hubOrigin + '/')) {
    const local = input.localOrigin + url.slice(input.hubOrigin.length);
    const headers = new Headers(init?.headers ?? (typeof resource === 'object' ? resource.headers : undefined));
    return realFetch(local, { method: 'GET', headers });
  }
  throw new TypeError(`offline test: refusing to fetch ${url}`);
};

const { verifyCredential: coreVerify } = await import('@digitalcredentials/verifier-core');
const dcVc = await import('@digitalcredentials/vc');
const { DataIntegrityProof: DcDataIntegrityProof } = await import('@digitalcredentials/data-integrity');
const { cryptosuite: dcEddsa } = await import('@digitalcredentials/eddsa-rdfc-2022-cryptosuite');
const { securityLoader } = await import('@digitalcredentials/security-document-loader');
const dcStatus = await import('@digitalcredentials/vc-bitstring-status-list');
const dbVc = await import('@digitalbazaar/vc');
const { DataIntegrityProof: DbDataIntegrityProof } = await import('@digitalbazaar/data-integrity');
const { cryptosuite: dbEddsa } = await import('@digitalbazaar/eddsa-rdfc-2022-cryptosuite');
const dbStatus = await import('@digitalbazaar/vc-bitstring-status-list');
const base58 = await import('@digitalcredentials/base58-universal');

// @digitalcredentials: its bundled loader (contexts offline, did:key and did:web resolution, http(s)
// documents such as status lists through the patched fetch).
const dcLoader = securityLoader({ fetchRemoteContexts: true }).build();

// @digitalbazaar: a separate loader. Contexts from ../shared/ref/jsonld-contexts.json plus the
// Data Integrity / DID contexts the DID document names, DID documents and status lists over fetch.
const refContexts = {
  ...(input.schemaDir ? JSON.parse(readFileSync(path.join(input.schemaDir, 'jsonld-contexts.json'), 'utf8')) : {}),
  ...(input.contexts ?? {}),  // the hub's pinned contexts (DID document ones included): nothing is fetched
};
const dbLoader = async (url) => {
  if (refContexts[url]) return { contextUrl: null, documentUrl: url, document: refContexts[url] };
  const fromDc = await dcLoader(url).catch(() => null);  // did/v1, multikey/v1, data-integrity contexts
  if (fromDc && !url.startsWith('did:') && !url.startsWith('http')) return fromDc;
  if (url.startsWith('did:web:')) {
    const [did, fragment] = url.split('#');
    const parts = did.slice('did:web:'.length).split(':').map(decodeURIComponent);
    const docUrl = `https://${parts[0]}/${parts.length > 1 ? parts.slice(1).join('/') + '/did.json' : '.well-known/did.json'}`;
    const doc = await (await fetch(docUrl)).json();
    if (doc.id !== did) throw new Error(`DID document id ${doc.id} is not ${did}`);
    if (!fragment) return { contextUrl: null, documentUrl: url, document: doc };
    const vm = doc.verificationMethod.find((m) => m.id === url);
    if (!vm) throw new Error(`no verification method ${url}`);
    return { contextUrl: null, documentUrl: url, document: { '@context': doc['@context'], ...vm } };
  }
  if (fromDc) return fromDc;
  if (url.startsWith('https://')) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status} for ${url}`);
    return { contextUrl: null, documentUrl: url, document: await res.json() };
  }
  throw new Error(`dbLoader: cannot load ${url}`);
};

function errText(e) {
  if (!e) return null;
  const msgs = [e.message ?? String(e)];
  for (const sub of e.errors ?? []) msgs.push(sub.message ?? String(sub));
  if (e.cause) msgs.push(`cause: ${e.cause.message ?? e.cause}`);
  return msgs.join(' | ');
}

async function viaVerifierCore(credential) {
  const r = await coreVerify({ credential, knownDIDRegistries: [] });
  if (r.errors) return { signature: false, errors: r.errors.map((e) => `${e.name}: ${e.message}`) };
  const step = (id) => r.log.find((e) => e.id === id);
  const schema = (r.additionalInformation ?? []).find((e) => e.id === 'schema_check');
  return {
    signature: step('valid_signature')?.valid === true,
    expired: step('expiration') ? step('expiration').valid === false : null,
    revoked: step('revocation_status') ? step('revocation_status').valid === false : null,
    revocationError: step('revocation_status')?.error?.message ?? null,
    schemaValid: Array.isArray(schema?.results) ? schema.results.every((s) => s.result.valid) : null,
    schemaErrors: Array.isArray(schema?.results) ? schema.results.flatMap((s) => s.result.errors ?? []).slice(0, 3) : null,
  };
}

async function viaLibrary(credential, { vc, Proof, cryptosuite, loader, status }) {
  const suite = new Proof({ cryptosuite });
  const noStatus = async () => ({ verified: true });
  // Signature alone, at a time inside the validity period, then at the real time (the library's own
  // validity check), then the library's Bitstring Status List check: a revoked or expired credential
  // then reads "signature valid, revoked" / "signature valid, expired".
  const inside = new Date(Date.parse(credential.validFrom) + 1000);
  const sig = await vc.verifyCredential({ credential, suite, documentLoader: loader, checkStatus: noStatus, now: inside });
  const out = { signature: sig.verified === true, error: sig.verified ? null : errText(sig.error) };
  const today = await vc.verifyCredential({ credential, suite, documentLoader: loader, checkStatus: noStatus });
  out.expired = out.signature && !today.verified && /validUntil|expir/i.test(errText(today.error));
  if (credential.credentialStatus) {
    const st = await status.checkStatus({
      credential, documentLoader: loader, suite, verifyBitstringStatusListCredential: true, verifyMatchingIssuers: true,
    });
    out.revoked = revokedFrom(st);
    out.statusError = st.error ? errText(st.error) : null;
  }
  return out;
}

// The two libraries report a set bit differently: @digitalcredentials answers verified=false,
// @digitalbazaar answers verified=true with results[i].status === true.
function revokedFrom(st) {
  if (st.error) return null;
  if (st.results?.some((r) => r.status === true)) return true;
  return st.verified === false;
}

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

const jose = await import('jose');
const { gunzipSync } = await import('node:zlib');

// The public key a JOSE `kid` names, resolved in the issuer's DID document (did:web over the patched
// fetch, did:key by the dbLoader), as a jose key object.
async function keyForKid(kid, alg) {
  const { document: vm } = await dbLoader(kid);
  let jwk = vm.publicKeyJwk;
  if (!jwk && vm.publicKeyMultibase) {
    const raw = base58.decode(vm.publicKeyMultibase.slice(1)).slice(2);  // drop the 0xed01 multicodec
    jwk = { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') };
  }
  return jose.importJWK(jwk, alg);
}

// jose's compactVerify: the signature (algorithm pinned to the header's, which must be one the key
// type makes), then the OB 3.0 §8.2.4.1 claims against the credential.
async function verifyJwt(token) {
  const header = jose.decodeProtectedHeader(token);
  const key = await keyForKid(header.kid, header.alg);
  const { payload } = await jose.compactVerify(token, key, { algorithms: [header.alg] });
  return { header, payload: JSON.parse(new TextDecoder().decode(payload)) };
}

function claimsMatch(header, payload) {
  const issuerId = typeof payload.issuer === 'string' ? payload.issuer : payload.issuer?.id;
  const subject = Array.isArray(payload.credentialSubject) ? payload.credentialSubject[0] : payload.credentialSubject;
  const seconds = (iso) => Math.floor(Date.parse(iso) / 1000);
  return payload.iss === issuerId && payload.jti === payload.id && payload.nbf === seconds(payload.validFrom) &&
    (subject?.id ? payload.sub === subject.id : !('sub' in payload)) &&
    (payload.validUntil ? payload.exp === seconds(payload.validUntil) : !('exp' in payload)) &&
    header.typ === 'JWT' && header.kid.startsWith(issuerId + '#');
}

// Revocation of a VC-JWT: its statusListCredential is the list's VC-JWT form; verified with jose
// against the issuer's DID document, issuer bound to the credential's, then the bit is read.
async function jwtStatus(payload) {
  const entry = payload.credentialStatus;
  const res = await fetch(entry.statusListCredential, { headers: { accept: 'application/vc+jwt' } });
  if (!res.ok) return `error: HTTP ${res.status}`;
  const { header, payload: list } = await verifyJwt((await res.text()).trim());
  if (!claimsMatch(header, list)) return 'error: status list claims';
  if (list.iss !== payload.iss) return 'error: status list issuer differs';
  if (list.id !== entry.statusListCredential) return 'error: status list id differs';
  const bits = gunzipSync(Buffer.from(list.credentialSubject.encodedList.slice(1), 'base64url'));
  const i = Number(entry.statusListIndex);
  return (bits[i >> 3] & (0x80 >> (i & 7))) ? 'revoked' : 'ok';
}

async function viaJose(token) {
  // VC-JWT (OB 3.0 §8.2): the DCC verifiers do not read JWTs; `jose` checks the JWS with the key its
  // `kid` resolves to in the issuer's DID document, then the claims, then the JWT status list.
  const out = { alg: jose.decodeProtectedHeader(token).alg };
  let verified;
  try {
    verified = await verifyJwt(token);
    out.signature = true;
  } catch (e) {
    out.signature = false;
    out.error = `${e.code ?? e.name}: ${e.message}`;
    return out;
  }
  const { header, payload } = verified;
  out.claims = claimsMatch(header, payload);
  out.expired = payload.exp !== undefined && payload.exp * 1000 < Date.now();
  out.status = await jwtStatus(payload).catch((e) => `error: ${e.message}`);
  return out;
}

const results = {};
for (const item of input.items) {
  const r = {};
  try {
    if (item.ldp) {
      r.verifierCore = await viaVerifierCore(item.ldp);
      r.dcVc = await viaLibrary(item.ldp, { vc: dcVc, Proof: DcDataIntegrityProof, cryptosuite: dcEddsa, loader: dcLoader, status: dcStatus });
      r.dbVc = await viaLibrary(item.ldp, { vc: dbVc, Proof: DbDataIntegrityProof, cryptosuite: dbEddsa, loader: dbLoader, status: dbStatus });
    } else {
      r.jwt = await viaJose(item.jwt);
    }
  } catch (e) {
    r.exception = `${e.name}: ${e.message}\n${e.stack}`;
  }
  results[item.name] = r;
}
process.stdout.write(JSON.stringify({ results, refused: fetched.filter((u) => !u.startsWith(input.hubOrigin) && !u.startsWith(SCHEMA_URL_PREFIX)) }));
