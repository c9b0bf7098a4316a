//! The collector's Kafka producer flags, named as Jaeger v1 names them
//! (`--kafka.producer.*`), and their translation into librdkafka properties.

use std::time::Duration;

use clap::ValueEnum;
use sextant_model::go_duration::parse_flag;
use sextant_model::kafka::Encoding;

use super::client::ProducerConnectionArgs;

/// `--kafka.producer.encoding` / `--kafka.consumer.encoding`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum MessageEncoding {
    /// Jaeger's api_v2 `model.Span` protobuf, process included (Jaeger's default).
    #[default]
    Protobuf,
    /// The same message as protobuf JSON (Go jsonpb).
    Json,
    /// A thrift list of Zipkin v1 spans (consume only, as Jaeger's ingester reads it).
    #[value(name = "zipkin-thrift")]
    ZipkinThrift,
}

impl From<MessageEncoding> for Encoding {
    fn from(e: MessageEncoding) -> Encoding {
        match e {
            MessageEncoding::Protobuf => Encoding::Protobuf,
            MessageEncoding::Json => Encoding::Json,
            MessageEncoding::ZipkinThrift => Encoding::ZipkinThrift,
        }
    }
}

/// `--kafka.producer.required-acks`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum RequiredAcks {
    /// Fire and forget: the broker does not answer (spans can be lost).
    Noack,
    /// The partition leader wrote the message (Jaeger's default).
    #[default]
    Local,
    /// Every in-sync replica wrote the message.
    All,
}

/// `--kafka.producer.compression`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// Flags of the `kafka` span storage (`SPAN_STORAGE_TYPE=kafka`, collector only).
#[derive(Clone, Debug, clap::Args)]
pub struct KafkaProducerArgs {
    #[command(flatten)]
    pub connection: ProducerConnectionArgs,

    /// Topic the spans are written to.
    #[arg(
        id = "kafka.producer.topic",
        long = "kafka.producer.topic",
        env = "KAFKA_PRODUCER_TOPIC",
        default_value = "jaeger-spans"
    )]
    pub topic: String,

    /// Message encoding: protobuf or json (Jaeger's ingester reads both).
    #[arg(
        id = "kafka.producer.encoding",
        long = "kafka.producer.encoding",
        env = "KAFKA_PRODUCER_ENCODING",
        value_enum,
        default_value = "protobuf"
    )]
    pub encoding: MessageEncoding,

    /// Which acknowledgement the broker gives before a write counts as done: noack, local
    /// (the leader), all (every in-sync replica).
    #[arg(
        id = "kafka.producer.required-acks",
        long = "kafka.producer.required-acks",
        env = "KAFKA_PRODUCER_REQUIRED_ACKS",
        value_enum,
        default_value = "local"
    )]
    pub required_acks: RequiredAcks,

    /// Message compression: none, gzip, snappy, lz4, zstd.
    #[arg(
        id = "kafka.producer.compression",
        long = "kafka.producer.compression",
        env = "KAFKA_PRODUCER_COMPRESSION",
        value_enum,
        default_value = "none"
    )]
    pub compression: Compression,

    /// Compression level (gzip 1–9, lz4 1–12, zstd 1–22); 0 means the codec's default.
    #[arg(
        id = "kafka.producer.compression-level",
        long = "kafka.producer.compression-level",
        env = "KAFKA_PRODUCER_COMPRESSION_LEVEL",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub compression_level: i32,

    /// Largest batch per partition in bytes; 0 keeps librdkafka's default (1 MB).
    #[arg(
        id = "kafka.producer.batch-size",
        long = "kafka.producer.batch-size",
        env = "KAFKA_PRODUCER_BATCH_SIZE",
        default_value_t = 0
    )]
    pub batch_size: u64,

    /// How long to wait for more messages before sending a batch (Go duration); 0 keeps
    /// librdkafka's default (5ms).
    #[arg(
        id = "kafka.producer.batch-linger",
        long = "kafka.producer.batch-linger",
        env = "KAFKA_PRODUCER_BATCH_LINGER",
        default_value = "0s",
        value_parser = parse_flag
    )]
    pub batch_linger: Duration,

    /// Most messages in one batch; 0 keeps librdkafka's default (10000).
    #[arg(
        id = "kafka.producer.batch-max-messages",
        long = "kafka.producer.batch-max-messages",
        env = "KAFKA_PRODUCER_BATCH_MAX_MESSAGES",
        default_value_t = 0
    )]
    pub batch_max_messages: u64,

    /// Largest message the producer sends, in bytes (larger spans are refused and counted).
    #[arg(
        id = "kafka.producer.max-message-bytes",
        long = "kafka.producer.max-message-bytes",
        env = "KAFKA_PRODUCER_MAX_MESSAGE_BYTES",
        default_value_t = 1_000_000
    )]
    pub max_message_bytes: u64,

    /// Idempotent producer: retries never duplicate or reorder messages (forces acks=all).
    #[arg(
        id = "kafka.producer.idempotent",
        long = "kafka.producer.idempotent",
        env = "KAFKA_PRODUCER_IDEMPOTENT",
        default_value_t = false,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub idempotent: bool,

    /// How long a span may wait for the broker's acknowledgement before its batch fails
    /// (the client is told to retry). Sextant-specific.
    #[arg(
        id = "kafka.producer.delivery-timeout",
        long = "kafka.producer.delivery-timeout",
        env = "KAFKA_PRODUCER_DELIVERY_TIMEOUT",
        default_value = "30s",
        value_parser = parse_flag
    )]
    pub delivery_timeout: Duration,

    /// Most spans waiting in the producer's queue; beyond that a batch is refused as
    /// overloaded (retryable) instead of growing memory. Sextant-specific.
    #[arg(
        id = "kafka.producer.queue-max-messages",
        long = "kafka.producer.queue-max-messages",
        env = "KAFKA_PRODUCER_QUEUE_MAX_MESSAGES",
        default_value_t = 100_000
    )]
    pub queue_max_messages: u64,
}

impl Default for KafkaProducerArgs {
    fn default() -> Self {
        KafkaProducerArgs {
            connection: ProducerConnectionArgs::default(),
            topic: "jaeger-spans".into(),
            encoding: MessageEncoding::Protobuf,
            required_acks: RequiredAcks::Local,
            compression: Compression::None,
            compression_level: 0,
            batch_size: 0,
            batch_linger: Duration::ZERO,
            batch_max_messages: 0,
            max_message_bytes: 1_000_000,
            idempotent: false,
            delivery_timeout: Duration::from_secs(30),
            queue_max_messages: 100_000,
        }
    }
}

impl KafkaProducerArgs {
    /// Every librdkafka property these flags set, or why they cannot work together.
    pub fn properties(&self) -> Result<Vec<(&'static str, String)>, String> {
        if self.topic.trim().is_empty() {
            return Err("--kafka.producer.topic is empty".into());
        }
        if self.encoding == MessageEncoding::ZipkinThrift {
            return Err(
                "--kafka.producer.encoding=zipkin-thrift is consume-only; use protobuf or json"
                    .into(),
            );
        }
        let mut props = self
            .connection
            .connection()
            .properties(ProducerConnectionArgs::PREFIX)?;
        let acks = match self.required_acks {
            RequiredAcks::Noack => "0",
            RequiredAcks::Local => "1",
            RequiredAcks::All => "all",
        };
        if self.idempotent && self.required_acks != RequiredAcks::All {
            return Err(
                "--kafka.producer.idempotent needs --kafka.producer.required-acks=all".into(),
            );
        }
        props.push(("acks", acks.into()));
        props.push(("enable.idempotence", self.idempotent.to_string()));
        let codec = match self.compression {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        };
        props.push(("compression.codec", codec.into()));
        if self.compression_level != 0 {
            props.push(("compression.level", self.compression_level.to_string()));
        }
        if self.batch_size > 0 {
            props.push(("batch.size", self.batch_size.to_string()));
        }
        if !self.batch_linger.is_zero() {
            props.push(("linger.ms", self.batch_linger.as_millis().to_string()));
        }
        if self.batch_max_messages > 0 {
            props.push(("batch.num.messages", self.batch_max_messages.to_string()));
        }
        props.push(("message.max.bytes", self.max_message_bytes.to_string()));
        props.push((
            "message.timeout.ms",
            self.delivery_timeout.as_millis().max(1).to_string(),
        ));
        props.push((
            "queue.buffering.max.messages",
            self.queue_max_messages.max(1).to_string(),
        ));
        Ok(props)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        kafka: KafkaProducerArgs,
    }

    #[test]
    fn jaeger_flags_become_librdkafka_properties() {
        let cli = Cli::try_parse_from([
            "x",
            "--kafka.producer.brokers=k1:9092,k2:9092",
            "--kafka.producer.topic=spans",
            "--kafka.producer.encoding=json",
            "--kafka.producer.required-acks=all",
            "--kafka.producer.compression=zstd",
            "--kafka.producer.compression-level=5",
            "--kafka.producer.batch-linger=20ms",
            "--kafka.producer.batch-max-messages=500",
            "--kafka.producer.idempotent",
        ])
        .unwrap();
        let props: std::collections::HashMap<_, _> =
            cli.kafka.properties().unwrap().into_iter().collect();
        assert_eq!(props["bootstrap.servers"], "k1:9092,k2:9092");
        assert_eq!(props["acks"], "all");
        assert_eq!(props["compression.codec"], "zstd");
        assert_eq!(props["compression.level"], "5");
        assert_eq!(props["linger.ms"], "20");
        assert_eq!(props["batch.num.messages"], "500");
        assert_eq!(props["enable.idempotence"], "true");
        assert_eq!(cli.kafka.encoding, MessageEncoding::Json);
        assert_eq!(cli.kafka.topic, "spans");
    }

    #[test]
    fn defaults_match_jaeger() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.kafka.topic, "jaeger-spans");
        assert_eq!(cli.kafka.encoding, MessageEncoding::Protobuf);
        assert_eq!(cli.kafka.required_acks, RequiredAcks::Local);
        assert_eq!(cli.kafka.connection.brokers, "127.0.0.1:9092");
        let props: std::collections::HashMap<_, _> =
            cli.kafka.properties().unwrap().into_iter().collect();
        assert_eq!(props["acks"], "1");
        assert_eq!(props["compression.codec"], "none");
        assert!(!props.contains_key("linger.ms"));
    }

    #[test]
    fn refuses_inconsistent_settings() {
        let idempotent_local = Cli::try_parse_from(["x", "--kafka.producer.idempotent"]).unwrap();
        assert!(idempotent_local.kafka.properties().is_err());
        let zipkin = Cli::try_parse_from(["x", "--kafka.producer.encoding=zipkin-thrift"]).unwrap();
        assert!(zipkin.kafka.properties().is_err());
    }
}
