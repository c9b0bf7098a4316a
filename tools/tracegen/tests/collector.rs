//! tracegen against a real collector (the library, on loopback ports, over the memory
//! store): every span sent over each acknowledging protocol is acknowledged and stored,
//! attributes and events included.

use std::collections::HashMap;

use sextant_collector::{run, CollectorArgs};
use sextant_common::shutdown::Shutdown;
use sextant_model::{Span, TraceId};
use sextant_storage::StorageArgs;
use sextant_tracegen::{load, Generator, LoadConfig, WireProtocol};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_span_is_acknowledged_and_stored() {
    let storage = sextant_storage::build(&StorageArgs::default())
        .await
        .unwrap();
    let shutdown = Shutdown::new();
    let collector = run(
        &CollectorArgs::loopback_ephemeral(),
        storage.clone(),
        shutdown.clone(),
    )
    .await
    .unwrap();
    // (protocol, address, seed, requests encoded before sending)
    let cases = [
        (
            WireProtocol::OtlpGrpc,
            collector.otlp_grpc_addr.unwrap(),
            11,
            false,
        ),
        (
            WireProtocol::OtlpGrpc,
            collector.otlp_grpc_addr.unwrap(),
            14,
            true,
        ),
        (
            WireProtocol::OtlpHttp,
            collector.otlp_http_addr.unwrap(),
            12,
            false,
        ),
        (WireProtocol::JaegerGrpc, collector.grpc_addr, 13, false),
    ];
    for (protocol, addr, seed, pregenerate) in cases {
        let mut config = LoadConfig::new(protocol, addr.to_string());
        config.seed = seed;
        config.pregenerate = pregenerate;
        config.workers = 2;
        config.batch_spans = 300;
        config.max_traces = Some(40);
        let report = load::run(config).await.unwrap();
        assert_eq!(report.traces, 40, "{protocol:?}");
        assert_eq!(report.failed_spans, 0, "{protocol:?}: {report}");
        assert_eq!(report.acked_spans, report.sent_spans, "{protocol:?}");

        // The generator gives the same traces again (times aside): compare with storage.
        let generator = Generator::new(seed);
        let expected: Vec<Vec<Span>> = (0..40).map(|i| generator.trace(i, 0)).collect();
        assert_eq!(
            expected.iter().map(Vec::len).sum::<usize>() as u64,
            report.sent_spans
        );
        let ids: Vec<TraceId> = expected.iter().map(|t| t[0].trace_id).collect();
        let stored = storage.reader.get_traces(&ids).await.unwrap();
        assert_eq!(stored.len(), 40, "{protocol:?}");
        let by_id: HashMap<TraceId, &sextant_model::Trace> =
            stored.iter().map(|t| (t.trace_id().unwrap(), t)).collect();
        for want in &expected {
            let got = by_id[&want[0].trace_id];
            assert_eq!(got.spans.len(), want.len(), "{protocol:?}");
            for w in want {
                let g = got.spans.iter().find(|s| s.span_id == w.span_id).unwrap();
                assert_eq!(g.name, w.name);
                assert_eq!(g.service_name(), w.service_name());
                assert_eq!(g.events.len(), w.events.len());
                assert_eq!(g.status.code, w.status.code);
            }
        }
    }
    shutdown.trigger();
}

#[test]
fn pregenerating_needs_otlp_grpc_and_an_end() {
    let mut config = LoadConfig::new(WireProtocol::JaegerGrpc, "127.0.0.1:1");
    config.pregenerate = true;
    config.max_traces = Some(1);
    let err = load::prepare(config).err().unwrap().to_string();
    assert!(err.contains("OTLP gRPC only"), "{err}");
    let mut config = LoadConfig::new(WireProtocol::OtlpGrpc, "127.0.0.1:1");
    config.pregenerate = true;
    let err = load::prepare(config).err().unwrap().to_string();
    assert!(err.contains("span or trace count"), "{err}");
}
