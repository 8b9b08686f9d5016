//! One warning per Service whose `weight: endpoints` is ignored (`externalTrafficPolicy:
//! Cluster`), logged when it starts being ignored rather than on every pass of the loop.

use std::collections::BTreeSet;

use ferrolb_view::ServiceKey;
use tracing::warn;

use crate::policy::Decision;

/// Remembers which Services were already warned about.
#[derive(Debug, Default)]
pub struct IgnoredWeights {
    warned: BTreeSet<ServiceKey>,
}

impl IgnoredWeights {
    /// Logs a warning for each Service whose weight is ignored now and was not at the previous
    /// call; returns those Services.
    pub fn update(&mut self, decisions: &[Decision]) -> Vec<ServiceKey> {
        let now: BTreeSet<ServiceKey> = decisions
            .iter()
            .filter(|d| d.weight_ignored.is_some())
            .map(|d| d.service.clone())
            .collect();
        let new: Vec<ServiceKey> = now.difference(&self.warned).cloned().collect();
        for service in &new {
            if let Some(why) = decisions
                .iter()
                .find(|d| &d.service == service)
                .and_then(|d| d.weight_ignored.as_deref())
            {
                warn!(%service, "{why}");
            }
        }
        self.warned = now;
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Reason, WEIGHT_IGNORED_CLUSTER};

    fn decision(name: &str, ignored: bool) -> Decision {
        Decision {
            service: ServiceKey::new("web", name),
            ip: None,
            pool: None,
            reason: Reason::NoAddress,
            prefixes: Vec::new(),
            peers: Vec::new(),
            weight: None,
            weight_ignored: ignored.then(|| WEIGHT_IGNORED_CLUSTER.to_string()),
        }
    }

    #[test]
    fn warns_once_per_service_until_it_changes() {
        let mut log = IgnoredWeights::default();
        let a = ServiceKey::new("web", "a");
        let both = [
            decision("a", true),
            decision("a", true),
            decision("b", false),
        ];
        assert_eq!(
            log.update(&both),
            vec![a.clone()],
            "two addresses, one warning"
        );
        assert!(log.update(&both).is_empty(), "not again on the next pass");
        assert!(log.update(&[decision("a", false)]).is_empty());
        assert_eq!(log.update(&[decision("a", true)]), vec![a], "ignored again");
    }
}
