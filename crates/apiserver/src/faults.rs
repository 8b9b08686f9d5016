//! Fault injection: answer chosen calls with 429, 500, 503, 409, 410 (or any code), optionally with a
//! `Retry-After` header, a chosen number of times or on every n-th matching request, so tests can see how
//! a client copes with back-pressure, server errors, conflicts and forced relists.
//!
//! ```
//! use ferrolb_apiserver::Fault;
//! // Every 3rd status patch answers 429 with `Retry-After: 1`, forever.
//! let f = Fault::new("patch", "services/status", 429).retry_after(1).every(3);
//! // The next 2 watches of Services by any client but the auditor are told to relist (410).
//! let g = Fault::new("watch", "services", 410).times(2).except_user_agent("ferrolb-audit");
//! # let _ = (f, g);
//! ```

use serde_json::{json, Value};

use crate::calls::Call;
use crate::status::ApiError;

/// One fault rule. Build with [`Fault::new`] and the modifiers; install with
/// [`Calls::inject`](crate::Calls::inject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// None: every resource call (an outage).
    call: Option<Call>,
    code: u16,
    retry_after: Option<u32>,
    times: Option<u32>,
    every: u32,
    name: Option<String>,
    only_user_agent: Option<String>,
    except_user_agent: Option<String>,
    seen: u64,
}

/// What one matching request is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// HTTP status code.
    pub code: u16,
    /// `Retry-After` in seconds, if the rule sets one.
    pub retry_after: Option<u32>,
}

/// The parts of a request a rule matches on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub call: &'a Call,
    pub name: Option<&'a str>,
    pub user_agent: &'a str,
}

impl Fault {
    /// Answer every `verb` call on `resource` (`services/status`, `leases.coordination.k8s.io`, ...)
    /// with HTTP `code`, without touching the store, until [`Fault::times`] runs out (default: forever).
    pub fn new(verb: &str, resource: &str, code: u16) -> Fault {
        Fault {
            call: Some(Call::new(verb, resource)),
            code,
            retry_after: None,
            times: None,
            every: 1,
            name: None,
            only_user_agent: None,
            except_user_agent: None,
            seen: 0,
        }
    }

    /// Answer every resource request (any verb, any resource) with HTTP `code`: an API outage.
    /// Discovery and health endpoints still answer.
    pub fn everything(code: u16) -> Fault {
        Fault {
            call: None,
            ..Fault::new("get", "namespaces", code)
        }
    }

    /// Send `Retry-After: secs` (and `details.retryAfterSeconds`, as the real server does on 429).
    pub fn retry_after(mut self, secs: u32) -> Fault {
        self.retry_after = Some(secs);
        self
    }

    /// Fail only this many times, then pass every request.
    pub fn times(mut self, n: u32) -> Fault {
        self.times = Some(n);
        self
    }

    /// Fail only every `n`-th matching request (the `n`-th, `2n`-th, ...); 1 (the default) fails all.
    pub fn every(mut self, n: u32) -> Fault {
        self.every = n.max(1);
        self
    }

    /// Match only requests naming this object.
    pub fn name(mut self, name: &str) -> Fault {
        self.name = Some(name.to_string());
        self
    }

    /// Match only clients whose `User-Agent` starts with `prefix`.
    pub fn only_user_agent(mut self, prefix: &str) -> Fault {
        self.only_user_agent = Some(prefix.to_string());
        self
    }

    /// Never match clients whose `User-Agent` starts with `prefix` (e.g. a test's own observer).
    pub fn except_user_agent(mut self, prefix: &str) -> Fault {
        self.except_user_agent = Some(prefix.to_string());
        self
    }

    fn matches(&self, t: Target<'_>) -> bool {
        self.call.as_ref().is_none_or(|c| c == t.call)
            && self.times != Some(0)
            && self.name.as_deref().is_none_or(|n| t.name == Some(n))
            && self
                .only_user_agent
                .as_deref()
                .is_none_or(|p| t.user_agent.starts_with(p))
            && self
                .except_user_agent
                .as_deref()
                .is_none_or(|p| !t.user_agent.starts_with(p))
    }

    /// Count a matching request; `Some` when this one is to fail.
    pub(crate) fn apply(&mut self, t: Target<'_>) -> Option<Injected> {
        if !self.matches(t) {
            return None;
        }
        self.seen += 1;
        if !self.seen.is_multiple_of(u64::from(self.every)) {
            return None;
        }
        if let Some(n) = &mut self.times {
            *n -= 1;
        }
        Some(Injected {
            code: self.code,
            retry_after: self.retry_after,
        })
    }

    /// Whether the rule can still fire.
    pub(crate) fn live(&self) -> bool {
        self.times != Some(0)
    }
}

impl Injected {
    /// The `Status` body the real server sends for this code (reason and message as kube-apiserver's).
    pub fn status(&self, call: &Call, name: Option<&str>) -> Value {
        let group = call.group.as_str();
        let resource = call.resource.as_str();
        let obj = name.unwrap_or("");
        let err = match self.code {
            409 => ApiError::conflict(group, resource, obj),
            410 => ApiError::expired(0, 0),
            code => ApiError {
                code,
                reason: reason(code),
                message: message(code, call),
                details: None,
            },
        };
        let mut status = err.to_status();
        if let Some(secs) = self.retry_after {
            let details = status
                .as_object_mut()
                .and_then(|s| s.get_mut("details").and_then(Value::as_object_mut))
                .map(|d| d.insert("retryAfterSeconds".into(), json!(secs)));
            if details.is_none() {
                status["details"] = json!({ "retryAfterSeconds": secs });
            }
        }
        status
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

fn message(code: u16, call: &Call) -> String {
    match code {
        429 => "Too many requests, please try again later.".to_string(),
        503 => "the server is currently unable to handle the request".to_string(),
        504 => "the server was unable to return a response in the time allotted".to_string(),
        _ => format!("injected failure for {call}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(call: &'a Call, name: Option<&'a str>, ua: &'a str) -> Target<'a> {
        Target {
            call,
            name,
            user_agent: ua,
        }
    }

    #[test]
    fn every_nth_and_times() {
        let call = Call::new("patch", "services/status");
        let mut f = Fault::new("patch", "services/status", 429)
            .every(3)
            .times(2);
        let fired: Vec<bool> = (0..10)
            .map(|_| f.apply(target(&call, Some("a"), "")).is_some())
            .collect();
        // 3rd and 6th fail; then the budget of 2 is spent.
        assert_eq!(
            fired,
            [false, false, true, false, false, true, false, false, false, false]
        );
        assert!(!f.live());
    }

    #[test]
    fn filters_by_call_name_and_user_agent() {
        let patch = Call::new("patch", "services/status");
        let get = Call::new("get", "services");
        let mut f = Fault::new("patch", "services/status", 500)
            .name("web")
            .except_user_agent("ferrolb-audit");
        assert!(f.apply(target(&get, Some("web"), "")).is_none());
        assert!(f.apply(target(&patch, Some("db"), "")).is_none());
        assert!(f
            .apply(target(&patch, Some("web"), "ferrolb-audit/1"))
            .is_none());
        assert!(f.apply(target(&patch, Some("web"), "kube-rs")).is_some());
        let mut g = Fault::new("watch", "services", 410).only_user_agent("ctl-a");
        assert!(g
            .apply(target(&Call::new("watch", "services"), None, "ctl-b"))
            .is_none());
        assert!(g
            .apply(target(&Call::new("watch", "services"), None, "ctl-a"))
            .is_some());
    }

    #[test]
    fn an_outage_matches_every_call() {
        let mut f = Fault::everything(503).except_user_agent("test-");
        for call in [
            Call::new("watch", "services"),
            Call::new("update", "leases.coordination.k8s.io"),
        ] {
            assert!(f.apply(target(&call, None, "kube")).is_some());
            assert!(f.apply(target(&call, None, "test-audit")).is_none());
        }
    }

    #[test]
    fn status_bodies_name_the_reason_and_retry_after() {
        let call = Call::new("patch", "services/status");
        let s = Injected {
            code: 429,
            retry_after: Some(2),
        }
        .status(&call, Some("web"));
        assert_eq!(s["reason"], "TooManyRequests");
        assert_eq!(s["code"], 429);
        assert_eq!(s["details"]["retryAfterSeconds"], 2);
        let c = Injected {
            code: 409,
            retry_after: None,
        }
        .status(&call, Some("web"));
        assert_eq!(c["reason"], "Conflict");
        assert_eq!(c["details"]["name"], "web");
        let e = Injected {
            code: 503,
            retry_after: Some(1),
        }
        .status(&call, None);
        assert_eq!(e["reason"], "ServiceUnavailable");
        assert_eq!(e["details"]["retryAfterSeconds"], 1);
    }
}
