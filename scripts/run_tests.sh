#!/usr/bin/env bash
# Set up everything the tests need on a fresh machine, then lint and run the whole suite.
# Browser tests use Debian's Chromium, Firefox ESR and WebKitGTK (Safari's engine, driven by WebKitWebDriver on
# an Xvfb display), and the TURN relay test Debian's coturn: installed here when we are root (CI), skipped with
# a reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
ensure_venv requirements-dev.txt
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v turnserver >/dev/null 2>&1 || missing="$missing coturn"
command -v firefox-esr >/dev/null 2>&1 || missing="$missing firefox-esr"
command -v WebKitWebDriver >/dev/null 2>&1 || missing="$missing webkit2gtk-driver gstreamer1.0-gl gstreamer1.0-libav gstreamer1.0-plugins-bad"
command -v Xvfb >/dev/null 2>&1 || missing="$missing xvfb"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
.venv/bin/python -m ruff check .
exec .venv/bin/python -m pytest "$@"
