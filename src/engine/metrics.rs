//! The process's metrics, in the OpenMetrics text format Prometheus scrapes
//! (prometheus-client): sessions started, running and finished by status;
//! tool runs by tool and outcome, with a duration histogram per tool; tools
//! running and waiting for a slot; open watchers by transport; refunds; store
//! errors; and HTTP and gRPC requests by route and code.
//!
//! One registry per process, reached through [`metrics`]: the counters are
//! bumped where things happen (the engine, the adapters), and a scrape only
//! encodes what they hold.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::LazyLock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolOutcome {
    pub tool: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolLabel {
    pub tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    pub transport: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `http` or `grpc`.
    pub protocol: String,
    /// The route's pattern (`/api/sessions/{id}`) or the gRPC method.
    pub route: String,
    /// The HTTP status or the gRPC status code.
    pub code: String,
}

type DurationHistograms = Family<ToolLabel, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub sessions_started: Counter,
    pub sessions_running: Gauge,
    pub sessions_finished: Family<StatusLabel, Counter>,
    pub tool_runs: Family<ToolOutcome, Counter>,
    pub tool_seconds: DurationHistograms,
    pub tools_running: Gauge,
    pub tools_waiting: Gauge,
    pub watchers: Family<TransportLabel, Gauge>,
    pub refunds: Counter,
    pub refunded_credits: Counter,
    pub store_errors: Counter,
    pub requests: Family<RequestLabels, Counter>,
}

fn duration_histogram() -> Histogram {
    // 10 ms to about 20 minutes.
    Histogram::new(exponential_buckets(0.01, 3.0, 12))
}

impl Metrics {
    fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("livescan"),
            sessions_started: Counter::default(),
            sessions_running: Gauge::default(),
            sessions_finished: Family::default(),
            tool_runs: Family::default(),
            tool_seconds: Family::new_with_constructor(duration_histogram),
            tools_running: Gauge::default(),
            tools_waiting: Gauge::default(),
            watchers: Family::default(),
            refunds: Counter::default(),
            refunded_credits: Counter::default(),
            store_errors: Counter::default(),
            requests: Family::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "sessions_started",
            "Sessions started",
            metrics.sessions_started.clone(),
        );
        registry.register(
            "sessions_running",
            "Sessions running in this process",
            metrics.sessions_running.clone(),
        );
        registry.register(
            "sessions_finished",
            "Sessions finished, by final status",
            metrics.sessions_finished.clone(),
        );
        registry.register(
            "tool_runs",
            "Tool runs, by tool and outcome",
            metrics.tool_runs.clone(),
        );
        registry.register(
            "tool_duration_seconds",
            "How long tool runs took, by tool",
            metrics.tool_seconds.clone(),
        );
        registry.register(
            "tools_running",
            "Tools running now",
            metrics.tools_running.clone(),
        );
        registry.register(
            "tools_waiting",
            "Tools waiting for a slot under the global cap",
            metrics.tools_waiting.clone(),
        );
        registry.register(
            "watchers",
            "Open watch streams, by transport (sse, grpc)",
            metrics.watchers.clone(),
        );
        registry.register(
            "refunds",
            "Sessions that refunded credits",
            metrics.refunds.clone(),
        );
        registry.register(
            "refunded_credits",
            "Credits refunded",
            metrics.refunded_credits.clone(),
        );
        registry.register(
            "store_errors",
            "Storage operations that failed",
            metrics.store_errors.clone(),
        );
        registry.register(
            "requests",
            "HTTP and gRPC requests, by protocol, route and code",
            metrics.requests.clone(),
        );
        metrics
    }

    /// Every metric in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// Counts one open watch stream of `transport` until the guard drops.
    pub fn watching(&'static self, transport: &str) -> Watching {
        let gauge = self.watchers.get_or_create_owned(&TransportLabel {
            transport: transport.to_string(),
        });
        gauge.inc();
        Watching(gauge)
    }
}

/// An open watch stream, counted while it lives.
pub struct Watching(Gauge);

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Holds a gauge one higher while it lives (a running or waiting tool).
pub struct Raised(&'static Gauge);

impl Raised {
    pub fn new(gauge: &'static Gauge) -> Raised {
        gauge.inc();
        Raised(gauge)
    }
}

impl Drop for Raised {
    fn drop(&mut self) {
        self.0.dec();
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_in_the_openmetrics_text_format() {
        let metrics = Metrics::new();
        metrics.sessions_started.inc();
        metrics
            .tool_seconds
            .get_or_create(&ToolLabel {
                tool: "secrets".into(),
            })
            .observe(0.5);
        metrics
            .sessions_finished
            .get_or_create(&StatusLabel {
                status: "completed".into(),
            })
            .inc();
        let text = metrics.render();
        assert!(text.contains("livescan_sessions_started_total 1"), "{text}");
        assert!(
            text.contains("livescan_sessions_finished_total{status=\"completed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("livescan_tool_duration_seconds_count{tool=\"secrets\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
