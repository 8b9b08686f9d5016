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
log="$(mktemp /tmp/ferrolb-test.XXXXXX)"
trap 'rm -f "$log"' EXIT
cargo test --workspace -- --test-threads="${FERROLB_TEST_THREADS:-2}" 2>&1 | tee "$log"

# One closing line over every test binary (cargo prints one result line per binary).
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "all tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
