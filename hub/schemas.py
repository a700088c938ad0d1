"""How the hub reads input from outside: the base marshmallow schema of every JSON API body and query
(the hub's ``/api/v1`` and the connectors' API routes, which may not import :mod:`hub.web`, read input
the same way), and the one check of text that cannot be stored (:func:`invalid_text_at`,
:func:`not_unicode`), used at the request boundary (:mod:`hub.web.boundary`) and by the inbox."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, pre_load
from marshmallow import ValidationError as MarshmallowError

from hub.errors import HubError, ValidationError
from hub.i18n import lazy as _l


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


class ApiSchema(Schema):
    """Unknown fields are ignored; text with NUL is refused (422), since PostgreSQL text cannot hold it
    and the database must not be the one to say so. A body that is not an object is refused before any
    schema sees it (:mod:`hub.web.boundary`), unless the schema sets :attr:`accepts_list`."""

    #: The JSON body may also be a list (the schema's own ``pre_load`` turns it into an object).
    accepts_list = False

    class Meta:
        unknown = EXCLUDE

    @pre_load(pass_collection=True)
    def _refuse_nul(self, data, **_kw):
        if has_nul(data if isinstance(data, dict | list | str) else dict(data) if hasattr(data, "keys") else None):
            raise MarshmallowError("text must not contain NUL characters")
        return data
