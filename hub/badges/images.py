"""Checks for uploaded badge and issuer images (PNG and SVG only, as OB baking supports).

PNG is opened and verified with Pillow under a pixel limit (decompression-bomb guard,
https://pillow.readthedocs.io/en/stable/reference/Image.html#PIL.Image.open); SVG is parsed with
defusedxml (no entities, no external DTDs) and refused when it carries scripts, event handlers or
references to anything but itself or ``data:`` URIs, because badge images are served from the hub's
origin and shown in browsers.
"""

from __future__ import annotations

import io
import warnings

import defusedxml.ElementTree as SafeET
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


def _check_svg(data: bytes) -> None:
    try:
        root = SafeET.fromstring(data)
    except Exception as exc:  # ParseError, EntitiesForbidden, DTDForbidden, ...
        raise ImageError(
            _l("the SVG is not well-formed or uses forbidden XML features: %(error)s", error=str(exc))
        ) from None
    if root.tag not in ("svg", "{http://www.w3.org/2000/svg}svg"):
        raise ImageError(_l("the SVG's root element is not <svg>"))
    for el in root.iter():
        local = el.tag.rsplit("}", 1)[-1].lower() if isinstance(el.tag, str) else ""
        if local in ("script", "foreignobject"):
            raise ImageError(_l("the SVG contains a <%(element)s> element", element=local))
        for name, value in el.attrib.items():
            attr = name.rsplit("}", 1)[-1].lower()
            if attr.startswith("on"):
                raise ImageError(_l("the SVG contains an event handler attribute (%(attribute)s)", attribute=attr))
            if (attr == "href" or name == _XLINK) and not (value.startswith("#") or value.startswith("data:")):
                raise ImageError(_l("the SVG refers to an external resource"))
