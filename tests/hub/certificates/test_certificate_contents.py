"""What the certificate says (issue 13): the learning outcomes of the badge form with their EQF/PRK
levels and ESCO skills, every Annex I micro-credential element present, translated labels in the
recipient's language or both; names in every script drawn from bundled fonts (checked with poppler's
``pdffonts`` and ``pdftotext``), and a name nothing can draw reported on the award in the console."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.accounts import services as accounts
from hub.badges.models import Assertion, BadgeClass
from hub.certificates import fonts, render
from hub.certificates import services as certificates
from hub.certificates.models import CertificateLayout
from tests.conftest import completion, post_event
from tests.hub.frameworks.test_microcredentials import micro  # noqa: F401 - the fixture
from tests.hub.web.conftest import PASSWORD, sign_in

#: A name in each script the certificate must draw, and the font family that draws it.
NAMES = {
    "Latin (Polish)": ("Zażółć Gęślą Jaźń", "DejaVuSans"),
    "Latin (Vietnamese)": ("Nguyễn Thị Minh Khai", "DejaVuSans"),
    "Greek": ("Αλέξανδρος Παπαδόπουλος", "DejaVuSans"),
    "Cyrillic": ("Олена Шевченко", "DejaVuSans"),
    "Arabic": ("محمد عبد الله", "DejaVuSans"),
    "Hebrew": ("דוד כהן", "DejaVuSans"),
    "Devanagari": ("अर्जुन शर्मा", "NotoSansDevanagari"),
    "Thai": ("สมชาย ใจดี", "NotoSansThai"),
    "Chinese": ("王小明", "NotoSansCJK"),
    "Japanese": ("山田はなこ", "NotoSansCJK"),
    "Korean": ("김민준", "NotoSansCJK"),
}


@pytest.fixture
def settings(settings):
    """The re-render test watches the certificate.render job: pre-rendering on (off by default)."""
    return settings.with_(prerender_certificates=True)


def _poppler(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} is not installed (Debian package poppler-utils, installed by .ci/run)")
    return exe


def pdftotext(path: Path) -> str:
    """The text layer as poppler reads it, NFKC-normalised (Arabic comes out as presentation forms)
    and with whitespace collapsed."""
    out = subprocess.run([_poppler("pdftotext"), str(path), "-"], capture_output=True, text=True, timeout=60).stdout
    return " ".join(unicodedata.normalize("NFKC", out).split())


def pdffonts(path: Path) -> list[str]:
    """Embedded font names (subset prefix removed) as poppler lists them."""
    out = subprocess.run([_poppler("pdffonts"), str(path)], capture_output=True, text=True, timeout=60).stdout
    rows = out.splitlines()[2:]
    return [row.split()[0].split("+", 1)[-1] for row in rows if row.split() and row.split()[-4] == "yes"]


def _certificate(ctx, badge_public_id: str, *, bilingual=False) -> bytes:
    with ctx.db.session_scope() as s:
        badge = s.scalar(select(BadgeClass).where(BadgeClass.public_id == badge_public_id))
        if bilingual:
            s.add(CertificateLayout(issuer_id=badge.issuer_id, bilingual=True))
            s.flush()
        a = s.scalar(select(Assertion).where(Assertion.badge_class_id == badge.id))
        return certificates.certificate_pdf(s, ctx, a)


def test_micro_credential_certificate_prints_outcomes_levels_skills_and_annex_elements(client, ctx, micro, tmp_path):  # noqa: F811
    assert post_event(client, completion()).status_code in (200, 202)
    path = tmp_path / "pl-en.pdf"
    path.write_bytes(_certificate(ctx, micro["badge"], bilingual=True))
    text = pdftotext(path)
    # Learning outcomes from the badge form, both languages, each with its ESCO skill / EQF level.
    for expected in (
        "Efekty uczenia się / Learning outcomes",
        "Pisze programy w Pythonie / Writes Python programs",
        "Pracuje w zespole / Works in a team",
        "Python (programowanie komputerowe)",
        "Europejska Rama Kwalifikacji, poziom 4 / European Qualifications Framework level 4",
    ):
        assert expected in text, expected
    # Annex I elements with translated labels (never a raw term such as MicroCredential).
    for expected in (
        "Rodzaj / Type: Mikropoświadczenie / Micro-credential",
        "Mikropoświadczenie UE / EU micro-credential",
        "Kraj lub region wystawcy / Country or region of the issuer: Polska / Poland, łódzkie",
        "Podmioty przyznające / Awarding bodies: Szkoła Łódź",
        "5 pkt ECTS / 5 ECTS credits",
        "125 godz. / 125 hours",
        "Projekt praktyczny z recenzją / Practical project, reviewed",
        "Forma uczestnictwa / Form of participation: mieszana / blended",
        "Type of quality assurance: Wewnętrzny system jakości",
        "Internal QA under the Act on Higher Education",
        "Wymagania wstępne / Prerequisites: Brak",
        "Skala 2-5 / Polish scale 2-5",
        "https://szkola.example.pl/programmes/it",
        "Data wydania / Date of issue",
        "Zażółć Gęślą Jaźń",
        "Programowanie w Pythonie",
    ):
        assert expected in text, expected
    assert "MicroCredential" not in text and "blended-" not in text


def test_certificate_in_the_recipients_language_only(client, ctx, micro, tmp_path):  # noqa: F811
    assert post_event(client, completion()).status_code in (200, 202)
    path = tmp_path / "pl.pdf"
    path.write_bytes(_certificate(ctx, micro["badge"]))  # HUB_DEFAULT_LOCALE: pl
    text = pdftotext(path)
    assert "Efekty uczenia się" in text and "Mikropoświadczenie UE" in text and "mieszana" in text
    assert "Learning outcomes" not in text and "Writes Python programs" not in text and "blended" not in text


@pytest.mark.parametrize("script", list(NAMES))
def test_names_in_every_script_are_drawn_and_extract(script, tmp_path):
    name, family = NAMES[script]
    content = replace(render.sample_content(("pl", "en")), recipient_name=name)
    assert fonts.undrawable(content.text()) == []
    path = tmp_path / "name.pdf"
    path.write_bytes(render.render_pdf(content, tmp_path))
    embedded = pdffonts(path)
    assert any(f.startswith(family) or f.replace("-", "").startswith(family) for f in embedded), embedded
    assert unicodedata.normalize("NFKC", name).replace(" ", "") in pdftotext(path).replace(" ", "")


def test_all_scripts_in_one_certificate(tmp_path):
    name = " · ".join(n for n, _family in NAMES.values())
    content = replace(render.sample_content(("en",)), recipient_name=name)
    path = tmp_path / "all.pdf"
    path.write_bytes(render.render_pdf(content, tmp_path))
    embedded = " ".join(pdffonts(path))
    for family in ("DejaVuSans", "NotoSansDevanagari", "NotoSansThai", "NotoSansCJK"):
        assert family in embedded.replace("Noto-Sans-CJK", "NotoSansCJK"), embedded
    text = pdftotext(path).replace(" ", "")
    for script, (n, _family) in NAMES.items():
        if script not in ("Arabic", "Hebrew"):  # a right-to-left run in a wrapped line: visual order
            assert unicodedata.normalize("NFKC", n).replace(" ", "") in text, n


def test_bundled_families_are_usable_by_name_in_an_issuer_template(tmp_path):
    assert {"DejaVuSans", "NotoSansHebrew", "NotoSansDevanagari", "NotoSansThai"} <= set(fonts.bundled_families())
    body = '<p style="font-family: NotoSansHebrew">{{ c.recipient_name }}</p>'
    content = replace(render.sample_content(("en",)), recipient_name="דוד כהן", template_html=body)
    path = tmp_path / "t.pdf"
    path.write_bytes(render.render_pdf(content, tmp_path))
    assert "NotoSansHebrew" in " ".join(pdffonts(path))


def test_a_name_nothing_can_draw_is_reported_on_the_award(client, ctx, factory, caplog):
    name = "Ankh \U00013000 Bearer"  # EGYPTIAN HIEROGLYPH A001: in no bundled font
    factory.setup()
    assert post_event(client, completion(name=name)).status_code in (200, 202)
    assert fonts.undrawable(name) == ["\U00013000"]
    with ctx.db.session_scope() as s:
        a = s.scalar(select(Assertion))
        assert certificates.undrawable_characters(s, ctx, a) == ["\U00013000"]
        with caplog.at_level("WARNING", logger="hub.certificates.render"):
            certificates.certificate_pdf(s, ctx, a, store=False)
        public_id = a.public_id
    assert any("U+13000" in r.getMessage() for r in caplog.records)
    # The console's award page says so (a signed-in site administrator).
    with ctx.db.session_scope() as s:
        accounts.create_user(s, email="site@example.org", password=PASSWORD, site_admin=True)
    assert sign_in(client, "site@example.org").status_code == 302
    page = client.get(f"/admin/awards/{public_id}?lang=en").get_data(as_text=True)
    assert 'id="certificate-undrawable"' in page and "U+13000" in page


def test_editing_outcomes_or_the_description_re_renders_the_stored_certificate(client, ctx, micro):  # noqa: F811
    from hub.certificates.models import RenderedFile
    from tests.hub.certificates.support import pdf_text
    from tests.hub.frameworks.test_microcredentials import AUTH, DESCRIPTION

    def stored() -> str:
        with ctx.db.read_scope() as s:
            return pdf_text(s.scalar(select(RenderedFile.data).where(RenderedFile.kind == "certificate.pdf")))

    assert post_event(client, completion()).status_code in (200, 202)
    assert "Pisze programy w Pythonie" in stored()  # rendered by the certificate.render job
    body = {**DESCRIPTION, "participation_form": "onsite"}
    body["learning_outcomes"] = [{"text": {"pl": "Testuje programy", "en": "Tests programs"}, "descriptors": ["eqf:4"]}]
    r = client.put(f"/api/v1/frameworks/badges/{micro['badge']}/micro-credential", json=body, headers=AUTH)
    assert r.status_code == 200, r.get_json()
    text = stored()  # the job re-rendered it after the commit (HUB_JOB_MODE=sync in tests)
    assert "Testuje programy" in text and "Pisze programy w Pythonie" not in text
    assert "Forma uczestnictwa: stacjonarnie" in text
