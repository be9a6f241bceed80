#!/usr/bin/env bash
# Set up a virtual environment (first run only) and start the app with the shipped model.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
exec .venv/bin/python -m streamlit run streamlit_app.py "$@"
