#!/usr/bin/env bash
# Start the app with the shipped models, setting up .venv first when needed:
#   bash scripts/run_app.sh [streamlit options, e.g. --server.port 8502 --server.address 0.0.0.0]
# Installs only when requirements.txt or pyproject.toml changed since the last install, so a warm start
# asks no package index. Listens on localhost unless you pass --server.address (or STREAMLIT_SERVER_ADDRESS).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
ensure_venv requirements.txt
# No LiteRT wheel for this platform (Intel Macs, Linux on ARM): the models run from their .keras files,
# which need Keras and TensorFlow.
if ! .venv/bin/python -c "import ai_edge_litert" 2>/dev/null; then
  ensure_venv requirements-training.txt
fi
address=()
if [ -z "${STREAMLIT_SERVER_ADDRESS:-}" ] && [[ " $* " != *" --server.address"* ]]; then
  address=(--server.address localhost)
fi
exec .venv/bin/python -m streamlit run streamlit_app.py "${address[@]}" "$@"
