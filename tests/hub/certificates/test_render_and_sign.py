"""What the fast paths of rendering and signing must keep: print-size images, images of uploaded
templates, and PAdES signatures by an uploaded RSA certificate with a CA chain (a larger CMS than the
self-issued EC one, so the fixed ``/Contents`` size is exercised)."""

from __future__ import annotations

import io
from datetime import timedelta

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader

from hub.badges.models import Assertion, Issuer
from hub.certificates import keys, render
from hub.certificates import services as certificates
from hub.db import utcnow
from tests.hub.certificates.support import award, pdfsig


def _png(size: tuple[int, int], colour=(200, 30, 30, 255)) -> bytes:
    image = Image.new("RGBA", size, (0, 0, 0, 0))  # transparent corners, as round badges have
    image.paste(colour, (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _pdf(ctx, aid: str) -> bytes:
    with ctx.db.session_scope() as s:
        return certificates.certificate_pdf(s, ctx, s.query(Assertion).filter_by(public_id=aid).one())


def test_print_image_is_a_print_size_jpeg_on_white_and_svg_passes_through():
    data, media_type = render.print_image(_png((512, 512)), "image/png", render.BADGE_PX, render.BADGE_PX)
    assert media_type == "image/jpeg"
    image = Image.open(io.BytesIO(data))
    side = round(render.BADGE_PX * render.PRINT_DPI / 96)
    assert image.format == "JPEG" and image.size == (side, side)
    assert image.getpixel((0, 0)) == (255, 255, 255)  # transparency composited onto the white page
    assert render.print_image(_png((512, 512)), "image/png", render.BADGE_PX, render.BADGE_PX)[0] is data  # kept
    assert render.print_image(_png((8, 8)), "image/png", 120, 120)[0][:2] == b"\xff\xd8"  # never enlarged, JPEG
    assert Image.open(io.BytesIO(render.print_image(_png((8, 8)), "image/png", 120, 120)[0])).size == (8, 8)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>'
    assert render.print_image(svg, "image/svg+xml", 120, 120) == (svg, "image/svg+xml")


def test_default_certificate_embeds_the_badge_as_print_size_jpeg(client, ctx, factory):
    setup = factory.setup(image=_png((512, 512)))
    aid = award(client, ctx, factory, setup=setup)
    page = PdfReader(io.BytesIO(_pdf(ctx, aid))).pages[0]
    sizes = sorted(Image.open(io.BytesIO(img.data)).size for img in page.images)
    side = round(render.BADGE_PX * render.PRINT_DPI / 96)
    assert (side, side) in sizes  # the badge, not its 512 px original
    assert (512, 512) not in sizes


def test_uploaded_template_images_reach_the_pdf(client, ctx, factory):
    setup = factory.setup(image=_png((64, 64)))
    aid = award(client, ctx, factory, setup=setup)
    with ctx.db.session_scope() as s:
        template = "<p>{{ c.badge_name }}</p><img src='{{ badge_image }}' width='80'>"
        certificates.set_layout(s, s.get(Issuer, setup["issuer_id"]), html=template)
    page = PdfReader(io.BytesIO(_pdf(ctx, aid))).pages[0]
    sizes = sorted(Image.open(io.BytesIO(img.data)).size for img in page.images)
    assert (64, 64) in sizes  # the issuer's own template gets the original image (its page may not be white)
    assert len(sizes) == 2  # and the QR code of the footer


def _pkcs12_with_chain(name: str) -> tuple[bytes, x509.Certificate]:
    """A PKCS#12 (passphrase "secret") of an RSA-3072 leaf issued by an RSA-3072 CA, and the CA."""
    now = utcnow()
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA – Łódź")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return pkcs12.serialize_key_and_certificates(
        b"issuer", key, leaf, [ca], serialization.BestAvailableEncryption(b"secret")
    ), ca


def test_uploaded_rsa_certificate_with_chain_signs_and_validates(client, ctx, factory, tmp_path):
    setup = factory.setup()
    aid = award(client, ctx, factory, setup=setup)
    p12, ca = _pkcs12_with_chain("Szkoła Łódź")
    with ctx.db.session_scope() as s:
        keys.upload_pkcs12(s, ctx, s.get(Issuer, setup["issuer_id"]), p12, "secret")
    pdf = _pdf(ctx, aid)
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    root = asn1_x509.Certificate.load(ca.public_bytes(serialization.Encoding.DER))
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=[root], allow_fetching=False))
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert len(sig.signed_data["certificates"]) == 2  # leaf and CA travel in the CMS
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    assert "Signature is Valid" in pdfsig(path)
