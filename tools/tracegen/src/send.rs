//! One connection to a collector or agent, in one of the four protocols tracegen speaks.
//! Every encoding comes from `sextant_model` and every client from `sextant_proto`, so the
//! bytes are the ones the receivers are tested with.

use std::time::Duration;

use bytes::{BufMut, Bytes};

use sextant_model::thrift::{self, BatchMeta};
use sextant_model::{api_v2, otlp, Span};
use sextant_proto::jaeger::api_v2::collector_service_client::CollectorServiceClient;
use sextant_proto::jaeger::api_v2::{Batch, PostSpansRequest};
use sextant_proto::otlp::collector::trace::v1::trace_service_client::TraceServiceClient;
use sextant_proto::otlp::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

/// The largest UDP datagram the Jaeger agent accepts by default.
const MAX_UDP_PACKET: usize = 65_000;
const GRPC_MAX_MESSAGE: usize = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WireProtocol {
    /// OTLP over gRPC (`TraceService/Export`, port 4317).
    OtlpGrpc,
    /// OTLP over HTTP, protobuf body (`POST /v1/traces`, port 4318).
    OtlpHttp,
    /// Jaeger api_v2 gRPC (`CollectorService/PostSpans`, port 14250).
    JaegerGrpc,
    /// Jaeger agent: compact thrift `emitBatch` over UDP (port 6831). Fire and forget.
    AgentUdp,
}

impl WireProtocol {
    /// The usual local address for the protocol.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            WireProtocol::OtlpGrpc => "127.0.0.1:4317",
            WireProtocol::OtlpHttp => "127.0.0.1:4318",
            WireProtocol::JaegerGrpc => "127.0.0.1:14250",
            WireProtocol::AgentUdp => "127.0.0.1:6831",
        }
    }

    /// Whether the receiver confirms each batch (UDP does not).
    pub fn acknowledges(self) -> bool {
        self != WireProtocol::AgentUdp
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("connecting to {endpoint}: {message}")]
    Connect { endpoint: String, message: String },
    /// The receiver is overloaded (gRPC RESOURCE_EXHAUSTED/UNAVAILABLE, HTTP 429/503):
    /// worth retrying after a pause.
    #[error("receiver busy: {0}")]
    Busy(String),
    #[error("receiver refused the batch: {0}")]
    Refused(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A load that cannot be run as configured.
    #[error("{0}")]
    Setup(String),
}

enum Conn {
    /// The generated client, and its channel for requests encoded in advance.
    OtlpGrpc(TraceServiceClient<Channel>, Channel),
    OtlpHttp(reqwest::Client, String),
    JaegerGrpc(CollectorServiceClient<Channel>),
    AgentUdp(tokio::net::UdpSocket),
}

/// A connection that sends batches and reports how many spans were acknowledged.
pub struct Sender {
    conn: Conn,
}

async fn channel(endpoint: &str) -> Result<Channel, SendError> {
    let err = |e: &dyn std::fmt::Display| SendError::Connect {
        endpoint: endpoint.to_string(),
        message: e.to_string(),
    };
    Endpoint::from_shared(format!("http://{endpoint}"))
        .map_err(|e| err(&e))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| err(&e))
}

fn grpc_error(status: tonic::Status) -> SendError {
    match status.code() {
        tonic::Code::ResourceExhausted | tonic::Code::Unavailable => {
            SendError::Busy(status.message().to_string())
        }
        _ => SendError::Refused(format!("{:?}: {}", status.code(), status.message())),
    }
}

impl Sender {
    /// Opens one connection (its own TCP connection for the gRPC protocols, so `--workers`
    /// means concurrent connections) to `endpoint` (`host:port`).
    pub async fn connect(protocol: WireProtocol, endpoint: &str) -> Result<Sender, SendError> {
        let conn = match protocol {
            WireProtocol::OtlpGrpc => {
                let channel = channel(endpoint).await?;
                Conn::OtlpGrpc(
                    TraceServiceClient::new(channel.clone())
                        .max_encoding_message_size(GRPC_MAX_MESSAGE),
                    channel,
                )
            }
            WireProtocol::JaegerGrpc => Conn::JaegerGrpc(
                CollectorServiceClient::new(channel(endpoint).await?)
                    .max_encoding_message_size(GRPC_MAX_MESSAGE),
            ),
            WireProtocol::OtlpHttp => {
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .build()
                    .map_err(|e| SendError::Connect {
                        endpoint: endpoint.to_string(),
                        message: e.to_string(),
                    })?;
                Conn::OtlpHttp(client, format!("http://{endpoint}/v1/traces"))
            }
            WireProtocol::AgentUdp => {
                let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await?;
                socket.connect(endpoint).await?;
                Conn::AgentUdp(socket)
            }
        };
        Ok(Sender { conn })
    }

    /// Sends one batch; returns how many of its spans the receiver acknowledged (all of
    /// them on success, fewer on an OTLP partial success; for UDP, those sent).
    pub async fn send(&mut self, spans: &[Span]) -> Result<u64, SendError> {
        let n = spans.len() as u64;
        match &mut self.conn {
            Conn::OtlpGrpc(client, _) => {
                let request = ExportTraceServiceRequest {
                    resource_spans: otlp::spans_to_resource_spans(spans),
                };
                let response = client.export(request).await.map_err(grpc_error)?;
                Ok(otlp_acked(n, &response.into_inner()))
            }
            Conn::OtlpHttp(client, url) => {
                let response = client
                    .post(url.as_str())
                    .header("content-type", "application/x-protobuf")
                    .body(otlp::encode_export_request(spans))
                    .send()
                    .await
                    .map_err(|e| SendError::Refused(e.to_string()))?;
                let status = response.status();
                match status.as_u16() {
                    200..=299 => Ok(n),
                    429 | 502..=504 => Err(SendError::Busy(status.to_string())),
                    _ => Err(SendError::Refused(status.to_string())),
                }
            }
            Conn::JaegerGrpc(client) => {
                // A Jaeger batch carries one process: one request per process, as the
                // agent sends them.
                for (process, group) in thrift::group_by_process(spans) {
                    let batch = Batch {
                        spans: group
                            .iter()
                            .map(|s| {
                                let mut p = api_v2::span_to_proto(s);
                                p.process = None;
                                p
                            })
                            .collect(),
                        process: Some(api_v2::process_to_proto(&process)),
                    };
                    client
                        .post_spans(PostSpansRequest { batch: Some(batch) })
                        .await
                        .map_err(grpc_error)?;
                }
                Ok(n)
            }
            Conn::AgentUdp(socket) => {
                for (process, group) in thrift::group_by_process(spans) {
                    send_udp(socket, &process, &group).await?;
                }
                Ok(n)
            }
        }
    }
}

impl Sender {
    /// Sends one OTLP `ExportTraceServiceRequest` encoded in advance (see
    /// [`encode_otlp`]) holding `spans` spans; OTLP gRPC only. Returns the acknowledged count.
    pub async fn send_encoded(&mut self, request: Bytes, spans: u64) -> Result<u64, SendError> {
        let Conn::OtlpGrpc(_, channel) = &self.conn else {
            return Err(SendError::Setup(
                "pre-encoded requests are OTLP gRPC only".to_string(),
            ));
        };
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready()
            .await
            .map_err(|e| SendError::Busy(format!("channel not ready: {e}")))?;
        let path = PathAndQuery::from_static(EXPORT_PATH);
        let response = grpc
            .unary(tonic::Request::new(request), path, EncodedOtlpCodec)
            .await
            .map_err(grpc_error)?;
        Ok(otlp_acked(spans, &response.into_inner()))
    }
}

/// `TraceService/Export`, as the generated client calls it.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The request bytes `send_encoded` takes for `spans`: what the OTLP gRPC client would
/// encode for them.
pub fn encode_otlp(spans: &[Span]) -> Bytes {
    Bytes::from(otlp::encode_export_request(spans))
}

/// Spans acknowledged of `sent`: all but those an OTLP partial success rejected.
fn otlp_acked(sent: u64, response: &ExportTraceServiceResponse) -> u64 {
    let rejected = response
        .partial_success
        .as_ref()
        .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0));
    sent.saturating_sub(rejected)
}

/// A gRPC codec that sends bytes as they are (an already encoded request) and decodes the
/// OTLP response as the generated client does.
#[derive(Clone, Copy)]
struct EncodedOtlpCodec;

impl tonic::codec::Codec for EncodedOtlpCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = EncodedOtlpCodec;
    type Decoder = EncodedOtlpCodec;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl tonic::codec::Encoder for EncodedOtlpCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Self::Error> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for EncodedOtlpCodec {
    type Item = ExportTraceServiceResponse;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Self::Item>, Self::Error> {
        prost::Message::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("decoding the response: {e}")))
    }
}

/// Sends `spans` in as many datagrams as it takes to stay under the agent's packet size.
async fn send_udp(
    socket: &tokio::net::UdpSocket,
    process: &sextant_model::Resource,
    spans: &[Span],
) -> Result<(), SendError> {
    let mut pending = vec![spans];
    while let Some(chunk) = pending.pop() {
        let packet = thrift::encode_emit_batch(
            process,
            chunk,
            &BatchMeta::default(),
            thrift::Protocol::Compact,
            0,
        );
        if packet.len() <= MAX_UDP_PACKET || chunk.len() <= 1 {
            socket.send(&packet).await?;
        } else {
            let (a, b) = chunk.split_at(chunk.len() / 2);
            pending.push(b);
            pending.push(a);
        }
    }
    Ok(())
}
