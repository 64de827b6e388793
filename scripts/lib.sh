#!/usr/bin/env bash
# Shared by scripts/test.sh and scripts/demo.sh: dependencies, the local stack, the build.
# Sourced, not run.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

say() { printf '\n== %s\n' "$*" >&2; }

# npm ci when node_modules is missing or older than the lockfile. No package needs install
# scripts (npm 11 blocks them unless allowed), so a plain install is complete.
ensure_deps() {
  if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    say "installing dependencies (npm ci)"
    npm ci --no-audit --no-fund
  fi
}

# Bring the stack up and export its URLs. If this call started it from nothing, it is stopped
# again when the calling script exits (unless BITSYNC_KEEP_STACK=1): stop only what we started.
stack_up() {
  local before
  before=$(bash scripts/stack.sh status 2>/dev/null || true)
  say "local stack (scripts/stack.sh up)"
  bash scripts/stack.sh up
  eval "$(bash scripts/stack.sh env)"
  if ! grep -qE 'running|external' <<<"$before" && [[ ${BITSYNC_KEEP_STACK:-0} != 1 ]]; then
    trap 'say "stopping the stack this run started"; bash scripts/stack.sh down' EXIT
  fi
}

build() {
  say "build (WASM + TypeScript)"
  npm run build --silent
}
