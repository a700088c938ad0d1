"""How the hub reads input from outside: the base marshmallow schema of every JSON API body and query
(the hub's ``/api/v1`` and the connectors' API routes, which may not import :mod:`hub.web`, read input
the same way), with the fields whose rules the OpenAPI document states exactly as the code applies them
(a ``pattern`` is checked with :func:`re.search`, as JSON Schema validators in Python read it), and the
one check of text that cannot be stored (:func:`invalid_text_at`, :func:`not_unicode`), used at the
request boundary (:mod:`hub.web.boundary`) and by the inbox.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

from marshmallow import EXCLUDE, Schema, fields, pre_load, validate
from marshmallow import ValidationError as MarshmallowError

from hub.errors import HubError, ValidationError
from hub.i18n import lazy as _l

#: Text without NUL (PostgreSQL text cannot hold it): the ``pattern`` of every text field in the document.
NO_NUL = "^[^\\u0000]*$"
NUL_MESSAGE = "text must not contain NUL characters"

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_H16 = r"[0-9A-Fa-f]{1,4}"
# IPv6address of RFC 3986 section 3.2.2 without the embedded-IPv4 forms, one alternative per place of the
# "::": strict, so that anything generated from the pattern (schemathesis does) is an address urlsplit takes.
_IPV6 = (
    rf"(?:(?:{_H16}:){{7}}{_H16}|(?:{_H16}:){{1,7}}:|(?:{_H16}:){{1,6}}:{_H16}"
    rf"|(?:{_H16}:){{1,5}}(?::{_H16}){{1,2}}|(?:{_H16}:){{1,4}}(?::{_H16}){{1,3}}"
    rf"|(?:{_H16}:){{1,3}}(?::{_H16}){{1,4}}|(?:{_H16}:){{1,2}}(?::{_H16}){{1,5}}"
    rf"|{_H16}:(?::{_H16}){{1,6}}|:(?:(?::{_H16}){{1,7}}|:))"
)
_HOST = rf"(?:(?:{_LABEL}\.)*{_LABEL}|\[{_IPV6}\])"  # a name, IPv4, or a bracketed IPv6 address
_PORT = r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?"
#: White space as Python knows it (``str.isspace``, what ``str.strip`` removes), spelled out for a character
#: class: JSON Schema validators read ``\s`` as ECMA-262 does, schemathesis as ASCII (``re.ASCII``) and
#: Python's ``re`` as Unicode, so ``"\x1c"`` or ``"\x85"`` matched ``[^\s]`` in the document and not in the code.
#: A pattern of the document never says ``\s``.
SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_REST = rf"(?:[/?#][^{SPACE}\u0000]*)?"
#: A host in a URL: labels of letters, digits and ``-`` joined by dots (a name or IPv4 address), or an
#: IPv6 address in brackets (RFC 3986 section 3.2.2).
URL_HOST = _HOST


def url_pattern(origin: str = rf"https?://{_HOST}", *, base: bool = False) -> str:
    """The pattern of an absolute URL starting with ``origin`` (a regular expression for scheme and host),
    then an optional port (0-65535), then anything but white space (``base``: a path only, no query or
    fragment)."""
    rest = rf"(?:/[^{SPACE}\u0000?#]*)?" if base else _REST
    return rf"^{origin}{_PORT}{rest}$"


#: An absolute http(s) URL: what the API accepts wherever it takes a URL.
HTTP_URL = url_pattern()
#: The same without query or fragment (a site's base address).
HTTP_BASE_URL = url_pattern(base=True)
#: Base64 with its padding (RFC 4648 §4), as :func:`base64.b64decode` with ``validate=True`` reads it.
BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
#: A public id (``cursor``): a UUID, as the hub writes them.
UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def has_nul(value) -> bool:
    """Whether ``value`` (text, or dicts/lists of it, keys included) contains a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


def _is_unicode(text: str) -> bool:
    """Whether ``text`` is Unicode text that can be stored: no lone UTF-16 surrogate (U+D800-U+DFFF), which
    JSON's ``\\ud83c`` escape can produce (a cut-off emoji) but UTF-8 cannot encode."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown_key(key: str) -> str:
    return key if _is_unicode(key) else key.encode("unicode_escape").decode("ascii")


def invalid_text_at(value, path: str = "") -> str | None:
    """Where in ``value`` (parsed JSON: text, numbers, dicts and lists of them, at any depth, keys
    included) the first text that is not valid Unicode is (:func:`_is_unicode`), as a dotted path of keys
    and list indexes (``"items.0.email"``; ``""``: ``value`` itself; an invalid key is written with
    ``\\u`` escapes), or None when all of it is valid.

    The one check of every input the hub parses from outside (the JSON API, console and learner forms,
    webhook bodies, imports): :mod:`hub.web.boundary` and the inbox call it. Iterative, so a deeply
    nested document costs no recursion.
    """
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if not _is_unicode(item):
                return where
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                name = f"{where}.{_shown_key(str(key))}" if where else _shown_key(str(key))
                if isinstance(key, str) and not _is_unicode(key):
                    return name
                stack.append((name, child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{where}.{i}" if where else str(i), child) for i, child in reversed(list(enumerate(item))))
    return None


def not_unicode(field: str, error: type[HubError] = ValidationError) -> HubError:
    """The refusal of text that is not valid Unicode at ``field`` (a dotted path, see
    :func:`invalid_text_at`): ``error`` (422 :class:`~hub.errors.ValidationError` by default; the inbox
    uses :class:`~hub.errors.EventNotProcessable`) with ``field`` set, its message naming the field."""
    return error(
        _l(
            'the text at "%(field)s" is not valid Unicode (a lone UTF-16 surrogate such as \\ud83c, or a cut-off '
            "emoji); send it as UTF-8 text",
            field=field,
        ),
        field=field,
    )


class Pattern(validate.Validator):
    """Valid when :func:`re.search` finds ``pattern`` in the text: the JSON Schema ``pattern`` keyword as
    Python's validators (and schemathesis) apply it, so the document and the code cannot disagree."""

    def __init__(self, pattern: str, error: str = "String does not match expected pattern."):
        self.pattern = pattern
        self.regex = re.compile(pattern)
        self.error = error

    def __call__(self, value):
        if not isinstance(value, str) or self.regex.search(value) is None:
            raise MarshmallowError(self.error)
        return value


def http_url(*, max_length: int = 1024, base: bool = False, pattern: str | None = None, **kwargs) -> fields.String:
    """A text field holding an absolute http(s) URL (:data:`HTTP_URL`; ``base``: :data:`HTTP_BASE_URL`; or
    ``pattern``) of at most ``max_length`` characters; ``kwargs`` go to :class:`marshmallow.fields.String`."""
    pattern = pattern or (HTTP_BASE_URL if base else HTTP_URL)
    metadata = {"pattern": pattern, "description": "an absolute http(s) URL", **kwargs.pop("metadata", {})}
    checks = [validate.Length(max=max_length), Pattern(pattern, "Not a valid URL.")]
    return fields.String(validate=checks, metadata=metadata, **kwargs)


def base64_file(description: str, **kwargs) -> fields.String:
    """A text field holding a file in base64 (:data:`BASE64`); ``kwargs`` go to
    :class:`marshmallow.fields.String`."""
    metadata = {"pattern": BASE64, "contentEncoding": "base64", "description": description}
    return fields.String(validate=Pattern(BASE64, "Not valid base64."), metadata=metadata, **kwargs)


def _nul_checked(field) -> bool:
    """Whether NUL is refused in ``field``'s value here: text and containers of typed text. Nested
    schemas check their own fields; free-form JSON (a dict of any values) is stored as JSON, where a
    NUL is written ``\\u0000``, so it may hold one."""
    if isinstance(field, fields.Nested):
        return False
    if isinstance(field, fields.List):
        return _nul_checked(field.inner)
    if isinstance(field, fields.Dict):
        return field.value_field is not None
    return True


def _json_type_fits(field, value) -> bool:
    """Whether a JSON ``value`` has the JSON type the document gives ``field``: marshmallow also takes
    ``1``/``"true"`` for a boolean and ``"5"`` for a number, which JSON Schema does not."""
    if isinstance(field, fields.Boolean):
        return isinstance(value, bool)
    if isinstance(field, fields.Integer):
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if isinstance(field, fields.Number):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


class ApiSchema(Schema):
    """Unknown fields are ignored (and so not checked); text with NUL in a declared field is refused (422
    naming the field), since PostgreSQL text cannot hold it and the database must not be the one to say
    so. The document states it with :data:`NO_NUL` (:func:`no_nul_attribute`). A body that is not an
    object is refused before any schema sees it (:mod:`hub.web.boundary`), unless the schema sets
    :attr:`accepts_list`."""

    #: The JSON body may also be a list (the schema's own ``pre_load`` turns it into an object).
    accepts_list = False
    #: JSON Schema keywords of the object as a whole (``anyOf``, ``if``/``then``): the rules between its
    #: fields that the code checks after loading, stated in the document too
    #: (:class:`hub.web.api_contract.ObjectRules`; :func:`one_given` writes the usual one).
    object_rules: ClassVar[dict] = {}

    class Meta:
        unknown = EXCLUDE

    @pre_load(pass_collection=True)
    def _refuse_nul(self, data, **_kw):
        if not isinstance(data, Mapping):  # a list (accepts_list) or not an object: marshmallow says so
            if has_nul(data if isinstance(data, list | str) else None):
                raise MarshmallowError(str(_l(NUL_MESSAGE)))
            return data
        bad = {
            field.data_key or name: [str(_l(NUL_MESSAGE))]  # in the request's language
            for name, field in self.load_fields.items()
            if _nul_checked(field) and has_nul(data.get(field.data_key or name))
        }
        if isinstance(data, dict):  # a JSON body (query and form values arrive as text, in a MultiDict)
            for name, field in self.load_fields.items():
                key = field.data_key or name
                if key in data and data[key] is not None and not _json_type_fits(field, data[key]):
                    bad.setdefault(key, []).append("Invalid type.")
        if bad:
            raise MarshmallowError(bad)
        return data


#: Text with something other than white space in it (a value the code does not take as "not given").
NOT_BLANK = {"type": "string", "pattern": f"[^{SPACE}]"}


def one_given(**branches: dict) -> dict:
    """:attr:`ApiSchema.object_rules` saying that at least one of the fields named is given as the JSON
    Schema with it (e.g. ``url=NOT_BLANK``, ``course_ids={"type": "array", "minItems": 1}``)."""
    return {"anyOf": [{"required": [name], "properties": {name: rule}} for name, rule in branches.items()]}


def no_nul_attribute(self, field, ret, **_kwargs) -> dict:
    """An apispec attribute function (``MarshmallowPlugin.converter.add_attribute_function``): text fields
    without a pattern, format or enum of their own get ``pattern: NO_NUL``; typed dicts get it for their
    keys (``propertyNames``); ``contentEncoding`` in a field's metadata (JSON Schema 2020-12 §8.3, which
    apispec does not pass on) reaches the document; e-mail fields get ``minLength: 1`` (``format`` only
    annotates in JSON Schema 2020-12, so without it ``""`` is a valid value there, and marshmallow refuses it)."""
    extra = {k: field.metadata[k] for k in ("contentEncoding", "contentMediaType") if k in field.metadata}
    if isinstance(field, fields.Email) and "minLength" not in ret:
        extra["minLength"] = 1
    if isinstance(field, fields.String) and not ({"pattern", "format", "enum"} & set(ret)):
        extra["pattern"] = NO_NUL
    if isinstance(field, fields.Dict) and field.key_field is not None and "propertyNames" not in ret:
        extra["propertyNames"] = {"pattern": NO_NUL}
    return extra
