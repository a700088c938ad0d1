"""Harness for the independent Open Badges 2.0 validator (1EdTech ``openbadges`` 1.1.2 on PyPI).

The validator pins 2017-era libraries (PyLD 0.7.1, jsonschema 2.6, python-jose 3.x, requests-cache
0.4) that cannot share the hub's environment, so it lives in its own virtual environment, built on
first use under ``<repo>/.cache/ob2-validator/`` and run in a subprocess (``_ob2_runner.py``).
See ``tests/conformance/README.md`` for what the validator checks and what it does not.

Spec: Open Badges 2.0, https://www.imsglobal.org/sites/default/files/Badges/OBv2p0Final/index.html
Validator: https://github.com/1EdTech/openbadges-validator-core (PyPI ``openbadges``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO_ROOT / ".cache" / "ob2-validator"
RUNNER = Path(__file__).with_name("_ob2_runner.py")

# Installed in two steps because the packages' own pins (pycryptodome==3.6.6, pytz==2017.2, ...) do
# not build on Python 3.11; the second list is a set known to work with openbadges 1.1.2.
VALIDATOR_PACKAGES = ("openbadges==1.1.2", "openbadges-bakery==2.0.0")
VALIDATOR_DEPENDENCIES = (
    "aniso8601",
    "click==6.7",
    "future==0.16.0",
    "jsonschema==2.6.0",
    "language-tags==0.4.3",
    "pycryptodome",
    "pydux==0.2.2",
    "PyLD==0.7.1",
    "python-jose==3.2.0",
    "python-mimeparse==1.6.0",
    "pytz",
    "requests",
    "requests-cache==0.4.13",
    "rfc3986==0.4.1",
    "validators==0.11.2",
    "pypng",
    "defusedxml<1.0",
    "six",
    "responses",
)
# Written last into the venv; a venv without it (or with other pins) is rebuilt.
READY_MARKER = "ob2-validator-ready.json"
PIP_TIMEOUT_S = 900
_JWS = re.compile(r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")
_checked: set[Path] = set()


class ValidatorUnavailable(RuntimeError):
    """The validator venv could not be built (no Python 3.11, PyPI unreachable, install failed)."""


class ValidatorFailed(RuntimeError):
    """The runner subprocess gave no readable report (it crashed or timed out)."""


def _ready_spec() -> dict:
    return {"packages": list(VALIDATOR_PACKAGES), "dependencies": list(VALIDATOR_DEPENDENCIES)}


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _is_working(venv: Path) -> bool:
    """True when ``venv`` holds the current pins and imports the validator."""
    try:
        if json.loads((venv / READY_MARKER).read_text()) != _ready_spec():
            return False
    except (OSError, ValueError):
        return False
    probe = subprocess.run(
        [str(_venv_python(venv)), "-I", "-c", "import openbadges, openbadges_bakery, responses"],
        capture_output=True,
        timeout=120,
    )
    return probe.returncode == 0


def _python311() -> str:
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if not found:
        raise ValidatorUnavailable("the OB 2.0 validator needs Python 3.11 (python3.11 not on PATH)")
    return found


def _run_pip(python: Path, *args: str) -> None:
    cmd = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise ValidatorUnavailable(f"pip timed out after {PIP_TIMEOUT_S} s: {' '.join(args)}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise ValidatorUnavailable(f"pip install {' '.join(args)} failed:\n{tail}")


def ensure_validator_venv(path: Path | str | None = None) -> Path:
    """Return the validator venv at ``path`` (default ``<repo>/.cache/ob2-validator``), building it once.

    Idempotent and safe when several processes (e.g. pytest-xdist workers) race: an exclusive
    ``fcntl`` lock on ``<path>.lock`` serialises the check-and-build, and a venv only counts as
    ready once its marker file (holding the pin list) is written after a successful install, so a
    half-built venv from an interrupted run is wiped and rebuilt. Needs network access to PyPI only
    when building. Raises :class:`ValidatorUnavailable` when it cannot be built.
    """
    venv = Path(path) if path is not None else DEFAULT_VENV
    venv = venv.resolve()
    if venv in _checked:
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _is_working(venv):
                _build(venv)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _checked.add(venv)
    return venv


def _build(venv: Path) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    try:
        subprocess.run([_python311(), "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        python = _venv_python(venv)
        _run_pip(python, "--no-deps", *VALIDATOR_PACKAGES)
        _run_pip(python, *VALIDATOR_DEPENDENCIES)
        (venv / READY_MARKER).write_text(json.dumps(_ready_spec()))
    except ValidatorUnavailable:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(venv, ignore_errors=True)
        raise ValidatorUnavailable(f"could not create the validator venv at {venv}: {exc}") from exc


def _request_for(badge_input, workdir: Path) -> dict:
    """Classify ``badge_input`` into the runner's ``kind``/``value``; bytes are written to ``workdir``."""
    if isinstance(badge_input, Mapping):
        return {"kind": "json", "value": json.dumps(badge_input)}
    if isinstance(badge_input, bytes | bytearray):
        suffix = ".png" if bytes(badge_input[:8]) == b"\x89PNG\r\n\x1a\n" else ".svg"
        image = workdir / f"baked{suffix}"
        image.write_bytes(badge_input)
        return {"kind": "file", "value": str(image)}
    if isinstance(badge_input, os.PathLike):
        return {"kind": "file", "value": str(Path(badge_input).resolve())}
    if isinstance(badge_input, str):
        text = badge_input.strip()
        if re.match(r"^https?://", text):
            return {"kind": "url", "value": text}
        if text.startswith("{"):
            return {"kind": "json", "value": text}
        if _JWS.match(text):
            return {"kind": "jws", "value": text}
        if Path(text).is_file():
            return {"kind": "file", "value": str(Path(text).resolve())}
    raise TypeError(f"cannot tell what kind of badge input this is: {str(badge_input)[:80]!r}")


def verify(
    badge_input: str | bytes | os.PathLike | Mapping,
    *,
    recipient_email: str | None = None,
    recipient_profile: Mapping | None = None,
    allow_prefixes: Iterable[str] = (),
    venv: Path | str | None = None,
    timeout: float = 180.0,
) -> dict:
    """Run the OB 2.0 validator on one badge and return its report.

    ``badge_input``: a hosted assertion URL, a compact JWS (signed assertion), the assertion JSON
    (text or mapping; the validator fetches its ``id``), baked PNG/SVG bytes, or a path to a baked
    image. ``recipient_email`` (or a full ``recipient_profile`` such as ``{"email": [...]}``) makes
    the validator check the assertion's ``recipient`` against it (``sha256$`` + hex of identity +
    salt); without one the recipient is not checked at all. Loopback URLs are fetched for real;
    other hosts fail unless listed in ``allow_prefixes``; the OB 2.0 context comes from the copy
    bundled in the validator.

    Returns the validator's ``report`` members (``valid``, ``errorCount``, ``warningCount``,
    ``messages``: ``[{name, success, result, messageLevel, node_id?, prop_name?}]``,
    ``validationSubject``, ``openBadgesVersion``, ``recipientProfile``) plus ``graph`` (the compacted
    JSON-LD nodes it fetched), ``input``, ``errors`` (the ERROR message texts), ``unrunTasks`` (tasks
    whose prerequisites never completed; the validator ignores these, e.g. a signature it never
    checked) and, if the validator raised, ``crash`` (its traceback; ``valid`` is then False).

    Raises :class:`ValidatorUnavailable` (venv cannot be built), :class:`ValidatorFailed` (no
    report) and ``TypeError`` (unrecognised input).
    """
    python = _venv_python(ensure_validator_venv(venv))
    profile = dict(recipient_profile) if recipient_profile is not None else None
    if recipient_email is not None:
        profile = {**(profile or {}), "email": recipient_email}
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    # A proxy from the environment must not swallow requests to the local test server.
    env["NO_PROXY"] = env["no_proxy"] = ",".join(
        filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1,localhost,::1"])
    )
    with tempfile.TemporaryDirectory(prefix="ob2val-") as workdir:
        request = _request_for(badge_input, Path(workdir))
        request.update(recipient_profile=profile, allow_prefixes=list(allow_prefixes))
        try:
            done = subprocess.run(
                [str(python), "-I", str(RUNNER)],
                input=json.dumps(request),
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd=workdir,
            )
        except subprocess.TimeoutExpired as exc:
            raise ValidatorFailed(f"validator gave no answer within {timeout} s") from exc
    try:
        raw = json.loads(done.stdout)
    except ValueError as exc:
        raise ValidatorFailed(f"validator runner exited {done.returncode}:\n{done.stderr[-3000:]}") from exc
    result = dict(raw["report"])
    result.update(graph=raw["graph"], input=raw["input"], unrunTasks=raw.get("unrunTasks", []))
    result["errors"] = [m["result"] for m in result.get("messages", []) if m["messageLevel"] == "ERROR"]
    if raw.get("crash"):
        result["crash"] = raw["crash"]
        result["errors"].append(raw["crash"].strip().splitlines()[-1])
    return result
