#!/usr/bin/env bash
# Run the tracked stress comparison (compare preset) and record it in reports/.
# Usage: ./track-results.sh [DURATION_SECONDS]   (default 10 s per run; needs the README's .venv)
set -euo pipefail
cd "$(dirname "$0")"
if [[ ! -x .venv/bin/stress-run ]]; then
    echo "track-results.sh: .venv/bin/stress-run not found; set up first:" \
        "python3 -m venv .venv && .venv/bin/pip install -q -e ." >&2
    exit 2
fi
exec .venv/bin/stress-run track --duration "${1:-10}" --reports reports
