//! A gRPC codec that sends an already encoded `PostSpansRequest`. The batcher encodes each
//! span once, on the worker that decoded it; the sender then only frames bytes, and a retry
//! on another collector resends the same bytes instead of cloning a message tree.

use bytes::{BufMut, Bytes};
use prost::Message;
use sextant_proto::jaeger::api_v2::PostSpansResponse;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// The method path of `jaeger.api_v2.CollectorService/PostSpans`.
pub const POST_SPANS: &str = "/jaeger.api_v2.CollectorService/PostSpans";

#[derive(Clone, Copy, Default)]
pub struct PreEncoded;

pub struct BytesEncoder;
pub struct ResponseDecoder;

impl Codec for PreEncoded {
    type Encode = Bytes;
    type Decode = PostSpansResponse;
    type Encoder = BytesEncoder;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> BytesEncoder {
        BytesEncoder
    }
    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

impl Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = PostSpansResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<PostSpansResponse>, Status> {
        PostSpansResponse::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(format!("undecodable PostSpans response: {e}")))
    }
}
