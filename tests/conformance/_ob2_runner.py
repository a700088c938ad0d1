"""Runs the 1EdTech Open Badges 2.0 validator (PyPI ``openbadges`` 1.1.2) once, inside its own venv.

This script is executed by ``tests/conformance/ob2_validator.py`` with the validator venv's Python;
it must not import anything from the hub (that venv has none of the hub's dependencies).

Protocol: one JSON object on stdin, one JSON object on stdout.

stdin::

    {"kind": "url" | "jws" | "json" | "file",
     "value": "<URL, compact JWS, JSON text, or path of a baked PNG/SVG>",
     "recipient_profile": {"email": "..."} | null,
     "allow_prefixes": ["http://example.test/", ...]}

stdout: the validator's own result ``{"graph": [...], "input": {...}, "report": {...}}`` plus
``"unrunTasks"`` (tasks still pending at the end, see below) and, if the validator itself crashed,
``"crash"`` (the traceback text).

Network: every HTTP request the validator makes goes through ``requests``, which is intercepted
with ``responses`` so a run never leaves the machine:

* ``https://w3id.org/openbadges/v2`` (the OB 2.0 JSON-LD context, which the validator always
  dereferences while compacting) is answered from the copy bundled in the validator package,
  ``openbadges.verifier.openbadges_context.OPENBADGES_CONTEXT_V2_DICT``;
* loopback URLs (127.0.0.1, localhost, [::1]) and ``allow_prefixes`` pass through to the real network;
* anything else fails with ``ConnectionError``, which the validator reports as a failed fetch.

Caching is switched off (``use_cache=False``, no ``cache_backend``) so each run sees the server's
current answers; the validator's default is an in-memory ``requests_cache`` session (no disk).
"""

import json
import re
import sys
import traceback

import responses
from openbadges.verifier.openbadges_context import OPENBADGES_CONTEXT_V2_DICT
from openbadges.verifier.verifier import _get_options, generate_report, verification_store

LOOPBACK = re.compile(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)", re.IGNORECASE)
CONTEXT_V2_URLS = ("https://w3id.org/openbadges/v2", "http://w3id.org/openbadges/v2")


def run(request):
    """Verify one input as described in the module docstring; returns the JSON-able result dict."""
    options = {"use_cache": False, "cache_backend": None}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for url in CONTEXT_V2_URLS:
            mock.get(
                url,
                body=json.dumps(OPENBADGES_CONTEXT_V2_DICT),
                content_type="application/ld+json",
            )
        mock.add_passthru(LOOPBACK)
        for prefix in request.get("allow_prefixes") or ():
            mock.add_passthru(prefix)

        kind, value = request["kind"], request["value"]
        profile = request.get("recipient_profile")
        if kind == "file":
            with open(value, "rb") as image:
                return _verify(image, profile, options)
        return _verify(value, profile, options)


def _verify(badge_input, profile, options):
    """``openbadges.verify`` step by step (same three calls), keeping the store so the tasks that
    never ran can be listed: the validator drops a task whose prerequisites were never met (e.g.
    VERIFY_JWS when no signing key was found) from its messages without counting it as an error."""
    selected = _get_options(options)
    store = verification_store(badge_input, profile, options=selected)
    result = generate_report(store, options=selected)
    result["unrunTasks"] = [
        {key: task.get(key) for key in ("name", "node_id", "prop_name", "prerequisites")}
        for task in store.get_state()["tasks"]
        if not task.get("complete")
    ]
    return result


def main():
    request = json.load(sys.stdin)
    try:
        result = run(request)
    except Exception:  # the validator has Python-2-era bugs (e.g. ``e.message``); report, don't die
        result = {
            "graph": [],
            "input": {"value": request.get("value")},
            "report": {"valid": False, "errorCount": 1, "warningCount": 0, "messages": []},
            "unrunTasks": [],
            "crash": traceback.format_exc(),
        }
    json.dump(result, sys.stdout, default=str)


if __name__ == "__main__":
    main()
