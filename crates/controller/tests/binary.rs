//! The `ferrolb controller` binary: flags, a config file, the API at `--server`, and SIGTERM
//! (exit 0, Lease released). Needs the built binary (FERROLB_BIN, as scripts/test.sh exports);
//! without it the test says "skipped" unless CI=true or FERROLB_E2E_REQUIRED=1.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Kills the child by PID when dropped (also when the test panics).
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_assigns_addresses_and_releases_the_lease_on_sigterm() {
    let Some(bin) = ferrolb_bin() else {
        if e2e_required() {
            panic!("the ferrolb binary is required (set FERROLB_BIN or build the workspace)");
        }
        eprintln!("skipped: no ferrolb binary (set FERROLB_BIN or build the workspace)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("flb-ctl-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("config.yaml");
    std::fs::write(&config, config_text(&[("bin", &["198.51.100.48/30"])])).expect("config");

    let server = api_server().await;
    server
        .store()
        .seed(lb_service("default", "web"))
        .expect("seed service");
    let child = Command::new(&bin)
        .args(["controller", "--server", &server.url()])
        .arg("--config-file")
        .arg(&config)
        .args([
            "--metrics-addr",
            "127.0.0.1:0",
            "--identity",
            "bin-0",
            "--lease-duration",
            "3",
            "--lease-retry",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn ferrolb controller");
    let mut child = ChildGuard(child);

    let ip = wait_ip(&server, "default", "web").await;
    assert!(ip.to_string().starts_with("198.51.100.4"), "{ip}");
    assert_eq!(lease_holder(&server).as_deref(), Some("bin-0"));

    let pid = child.0.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(status.success());
    let deadline = Instant::now() + WAIT;
    let code = loop {
        if let Some(code) = child.0.try_wait().expect("wait for the child") {
            break code;
        }
        assert!(
            Instant::now() < deadline,
            "ferrolb controller did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(code.success(), "exit status after SIGTERM: {code}");
    assert_eq!(
        lease_holder(&server),
        None,
        "the Lease was released on SIGTERM"
    );

    // Bad flags are refused with the flag and value named.
    let out = Command::new(&bin)
        .args(["controller", "--configmap", "no-slash"])
        .output()
        .expect("run ferrolb controller");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--configmap") && stderr.contains("no-slash"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
