#!/usr/bin/env bash
# The one command that runs every FerroLB test. As root it first installs the test dependencies;
# as root (and always in CI) the end-to-end tests in network namespaces are required, not skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then
    bash scripts/install-test-deps.sh
    export FERROLB_E2E_REQUIRED=1
else
    echo "test.sh: not root: end-to-end tests that need network namespaces will be skipped (with a reason)"
fi

export CARGO_TERM_COLOR=never
# Lints first: formatting and clippy (every target, warnings are errors).
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --all-targets
export FERROLB_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/ferrolb"
log="$(mktemp /tmp/ferrolb-test.XXXXXX)"
trap 'rm -f "$log"' EXIT
# --show-output: each passing test's output (so skip reasons show, and the summary can tell a
# skipped test from a passed one).
status=0
cargo test --workspace --no-fail-fast -- --test-threads="${FERROLB_TEST_THREADS:-2}" --show-output 2>&1 |
    tee "$log" || status=$?

# One closing line over every test binary; tests that printed `skipped: ...` count as skipped.
bash scripts/test-summary.sh "$log"
exit "$status"
