//! The sampling-strategy JSON Jaeger clients parse, rendered from api_v2's
//! `SamplingStrategyResponse`: served by the agent (5778) and the collector
//! (`GET /api/sampling` on 14268), so both answer byte-identically:
//!
//! * `/sampling` — Jaeger's protobuf JSON (jsonpb with defaults emitted, then absent
//!   strategies removed): `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.001}}`.
//!   What the Python, Node and Java clients read.
//! * `/` — the legacy Thrift 0.9.2 JSON, where `strategyType` is the enum's number:
//!   `{"strategyType":0,"probabilisticSampling":{"samplingRate":0.001}}`. Old Go clients.

use serde::Serialize;
use sextant_proto::jaeger::api_v2 as pb;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response<T> {
    strategy_type: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    probabilistic_sampling: Option<Probabilistic>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limiting_sampling: Option<RateLimiting>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation_sampling: Option<PerOperation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Probabilistic {
    sampling_rate: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RateLimiting {
    max_traces_per_second: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PerOperation {
    default_sampling_probability: f64,
    default_lower_bound_traces_per_second: f64,
    per_operation_strategies: Vec<Operation>,
    default_upper_bound_traces_per_second: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Operation {
    operation: String,
    probabilistic_sampling: Probabilistic,
}

/// The `/sampling` body.
pub fn proto_json(r: &pb::SamplingStrategyResponse) -> String {
    let name = match r.strategy_type() {
        pb::SamplingStrategyType::Probabilistic => "PROBABILISTIC",
        pb::SamplingStrategyType::RateLimiting => "RATE_LIMITING",
    };
    render(r, name)
}

/// The legacy `/` body (Thrift 0.9.2 enum numbers).
pub fn legacy_json(r: &pb::SamplingStrategyResponse) -> String {
    render(r, r.strategy_type() as i32)
}

fn render<T: Serialize>(r: &pb::SamplingStrategyResponse, strategy_type: T) -> String {
    let body = Response {
        strategy_type,
        probabilistic_sampling: r.probabilistic_sampling.as_ref().map(|p| Probabilistic {
            sampling_rate: finite(p.sampling_rate),
        }),
        rate_limiting_sampling: r.rate_limiting_sampling.as_ref().map(|l| RateLimiting {
            max_traces_per_second: l.max_traces_per_second,
        }),
        operation_sampling: r.operation_sampling.as_ref().map(|o| PerOperation {
            default_sampling_probability: finite(o.default_sampling_probability),
            default_lower_bound_traces_per_second: finite(o.default_lower_bound_traces_per_second),
            per_operation_strategies: o
                .per_operation_strategies
                .iter()
                .map(|s| Operation {
                    operation: s.operation.clone(),
                    probabilistic_sampling: Probabilistic {
                        sampling_rate: s
                            .probabilistic_sampling
                            .as_ref()
                            .map_or(0.0, |p| finite(p.sampling_rate)),
                    },
                })
                .collect(),
            default_upper_bound_traces_per_second: finite(o.default_upper_bound_traces_per_second),
        }),
    };
    // Serialising plain structs of numbers and strings cannot fail.
    serde_json::to_string(&body).unwrap_or_else(|_| String::from("{}"))
}

/// JSON has no NaN or infinity; a collector sending one gets 0 rather than invalid JSON.
fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// Jaeger's default when no strategy is known: probabilistic, 0.1%.
pub fn default_strategy() -> pb::SamplingStrategyResponse {
    pb::SamplingStrategyResponse {
        strategy_type: pb::SamplingStrategyType::Probabilistic as i32,
        probabilistic_sampling: Some(pb::ProbabilisticSamplingStrategy {
            sampling_rate: 0.001,
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilistic_in_both_shapes() {
        let d = default_strategy();
        assert_eq!(
            proto_json(&d),
            r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.001}}"#
        );
        assert_eq!(
            legacy_json(&d),
            r#"{"strategyType":0,"probabilisticSampling":{"samplingRate":0.001}}"#
        );
    }

    #[test]
    fn rate_limiting_and_per_operation() {
        let r = pb::SamplingStrategyResponse {
            strategy_type: pb::SamplingStrategyType::RateLimiting as i32,
            rate_limiting_sampling: Some(pb::RateLimitingSamplingStrategy {
                max_traces_per_second: 5,
            }),
            ..Default::default()
        };
        assert_eq!(
            proto_json(&r),
            r#"{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":5}}"#
        );
        assert_eq!(
            legacy_json(&r),
            r#"{"strategyType":1,"rateLimitingSampling":{"maxTracesPerSecond":5}}"#
        );
        let per_op = pb::SamplingStrategyResponse {
            operation_sampling: Some(pb::PerOperationSamplingStrategies {
                default_sampling_probability: 0.5,
                default_lower_bound_traces_per_second: 1.0,
                per_operation_strategies: vec![pb::OperationSamplingStrategy {
                    operation: "GET /".into(),
                    probabilistic_sampling: Some(pb::ProbabilisticSamplingStrategy {
                        sampling_rate: f64::NAN,
                    }),
                }],
                default_upper_bound_traces_per_second: 0.0,
            }),
            ..Default::default()
        };
        let v: serde_json::Value = serde_json::from_str(&proto_json(&per_op)).unwrap();
        assert_eq!(v["strategyType"], "PROBABILISTIC");
        assert_eq!(v["operationSampling"]["defaultSamplingProbability"], 0.5);
        assert_eq!(
            v["operationSampling"]["perOperationStrategies"][0]["probabilisticSampling"]
                ["samplingRate"],
            0.0
        );
        assert!(v.get("probabilisticSampling").is_none());
    }
}
