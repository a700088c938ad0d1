// jsonld.js / rdf-canonize as the oracle for the hub's canonical N-Quads, many documents in one process
// (run by tests/conformance/test_numbers_canonical.py).
//
// stdin:  {"contexts": {url: document}, "items": [{"name", "document": {...signed credential...}}]}
// stdout: {"results": {name: {"nquads": "...", "verified": bool, "error": str|null}}}
//
// `nquads` is jsonld.js's RDFC-1.0 canonical form (safe mode, as Data Integrity verifiers run it) of the
// document without its proof. `verified` is @digitalbazaar/vc's verdict on the eddsa-rdfc-2022 proof, the
// issuer being a did:key (resolved offline). Contexts come only from `contexts` (the hub's pinned files)
// and the security loader's bundled ones; `fetch` refuses everything, so nothing leaves the machine.
import { readFileSync } from 'node:fs';

const input = JSON.parse(readFileSync(0, 'utf8'));
globalThis.fetch = async (resource) => {
  throw new TypeError(`offline test: refusing to fetch ${typeof resource === 'string' ? resource : resource.url}`);
};

const jsonld = (await import('jsonld')).default;
const dbVc = await import('@digitalbazaar/vc');
const { DataIntegrityProof } = await import('@digitalbazaar/data-integrity');
const { cryptosuite } = await import('@digitalbazaar/eddsa-rdfc-2022-cryptosuite');
const { securityLoader } = await import('@digitalcredentials/security-document-loader');

const security = securityLoader().build();
const loader = async (url) => {
  if (input.contexts[url]) return { contextUrl: null, documentUrl: url, document: input.contexts[url] };
  return security(url);  // did:key documents and the Data Integrity / Multikey contexts, bundled
};

const results = {};
for (const { name, document } of input.items) {
  const out = { nquads: null, verified: false, error: null };
  try {
    const { proof, ...unsecured } = document;
    out.nquads = await jsonld.canonize(unsecured, {
      algorithm: 'RDFC-1.0', format: 'application/n-quads', documentLoader: loader, safe: true,
    });
    const suite = new DataIntegrityProof({ cryptosuite });
    const inside = new Date(Date.parse(document.validFrom) + 1000);
    const r = await dbVc.verifyCredential({
      credential: document, suite, documentLoader: loader, checkStatus: async () => ({ verified: true }), now: inside,
    });
    out.verified = r.verified === true;
    if (!out.verified) out.error = String(r.error?.errors?.[0]?.message ?? r.error?.message ?? r.error);
  } catch (e) {
    out.error = `${e.name}: ${e.message}`;
  }
  results[name] = out;
}
process.stdout.write(JSON.stringify({ results }));
