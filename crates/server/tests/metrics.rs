//! The operations endpoints over real sockets: `/healthz`, `/readyz`, and `/metrics` scraped
//! and parsed after traffic the test generated, with exact values. Traffic is known to be
//! processed when its recipients have read it, and stored when its sender has its receipt or
//! echo (released only after the commit), so no test sleeps.
//!
//! And the example monitoring in `contrib/`: every series the Grafana dashboard and the
//! Prometheus alerting rules query is one a real scrape has.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use palaver_server::config::Overrides;
use saphyr::{LoadableYamlNode, Yaml};
use support::operations::{Samples, get};
use support::{Client, IrcClient, TestServer};

/// A server with the operations endpoints on an ephemeral loopback port.
async fn server_with_http(overrides: Overrides) -> TestServer {
    TestServer::start_with(Overrides {
        http_listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..overrides
    })
    .await
}

async fn scrape(server: &TestServer) -> Samples {
    let response = get(server.http_address.expect("an HTTP listener"), "/metrics").await;
    assert_eq!(response.status, 200, "{}", response.body);
    let content_type = response.content_type.unwrap_or_default();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    Samples::parse(&response.body)
}

/// Reads `text` said in #lobby by the user whose mask is `from`, as an IRC member sees it.
async fn expect_room_message(client: &mut IrcClient, from: &str, text: &str) {
    client
        .expect_line(&format!(":{from} PRIVMSG #lobby :{text}"))
        .await;
}

/// How a text user appears to IRC users.
fn text_mask(nick: &str) -> String {
    format!("{nick}!text@127.0.0.1")
}

#[tokio::test]
async fn health_and_readiness_answer_while_the_server_runs() {
    let server = server_with_http(Overrides::default()).await;
    let http = server.http_address.expect("an HTTP listener");
    let health = get(http, "/healthz").await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let ready = get(http, "/readyz").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));
    assert_eq!(get(http, "/nothing-here").await.status, 404);
    server.shut_down().await;
}

#[tokio::test]
async fn without_http_listen_there_is_no_http_listener() {
    let server = TestServer::start().await;
    assert_eq!(server.http_address, None);
    server.shut_down().await;
}

#[tokio::test]
async fn metrics_count_the_traffic_of_text_and_irc_clients() {
    let server = server_with_http(Overrides::default()).await;

    // A room of four: two text users (in #lobby from the start) and two IRC users.
    let mut alice = Client::named(server.address, "alice").await;
    let mut bob = Client::named(server.address, "bob").await;
    let mut carol = server.irc_with_caps("carol", &["echo-message"]).await;
    let mut dave = server.irc("dave").await;
    carol.join("#lobby").await;
    dave.join("#lobby").await;
    carol
        .expect_line(&format!(":{} JOIN #lobby", support::irc_mask("dave")))
        .await;
    for text_user in [&mut alice, &mut bob] {
        text_user.skip_until("-- dave joined #lobby").await;
    }

    // Before any message: who is here, and nothing counted yet.
    let samples = scrape(&server).await;
    let connections = |samples: &Samples, protocol, transport| {
        samples.value(
            "palaver_connections",
            &[("protocol", protocol), ("transport", transport)],
        )
    };
    assert_eq!(connections(&samples, "text", "tcp"), 2.0);
    assert_eq!(connections(&samples, "irc", "tcp"), 2.0);
    assert_eq!(connections(&samples, "text", "tls"), 0.0);
    assert_eq!(connections(&samples, "irc", "tls"), 0.0);
    assert_eq!(samples.plain("palaver_users"), 4.0);
    assert_eq!(samples.plain("palaver_rooms"), 1.0);
    assert_eq!(samples.plain("palaver_messages_delivered_total"), 0.0);
    assert_eq!(samples.plain("palaver_messages_stored_total"), 0.0);

    // Three text messages and two IRC messages to the room, one at a time: each waits for
    // its sender's receipt or echo (so it is committed, one commit each) and is read by the
    // three other members (so its fan-out is done).
    const TEXT_MESSAGES: usize = 3;
    const IRC_MESSAGES: usize = 2;
    for sequence in 0..TEXT_MESSAGES {
        let text = format!("text message {sequence}");
        alice.send(&text).await;
        let seen = format!("#lobby <alice> {text}");
        alice.expect(&seen).await;
        bob.expect(&seen).await;
        expect_room_message(&mut carol, &text_mask("alice"), &text).await;
        expect_room_message(&mut dave, &text_mask("alice"), &text).await;
    }
    for sequence in 0..IRC_MESSAGES {
        let text = format!("irc message {sequence}");
        carol.send(&format!("PRIVMSG #lobby :{text}")).await;
        let carol_mask = support::irc_mask("carol");
        expect_room_message(&mut carol, &carol_mask, &text).await;
        expect_room_message(&mut dave, &carol_mask, &text).await;
        let seen = format!("#lobby <carol> {text}");
        alice.expect(&seen).await;
        bob.expect(&seen).await;
    }
    // And one private message.
    carol.send("PRIVMSG alice :just you").await;
    carol
        .expect_line(&format!(
            ":{} PRIVMSG alice :just you",
            support::irc_mask("carol")
        ))
        .await;
    alice.expect("*carol* just you").await;

    let samples = scrape(&server).await;
    let room_messages = (TEXT_MESSAGES + IRC_MESSAGES) as f64;
    let received = |target| samples.value("palaver_messages_received_total", &[("target", target)]);
    assert_eq!(received("room"), room_messages);
    assert_eq!(received("private"), 1.0);
    assert_eq!(received("status"), 0.0);
    // Every room message to the three members besides its sender, and the private one.
    assert_eq!(
        samples.plain("palaver_messages_delivered_total"),
        room_messages * 3.0 + 1.0
    );
    assert_eq!(samples.plain("palaver_deliveries_dropped_total"), 0.0);
    let all_messages = room_messages + 1.0;
    assert_eq!(samples.plain("palaver_messages_stored_total"), all_messages);
    for histogram in ["palaver_store_commit_seconds", "palaver_fanout_seconds"] {
        let count = samples.plain(&format!("{histogram}_count"));
        assert_eq!(
            count, all_messages,
            "{histogram}: one observation per message"
        );
        assert_eq!(
            samples.value(&format!("{histogram}_bucket"), &[("le", "+Inf")]),
            count
        );
        assert!(samples.plain(&format!("{histogram}_sum")) > 0.0);
    }
    let accepted = |protocol| {
        samples.value(
            "palaver_connections_accepted_total",
            &[("protocol", protocol), ("transport", "tcp")],
        )
    };
    assert_eq!((accepted("text"), accepted("irc")), (2.0, 2.0));
    for reason in [
        "client_quit",
        "connection_lost",
        "slow_consumer",
        "flood",
        "ping_timeout",
        "killed",
        "shutdown",
    ] {
        assert_eq!(
            samples.value("palaver_disconnects_total", &[("reason", reason)]),
            0.0,
            "{reason}"
        );
    }
    for reason in ["per_address", "connect_rate", "server_full", "banned"] {
        assert_eq!(
            samples.value("palaver_connections_refused_total", &[("reason", reason)]),
            0.0,
            "{reason}"
        );
    }

    // A quit and a closed connection are counted before the others hear of them.
    dave.send("QUIT :bye").await;
    carol
        .expect_line(&format!(":{} QUIT :Quit: bye", support::irc_mask("dave")))
        .await;
    for text_user in [&mut alice, &mut bob] {
        text_user.expect("-- dave left (Quit: bye)").await;
    }
    // With nothing left unread, so a clean close.
    drop(bob);
    alice.expect("-- bob left (connection closed)").await;
    let samples = scrape(&server).await;
    let disconnects = |reason| samples.value("palaver_disconnects_total", &[("reason", reason)]);
    assert_eq!(disconnects("client_quit"), 1.0);
    assert_eq!(disconnects("connection_lost"), 1.0);
    assert_eq!(samples.plain("palaver_users"), 2.0);
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_shows_as_a_disconnect_and_dropped_deliveries() {
    let server = server_with_http(Overrides {
        send_queue_bytes: Some(64 * 1024),
        ..Overrides::default()
    })
    .await;
    let slow = Client::slow(server.address, "slow").await;
    let mut reader = Client::named(server.address, "reader").await;
    let mut sender = Client::named(server.address, "sender").await;
    reader.skip_until("-- guest-3 is now known as sender").await;

    let sent = support::send_until_dropped(&mut sender, &mut reader, "slow").await;

    let samples = scrape(&server).await;
    assert_eq!(
        samples.value("palaver_disconnects_total", &[("reason", "slow_consumer")]),
        1.0
    );
    let sent = sent as f64;
    assert_eq!(
        samples.value("palaver_messages_received_total", &[("target", "room")]),
        sent
    );
    // The push that overflowed the slow client's queue at least was not queued; every copy
    // is either queued or dropped, and the reader got all of them.
    let delivered = samples.plain("palaver_messages_delivered_total");
    let dropped = samples.plain("palaver_deliveries_dropped_total");
    assert!(dropped >= 1.0, "{dropped}");
    assert!(delivered >= sent, "{delivered} < {sent}");
    assert!(delivered + dropped <= 2.0 * sent, "{delivered} + {dropped}");
    assert_eq!(samples.plain("palaver_fanout_seconds_count"), sent);
    // The sender reads its receipts and the slow client's socket is drained, so shutdown has
    // no output left to wait for.
    sender
        .skip_until("-- slow left (too slow: send queue full)")
        .await;
    slow.drain_until_closed().await;
    server.shut_down().await;
}

#[tokio::test]
async fn refused_connections_and_flood_disconnects_are_counted() {
    let config = "[limits]\nexempt_addresses = []\nconnections_per_address = 2\n\
                  [flood]\nexempt_addresses = []\nburst = 5\nrate = 1.0\nrecvq_bytes = 20480\n";
    let server = TestServer::start_with_config(
        config,
        Overrides {
            http_listen: vec!["127.0.0.1:0".parse().unwrap()],
            ..Overrides::default()
        },
    )
    .await;
    let flooder = Client::named(server.address, "flooder").await;
    let mut watcher = Client::named(server.address, "watcher").await;
    // Two more from the same address are refused, one on each listener.
    for address in [server.address, server.irc_address] {
        let mut refused = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let mut told = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut refused, &mut told)
            .await
            .expect("read the refusal");
        assert!(told.contains("too many connections"), "{told:?}");
    }
    let (_reader, mut writer) = flooder.into_parts();
    let flood = format!("{}\n", "z".repeat(400)).repeat(200);
    let _ = tokio::io::AsyncWriteExt::write_all(&mut writer, flood.as_bytes()).await;
    watcher.skip_until("-- flooder left (Excess Flood)").await;

    let samples = scrape(&server).await;
    let refused =
        |reason| samples.value("palaver_connections_refused_total", &[("reason", reason)]);
    assert_eq!(refused("per_address"), 2.0);
    assert_eq!(refused("connect_rate"), 0.0);
    assert_eq!(
        samples.value("palaver_disconnects_total", &[("reason", "flood")]),
        1.0
    );
    server.shut_down().await;
}

// ---------------------------------------------------------------------------------------------
// The example dashboard and alerting rules in contrib/
// ---------------------------------------------------------------------------------------------

const DASHBOARD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contrib/grafana/palaver.json"
));
const ALERTS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../contrib/prometheus/palaver-alerts.yml"
));

/// Labels Prometheus gives every series of a target itself; no scrape has them.
const TARGET_LABELS: [&str; 2] = ["instance", "job"];

#[tokio::test]
async fn the_example_dashboard_and_alerts_query_only_exported_series() {
    let dashboard = dashboard_queries(DASHBOARD);
    let alerts = alert_queries(ALERTS);
    // So that a misread file cannot pass by checking nothing.
    assert!(dashboard.len() >= 20, "dashboard queries: {dashboard:#?}");
    assert!(alerts.len() >= 8, "alert rules: {alerts:#?}");

    // Every series exists from the start, but a scrape after traffic is what an operator's
    // Prometheus sees: a text and an IRC user, a room message and a private one, each
    // stored once its sender has its receipt or echo.
    let server = server_with_http(Overrides::default()).await;
    let mut alice = Client::named(server.address, "alice").await;
    let mut carol = server.irc_with_caps("carol", &["echo-message"]).await;
    carol.join("#lobby").await;
    alice.skip_until("-- carol joined #lobby").await;
    alice.send("hello there").await;
    alice.expect("#lobby <alice> hello there").await;
    expect_room_message(&mut carol, &text_mask("alice"), "hello there").await;
    carol.send("PRIVMSG alice :hi there").await;
    carol
        .expect_line(&format!(
            ":{} PRIVMSG alice :hi there",
            support::irc_mask("carol")
        ))
        .await;
    alice.expect("*carol* hi there").await;
    let samples = scrape(&server).await;
    assert_eq!(samples.plain("palaver_messages_stored_total"), 2.0);
    let exported = Exported::new(&samples);

    // The check itself finds what does not exist, suffixes included.
    for wrong in [
        "palaver_user",
        "palaver_users_total",
        "palaver_users_bucket",
        "palaver_messages_stored",
        "palaver_store_commit_seconds",
        "palaver_store_commit_seconds_total",
        "palaver_disconnects_total{reason=\"flooding\"}",
        "palaver_disconnects_total{reason=~\"flood|slow\"}",
        "palaver_disconnects_total{target=\"room\"}",
    ] {
        assert!(!exported.unknown(wrong).is_empty(), "{wrong} passed");
    }

    let mut unknown = Vec::new();
    for (place, expression) in dashboard.iter().chain(&alerts) {
        for problem in exported.unknown(expression) {
            unknown.push(format!("{place}: {problem}\n    in {expression}"));
        }
    }
    assert!(
        unknown.is_empty(),
        "series /metrics does not have:\n{}",
        unknown.join("\n")
    );

    // And the dashboard shows every metric palaver has.
    let shown: BTreeSet<&str> = dashboard
        .iter()
        .flat_map(|(_, expression)| promql::selectors(expression))
        .filter_map(|selector| exported.family_of(&selector.metric))
        .collect();
    let missing: Vec<&str> = samples
        .families()
        .map(|(family, _)| family)
        .filter(|family| !shown.contains(family))
        .collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");
    server.shut_down().await;
}

/// Every PromQL expression of the Grafana dashboard, with where it is: each panel target's
/// `expr`, and the metric of each `label_values(METRIC, LABEL)` variable.
fn dashboard_queries(json: &str) -> Vec<(String, String)> {
    let dashboard: serde_json::Value = serde_json::from_str(json).expect("the dashboard is JSON");
    let mut queries = Vec::new();
    collect_exprs(&dashboard, "dashboard", &mut queries);
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating variables");
    for variable in variables {
        let name = variable["name"].as_str().expect("a variable's name");
        if variable["type"] != "query" {
            continue;
        }
        let definition = variable["definition"].as_str().expect("a definition");
        let (selector, _label) = definition
            .strip_prefix("label_values(")
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|arguments| arguments.rsplit_once(','))
            .unwrap_or_else(|| panic!("${name}: not label_values(METRIC, LABEL): {definition}"));
        queries.push((format!("variable ${name}"), selector.trim().to_owned()));
    }
    queries
}

/// Every `expr` string anywhere under `value` (panel targets, rows' panels), with the title
/// of the panel it belongs to.
fn collect_exprs(value: &serde_json::Value, place: &str, queries: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(object) => {
            let place = match object.get("title").and_then(|title| title.as_str()) {
                Some(title) => format!("panel {title:?}"),
                None => place.to_owned(),
            };
            for (key, inner) in object {
                match (key.as_str(), inner) {
                    ("expr", serde_json::Value::String(expression)) => {
                        queries.push((place.clone(), expression.clone()));
                    }
                    _ => collect_exprs(inner, &place, queries),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_exprs(item, place, queries);
            }
        }
        _ => {}
    }
}

/// Every alerting rule's `expr`, with its name, after checking that each rule has what an
/// alert needs: a unique name, a severity, a summary and a description.
fn alert_queries(yaml: &str) -> Vec<(String, String)> {
    let documents = Yaml::load_from_str(yaml).expect("the alerting rules are YAML");
    let [document] = documents.as_slice() else {
        panic!("one YAML document");
    };
    let text = |node: &Yaml, key: &str, what: &str| -> String {
        node.as_mapping_get(key)
            .and_then(Yaml::as_str)
            .unwrap_or_else(|| panic!("{what}: no {key} string"))
            .to_owned()
    };
    let mut queries = Vec::new();
    let mut names = BTreeSet::new();
    let groups = document
        .as_mapping_get("groups")
        .and_then(Yaml::as_sequence)
        .expect("a list of groups");
    for group in groups {
        let rules = group
            .as_mapping_get("rules")
            .and_then(Yaml::as_sequence)
            .expect("a group's list of rules");
        for rule in rules {
            let name = text(rule, "alert", "a rule");
            assert!(names.insert(name.clone()), "{name} twice");
            let labels = rule.as_mapping_get("labels").expect("labels");
            let severity = text(labels, "severity", &name);
            assert!(
                ["critical", "warning"].contains(&severity.as_str()),
                "{name}: {severity}"
            );
            let annotations = rule.as_mapping_get("annotations").expect("annotations");
            for key in ["summary", "description"] {
                text(annotations, key, &name);
            }
            queries.push((format!("alert {name}"), text(rule, "expr", &name)));
        }
    }
    queries
}

/// What one scrape exports: each sample name with the label sets of its series, and which
/// metric family each sample name belongs to.
struct Exported<'a> {
    series: BTreeMap<&'a str, Vec<&'a [(String, String)]>>,
    /// Sample name → its family and the family's type.
    families: BTreeMap<String, (&'a str, &'a str)>,
}

impl<'a> Exported<'a> {
    fn new(samples: &'a Samples) -> Self {
        let mut families = BTreeMap::new();
        for (family, kind) in samples.families() {
            // The sample names of each type in the OpenMetrics text format.
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "gauge" => &[""],
                "histogram" => &["_bucket", "_sum", "_count"],
                other => panic!("{family}: a type this test does not know: {other}"),
            };
            for suffix in suffixes {
                families.insert(format!("{family}{suffix}"), (family, kind));
            }
        }
        let mut series: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for (name, labels) in samples.series() {
            assert!(families.contains_key(name), "{name}: of no declared family");
            series.entry(name).or_default().push(labels);
        }
        Self { series, families }
    }

    /// The family of the sample name `metric`, if it is one.
    fn family_of(&self, metric: &str) -> Option<&'a str> {
        self.families.get(metric).map(|(family, _)| *family)
    }

    /// What `expression` selects that this scrape does not have, one line each: a metric
    /// that is not a sample name (a family's own name is not one for counters and
    /// histograms), or a label value no series of its metric has. Prometheus's own `up`, the
    /// target labels and values holding a Grafana variable (`$instance`) are not checked.
    fn unknown(&self, expression: &str) -> Vec<String> {
        let mut problems = Vec::new();
        for selector in promql::selectors(expression) {
            let metric = selector.metric.as_str();
            if metric == "up" {
                continue;
            }
            let Some(label_sets) = self.series.get(metric) else {
                // A counter's or a histogram's family name is no sample's: say which are.
                let samples: Vec<&str> = self
                    .families
                    .iter()
                    .filter(|(_, (family, _))| *family == metric)
                    .map(|(sample, _)| sample.as_str())
                    .collect();
                problems.push(if samples.is_empty() {
                    format!("no metric {metric}")
                } else {
                    format!("{metric} is a family's name, not a sample's; query {samples:?}")
                });
                continue;
            };
            for matcher in &selector.matchers {
                if TARGET_LABELS.contains(&matcher.label.as_str()) || matcher.value.contains('$') {
                    continue;
                }
                let values: Vec<&str> = if matcher.operator.ends_with('~') {
                    let alternatives: Vec<&str> = matcher.value.split('|').collect();
                    assert!(
                        alternatives.iter().all(|value| {
                            !value.is_empty()
                                && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        }),
                        "this test checks regular expressions that are alternatives of plain \
                         values only: {expression}"
                    );
                    alternatives
                } else {
                    vec![matcher.value.as_str()]
                };
                for value in values {
                    let found = label_sets.iter().any(|labels| {
                        labels
                            .iter()
                            .any(|(label, its)| *label == matcher.label && its == value)
                    });
                    if !found {
                        problems.push(format!(
                            "no series {metric}{{{}=\"{value}\"}}",
                            matcher.label
                        ));
                    }
                }
            }
        }
        problems
    }
}

/// Just enough PromQL to find the series an expression selects: its vector selectors (a
/// metric name and optional `{label op "value", …}`), skipping functions and aggregations
/// (a word before `(`, `by` or `without`), keywords, the label lists of `by (…)`,
/// `without (…)`, `on (…)`, `ignoring (…)` and `group_left/right (…)`, ranges (`[5m]`,
/// `[$__rate_interval]`), numbers, durations and strings. Selectors without a metric name
/// (`{__name__=…}`) are refused. A scanner rather than a PromQL parser crate: the workspace
/// has none, and the files in contrib/ use a small part of the language.
mod promql {
    /// A vector selector.
    #[derive(Debug, PartialEq)]
    pub struct Selector {
        pub metric: String,
        pub matchers: Vec<Matcher>,
    }

    /// `label operator "value"`, the operator one of `=`, `!=`, `=~`, `!~`.
    #[derive(Debug, PartialEq)]
    pub struct Matcher {
        pub label: String,
        pub operator: String,
        pub value: String,
    }

    /// Words of PromQL itself that stand outside parentheses: binary operators and modifiers.
    const KEYWORDS: [&str; 11] = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];

    /// Keywords a list of label names in parentheses may follow.
    const BEFORE_LABEL_LISTS: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];

    pub fn selectors(expression: &str) -> Vec<Selector> {
        let chars: Vec<char> = expression.chars().collect();
        let mut selectors = Vec::new();
        let mut at = 0;
        while let Some(&c) = chars.get(at) {
            if c == '"' || c == '\'' {
                at = string(&chars, at, expression).1;
            } else if c == '[' {
                at = past(&chars, at, ']', expression);
            } else if c == '{' {
                panic!("a selector without a metric name: {expression}");
            } else if c.is_ascii_digit() || c == '.' || c == '$' {
                // A number or duration (0.99, 5m, 1e3), or a Grafana variable.
                at = word_end(&chars, at + 1);
            } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
                let end = word_end(&chars, at);
                let word: String = chars[at..end].iter().collect();
                let next = skip_spaces(&chars, end);
                let before_parenthesis = chars.get(next) == Some(&'(');
                // `sum by (le) (…)`: an aggregation with its modifier first.
                let next_word: String = chars[next..word_end(&chars, next)].iter().collect();
                let aggregation = ["by", "without"].contains(&next_word.as_str());
                at = if before_parenthesis && BEFORE_LABEL_LISTS.contains(&word.as_str()) {
                    past(&chars, next, ')', expression)
                } else if before_parenthesis || aggregation || KEYWORDS.contains(&word.as_str()) {
                    end
                } else if chars.get(next) == Some(&'{') {
                    let (matchers, after) = matchers(&chars, next, expression);
                    selectors.push(Selector {
                        metric: word,
                        matchers,
                    });
                    after
                } else {
                    selectors.push(Selector {
                        metric: word,
                        matchers: Vec::new(),
                    });
                    end
                };
            } else {
                at += 1;
            }
        }
        selectors
    }

    fn word_end(chars: &[char], from: usize) -> usize {
        let length = chars[from..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == '_' || **c == ':')
            .count();
        from + length
    }

    fn skip_spaces(chars: &[char], from: usize) -> usize {
        from + chars[from..]
            .iter()
            .take_while(|c| c.is_whitespace())
            .count()
    }

    /// The index after the first `close` from `from` on.
    fn past(chars: &[char], from: usize, close: char, expression: &str) -> usize {
        let offset = chars[from..]
            .iter()
            .position(|&c| c == close)
            .unwrap_or_else(|| panic!("no {close:?}: {expression}"));
        from + offset + 1
    }

    /// The string literal opening at `from` (its quote), unescaped, and the index after it.
    fn string(chars: &[char], from: usize, expression: &str) -> (String, usize) {
        let quote = chars[from];
        let mut value = String::new();
        let mut at = from + 1;
        loop {
            match chars.get(at) {
                Some(&c) if c == quote => return (value, at + 1),
                Some('\\') => {
                    let escaped = chars
                        .get(at + 1)
                        .unwrap_or_else(|| panic!("unclosed string: {expression}"));
                    value.push(*escaped);
                    at += 2;
                }
                Some(&c) => {
                    value.push(c);
                    at += 1;
                }
                None => panic!("unclosed string: {expression}"),
            }
        }
    }

    /// The matchers in the braces opening at `from`, and the index after the braces.
    fn matchers(chars: &[char], from: usize, expression: &str) -> (Vec<Matcher>, usize) {
        let mut matchers = Vec::new();
        let mut at = from + 1;
        loop {
            at = skip_spaces(chars, at);
            match chars.get(at) {
                Some('}') => return (matchers, at + 1),
                Some(',') => at += 1,
                Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
                    let end = word_end(chars, at);
                    let label = chars[at..end].iter().collect();
                    at = skip_spaces(chars, end);
                    let operator: String = chars[at..]
                        .iter()
                        .take_while(|c| matches!(c, '=' | '!' | '~'))
                        .collect();
                    assert!(
                        ["=", "!=", "=~", "!~"].contains(&operator.as_str()),
                        "a matcher's operator {operator:?}: {expression}"
                    );
                    at = skip_spaces(chars, at + operator.len());
                    assert!(
                        matches!(chars.get(at), Some('"' | '\'')),
                        "a matcher's quoted value: {expression}"
                    );
                    let (value, after) = string(chars, at, expression);
                    matchers.push(Matcher {
                        label,
                        operator,
                        value,
                    });
                    at = after;
                }
                other => panic!("unexpected {other:?} in a selector: {expression}"),
            }
        }
    }

    #[test]
    fn selectors_are_found_and_the_rest_skipped() {
        let matcher = |label: &str, operator: &str, value: &str| Matcher {
            label: label.into(),
            operator: operator.into(),
            value: value.into(),
        };
        let expression = r#"histogram_quantile(0.99, sum by (instance, le) (
                rate(palaver_store_commit_seconds_bucket{instance=~"$instance", le!="+Inf"}[$__rate_interval])
            )) > 0.25 and on (instance) up offset 5m
            unless sum without(reason) (palaver_disconnects_total {reason = "a \"b\""}) / palaver_users"#;
        assert_eq!(
            selectors(expression),
            [
                Selector {
                    metric: "palaver_store_commit_seconds_bucket".into(),
                    matchers: vec![
                        matcher("instance", "=~", "$instance"),
                        matcher("le", "!=", "+Inf"),
                    ],
                },
                Selector {
                    metric: "up".into(),
                    matchers: Vec::new(),
                },
                Selector {
                    metric: "palaver_disconnects_total".into(),
                    matchers: vec![matcher("reason", "=", "a \"b\"")],
                },
                Selector {
                    metric: "palaver_users".into(),
                    matchers: Vec::new(),
                },
            ]
        );
    }
}
