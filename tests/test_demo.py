"""The README's main job: ``badgehub demo`` on a fresh SQLite file, run as a new user would. It writes
and verifies every form the hub makes: OB 2.0 (hosted, JWS, baked PNG and SVG), OB 3.0 (Data Integrity
JSON, VC-JWT, baked PNG and SVG) and the signed PDF certificate of a micro-credential with its
embedded credentials."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from pypdf import PdfReader

from hub.certificates.sign import OB2_FILENAME, OB3_FILENAME

FILES = (
    "assertion-png-badge.json",
    "assertion-png-badge.jws",
    "assertion-svg-badge.json",
    "assertion-svg-badge.jws",
    "baked.png",
    "baked.svg",
    "credential-png-badge.json",
    "credential-png-badge.jwt",
    "credential-svg-badge.json",
    "credential-svg-badge.jwt",
    "credential-baked.png",
    "credential-baked.svg",
    "certificate.pdf",
)
CHECKS = (
    "OB 2.0 hosted",
    "OB 2.0 signed (JWS)",
    "OB 2.0 baked PNG",
    "OB 2.0 baked SVG",
    "OB 3.0 Data Integrity (JSON)",
    "OB 3.0 VC-JWT",
    "OB 3.0 baked PNG",
    "OB 3.0 baked SVG",
    "PDF certificate (signature, POST /verify)",
    "PDF embedded OB 3.0 credential",
    "PDF embedded OB 2.0 assertion",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_writes_and_verifies_every_form(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_INSTANCE_PATH"] = str(tmp_path / "instance")
    out = tmp_path / "out"
    port = _free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo", "--out", str(out), "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = proc.stdout
    assert "demo: OK" in report and "FAILED" not in report
    assert report.count("verify ") == 15  # 6 forms per award x 2 awards + 3 for the certificate
    for check in CHECKS:
        assert f"verify {check}: OK" in report, check
    assert f"http://127.0.0.1:{port}/assertions/" in report
    assert "work only while the demo's server runs" in report and "--serve" in report
    names = {p.name for p in out.iterdir()}
    assert set(FILES) <= names, set(FILES) - names
    assertion = json.loads((out / "assertion-png-badge.json").read_text())
    assert assertion["type"] == "Assertion"
    credential = json.loads((out / "credential-png-badge.json").read_text())
    achievement = credential["credentialSubject"]["achievement"]
    assert achievement["achievementType"] == "MicroCredential"
    targets = {a["targetUrl"] for a in achievement["alignment"]}
    assert "http://data.europa.eu/snb/eqf/5" in targets and "http://data.europa.eu/esco/skill/S5" in targets
    pdf = PdfReader(out / "certificate.pdf")
    assert set(pdf.attachments) == {OB3_FILENAME, OB2_FILENAME}
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert "Efekty uczenia się" in text and "Mikropoświadczenie UE" in text
    assert Path(out / "demo.db").exists()


def test_demo_refuses_a_taken_port(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_INSTANCE_PATH"] = str(tmp_path / "instance")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "hub.cli", "demo", "--out", str(tmp_path / "out"), "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
        )
    assert proc.returncode == 2 and f"cannot serve on 127.0.0.1:{port}" in proc.stderr, proc.stdout + proc.stderr
