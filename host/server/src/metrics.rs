//! `/metrics` in the Prometheus text format: per app, version and hook, the
//! calls, the error values apps returned, the traps and limit breaches, the
//! fuel burnt, and a latency histogram; and admission control's figures
//! (`admission.rs`). Every hook call the server makes goes
//! through [`crate::state::AppState::call_app`], which records it here.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tongban_runtime::{CallError, CallOutcome, HookResult};

use crate::admission::{Admission, AdmissionLimits};

/// Which app call a figure is about.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub app: String,
    pub version: String,
    pub hook: String,
}

/// A trap, with its kind: `trap`, `host`, or the limit that was hit.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TrapLabels {
    pub app: String,
    pub version: String,
    pub hook: String,
    pub kind: String,
}

/// The server's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    calls: Family<CallLabels, Counter>,
    errors: Family<CallLabels, Counter>,
    traps: Family<TrapLabels, Counter>,
    busy: Family<CallLabels, Counter>,
    fuel: Family<CallLabels, Counter>,
    latency: Family<CallLabels, Histogram>,
    seal_delay: Histogram,
    sealed: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::with_admission(AdmissionLimits::default()).0
    }

    /// The metrics, and admission control with `limits` reporting into them.
    pub fn with_admission(limits: AdmissionLimits) -> (Metrics, Arc<Admission>) {
        let mut root = Registry::with_prefix("tongban");
        let registry = root.sub_registry_with_prefix("app");
        let admission = Arc::new(Admission::new(limits, registry));
        let calls = Family::<CallLabels, Counter>::default();
        let errors = Family::<CallLabels, Counter>::default();
        let traps = Family::<TrapLabels, Counter>::default();
        let busy = Family::<CallLabels, Counter>::default();
        let fuel = Family::<CallLabels, Counter>::default();
        // 0.5 ms to about 8 s, doubling.
        let latency = Family::<CallLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 15))
        });
        registry.register("calls", "Hook calls of an app version", calls.clone());
        registry.register(
            "errors",
            "Hook calls that returned an error value or field errors",
            errors.clone(),
        );
        registry.register(
            "traps",
            "Hook calls stopped by a trap, a limit breach or a host failure",
            traps.clone(),
        );
        registry.register(
            "busy",
            "Hook calls refused before they ran: the app at its share of the instance slots, or the pool full",
            busy.clone(),
        );
        registry.register("fuel", "Fuel consumed, when fuel is metered", fuel.clone());
        registry.register("call_duration_seconds", "Wall time of hook calls", latency.clone());
        let audit = root.sub_registry_with_prefix("audit");
        // 10 ms to about 80 s, doubling.
        let seal_delay = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let sealed = Counter::default();
        audit.register(
            "seal_delay_seconds",
            "For each sealed batch, how long its oldest entry waited from append to sealed",
            seal_delay.clone(),
        );
        audit.register(
            "sealed_entries",
            "Audit entries sealed into the chain by this node",
            sealed.clone(),
        );
        let metrics = Metrics {
            registry: Arc::new(root),
            calls,
            errors,
            traps,
            busy,
            fuel,
            latency,
            seal_delay,
            sealed,
        };
        (metrics, admission)
    }

    /// Record one call.
    pub fn record(&self, app: &str, version: &str, hook: &str, outcome: &CallOutcome) {
        let labels = CallLabels {
            app: app.into(),
            version: version.into(),
            hook: hook.into(),
        };
        self.calls.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(outcome.report.wall_time.as_secs_f64());
        if let Some(fuel) = outcome.report.fuel_used {
            self.fuel.get_or_create(&labels).inc_by(fuel);
        }
        match &outcome.result {
            Ok(HookResult::Validate(Err(_)) | HookResult::Submit(Err(_)) | HookResult::OnEvent(Err(_))) => {
                self.errors.get_or_create(&labels).inc();
            }
            Ok(_) => {}
            Err(CallError::Busy { .. }) => {
                self.busy.get_or_create(&labels).inc();
            }
            Err(e) => {
                let kind = match e {
                    CallError::Limit { kind, .. } => kind.to_string(),
                    CallError::Trap(_) => "trap".into(),
                    CallError::Host(_) | CallError::Busy { .. } => "host".into(),
                };
                self.traps
                    .get_or_create(&TrapLabels {
                        app: labels.app,
                        version: labels.version,
                        hook: labels.hook,
                        kind,
                    })
                    .inc();
            }
        }
    }

    /// Record one sealed batch of the audit log.
    pub fn record_sealed(&self, batch: &tongban_registry::market::audit_seal::SealedBatch) {
        self.sealed.inc_by(batch.entries);
        self.seal_delay
            .observe((batch.sealed_at - batch.oldest_at).max(0) as f64 / 1000.0);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use tongban_runtime::{CallError, CallOutcome, CallReport, LimitKind};

    use super::Metrics;

    /// A breach of the copy allowance is the app's limit breach, by kind, not
    /// a failure of the host; a refusal for lack of slots is counted apart.
    #[test]
    fn limit_breaches_and_busy_refusals_are_counted_by_kind() {
        let metrics = Metrics::new();
        let outcome = |result| CallOutcome {
            result,
            report: CallReport::default(),
        };
        metrics.record(
            "cn.gov.test.app",
            "1.0.0",
            "validate",
            &outcome(Err(CallError::Limit {
                kind: LimitKind::Copy,
                detail: "too much".into(),
            })),
        );
        metrics.record(
            "cn.gov.test.app",
            "1.0.0",
            "validate",
            &outcome(Err(CallError::Busy {
                detail: "at its share".into(),
                retry_after_secs: 1,
            })),
        );
        let text = metrics.render();
        assert!(
            text.lines().any(|l| l.starts_with("tongban_app_traps_total{")
                && l.contains("kind=\"copy limit\"")
                && l.ends_with(" 1")),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("tongban_app_busy_total{") && l.ends_with(" 1")),
            "{text}"
        );
        assert!(
            !text.contains("kind=\"host\"") && !text.contains("kind=\"busy\""),
            "{text}"
        );
    }
}
