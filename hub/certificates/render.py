"""HTML/CSS -> A4 PDF with xhtml2pdf: fonts, QR code, templates (default and uploaded, sandboxed).

- Fonts (:mod:`hub.certificates.fonts`): DejaVu Sans (``hub/data/fonts``) and the bundled Noto
  families are registered once per process with ReportLab, so Polish letters, „quotes”, and names in
  Greek, Cyrillic, Arabic, Hebrew, Devanagari, Thai or CJK land in the text layer as themselves; the
  template's ``font`` variable lists the families one document needs, and xhtml2pdf takes each glyph
  from the first that has it. Registering per render (an ``@font-face`` rule) would re-parse the TTFs
  every time.
- Resources: every image goes in as a ``data:`` URI and xhtml2pdf renders under
  ``ResourceAccessPolicy.server(None, allow_remote=False)``: no network, no local file reads, with
  size and time limits, whatever a template says.
- Uploaded templates: the Jinja body runs in :class:`hub.certificates.sandbox.CertificateSandbox`
  (Jinja's immutable sandbox with limits on loop steps, text built, output and time), its output is
  cleaned with nh3 (Ammonia) to an allow-list of layout tags and may be at most :data:`MAX_BODY`
  characters without its images; its CSS is checked by :func:`check_css` (tinycss2): no ``@import``,
  no ``url()``. :func:`check_template` fills a template in with sample content before it is saved;
  :func:`render_pdf` falls back to the default template (and logs why) when an issuer's template
  still fails, so a learner always gets a certificate.
- Language: ``_()`` in templates gives one language or, for a bilingual certificate, "pl / en".
- Speed (bench/pdf.py): the default template's raster images go in as JPEG at print size
  (:func:`print_image`), which ReportLab embeds as they are; a PNG it would decode, re-compress and
  split into colour and alpha on every render (a 512 px badge took ~15 ms). ReportLab writes
  streams Flate-compressed only, not also ASCII85 (``rl_config.useA85``; the PDF is binary anyway),
  and its C accelerator ``rl_accel`` is a dependency.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import jinja2
import nh3
import qrcode
import qrcode.constants
import tinycss2
from babel.dates import format_date
from babel.numbers import format_decimal
from markupsafe import Markup
from PIL import Image, UnidentifiedImageError
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy

from hub.certificates import fonts, sandbox
from hub.certificates.content import (
    Aligned,
    CertificateContent,
    LearningOutcomeLine,
    Outcome,
    certificate_number,
    isolated,
)
from hub.errors import HubError, ValidationError
from hub.i18n import N_, number, translations
from hub.i18n import lazy as _l

log = logging.getLogger(__name__)

HUB_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = HUB_DIR / "web" / "templates"
FONT_FAMILY = fonts.BASE_FAMILY
# Printed sizes of the default template's images (CSS px, 96 per inch) and the resolution they are
# prepared at: 240 dpi is print quality at these sizes and keeps the data: URIs, which html5lib
# scans character by character, small.
BADGE_PX = 120
LOGO_PX = 48
PRINT_DPI = 240
JPEG_QUALITY = 90

ALLOWED_TAGS = {
    "div", "p", "span", "h1", "h2", "h3", "h4", "strong", "em", "b", "i", "small", "br", "hr", "img",
    "table", "thead", "tbody", "tr", "td", "th", "ul", "ol", "li", "section", "header", "footer", "blockquote",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "*": {"class", "style", "lang"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign"},
    "th": {"colspan", "rowspan", "align", "valign"},
}


class RenderError(HubError):
    """xhtml2pdf could not render the certificate (a template error, a resource limit)."""

    status = 500
    slug = "certificate-render-error"
    title = N_("The certificate could not be rendered")


def register_fonts() -> str:
    """Register the base family (DejaVu Sans) once; returns its name. See :mod:`hub.certificates.fonts`."""
    return fonts.register_base()


def data_uri(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


_print_images: dict[tuple[bytes, int, int], tuple[bytes, str]] = {}
_print_images_lock = threading.Lock()
PRINT_IMAGES_KEPT = 256  # ~20 KB each


def print_image(data: bytes, media_type: str, width_px: int, height_px: int) -> tuple[bytes, str]:
    """A raster image as a JPEG (quality 90, no chroma subsampling) fitted into ``width_px`` x
    ``height_px`` CSS pixels at :data:`PRINT_DPI`, transparency composited onto white; returns
    ``(bytes, media type)``. Never enlarges. Anything Pillow cannot read (SVG) comes back unchanged.

    For white pages only (the default template): an uploaded template may have a coloured background.
    Kept per process by the SHA-256 of ``data`` (a handful of badge and issuer images serve many
    certificates; the source images, up to ``HUB_MAX_IMAGE_BYTES`` each, are not kept).
    """
    key = (hashlib.sha256(data).digest(), width_px, height_px)
    found = _print_images.get(key)
    if found is not None:
        return found
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError):
        found = (data, media_type)
    else:
        scale = PRINT_DPI / 96
        image.thumbnail((round(width_px * scale), round(height_px * scale)), Image.Resampling.LANCZOS)
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        buf = io.BytesIO()
        flat.save(buf, "JPEG", quality=JPEG_QUALITY, subsampling=0)
        found = (buf.getvalue(), "image/jpeg")
    with _print_images_lock:
        while len(_print_images) >= PRINT_IMAGES_KEPT:
            del _print_images[next(iter(_print_images))]  # oldest first
        _print_images[key] = found
    return found


def qr_png(url: str) -> bytes:
    """A QR code (ISO/IEC 18004; error correction M, 4 px modules, 4-module quiet zone) as a PNG.

    The mask pattern is fixed (0) instead of searched: the search scores all eight masks and took
    ~10 of the ~12 ms per code (bench/pdf.py). Every mask gives a valid symbol (the mask in use is in
    its format information); the search only lowers a penalty score for odd-looking patterns, which
    matters little for a short URL printed at this size. Pixels come from the module matrix through
    Pillow in one call rather than qrcode's per-module drawing.
    """
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, mask_pattern=0)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()  # includes the quiet zone
    n = len(matrix)
    image = Image.frombytes("L", (n, n), bytes(0 if dark else 255 for row in matrix for dark in row))
    buf = io.BytesIO()
    image.resize((n * 4, n * 4), Image.Resampling.NEAREST).save(buf, "PNG")
    return buf.getvalue()


def check_css(css: str) -> str:
    """Accept template CSS without ``@import``, ``url()`` or ``expression()``; return it unchanged.

    Raises:
        ValidationError: a forbidden construct, naming it.
    """

    def walk(tokens):
        for tok in tokens:
            keyword = getattr(tok, "lower_at_keyword", None) or (tok.lower_value if tok.type == "at-keyword" else None)
            if keyword in ("import", "font-face", "namespace"):
                raise ValidationError(
                    _l("@%(keyword)s is not allowed in a certificate template", keyword=keyword), field="css"
                )
            if tok.type == "url" or (tok.type == "function" and tok.lower_name in ("url", "expression", "image")):
                raise ValidationError(_l("certificate CSS may not load resources (url())"), field="css")
            for attr in ("content", "prelude", "arguments"):
                inner = getattr(tok, attr, None)
                if inner:
                    walk(inner)

    walk(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True))
    return css


def clean_html(html: str) -> str:
    """An uploaded template body reduced to layout tags (nh3/Ammonia); images only as ``data:`` URIs."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes={"data"}, link_rel=None)


MAX_BODY = 50_000  # characters of an issuer template's cleaned output, its data: images not counted
TemplateFailed = sandbox.TemplateFailed


SAMPLE_MICRO = {
    "achievement_type": "MicroCredential",
    "credits": 2.5,
    "field_of_study": "Zdrowie",
    "human_code": "PP-1",
    "in_language": "pl",
    "issuer_country": "PL",
    "issuer_region": "Mazowsze",
    "awarding_bodies": [{"name": "Uniwersytet Przykładowy", "url": "https://uni.example.edu", "country": "PL"}],
    "workload_hours": 60,
    "levels": [
        {"name": {"en": "Level 5"}, "framework": {"en": "EQF", "pl": "ERK"}, "code": "5", "level": "5", "url": None}
    ],
    "qf_ehea_cycle": "short",
    "assessment_type": {"en": "Practical exam", "pl": "Egzamin praktyczny"},
    "participation_form": "blended",
    "quality_assurance": {"en": "Internal QA", "pl": "Wewnętrzne zapewnianie jakości"},
    "prerequisites": {"pl": "Brak"},
    "supervision": "supervised-onsite-identity-verification",
    "stackability": "stackable",
    "stackable_towards": "Ratownik medyczny",
    "grading_scheme": {"en": "Pass/fail"},
    "further_information": {"en": "https://uni.example.edu/pp-1"},
    "grade": "5.0",
}
SAMPLE_OUTCOMES = (
    LearningOutcomeLine(
        {"pl": "Ocenia stan poszkodowanego", "en": "Assesses a casualty"},
        (
            Aligned({"en": "Level 5"}, {"en": "EQF", "pl": "ERK"}, "5", "5"),
            Aligned({"en": "provide first aid", "pl": "udzielać pierwszej pomocy"}, {"en": "ESCO skills"}, "S1.2"),
        ),
    ),
)


@cache
def _sample_image() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 54, 93)).save(buf, "PNG")
    return buf.getvalue()


def sample_content(languages: tuple[str, ...], *, full: bool = True) -> CertificateContent:
    """Made-up certificate content to try a template on: ``full`` has every optional part (recipient,
    logo, expiry, outcomes, micro-credential elements, Polish letters); otherwise a revoked award to
    an unnamed recipient with none of them."""
    public_id = "0d5e7a1c-3b2f-4c8e-9a61-5f0b2d7c4e93"
    issued = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
    image = _sample_image()
    return CertificateContent(
        assertion_public_id=public_id,
        number=certificate_number(public_id),
        verify_url=f"https://badges.example.org/assertions/{public_id}",
        languages=languages,
        recipient_name="Zofia Gęślą-Żółkiewska" if full else None,
        badge_name="Pierwsza pomoc – poziom „podstawowy”",
        badge_description="Udziela pierwszej pomocy zgodnie z wytycznymi ERC 2021.",
        badge_image=image,
        badge_image_type="image/png",
        issuer_name="Uniwersytet Przykładowy",
        issuer_url="https://uni.example.edu",
        issuer_image=image if full else None,
        issuer_image_type="image/png" if full else None,
        issued_on=issued,
        expires=issued + timedelta(days=730) if full else None,
        criteria_narrative="Zaliczony egzamin praktyczny." if full else None,
        criteria_url="https://uni.example.edu/criteria",
        outcomes=(
            Outcome("Ocenia stan poszkodowanego", "PRK", "5", "5", "Poziom 5 PRK", "https://prk.example.pl/5"),
            Outcome("Prowadzi resuscytację", "ESCO", "S1.2"),
        )
        if full
        else (),
        micro=SAMPLE_MICRO if full else {},
        learning_outcomes=SAMPLE_OUTCOMES if full else (),
        revoked=not full,
        revocation_reason=None if full else "Wydany omyłkowo",
        revoked_at=None if full else issued + timedelta(days=1),
    )


SAMPLES = ((True, ("pl",)), (True, ("en",)), (True, ("pl", "en")), (False, ("en", "pl")))


def check_template(body: str, css: str | None = None, instance_path: Path | None = None) -> str:
    """Try an issuer's template body before it is saved; return it.

    It is filled in with :func:`sample_content` in Polish, in English, bilingually, and for a revoked
    award with no optional parts, within the sandbox's limits (:mod:`hub.certificates.sandbox`); the
    bilingual one is also laid out as a PDF with ``css``. ``instance_path`` gives the translations
    (without it, the English texts stand in for both languages).

    Raises:
        ValidationError: (field ``html``) a syntax error, an error while filling it in (``{{ 1/0 }}``,
            an unsafe attribute), a limit passed, or a layout xhtml2pdf cannot render; the message
            names the problem and, when known, the template line.
    """
    sandbox.compile_template(body)
    laid_out = None
    for full, languages in SAMPLES:
        content = replace(sample_content(languages, full=full), template_html=body, template_css=css)
        document = html(content, instance_path)
        if laid_out is None and len(languages) > 1:
            laid_out = document
    try:
        html_to_pdf(laid_out)
    except Exception as exc:  # noqa: BLE001 - xhtml2pdf's errors and its resource policy's limits alike
        problem = exc.detail if isinstance(exc, HubError) else (str(exc) or type(exc).__name__)
        raise ValidationError(
            _l("the certificate cannot be laid out with this template: %(error)s", error=problem), field="html"
        ) from None
    return body


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True)


def _gettext(instance_path: Path | None, languages: tuple[str, ...]):
    from babel.support import NullTranslations

    cats = [translations(instance_path, lang) if instance_path else NullTranslations() for lang in languages]

    def pick(value, lang: str):
        # A language map as a message variable: each language's text gets its own value.
        if isinstance(value, dict):
            return value.get(lang) or value.get("en") or value.get("pl") or next(iter(value.values()), "")
        return value

    def gettext(message: str, **kw) -> str:
        out = []
        for lang, cat in zip(languages, cats, strict=True):
            text = cat.gettext(message)
            if kw:
                sandbox.check_printf(text)  # an issuer's template may pass its own message
                text = text % {k: pick(v, lang) for k, v in kw.items()}
            if text not in out:
                out.append(text)
        return " / ".join(out)

    return gettext


def _dates(value, languages):
    if value is None:
        return None
    return " / ".join(dict.fromkeys(format_date(value.date(), format="long", locale=lang) for lang in languages))


def _decimals(langs: tuple[str, ...]):
    def decimal(value) -> str:
        """A number written each language's way (``2,5 / 2.5`` on a bilingual certificate)."""
        if value is None:
            return ""
        return " / ".join(dict.fromkeys(format_decimal(value, locale=lang) for lang in langs))

    return decimal


def _decimal_maps(langs: tuple[str, ...]):
    def decimals(value) -> dict:
        """A number as a language map (``{"pl": "2,5", "en": "2.5"}``), for a message variable of ``_()``."""
        return {lang: format_decimal(value, locale=lang) for lang in langs} if value is not None else {}

    return decimals


#: OB 3.0 AchievementType terms (https://www.imsglobal.org/spec/ob/v3p0/#achievementtype-enumeration)
#: as printed; any other term is printed with its words separated (``ext:SportsMedal`` -> "Sports Medal").
ACHIEVEMENT_TYPES = {
    "Achievement": N_("Achievement"),
    "ApprenticeshipCertificate": N_("Apprenticeship certificate"),
    "Assessment": N_("Assessment"),
    "Assignment": N_("Assignment"),
    "AssociateDegree": N_("Associate degree"),
    "Award": N_("Award"),
    "Badge": N_("Badge"),
    "BachelorDegree": N_("Bachelor's degree"),
    "Certificate": N_("Certificate"),
    "CertificateOfCompletion": N_("Certificate of completion"),
    "Certification": N_("Certification"),
    "CommunityService": N_("Community service"),
    "Competency": N_("Competency"),
    "Course": N_("Course"),
    "CoCurricular": N_("Co-curricular activity"),
    "Degree": N_("Degree"),
    "Diploma": N_("Diploma"),
    "DoctoralDegree": N_("Doctoral degree"),
    "Fieldwork": N_("Fieldwork"),
    "GeneralEducationDevelopment": N_("General education development"),
    "JourneymanCertificate": N_("Journeyman certificate"),
    "LearningProgram": N_("Learning programme"),
    "License": N_("Licence"),
    "Membership": N_("Membership"),
    "ProfessionalDoctorate": N_("Professional doctorate"),
    "QualityAssuranceCredential": N_("Quality assurance credential"),
    "MasterCertificate": N_("Master certificate"),
    "MasterDegree": N_("Master's degree"),
    "MicroCredential": N_("Micro-credential"),
    "ResearchDoctorate": N_("Research doctorate"),
    "SecondarySchoolDiploma": N_("Secondary school diploma"),
}


def _labels(langs: tuple[str, ...], gettext):
    """Template helpers that print a value in the certificate's language(s), each once."""
    from babel import Locale

    def joined(values) -> str:
        return " / ".join(dict.fromkeys(v for v in values if v))

    def loc(value) -> str:
        """A language map (``{"en", "pl"}``) in the certificate's languages, the other as fallback."""
        if not value:
            return ""
        if isinstance(value, str):
            return value
        return joined(value.get(lang) or value.get("en") or value.get("pl") or "" for lang in langs)

    def country(code) -> str:
        """An ISO 3166-1 code as the country's name (``PL`` -> ``Polska / Poland``)."""
        if not code:
            return ""
        return joined(Locale(lang).territories.get(str(code).upper(), str(code)) for lang in langs)

    def language(tag) -> str:
        """A BCP 47 tag as the language's name (``pl`` -> ``polski / Polish``)."""
        if not tag:
            return ""
        primary = str(tag).split("-")[0].lower()
        return joined(Locale(lang).languages.get(primary, str(tag)) for lang in langs)

    def achievement_type(term) -> str:
        return achievement_type_label(term, gettext)

    return {"loc": loc, "country": country, "language": language, "achievement_type": achievement_type}


def achievement_type_label(term, gettext) -> str:
    """An OB 3.0 AchievementType as words translated by ``gettext`` (never ``MicroCredential`` as it
    is): a term of :data:`ACHIEVEMENT_TYPES`, else its words separated (``ext:SportsMedal`` ->
    ``Sports Medal``)."""
    term = str(term or "")
    if term in ACHIEVEMENT_TYPES:
        return gettext(ACHIEVEMENT_TYPES[term])
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", term.removeprefix("ext:"))
    return words[:1].upper() + words[1:]


def template_context(content: CertificateContent, instance_path: Path | None) -> dict:
    """The variables a certificate template sees (documented in README.md, "PDF certificate")."""
    langs = content.languages
    badge, badge_type = content.badge_image, content.badge_image_type
    logo, logo_type = content.issuer_image, content.issuer_image_type
    if not content.template_html:  # the default template: white page, known sizes
        badge, badge_type = print_image(badge, badge_type, BADGE_PX, BADGE_PX)
        if logo:
            logo, logo_type = print_image(logo, logo_type, 8 * LOGO_PX, LOGO_PX)
    gettext = _gettext(instance_path, langs)
    return {
        "c": isolated(content),
        "_": gettext,
        **_labels(langs, gettext),
        "lang": langs[0],
        "font": fonts.families_for(content.text()),
        "fonts": fonts.bundled_families() if content.template_html else [fonts.BASE_FAMILY],
        "issued_on": _dates(content.issued_on, langs),
        "expires": _dates(content.expires, langs),
        "revoked_at": _dates(content.revoked_at, langs),
        "decimal": _decimals(langs),
        "decimals": _decimal_maps(langs),
        "badge_image": data_uri(badge, badge_type),
        "issuer_image": data_uri(logo, logo_type) if logo else None,
        "qr": data_uri(qr_png(content.verify_url), "image/png"),
    }


def html(content: CertificateContent, instance_path: Path | None) -> str:
    """The certificate as one HTML document (default body, or the issuer's sanitised template).

    Raises:
        TemplateFailed: the issuer's template failed or passed a limit (see :mod:`.sandbox`).
    """
    ctx = template_context(content, instance_path)
    if content.template_html:
        body = clean_html(sandbox.render(content.template_html, ctx))
        if len(_DATA_SRC.sub("", body)) > MAX_BODY:
            raise TemplateFailed(
                _l(
                    "the filled-in template is longer than %(limit)s characters (images not counted)",
                    limit=number(MAX_BODY),
                )
            )
        ctx["body"] = Markup(body)
        ctx["extra_css"] = check_css(content.template_css or "")
    return _environment().get_template("certificates/page.html").render(ctx)


# No network, no local reads, limits on: templates may be uploaded by issuer administrators.
POLICY = ResourceAccessPolicy.server(None, allow_remote=False)


# data: URIs in src attributes, stood in for by short names while html5lib reads the document.
_DATA_SRC = re.compile(r'(?<=\ssrc=")data:[^"]*(?=")')
INLINE_SCHEME = "hub-inline:"


def html_to_pdf(document: str) -> bytes:
    """Render HTML with xhtml2pdf under :data:`POLICY`.

    Each ``src="data:..."`` is swapped for a short ``hub-inline:N`` name before parsing and handed
    back through xhtml2pdf's ``link_callback``: html5lib walks attribute values in Python, and the
    images' base64 was most of the document (~5 ms of a certificate). What the callback returns is
    still a ``data:`` URI under :data:`POLICY`; names it does not know are left as they are.

    Raises:
        RenderError: xhtml2pdf reported errors.
    """
    register_fonts()
    inline: list[str] = []

    def stash(match: re.Match) -> str:
        inline.append(match.group(0))
        return f"{INLINE_SCHEME}{len(inline) - 1}"

    def link_callback(uri, _rel):
        if isinstance(uri, str) and uri.startswith(INLINE_SCHEME):
            index = uri[len(INLINE_SCHEME) :]
            if index.isdigit() and int(index) < len(inline):
                return inline[int(index)]
        return None

    document = _DATA_SRC.sub(stash, document)
    out = io.BytesIO()
    result = pisa.CreatePDF(document, dest=out, encoding="utf-8", resource_policy=POLICY, link_callback=link_callback)
    if result.err:
        raise RenderError(f"xhtml2pdf reported {result.err} error(s)")
    return out.getvalue()


def render_pdf(content: CertificateContent, instance_path: Path, *, issuer_id: str | None = None) -> bytes:
    """The unsigned certificate PDF of ``content`` (A4, one page).

    When the issuer's template fails (saved before templates were checked, or an error that depends on
    this award's data), the certificate is made with the default template instead and a warning naming
    the issuer (``issuer_id``, its public id) and the problem is logged: a learner always gets a
    certificate.
    """
    missing = fonts.undrawable(content.text())
    if missing:
        log.warning(
            "certificate of award %s (issuer %s) has characters no bundled font draws, left blank: %s",
            content.assertion_public_id,
            issuer_id,
            " ".join(f"{c!r} U+{ord(c):04X}" for c in missing),
        )
    if content.template_html:
        try:
            return html_to_pdf(html(content, instance_path))
        except Exception as exc:  # noqa: BLE001 - any failure of an issuer's template falls back
            log.warning(
                "certificate template of issuer %s failed for award %s, used the default template: %s",
                issuer_id,
                content.assertion_public_id,
                exc,
                exc_info=not isinstance(exc, (TemplateFailed, RenderError)),
            )
            content = replace(content, template_html=None, template_css=None)
    return html_to_pdf(html(content, instance_path))
