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
cargo build --workspace --all-targets
export FERROLB_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/ferrolb"
cargo test --workspace -- --test-threads="${FERROLB_TEST_THREADS:-2}"
