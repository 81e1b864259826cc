//! Prometheus metrics, served as text at `/metrics`.

use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    /// Answer times by route and method.
    pub request_seconds: HistogramVec,
    pub changes: IntCounterVec,
    pub sync_seconds: HistogramVec,
    pub attachments_stored: IntCounter,
    pub attachment_bytes_received: IntCounter,
    pub login_failures: IntCounter,
    pub sweeps: IntCounter,
    pub escalations: IntCounter,
    /// Refused changes waiting for a supervisor (read at each scrape).
    pub quarantine_open: IntGauge,
    /// Database connections by state (read at each scrape).
    pub pool: IntGaugeVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Register `metric` and hand it back.
fn reg<T: Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    registry
        .register(Box::new(metric.clone()))
        .expect("registered once");
    metric
}

/// Seconds, from a millisecond to ten seconds.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let r = &registry;
        let counter =
            |name: &str, help: &str| reg(r, IntCounter::new(name, help).expect("valid metric"));
        let requests = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "gridsync_http_requests_total",
                    "HTTP requests by route, method and status",
                ),
                &["route", "method", "status"],
            )
            .expect("valid metric"),
        );
        let request_seconds = reg(
            r,
            HistogramVec::new(
                HistogramOpts::new(
                    "gridsync_http_request_duration_seconds",
                    "Time to answer a request, by route and method",
                )
                .buckets(BUCKETS.to_vec()),
                &["route", "method"],
            )
            .expect("valid metric"),
        );
        let changes = reg(
            r,
            IntCounterVec::new(
                Opts::new("gridsync_sync_changes_total", "Pushed changes by outcome"),
                &["outcome"],
            )
            .expect("valid metric"),
        );
        let sync_seconds = reg(
            r,
            HistogramVec::new(
                HistogramOpts::new(
                    "gridsync_sync_duration_seconds",
                    "Time to answer POST /v1/sync",
                )
                .buckets(BUCKETS.to_vec()),
                &["outcome"],
            )
            .expect("valid metric"),
        );
        let attachments_stored = counter(
            "gridsync_attachments_stored_total",
            "Attachments received whole, verified and kept",
        );
        let attachment_bytes_received = counter(
            "gridsync_attachment_bytes_received_total",
            "Attachment bytes acknowledged to devices",
        );
        let login_failures = counter(
            "gridsync_login_failures_total",
            "Logins refused for a wrong username or password",
        );
        let sweeps = counter(
            "gridsync_sweeps_total",
            "Housekeeping rounds run (the escalation sweep, abandoned uploads)",
        );
        let escalations = counter(
            "gridsync_escalations_total",
            "Overdue cases raised a level by the sweep",
        );
        let quarantine_open = reg(
            r,
            IntGauge::new(
                "gridsync_quarantine_open",
                "Refused changes waiting for a supervisor's decision",
            )
            .expect("valid metric"),
        );
        let pool = reg(
            r,
            IntGaugeVec::new(
                Opts::new(
                    "gridsync_db_pool_connections",
                    "Database connections of this process, by state",
                ),
                &["state"],
            )
            .expect("valid metric"),
        );
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("registered once");
        for outcome in ["applied", "duplicate", "refused"] {
            changes.with_label_values(&[outcome]);
        }
        Metrics {
            registry,
            requests,
            request_seconds,
            changes,
            sync_seconds,
            attachments_stored,
            attachment_bytes_received,
            login_failures,
            sweeps,
            escalations,
            quarantine_open,
            pool,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding of gathered metrics");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}
