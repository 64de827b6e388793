#!/usr/bin/env bash
# `npm test`: dependencies, the local stack, build, static checks, then every vitest suite
# against the real servers. Extra arguments go to vitest (e.g. a file filter).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_deps
stack_up
build
say "check (tsc, eslint, prettier)"
npm run check --silent
say "vitest"
npx vitest run "$@"
