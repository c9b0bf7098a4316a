//! Turns the [`Topology`] into traces. Trace `i` of seed `s` is a pure function of
//! `(s, i)` and the end time the caller gives, so any number of workers drawing indexes
//! from one counter send the same set of traces, and tests can compare runs.
//!
//! A trace is built in three passes: the tree of spans (with attributes, errors and
//! events), then durations bottom-up (own time + children, sequential or parallel), then
//! start times top-down, ending at the requested time.

use std::sync::Arc;

use sextant_model::{
    AnyValue, Event, KeyValue, Resource, Scope, Span, SpanId, SpanKind, Status, StatusCode, TraceId,
};

use crate::rng::Rng;
use crate::topology::{Call, Endpoint, Protocol, Service, Topology};

/// Smallest and largest trace the generator produces.
pub const MIN_SPANS: usize = 10;
pub const MAX_SPANS: usize = 200;

const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "python-requests/2.32.3",
];
const CARD_TYPES: [&str; 3] = ["visa", "mastercard", "amex"];
const CURRENCIES: [&str; 5] = ["USD", "EUR", "GBP", "JPY", "CAD"];

/// Deterministic trace source over one topology.
pub struct Generator {
    topology: Topology,
    seed: u64,
    root_weight: u64,
}

/// How a group of children is scheduled inside (or after) their parent.
#[derive(Clone, Copy, PartialEq)]
enum Timing {
    Sequential,
    Parallel,
    /// Starts after the parent ends (a message consumed later); not part of its duration.
    After,
}

struct Node {
    span: Span,
    /// Own time; half of it runs before the children (a client's network hop, a server's
    /// request parsing), half after.
    self_ns: u64,
    groups: Vec<(Timing, Vec<usize>)>,
    /// Event times as thousandths of the span's duration until times are known.
    event_permille: Vec<u64>,
    duration: u64,
}

/// Per-trace values that several spans repeat (as real requests do).
struct TraceCtx {
    user: u64,
    order: u64,
    currency: &'static str,
}

struct Builder<'a> {
    topo: &'a Topology,
    rng: Rng,
    trace_id: TraceId,
    nodes: Vec<Node>,
    max: usize,
    ctx: TraceCtx,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        let topology = Topology::shop();
        let root_weight = topology.roots.iter().map(|r| u64::from(r.2)).sum();
        Generator {
            topology,
            seed,
            root_weight,
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Trace number `index`, its root span ending at `end_unix_nanos`.
    pub fn trace(&self, index: u64, end_unix_nanos: u64) -> Vec<Span> {
        let mut rng = Rng::for_item(self.seed, index);
        let trace_id = TraceId(u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64() | 1));
        // Trace sizes: mostly small, some wide; the cap keeps them ≤ MAX_SPANS.
        let max = if rng.chance(0.1) {
            MAX_SPANS
        } else {
            rng.range(MIN_SPANS as u64 + 10, 80) as usize
        };
        let ctx = TraceCtx {
            user: rng.below(50_000),
            order: rng.next_u64(),
            currency: rng.pick(&CURRENCIES).copied().unwrap_or("USD"),
        };
        let mut b = Builder {
            topo: &self.topology,
            rng,
            trace_id,
            nodes: Vec::with_capacity(max),
            max,
            ctx,
        };
        let mut pick = b.rng.below(self.root_weight);
        let (mut svc, mut ep) = (0, 0);
        for &(s, e, w) in &self.topology.roots {
            if pick < u64::from(w) {
                (svc, ep) = (s, e);
                break;
            }
            pick -= u64::from(w);
        }
        b.serve(svc, ep, SpanId(0), None);
        b.pad();
        b.finish(end_unix_nanos)
    }
}

fn kv(key: &str, value: impl Into<AnyValue>) -> KeyValue {
    KeyValue::new(key, value)
}

fn fill_route(route: &str, id: &str) -> String {
    route.replace("{id}", id)
}

impl Builder<'_> {
    fn full(&self) -> bool {
        self.nodes.len() >= self.max
    }

    fn new_span(
        &mut self,
        parent: SpanId,
        name: String,
        kind: SpanKind,
        (resource, scope): (Arc<Resource>, Arc<Scope>),
        attributes: Vec<KeyValue>,
        self_us: f64,
    ) -> usize {
        let span = Span {
            trace_id: self.trace_id,
            span_id: SpanId(self.rng.next_u64() | 1),
            parent_span_id: parent,
            name,
            kind,
            attributes,
            flags: 1,
            resource,
            scope,
            ..Span::default()
        };
        let self_ns = (self.rng.long_tail(self_us) * 1000.0).clamp(1_000.0, 5e9) as u64;
        self.nodes.push(Node {
            span,
            self_ns,
            groups: Vec::new(),
            event_permille: Vec::new(),
            duration: 0,
        });
        self.nodes.len() - 1
    }

    fn instance(&mut self, svc: usize) -> Arc<Resource> {
        let s = &self.topo.services[svc];
        let i = self.rng.below(s.instances.len() as u64) as usize;
        s.instances.get(i).cloned().unwrap_or_default()
    }

    fn product_id(&mut self) -> String {
        format!("P{:05}", self.rng.below(2_000))
    }

    fn add_child(&mut self, parent: usize, timing: Timing, child: usize) {
        let groups = &mut self.nodes[parent].groups;
        match groups.last_mut() {
            Some((t, list)) if *t == timing && timing != Timing::Sequential => list.push(child),
            _ => groups.push((timing, vec![child])),
        }
    }

    fn event(&mut self, node: usize, name: &str, attributes: Vec<KeyValue>) {
        let permille = self.rng.range(50, 950);
        let n = &mut self.nodes[node];
        n.span.events.push(Event {
            name: name.to_string(),
            attributes,
            ..Event::default()
        });
        n.event_permille.push(permille);
    }

    fn fail(&mut self, node: usize, message: String, exception: &str) {
        let stack = format!(
            "{exception}: {message}\n    at handler ({}/src/handler:{})\n    at process (server:212)\n    at main (main:31)",
            self.nodes[node].span.service_name(),
            self.rng.range(20, 400)
        );
        self.event(
            node,
            "exception",
            vec![
                kv("exception.type", exception),
                kv("exception.message", message.clone()),
                kv("exception.stacktrace", stack),
            ],
        );
        self.nodes[node].span.status = Status {
            code: StatusCode::Error,
            message,
        };
    }

    /// Emits the server (or consumer) span of `svc`/`ep` and everything below it; returns
    /// the span and whether it failed.
    fn serve(
        &mut self,
        svc: usize,
        ep: usize,
        parent: SpanId,
        via: Option<usize>,
    ) -> Option<(usize, bool)> {
        if self.full() {
            return None;
        }
        let topo = self.topo;
        let service: &Service = &topo.services[svc];
        let endpoint: &Endpoint = service.endpoints.get(ep)?;
        let resource = self.instance(svc);
        let failed = self.rng.chance(endpoint.error_rate);
        let (kind, scope, mut attrs) = match &endpoint.protocol {
            Protocol::Http { method, route } => {
                let id = self.product_id();
                let mut a = vec![
                    kv("http.request.method", *method),
                    kv("http.route", *route),
                    kv("url.path", fill_route(route, &id)),
                    kv("url.scheme", "http"),
                    kv("server.address", service.name),
                    kv("server.port", service.port),
                    kv("network.protocol.version", "1.1"),
                    kv(
                        "client.address",
                        format!("10.42.{}.{}", self.rng.below(8), self.rng.range(2, 250)),
                    ),
                    kv(
                        "http.response.status_code",
                        if failed { 500i64 } else { 200 },
                    ),
                ];
                if via.is_none() {
                    let ua = self.rng.pick(&USER_AGENTS).copied().unwrap_or_default();
                    a.push(kv("user_agent.original", ua));
                    a.push(kv("app.user.id", format!("u-{:07}", self.ctx.user)));
                    a.push(kv("app.currency", self.ctx.currency));
                }
                (SpanKind::Server, service.scopes.http.clone(), a)
            }
            Protocol::Grpc {
                service: rpc,
                method,
            } => (
                SpanKind::Server,
                service.scopes.grpc.clone(),
                vec![
                    kv("rpc.system", "grpc"),
                    kv("rpc.service", *rpc),
                    kv("rpc.method", *method),
                    kv("rpc.grpc.status_code", if failed { 13i64 } else { 0 }),
                    kv(
                        "network.peer.address",
                        format!("10.42.{}.{}", self.rng.below(8), self.rng.range(2, 250)),
                    ),
                    kv("network.peer.port", self.rng.range(30_000, 60_000) as i64),
                ],
            ),
            Protocol::Consumer { topic } => (
                SpanKind::Consumer,
                service.scopes.kafka.clone(),
                vec![
                    kv("messaging.system", "kafka"),
                    kv("messaging.destination.name", *topic),
                    kv("messaging.operation.type", "process"),
                    kv("messaging.operation.name", "poll"),
                    kv("messaging.consumer.group.name", service.name),
                    kv(
                        "messaging.destination.partition.id",
                        self.rng.below(6).to_string(),
                    ),
                    kv("messaging.kafka.offset", self.rng.below(1 << 40) as i64),
                    kv(
                        "messaging.kafka.message.key",
                        format!("{:016x}", self.ctx.order),
                    ),
                ],
            ),
        };
        if service.name == "checkout" {
            attrs.push(kv("app.order.id", format!("{:016x}", self.ctx.order)));
            attrs.push(kv("app.order.items", self.rng.range(1, 9) as i64));
        }
        let node = self.new_span(
            parent,
            endpoint.operation(),
            kind,
            (resource.clone(), scope),
            attrs,
            endpoint.self_us,
        );
        if let Some(client) = via {
            self.add_child(client, Timing::Sequential, node);
        }
        let span_id = self.nodes[node].span.span_id;
        let mut child_failed = false;
        for step in &endpoint.steps {
            if !self.rng.chance(step.probability) {
                continue;
            }
            let times = self.rng.range(u64::from(step.min), u64::from(step.max));
            let timing = if step.parallel {
                Timing::Parallel
            } else {
                Timing::Sequential
            };
            for _ in 0..times {
                if self.full() {
                    break;
                }
                if let Some(f) = self.call(svc, &resource, node, span_id, &step.call, timing) {
                    child_failed |= f;
                }
            }
        }
        if service.name == "checkout" {
            let order = format!("{:016x}", self.ctx.order);
            self.event(node, "order placed", vec![kv("app.order.id", order)]);
        }
        if self.rng.chance(0.05) {
            self.event(
                node,
                "log",
                vec![
                    kv("level", "warn"),
                    kv(
                        "message",
                        "slow downstream response, consider raising the timeout",
                    ),
                ],
            );
        }
        let failed = failed || (child_failed && self.rng.chance(0.3));
        if failed {
            let message = format!("{} failed: internal error", endpoint.operation());
            self.fail(node, message, "ServiceUnavailableError");
            if matches!(endpoint.protocol, Protocol::Http { .. }) {
                set_int(
                    &mut self.nodes[node].span.attributes,
                    "http.response.status_code",
                    500,
                );
            }
        }
        Some((node, failed))
    }

    /// One downstream step from `parent` (a span of service `svc`); returns whether it failed.
    fn call(
        &mut self,
        svc: usize,
        resource: &Arc<Resource>,
        parent: usize,
        parent_id: SpanId,
        call: &Call,
        timing: Timing,
    ) -> Option<bool> {
        let topo = self.topo;
        let service = &topo.services[svc];
        let scopes = &service.scopes;
        let res = resource.clone();
        match call {
            Call::Remote {
                service: target,
                endpoint,
            } => {
                let callee = topo.services.get(*target)?;
                let ep = callee.endpoints.get(*endpoint)?;
                let (name, scope, attrs) = match &ep.protocol {
                    Protocol::Http { method, route } => {
                        let id = self.product_id();
                        (
                            (*method).to_string(),
                            scopes.http.clone(),
                            vec![
                                kv("http.request.method", *method),
                                kv(
                                    "url.full",
                                    format!(
                                        "http://{}:{}{}",
                                        callee.name,
                                        callee.port,
                                        fill_route(route, &id)
                                    ),
                                ),
                                kv("server.address", callee.name),
                                kv("server.port", callee.port),
                                kv("http.response.status_code", 200i64),
                            ],
                        )
                    }
                    Protocol::Grpc {
                        service: rpc,
                        method,
                    } => (
                        format!("{rpc}/{method}"),
                        scopes.grpc.clone(),
                        vec![
                            kv("rpc.system", "grpc"),
                            kv("rpc.service", *rpc),
                            kv("rpc.method", *method),
                            kv("server.address", callee.name),
                            kv("server.port", callee.port),
                            kv("rpc.grpc.status_code", 0i64),
                        ],
                    ),
                    Protocol::Consumer { .. } => return None,
                };
                let client = self.new_span(
                    parent_id,
                    name,
                    SpanKind::Client,
                    (res, scope),
                    attrs,
                    150.0,
                );
                self.add_child(parent, timing, client);
                if self.rng.chance(0.02) {
                    self.event(
                        client,
                        "retry",
                        vec![kv("retry.attempt", 1i64), kv("error.type", "timeout")],
                    );
                }
                let client_id = self.nodes[client].span.span_id;
                let failed = match self.serve(*target, *endpoint, client_id, Some(client)) {
                    Some((_, f)) => f,
                    None => false,
                };
                if failed {
                    let span = &mut self.nodes[client].span;
                    set_int(&mut span.attributes, "http.response.status_code", 500);
                    set_int(&mut span.attributes, "rpc.grpc.status_code", 13);
                    span.attributes.push(kv("error.type", "500"));
                    span.status = Status {
                        code: StatusCode::Error,
                        message: String::new(),
                    };
                }
                Some(failed)
            }
            Call::External { host, method, path } => {
                let failed = self.rng.chance(0.02);
                let attrs = vec![
                    kv("http.request.method", *method),
                    kv("url.full", format!("https://{host}{path}")),
                    kv("server.address", *host),
                    kv("server.port", 443i64),
                    kv(
                        "http.response.status_code",
                        if failed { 503i64 } else { 201 },
                    ),
                ];
                let n = self.new_span(
                    parent_id,
                    (*method).to_string(),
                    SpanKind::Client,
                    (res, scopes.http.clone()),
                    attrs,
                    25_000.0,
                );
                self.add_child(parent, timing, n);
                if failed {
                    self.fail(n, format!("{host} returned 503"), "HttpError");
                } else {
                    let card = self.rng.pick(&CARD_TYPES).copied().unwrap_or("visa");
                    let amount = self.rng.range(500, 50_000) as f64 / 100.0;
                    self.event(
                        n,
                        "charge authorized",
                        vec![
                            kv("app.payment.card_type", card),
                            kv("app.payment.amount", amount),
                        ],
                    );
                }
                Some(failed)
            }
            Call::Sql {
                operation,
                table,
                query,
            } => {
                let attrs = vec![
                    kv("db.system", "postgresql"),
                    kv("db.namespace", "shop"),
                    kv("db.operation.name", *operation),
                    kv("db.collection.name", *table),
                    kv("db.query.text", *query),
                    kv("server.address", "postgres"),
                    kv("server.port", 5432i64),
                ];
                let n = self.new_span(
                    parent_id,
                    format!("{operation} shop.{table}"),
                    SpanKind::Client,
                    (res, scopes.sql.clone()),
                    attrs,
                    900.0,
                );
                self.add_child(parent, timing, n);
                let failed = self.rng.chance(0.002);
                if failed {
                    self.fail(
                        n,
                        "canceling statement due to statement timeout".into(),
                        "QueryCanceled",
                    );
                }
                Some(failed)
            }
            Call::Redis {
                command,
                key_prefix,
            } => {
                let key = match *key_prefix {
                    "product:" => self.product_id(),
                    _ => format!("{}", self.ctx.user),
                };
                let attrs = vec![
                    kv("db.system", "redis"),
                    kv("db.namespace", "0"),
                    kv("db.operation.name", *command),
                    kv("db.query.text", format!("{command} {key_prefix}{key}")),
                    kv("server.address", "redis"),
                    kv("server.port", 6379i64),
                ];
                let n = self.new_span(
                    parent_id,
                    (*command).to_string(),
                    SpanKind::Client,
                    (res, scopes.redis.clone()),
                    attrs,
                    180.0,
                );
                self.add_child(parent, timing, n);
                if *command == "GET" && self.rng.chance(0.3) {
                    self.event(
                        n,
                        "cache miss",
                        vec![kv("cache.key", format!("{key_prefix}{key}"))],
                    );
                }
                Some(false)
            }
            Call::Publish { topic } => {
                let attrs = vec![
                    kv("messaging.system", "kafka"),
                    kv("messaging.destination.name", *topic),
                    kv("messaging.operation.type", "publish"),
                    kv("messaging.operation.name", "send"),
                    kv(
                        "messaging.kafka.message.key",
                        format!("{:016x}", self.ctx.order),
                    ),
                    kv("server.address", "kafka"),
                    kv("server.port", 9092i64),
                ];
                let n = self.new_span(
                    parent_id,
                    format!("{topic} publish"),
                    SpanKind::Producer,
                    (res, scopes.kafka.clone()),
                    attrs,
                    400.0,
                );
                self.add_child(parent, timing, n);
                let producer_id = self.nodes[n].span.span_id;
                for (s, e) in topo.consumers(topic) {
                    if let Some((c, _)) = self.serve(s, e, producer_id, None) {
                        self.add_child(n, Timing::After, c);
                    }
                }
                Some(false)
            }
            Call::Internal { name } => {
                let attrs = vec![
                    kv("code.function.name", name.replace(' ', "_")),
                    kv("code.namespace", service.name),
                ];
                let n = self.new_span(
                    parent_id,
                    (*name).to_string(),
                    SpanKind::Internal,
                    (res, scopes.internal.clone()),
                    attrs,
                    700.0,
                );
                self.add_child(parent, timing, n);
                Some(false)
            }
        }
    }

    /// Adds middleware spans under the root until the trace has [`MIN_SPANS`].
    fn pad(&mut self) {
        let Some(root) = self.nodes.first() else {
            return;
        };
        let (root_id, resource, scope) = (
            root.span.span_id,
            root.span.resource.clone(),
            root.span.scope.clone(),
        );
        let mut i = 0;
        while self.nodes.len() < MIN_SPANS {
            i += 1;
            let attrs = vec![kv("code.function.name", format!("middleware_{i}"))];
            let n = self.new_span(
                root_id,
                format!("middleware {i}"),
                SpanKind::Internal,
                (resource.clone(), scope.clone()),
                attrs,
                60.0,
            );
            self.add_child(0, Timing::Sequential, n);
        }
    }

    fn finish(mut self, end: u64) -> Vec<Span> {
        // Children always come after their parent in `nodes`, so a reverse pass sees every
        // child's duration before its parent's.
        for i in (0..self.nodes.len()).rev() {
            let mut total = self.nodes[i].self_ns;
            for (timing, children) in &self.nodes[i].groups {
                let durs = children
                    .iter()
                    .filter_map(|&c| self.nodes.get(c))
                    .map(|c| c.duration);
                total += match timing {
                    Timing::Sequential => durs.sum(),
                    Timing::Parallel => durs.max().unwrap_or(0),
                    Timing::After => 0,
                };
            }
            self.nodes[i].duration = total;
        }
        let root_dur = self.nodes.first().map_or(0, |n| n.duration);
        let mut starts = vec![0u64; self.nodes.len()];
        if let Some(s) = starts.first_mut() {
            *s = end.saturating_sub(root_dur);
        }
        for i in 0..self.nodes.len() {
            let start = starts[i];
            let node = &self.nodes[i];
            let end_of = start + node.duration;
            let mut cursor = start + node.self_ns / 2;
            for (timing, children) in &node.groups {
                let mut longest = 0;
                for (k, &c) in children.iter().enumerate() {
                    let d = self.nodes.get(c).map_or(0, |n| n.duration);
                    match timing {
                        Timing::Sequential => {
                            starts[c] = cursor;
                            cursor += d;
                        }
                        Timing::Parallel => {
                            // Fan-out calls leave a few microseconds apart.
                            starts[c] = cursor + k as u64 * 15_000;
                            longest = longest.max(d + k as u64 * 15_000);
                        }
                        Timing::After => {
                            starts[c] = end_of + 2_000_000 + k as u64 * 500_000;
                        }
                    }
                }
                if *timing == Timing::Parallel {
                    cursor += longest;
                }
            }
        }
        // Parallel staggering may push a child a little past its parent: stretch the parent.
        for i in (0..self.nodes.len()).rev() {
            let mut end_i = starts[i] + self.nodes[i].duration;
            for (timing, children) in &self.nodes[i].groups {
                if *timing == Timing::After {
                    continue;
                }
                for &c in children {
                    end_i = end_i.max(starts[c] + self.nodes[c].duration + 1_000);
                }
            }
            self.nodes[i].duration = end_i - starts[i];
        }
        // …and shift the whole trace back so that the root still ends at `end`.
        let overshoot = match (starts.first(), self.nodes.first()) {
            (Some(s), Some(root)) => (s + root.duration).saturating_sub(end),
            _ => 0,
        };
        self.nodes
            .into_iter()
            .zip(starts.into_iter().map(|s| s.saturating_sub(overshoot)))
            .map(|(mut node, start)| {
                node.span.start_time_unix_nano = start;
                node.span.end_time_unix_nano = start + node.duration;
                for (e, p) in node.span.events.iter_mut().zip(node.event_permille) {
                    e.time_unix_nano = start + node.duration / 1000 * p;
                }
                node.span
            })
            .collect()
    }
}

fn set_int(attrs: &mut [KeyValue], key: &str, value: i64) {
    for a in attrs.iter_mut().filter(|a| a.key == key) {
        a.value = AnyValue::Int(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn deterministic_for_a_seed_and_different_across_seeds() {
        let (a, b, c) = (Generator::new(42), Generator::new(42), Generator::new(43));
        for i in 0..50 {
            assert_eq!(
                a.trace(i, 1_700_000_000_000_000_000),
                b.trace(i, 1_700_000_000_000_000_000)
            );
        }
        assert_ne!(a.trace(0, 1), c.trace(0, 1));
    }

    #[test]
    fn traces_are_well_formed_and_varied() {
        let g = Generator::new(1);
        let end = 1_700_000_000_000_000_000u64;
        let (mut sizes, mut services, mut kinds) = (Vec::new(), HashSet::new(), HashSet::new());
        let mut errors = 0;
        for i in 0..500 {
            let spans = g.trace(i, end);
            assert!(
                (MIN_SPANS..=MAX_SPANS).contains(&spans.len()),
                "{}",
                spans.len()
            );
            let ids: HashSet<_> = spans.iter().map(|s| s.span_id).collect();
            assert_eq!(ids.len(), spans.len(), "unique span IDs");
            assert_eq!(spans.iter().filter(|s| s.is_root()).count(), 1);
            for s in &spans {
                assert!(s.is_root() || ids.contains(&s.parent_span_id));
                assert!(s.end_time_unix_nano >= s.start_time_unix_nano);
                for e in &s.events {
                    assert!(
                        (s.start_time_unix_nano..=s.end_time_unix_nano).contains(&e.time_unix_nano)
                    );
                }
                services.insert(s.service_name().to_string());
                kinds.insert(s.kind);
                errors += usize::from(s.status.code == StatusCode::Error);
            }
            let root = spans.iter().find(|s| s.is_root()).unwrap();
            assert_eq!(root.end_time_unix_nano, end);
            sizes.push(spans.len());
        }
        assert!(services.len() >= 10, "{services:?}");
        assert_eq!(
            kinds.len(),
            5,
            "server, client, internal, producer, consumer"
        );
        assert!(errors > 0);
        assert!(sizes.iter().any(|&n| n > 100) && sizes.iter().any(|&n| n < 30));
    }
}
