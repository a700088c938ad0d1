"""The fast RDFC-1.0 path gives byte-identical output to pyld's general algorithm (property test).

Credentials are generated from a seeded random source: varied text (any script, quotes, backslashes,
tab/LF/CR), optional fields present or not, 0-4 alignments/evidence/tags, numbers, repeated values
and identical blank nodes (which must fall back to the general path), status list credentials and
proof configurations.
"""

from __future__ import annotations

import copy
import random

import pytest

from hub.credentials import jsonld
from hub.credentials.fastcanon import FastCanonicalizer, UnsafeText

ALPHABET = "abcXYZ 019 -_.:/?#[]@!$&'()*+,;=%\"\\\t\n\rżółćĘ日本語😀ß"


def text(rng: random.Random, n: int = 12) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, n)))


def iri(rng: random.Random) -> str:
    scheme = rng.choice(["https://x.example/", "urn:uuid:", "did:web:x.example:", "mailto:a@"])
    return scheme + "".join(rng.choice("abcdef0123456789-._~") for _ in range(rng.randint(1, 10)))


def credential(rng: random.Random) -> dict:
    ach = {
        "id": iri(rng),
        "type": ["Achievement"],
        "achievementType": rng.choice(["Badge", "MicroCredential", "Certificate", "ext:Hackathon"]),
        "name": text(rng),
        "description": text(rng, 40),
        "criteria": rng.choice([{"narrative": text(rng)}, {"id": iri(rng)}, {"id": iri(rng), "narrative": text(rng)}]),
    }
    if rng.random() < 0.7:
        ach["image"] = {"id": iri(rng), "type": "Image"}
    if rng.random() < 0.6:
        ach["alignment"] = [
            {
                "type": ["Alignment"],
                "targetName": text(rng),
                "targetUrl": iri(rng),
                "targetCode": text(rng, 4),
            }
            for _ in range(rng.randint(1, 4))
        ]
    if rng.random() < 0.5:
        ach["creditsAvailable"] = rng.choice([0.5, 1.0, 3, 12.25])
    for key in ("fieldOfStudy", "humanCode"):
        if rng.random() < 0.5:
            ach[key] = text(rng)
    if rng.random() < 0.5:
        ach["inLanguage"] = rng.choice(["pl", "en-GB", "de"])
    if rng.random() < 0.7:
        tags = [text(rng, 6) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.3:
            tags.append(tags[0])  # repeated value: one RDF triple
        ach["tag"] = tags
    identifiers = [
        {
            "type": "IdentityObject",
            "identityHash": "sha256$" + text(rng, 8),
            "identityType": t,
            "hashed": True,
            "salt": text(rng, 6),
        }
        for t in rng.sample(["emailAddress", "ltiUserId", "sourcedId"], rng.randint(1, 3))
    ]
    cred = {
        "@context": list(jsonld.OB3_CONTEXTS),
        "id": f"urn:uuid:{rng.getrandbits(64):x}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": iri(rng), "type": ["Profile"], "name": text(rng)},
        "validFrom": "2026-03-01T12:00:00Z",
        "name": text(rng),
        "credentialSubject": {"type": ["AchievementSubject"], "identifier": identifiers, "achievement": ach},
    }
    if rng.random() < 0.5:
        cred["validUntil"] = "2027-03-01T12:00:00Z"
    if rng.random() < 0.6:
        ev = [{"type": ["Evidence"], "narrative": text(rng)} for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.3:
            ev.append(copy.deepcopy(ev[0]))  # identical blank nodes: Hash N-Degree Quads needed
        cred["evidence"] = ev
    if rng.random() < 0.7:
        url = iri(rng)
        cred["credentialStatus"] = {
            "id": f"{url}#3",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": "3",
            "statusListCredential": url,
        }
    return cred


def proof_config(rng: random.Random) -> dict:
    return {
        "@context": list(jsonld.OB3_CONTEXTS),
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-03-01T12:00:00Z",
        "verificationMethod": iri(rng) + "#k",
        "proofPurpose": "assertionMethod",
    }


def status_list(rng: random.Random) -> dict:
    url = iri(rng)
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": iri(rng),
        "validFrom": "2026-03-01T12:00:00Z",
        "credentialSubject": {
            "id": url + "#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": "uH4sI" + text(rng, 5),
        },
    }


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_equals_general_algorithm(seed):
    rng = random.Random(seed)
    fast = FastCanonicalizer(max_shapes=64)
    for _ in range(60):
        doc = rng.choice([credential, credential, credential, proof_config, status_list])(rng)
        assert fast.canonize(doc) == jsonld.canonize_general(doc)
    assert fast.stats["fast"] > 0
    assert fast.stats["fast"] + fast.stats["general"] == 60


def test_falls_back_on_identical_blank_nodes():
    rng = random.Random(7)
    doc = credential(rng)
    doc["evidence"] = [
        {"type": ["Evidence"], "narrative": "same"},
        {"type": ["Evidence"], "narrative": "same"},
    ]
    fast = FastCanonicalizer()
    assert fast.canonize(doc) == jsonld.canonize_general(doc)
    assert fast.stats == {"fast": 0, "general": 1, "templates": 1}


def test_refuses_control_characters():
    doc = credential(random.Random(1))
    doc["name"] = "bell\x07"
    with pytest.raises(UnsafeText):
        FastCanonicalizer().canonize(doc)


def test_refuses_undefined_terms():
    doc = credential(random.Random(2))
    doc["notATerm"] = "would go unsigned"
    with pytest.raises(jsonld.CanonicalisationError):
        FastCanonicalizer().canonize(doc)


def test_loader_refuses_unpinned_contexts():
    doc = credential(random.Random(3))
    doc["@context"].append("https://example.org/evil-context.json")
    with pytest.raises(jsonld.ContextNotAllowed):
        FastCanonicalizer().canonize(doc)
