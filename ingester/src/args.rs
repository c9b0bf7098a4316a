//! The ingester's flags, named as Jaeger v1 names them (`--kafka.consumer.*`,
//! `--ingester.*`).

use std::time::Duration;

use sextant_model::go_duration::parse_flag;
use sextant_storage::kafka::client::ConsumerConnectionArgs;
use sextant_storage::kafka::MessageEncoding;

#[derive(Clone, Debug, clap::Args)]
pub struct IngesterArgs {
    #[command(flatten)]
    pub connection: ConsumerConnectionArgs,

    /// Topic the spans are read from.
    #[arg(
        id = "kafka.consumer.topic",
        long = "kafka.consumer.topic",
        env = "KAFKA_CONSUMER_TOPIC",
        default_value = "jaeger-spans"
    )]
    pub topic: String,

    /// Consumer group: ingesters sharing it split the topic's partitions between them.
    #[arg(
        id = "kafka.consumer.group-id",
        long = "kafka.consumer.group-id",
        env = "KAFKA_CONSUMER_GROUP_ID",
        default_value = "jaeger-ingester"
    )]
    pub group_id: String,

    /// Client ID the brokers see (logs, quotas).
    #[arg(
        id = "kafka.consumer.client-id",
        long = "kafka.consumer.client-id",
        env = "KAFKA_CONSUMER_CLIENT_ID",
        default_value = "jaeger-ingester"
    )]
    pub client_id: String,

    /// Message encoding: protobuf, json or zipkin-thrift.
    #[arg(
        id = "kafka.consumer.encoding",
        long = "kafka.consumer.encoding",
        env = "KAFKA_CONSUMER_ENCODING",
        value_enum,
        default_value = "protobuf"
    )]
    pub encoding: MessageEncoding,

    /// Rack of this ingester, to fetch from the closest replica (KIP-392); empty: none.
    #[arg(
        id = "kafka.consumer.rack-id",
        long = "kafka.consumer.rack-id",
        env = "KAFKA_CONSUMER_RACK_ID",
        default_value = ""
    )]
    pub rack_id: String,

    /// Largest message fetched, in bytes.
    #[arg(
        id = "kafka.consumer.fetch-max-message-bytes",
        long = "kafka.consumer.fetch-max-message-bytes",
        env = "KAFKA_CONSUMER_FETCH_MAX_MESSAGE_BYTES",
        default_value_t = 1_048_576
    )]
    pub fetch_max_message_bytes: u64,

    /// Longest time the broker may hold a fetch request that finds no new message
    /// (librdkafka's `fetch.wait.max.ms`; Jaeger's Sarama consumer waits 250ms): the most a
    /// new message waits before it is fetched. librdkafka's default, 500ms, made the
    /// ingester drain a filled topic ~4× slower from a tansu broker (docs/benchmarks.md);
    /// at most 5m.
    #[arg(
        id = "kafka.consumer.fetch-max-wait",
        long = "kafka.consumer.fetch-max-wait",
        env = "KAFKA_CONSUMER_FETCH_MAX_WAIT",
        default_value = "50ms",
        value_parser = parse_flag
    )]
    pub fetch_max_wait: Duration,

    /// Most messages being written to storage at once (read but not yet committed).
    #[arg(
        id = "ingester.parallelism",
        long = "ingester.parallelism",
        env = "INGESTER_PARALLELISM",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub parallelism: u32,

    /// Exit (non-zero) when no message was written for this long while messages are waiting,
    /// so that an orchestrator restarts a stuck ingester; 0 disables the check.
    #[arg(
        id = "ingester.deadlockInterval",
        long = "ingester.deadlockInterval",
        env = "INGESTER_DEADLOCKINTERVAL",
        default_value = "0s",
        value_parser = parse_flag
    )]
    pub deadlock_interval: Duration,
}

impl Default for IngesterArgs {
    fn default() -> Self {
        IngesterArgs {
            connection: ConsumerConnectionArgs::default(),
            topic: "jaeger-spans".into(),
            group_id: "jaeger-ingester".into(),
            client_id: "jaeger-ingester".into(),
            encoding: MessageEncoding::Protobuf,
            rack_id: String::new(),
            fetch_max_message_bytes: 1_048_576,
            fetch_max_wait: Duration::from_millis(50),
            parallelism: 1000,
            deadlock_interval: Duration::ZERO,
        }
    }
}

impl IngesterArgs {
    /// The librdkafka consumer properties, or why the flags cannot work.
    pub fn properties(&self) -> Result<Vec<(&'static str, String)>, String> {
        if self.topic.trim().is_empty() {
            return Err("--kafka.consumer.topic is empty".into());
        }
        if self.group_id.trim().is_empty() {
            return Err("--kafka.consumer.group-id is empty".into());
        }
        // librdkafka accepts 0..=300000 ms.
        let fetch_wait_ms = self.fetch_max_wait.as_millis();
        if fetch_wait_ms > 300_000 {
            return Err(format!(
                "--kafka.consumer.fetch-max-wait={:?} is above librdkafka's limit of 5m",
                self.fetch_max_wait
            ));
        }
        let mut props = self
            .connection
            .connection()
            .properties(ConsumerConnectionArgs::PREFIX)?;
        props.extend([
            ("group.id", self.group_id.clone()),
            ("client.id", self.client_id.clone()),
            // Offsets are committed by hand, only after the spans are stored.
            ("enable.auto.commit", "false".into()),
            ("enable.auto.offset.store", "false".into()),
            // A new group starts from the oldest message: nothing already buffered is skipped.
            ("auto.offset.reset", "earliest".into()),
            (
                "fetch.message.max.bytes",
                self.fetch_max_message_bytes.to_string(),
            ),
            ("fetch.wait.max.ms", fetch_wait_ms.to_string()),
            // Lag by partition, for metrics and the deadlock check.
            ("statistics.interval.ms", "1000".into()),
        ]);
        if !self.rack_id.is_empty() {
            props.push(("client.rack", self.rack_id.clone()));
        }
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
        ingester: IngesterArgs,
    }

    #[test]
    fn jaeger_flag_names_and_defaults() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.ingester.topic, "jaeger-spans");
        assert_eq!(cli.ingester.group_id, "jaeger-ingester");
        assert_eq!(cli.ingester.parallelism, 1000);
        assert_eq!(cli.ingester.deadlock_interval, Duration::ZERO);
        let cli = Cli::try_parse_from([
            "x",
            "--kafka.consumer.brokers=k:9092",
            "--kafka.consumer.group-id=g",
            "--kafka.consumer.encoding=json",
            "--ingester.parallelism=10",
            "--ingester.deadlockInterval=1m",
        ])
        .unwrap();
        assert_eq!(cli.ingester.encoding, MessageEncoding::Json);
        assert_eq!(cli.ingester.deadlock_interval, Duration::from_secs(60));
        let props: std::collections::HashMap<_, _> =
            cli.ingester.properties().unwrap().into_iter().collect();
        assert_eq!(props["bootstrap.servers"], "k:9092");
        assert_eq!(props["group.id"], "g");
        assert_eq!(props["enable.auto.commit"], "false");
        assert_eq!(props["fetch.wait.max.ms"], "50");
        let cli = Cli::try_parse_from(["x", "--kafka.consumer.fetch-max-wait=250ms"]).unwrap();
        let props: std::collections::HashMap<_, _> =
            cli.ingester.properties().unwrap().into_iter().collect();
        assert_eq!(props["fetch.wait.max.ms"], "250");
        let cli = Cli::try_parse_from(["x", "--kafka.consumer.fetch-max-wait=6m"]).unwrap();
        assert!(cli
            .ingester
            .properties()
            .unwrap_err()
            .contains("fetch-max-wait"));
        assert!(Cli::try_parse_from(["x", "--ingester.parallelism=0"]).is_err());
    }
}
