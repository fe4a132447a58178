//! Prometheus metrics of the server.

use crate::collect::Collector;
use prometheus_client::collector::Collector as PromCollector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::OnceLock;

/// Every endpoint label `around` uses.
pub(super) const ENDPOINTS: [&str; 7] = [
    "v2_infer",
    "v2_model",
    "v2_server",
    "invocations",
    "mlflow_health",
    "metrics",
    "other",
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RequestLabels {
    pub endpoint: &'static str,
    pub model: String,
    pub version: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct EndpointLabels {
    pub endpoint: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ModelLabels {
    pub model: String,
    pub version: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
        2.5, 5.0, 10.0,
    ])
}

/// The collector's counters, read at scrape time.
#[derive(Debug)]
struct CollectorCounters {
    collector: Option<Collector>,
}

impl PromCollector for CollectorCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(c) = &self.collector else {
            return Ok(());
        };
        let s = c.stats();
        for (name, help, v) in [
            (
                "mlcycle_prediction_log_accepted",
                "Prediction records accepted by the collector.",
                s.accepted,
            ),
            (
                "mlcycle_prediction_log_dropped",
                "Prediction records dropped because the collector's channel was full.",
                s.dropped,
            ),
            (
                "mlcycle_prediction_log_write_errors",
                "Prediction records the log failed to write.",
                s.write_errors,
            ),
            (
                "mlcycle_prediction_log_sampled_out",
                "Prediction records not kept because sampling left their request out.",
                s.sampled_out,
            ),
        ] {
            let counter = ConstCounter::new(v);
            let m = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(m)?;
        }
        Ok(())
    }
}

/// All metrics of one server.
#[derive(Debug)]
pub(super) struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    pub rows: Family<ModelLabels, Counter>,
    pub swaps: Counter,
    pub swap_failures: Counter,
    pub shadow_requests: Counter,
    /// The latency histogram of each of [`ENDPOINTS`], taken from the family on first use.
    latency_by_endpoint: [OnceLock<Histogram>; ENDPOINTS.len()],
}

impl Metrics {
    pub fn new(collector: Option<Collector>) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<EndpointLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let rows = Family::<ModelLabels, Counter>::default();
        let swaps = Counter::default();
        let swap_failures = Counter::default();
        let shadow_requests = Counter::default();
        registry.register(
            "mlcycle_http_requests",
            "HTTP requests by endpoint, model, version and status.",
            requests.clone(),
        );
        registry.register(
            "mlcycle_http_request_duration_seconds",
            "HTTP request latency in seconds, by endpoint.",
            latency.clone(),
        );
        registry.register(
            "mlcycle_rows_scored",
            "Rows scored, by model and version.",
            rows.clone(),
        );
        registry.register(
            "mlcycle_model_swaps",
            "Model versions swapped into service (champion or challenger).",
            swaps.clone(),
        );
        registry.register(
            "mlcycle_model_swap_failures",
            "New versions that failed to load or verify and were not swapped in.",
            swap_failures.clone(),
        );
        registry.register(
            "mlcycle_shadow_requests",
            "Requests copied to a shadow challenger.",
            shadow_requests.clone(),
        );
        registry.register_collector(Box::new(CollectorCounters { collector }));
        Metrics {
            registry,
            requests,
            latency,
            rows,
            swaps,
            swap_failures,
            shadow_requests,
            latency_by_endpoint: Default::default(),
        }
    }

    /// Record the latency of a request to `endpoint`.
    pub fn observe_latency(&self, endpoint: &'static str, seconds: f64) {
        match ENDPOINTS.iter().position(|e| *e == endpoint) {
            Some(i) => self.latency_by_endpoint[i]
                .get_or_init(|| {
                    self.latency
                        .get_or_create(&EndpointLabels { endpoint })
                        .clone()
                })
                .observe(seconds),
            None => self
                .latency
                .get_or_create(&EndpointLabels { endpoint })
                .observe(seconds),
        }
    }

    /// The rows-scored counter of a model version.
    pub fn rows_counter(&self, model: &str, version: &str) -> Counter {
        self.rows
            .get_or_create(&ModelLabels {
                model: model.to_string(),
                version: version.to_string(),
            })
            .clone()
    }

    /// The metrics in OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
