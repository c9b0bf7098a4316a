//! TLS and mutual TLS on the collector's servers, with certificates made for the test: a CA,
//! a server certificate for `localhost` / 127.0.0.1 and a client certificate, both signed by
//! the CA. Real clients (reqwest, tonic, the Sextant agent) send spans; the test reads them
//! back from the memory store. Clients that do not speak TLS, or that bring no certificate
//! where one is required, are refused — and the servers keep serving.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use sextant_collector::tls::{
    handshake_errors, GrpcTlsArgs, HttpTlsArgs, OtlpGrpcTlsArgs, OtlpHttpTlsArgs, TlsOptions,
    TlsVersion, ZipkinTlsArgs,
};
use sextant_collector::{run, CollectorArgs, CollectorError};
use sextant_common::shutdown::Shutdown;
use sextant_model::thrift::{encode_emit_batch, BatchMeta, Protocol};
use sextant_model::{Span, TraceId};
use sextant_proto::jaeger::api_v2 as pb;
use sextant_proto::jaeger::api_v2::collector_service_client::CollectorServiceClient;
use sextant_proto::otlp::collector::trace::v1::trace_service_client::TraceServiceClient;
use sextant_proto::otlp::collector::trace::v1::ExportTraceServiceRequest;
use sextant_storage::{SpanWriter, StorageArgs};
use tokio::sync::Semaphore;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

mod support;
use support::{api_v2_batch, spans, Harness};

/// The test PKI, as PEM files in a temporary directory (the flags take paths).
struct Pki {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "sextant test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(
            vec!["test-client".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        Pki {
            ca: write("ca.pem", ca.pem()),
            server_cert: write("server.pem", server_cert),
            server_key: write("server-key.pem", server_key),
            client_cert: write("client.pem", client_cert),
            client_key: write("client-key.pem", client_key),
            _dir: dir,
        }
    }

    /// Server TLS; with `mtls`, client certificates signed by the CA are required.
    fn server(&self, mtls: bool) -> TlsOptions {
        TlsOptions {
            client_ca: mtls.then(|| self.ca.clone()),
            ..TlsOptions::new(&self.server_cert, &self.server_key)
        }
    }

    fn read(path: &PathBuf) -> Vec<u8> {
        std::fs::read(path).unwrap()
    }
}

#[tokio::test]
async fn otlp_http_over_tls() {
    let pki = Pki::new();
    let h = Harness::start_with(CollectorArgs {
        otlp_http_tls: OtlpHttpTlsArgs::from_options(pki.server(false)),
        ..CollectorArgs::loopback_ephemeral()
    })
    .await;
    let port = h.running().otlp_http_addr.unwrap().port();
    let errors = handshake_errors("otlp http");
    let errors_before = errors.get();

    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&Pki::read(&pki.ca)).unwrap())
        .build()
        .unwrap();
    // A client that connects and never says hello holds up nobody else's handshake.
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();

    let sent = spans(0x7151, "tls-http", 2);
    let r = client
        .post(format!("https://localhost:{port}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(sextant_model::otlp::encode_export_request(&sent))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = h.spans_of(TraceId(0x7151), 2).await;
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|s| s.service_name() == "tls-http"));

    // Plain HTTP to the TLS port: refused, counted, and the server keeps serving.
    let plain = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(sextant_model::otlp::encode_export_request(&sent))
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain HTTP got an answer: {:?}",
        plain.map(|r| r.status())
    );
    for _ in 0..100 {
        if errors.get() > errors_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(errors.get() > errors_before, "failed handshake not counted");

    let again = spans(0x7152, "tls-http", 1);
    let r = client
        .post(format!("https://127.0.0.1:{port}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(sextant_model::otlp::encode_export_request(&again))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    h.spans_of(TraceId(0x7152), 1).await;

    // The other receivers still speak plain HTTP.
    let r = reqwest::Client::new()
        .get(format!(
            "http://{}/api/sampling?service=x",
            h.running().http_addr
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    h.stop().await;
}

async fn grpc_channel(
    pki: &Pki,
    port: u16,
    with_cert: bool,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(Pki::read(&pki.ca)))
        .domain_name("localhost");
    if with_cert {
        tls = tls.identity(Identity::from_pem(
            Pki::read(&pki.client_cert),
            Pki::read(&pki.client_key),
        ));
    }
    Channel::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

#[tokio::test]
async fn jaeger_grpc_with_mtls() {
    let pki = Pki::new();
    let h = Harness::start_with(CollectorArgs {
        grpc_tls: GrpcTlsArgs::from_options(pki.server(true)),
        ..CollectorArgs::loopback_ephemeral()
    })
    .await;
    let port = h.running().grpc_addr.port();
    let errors = handshake_errors("jaeger grpc");
    let errors_before = errors.get();

    let channel = grpc_channel(&pki, port, true).await.unwrap();
    let sent = spans(0x7153, "tls-grpc", 3);
    CollectorServiceClient::new(channel)
        .post_spans(pb::PostSpansRequest {
            batch: Some(api_v2_batch(&sent)),
        })
        .await
        .unwrap();
    assert_eq!(h.spans_of(TraceId(0x7153), 3).await.len(), 3);

    // Without a client certificate the server ends the handshake: whether the client notices
    // on connect or on its first call (TLS 1.3 finishes the client's side first), nothing
    // gets through.
    let refused = spans(0x7154, "tls-grpc", 1);
    let outcome = match grpc_channel(&pki, port, false).await {
        Err(e) => Err(e.to_string()),
        Ok(channel) => CollectorServiceClient::new(channel)
            .post_spans(pb::PostSpansRequest {
                batch: Some(api_v2_batch(&refused)),
            })
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
    };
    assert!(outcome.is_err(), "a client without certificate got through");
    let stored = h
        .storage
        .reader
        .get_traces(&[TraceId(0x7154)])
        .await
        .unwrap();
    assert!(stored.is_empty());
    for _ in 0..100 {
        if errors.get() > errors_before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(errors.get() > errors_before, "refused client not counted");

    // A plain-text gRPC client gets nowhere either.
    let plain = async {
        let mut c = CollectorServiceClient::connect(format!("http://127.0.0.1:{port}")).await?;
        c.post_spans(pb::PostSpansRequest {
            batch: Some(api_v2_batch(&refused)),
        })
        .await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    assert!(tokio::time::timeout(Duration::from_secs(10), plain)
        .await
        .unwrap()
        .is_err());
    h.stop().await;
}

/// Every server's flag group reaches that server: all five serve TLS at once (thrift HTTP
/// with client certificates required), each answers its own protocol over it.
#[tokio::test]
async fn every_server_serves_tls() {
    let pki = Pki::new();
    let h = Harness::start_with(CollectorArgs {
        grpc_tls: GrpcTlsArgs::from_options(pki.server(false)),
        http_tls: HttpTlsArgs::from_options(pki.server(true)),
        otlp_grpc_tls: OtlpGrpcTlsArgs::from_options(pki.server(false)),
        otlp_http_tls: OtlpHttpTlsArgs::from_options(pki.server(false)),
        zipkin_tls: ZipkinTlsArgs::from_options(pki.server(false)),
        ..CollectorArgs::loopback_ephemeral()
    })
    .await;
    let r = h.running();
    let ca = reqwest::Certificate::from_pem(&Pki::read(&pki.ca)).unwrap();
    let https = |identity: Option<reqwest::Identity>| {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca.clone());
        if let Some(id) = identity {
            b = b.identity(id);
        }
        b.build().unwrap()
    };

    // Jaeger gRPC (server TLS only: a client without certificate is fine).
    let sent = spans(0x7160, "all-tls", 1);
    let channel = grpc_channel(&pki, r.grpc_addr.port(), false).await.unwrap();
    CollectorServiceClient::new(channel)
        .post_spans(pb::PostSpansRequest {
            batch: Some(api_v2_batch(&sent)),
        })
        .await
        .unwrap();
    h.spans_of(TraceId(0x7160), 1).await;

    // Jaeger HTTP with mTLS: the sampling endpoint answers only a client with certificate.
    let mut pem = Pki::read(&pki.client_cert);
    pem.extend(Pki::read(&pki.client_key));
    let sampling = format!(
        "https://localhost:{}/api/sampling?service=x",
        r.http_addr.port()
    );
    let ok = https(Some(reqwest::Identity::from_pem(&pem).unwrap()))
        .get(&sampling)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(https(None).get(&sampling).send().await.is_err());

    // OTLP gRPC.
    let channel = grpc_channel(&pki, r.otlp_grpc_addr.unwrap().port(), false)
        .await
        .unwrap();
    let sent = spans(0x7161, "all-tls", 2);
    TraceServiceClient::new(channel)
        .export(ExportTraceServiceRequest {
            resource_spans: sextant_model::otlp::spans_to_resource_spans(&sent),
        })
        .await
        .unwrap();
    h.spans_of(TraceId(0x7161), 2).await;

    // OTLP HTTP.
    let sent = spans(0x7162, "all-tls", 1);
    let ok = https(None)
        .post(format!(
            "https://localhost:{}/v1/traces",
            r.otlp_http_addr.unwrap().port()
        ))
        .header("content-type", "application/x-protobuf")
        .body(sextant_model::otlp::encode_export_request(&sent))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    h.spans_of(TraceId(0x7162), 1).await;

    // Zipkin v2 JSON.
    let zipkin = r#"[{"traceId":"00000000000000000000000000007163","id":"0000000000000001",
        "name":"op","timestamp":1700000000000000,"duration":10,
        "localEndpoint":{"serviceName":"all-tls"}}]"#;
    let ok = https(None)
        .post(format!(
            "https://localhost:{}/api/v2/spans",
            r.zipkin_addr.unwrap().port()
        ))
        .header("content-type", "application/json")
        .body(zipkin)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 202);
    h.spans_of(TraceId(0x7163), 1).await;
    h.stop().await;
}

/// A writer that holds every write until the test releases it.
struct GatedWriter {
    entered: Semaphore,
    release: Semaphore,
}

#[async_trait::async_trait]
impl SpanWriter for GatedWriter {
    async fn write_spans(&self, _spans: Vec<Span>) -> sextant_storage::Result<()> {
        self.entered.add_permits(1);
        if let Ok(p) = self.release.acquire().await {
            p.forget();
        }
        Ok(())
    }
}

/// Shutdown with a request in flight over TLS: the server stops taking connections, the
/// request still gets its answer, then the server stops.
#[tokio::test]
async fn in_flight_tls_request_finishes_on_shutdown() {
    let pki = Pki::new();
    let mut storage = sextant_storage::build(&StorageArgs::default())
        .await
        .unwrap();
    let writer = Arc::new(GatedWriter {
        entered: Semaphore::new(0),
        release: Semaphore::new(0),
    });
    storage.writer = writer.clone();
    let shutdown = Shutdown::new();
    let args = CollectorArgs {
        otlp_http_tls: OtlpHttpTlsArgs::from_options(pki.server(false)),
        ..CollectorArgs::loopback_ephemeral()
    };
    let collector = run(&args, storage, shutdown.clone()).await.unwrap();
    let url = format!(
        "https://localhost:{}/v1/traces",
        collector.otlp_http_addr.unwrap().port()
    );
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&Pki::read(&pki.ca)).unwrap())
        .build()
        .unwrap();
    let body = sextant_model::otlp::encode_export_request(&spans(0x7170, "drain", 1));
    let request = tokio::spawn(
        client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send(),
    );
    // The request is now held in the storage write.
    writer.entered.acquire().await.unwrap().forget();
    shutdown.trigger();
    let stopping = tokio::spawn(collector.join(Duration::from_secs(5)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!stopping.is_finished(), "stopped with a request in flight");

    writer.release.add_permits(1);
    let response = request.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        stopping.await.unwrap(),
        "TLS server did not stop after draining"
    );
}

#[tokio::test]
async fn tls_version_bounds_apply() {
    let pki = Pki::new();
    let h = Harness::start_with(CollectorArgs {
        otlp_http_tls: OtlpHttpTlsArgs::from_options(TlsOptions {
            max_version: Some(TlsVersion::V1_2),
            ..pki.server(false)
        }),
        ..CollectorArgs::loopback_ephemeral()
    })
    .await;
    let port = h.running().otlp_http_addr.unwrap().port();
    let client = |min: reqwest::tls::Version| {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&Pki::read(&pki.ca)).unwrap())
            .min_tls_version(min)
            .build()
            .unwrap()
    };
    let body = sextant_model::otlp::encode_export_request(&spans(0x7155, "v", 1));
    let url = format!("https://localhost:{port}/v1/traces");
    let ok = client(reqwest::tls::Version::TLS_1_2)
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let too_new = client(reqwest::tls::Version::TLS_1_3)
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await;
    assert!(too_new.is_err(), "TLS 1.3 accepted despite max-version 1.2");
    h.stop().await;
}

#[tokio::test]
async fn bad_tls_settings_fail_start_up() {
    let pki = Pki::new();
    let storage = sextant_storage::build(&StorageArgs::default())
        .await
        .unwrap();
    let start = |tls: TlsOptions| {
        let storage = storage.clone();
        async move {
            let args = CollectorArgs {
                grpc_tls: GrpcTlsArgs::from_options(tls),
                ..CollectorArgs::loopback_ephemeral()
            };
            match run(&args, storage, Shutdown::new()).await {
                Ok(_) => panic!("collector started with bad TLS settings"),
                Err(e) => e,
            }
        }
    };
    // A key that is not the certificate's.
    let e = start(TlsOptions::new(&pki.server_cert, &pki.client_key)).await;
    assert!(matches!(e, CollectorError::Tls(_)), "{e}");
    // A key file holding a certificate.
    let e = start(TlsOptions::new(&pki.server_cert, &pki.ca)).await;
    assert!(e.to_string().contains("no PEM private key"), "{e}");
    // A client CA that does not exist.
    let e = start(TlsOptions {
        client_ca: Some("/nonexistent/ca.pem".into()),
        ..pki.server(false)
    })
    .await;
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    match e {
        CollectorError::Tls(t) => assert_eq!(t.prefix(), "collector.grpc.tls"),
        e => panic!("not a TLS error: {e}"),
    }
}

/// The agent forwards a UDP thrift span over mTLS (`--reporter.grpc.tls.*`) to a collector
/// requiring client certificates.
#[tokio::test]
async fn agent_to_collector_over_mtls() {
    let pki = Pki::new();
    let h = Harness::start_with(CollectorArgs {
        grpc_tls: GrpcTlsArgs::from_options(pki.server(true)),
        ..CollectorArgs::loopback_ephemeral()
    })
    .await;
    let port = h.running().grpc_addr.port();

    let agent_shutdown = Shutdown::new();
    let agent_args = sextant_agent::AgentArgs {
        batch_max_delay: Duration::from_millis(10),
        tls: sextant_agent::config::TlsArgs {
            enabled: true,
            ca: Some(pki.ca.clone()),
            cert: Some(pki.client_cert.clone()),
            key: Some(pki.client_key.clone()),
            server_name: Some("localhost".into()),
            ..Default::default()
        },
        ..sextant_agent::AgentArgs::loopback_ephemeral(&format!("127.0.0.1:{port}"))
    };
    let agent = sextant_agent::run(&agent_args, agent_shutdown.clone())
        .await
        .unwrap();

    let sent = spans(0x7156, "via-agent", 2);
    let packet = encode_emit_batch(
        &sent[0].resource,
        &sent,
        &BatchMeta::default(),
        Protocol::Compact,
        1,
    );
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(&packet, agent.compact_addr).await.unwrap();
    let got = h.spans_of(TraceId(0x7156), 2).await;
    assert!(got.iter().all(|s| s.service_name() == "via-agent"));

    agent_shutdown.trigger();
    assert!(agent.join(Duration::from_secs(5)).await);
    h.stop().await;
}
