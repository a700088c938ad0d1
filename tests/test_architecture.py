"""The import rules of DESIGN.md ("Which way imports go"), as import-linter contracts in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_import_contracts_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    proc = subprocess.run([exe, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_operations_and_jobs_never_touch_flask():
    """The operations layer and the job system are request-free (DESIGN.md, "One door behind every
    door"): they import no Flask package at all, so no ``flask.request``, ``g`` or session can reach them.
    (import-linter forbids only project modules without ``include_external_packages``, hence this scan.)"""
    import ast

    offenders = []
    for path in sorted((REPO / "hub" / "operations").rglob("*.py")) + sorted((REPO / "hub" / "jobs").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n.split(".")[0].startswith("flask")]
    assert not offenders, offenders
