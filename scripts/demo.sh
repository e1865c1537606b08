#!/usr/bin/env bash
# The main command: set-up, then check this device's posture.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node --import tsx main/agent/cli.ts posture "$@" || true
