"""The browser engine's JavaScript is held to the Python side's standards: its pure parts have unit tests
(node's own runner), and every module is type-checked (TypeScript over the JSDoc types) and linted (ESLint's
recommended rules), with the versions package-lock.json pins."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from app_pages.browser_live.build import FRONTEND, install_packages, packages_installed

NPM = shutil.which("npm")
pytestmark = pytest.mark.skipif(shutil.which("node") is None or NPM is None,
                                reason="node and npm are not installed: the engine's JavaScript checks need them")


@pytest.fixture(scope="module")
def packages() -> Path:
    """The frontend's pinned development packages (`npm ci`, as the bundle's rebuild does), once."""
    if not packages_installed("typescript", "eslint"):
        install_packages(NPM)
    return FRONTEND / "node_modules" / ".bin"


def run(command: list[str]) -> None:
    done = subprocess.run(command, cwd=FRONTEND, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_engines_unit_tests_pass():
    run(["node", "--test", "test/"])


def test_the_engine_type_checks(packages):
    run([str(packages / "tsc"), "-p", "."])


def test_the_engine_is_lint_clean(packages):
    run([str(packages / "eslint"), "--max-warnings", "0", "."])
