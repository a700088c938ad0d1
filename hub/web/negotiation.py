"""Content negotiation: browsers get HTML, clients asking for JSON get JSON(-LD)."""

from __future__ import annotations

from flask import request

JSON_TYPES = ("application/ld+json", "application/json")


def wants_html() -> bool:
    """True when the client prefers ``text/html`` to JSON-LD/JSON (``Accept`` quality order).

    A request without ``Accept`` (or ``*/*``) gets JSON-LD: verifiers often send none.
    """
    best = request.accept_mimetypes.best_match([*JSON_TYPES, "text/html"], default="application/ld+json")
    return (
        best == "text/html" and request.accept_mimetypes["text/html"] > request.accept_mimetypes["application/ld+json"]
    )


def wants_problem_json() -> bool:
    """Error format: problem JSON for APIs, hooks and JSON clients, HTML for browsers."""
    if request.path.startswith(("/hooks/", "/api/", "/ims/")):
        return True
    return not wants_html()
