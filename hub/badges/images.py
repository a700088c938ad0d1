"""Checks for uploaded badge and issuer images (PNG and SVG only, as OB baking supports).

PNG is opened and verified with Pillow under a pixel limit (decompression-bomb guard,
https://pillow.readthedocs.io/en/stable/reference/Image.html#PIL.Image.open); SVG is parsed with
defusedxml (no entities, no external DTDs) and refused when it carries scripts, event handlers, embedded
documents (iframes, ``<foreignObject>``), SMIL animation of links, or references (attributes or CSS) to
anything but itself or ``data:`` URIs, because badge images are served from the hub's origin and shown in
browsers (see :func:`_check_svg`).
"""

from __future__ import annotations

import io
import re
import warnings

import defusedxml.ElementTree as SafeET
import tinycss2
from PIL import Image

from hub.errors import ImageError
from hub.i18n import lazy as _l
from hub.i18n import number

PNG = "image/png"
SVG = "image/svg+xml"
_XLINK = "{http://www.w3.org/1999/xlink}href"


def check_image(data: bytes, *, max_bytes: int, max_pixels: int) -> str:
    """Validate an uploaded image; return its media type (``image/png`` or ``image/svg+xml``).

    Args:
        data: the file's bytes.
        max_bytes: size limit, bytes.
        max_pixels: width × height limit for PNG.

    Raises:
        ImageError: empty, too large, not PNG/SVG, corrupt, a decompression bomb, or unsafe SVG.
    """
    if not data:
        raise ImageError(_l("the image is empty"))
    if len(data) > max_bytes:
        raise ImageError(
            _l(
                "the image is %(size)s bytes; the limit is %(limit)s bytes",
                size=number(len(data)),
                limit=number(max_bytes),
            )
        )
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        _check_png(data, max_pixels)
        return PNG
    head = data[:1024].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head:
        _check_svg(data)
        return SVG
    raise ImageError(_l("the image must be a PNG or an SVG file"))


def _check_png(data: bytes, max_pixels: int) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.format != "PNG":
                    raise ImageError(_l("the file is not a PNG"))
                w, h = im.size
                if w * h > max_pixels:
                    raise ImageError(
                        _l(
                            "the image is %(width)s×%(height)s pixels; the limit is %(limit)s pixels",
                            width=number(w),
                            height=number(h),
                            limit=number(max_pixels),
                        )
                    )
                im.verify()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_l("the image is too large to decode safely (decompression bomb)")) from None
    except Exception as exc:  # Pillow raises many types for corrupt files (OSError, SyntaxError, ...)
        raise ImageError(_l("the PNG is corrupt: %(error)s", error=str(exc))) from None


#: Elements refused wherever they appear: script, and elements that embed other documents (HTML in
#: ``<foreignObject>``, frames, plug-ins), which an image served from the hub's origin must never carry.
_EMBEDDING = frozenset({"script", "foreignobject", "iframe", "embed", "object"})

#: SMIL animation elements (SVG 1.1 §19, https://www.w3.org/TR/SVG11/animate.html; ``discard`` from SVG
#: Animations 2, https://svgwg.org/specs/animations/#DiscardElement), lower-cased.
_ANIMATION = frozenset({"set", "animate", "animatetransform", "animatemotion", "discard"})

#: Control characters and whitespace a browser drops from a URL before reading its scheme
#: (WHATWG URL, https://url.spec.whatwg.org/#concept-basic-url-parser: leading C0 control or space, and
#: every ASCII tab or newline), so ``java&#9;script:`` is ``javascript:``.
_URL_NOISE = re.compile(r"[\x00-\x20]")

#: CSS functions whose string arguments are URLs the browser fetches (CSS Values 4 ``url()`` / ``src()``,
#: https://www.w3.org/TR/css-values-4/#urls; CSS Images 4 ``image-set()``).
_URL_FUNCTIONS = frozenset({"url", "src", "image-set", "-webkit-image-set"})


def _check_svg(data: bytes) -> None:
    """Refuse an SVG that could run script or load anything when opened from the hub's origin.

    Refused: a root other than ``<svg>``; ``<script>``, ``<foreignObject>``, ``<iframe>``, ``<embed>``,
    ``<object>``; ``on*`` event handler attributes; ``href`` / ``xlink:href`` other than ``#fragment`` or
    ``data:``; SMIL animation (``<set>``, ``<animate>``, ...) of ``href`` or with a ``javascript:`` value;
    CSS (``<style>``, ``style=`` and presentation attributes such as ``fill="url(...)"``) that imports
    (``@import``) or refers by ``url()`` to anything but a ``#fragment`` or ``data:``, parsed with tinycss2
    so CSS escapes cannot hide a URL. Each refusal is an :class:`ImageError`.
    """
    try:
        root = SafeET.fromstring(data)
    except Exception as exc:  # ParseError, EntitiesForbidden, DTDForbidden, ...
        raise ImageError(
            _l("the SVG is not well-formed or uses forbidden XML features: %(error)s", error=str(exc))
        ) from None
    if root.tag not in ("svg", "{http://www.w3.org/2000/svg}svg"):
        raise ImageError(_l("the SVG's root element is not <svg>"))
    for el in root.iter():
        local = _local(el.tag) if isinstance(el.tag, str) else ""
        if local in _EMBEDDING:
            raise ImageError(_l("the SVG contains a <%(element)s> element", element=local))
        if local in _ANIMATION:
            _check_animation(el, local)
        if local == "style":
            _check_css(tinycss2.parse_stylesheet("".join(el.itertext())))
        for name, value in el.attrib.items():
            attr = _local(name)
            if attr.startswith("on"):
                raise ImageError(_l("the SVG contains an event handler attribute (%(attribute)s)", attribute=attr))
            if (attr == "href" or name == _XLINK) and not _internal(value):
                raise ImageError(_l("the SVG refers to an external resource"))
            if attr == "style":
                _check_css(tinycss2.parse_blocks_contents(value))
            elif "url(" in value.lower() or "\\" in value:  # a presentation attribute, e.g. fill="url(#g)"
                _check_css(tinycss2.parse_component_value_list(value))


def _local(name: str) -> str:
    """An element's or attribute's local name, lower-cased: ``{ns}foreignObject`` → ``foreignobject``."""
    return name.rsplit("}", 1)[-1].lower()


def _internal(url: str) -> bool:
    """Whether ``url`` points into the image itself (``#fragment``) or carries its data (``data:``)."""
    url = url.strip()
    return url.startswith("#") or url[:5].lower() == "data:"


def _check_animation(el, local: str) -> None:
    # attributeName may carry a prefix ("xlink:href"); values/to/from/by are what the animation sets.
    target = el.get("attributeName", "").rsplit(":", 1)[-1].strip().lower()
    if target == "href":
        raise ImageError(_l("the SVG animates a link target (<%(element)s> of href)", element=local))
    for name in ("values", "to", "from", "by"):
        if "javascript:" in _URL_NOISE.sub("", el.get(name, "")).lower():
            raise ImageError(_l("the SVG's animation sets a javascript: value (<%(element)s>)", element=local))


def _check_css(nodes) -> None:
    """Refuse CSS (tinycss2 nodes, https://doc.courtbouillon.org/tinycss2/stable/api_reference.html) that
    imports or refers by ``url()`` to anything outside the image, or that hides a URL in a malformed token."""
    for node in nodes:
        kind = node.type
        if kind == "error" and node.kind in ("bad-url", "bad-string", "eof-in-url", "eof-in-string"):
            raise ImageError(_l("the SVG's CSS has a malformed URL or string"))
        if kind == "url" and not _internal(node.value):
            raise ImageError(_l("the SVG's CSS refers to an external resource (%(url)s)", url=node.value))
        if kind == "function" and node.lower_name in _URL_FUNCTIONS:
            for arg in node.arguments:
                if arg.type == "string" and not _internal(arg.value):
                    raise ImageError(_l("the SVG's CSS refers to an external resource (%(url)s)", url=arg.value))
        if kind == "at-keyword" and node.lower_value == "import":  # "@import" inside a declaration list
            raise ImageError(_l("the SVG's CSS uses @import"))
        if kind == "at-rule" and node.lower_at_keyword == "namespace":  # a name, never fetched
            continue
        if kind == "at-rule" and node.lower_at_keyword == "import":
            for arg in node.prelude:
                if arg.type in ("string", "url") and not _internal(arg.value):
                    raise ImageError(_l("the SVG's CSS refers to an external resource (%(url)s)", url=arg.value))
        for child in _children(node):
            _check_css(child)


def _children(node):
    """The nested token lists of a tinycss2 node (rule preludes and bodies, blocks, function arguments)."""
    for attr in ("prelude", "content", "arguments", "value"):
        inner = getattr(node, attr, None)
        if isinstance(inner, list):
            yield inner
