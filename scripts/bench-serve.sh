#!/usr/bin/env bash
# `npm run bench:serve`: dependencies, the local stack, build, then the load-test harness, which
# generates its dataset and starts its own daemon. Arguments go to bench/serve.ts.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_deps
stack_up
build
say "bench:serve"
node dist/bench/serve.js "$@"
