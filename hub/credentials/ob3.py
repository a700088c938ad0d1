"""Open Badges 3.0 ``OpenBadgeCredential`` from the same award rows as the OB 2.0 assertion.

Spec: https://www.imsglobal.org/spec/ob/v3p0/ (Final Release; context 3.0.3 on VC Data Model 2.0).
Two proof formats, from one unsigned credential (:func:`credential_json`):

- Data Integrity (default): ``proof: [DataIntegrityProof eddsa-rdfc-2022]`` by the issuer's Ed25519
  Multikey (:mod:`hub.credentials.dataintegrity`); served as ``application/vc+ld+json``.
- VC-JWT (OB 3.0 §8.2, VC-JOSE): a compact JWS whose payload is the credential plus the registered
  claims ``iss`` (issuer id), ``jti`` (credential id), ``nbf`` (validFrom), ``exp`` (validUntil, when
  set) and ``sub`` only when the subject has an ``id`` (:func:`jwt_claims`); header ``alg`` RS256
  (default), ES256 or EdDSA, ``typ: JWT`` and a ``kid`` that resolves in the issuer's DID document. Its
  ``credentialStatus`` names the status list's VC-JWT form.

The credential's id is ``urn:uuid:<assertion public id>``; the learner is named only by hashed
IdentityObjects (e-mail, and ``ltiUserId`` / ``sourcedId`` when an LMS supplied them), salted with the
assertion's salt. Strings with control characters (U+0000-U+001F except tab, LF, CR; U+007F), which
canonicalise differently across implementations, are cleaned by :func:`clean_text` as the credential
is built, so a credential never carries them; input validation should use it too.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.badges.recipient import hash_identity
from hub.context import HubContext
from hub.credentials import dataintegrity, numbers, ob3keys
from hub.credentials.baking import OB3_SVG_NS, bake_png, bake_svg
from hub.credentials.fastcanon import UNSAFE_CHARS
from hub.credentials.jsonld import OB3_CONTEXTS
from hub.credentials.models import (
    JWT_ALGORITHMS,
    PROOF_DATA_INTEGRITY,
    PROOF_VC_JWT,
    AchievementDetails,
    CredentialStatusEntry,
    RecipientIdentifier,
    StoredCredential,
)
from hub.credentials.status import allocate_status, status_entry, status_entry_json
from hub.db import utcnow
from hub.errors import ValidationError
from hub.frameworks import microcredentials
from hub.frameworks import services as frameworks
from hub.timefmt import isoformat_z, parse_timestamp

log = logging.getLogger(__name__)

PNG_KEYWORD = "openbadgecredential"
MEDIA_TYPE_LD = "application/vc+ld+json"
MEDIA_TYPE_JWT = "text/plain"  # as the issue asks; the VC-JOSE media type is application/vc+jwt
LMS_IDENTITY_TYPES = ("ltiUserId", "sourcedId")


def clean_text(value: str | None) -> str | None:
    """``value`` without the control characters that canonicalise differently (see module docstring)."""
    if value is None:
        return None
    return UNSAFE_CHARS.sub("", value)


def record_lms_identity(
    session: Session, ctx: HubContext, assertion: Assertion, identity_type: str, value: str
) -> None:
    """Keep an LMS identity of the recipient (hashed with the assertion's salt) for the credential, and
    sign the award's stored credentials again with it (:func:`store_credentials`; the caller's
    transaction, the award's own: nothing signed is ever out of date).

    Args:
        identity_type: ``ltiUserId`` (the LTI ``sub``) or ``sourcedId`` (LIS person sourcedId).

    Raises:
        ValidationError: unknown ``identity_type`` or empty ``value``.
    """
    if identity_type not in LMS_IDENTITY_TYPES or not (value or "").strip():
        raise ValidationError(f"cannot record identity {identity_type!r}", field="identity_type")
    hashed = hash_identity(value.strip(), assertion.recipient_salt)
    row = session.scalars(
        select(RecipientIdentifier).filter_by(assertion_id=assertion.id, identity_type=identity_type)
    ).first()
    if row is None:
        session.add(RecipientIdentifier(assertion_id=assertion.id, identity_type=identity_type, identity_hash=hashed))
    else:
        row.identity_hash = hashed
    session.flush()
    session.execute(delete(StoredCredential).where(StoredCredential.assertion_id == assertion.id))
    store_credentials(session, ctx, [assertion])


def _image(url: str) -> dict:
    return {"id": url, "type": "Image"}


def _put(obj: dict, key: str, value) -> None:
    """Set ``obj[key]`` to the cleaned value when there is one (OB 3.0 omits absent optional fields)."""
    if isinstance(value, str):
        value = clean_text(value).strip()
    if value not in (None, "", [], {}):
        obj[key] = value


def profile_json(session: Session, ctx: HubContext, issuer: Issuer) -> dict:
    """The issuer as an OB 3.0 ``Profile`` (https://www.imsglobal.org/spec/ob/v3p0/#profile)."""
    profile = {"id": ob3keys.issuer_id(session, ctx, issuer), "type": ["Profile"]}
    _put(profile, "name", issuer.name)
    _put(profile, "url", issuer.url)
    _put(profile, "email", issuer.email)
    _put(profile, "description", issuer.description)
    if issuer.image:
        profile["image"] = _image(ctx.urls.issuer_image(issuer.public_id))
    return profile


def _alignment(a: dict) -> dict | None:
    out = {"type": ["Alignment"]}
    for key in (
        "targetName",
        "targetUrl",
        "targetDescription",
        "targetFramework",
        "targetCode",
        "targetType",
    ):
        _put(out, key, a.get(key))
    return out if "targetName" in out and "targetUrl" in out else None


def grade_description_id(ctx: HubContext, badge: BadgeClass) -> str:
    """The id of the badge class's ResultDescription for the grade achieved (micro-credential element)."""
    return ctx.urls.badge_class(badge.public_id) + "#grade"


def achievement_json(session: Session, ctx: HubContext, badge: BadgeClass, *, graded: bool = False) -> dict:
    """The badge class as an OB 3.0 ``Achievement`` (https://www.imsglobal.org/spec/ob/v3p0/#achievement).

    ``alignment``: the static alignments, EQF/PRK levels and learning outcomes' descriptors
    (:func:`hub.frameworks.services.badge_alignments`); a micro-credential also gets its
    ``microCredential`` extension (:mod:`hub.frameworks.microcredentials`); ``graded`` adds the
    ``resultDescription`` a grade ``Result`` refers to.
    """
    details = session.scalars(select(AchievementDetails).filter_by(badge_class_id=badge.id)).first()
    ach = {"id": ctx.urls.badge_class(badge.public_id), "type": ["Achievement"]}
    ach["achievementType"] = details.achievement_type if details else "Badge"
    _put(ach, "name", badge.name)
    _put(ach, "description", badge.description)
    criteria = {}
    _put(criteria, "id", badge.criteria_url)
    _put(criteria, "narrative", badge.criteria_narrative)
    ach["criteria"] = criteria or {"id": ctx.urls.criteria(badge.public_id)}
    ach["image"] = _image(ctx.urls.badge_image(badge.public_id))
    _put(ach, "alignment", [x for x in map(_alignment, frameworks.badge_alignments(session, badge)) if x])
    if details:
        credits = numbers.portable_amount(details.credits_available)
        if credits is not None:
            ach["creditsAvailable"] = credits
        _put(ach, "fieldOfStudy", details.field_of_study)
        _put(ach, "humanCode", details.human_code)
        _put(ach, "inLanguage", details.in_language)
    _put(ach, "tag", [t for t in (clean_text(str(t)).strip() for t in badge.tags or []) if t])
    if graded:
        ach["resultDescription"] = [
            {
                "id": grade_description_id(ctx, badge),
                "type": ["ResultDescription"],
                "name": "Uzyskana ocena"
                if frameworks.credential_language(session, badge) == "pl"
                else "Grade achieved",
                "resultType": "ext:Grade",
            }
        ]
    extension = microcredentials.extension_json(session, badge)
    _path_links(session, ctx, badge, ach, extension)
    if extension is not None:
        ach["microCredential"] = extension
    return ach


#: ``targetType`` of an alignment to a development path (an extension value, OB 3.0 AlignmentTargetType).
PATH_TARGET_TYPE = "ext:DevelopmentPath"


def _path_links(session: Session, ctx: HubContext, badge: BadgeClass, ach: dict, extension: dict | None) -> None:
    """Point the Achievement to the development paths it belongs to (:mod:`hub.paths`): an
    ``alignment`` to each path's public page (``targetType`` :data:`PATH_TARGET_TYPE`), ``related``
    (OB 3.0 Related, https://www.imsglobal.org/spec/ob/v3p0/#related) to the completion badge of a path
    it is a step of, or to the steps of a path it completes, and the micro-credential "integration /
    stackability" element (``stackability: stackable``, ``stackableTowards`` the path) when the
    issuer left it unset."""
    from hub.paths.services import paths_of_badge

    found = paths_of_badge(session, badge.id)
    if not found:
        return
    alignments, related = list(ach.get("alignment") or []), []
    for path in found:
        url = ctx.urls.path(path.public_id)
        completes = path.completion_badge_id == badge.id
        alignments.append(
            {
                "type": ["Alignment"],
                "targetName": clean_text(path.name),
                "targetUrl": url,
                "targetDescription": "Completion badge of this development path"
                if completes
                else "A step of this development path",
                "targetType": PATH_TARGET_TYPE,
            }
        )
        if completes:
            related += [ctx.urls.badge_class(s.badge_class.public_id) for s in path.steps if s.badge_class is not None]
        else:
            related.append(ctx.urls.badge_class(path.completion_badge.public_id))
            if extension is not None and not extension.get("stackableTowards"):
                extension["stackability"] = "stackable"
                extension["stackableTowards"] = url
    ach["alignment"] = alignments
    seen: list[str] = []
    for url in related:
        if url not in seen:
            seen.append(url)
    if seen:
        ach["related"] = [{"id": url, "type": ["Related"]} for url in seen]


def _identity(identity_type: str, identity_hash: str, salt: str) -> dict:
    return {
        "type": "IdentityObject",
        "identityHash": identity_hash,
        "identityType": identity_type,
        "hashed": True,
        "salt": salt,
    }


def _evidence(e: dict) -> dict | None:
    out = {"type": ["Evidence"]}
    for key in ("id", "narrative", "name", "description", "genre", "audience"):
        _put(out, key, e.get(key))
    return out if len(out) > 1 else None


def credential_json(
    session: Session,
    ctx: HubContext,
    assertion: Assertion,
    proof_format: str = PROOF_DATA_INTEGRITY,
    subject_id: str | None = None,
    *,
    entry: CredentialStatusEntry | None = None,
    memo: dict | None = None,
) -> dict:
    """The unsigned ``OpenBadgeCredential`` of ``assertion``; read only (its status entry and the
    issuer's keys come from the award, see :func:`prepare`).

    Shape: ``@context`` (VC 2.0 + OB 3.0.3), ``id`` urn:uuid, ``type``, ``issuer`` Profile,
    ``validFrom``/``validUntil`` (``issued_on``/``expires``), ``name``/``description``/``image`` of the
    badge, ``credentialSubject`` AchievementSubject with hashed ``identifier``s and the
    ``achievement``, ``evidence``, and ``credentialStatus`` (BitstringStatusListEntry). ``subject_id``:
    the holder's DID as ``credentialSubject.id`` (a credential bound to a wallet's key,
    :mod:`hub.wallets.services`).

    ``entry``: the status entry when the caller has it (the award batch), else it is looked up;
    ``memo``: a dict the caller keeps for a batch of one transaction, in which the issuer's Profile and
    each badge class's Achievement are built once (they are the same for every award of the batch).
    """
    badge = assertion.badge_class
    memo = {} if memo is None else memo
    facts = memo.get(("facts", assertion.id))  # preloaded by store_credentials for its batch
    grade = facts.grade if facts else frameworks.grade_of(session, assertion)
    graded = grade is not None
    if ("achievement", badge.id, graded) not in memo:
        memo["achievement", badge.id, graded] = achievement_json(session, ctx, badge, graded=graded)
    if ("profile", badge.issuer_id) not in memo:
        memo["profile", badge.issuer_id] = profile_json(session, ctx, badge.issuer)
    subject: dict = {"id": subject_id} if subject_id else {}
    subject |= {
        "type": ["AchievementSubject"],
        "identifier": [_identity("emailAddress", assertion.recipient_identity, assertion.recipient_salt)],
        "achievement": memo["achievement", badge.id, graded],
    }
    identifiers = (
        facts.identifiers
        if facts
        else session.scalars(
            select(RecipientIdentifier).filter_by(assertion_id=assertion.id).order_by(RecipientIdentifier.identity_type)
        ).all()
    )
    for row in identifiers:
        subject["identifier"].append(_identity(row.identity_type, row.identity_hash, assertion.recipient_salt))
    _put(subject, "narrative", assertion.narrative)
    results = []
    if grade is not None:
        results.append({"type": ["Result"], "resultDescription": grade_description_id(ctx, badge), "value": grade})
    achieved_raw = facts.achieved if facts else frameworks.achieved_alignments(session, assertion)
    achieved = [x for x in map(_alignment, achieved_raw) if x]
    if achieved:
        # the outcomes this award achieved (mapped from the platform's), beside the badge class's list
        results.append({"type": ["Result"], "alignment": achieved})
    _put(subject, "result", results)

    contexts = list(OB3_CONTEXTS)
    if "microCredential" in subject["achievement"]:
        contexts.append(microcredentials.context_url(ctx))
    cred = {
        "@context": contexts,
        "id": f"urn:uuid:{assertion.public_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": memo["profile", badge.issuer_id],
        "validFrom": isoformat_z(assertion.issued_on),
    }
    if assertion.expires is not None:
        cred["validUntil"] = isoformat_z(assertion.expires)
    _put(cred, "name", badge.name)
    _put(cred, "description", badge.description)
    cred["image"] = _image(ctx.urls.badge_image(badge.public_id))
    cred["credentialSubject"] = subject
    _put(cred, "evidence", [x for x in map(_evidence, assertion.evidence or []) if x])
    cred["credentialStatus"] = status_entry_json(
        ctx, entry or status_entry(session, assertion), jwt=proof_format == PROOF_VC_JWT
    )
    return cred


def prepare(session: Session, ctx: HubContext, assertion: Assertion) -> None:
    """Make what issuing ``assertion``'s credential needs and the award normally made already: the
    issuer's OB 3.0 keys (:func:`hub.credentials.ob3keys.ensure_keys`) and the status entry
    (:func:`hub.credentials.status.allocate_status`). For write paths (the certificate job); a no-op,
    one look-up, when both exist."""
    ob3keys.ensure_keys(session, ctx, assertion.badge_class.issuer)
    allocate_status(session, assertion)


def sign_data_integrity(
    session: Session, ctx: HubContext, issuer: Issuer, document: dict, created: datetime | None = None
) -> dict:
    """``document`` with the issuer's eddsa-rdfc-2022 proof (see :func:`dataintegrity.add_proof`)."""
    key = ob3keys.load_signing_key(session, ctx, issuer, "Ed25519")
    return dataintegrity.add_proof(document, key.private, key.vm_id, created or utcnow())


def jwt_claims(credential: dict) -> dict:
    """The VC-JWT payload (OB 3.0 §8.2.4.1, https://www.imsglobal.org/spec/ob/v3p0/#jwt-proof): the
    credential itself (no ``vc`` wrapper) plus the registered claims

    - ``iss``: ``issuer.id``; ``jti``: the credential's ``id``;
    - ``nbf``: ``validFrom``; ``exp``: ``validUntil``, only when the credential has one;
    - ``sub``: ``credentialSubject.id``, only when the subject has an ``id`` (the hub's learners are
      named by hashed ``identifier``s, which are not a subject id: a ``sub`` would be a claim that
      disagrees with the credential, and verifiers such as openbadgeslib reject it).

    Times are NumericDate (whole seconds since the epoch, UTC).
    """
    claims = dict(credential)
    issuer = credential["issuer"]
    claims["iss"] = issuer["id"] if isinstance(issuer, dict) else issuer
    claims["jti"] = credential["id"]
    claims["nbf"] = int(parse_timestamp(credential["validFrom"]).timestamp())
    subject = credential["credentialSubject"]
    subject = subject[0] if isinstance(subject, list) and subject else subject
    if isinstance(subject, dict) and subject.get("id"):
        claims["sub"] = subject["id"]
    if "validUntil" in credential:
        claims["exp"] = int(parse_timestamp(credential["validUntil"]).timestamp())
    return claims


_JOSE_KEY = {"RS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey}


def sign_vc_jwt(
    session: Session, ctx: HubContext, issuer: Issuer, credential: dict, algorithm: str | None = None
) -> str:
    """The credential as a compact JWS (VC-JWT). ``algorithm`` defaults to the issuer's setting.

    Raises:
        ValidationError: an algorithm other than RS256, ES256, EdDSA; ``DidKeyAlgorithm`` (422, field
            ``alg``) when a did:key issuer is asked for anything but EdDSA.
        ServiceUnavailable: the issuer has no such key yet.
    """
    algorithm = algorithm or ob3keys.settings_for(session, issuer).jwt_algorithm
    if algorithm not in JWT_ALGORITHMS:
        raise ValidationError(f"unsupported VC-JWT algorithm {algorithm!r}", field="alg")
    return vc_jwt(credential, ob3keys.load_signing_key(session, ctx, issuer, algorithm), algorithm)


def status_list_jwt(session: Session, ctx: HubContext, issuer: Issuer, document: dict) -> str:
    """An unsigned BitstringStatusListCredential as a VC-JWT (claims as :func:`jwt_claims`), signed
    with the issuer's status-list key (:func:`hub.credentials.ob3keys.status_list_algorithm`: its
    default VC-JWT algorithm, EdDSA for did:key), the first verification method of its DID document,
    where JWT-only verifiers look for the list's key."""
    algorithm = ob3keys.status_list_algorithm(session, issuer)
    return vc_jwt(document, ob3keys.load_signing_key(session, ctx, issuer, algorithm), algorithm)


def vc_jwt(credential: dict, key: ob3keys.SigningKey, algorithm: str) -> str:
    """Compact JWS of :func:`jwt_claims` with header ``alg``, ``typ: JWT``, ``kid`` = ``key.vm_id``."""
    jose_key = _JOSE_KEY[algorithm].import_key(key.private)
    header = {"alg": algorithm, "typ": "JWT", "kid": key.vm_id}
    payload = json.dumps(jwt_claims(credential), ensure_ascii=False, separators=(",", ":"))
    return jws.serialize_compact(header, payload.encode("utf-8"), jose_key, algorithms=[algorithm])


@dataclass(frozen=True)
class IssuedCredential:
    """A signed credential: ``format`` is ``data-integrity`` (``document`` set, ``text`` its JSON) or
    ``vc-jwt`` (``text`` the compact JWS, ``document`` the unsigned credential)."""

    format: str
    document: dict
    text: str

    @property
    def media_type(self) -> str:
        return MEDIA_TYPE_LD if self.format == PROOF_DATA_INTEGRITY else MEDIA_TYPE_JWT


def _compact(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def issue(
    session: Session,
    ctx: HubContext,
    assertion: Assertion,
    proof_format: str | None = None,
    algorithm: str | None = None,
    subject_id: str | None = None,
) -> IssuedCredential:
    """The signed OB 3.0 credential of ``assertion`` in ``proof_format`` (default: issuer setting): the
    one stored at award time (:func:`store_credentials`), byte for byte, when there is one (and, for
    VC-JWT, ``algorithm`` is None or the stored one's); else built and signed now, in memory only (an
    award made before credentials were stored, a VC-JWT asked for with another ``alg``, or a credential
    bound to a holder). Read only, so public GETs may call it (:func:`prepare` first on a write path
    that may meet an award made before keys and status lists). ``subject_id``: ``credentialSubject.id``
    (the VC-JWT then carries it as ``sub``), for a credential bound to a holder (a wallet's key).

    Raises:
        ValidationError: unknown ``proof_format`` or ``algorithm``.
        ServiceUnavailable: the issuer's key or the credential's status entry is not made yet.
    """
    issuer = assertion.badge_class.issuer
    proof_format = proof_format or ob3keys.settings_for(session, issuer).proof_format
    row = None if subject_id else stored_credential(session, assertion.id, proof_format)
    if row is not None and (algorithm is None or algorithm == row.algorithm or proof_format == PROOF_DATA_INTEGRITY):
        return from_stored(row.proof_format, row.text)
    cred = credential_json(session, ctx, assertion, proof_format, subject_id)
    if proof_format == PROOF_DATA_INTEGRITY:
        signed = sign_data_integrity(session, ctx, issuer, cred, created=assertion.issued_on)
        return IssuedCredential(proof_format, signed, _compact(signed))
    if proof_format == PROOF_VC_JWT:
        return IssuedCredential(proof_format, cred, sign_vc_jwt(session, ctx, issuer, cred, algorithm))
    raise ValidationError(f"unknown proof format {proof_format!r}", field="format")


def forget_stored(session: Session, issuer_id: int) -> int:
    """Drop the stored credentials of the issuer's awards (its profile or its credential settings changed:
    the console promises that a change applies to every credential served from then on, earlier awards
    included); they are then built and signed per request, as awards made before credentials were
    stored are (:func:`issue`). Returns the number of rows dropped."""
    awards = select(Assertion.id).join(BadgeClass, Assertion.badge_class_id == BadgeClass.id)
    awards = awards.where(BadgeClass.issuer_id == issuer_id)
    result = session.execute(delete(StoredCredential).where(StoredCredential.assertion_id.in_(awards)))
    return int(getattr(result, "rowcount", 0) or 0)


def stored_credential(session: Session, assertion_id: int, proof_format: str) -> StoredCredential | None:
    """The credential stored at award time for ``assertion_id`` (the row's primary key) in
    ``proof_format``, or None (one indexed look-up)."""
    return session.scalars(
        select(StoredCredential).where(
            StoredCredential.assertion_id == assertion_id, StoredCredential.proof_format == proof_format
        )
    ).first()


def from_stored(proof_format: str, text: str) -> IssuedCredential:
    """An :class:`IssuedCredential` of stored ``text`` (``document`` parsed from it; for VC-JWT the
    unsigned credential, i.e. the JWS payload without the registered claims)."""
    if proof_format == PROOF_DATA_INTEGRITY:
        return IssuedCredential(proof_format, json.loads(text), text)
    claims = json.loads(jws.extract_compact(text.encode()).payload)
    for claim in ("iss", "jti", "nbf", "exp", "sub"):
        claims.pop(claim, None)
    return IssuedCredential(proof_format, claims, text)


@dataclass(frozen=True)
class _AwardFacts:
    grade: str | None
    identifiers: list
    achieved: list[dict]


def _preload_facts(session: Session, assertions: list[Assertion], memo: dict) -> None:
    """Each award's grade, further identities and achieved alignments for :func:`credential_json`, in
    one query each for the whole batch (instead of four look-ups per award)."""
    from hub.frameworks.models import AchievedAlignment, AwardGrade

    ids = [a.id for a in assertions]
    if not ids:
        return
    grades = dict(
        session.execute(select(AwardGrade.assertion_id, AwardGrade.grade).where(AwardGrade.assertion_id.in_(ids))).all()
    )
    identifiers: dict[int, list] = {}
    for row in session.scalars(
        select(RecipientIdentifier)
        .where(RecipientIdentifier.assertion_id.in_(ids))
        .order_by(RecipientIdentifier.assertion_id, RecipientIdentifier.identity_type)
    ):
        identifiers.setdefault(row.assertion_id, []).append(row)
    achieved: dict[int, list] = {}
    rows = session.scalars(
        select(AchievedAlignment)
        .where(AchievedAlignment.assertion_id.in_(ids))
        .options(joinedload(AchievedAlignment.descriptor))
        .order_by(AchievedAlignment.id)
    ).all()
    if rows:
        by_id = {a.id: a for a in assertions}
        langs: dict[int, str] = {}
        for r in rows:
            badge = by_id[r.assertion_id].badge_class
            if badge.id not in langs:
                langs[badge.id] = frameworks.credential_language(session, badge)
            achieved.setdefault(r.assertion_id, []).append(frameworks.alignment(r.descriptor, langs[badge.id]))
    for a in assertions:
        memo["facts", a.id] = _AwardFacts(grades.get(a.id), identifiers.get(a.id, []), achieved.get(a.id, []))


def store_credentials(
    session: Session,
    ctx: HubContext,
    assertions: list[Assertion],
    entries: list[CredentialStatusEntry] | None = None,
) -> list[StoredCredential]:
    """Sign and store the OB 3.0 credentials of awards made in this transaction: for each, the Data
    Integrity JSON (eddsa-rdfc-2022, ``created`` = ``issued_on``) and the VC-JWT (the issuer's
    ``jwt_algorithm`` of this moment), as :func:`issue` would make them; rows are added to the session.

    Signed at award time, not on first request: a public GET never writes, an award's credential is
    in the database from the commit that made the award (as its OB 2.0 signature is), and what it
    says is what was awarded, whatever is edited later. Within the call the issuer's Profile, each
    Achievement and each signing key are made or loaded once.

    Args:
        entries: the awards' status entries, in the same order (from
            :func:`hub.credentials.status.allocate_statuses`); looked up when None.

    Raises:
        ServiceUnavailable: an issuer without OB 3.0 keys, or an award without a status entry.
    """
    memo: dict = {}
    _preload_facts(session, assertions, memo)
    keys: dict[tuple[int, str], ob3keys.SigningKey] = {}

    def key(issuer: Issuer, algorithm: str) -> ob3keys.SigningKey:
        if (issuer.id, algorithm) not in keys:
            keys[issuer.id, algorithm] = ob3keys.load_signing_key(session, ctx, issuer, algorithm)
        return keys[issuer.id, algorithm]

    rows = []
    for i, assertion in enumerate(assertions):
        issuer = assertion.badge_class.issuer
        entry = entries[i] if entries is not None else status_entry(session, assertion)
        cred = credential_json(session, ctx, assertion, PROOF_DATA_INTEGRITY, entry=entry, memo=memo)
        ed = key(issuer, "Ed25519")
        signed = dataintegrity.add_proof(cred, ed.private, ed.vm_id, assertion.issued_on)
        if ("jwt_algorithm", issuer.id) not in memo:
            memo["jwt_algorithm", issuer.id] = ob3keys.settings_for(session, issuer).jwt_algorithm
        algorithm = memo["jwt_algorithm", issuer.id]
        jwt_cred = {**cred, "credentialStatus": status_entry_json(ctx, entry, jwt=True)}
        token = vc_jwt(jwt_cred, key(issuer, algorithm), algorithm)
        rows += [
            StoredCredential(
                assertion_id=assertion.id, proof_format=PROOF_DATA_INTEGRITY, algorithm="Ed25519", text=_compact(signed)
            ),
            StoredCredential(assertion_id=assertion.id, proof_format=PROOF_VC_JWT, algorithm=algorithm, text=token),
        ]
    session.add_all(rows)
    session.flush()
    return rows


def bake(image: bytes, image_type: str, issued: IssuedCredential) -> bytes:
    """The badge image with the credential baked in (OB 3.0 §5.3, "Baking").

    PNG: one uncompressed iTXt chunk ``openbadgecredential`` with the JSON or the compact JWS.
    SVG: ``<openbadges:credential xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0">`` with the
    JSON in CDATA, or the JWS in its ``verify`` attribute.

    Raises:
        ImageError: the image cannot be baked; ValidationError: another image type.
    """
    if image_type == "image/png":
        return bake_png(image, PNG_KEYWORD, issued.text)
    if image_type == "image/svg+xml":
        if issued.format == PROOF_VC_JWT:
            return bake_svg(image, tag="credential", ns=OB3_SVG_NS, verify=issued.text)
        return bake_svg(image, tag="credential", ns=OB3_SVG_NS, json_text=issued.text)
    raise ValidationError(f"cannot bake into {image_type}", field="image_type")
