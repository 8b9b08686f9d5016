#!/usr/bin/env bash
# The closing line of scripts/test.sh, "all tests: N passed, N failed, N skipped", from the
# output of `cargo test -- --show-output` (file $1, default stdin).
#
# cargo prints one "test result:" line per test binary. A test that skips (not root, a peer
# binary missing...) prints `skipped: <reason>` and returns, so libtest counts it as passed;
# --show-output prints each passing test's captured output under "---- <name> stdout ----" in
# the "successes:" section, and every test whose output has a line starting with "skipped:"
# moves from passed to skipped here. Ignored tests count as skipped too.
set -euo pipefail
awk '
/^running [0-9]+ tests?$/ { in_successes = 0; name = "" }
/^test result:/ { passed += $4; failed += $6; ignored += $8; in_successes = 0; name = ""; next }
/^successes:$/ { in_successes = 1; name = ""; next }
/^failures:$/ { in_successes = 0; name = ""; next }
in_successes && /^---- .* stdout ----$/ { name = $2; counted = 0; next }
in_successes && name != "" && !counted && /^skipped:/ { skipped++; counted = 1 }
END {
    if (skipped > passed) skipped = passed
    printf "all tests: %d passed, %d failed, %d skipped\n", passed - skipped, failed, ignored + skipped
}' "${1:-/dev/stdin}"
