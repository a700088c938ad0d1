// Node baseline for bench/ob3_sign.py: @digitalcredentials/vc issuing the same credential with
// eddsa-rdfc-2022 (DataIntegrityProof), offline (bundled contexts). Run from tests/conformance's
// node_modules: NODE_PATH is not used for ESM, so this file is copied next to them by the Python side.
// stdin: {"credential": {...}, "seed": "<32-byte hex>", "controller": "<did>", "n": 200}
// stdout: {"perCredentialMs": ..., "n": ..., "sample": <one signed credential>}
import { readFileSync } from 'node:fs';
import * as vc from '@digitalcredentials/vc';
import { DataIntegrityProof } from '@digitalcredentials/data-integrity';
import { cryptosuite } from '@digitalcredentials/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalcredentials/ed25519-multikey';
import { securityLoader } from '@digitalcredentials/security-document-loader';

const input = JSON.parse(readFileSync(0, 'utf8'));
const documentLoader = securityLoader({ fetchRemoteContexts: false }).build();
const keyPair = await Ed25519Multikey.generate({ seed: Buffer.from(input.seed, 'hex'), controller: input.controller });
keyPair.id = input.verificationMethod;
const signer = keyPair.signer();
const date = new Date(input.created);

async function once() {
  const suite = new DataIntegrityProof({ signer, cryptosuite, date });
  return vc.issue({ credential: structuredClone(input.credential), suite, documentLoader });
}

let sample;
for (let i = 0; i < 20; i++) sample = await once(); // warm-up (JIT, context caches)
const t0 = process.hrtime.bigint();
for (let i = 0; i < input.n; i++) JSON.stringify(await once());
const ns = Number(process.hrtime.bigint() - t0);
process.stdout.write(JSON.stringify({ perCredentialMs: ns / 1e6 / input.n, n: input.n, sample }));
