"""The PDF certificate: Polish text layer, QR code, PAdES signature (pyHanko and pdfsig), embedded
credentials that verify, cache invalidation, sanitised issuer templates, language choice."""

from __future__ import annotations

import io
import json

import pytest
import zxingcpp
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader

from hub.badges import services as badges
from hub.badges.models import Assertion, Issuer
from hub.certificates import keys, render
from hub.certificates import services as certificates
from hub.certificates.content import certificate_number
from hub.certificates.models import RenderedFile
from hub.credentials import dataintegrity, ob3keys
from hub.errors import ValidationError
from tests.hub.certificates.support import POLISH_LETTERS, POLISH_NAME, award, pdf_attachments, pdf_text, pdfsig


@pytest.fixture
def settings(settings):
    """These tests watch the certificate.render job: pre-rendering on (off by default)."""
    return settings.with_(prerender_certificates=True)


def _pdf(ctx, aid: str) -> bytes:
    with ctx.db.session_scope() as s:
        return certificates.certificate_pdf(s, ctx, s.query(Assertion).filter_by(public_id=aid).one())


def _align(ctx, badge_id: int):
    with ctx.db.session_scope() as s:
        from hub.badges.models import BadgeClass

        s.get(BadgeClass, badge_id).alignments = [
            {
                "targetName": "Komunikacja „w praktyce” – poziom zaawansowany",
                "targetUrl": "https://prk.example.pl/5",
                "targetFramework": "PRK",
                "targetCode": "5",
                "targetDescription": "Litery: ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ",
            }
        ]


def test_polish_letters_quotes_and_dash_survive_in_the_text_layer(client, ctx, factory):
    setup = factory.setup()
    _align(ctx, setup["badge_id"])
    aid = award(client, ctx, factory, setup=setup)
    text = pdf_text(_pdf(ctx, aid))
    assert POLISH_NAME in text
    assert "Zażółć gęślą jaźń" in text  # the badge's name
    assert "Szkoła Łódź" in text
    assert "Komunikacja „w praktyce” – poziom zaawansowany" in text
    assert "PRK" in text and "5" in text
    assert "Litery: ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ" in text
    for letter in POLISH_LETTERS:
        assert letter in text, letter
    assert certificate_number(aid) in text
    assert ctx.urls.assertion(aid) in text  # the verification URL printed in full


def test_qr_code_decodes_to_the_public_page(client, ctx, factory):
    aid = award(client, ctx, factory)
    page = PdfReader(io.BytesIO(_pdf(ctx, aid))).pages[0]
    decoded = []
    for img in page.images:
        pil = Image.open(io.BytesIO(img.data)).convert("L")
        decoded += [r.text for r in zxingcpp.read_barcodes(pil) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert decoded == [ctx.urls.assertion(aid)]


def test_signature_validates_with_pyhanko_and_pdfsig(client, ctx, factory, tmp_path):
    aid = award(client, ctx, factory)
    pdf = _pdf(ctx, aid)
    with ctx.db.session_scope() as s:
        issuer = s.query(Assertion).filter_by(public_id=aid).one().badge_class.issuer
        material = keys.load_material(ctx, keys.signing_row(s, ctx, issuer))
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=[material.certificate], allow_fetching=False))
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    out = pdfsig(path)
    assert "Signature is Valid" in out, out
    assert "Total document signed" in out, out
    assert "ETSI.CAdES.detached" in out, out
    tampered = pdf.replace(b"Szko", b"Szka", 1) if b"Szko" in pdf else pdf[:-300] + b"0" * 300
    path.write_bytes(tampered)
    assert "Signature is Valid" not in pdfsig(path)


def test_embedded_credential_verifies_and_matches_the_award(client, ctx, factory):
    aid = award(client, ctx, factory)
    files = pdf_attachments(_pdf(ctx, aid))
    assert set(files) == {"credential-ob3.json", "assertion-ob2.json"}
    cred = json.loads(files["credential-ob3.json"])
    assert cred["id"] == f"urn:uuid:{aid}" and "OpenBadgeCredential" in cred["type"]
    with ctx.db.session_scope() as s:
        issuer = s.query(Assertion).filter_by(public_id=aid).one().badge_class.issuer
        did = ob3keys.did_document(s, ctx, issuer)
    methods = {vm["id"]: vm for vm in did["verificationMethod"]}
    proof = dataintegrity.verify_proof(cred, lambda vm: ob3keys.public_from_multikey(methods[vm]["publicKeyMultibase"]))
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    ob2 = json.loads(files["assertion-ob2.json"])
    assert ob2["id"] == ctx.urls.assertion(aid) and ob2["recipient"]["hashed"] is True


def test_cached_until_revoked_then_marked_revoked(client, ctx, factory):
    aid = award(client, ctx, factory)
    with ctx.db.session_scope() as s:  # pre-rendered by the certificate.render job after the award
        assert {r.kind for r in s.query(RenderedFile)} == {"certificate.pdf", "preview.png"}
        stored = s.query(RenderedFile).filter_by(kind="certificate.pdf").one().data
    first = _pdf(ctx, aid)
    assert first == stored and _pdf(ctx, aid) == first  # cached: byte-identical, not re-signed
    with ctx.db.session_scope() as s:
        badges.revoke(s, ctx, s.query(Assertion).filter_by(public_id=aid).one(), "Plagiat – praca skopiowana")
    revoked = _pdf(ctx, aid)
    assert revoked != first
    text = pdf_text(revoked)
    assert "UNIEWAŻNIONY" in text and "Plagiat – praca skopiowana" in text
    with ctx.db.session_scope() as s:
        assert s.query(RenderedFile).filter_by(kind="certificate.pdf").count() == 1  # replaced, not added


def test_issuer_template_is_sandboxed_and_sanitised(client, ctx, factory):
    setup = factory.setup()
    aid = award(client, ctx, factory, setup=setup)
    with pytest.raises(ValidationError):
        render.check_css("body { background: url(http://evil.example/x.png) }")
    with pytest.raises(ValidationError):
        render.check_css("@import 'http://evil.example/a.css';")
    with pytest.raises(ValidationError):
        render.check_template("{% if %}")
    template = (
        "<h1 class='t'>{{ c.badge_name }} — {{ c.recipient_name }}</h1><script>alert('x')</script>"
        "<img src='http://169.254.169.254/latest/meta-data/'><img src='{{ badge_image }}' width='80'>"
        "<p>{{ c.__class__.__mro__ }}</p><p>{{ _('Date of issue') }}: {{ issued_on }}</p>"
    )
    cleaned = render.clean_html(template)
    assert "<script" not in cleaned and "169.254" not in cleaned
    with ctx.db.session_scope() as s:
        certificates.set_layout(s, s.get(Issuer, setup["issuer_id"]), html=template, css="h1.t { color: #123456; }")
    text = pdf_text(_pdf(ctx, aid))
    assert f"Zażółć gęślą jaźń — {POLISH_NAME}" in text
    assert "alert" not in text and "Data wydania" in text
    assert ctx.urls.assertion(aid) in text  # the verification footer is always added


def test_bilingual_certificate_has_both_languages(client, ctx, factory):
    setup = factory.setup()
    aid = award(client, ctx, factory, setup=setup)
    with ctx.db.session_scope() as s:
        certificates.set_layout(s, s.get(Issuer, setup["issuer_id"]), bilingual=True)
    text = pdf_text(_pdf(ctx, aid))
    assert "Data wydania / Date of issue" in text
    assert "Numer certyfikatu / Certificate number" in text
