"""Framework data: bundled EQF/PRK, ESCO CSV imports (good and malformed), custom CSV/JSON, search, CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.frameworks import importers
from hub.frameworks import services as fw
from hub.frameworks.cli import frameworks as frameworks_cli
from hub.frameworks.importers import ImportRefused
from hub.frameworks.models import Descriptor

DATA = Path(__file__).parent / "data"
SKILLS_HEADER = (
    "conceptType,conceptUri,skillType,reuseLevel,preferredLabel,altLabels,hiddenLabels,status,modifiedDate,"
    "scopeNote,definition,inScheme,description\n"
)


def esco(ctx, name: str, kind="skills", language="en"):
    with ctx.db.session_scope() as s, (DATA / name).open("rb") as fh:
        return importers.import_esco(s, fh, kind=kind, language=language)


def refused(ctx, body: bytes, **kw) -> ImportRefused:
    kw.setdefault("kind", "skills")
    kw.setdefault("language", "en")
    with pytest.raises(ImportRefused) as info, ctx.db.session_scope() as s:
        importers.import_esco(s, io.BytesIO(body), **kw)
    return info.value


def count(ctx) -> int:
    with ctx.db.session_scope() as s:
        return s.scalar(select(func.count()).select_from(Descriptor))


def test_bundled_eqf_and_prk(ctx):
    with ctx.db.session_scope() as s:
        assert fw.load_bundled(s) == {"eqf": 8, "prk": 8}
        assert fw.load_bundled(s) == {"eqf": 8, "prk": 8}  # idempotent
    with ctx.db.session_scope() as s:
        for level in range(1, 9):
            eqf = fw.level_descriptor(s, "eqf", level)
            prk = fw.level_descriptor(s, "prk", level)
            assert eqf.url == f"http://data.europa.eu/snb/eqf/{level}"
            assert set(eqf.domains) == {"knowledge", "skills", "responsibility_autonomy"}
            assert set(prk.domains) == {"knowledge", "skills", "social_competence"}
            assert all(v["en"] and v["pl"] for d in (eqf, prk) for v in d.domains.values())
        four = fw.level_descriptor(s, "eqf", 4)
        assert four.description_pl.startswith("Wiedza: Wiedza faktograficzna")
        assert fw.alignment(four)["targetType"] == "ext:EQFLevel"
        assert fw.alignment(fw.level_descriptor(s, "prk", 4), "pl")["targetName"] == "Poziom 4 PRK"
    with ctx.db.read_scope() as s:
        found = lambda q: [f"{d.framework.identifier}:{d.code}" for d in fw.search_descriptors(s, q)]  # noqa: E731
        assert found("eqf:4") == ["eqf:4"] and found("EQF:4") == ["eqf:4"] and found("erk:4") == ["eqf:4"]
        assert found("EQF 4") == ["eqf:4"] and found("ERK 4") == ["eqf:4"] and found("PRK 6") == ["prk:6"]
        assert found("level 4")[:2] == ["eqf:4", "prk:4"] and "prk:4" in found("poziom 4")
        assert found("eqf") and found("nope:4") == [] and found("level 99") == []
    for name in ("eqf.json", "prk.json"):
        doc = json.loads((fw.BUNDLED_DIR / name).read_text("utf-8"))
        assert doc["sources"], f"{name} must cite its sources"
    prk = json.loads((fw.BUNDLED_DIR / "prk.json").read_text("utf-8"))
    assert [d["eqf_level"] for d in prk["descriptors"]] == [d["level"] for d in prk["descriptors"]] == list(range(1, 9))


def test_esco_import_both_languages_idempotent_and_searchable(ctx):
    assert esco(ctx, "skills_en.csv").rows == 4
    assert esco(ctx, "skills_pl.csv", language="pl").rows == 4
    assert esco(ctx, "skills_en.csv").rows == 4  # re-import updates, never duplicates
    assert esco(ctx, "occupations_en.csv", kind="occupations").rows == 2
    assert count(ctx) == 6
    with ctx.db.session_scope() as s:
        d = fw.get_descriptor(s, "esco-skills", "0001-python")
        assert d.url == "http://data.europa.eu/esco/skill/0001-python"
        assert d.name_en == "Python (computer programming)" and d.name_pl == "Python (programowanie komputerowe)"
        assert d.description_en.endswith("\nSecond line.") and d.kind == "skill/competence"
        assert fw.get_descriptor(s, "esco-occupations", "2512.4").parent_code == "2512"
        hits = lambda q, **kw: [x.code for x in fw.search_descriptors(s, q, **kw)]  # noqa: E731
        assert hits("ZESPOLE") == ["0002-teamwork"]  # Polish label, case-insensitive
        assert hits("łódź") == ["0004-law"]  # non-ASCII case folding
        assert hits("teamwork") == ["0002-teamwork"]  # alternative label
        assert hits("coder") == ["2512.4"]
        assert hits("2512.4") == ["2512.4"]  # by code
        assert hits("python", framework="esco-occupations") == []
        assert hits("50%") == []  # LIKE wildcards are escaped


def test_relabelling_keeps_other_language(ctx):
    esco(ctx, "skills_en.csv")
    esco(ctx, "skills_pl.csv", language="pl")
    changed = (DATA / "skills_en.csv").read_bytes().replace(b"work in teams", b"work in a team")
    with ctx.db.session_scope() as s:
        importers.import_esco(s, io.BytesIO(changed), kind="skills", language="en")
    with ctx.db.session_scope() as s:
        d = fw.get_descriptor(s, "esco-skills", "0002-teamwork")
        assert (d.name_en, d.name_pl) == ("work in a team", "pracować w zespole")


ROW = "KnowledgeSkillCompetence,http://data.europa.eu/esco/skill/{code},knowledge,,{label},,,released,,,,,\n"


def test_wrong_columns(ctx):
    err = refused(ctx, b"uri,label\nhttp://x,y\n")
    assert "missing conceptType, conceptUri, preferredLabel" in err.detail
    assert err.errors[0].where == "line 1"
    semi = refused(ctx, SKILLS_HEADER.replace(",", ";").encode())
    assert "';' as separator" in semi.detail
    occupations_as_skills = refused(ctx, (DATA / "occupations_en.csv").read_bytes())
    assert "conceptType is 'Occupation'" in occupations_as_skills.errors[0].message


def test_bad_encoding_names_the_line(ctx):
    body = (SKILLS_HEADER + ROW.format(code="a", label="ok") + ROW.format(code="b", label="Łódź")).encode("cp1250")
    err = refused(ctx, body)
    assert "not UTF-8" in err.detail
    assert err.errors[0].where == "line 3" and "0xa3" in err.errors[0].message


def test_duplicate_codes_and_row_errors_refuse_everything(ctx):
    body = SKILLS_HEADER + "".join(ROW.format(code=f"c{i}", label=f"skill {i}") for i in range(3000))
    body += ROW.format(code="c7", label="again")  # line 3002
    body += ROW.format(code="x", label="")  # line 3003
    body += "KnowledgeSkillCompetence,not-a-uri,knowledge,,label,,,,,,,,\n"
    body += "KnowledgeSkillCompetence,http://data.europa.eu/esco/skill/short\n"
    err = refused(ctx, body.encode())
    assert [str(e) for e in err.errors] == [
        "line 3002: duplicate code 'c7' (first on line 9)",
        "line 3003: preferredLabel is empty",
        "line 3004: conceptUri must be an http(s) URI",
        "line 3005: 2 fields, the header has 13",
    ]
    assert count(ctx) == 0  # the first batches were rolled back with the refusal


def test_multiline_fields_keep_line_numbers(ctx):
    body = SKILLS_HEADER + 'KnowledgeSkillCompetence,http://e.eu/s/1,knowledge,,one,"a\nb\nc",,,,,,,"x\ny"\n'
    body += ROW.format(code="2", label="")
    err = refused(ctx, body.encode())
    assert str(err.errors[0]) == "line 6: preferredLabel is empty"


def test_zero_rows_and_empty_file(ctx):
    assert "no data rows" in refused(ctx, SKILLS_HEADER.encode()).detail
    assert "no data rows" in refused(ctx, (SKILLS_HEADER + "\n\n").encode()).detail
    assert "empty" in refused(ctx, b"").detail


def test_bad_arguments(ctx):
    from hub.errors import ValidationError

    with pytest.raises(ValidationError), ctx.db.session_scope() as s:
        importers.import_esco(s, io.BytesIO(b""), kind="skills", language="de")


CUSTOM_CSV = """code,url,name_en,name_pl,level,parent,description_pl
R,https://sector.example.pl/register,Register,Rejestr,,,
R-1,https://sector.example.pl/q/1,Lifeguard,Ratownik wodny,4,R,Kwalifikacja rynkowa
"""


def test_custom_csv_and_json(ctx):
    with ctx.db.session_scope() as s:
        r = importers.import_custom_csv(
            s,
            io.BytesIO(CUSTOM_CSV.encode()),
            identifier="zrk-sport",
            name_en="Sports qualifications",
            name_pl="Kwalifikacje sportowe",
            url="https://sector.example.pl",
            target_type="ext:MarketQualification",
        )
        assert r.rows == 2
        d = fw.get_descriptor(s, "zrk-sport", "R-1")
        assert (d.level, d.parent_code, d.name_pl) == (4, "R", "Ratownik wodny")
        assert fw.alignment(d)["targetType"] == "ext:MarketQualification"
    doc = {
        "identifier": "club-skills",
        "name": {"en": "Club skills", "pl": "Umiejętności klubowe"},
        "url": "https://club.example.pl",
        "descriptors": [{"code": "swim", "url": "https://club.example.pl/swim", "name": {"pl": "Pływanie"}}],
    }
    with ctx.db.session_scope() as s:
        assert importers.import_custom_json(s, io.BytesIO(json.dumps(doc).encode())).rows == 1
    bad = dict(doc, descriptors=[{"code": "a", "url": "ftp://x", "name": "A"}, {"code": "b", "url": "https://x"}])
    with pytest.raises(ImportRefused) as info, ctx.db.session_scope() as s:
        importers.import_custom_json(s, io.BytesIO(json.dumps(bad).encode()))
    assert [e.where for e in info.value.errors] == ["descriptors[0]", "descriptors[1]"]
    with pytest.raises(ImportRefused) as info, ctx.db.session_scope() as s:
        importers.import_custom_json(s, io.BytesIO(b'{"identifier":\n  oops}'))
    assert info.value.errors[0].where == "line 2"
    dup = CUSTOM_CSV + "R,https://sector.example.pl/again,Again,,,,\n"
    with pytest.raises(ImportRefused) as info, ctx.db.session_scope() as s:
        importers.import_custom_csv(
            s, io.BytesIO(dup.encode()), identifier="zrk-sport", name_en="S", url="https://s.pl"
        )
    assert str(info.value.errors[0]) == "line 4: duplicate code 'R' (first on line 2)"


def test_cli(app, ctx):
    app.cli.add_command(frameworks_cli)
    runner = app.test_cli_runner()
    out = runner.invoke(args=["frameworks", "load-bundled"])
    assert out.exit_code == 0 and "eqf: 8 descriptors" in out.output
    args = ["frameworks", "import-esco", str(DATA / "skills_pl.csv"), "--kind", "skills", "--language", "pl"]
    out = runner.invoke(args=args)
    assert out.exit_code == 0, out.output
    assert "esco-skills: 4 rows imported (pl)" in out.output
    out = runner.invoke(args=["frameworks", "search", "pierwszej pomocy"])
    assert "esco-skills:0003-first-aid" in out.output
    out = runner.invoke(args=["frameworks", "map-outcome", "FA-1", "esco-skills:0003-first-aid"])
    assert out.exit_code == 0, out.output
    bad = DATA.parent / "__init__.py"  # not an ESCO file
    out = runner.invoke(args=["frameworks", "import-esco", str(bad), "--kind", "skills", "--language", "en"])
    assert out.exit_code == 1 and "empty" in out.output
