"""Certificate services: the award's signed PDF and its sharing preview, pre-rendered by the
``certificate.render`` job after the award (:mod:`hub.certificates.jobs`) and stored until something
they show changes; the issuer's certificate layout.

Two ways in: ``store=True`` (the job, a write path) stores what it renders; ``store=False`` (public
GETs, which never write) serves the stored bytes when their fingerprint is current and otherwise
renders in memory without storing (correct, only slower), so a revocation shows at the next download
even before the job has re-rendered it.

Services flush, never commit (the caller's unit of work commits, which also stores a new rendering).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.badges.models import Assertion, Issuer
from hub.certificates import fonts, keys, preview, render
from hub.certificates.content import CertificateContent, gather
from hub.certificates.models import CertificateLayout, IssuerCertificate, RenderedFile
from hub.certificates.sign import OB2_FILENAME, OB3_FILENAME, Attachment, sign_pdf
from hub.context import HubContext
from hub.credentials import ob2, ob3
from hub.credentials.models import PROOF_DATA_INTEGRITY
from hub.i18n import LOCALES
from hub.learners.profile import Presentation, presentation

log = logging.getLogger(__name__)

PDF = "certificate.pdf"
PREVIEW = "preview.png"


def _templates_version() -> str:
    """A hash of the bundled certificate templates, so a deploy that changes them refreshes caches."""
    h = hashlib.sha256()
    for path in sorted((render.TEMPLATE_DIR / "certificates").glob("*.html")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


TEMPLATES_VERSION = _templates_version()


def layout_for(session: Session, issuer: Issuer) -> CertificateLayout | None:
    return session.scalar(select(CertificateLayout).where(CertificateLayout.issuer_id == issuer.id))


def set_layout(
    session: Session,
    issuer: Issuer,
    *,
    html: str | None = None,
    css: str | None = None,
    bilingual: bool = False,
    instance_path: Path | None = None,
) -> CertificateLayout:
    """Set the issuer's certificate template (``html``: a Jinja body, see README; ``css``) and whether
    certificates are bilingual. ``html=None`` goes back to the default template.

    A template is tried first (:func:`hub.certificates.render.check_template`: filled in with sample
    content in both languages and bilingually, within the sandbox's limits, and laid out as a PDF);
    ``instance_path`` gives it the translations (English stands in without it).

    Raises:
        ValidationError: CSS that loads resources (field ``css``); a template with a syntax error, one
            that fails while being filled in (``{{ 1/0 }}``, an unsafe attribute) or passes a limit
            (field ``html``, naming the problem and the line).
    """
    layout = layout_for(session, issuer) or CertificateLayout(issuer_id=issuer.id)
    css = render.check_css(css) if html and css else None
    layout.template_html = render.check_template(html, css, instance_path) if html else None
    layout.template_css = css
    layout.bilingual = bilingual
    session.add(layout)
    session.flush()
    return layout


def languages(ctx: HubContext, pres: Presentation, layout: CertificateLayout | None) -> tuple[str, ...]:
    """The recipient's language first (their setting, else ``HUB_DEFAULT_LOCALE``); both when bilingual."""
    first = pres.locale if pres.locale in LOCALES else ctx.settings.default_locale
    if layout is not None and layout.bilingual:
        return (first, *(lang for lang in LOCALES if lang != first))
    return (first,)


def content_for(session: Session, ctx: HubContext, assertion: Assertion) -> CertificateContent:
    """The certificate content of ``assertion`` with the learner's name and language choices."""
    pres = presentation(session, assertion)
    layout = layout_for(session, assertion.badge_class.issuer)
    return gather(
        session,
        ctx,
        assertion,
        recipient_name=pres.name,
        languages=languages(ctx, pres, layout),
        template_html=layout.template_html if layout else None,
        template_css=layout.template_css if layout else None,
    )


def undrawable_characters(session: Session, ctx: HubContext, assertion: Assertion) -> list[str]:
    """Characters the award's certificate would print that no bundled font draws (each once, sorted;
    [] when all can): shown to administrators on the award in the console and logged when the PDF is
    rendered (:func:`hub.certificates.fonts.undrawable`), so a name is never printed as boxes silently."""
    return fonts.undrawable(content_for(session, ctx, assertion).text())


def _cached(
    session: Session,
    assertion: Assertion,
    kind: str,
    fingerprint: str,
    media_type: str,
    make: Callable,
    *,
    store: bool = True,
):
    row = session.scalar(
        select(RenderedFile).where(RenderedFile.assertion_id == assertion.id, RenderedFile.kind == kind)
    )
    if row is not None and row.fingerprint == fingerprint:
        return row.data
    data = make()
    if not store:  # a read path (a public GET): correct bytes, nothing written
        log.info("rendered %s without storing", kind, extra={"assertion": assertion.public_id, "bytes": len(data)})
        return data
    if row is None:
        try:
            with session.begin_nested():
                session.add(
                    RenderedFile(
                        assertion_id=assertion.id, kind=kind, fingerprint=fingerprint, media_type=media_type, data=data
                    )
                )
        except IntegrityError:  # a concurrent request stored one first; ours is as good, keep theirs
            pass
    else:
        row.fingerprint, row.data = fingerprint, data
        session.flush()
    log.info("rendered %s", kind, extra={"assertion": assertion.public_id, "bytes": len(data)})
    return data


def drop_renderings(session: Session, assertion_ids: list[int]) -> None:
    """Delete the cached certificates and previews of these awards (e.g. when personal data goes)."""
    session.execute(delete(RenderedFile).where(RenderedFile.assertion_id.in_(assertion_ids)))


def attachments(session: Session, ctx: HubContext, assertion: Assertion) -> list[Attachment]:
    """The files a certificate embeds: the OB 3.0 credential (Data Integrity proof) and the hosted
    OB 2.0 assertion."""
    issued = ob3.issue(session, ctx, assertion, PROOF_DATA_INTEGRITY)
    hosted = json.dumps(ob2.assertion_json(ctx.urls, assertion), ensure_ascii=False, indent=2)
    return [
        Attachment(OB3_FILENAME, issued.text.encode(), "application/vc+ld+json", "Open Badges 3.0 credential"),
        Attachment(OB2_FILENAME, hosted.encode(), "application/ld+json", "Open Badges 2.0 assertion"),
    ]


def build_pdf(
    session: Session,
    ctx: HubContext,
    assertion: Assertion,
    content: CertificateContent,
    signer: IssuerCertificate | None = None,
) -> bytes:
    """Render, embed and sign (uncached); ``signer`` is the issuer's signing row when the caller has
    it already. See :func:`certificate_pdf`."""
    issuer = assertion.badge_class.issuer
    material = keys.load_material(ctx, signer or keys.signing_row(session, ctx, issuer))
    pdf = render.render_pdf(content, ctx.settings.instance_path, issuer_id=issuer.public_id)
    return sign_pdf(
        pdf,
        material,
        attachments(session, ctx, assertion),
        reason=f"Open Badges certificate {content.number}",
        location=issuer.url,
    )


def certificate_pdf(session: Session, ctx: HubContext, assertion: Assertion, *, store: bool = True) -> bytes:
    """The award's signed PDF certificate (A4), the stored one when its content is unchanged.

    A revoked award's certificate carries a REVOKED banner (the revocation changes the fingerprint).
    An issuer template that fails is replaced by the default template (see
    :func:`hub.certificates.render.render_pdf`); that certificate is stored like any other until the
    layout changes.

    Args:
        store: a write path (the ``certificate.render`` job): make what is missing (the issuer's
            self-issued signing certificate, OB 3.0 keys, status entry) and store a new rendering.
            False (public GETs): write nothing; a stale or missing rendering is made in memory only.

    Raises:
        RenderError: xhtml2pdf failed on the default template.
        ServiceUnavailable: ``store=False`` and the issuer has no signing certificate (or OB 3.0 key)
            yet: the job, which makes it, has not run.
    """
    issuer = assertion.badge_class.issuer
    content = content_for(session, ctx, assertion)
    if store:
        ob3.prepare(session, ctx, assertion)
        signer = keys.signing_row(session, ctx, issuer)
    else:
        signer = keys.current_row(session, issuer)
    fp = content.fingerprint(signer.fingerprint, TEMPLATES_VERSION)
    return _cached(
        session,
        assertion,
        PDF,
        fp,
        "application/pdf",
        lambda: build_pdf(session, ctx, assertion, content, signer),
        store=store,
    )


def preview_png(session: Session, ctx: HubContext, assertion: Assertion, *, store: bool = True) -> bytes:
    """The 1200x628 (1.91:1) sharing image of the award (OpenGraph / Twitter ``summary_large_image``),
    the stored one when what it shows is unchanged; ``store`` as :func:`certificate_pdf`."""
    pres = presentation(session, assertion)
    badge = assertion.badge_class
    card = preview.Card(
        badge_name=badge.name,
        issuer_name=badge.issuer.name,
        recipient_name=pres.name if pres.show_name else None,
        badge_image=badge.image,
        badge_image_type=badge.image_type,
        revoked=assertion.revoked,
        locale=pres.locale or ctx.settings.default_locale,
    )
    return _cached(
        session,
        assertion,
        PREVIEW,
        card.fingerprint(),
        "image/png",
        lambda: preview.render(card, ctx.settings.instance_path),
        store=store,
    )
