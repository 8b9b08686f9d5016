//! Findings and their rendering.

use std::fmt::Write as _;

use serde::Serialize;

/// How bad a finding is. `Error` makes `ferrolb doctor` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Traffic is being lost now or will be.
    Error,
    /// Likely a problem under some conditions.
    Warning,
    /// Worth knowing.
    Info,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One diagnosed problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable identifier for scripts, e.g. `pod-egress-unmasqueraded`.
    pub code: &'static str,
    /// Severity.
    pub severity: Severity,
    /// One line that says what is wrong.
    pub summary: String,
    /// The routes, conntrack entries, sysctls... that show it.
    pub evidence: Vec<String>,
    /// Concrete fixes (commands or FerroLB settings); alternatives start with "or".
    pub fix: Vec<String>,
}

/// The doctor's answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Findings, errors first.
    pub findings: Vec<Finding>,
    /// Remarks about what could not be checked.
    pub notes: Vec<String>,
    /// For each pod CIDR with lost connections: whether a NAT rule covers them (`covered`,
    /// `not-covered`, `unknown`) and why.
    pub egress_nat: Vec<crate::doctor::EgressVerdict>,
}

impl Report {
    /// Whether a finding has severity error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Findings with this code.
    pub fn with_code<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| f.code == code)
    }

    /// Short human output: one line per finding, evidence and fix indented, notes last.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let _ = writeln!(out, "{:<7} {}: {}", f.severity.as_str(), f.code, f.summary);
            for e in &f.evidence {
                let _ = writeln!(out, "    evidence: {e}");
            }
            for x in &f.fix {
                let _ = writeln!(out, "    fix: {x}");
            }
        }
        if self.findings.is_empty() {
            out.push_str("no findings\n");
        }
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        out
    }
}
