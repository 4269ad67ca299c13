//! Admission control: how many applications (a submission or a
//! resubmission, each running the app's hooks and writing a case) run at
//! once, per app and on the whole node. Past either bound an application is
//! refused at once with a retry hint, which the API and the pages answer as
//! a 503 with `Retry-After`, instead of queueing into time-outs. An app at
//! its own bound leaves the rest of the node to the other apps.
//!
//! The counts live in one mutex held only to add or subtract; nothing awaits
//! under it. The figures are in `/metrics`: applications in flight per app,
//! refusals per app and bound, and the bounds themselves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

/// The bounds, from `[admission]` in the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Applications of one app running at once on this node.
    pub per_app: usize,
    /// Applications of all apps running at once on this node.
    pub total: usize,
    /// What a refused caller is told to wait, in seconds.
    pub retry_after_secs: u32,
}

impl Default for AdmissionLimits {
    /// Sized to this node's instance slots: an app's share of them is 8, and
    /// each application holds one slot at a time, so a few times that keeps
    /// the slots busy without queueing far behind them.
    fn default() -> AdmissionLimits {
        AdmissionLimits {
            per_app: 32,
            total: 128,
            retry_after_secs: 1,
        }
    }
}

/// Which bound refused an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The app's own bound.
    App,
    /// The node's bound over all apps.
    Node,
}

impl Bound {
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::App => "app",
            Bound::Node => "node",
        }
    }
}

/// An application refused by admission control.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{app}: {} applications already run at once on this node ({} bound); retry after {retry_after_secs} s",
    limit,
    bound.as_str()
)]
pub struct Refused {
    pub app: String,
    pub bound: Bound,
    pub limit: usize,
    pub retry_after_secs: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabel {
    app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    app: String,
    bound: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BoundLabel {
    bound: String,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Only apps with applications in flight; an entry goes at zero.
    by_app: HashMap<String, usize>,
}

/// The node's admission control.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    counts: Mutex<Counts>,
    in_flight: Family<AppLabel, Gauge>,
    refused: Family<RefusedLabels, Counter>,
    bounds: Family<BoundLabel, Gauge>,
}

/// One admitted application; dropping it (however the application ends)
/// gives its place back.
#[derive(Debug)]
pub struct Admitted {
    admission: Arc<Admission>,
    app: String,
}

impl Admission {
    /// Admission control with `limits`, its figures registered in `registry`.
    pub fn new(limits: AdmissionLimits, registry: &mut prometheus_client::registry::Registry) -> Admission {
        let admission = Admission {
            limits,
            counts: Mutex::new(Counts::default()),
            in_flight: Family::default(),
            refused: Family::default(),
            bounds: Family::default(),
        };
        registry.register(
            "applications_in_flight",
            "Applications of an app running now on this node",
            admission.in_flight.clone(),
        );
        registry.register(
            "admission_refused",
            "Applications refused at once by admission control, by the bound that refused them",
            admission.refused.clone(),
        );
        registry.register(
            "admission_limit",
            "Admission control's bounds: applications at once per app and on the node",
            admission.bounds.clone(),
        );
        for (bound, limit) in [(Bound::App, limits.per_app), (Bound::Node, limits.total)] {
            admission
                .bounds
                .get_or_create(&BoundLabel {
                    bound: bound.as_str().into(),
                })
                .set(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        admission
    }

    pub fn limits(&self) -> AdmissionLimits {
        self.limits
    }

    /// Admit one application of `app`, or refuse it at once.
    pub fn admit(self: &Arc<Self>, app: &str) -> Result<Admitted, Refused> {
        let refused = |bound: Bound, limit: usize| {
            self.refused
                .get_or_create(&RefusedLabels {
                    app: app.into(),
                    bound: bound.as_str().into(),
                })
                .inc();
            Refused {
                app: app.into(),
                bound,
                limit,
                retry_after_secs: self.limits.retry_after_secs,
            }
        };
        let running = {
            let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let of_app = counts.by_app.get(app).copied().unwrap_or(0);
            if of_app >= self.limits.per_app {
                drop(counts);
                return Err(refused(Bound::App, self.limits.per_app));
            }
            if counts.total >= self.limits.total {
                drop(counts);
                return Err(refused(Bound::Node, self.limits.total));
            }
            counts.total += 1;
            counts.by_app.insert(app.to_owned(), of_app + 1);
            of_app + 1
        };
        self.in_flight
            .get_or_create(&AppLabel { app: app.into() })
            .set(i64::try_from(running).unwrap_or(i64::MAX));
        Ok(Admitted {
            admission: self.clone(),
            app: app.to_owned(),
        })
    }

    /// Applications in flight: of `app`, and on the node.
    pub fn in_flight(&self, app: &str) -> (usize, usize) {
        let counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (counts.by_app.get(app).copied().unwrap_or(0), counts.total)
    }

    fn release(&self, app: &str) {
        let running = {
            let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            counts.total = counts.total.saturating_sub(1);
            let left = counts.by_app.get(app).copied().unwrap_or(0).saturating_sub(1);
            if left == 0 {
                counts.by_app.remove(app);
            } else {
                counts.by_app.insert(app.to_owned(), left);
            }
            left
        };
        self.in_flight
            .get_or_create(&AppLabel { app: app.into() })
            .set(i64::try_from(running).unwrap_or(i64::MAX));
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.admission.release(&self.app);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(per_app: usize, total: usize) -> (Arc<Admission>, prometheus_client::registry::Registry) {
        let mut registry = prometheus_client::registry::Registry::with_prefix("tongban_app");
        let limits = AdmissionLimits {
            per_app,
            total,
            retry_after_secs: 2,
        };
        (Arc::new(Admission::new(limits, &mut registry)), registry)
    }

    #[test]
    fn an_app_at_its_bound_is_refused_and_others_are_admitted() {
        let (admission, _) = admission(2, 10);
        let first = admission.admit("a").unwrap();
        let _second = admission.admit("a").unwrap();
        let refused = admission.admit("a").unwrap_err();
        assert_eq!(refused.bound, Bound::App);
        assert_eq!(refused.retry_after_secs, 2);
        assert!(refused.to_string().contains("a: 2 applications"), "{refused}");
        // Another app is not held back by the first one's bound.
        let _other = admission.admit("b").unwrap();
        // A place given back is taken again.
        drop(first);
        let _again = admission.admit("a").unwrap();
        assert_eq!(admission.in_flight("a"), (2, 3));
    }

    #[test]
    fn the_node_bound_holds_over_all_apps() {
        let (admission, _) = admission(5, 3);
        let held: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|app| admission.admit(app).unwrap())
            .collect();
        let refused = admission.admit("d").unwrap_err();
        assert_eq!(refused.bound, Bound::Node);
        drop(held);
        assert_eq!(admission.in_flight("a"), (0, 0));
        assert!(
            admission.counts.lock().unwrap().by_app.is_empty(),
            "no entry is left behind"
        );
        let _ = admission.admit("d").unwrap();
    }

    #[test]
    fn the_figures_are_in_the_metrics() {
        let (admission, registry) = admission(1, 10);
        let _held = admission.admit("a").unwrap();
        let _ = admission.admit("a").unwrap_err();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "tongban_app_applications_in_flight{app=\"a\"} 1",
            "tongban_app_admission_refused_total{app=\"a\",bound=\"app\"} 1",
            "tongban_app_admission_limit{bound=\"app\"} 1",
            "tongban_app_admission_limit{bound=\"node\"} 10",
        ] {
            assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
        }
    }
}
