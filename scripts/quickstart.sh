#!/usr/bin/env bash
# Set up, index the Stanford Cars catalog from ../shared (once), and serve the web UI.
set -euo pipefail
cd "$(dirname "$0")/.."
SKIP_BROWSER=1 bash scripts/setup.sh
MANIFEST=${MANIFEST:-../shared/data/stanford-cars/manifest.csv}
# Indexes what is not indexed yet (a re-run, or a run after an interruption, resumes).
.venv/bin/revsearch index "$MANIFEST"
.venv/bin/revsearch search "$(dirname "$MANIFEST")/images/test/00010.jpg" -k 3
exec .venv/bin/revsearch serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
