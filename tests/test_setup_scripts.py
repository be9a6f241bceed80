"""The README's set-up scripts: an unsupported Python is refused up front; a warm start installs nothing,
asks no package index and starts quietly on localhost."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import pytest

from app_harness.browser import STARTUP_NOISE, streamlit_server
from tests.conftest import ROOT


def fake_python(folder: Path, version: str) -> Path:
    """A `python3` that reports `version` and answers the version check as that Python would."""
    major, minor = (int(part) for part in version.split(".")[:2])
    script = folder / "python-fake"
    script.write_text(f"""#!/bin/sh
if [ "$1" = "--version" ]; then echo "Python {version}"; exit 0; fi
exec python3 -c "import sys; sys.version_info = ({major}, {minor}, 0); exec(sys.argv[1])" "$2"
""")
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("version", ["3.10.12", "3.14.0"])
def test_an_unsupported_python_is_refused_with_a_clear_message(tmp_path, version):
    python = fake_python(tmp_path, version)
    out = subprocess.run(["bash", "-c", "source scripts/python_env.sh && check_python && echo accepted"],
                         cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHON": str(python)}, capture_output=True,
                         text=True)
    assert out.returncode == 1 and "accepted" not in out.stdout
    assert f"Python {version} is not supported" in out.stderr and "3.11, 3.12 or 3.13" in out.stderr


def test_a_supported_python_is_accepted(tmp_path):
    out = subprocess.run(["bash", "-c", "source scripts/python_env.sh && check_python && echo accepted"],
                         cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHON": str(fake_python(tmp_path, "3.12.3"))},
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "accepted"


def test_a_missing_python_is_named(tmp_path):
    out = subprocess.run(["bash", "-c", "source scripts/python_env.sh && check_python"], cwd=ROOT,
                         env={"PATH": "/usr/bin:/bin", "PYTHON": "python3.99"}, capture_output=True, text=True)
    assert out.returncode == 1 and "python3.99 not found" in out.stderr


@pytest.mark.skipif(not (ROOT / ".venv" / ".installed-requirements").exists(),
                    reason="needs the .venv that scripts/run_tests.sh or run_app.sh set up")
def test_a_warm_run_app_starts_quietly_on_localhost(tmp_path):
    log = tmp_path / "server.log"
    with streamlit_server(None, log, via_run_app=True) as (url, _pid):
        with urllib.request.urlopen(f"{url}/upload", timeout=30) as response:
            assert response.status == 200
        text = log.read_text()
    assert "URL: http://localhost:" in text
    assert not [word for word in STARTUP_NOISE if word in text], text


@pytest.mark.skipif(not (ROOT / ".venv" / ".installed-requirements").exists(),
                    reason="needs the .venv that scripts/run_tests.sh or run_app.sh set up")
def test_a_first_desktop_start_asks_no_question(tmp_path):
    """Not headless, as on a desktop, for a user who never ran Streamlit (no ~/.streamlit): Streamlit's
    "Email:" question would read the closed stdin and end the server; the app must just start."""
    (tmp_path / "home").mkdir()
    # DISPLAY set: Streamlit takes itself to be on a desktop (else it runs headless); the browser it opens: `true`
    env = {"HOME": str(tmp_path / "home"), "BROWSER": "true", "DISPLAY": ":0"}
    log = tmp_path / "server.log"
    with streamlit_server(None, log, via_run_app=True, headless=False, extra_env=env) as (url, _pid):
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
        text = log.read_text()
    assert "URL: http://localhost:" in text and "Email" not in text, text
