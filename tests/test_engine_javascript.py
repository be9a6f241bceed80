"""The browser engine's JavaScript is held to the Python side's standards: its pure parts have unit tests
(node's own runner), and every module is type-checked (TypeScript over the JSDoc types) and linted (ESLint's
recommended rules), with the versions package-lock.json pins."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[1] / "app_pages" / "browser_live" / "frontend"
NPM = shutil.which("npm")
pytestmark = pytest.mark.skipif(shutil.which("node") is None or NPM is None,
                                reason="node and npm are not installed: the engine's JavaScript checks need them")


@pytest.fixture(scope="module")
def packages() -> Path:
    """The frontend's pinned development packages (`npm ci`, as the bundle's rebuild does), once."""
    tools = FRONTEND / "node_modules" / ".bin"
    if not (tools / "tsc").exists() or not (tools / "eslint").exists():
        subprocess.run([NPM, "ci", "--no-audit", "--no-fund", "--loglevel", "error"], cwd=FRONTEND, check=True,
                       timeout=600)
    return tools


def run(command: list[str]) -> None:
    done = subprocess.run(command, cwd=FRONTEND, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_engines_unit_tests_pass():
    run(["node", "--test", "test/"])


def test_the_engine_type_checks(packages):
    run([str(packages / "tsc"), "-p", "."])


def test_the_engine_is_lint_clean(packages):
    run([str(packages / "eslint"), "--max-warnings", "0", "."])
