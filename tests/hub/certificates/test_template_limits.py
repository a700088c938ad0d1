"""Issuers' certificate templates: tried with sample content before they are saved (refused with the
problem and the line, API and console, English and Polish), bounded in the work they can do, and a
stored template that fails falls back to the default template instead of a 500."""

from __future__ import annotations

import logging
import time

import pytest

from hub.badges.models import Assertion, Issuer
from hub.certificates import render, sandbox
from hub.certificates import services as certificates
from hub.certificates.models import CertificateLayout
from hub.credentials.models import AchievementDetails
from hub.db import utcnow
from hub.errors import ValidationError
from hub.learners import services as learners
from hub.learners.models import Learner, LearnerEmail
from tests.hub.certificates.support import POLISH_NAME, award, pdf_text

AUTH = {"Authorization": "Bearer admin-token"}

# (template, what the English message says, the line it names)
BAD = {
    "division": ("<h1>{{ c.badge_name }}</h1>\n{{ 1/0 }}", "division by zero", 2),
    "huge-range": ("{% for i in range(100000000) %}x{% endfor %}", "range() may give at most 10,000 numbers", 1),
    "unsafe": ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "the sandbox does not allow this", 1),
    "nested-loops": (
        "{% for i in range(3000) %}\n{% for j in range(3000) %}{% endfor %}\n{% endfor %}",
        "more than 10,000 loop steps or calls",
        2,
    ),
    "string-bomb": ("{{ 'x' * 10**9 }}", "builds more than 20,000,000 characters", 1),
    "doubling": (
        "{% set ns = namespace(v='x') %}{% for i in range(40) %}{% set ns.v = ns.v ~ ns.v %}{% endfor %}",
        "builds more than 20,000,000 characters",
        1,
    ),
    "width": ("{{ '%999999999s' % 1 }}", "a width or precision above 1,000", 1),
    "format-width": ("{{ '{:>999999999}'.format(1) }}", "a width or precision above 1,000", 1),
    "macro-recursion": ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "too deep recursion", None),
    "long-body": ("{% for i in range(9000) %}<p>Paragraph {{ i }}</p>{% endfor %}", "longer than 50,000", None),
    "data-dependent": ("<p>{{ 10 / c.micro.credits }}</p>", "has no attribute 'credits'", 1),
    "syntax": ("<h1>{{ c.badge_name </h1>", "template error on line 1", 1),
    "nested-tables": ("<table><tr><td>" * 100 + "x" + "</td></tr></table>" * 100, "nests more than", None),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_template_is_refused_before_saving_with_problem_and_line(name):
    template, problem, line = BAD[name]
    started = time.monotonic()
    with pytest.raises(ValidationError) as caught:
        render.check_template(template)
    assert time.monotonic() - started < sandbox.MAX_SECONDS + 2  # bounded, whatever the template does
    exc = caught.value
    assert exc.extra == {"field": "html"}
    assert problem in str(exc)
    if line is not None:
        assert f"template error on line {line}:" in str(exc)


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x'|center(1000000000) }}",
        "{{ range(10000)|map('string')|map('center', 100000)|list|length }}",
        "{{ 'x'.center(1000000000) }}",
        "{{ (10).to_bytes(1000000000, 'big') }}",
        "{{ lipsum(100000) }}",
        "{{ 9 ** 99999 }}",
        "{% set s %}{% for i in range(10000) %}" + "y" * 5000 + "{% endfor %}{% endset %}{{ s|length }}",
        "{% for x in range(10) recursive %}{% if loop.depth < 4 %}{{ loop(range(10000)) }}{% endif %}{% endfor %}",
        "{{ _('%(x)999999999s', x=1) }}",
        "{{ 'ab'|replace('a', 'x' * 100000)|replace('x', 'y' * 1000) }}",
    ],
)
def test_sandbox_stops_amplifying_templates(template):
    with pytest.raises(sandbox.TemplateFailed):
        render.check_template(template)


def test_ordinary_templates_pass_and_polish_messages_name_the_line():
    good = (
        "{% macro fact(label, value) %}<p><strong>{{ label }}:</strong> {{ value }}</p>{% endmacro %}"
        "<h1>{{ c.badge_name|upper }}</h1><p>{{ c.recipient_name or _('a verified recipient') }}</p>"
        "{{ fact(_('Date of issue'), issued_on) }}{% if c.micro.credits %}{{ fact('ECTS', decimal(c.micro.credits)) }}"
        "{% endif %}<ul>{% for o in c.outcomes %}<li>{{ loop.index }}. {{ o.name }}"
        "{% if o.level %} ({{ o.framework }} {{ o.level }}){% endif %}</li>{% endfor %}</ul>"
        "<p>{{ '%.1f'|format(2.5) }} {{ c.issued_on.strftime('%d.%m.%Y') }} {{ c.badge_name.split(' ')|join('-') }}</p>"
        "<img src='{{ badge_image }}' width='80'>{% if issuer_image %}<img src='{{ issuer_image }}'>{% endif %}"
    )
    assert render.check_template(good, "h1 { color: #14365d; }") == good
    with pytest.raises(ValidationError) as caught:
        render.check_template("<p>\n{{ 1/0 }}</p>")
    from hub.i18n import LazyText

    assert isinstance(caught.value.detail, LazyText)
    assert caught.value.detail.msgid == "template error on line %(line)s: %(error)s"


@pytest.mark.parametrize("name", ["division", "huge-range", "unsafe", "nested-loops"])
def test_api_refuses_a_bad_layout_and_keeps_the_old_one(client, ctx, factory, name):
    setup = factory.setup()
    url = f"/api/v1/issuers/{setup['issuer']}/certificate-layout"
    assert client.put(url, json={"html": "<h1>{{ c.badge_name }}</h1>"}, headers=AUTH).status_code == 200
    r = client.put(url, json={"html": BAD[name][0]}, headers={**AUTH, "Accept-Language": "pl"})
    assert r.status_code == 422, r.get_json()
    problem = r.get_json()
    assert problem["field"] == "html" and problem["detail"].startswith("błąd szablonu w wierszu ")
    with ctx.db.session_scope() as s:
        assert s.query(CertificateLayout).one().template_html == "<h1>{{ c.badge_name }}</h1>"


def _store_unchecked(ctx, issuer_id: int, template: str) -> None:
    """A layout saved before templates were checked (straight into the table)."""
    with ctx.db.session_scope() as s:
        s.add(CertificateLayout(issuer_id=issuer_id, template_html=template, bilingual=False))


def _show_name(ctx, email: str) -> None:
    with ctx.db.session_scope() as s:
        learner = Learner()
        learner.emails.append(LearnerEmail(email=email, verified_at=utcnow()))
        s.add(learner)
        s.flush()
        learners.update_settings(s, learner, display_name=None, locale="pl", show_name=True, allow_indexing=False)


FAILING_AT_RENDER = ["division", "huge-range", "unsafe", "nested-loops", "data-dependent", "nested-tables"]


@pytest.mark.parametrize("name", FAILING_AT_RENDER)
def test_stored_bad_template_falls_back_to_the_default_template(client, ctx, factory, caplog, name):
    setup = factory.setup()
    aid = award(client, ctx, factory, setup=setup)
    _store_unchecked(ctx, setup["issuer_id"], BAD[name][0])
    _show_name(ctx, "zofia@example.edu")
    with caplog.at_level(logging.WARNING, logger="hub.certificates.render"):
        r = client.get(f"/assertions/{aid}/certificate.pdf")
    assert r.status_code == 200 and r.content_type == "application/pdf"
    text = pdf_text(r.data)
    assert "Data wydania" in text and POLISH_NAME in text  # the default template, in the learner's language
    warning = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert warning and f"certificate template of issuer {setup['issuer']} failed for award {aid}" in warning[-1]
    assert BAD[name][1] in warning[-1]  # in English, with the problem
    assert client.get(f"/assertions/{aid}/certificate.pdf").data != r.data  # a GET stores nothing: made anew
    stored = []
    for _ in range(2):  # the job's (a write path's) fallback is stored like any certificate
        with ctx.db.session_scope() as s:
            stored.append(certificates.certificate_pdf(s, ctx, s.query(Assertion).filter_by(public_id=aid).one()))
    assert stored[0] == stored[1]


def test_default_certificate_writes_ects_the_languages_way(client, ctx, factory):
    setup = factory.setup()
    aid = award(client, ctx, factory, setup=setup)
    with ctx.db.session_scope() as s:
        s.add(AchievementDetails(badge_class_id=setup["badge_id"], credits_available=2.5))
    with ctx.db.session_scope() as s:
        a = s.query(Assertion).filter_by(public_id=aid).one()
        assert "Punkty (ECTS): 2,5" in pdf_text(certificates.certificate_pdf(s, ctx, a))
        certificates.set_layout(s, s.get(Issuer, setup["issuer_id"]), bilingual=True)
    with ctx.db.session_scope() as s:
        a = s.query(Assertion).filter_by(public_id=aid).one()
        assert "2,5 / 2.5" in pdf_text(certificates.certificate_pdf(s, ctx, a))
