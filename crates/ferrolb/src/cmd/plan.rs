//! `ferrolb plan`: offline what-if of the controller's allocation.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context as _;
use ferrolb_controller::plan::{plan, PlanOptions};

/// Output format of `ferrolb plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// A table for people.
    Table,
    /// A JSON array, one object per LoadBalancer Service.
    Json,
}

/// Flags of `ferrolb plan`.
#[derive(clap::Args)]
pub struct Args {
    /// Config: a ConfigMap manifest, the bare config text or metallb.io objects (as
    /// `ferrolb config check`).
    #[arg(long)]
    pub config: PathBuf,
    /// Services as `kubectl get services -A -o json` prints them (`-` reads stdin).
    #[arg(long)]
    pub services: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub output: Output,
    /// Also handle Services with this spec.loadBalancerClass (as the controller's --lb-class).
    #[arg(long)]
    pub lb_class: Option<String>,
}

/// Runs `ferrolb plan`; returns the exit code.
pub async fn run(args: Args) -> anyhow::Result<i32> {
    let (code, out, err) = execute(&args)?;
    print!("{out}");
    eprint!("{err}");
    Ok(code)
}

/// Runs the plan: (exit code, stdout, stderr).
pub fn execute(args: &Args) -> anyhow::Result<(i32, String, String)> {
    let config = match super::config::load(&args.config)? {
        Ok(c) => c,
        Err(errors) => {
            let mut err = format!("{}: {} error(s):\n", args.config.display(), errors.len());
            for e in errors.errors() {
                err.push_str(&format!("  {e}\n"));
            }
            return Ok((1, String::new(), err));
        }
    };
    let text = if args.services.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read Services from stdin")?;
        s
    } else {
        std::fs::read_to_string(&args.services)
            .with_context(|| format!("cannot read {}", args.services.display()))?
    };
    let services = ferrolb_view::services_from_list_json(&text)
        .with_context(|| format!("{}", args.services.display()))?;
    let options = PlanOptions {
        load_balancer_class: args.lb_class.clone(),
    };
    let result = plan(&config, &services, &options)?;
    let out = match args.output {
        Output::Json => format!("{}\n", result.to_json_pretty()),
        Output::Table => result.render_table(),
    };
    Ok((0, out, String::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, text: &str) -> PathBuf {
        crate::cmd::temp_file("plan-cli", name, text)
    }

    const SERVICES: &str = r#"{"apiVersion":"v1","kind":"List","items":[
      {"apiVersion":"v1","kind":"Service","metadata":{"namespace":"default","name":"web"},
       "spec":{"type":"LoadBalancer"},
       "status":{"loadBalancer":{"ingress":[{"ip":"192.168.254.0"}]}}},
      {"apiVersion":"v1","kind":"Service","metadata":{"namespace":"default","name":"api"},
       "spec":{"type":"LoadBalancer"}}]}"#;

    const CONFIG: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: metallb-system\n  name: config\ndata:\n  config: |\n    address-pools:\n    - name: default\n      protocol: bgp\n      addresses:\n      - 192.168.254.0/32\n";

    fn args(output: Output, tag: &str) -> Args {
        Args {
            config: temp(&format!("{tag}-config.yaml"), CONFIG),
            services: temp(&format!("{tag}-services.json"), SERVICES),
            output,
            lb_class: None,
        }
    }

    #[test]
    fn json_output() {
        let (code, out, _) = execute(&args(Output::Json, "json")).unwrap();
        assert_eq!(code, 0);
        let order: Vec<usize> = [
            "\"namespace\"",
            "\"name\"",
            "\"pool\"",
            "\"ips\"",
            "\"changed\"",
            "\"error\"",
        ]
        .iter()
        .map(|k| out.find(k).unwrap())
        .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "keys out of order:\n{out}"
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!([
                {"namespace": "default", "name": "api", "pool": null, "ips": [], "changed": false,
                 "error": "no available IPv4 address in pool default (1 of 1 in use)"},
                {"namespace": "default", "name": "web", "pool": "default", "ips": ["192.168.254.0"],
                 "changed": false, "error": null}
            ])
        );
    }

    #[test]
    fn table_output() {
        let (code, out, _) = execute(&args(Output::Table, "table")).unwrap();
        assert_eq!(code, 0);
        assert!(out.starts_with("NAMESPACE"), "{out}");
        assert!(
            out.contains("no available IPv4 address in pool default"),
            "{out}"
        );
        assert!(
            out.contains("192.168.254.0") && out.contains("kept"),
            "{out}"
        );
    }

    #[test]
    fn bad_config_and_bad_services_are_reported() {
        let mut a = args(Output::Json, "bad-config");
        a.config = temp("bad.yaml", "address-pools: 3\n");
        let (code, _, err) = execute(&a).unwrap();
        assert_eq!(code, 1);
        assert!(err.contains("address-pools"), "{err}");
        let mut b = args(Output::Json, "bad-services");
        b.services = temp("bad.json", "{\"items\": [{\"kind\": \"Pod\"}]}");
        let e = execute(&b).unwrap_err();
        assert!(format!("{e:#}").contains("items[0].kind"), "{e:#}");
    }
}
