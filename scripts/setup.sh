#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: a virtual environment in .venv with RevSearch and
# its extras, the exported default encoder, and (for the browser tests) Debian's chromium.
#   bash scripts/setup.sh            # everything (serve + export + dev tools)
#   SKIP_BROWSER=1 bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# torch is pinned to 2.13.0 (the CPU build available to pip here); pip, not uv or poetry.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[serve,export,dev]'

if [ -z "${SKIP_BROWSER:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: browser tests need Debian's chromium: sudo apt-get install chromium" >&2
  fi
fi

# axe-core (accessibility checks of the browser tests; test-only, never served), from npm.
AXE_CORE_VERSION=4.14.1
if [ -z "${SKIP_BROWSER:-}" ] && [ ! -f .venv/npm/node_modules/axe-core/axe.min.js ]; then
  if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  npm install --silent --no-audit --no-fund --prefix .venv/npm "axe-core@$AXE_CORE_VERSION" >/dev/null
fi

# The default encoder ships in the package (src/revsearch/models/); without it (a trimmed
# checkout), fall back to the ImageNet EfficientNet-Lite0 exported by our own code.
if ! .venv/bin/python -c "from revsearch.encoder.registry import resolve_model_path as r; r()" 2>/dev/null; then
  .venv/bin/revsearch export-model
fi
