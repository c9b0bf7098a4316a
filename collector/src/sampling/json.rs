//! The JSON a `GET /api/sampling?service=` answer carries: Jaeger's
//! `SamplingStrategyResponseToJSON` shape (jsonpb with defaults emitted, absent
//! sub-strategies left out), e.g.
//! `{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.001}}`.

use serde::Serialize;
use sextant_proto::jaeger::api_v2::{SamplingStrategyResponse, SamplingStrategyType};

/// Field order is Jaeger's (declaration order of the proto message).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    strategy_type: &'static str,
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

/// The response body for one strategy.
pub fn response_json(r: &SamplingStrategyResponse) -> String {
    let strategy_type = match SamplingStrategyType::try_from(r.strategy_type) {
        Ok(SamplingStrategyType::RateLimiting) => "RATE_LIMITING",
        _ => "PROBABILISTIC",
    };
    let response = Response {
        strategy_type,
        probabilistic_sampling: r.probabilistic_sampling.as_ref().map(|p| Probabilistic {
            sampling_rate: p.sampling_rate,
        }),
        rate_limiting_sampling: r.rate_limiting_sampling.as_ref().map(|rl| RateLimiting {
            max_traces_per_second: rl.max_traces_per_second,
        }),
        operation_sampling: r.operation_sampling.as_ref().map(|ops| PerOperation {
            default_sampling_probability: ops.default_sampling_probability,
            default_lower_bound_traces_per_second: ops.default_lower_bound_traces_per_second,
            per_operation_strategies: ops
                .per_operation_strategies
                .iter()
                .map(|o| Operation {
                    operation: o.operation.clone(),
                    probabilistic_sampling: Probabilistic {
                        sampling_rate: o
                            .probabilistic_sampling
                            .as_ref()
                            .map_or(0.0, |p| p.sampling_rate),
                    },
                })
                .collect(),
            default_upper_bound_traces_per_second: ops.default_upper_bound_traces_per_second,
        }),
    };
    // Serialising plain structs of strings and finite-or-not floats cannot fail except on
    // non-finite floats, which serde_json writes as `null`.
    serde_json::to_string(&response).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::file::Strategies;

    #[test]
    fn default_strategy_renders_like_jaeger() {
        let s = Strategies::default();
        assert_eq!(
            response_json(s.for_service("x")),
            r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.001}}"#
        );
        let s = Strategies::parse(br#"{"default_strategy":{"type":"ratelimiting","param":7}}"#)
            .unwrap();
        assert_eq!(
            response_json(s.for_service("x")),
            r#"{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":7}}"#
        );
    }
}
