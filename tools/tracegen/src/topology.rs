//! The simulated system: an online shop of 14 services calling each other over HTTP and
//! gRPC, using PostgreSQL, Redis and Kafka. [`Topology::shop`] builds it once; the trace
//! generator walks it.
//!
//! Each service has a few instances (distinct resources: pod, host, instance ID), each
//! endpoint a list of downstream calls with a repeat range (fan-out), an error rate and a
//! median latency, so traces vary in depth (up to 6 services deep), width and size.

use std::sync::Arc;

use sextant_model::{KeyValue, Resource, Scope};

/// How an endpoint is reached.
#[derive(Clone, Debug)]
pub enum Protocol {
    /// `method` + `route` (`/product/{id}`); the served URL fills in the parameters.
    Http {
        method: &'static str,
        route: &'static str,
    },
    /// `rpc.service` / `rpc.method`.
    Grpc {
        service: &'static str,
        method: &'static str,
    },
    /// A Kafka consumer of `topic`.
    Consumer { topic: &'static str },
}

/// One downstream step an endpoint takes.
#[derive(Clone, Debug)]
pub enum Call {
    /// Call endpoint `endpoint` of service `service` (indexes into the topology).
    Remote { service: usize, endpoint: usize },
    /// An HTTP call to a third party outside the traced system (client span only).
    External {
        host: &'static str,
        method: &'static str,
        path: &'static str,
    },
    Sql {
        operation: &'static str,
        table: &'static str,
        query: &'static str,
    },
    Redis {
        command: &'static str,
        key_prefix: &'static str,
    },
    /// Publish to `topic`; every consumer endpoint of that topic gets a consumer span.
    Publish { topic: &'static str },
    /// In-process work (an INTERNAL span).
    Internal { name: &'static str },
}

#[derive(Clone, Debug)]
pub struct Step {
    pub call: Call,
    /// The call is made between `min` and `max` times…
    pub min: u32,
    pub max: u32,
    /// …with this probability (else not at all).
    pub probability: f64,
    /// Repeated calls run concurrently (fan-out) rather than one after another.
    pub parallel: bool,
}

#[derive(Clone, Debug)]
pub struct Endpoint {
    pub protocol: Protocol,
    pub steps: Vec<Step>,
    pub error_rate: f64,
    /// Median of the endpoint's own latency (excluding children), microseconds.
    pub self_us: f64,
}

impl Endpoint {
    /// The span name OTel instrumentation gives the server side.
    pub fn operation(&self) -> String {
        match &self.protocol {
            Protocol::Http { method, route } => format!("{method} {route}"),
            Protocol::Grpc { service, method } => format!("{service}/{method}"),
            Protocol::Consumer { topic } => format!("{topic} process"),
        }
    }
}

#[derive(Debug)]
pub struct Service {
    pub name: &'static str,
    pub language: &'static str,
    pub port: i64,
    pub endpoints: Vec<Endpoint>,
    /// One resource per instance.
    pub instances: Vec<Arc<Resource>>,
    /// The instrumentation scopes of this service's language.
    pub scopes: Scopes,
}

#[derive(Debug)]
pub struct Scopes {
    pub http: Arc<Scope>,
    pub grpc: Arc<Scope>,
    pub sql: Arc<Scope>,
    pub redis: Arc<Scope>,
    pub kafka: Arc<Scope>,
    pub internal: Arc<Scope>,
}

#[derive(Debug)]
pub struct Topology {
    pub services: Vec<Service>,
    /// Entry points (service, endpoint) with their relative weights.
    pub roots: Vec<(usize, usize, u32)>,
}

// Service indexes.
const FRONTEND: usize = 0;
const AUTH: usize = 1;
const CART: usize = 2;
const CHECKOUT: usize = 3;
const PAYMENT: usize = 4;
const SHIPPING: usize = 5;
const CURRENCY: usize = 6;
const CATALOG: usize = 7;
const RECOMMEND: usize = 8;
const AD: usize = 9;
const EMAIL: usize = 10;
const INVENTORY: usize = 11;

fn once(call: Call) -> Step {
    Step {
        call,
        min: 1,
        max: 1,
        probability: 1.0,
        parallel: false,
    }
}

fn maybe(call: Call, probability: f64) -> Step {
    Step {
        probability,
        ..once(call)
    }
}

fn fan(call: Call, min: u32, max: u32) -> Step {
    Step {
        min,
        max,
        parallel: true,
        ..once(call)
    }
}

fn repeat(call: Call, min: u32, max: u32) -> Step {
    Step {
        min,
        max,
        ..once(call)
    }
}

fn remote(service: usize, endpoint: usize) -> Call {
    Call::Remote { service, endpoint }
}

fn http(method: &'static str, route: &'static str) -> Protocol {
    Protocol::Http { method, route }
}

fn grpc(service: &'static str, method: &'static str) -> Protocol {
    Protocol::Grpc { service, method }
}

fn sql(operation: &'static str, table: &'static str, query: &'static str) -> Call {
    Call::Sql {
        operation,
        table,
        query,
    }
}

fn redis(command: &'static str, key_prefix: &'static str) -> Call {
    Call::Redis {
        command,
        key_prefix,
    }
}

fn internal(name: &'static str) -> Call {
    Call::Internal { name }
}

fn ep(protocol: Protocol, self_us: f64, error_rate: f64, steps: Vec<Step>) -> Endpoint {
    Endpoint {
        protocol,
        steps,
        error_rate,
        self_us,
    }
}

fn scopes(language: &'static str) -> Scopes {
    let scope = |name: &str, version: &str| {
        Arc::new(Scope {
            name: name.to_string(),
            version: version.to_string(),
            ..Scope::default()
        })
    };
    match language {
        "go" => Scopes {
            http: scope(
                "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
                "0.53.0",
            ),
            grpc: scope(
                "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc",
                "0.53.0",
            ),
            sql: scope("github.com/XSAM/otelsql", "0.32.0"),
            redis: scope("github.com/redis/go-redis/extra/redisotel", "9.5.1"),
            kafka: scope("github.com/IBM/sarama/otelsarama", "0.53.0"),
            internal: scope("shop", "1.0.0"),
        },
        "java" => Scopes {
            http: scope("io.opentelemetry.tomcat-10.0", "2.6.0-alpha"),
            grpc: scope("io.opentelemetry.grpc-1.6", "2.6.0-alpha"),
            sql: scope("io.opentelemetry.jdbc", "2.6.0-alpha"),
            redis: scope("io.opentelemetry.lettuce-5.1", "2.6.0-alpha"),
            kafka: scope("io.opentelemetry.kafka-clients-2.6", "2.6.0-alpha"),
            internal: scope(
                "io.opentelemetry.opentelemetry-instrumentation-annotations-1.16",
                "2.6.0",
            ),
        },
        "python" => Scopes {
            http: scope("opentelemetry.instrumentation.flask", "0.47b0"),
            grpc: scope("opentelemetry.instrumentation.grpc", "0.47b0"),
            sql: scope("opentelemetry.instrumentation.psycopg2", "0.47b0"),
            redis: scope("opentelemetry.instrumentation.redis", "0.47b0"),
            kafka: scope("opentelemetry.instrumentation.kafka", "0.47b0"),
            internal: scope("shop", "1.0.0"),
        },
        _ => Scopes {
            http: scope("@opentelemetry/instrumentation-http", "0.52.1"),
            grpc: scope("@opentelemetry/instrumentation-grpc", "0.52.1"),
            sql: scope("@opentelemetry/instrumentation-pg", "0.43.0"),
            redis: scope("@opentelemetry/instrumentation-ioredis", "0.42.0"),
            kafka: scope("@opentelemetry/instrumentation-kafkajs", "0.2.0"),
            internal: scope("shop", "1.0.0"),
        },
    }
}

fn instances(name: &'static str, language: &'static str, count: u32) -> Vec<Arc<Resource>> {
    let sdk_language = match language {
        "node" => "nodejs",
        other => other,
    };
    (0..count)
        .map(|i| {
            let pod = format!("{name}-7d9f8b{i}c5d-x{i}q{}", i * 7 % 10);
            Arc::new(Resource {
                service_name: name.to_string(),
                attributes: vec![
                    KeyValue::new("service.version", "1.12.3"),
                    KeyValue::new("service.namespace", "shop"),
                    KeyValue::new("service.instance.id", format!("{pod}-{i:04}")),
                    KeyValue::new("deployment.environment.name", "production"),
                    KeyValue::new("host.name", format!("node-{}", (i + 3) % 5)),
                    KeyValue::new("k8s.namespace.name", "shop"),
                    KeyValue::new("k8s.pod.name", pod),
                    KeyValue::new("telemetry.sdk.name", "opentelemetry"),
                    KeyValue::new("telemetry.sdk.language", sdk_language),
                    KeyValue::new("telemetry.sdk.version", "1.27.0"),
                ],
                ..Resource::default()
            })
        })
        .collect()
}

fn service(
    name: &'static str,
    language: &'static str,
    port: i64,
    endpoints: Vec<Endpoint>,
) -> Service {
    Service {
        name,
        language,
        port,
        endpoints,
        instances: instances(name, language, 3),
        scopes: scopes(language),
    }
}

impl Topology {
    /// The online shop: 14 services, traces of 10–200 spans (the generator pads and cuts).
    pub fn shop() -> Topology {
        let services = vec![
            service(
                "frontend",
                "node",
                8080,
                vec![
                    // 0: home page
                    ep(
                        http("GET", "/"),
                        800.0,
                        0.005,
                        vec![
                            once(remote(AUTH, 0)),
                            once(remote(CATALOG, 0)),
                            once(remote(RECOMMEND, 0)),
                            once(remote(AD, 0)),
                            once(remote(CURRENCY, 0)),
                            fan(remote(CURRENCY, 1), 2, 6),
                            once(internal("render home")),
                        ],
                    ),
                    // 1: product page
                    ep(
                        http("GET", "/product/{id}"),
                        600.0,
                        0.01,
                        vec![
                            once(remote(AUTH, 0)),
                            once(remote(CATALOG, 1)),
                            once(remote(RECOMMEND, 0)),
                            maybe(remote(AD, 0), 0.7),
                            fan(remote(CURRENCY, 1), 1, 4),
                            once(internal("render product")),
                        ],
                    ),
                    // 2: cart page
                    ep(
                        http("GET", "/cart"),
                        500.0,
                        0.01,
                        vec![
                            once(remote(AUTH, 0)),
                            once(remote(CART, 0)),
                            fan(remote(CATALOG, 1), 1, 8),
                            fan(remote(CURRENCY, 1), 1, 8),
                            once(remote(SHIPPING, 0)),
                        ],
                    ),
                    // 3: checkout
                    ep(
                        http("POST", "/cart/checkout"),
                        700.0,
                        0.02,
                        vec![once(remote(AUTH, 0)), once(remote(CHECKOUT, 0))],
                    ),
                    // 4: product listing API (wide fan-out: the big traces)
                    ep(
                        http("GET", "/api/products"),
                        400.0,
                        0.01,
                        vec![
                            once(remote(AUTH, 0)),
                            once(remote(CATALOG, 0)),
                            fan(remote(CATALOG, 1), 5, 40),
                        ],
                    ),
                    // 5: add to cart
                    ep(
                        http("POST", "/api/cart"),
                        300.0,
                        0.01,
                        vec![
                            once(remote(AUTH, 0)),
                            once(remote(CATALOG, 1)),
                            once(remote(CART, 1)),
                        ],
                    ),
                ],
            ),
            service(
                "auth",
                "go",
                7000,
                vec![ep(
                    grpc("shop.AuthService", "Verify"),
                    150.0,
                    0.003,
                    vec![
                        once(redis("GET", "session:")),
                        maybe(sql("SELECT", "users", "SELECT id, email, roles FROM users WHERE id = $1"), 0.2),
                    ],
                )],
            ),
            service(
                "cart",
                "dotnet",
                7070,
                vec![
                    ep(
                        grpc("shop.CartService", "GetCart"),
                        200.0,
                        0.005,
                        vec![once(redis("HGETALL", "cart:"))],
                    ),
                    ep(
                        grpc("shop.CartService", "AddItem"),
                        250.0,
                        0.01,
                        vec![once(redis("HGET", "cart:")), once(redis("HSET", "cart:"))],
                    ),
                    ep(
                        grpc("shop.CartService", "EmptyCart"),
                        150.0,
                        0.005,
                        vec![once(redis("DEL", "cart:"))],
                    ),
                ],
            ),
            service(
                "checkout",
                "go",
                5050,
                vec![ep(
                    grpc("shop.CheckoutService", "PlaceOrder"),
                    900.0,
                    0.02,
                    vec![
                        once(remote(CART, 0)),
                        fan(remote(CATALOG, 1), 1, 6),
                        fan(remote(CURRENCY, 1), 1, 6),
                        fan(remote(INVENTORY, 0), 1, 6),
                        once(remote(SHIPPING, 0)),
                        once(remote(PAYMENT, 0)),
                        once(remote(SHIPPING, 1)),
                        once(remote(CART, 2)),
                        once(remote(EMAIL, 0)),
                        once(sql("INSERT", "orders", "INSERT INTO orders (id, user_id, total, currency) VALUES ($1, $2, $3, $4)")),
                        once(Call::Publish { topic: "orders" }),
                    ],
                )],
            ),
            service(
                "payment",
                "node",
                50051,
                vec![ep(
                    grpc("shop.PaymentService", "Charge"),
                    400.0,
                    0.04,
                    vec![
                        once(internal("validate card")),
                        once(Call::External {
                            host: "api.payments.example.com",
                            method: "POST",
                            path: "/v1/charges",
                        }),
                        once(sql("INSERT", "payments", "INSERT INTO payments (order_id, amount, status) VALUES ($1, $2, $3)")),
                    ],
                )],
            ),
            service(
                "shipping",
                "python",
                50050,
                vec![
                    ep(
                        http("POST", "/get-quote"),
                        300.0,
                        0.005,
                        vec![once(internal("calculate quote"))],
                    ),
                    ep(
                        http("POST", "/ship-order"),
                        350.0,
                        0.01,
                        vec![once(sql("INSERT", "shipments", "INSERT INTO shipments (order_id, address, carrier) VALUES ($1, $2, $3)"))],
                    ),
                ],
            ),
            service(
                "currency",
                "java",
                7001,
                vec![
                    ep(grpc("shop.CurrencyService", "GetSupportedCurrencies"), 60.0, 0.001, vec![]),
                    ep(grpc("shop.CurrencyService", "Convert"), 80.0, 0.002, vec![]),
                ],
            ),
            service(
                "product-catalog",
                "go",
                3550,
                vec![
                    ep(
                        grpc("shop.ProductCatalogService", "ListProducts"),
                        300.0,
                        0.003,
                        vec![once(sql("SELECT", "products", "SELECT id, name, description, price_units, categories FROM products ORDER BY id LIMIT $1"))],
                    ),
                    ep(
                        grpc("shop.ProductCatalogService", "GetProduct"),
                        120.0,
                        0.003,
                        vec![
                            once(redis("GET", "product:")),
                            maybe(sql("SELECT", "products", "SELECT id, name, description, price_units, categories FROM products WHERE id = $1"), 0.3),
                        ],
                    ),
                ],
            ),
            service(
                "recommendation",
                "python",
                9001,
                vec![ep(
                    grpc("shop.RecommendationService", "ListRecommendations"),
                    900.0,
                    0.01,
                    vec![once(remote(CATALOG, 0)), once(internal("rank products"))],
                )],
            ),
            service(
                "ad",
                "java",
                9555,
                vec![ep(
                    grpc("shop.AdService", "GetAds"),
                    350.0,
                    0.01,
                    vec![once(internal("select ads"))],
                )],
            ),
            service(
                "email",
                "python",
                8081,
                vec![ep(
                    http("POST", "/send_order_confirmation"),
                    1500.0,
                    0.01,
                    vec![once(internal("render template")), once(internal("smtp send"))],
                )],
            ),
            service(
                "inventory",
                "java",
                7100,
                vec![ep(
                    grpc("shop.InventoryService", "Reserve"),
                    200.0,
                    0.01,
                    vec![once(sql("UPDATE", "stock", "UPDATE stock SET reserved = reserved + $1 WHERE product_id = $2"))],
                )],
            ),
            service(
                "fraud-detection",
                "java",
                0,
                vec![ep(
                    Protocol::Consumer { topic: "orders" },
                    2000.0,
                    0.01,
                    vec![
                        once(sql("SELECT", "orders", "SELECT count(*) FROM orders WHERE user_id = $1 AND created_at > now() - interval '1 day'")),
                        repeat(internal("score rule"), 1, 3),
                    ],
                )],
            ),
            service(
                "accounting",
                "dotnet",
                0,
                vec![ep(
                    Protocol::Consumer { topic: "orders" },
                    600.0,
                    0.005,
                    vec![once(sql("INSERT", "ledger", "INSERT INTO ledger (order_id, amount, currency) VALUES ($1, $2, $3)"))],
                )],
            ),
        ];
        Topology {
            services,
            roots: vec![
                (FRONTEND, 0, 25),
                (FRONTEND, 1, 30),
                (FRONTEND, 2, 12),
                (FRONTEND, 3, 8),
                (FRONTEND, 4, 10),
                (FRONTEND, 5, 15),
            ],
        }
    }

    /// The consumer endpoints of `topic`, as (service, endpoint).
    pub fn consumers(&self, topic: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (s, svc) in self.services.iter().enumerate() {
            for (e, ep) in svc.endpoints.iter().enumerate() {
                if matches!(&ep.protocol, Protocol::Consumer { topic: t } if *t == topic) {
                    out.push((s, e));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves() {
        let t = Topology::shop();
        assert!(t.services.len() >= 10);
        for svc in &t.services {
            for ep in &svc.endpoints {
                for step in &ep.steps {
                    if let Call::Remote { service, endpoint } = step.call {
                        let target = t.services.get(service).expect("service index");
                        assert!(target.endpoints.get(endpoint).is_some(), "{}", svc.name);
                    }
                }
            }
        }
        for &(s, e, _) in &t.roots {
            assert!(t.services[s].endpoints.get(e).is_some());
        }
        assert_eq!(t.consumers("orders").len(), 2);
    }
}
