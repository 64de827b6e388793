#!/usr/bin/env bash
# `npm run demo`: dependencies, the local stack, build, then the demo.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_deps
stack_up
build
say "demo"
node dist/orchestrator/cli/main.js demo "$@"
