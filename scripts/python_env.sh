# Shared by run_app.sh and run_tests.sh: pick a supported Python, create .venv, install when needed.
# PYTHON=/path/to/python3.12 picks the interpreter; the default is python3.

SUPPORTED="3.11, 3.12 or 3.13"

check_python() {
  local python="${PYTHON:-python3}"
  if ! command -v "$python" >/dev/null 2>&1; then
    echo "error: $python not found. Install Python $SUPPORTED (or set PYTHON=/path/to/python3.x)." >&2
    exit 1
  fi
  if ! "$python" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 13)))'; then
    echo "error: $("$python" --version 2>&1) is not supported: this project needs Python $SUPPORTED" \
         "(Streamlit 1.67 needs 3.11+; TensorFlow has no wheel for 3.14 yet)." \
         "Set PYTHON=/path/to/python3.12 to use another one." >&2
    exit 1
  fi
  PYTHON_BIN="$python"
}

# ensure_venv REQUIREMENTS_FILE: a .venv with those requirements and this project installed (editable).
# Skipped when .venv already holds exactly these requirements and this set-up (their hash is kept in .venv).
ensure_venv() {
  local requirements="$1"
  local stamp=".venv/.installed-$(basename "$requirements" .txt)"
  local wanted
  wanted="$(cat requirements*.txt pyproject.toml scripts/python_env.sh | cksum)"
  if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    return
  fi
  check_python
  if [ ! -x .venv/bin/python ]; then
    echo "setting up .venv (first run: packages, a few minutes)..." >&2
    "$PYTHON_BIN" -m venv .venv
  fi
  echo "installing $requirements into .venv (only when it or pyproject.toml changed)..." >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$requirements"
  .venv/bin/python -m pip install -qq --no-deps -e .  # -qq: not setuptools' notice about editable installs
  # The package installs only `fer`; the checkout's other folders (training, app_pages, app_harness, tests)
  # are importable from anywhere in this environment too, for scripts such as benchmarks/*.py.
  pwd > "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/fer_app_checkout.pth"
  echo "$wanted" > "$stamp"
  if [ "$requirements" != requirements.txt ]; then  # each includes requirements.txt: the app is set up too
    echo "$wanted" > .venv/.installed-requirements
  fi
  if [ "$requirements" = requirements-dev.txt ]; then  # ... and training
    echo "$wanted" > .venv/.installed-requirements-training
  fi
}
