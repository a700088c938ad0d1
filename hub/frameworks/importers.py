"""Importers: ESCO skills and occupations (the ESCO classification's CSV export) and custom frameworks
(a simple CSV, or the JSON shape of the bundled files; both documented in ``README.md, "Frameworks"``).

Streaming: the file is read as bytes, decoded line by line (so a bad byte is reported at its line),
parsed by :mod:`csv` and upserted in batches of :data:`BATCH` rows (one ``INSERT ... ON CONFLICT``
each, :func:`hub.frameworks.services.upsert_descriptors`); memory does not grow with the file beyond
the set of codes seen (for duplicate detection). Every row is checked; errors are collected with their
physical line numbers (up to :data:`MAX_ERRORS`) and the import is refused as a whole: the caller's
transaction, which already holds the earlier batches, is rolled back at the boundary. Re-importing
updates (idempotent on ``(framework, code)``); importing another language's file of the same ESCO
export fills that language's labels and keeps the others.

ESCO export columns (ESCO v1.1/v1.2 "CSV" download, one file per language, e.g. ``skills_en.csv``):
``conceptType, conceptUri, skillType, reuseLevel, preferredLabel, altLabels, hiddenLabels, status,
modifiedDate, scopeNote, definition, inScheme, description`` for skills; occupations have
``iscoGroup`` and ``code`` (and ``regulatedProfessionNote``). https://esco.ec.europa.eu/en/use-esco/download
"""

from __future__ import annotations

import codecs
import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy.orm import Session

from hub.errors import ValidationError
from hub.frameworks import services as fw
from hub.i18n import N_, english, joined, number
from hub.i18n import lazy as _l
from hub.schemas import invalid_text_at, not_unicode

log = logging.getLogger(__name__)

BATCH = 2000
MAX_ERRORS = 50
# ESCO descriptions can be long; csv's default field limit (128 KiB) is kept as a guard.
ESCO_FRAMEWORKS = {
    "skills": {
        "identifier": "esco-skills",
        "name_en": "ESCO skills and knowledge",
        "name_pl": "Umiejętności i wiedza ESCO",
        "url": "https://esco.ec.europa.eu/en/classification/skill_main",
        "target_type": "ceasn:Competency",
        "concept_type": "KnowledgeSkillCompetence",
        "required": ("conceptType", "conceptUri", "preferredLabel"),
        "known": (
            "conceptType", "conceptUri", "skillType", "reuseLevel", "preferredLabel", "altLabels", "hiddenLabels",
            "status", "modifiedDate", "scopeNote", "definition", "inScheme", "description",
        ),
    },
    "occupations": {
        "identifier": "esco-occupations",
        "name_en": "ESCO occupations",
        "name_pl": "Zawody ESCO",
        "url": "https://esco.ec.europa.eu/en/classification/occupation_main",
        "target_type": "ext:Occupation",
        "concept_type": "Occupation",
        "required": ("conceptType", "conceptUri", "preferredLabel", "code"),
        "known": (
            "conceptType", "conceptUri", "iscoGroup", "preferredLabel", "altLabels", "hiddenLabels", "status",
            "modifiedDate", "regulatedProfessionNote", "scopeNote", "definition", "inScheme", "description", "code",
        ),
    },
}  # fmt: skip
CUSTOM_COLUMNS = ("code", "url", "name_en", "name_pl", "description_en", "description_pl", "level", "parent", "kind")


@dataclass(frozen=True)
class RowError:
    """One problem: ``where`` is ``line N`` (CSV, 1-based physical line) or ``descriptors[i]`` (JSON), the
    same in every language (machine-readable); ``message`` a text or a lazy text (:mod:`hub.i18n`), shown
    in the reader's language."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ImportRefused(ValidationError):
    """The file cannot be imported; ``errors`` lists ``{"where", "message"}`` (first :data:`MAX_ERRORS`);
    in problem JSON ``where`` stays as is and ``message`` is in the request's language."""

    slug = "import-refused"
    title = N_("Import refused")

    def __init__(self, detail, errors: list[RowError] = ()):
        super().__init__(detail, errors=[{"where": e.where, "message": e.message} for e in errors])
        self.errors = list(errors)

    def __str__(self) -> str:
        """English (the CLI and logs)."""
        return "\n".join([english(self.detail), *(f"{e.where}: {english(e.message)}" for e in self.errors)])


@dataclass(frozen=True)
class ImportResult:
    """What an import did: the framework's identifier, data rows read and language."""

    framework: str
    rows: int
    language: str | None = None


def _hex_byte(data: bytes, index: int) -> str:
    return f"0x{data[index]:02x}"


def _decoded_lines(stream: BinaryIO, counter: list[int]) -> Iterator[str]:
    """Lines of a UTF-8 byte stream, BOM dropped; ``counter[0]`` is the physical line just yielded.

    Raises:
        ImportRefused: a line is not UTF-8 (names the line and byte column).
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    first = True
    for raw in stream:
        counter[0] += 1
        try:
            line = decoder.decode(raw)
        except UnicodeDecodeError as exc:
            byte, where = _hex_byte(raw, exc.start), f"line {counter[0]}"
            raise ImportRefused(
                _l("the file is not UTF-8 (ESCO exports and the custom format are UTF-8; re-save it as UTF-8)"),
                [
                    RowError(
                        where, _l("byte %(byte)s at column %(column)s is not UTF-8", byte=byte, column=exc.start + 1)
                    )
                ],
            ) from None
        if first:
            line = line.removeprefix("\ufeff")
            first = False
        yield line


def _reader(stream: BinaryIO, required: tuple[str, ...], known: tuple[str, ...] | None):
    """``(rows, counter)``: a csv.DictReader over ``stream`` after the header was checked.

    Raises:
        ImportRefused: empty file, or header lacking ``required`` columns (with a hint for ``;`` files).
    """
    counter = [0]
    lines = _decoded_lines(stream, counter)
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused(_l("the file is empty: no header, no rows")) from None
    except csv.Error as exc:
        raise ImportRefused(_l("cannot read the header"), [RowError("line 1", str(exc))]) from None
    header = [h.strip() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        detail = _l(
            "wrong columns: missing %(missing)s; found %(found)s",
            missing=joined(missing),
            found=joined(header) if header else _l("none"),
        )
        if len(header) == 1 and ";" in header[0]:
            detail = _l("%(problem)s (the file seems to use ';' as separator; a comma is expected)", problem=detail)
        raise ImportRefused(detail, [RowError("line 1", _l("missing column(s): %(columns)s", columns=joined(missing)))])
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ImportRefused(
            _l("repeated column(s): %(columns)s", columns=joined(dupes)),
            [RowError("line 1", _l("repeated column(s)"))],
        )
    if known is not None:
        unknown = [h for h in header if h not in known]
        if unknown:
            log.info("ignoring unknown columns", extra={"columns": unknown})

    def rows():
        while True:
            start = counter[0] + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportRefused(_l("malformed CSV"), [RowError(f"line {start}", str(exc))]) from None
            if not values or all(not v.strip() for v in values):
                continue  # blank line
            if len(values) != len(header):
                yield start, None, _l("%(n)s fields, the header has %(header)s", n=len(values), header=len(header))
                continue
            yield start, dict(zip(header, values, strict=True)), None

    return rows(), counter


class _Collector:
    """Rows to upsert in batches, errors to report, codes seen (duplicates)."""

    def __init__(self, session: Session, framework, columns: tuple[str, ...]):
        self.session, self.framework, self.columns = session, framework, columns
        self.batch: list[dict] = []
        self.errors: list[RowError] = []
        self.seen: dict[str, int] = {}
        self.rows = 0

    def error(self, line: int, message) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(f"line {line}", message))

    def add(self, line: int, row: dict) -> None:
        code = row["code"]
        if code in self.seen:
            self.error(line, _l("duplicate code '%(code)s' (first on line %(line)s)", code=code, line=self.seen[code]))
            return
        self.seen[code] = line
        self.rows += 1
        if self.errors:
            return  # refused anyway: keep checking, stop writing
        self.batch.append(row)
        if len(self.batch) >= BATCH:
            self.flush()

    def flush(self) -> None:
        fw.upsert_descriptors(self.session, self.framework, self.batch, self.columns)
        self.batch = []

    def finish(self, what) -> None:
        if self.errors:
            if len(self.errors) >= MAX_ERRORS:
                detail = _l(
                    "%(what)s: invalid rows: %(n)s or more (the first %(n)s shown); nothing was imported",
                    what=what,
                    n=number(len(self.errors)),
                )
            else:
                detail = _l(
                    "%(what)s: invalid rows: %(n)s; nothing was imported", what=what, n=number(len(self.errors))
                )
            raise ImportRefused(detail, self.errors)
        if self.rows == 0:
            raise ImportRefused(_l("%(what)s: the file has a header but no data rows", what=what))
        self.flush()


def _split_labels(value: str | None) -> list[str]:
    # ESCO puts one alternative label per line in altLabels/hiddenLabels
    return [v.strip() for v in (value or "").splitlines() if v.strip()]


def import_esco(session: Session, stream: BinaryIO, *, kind: str, language: str) -> ImportResult:
    """Import one ESCO CSV export file (``skills_<lang>.csv`` or ``occupations_<lang>.csv``).

    Args:
        stream: the file opened in binary mode (UTF-8, with or without BOM).
        kind: ``skills`` or ``occupations``.
        language: ``en`` or ``pl``, the file's language (its labels fill that language's fields).

    Descriptor mapping: code = the concept URI's last segment (skills) or the ESCO ``code``
    (occupations, e.g. ``2654.1.7``); url = ``conceptUri``; name = ``preferredLabel``; description =
    ``description`` (else ``definition``); kind = ``skillType`` (``skill/competence``, ``knowledge``)
    or ``occupation``; parent (occupations) = ``iscoGroup``; search also covers ``altLabels``.

    Raises:
        ImportRefused: wrong columns, bad encoding, a wrong ``conceptType``, missing URI or label,
            duplicate codes, no data rows (line-numbered).
        ValidationError: unknown ``kind`` or ``language``.
    """
    spec = ESCO_FRAMEWORKS.get(kind)
    if spec is None:
        raise ValidationError(_l("kind must be skills or occupations"), field="kind")
    if language not in fw.LANGS:
        raise ValidationError(_l("language must be one of %(choices)s", choices=joined(fw.LANGS)), field="language")
    framework = fw.ensure_framework(
        session,
        identifier=spec["identifier"],
        name_en=spec["name_en"],
        name_pl=spec["name_pl"],
        url=spec["url"],
        target_type=spec["target_type"],
        source="ESCO classification, CSV export (https://esco.ec.europa.eu/en/use-esco/download)",
    )
    columns = ("url", "kind", "parent_code", f"name_{language}", f"description_{language}", f"search_{language}")
    rows, _ = _reader(stream, spec["required"], spec["known"])
    out = _Collector(session, framework, columns)
    for line, rec, problem in rows:
        if problem:
            out.error(line, problem)
            continue
        concept_type = rec["conceptType"].strip()
        uri = rec["conceptUri"].strip()
        label = fw.text(rec["preferredLabel"])
        if concept_type != spec["concept_type"]:
            out.error(
                line,
                _l(
                    "conceptType is '%(found)s', expected '%(expected)s' (is this the %(kind)s file?)",
                    found=concept_type,
                    expected=spec["concept_type"],
                    kind=kind,
                ),
            )
            continue
        if not uri.startswith(("http://", "https://")):
            out.error(line, _l("conceptUri must be an http(s) URI"))
            continue
        if not label:
            out.error(line, _l("preferredLabel is empty"))
            continue
        code = fw.text(rec.get("code")) if kind == "occupations" else uri.rstrip("/").rsplit("/", 1)[-1]
        if not code:
            out.error(line, _l("code is empty"))
            continue
        if len(code) > 255 or len(uri) > 1024:
            out.error(line, _l("code or conceptUri is too long"))
            continue
        out.add(
            line,
            {
                "code": code,
                "url": uri,
                "kind": fw.text(rec.get("skillType")) if kind == "skills" else "occupation",
                "parent_code": fw.text(rec.get("iscoGroup")),
                f"name_{language}": label,
                f"description_{language}": fw.text(rec.get("description")) or fw.text(rec.get("definition")),
                f"search_{language}": fw.folded(code, label, *_split_labels(rec.get("altLabels"))),
            },
        )
    out.finish(_l("ESCO %(kind)s (%(language)s)", kind=kind, language=language))
    log.info("imported ESCO", extra={"kind": kind, "language": language, "rows": out.rows})
    return ImportResult(framework.identifier, out.rows, language)


def import_custom_csv(
    session: Session,
    stream: BinaryIO,
    *,
    identifier: str,
    name_en: str,
    name_pl: str | None = None,
    url: str,
    target_type: str | None = None,
    source: str | None = None,
) -> ImportResult:
    """Import a custom framework from CSV: header ``code,url,name_en,name_pl,description_en,
    description_pl,level,parent,kind`` (``code``, ``url`` and one of the names required; other columns
    optional). The framework's metadata comes from the arguments (see :func:`services.ensure_framework`).

    Raises:
        ImportRefused: as :func:`import_esco`, plus a non-integer ``level``.
    """
    framework = fw.ensure_framework(
        session,
        identifier=identifier,
        name_en=name_en,
        name_pl=name_pl,
        url=url,
        target_type=target_type,
        source=source,
    )
    rows, _ = _reader(stream, ("code", "url"), CUSTOM_COLUMNS)
    present: set[str] | None = None
    out = _Collector(session, framework, ())
    for line, rec, problem in rows:
        if problem:
            out.error(line, problem)
            continue
        if present is None:
            present = set(rec)
            cols = ["url", "level", "parent_code", "kind", "search_en", "search_pl"]
            cols += [c for c in ("name_en", "name_pl", "description_en", "description_pl") if c in present]
            out.columns = tuple(cols)
        code, link = fw.text(rec.get("code")), fw.text(rec.get("url"))
        if not code or len(code) > 255:
            out.error(line, _l("code is empty or longer than 255 characters"))
            continue
        if not link or not link.startswith(("http://", "https://")):
            out.error(line, _l("url must be an http(s) URL"))
            continue
        names = {lang: fw.text(rec.get(f"name_{lang}")) for lang in fw.LANGS}
        if not any(names.values()):
            out.error(line, _l("name_en or name_pl is required"))
            continue
        level = fw.text(rec.get("level"))
        if level is not None and not level.isdigit():
            out.error(line, _l("level '%(level)s' is not a whole number", level=level))
            continue
        row = {
            "code": code,
            "url": link,
            "level": int(level) if level else None,
            "parent_code": fw.text(rec.get("parent")),
            "kind": fw.text(rec.get("kind")),
        }
        for lang in fw.LANGS:
            row[f"name_{lang}"] = names[lang]
            row[f"description_{lang}"] = fw.text(rec.get(f"description_{lang}"))
            row[f"search_{lang}"] = fw.folded(code, names[lang])
        out.add(line, row)
    out.finish(_l("framework %(framework)s", framework=framework.identifier))
    return ImportResult(framework.identifier, out.rows)


def import_custom_json(session: Session, stream: BinaryIO) -> ImportResult:
    """Import a custom framework from the JSON shape of the bundled files
    (:func:`hub.frameworks.services.load_framework_document`). Read whole: meant for registers of
    thousands of rows; use CSV for more.

    Raises:
        ImportRefused: not UTF-8, not JSON (with its line and column), text that is not valid Unicode
            (naming its place, :func:`hub.schemas.invalid_text_at`), invalid descriptors.
    """
    import json

    raw = stream.read()
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = _hex_byte(raw, exc.start)
        raise ImportRefused(
            _l("the file is not UTF-8"), [RowError(f"line {line}", _l("byte %(byte)s is not UTF-8", byte=byte))]
        ) from None
    except json.JSONDecodeError as exc:
        raise ImportRefused(
            _l("the file is not JSON"),
            [RowError(f"line {exc.lineno}", _l("column %(column)s: %(error)s", column=exc.colno, error=exc.msg))],
        ) from None
    except RecursionError:  # the decoder recurses per nesting level
        raise ImportRefused(
            _l("the file is not JSON"), [RowError("line 1", _l("the JSON body is nested too deeply"))]
        ) from None
    where = invalid_text_at(doc)  # a lone surrogate written as \\ud83c: JSON, but not storable text
    if where is not None:
        refusal = not_unicode(where or "file")
        raise ImportRefused(refusal.detail, [RowError(where or "file", refusal.detail)])
    framework, n = fw.load_framework_document(session, doc, where="JSON")
    return ImportResult(framework.identifier, n)
