//! Jaeger's sampling strategies file (`--sampling.strategies-file`) and the static
//! strategies it defines, with Jaeger's semantics (its `strategyprovider/static`):
//!
//! * No file: every service gets probabilistic sampling at [`DEFAULT_SAMPLING_PROBABILITY`].
//! * `default_strategy` is used for services the file does not list; `service_strategies`
//!   entries for the others. A `type` other than `probabilistic` / `ratelimiting` falls
//!   back to the built-in default (with a warning).
//! * `operation_strategies` only support `probabilistic`; rate-limiting entries are skipped
//!   (with a warning). Their `defaultSamplingProbability` is the strategy's own rate when it
//!   is probabilistic, else the built-in default.
//! * A service without its own per-operation list inherits the default strategy's (its own
//!   probabilistic rate replacing the default probability); one with its own list gets the
//!   default's operations merged in, its own entries winning.

use std::collections::HashMap;

use serde::Deserialize;
use sextant_proto::jaeger::api_v2::{
    OperationSamplingStrategy, PerOperationSamplingStrategies, ProbabilisticSamplingStrategy,
    RateLimitingSamplingStrategy, SamplingStrategyResponse, SamplingStrategyType,
};

/// Jaeger's default when no strategy is configured.
pub const DEFAULT_SAMPLING_PROBABILITY: f64 = 0.001;

#[derive(Debug, thiserror::Error)]
#[error("invalid sampling strategies: {0}")]
pub struct StrategiesError(String);

#[derive(Deserialize, Default)]
struct StrategyJson {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    param: f64,
}

#[derive(Deserialize)]
struct OperationJson {
    #[serde(default)]
    operation: String,
    #[serde(flatten)]
    strategy: StrategyJson,
}

#[derive(Deserialize)]
struct ServiceJson {
    #[serde(default)]
    service: String,
    #[serde(default)]
    operation_strategies: Vec<OperationJson>,
    #[serde(flatten)]
    strategy: StrategyJson,
}

#[derive(Deserialize)]
struct FileJson {
    #[serde(default)]
    default_strategy: Option<ServiceJson>,
    #[serde(default)]
    service_strategies: Vec<ServiceJson>,
}

/// The strategies of one version of the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Strategies {
    pub default: SamplingStrategyResponse,
    pub services: HashMap<String, SamplingStrategyResponse>,
}

impl Default for Strategies {
    fn default() -> Self {
        Strategies {
            default: default_response(),
            services: HashMap::new(),
        }
    }
}

impl Strategies {
    /// The strategy for `service`: its own, else the default.
    pub fn for_service(&self, service: &str) -> &SamplingStrategyResponse {
        self.services.get(service).unwrap_or(&self.default)
    }

    /// Parses a strategies file's contents. `null` (as Jaeger accepts) means defaults.
    pub fn parse(bytes: &[u8]) -> Result<Strategies, StrategiesError> {
        let file: Option<FileJson> =
            serde_json::from_slice(bytes).map_err(|e| StrategiesError(e.to_string()))?;
        let Some(file) = file else {
            return Ok(Strategies::default());
        };
        let mut out = Strategies::default();
        if let Some(default) = &file.default_strategy {
            out.default = service_response(default);
        }
        for s in &file.service_strategies {
            let mut resp = service_response(s);
            if let Some(default_ops) = &out.default.operation_sampling {
                match &mut resp.operation_sampling {
                    None => {
                        let mut ops = default_ops.clone();
                        if let Some(p) = &resp.probabilistic_sampling {
                            ops.default_sampling_probability = p.sampling_rate;
                        }
                        resp.operation_sampling = Some(ops);
                    }
                    Some(own) => {
                        for op in &default_ops.per_operation_strategies {
                            let known = own
                                .per_operation_strategies
                                .iter()
                                .any(|o| o.operation == op.operation);
                            if !known {
                                own.per_operation_strategies.push(op.clone());
                            }
                        }
                    }
                }
            }
            out.services.insert(s.service.clone(), resp);
        }
        Ok(out)
    }
}

fn default_response() -> SamplingStrategyResponse {
    probabilistic(DEFAULT_SAMPLING_PROBABILITY)
}

fn probabilistic(rate: f64) -> SamplingStrategyResponse {
    SamplingStrategyResponse {
        strategy_type: SamplingStrategyType::Probabilistic as i32,
        probabilistic_sampling: Some(ProbabilisticSamplingStrategy {
            sampling_rate: rate,
        }),
        rate_limiting_sampling: None,
        operation_sampling: None,
    }
}

fn strategy_response(s: &StrategyJson) -> SamplingStrategyResponse {
    match s.kind.as_str() {
        "probabilistic" => probabilistic(s.param),
        "ratelimiting" => SamplingStrategyResponse {
            strategy_type: SamplingStrategyType::RateLimiting as i32,
            probabilistic_sampling: None,
            // Go's float → int32 conversion truncates; saturate instead of wrapping.
            rate_limiting_sampling: Some(RateLimitingSamplingStrategy {
                max_traces_per_second: s.param as i32,
            }),
            operation_sampling: None,
        },
        other => {
            tracing::warn!(
                strategy_type = other,
                "unknown sampling strategy type, using the default"
            );
            default_response()
        }
    }
}

fn service_response(s: &ServiceJson) -> SamplingStrategyResponse {
    let mut resp = strategy_response(&s.strategy);
    if s.operation_strategies.is_empty() {
        return resp;
    }
    let mut ops = PerOperationSamplingStrategies {
        default_sampling_probability: resp
            .probabilistic_sampling
            .as_ref()
            .map_or(DEFAULT_SAMPLING_PROBABILITY, |p| p.sampling_rate),
        ..PerOperationSamplingStrategies::default()
    };
    for op in &s.operation_strategies {
        let parsed = strategy_response(&op.strategy);
        let Some(p) = parsed.probabilistic_sampling else {
            tracing::warn!(
                operation = op.operation,
                "operation strategies only support probabilistic sampling; entry skipped"
            );
            continue;
        };
        ops.per_operation_strategies
            .push(OperationSamplingStrategy {
                operation: op.operation.clone(),
                probabilistic_sampling: Some(p),
            });
    }
    resp.operation_sampling = Some(ops);
    resp
}

#[cfg(test)]
mod tests {

    #[test]
    fn default_strategy_renders_like_jaeger() {
        use sextant_model::sampling_json::proto_json;
        let s = Strategies::default();
        assert_eq!(
            proto_json(s.for_service("x")),
            r#"{"strategyType":"PROBABILISTIC","probabilisticSampling":{"samplingRate":0.001}}"#
        );
        let s = Strategies::parse(br#"{"default_strategy":{"type":"ratelimiting","param":7}}"#)
            .unwrap();
        assert_eq!(
            proto_json(s.for_service("x")),
            r#"{"strategyType":"RATE_LIMITING","rateLimitingSampling":{"maxTracesPerSecond":7}}"#
        );
    }

    use super::*;

    const FILE: &str = r#"{
      "service_strategies": [
        {"service": "foo", "type": "probabilistic", "param": 0.8,
         "operation_strategies": [
           {"operation": "op1", "type": "probabilistic", "param": 0.2},
           {"operation": "op2", "type": "ratelimiting", "param": 10}]},
        {"service": "bar", "type": "ratelimiting", "param": 5},
        {"service": "baz", "type": "probabilistic", "param": 0.3}
      ],
      "default_strategy": {"type": "probabilistic", "param": 0.5,
        "operation_strategies": [
          {"operation": "/health", "type": "probabilistic", "param": 0.0},
          {"operation": "op1", "type": "probabilistic", "param": 0.9}]}
    }"#;

    fn ops(r: &SamplingStrategyResponse) -> Vec<(String, f64)> {
        r.operation_sampling
            .as_ref()
            .unwrap()
            .per_operation_strategies
            .iter()
            .map(|o| {
                let rate = o.probabilistic_sampling.as_ref().unwrap().sampling_rate;
                (o.operation.clone(), rate)
            })
            .collect()
    }

    #[test]
    fn no_file_means_probabilistic_one_in_a_thousand() {
        let s = Strategies::default();
        let r = s.for_service("anything");
        assert_eq!(r.strategy_type, SamplingStrategyType::Probabilistic as i32);
        assert_eq!(
            r.probabilistic_sampling.as_ref().unwrap().sampling_rate,
            0.001
        );
        assert_eq!(Strategies::parse(b"null").unwrap(), Strategies::default());
    }

    #[test]
    fn services_operations_and_merging_follow_jaeger() {
        let s = Strategies::parse(FILE.as_bytes()).unwrap();
        let foo = s.for_service("foo");
        assert_eq!(
            ops(foo),
            vec![("op1".into(), 0.2), ("/health".into(), 0.0)],
            "own op1 wins, rate-limited op2 skipped, default's /health merged in"
        );
        assert_eq!(
            foo.operation_sampling
                .as_ref()
                .unwrap()
                .default_sampling_probability,
            0.8
        );

        let bar = s.for_service("bar");
        assert_eq!(bar.strategy_type, SamplingStrategyType::RateLimiting as i32);
        assert_eq!(
            bar.rate_limiting_sampling
                .as_ref()
                .unwrap()
                .max_traces_per_second,
            5
        );
        // Inherits the default's operations, default probability unchanged (not probabilistic).
        assert_eq!(
            bar.operation_sampling
                .as_ref()
                .unwrap()
                .default_sampling_probability,
            0.5
        );

        let baz = s.for_service("baz");
        assert_eq!(
            baz.operation_sampling
                .as_ref()
                .unwrap()
                .default_sampling_probability,
            0.3
        );
        assert_eq!(ops(baz).len(), 2);

        let other = s.for_service("unknown");
        assert_eq!(
            other.probabilistic_sampling.as_ref().unwrap().sampling_rate,
            0.5
        );
    }

    #[test]
    fn unknown_types_fall_back_and_bad_json_is_an_error() {
        let s =
            Strategies::parse(br#"{"default_strategy": {"type": "nope", "param": 3}}"#).unwrap();
        assert_eq!(s.default, default_response());
        assert!(Strategies::parse(b"{").is_err());
        assert!(Strategies::parse(br#"{"service_strategies": 3}"#).is_err());
    }
}
