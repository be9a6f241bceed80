#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then lint and run the whole suite.
# Browser tests use Debian's Chromium: installed here when we are root (CI), skipped with a reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
ensure_venv requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
.venv/bin/python -m ruff check .
exec .venv/bin/python -m pytest "$@"
