//! What the endpoints answer with adaptive sampling, as Jaeger's adaptive `Provider` builds
//! it: for a service with calculated probabilities, a `PROBABILISTIC` response whose
//! `operationSampling` has `defaultSamplingProbability` = the initial probability,
//! `defaultLowerBoundTracesPerSecond` = the minimum samples per second, and one
//! probabilistic entry per operation; any other service gets the same without entries.
//!
//! The responses are rebuilt whenever a probabilities record is loaded from the store, so a
//! request is a map lookup and a clone. Entries are sorted by operation name so that every
//! collector serving the same record answers byte for byte the same.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use sextant_proto::jaeger::api_v2::{
    OperationSamplingStrategy, PerOperationSamplingStrategies, ProbabilisticSamplingStrategy,
    SamplingStrategyResponse, SamplingStrategyType,
};
use sextant_storage::sampling::ServiceOperationValues;

#[derive(Clone)]
pub struct AdaptiveStrategies {
    initial_probability: f64,
    min_samples_per_second: f64,
    responses: Arc<RwLock<Arc<HashMap<String, SamplingStrategyResponse>>>>,
}

impl AdaptiveStrategies {
    pub fn new(initial_probability: f64, min_samples_per_second: f64) -> Self {
        AdaptiveStrategies {
            initial_probability,
            min_samples_per_second,
            responses: Arc::default(),
        }
    }

    fn default_response(&self) -> SamplingStrategyResponse {
        SamplingStrategyResponse {
            strategy_type: SamplingStrategyType::Probabilistic as i32,
            probabilistic_sampling: None,
            rate_limiting_sampling: None,
            operation_sampling: Some(PerOperationSamplingStrategies {
                default_sampling_probability: self.initial_probability,
                default_lower_bound_traces_per_second: self.min_samples_per_second,
                ..PerOperationSamplingStrategies::default()
            }),
        }
    }

    /// Replaces what is served with `probabilities` (the store's latest record).
    pub fn set(&self, probabilities: &ServiceOperationValues) {
        let mut responses = HashMap::with_capacity(probabilities.len());
        for (service, ops) in probabilities {
            let mut entries: Vec<OperationSamplingStrategy> = ops
                .iter()
                // The record comes from a shared store: serve only real probabilities.
                .filter(|(_, p)| (0.0..=1.0).contains(*p))
                .map(|(op, p)| OperationSamplingStrategy {
                    operation: op.clone(),
                    probabilistic_sampling: Some(ProbabilisticSamplingStrategy {
                        sampling_rate: *p,
                    }),
                })
                .collect();
            entries.sort_by(|a, b| a.operation.cmp(&b.operation));
            let mut response = self.default_response();
            if let Some(per_op) = response.operation_sampling.as_mut() {
                per_op.per_operation_strategies = entries;
            }
            responses.insert(service.clone(), response);
        }
        *self.responses.write() = Arc::new(responses);
    }

    /// The strategy for `service`.
    pub fn for_service(&self, service: &str) -> SamplingStrategyResponse {
        let responses = self.responses.read().clone();
        match responses.get(service) {
            Some(r) => r.clone(),
            None => self.default_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_model::sampling_json::proto_json;

    #[test]
    fn renders_like_jaegers_adaptive_provider() {
        let s = AdaptiveStrategies::new(0.001, 0.5);
        assert_eq!(
            proto_json(&s.for_service("new")),
            r#"{"strategyType":"PROBABILISTIC","operationSampling":{"defaultSamplingProbability":0.001,"defaultLowerBoundTracesPerSecond":0.5,"perOperationStrategies":[],"defaultUpperBoundTracesPerSecond":0.0}}"#
        );
        let mut probs = ServiceOperationValues::new();
        probs.insert(
            "svc".into(),
            HashMap::from([("b".to_string(), 0.25), ("a".to_string(), 1e-5)]),
        );
        s.set(&probs);
        let v: serde_json::Value =
            serde_json::from_str(&proto_json(&s.for_service("svc"))).unwrap();
        let ops = &v["operationSampling"]["perOperationStrategies"];
        assert_eq!(ops[0]["operation"], "a");
        assert_eq!(ops[0]["probabilisticSampling"]["samplingRate"], 1e-5);
        assert_eq!(ops[1]["operation"], "b");
        assert_eq!(v["operationSampling"]["defaultSamplingProbability"], 0.001);
        assert!(s
            .for_service("other")
            .operation_sampling
            .unwrap()
            .per_operation_strategies
            .is_empty());
    }
}
