//! Prometheus metrics, served as text at `/metrics`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub changes: IntCounterVec,
    pub sync_seconds: HistogramVec,
    pub attachments_stored: IntCounter,
    pub attachment_bytes_received: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "gridsync_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let changes = IntCounterVec::new(
            Opts::new("gridsync_sync_changes_total", "Pushed changes by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let sync_seconds = HistogramVec::new(
            HistogramOpts::new(
                "gridsync_sync_duration_seconds",
                "Time to answer POST /v1/sync",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["outcome"],
        )
        .expect("valid metric");
        let attachments_stored = IntCounter::new(
            "gridsync_attachments_stored_total",
            "Attachments received whole, verified and kept",
        )
        .expect("valid metric");
        let attachment_bytes_received = IntCounter::new(
            "gridsync_attachment_bytes_received_total",
            "Attachment bytes acknowledged to devices",
        )
        .expect("valid metric");
        registry
            .register(Box::new(attachments_stored.clone()))
            .expect("registered once");
        registry
            .register(Box::new(attachment_bytes_received.clone()))
            .expect("registered once");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(changes.clone()))
            .expect("registered once");
        registry
            .register(Box::new(sync_seconds.clone()))
            .expect("registered once");
        for outcome in ["applied", "duplicate", "refused"] {
            changes.with_label_values(&[outcome]);
        }
        Metrics {
            registry,
            requests,
            changes,
            sync_seconds,
            attachments_stored,
            attachment_bytes_received,
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
