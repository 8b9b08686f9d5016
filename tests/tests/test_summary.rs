//! scripts/test-summary.sh, the closing line of scripts/test.sh: a test that printed
//! `skipped: ...` counts as skipped, not passed. Checked on real libtest output (this binary
//! runs its own ignored `fixture_*` tests as a child with `--show-output`) and on a recorded
//! multi-binary cargo log.

use std::io::Write;
use std::process::{Command, Stdio};

use ferrolb_e2e::env::workspace_dir;

/// Runs scripts/test-summary.sh over `log` and returns its one line.
fn summary(log: &str) -> String {
    let mut child = Command::new("bash")
        .arg(workspace_dir().join("scripts/test-summary.sh"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run scripts/test-summary.sh");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(log.as_bytes())
        .expect("write the log");
    let out = child.wait_with_output().expect("summary output");
    assert!(out.status.success(), "test-summary.sh failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
#[ignore = "fixture for closing_line_from_real_test_output"]
fn fixture_skips() {
    println!("skipped: fixture_skips: needs root");
}

#[test]
#[ignore = "fixture for closing_line_from_real_test_output"]
fn fixture_skips_on_stderr_after_other_output() {
    println!("checking prerequisites");
    eprintln!("skipped: no ferrolb binary");
}

#[test]
#[ignore = "fixture for closing_line_from_real_test_output"]
fn fixture_passes_with_output() {
    println!("figure: 3 ms (not skipped:)");
    println!("  skipped: an indented line is not a skip");
}

#[test]
#[ignore = "fixture for closing_line_from_real_test_output"]
fn fixture_fails_after_printing_skipped() {
    println!("skipped: this line does not make a failure a skip");
    panic!("fixture failure");
}

#[test]
fn closing_line_from_real_test_output() {
    let exe = std::env::current_exe().expect("this test binary");
    let out = Command::new(exe)
        .args(["--ignored", "--show-output", "--test-threads=2", "fixture_"])
        .output()
        .expect("run the fixtures");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        summary(&log),
        "all tests: 1 passed, 1 failed, 2 skipped",
        "{log}"
    );
}

#[test]
fn closing_line_over_several_binaries() {
    let log = "\
     Running unittests src/lib.rs (target/debug/deps/ferrolb_bgp-1)

running 3 tests
test a ... ok
test b ... ok
test c ... ignored, needs a peer

successes:

---- b stdout ----
skipped: b: needs root


successes:
    a
    b

test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s

     Running tests/x.rs (target/debug/deps/x-2)

running 3 tests
test d ... ok
test e ... FAILED
test f ... ok

successes:

---- d stdout ----
skipped: needs `vtysh` (run scripts/install-test-deps.sh as root)

---- f stdout ----
session up in 12 ms


successes:
    d
    f

failures:

---- e stdout ----
skipped: printed before failing

thread 'e' panicked at tests/x.rs:1:1:
boom


failures:
    e

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.02s

   Doc-tests ferrolb_bgp

running 1 test
test src/lib.rs - (line 3) ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.1s
";
    assert_eq!(summary(log), "all tests: 3 passed, 1 failed, 3 skipped");
    assert_eq!(summary(""), "all tests: 0 passed, 0 failed, 0 skipped");
}
