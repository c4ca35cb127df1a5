//! `palaver cluster status`: the nodes registered in Redis, read from Redis itself, so that
//! it also shows a node that died and whose lease has not lapsed or that nobody removed yet.
//! It changes nothing.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::ClusterError;
use super::keys::NodeKeys;
use crate::store::{RedisSettings, redis_connection};

/// How long reading the status may wait for Redis.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What `cluster status` shows.
#[derive(Debug, Serialize)]
pub struct ClusterStatus {
    pub redis: RedisFacts,
    /// By name.
    pub nodes: Vec<NodeStatus>,
}

#[derive(Debug, Serialize)]
pub struct RedisFacts {
    /// The URL without its password.
    pub url: String,
    pub version: String,
    /// `appendfsync`, unless Redis would not say (an ACL without `CONFIG GET`).
    pub appendfsync: Option<String>,
    pub used_memory_bytes: u64,
    /// 0: no limit.
    pub max_memory_bytes: u64,
    pub round_trip_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct NodeStatus {
    pub name: String,
    /// Whether its lease holds; a node that is not live died or lost its link.
    pub live: bool,
    /// How long since it started and since its last heartbeat, by Redis's clock.
    pub up_ms: i64,
    pub heartbeat_ms_ago: i64,
    pub users: u64,
    pub connections: u64,
    pub rooms: u64,
    /// Its clock minus Redis's, as its last heartbeat measured.
    pub clock_offset_ms: i64,
    pub version: String,
    /// Whether its settings that users can observe differ from those of most live nodes.
    pub settings_differ: bool,
}

impl ClusterStatus {
    /// 0 when every registered node is live and they agree on their settings, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        let healthy = self
            .nodes
            .iter()
            .all(|node| node.live && !node.settings_differ);
        if healthy { 0 } else { 1 }
    }

    /// The report for people: Redis on one line, a table of nodes, a total.
    pub fn render(&self) -> String {
        let redis = &self.redis;
        let memory = if redis.max_memory_bytes == 0 {
            format!("memory {} (no maxmemory)", bytes(redis.used_memory_bytes))
        } else {
            format!(
                "memory {} of {}",
                bytes(redis.used_memory_bytes),
                bytes(redis.max_memory_bytes)
            )
        };
        let mut lines = vec![format!(
            "redis {}  {}  aof {}  {memory}  round trip {:.2} ms",
            redis.url,
            redis.version,
            redis.appendfsync.as_deref().unwrap_or("?"),
            redis.round_trip_ms
        )];
        let mut rows = vec![
            [
                "node",
                "state",
                "up",
                "heartbeat",
                "users",
                "connections",
                "clock",
                "version",
            ]
            .map(str::to_owned),
        ];
        let mut notes = Vec::new();
        for node in &self.nodes {
            rows.push([
                node.name.clone(),
                (if node.live { "live" } else { "lost" }).to_owned(),
                if node.live {
                    age(node.up_ms)
                } else {
                    "-".to_owned()
                },
                format!("{:.1} s ago", node.heartbeat_ms_ago as f64 / 1000.0),
                node.users.to_string(),
                if node.live {
                    node.connections.to_string()
                } else {
                    "-".to_owned()
                },
                format!("{:+.3} s", node.clock_offset_ms as f64 / 1000.0),
                node.version.clone(),
            ]);
            notes.push(match (node.live, node.settings_differ) {
                (false, _) => "gone: removed when a node next starts",
                (true, true) => "settings differ",
                (true, false) => "",
            });
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
            .collect();
        // Names and words to the left, numbers to the right.
        let right = [false, false, false, true, true, true, true, false];
        for (index, row) in rows.iter().enumerate() {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .zip(right)
                .map(|((cell, &width), right)| {
                    if right {
                        format!("{cell:>width$}")
                    } else {
                        format!("{cell:<width$}")
                    }
                })
                .collect();
            let note = index.checked_sub(1).map_or("", |node| notes[node]);
            lines.push(
                format!("{}  {note}", cells.join("  "))
                    .trim_end()
                    .to_owned(),
            );
        }
        let live: Vec<&NodeStatus> = self.nodes.iter().filter(|node| node.live).collect();
        let users: u64 = live.iter().map(|node| node.users).sum();
        let rooms: u64 = live.iter().map(|node| node.rooms).sum();
        lines.push(format!(
            "{} in {}; {} live",
            counted(users, "user"),
            counted(rooms, "room"),
            counted(live.len() as u64, "node")
        ));
        lines.join("\n") + "\n"
    }
}

/// Reads the status from the Redis of `settings`.
pub async fn read(settings: &RedisSettings) -> Result<ClusterStatus, ClusterError> {
    let url = settings.display_url();
    let unreachable = |error: redis::RedisError| ClusterError::Unreachable {
        url: url.clone(),
        message: error.to_string(),
    };
    let mut connection = redis_connection(&settings.url, TIMEOUT, TIMEOUT)
        .await
        .map_err(unreachable)?;
    let keys = NodeKeys::new(&settings.key_prefix);

    let sent = Instant::now();
    let () = redis::cmd("PING")
        .query_async::<String>(&mut connection)
        .await
        .map(drop)
        .map_err(unreachable)?;
    let round_trip = sent.elapsed();
    let server: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut connection)
        .await
        .map_err(unreachable)?;
    let memory: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut connection)
        .await
        .map_err(unreachable)?;
    let appendfsync: Option<HashMap<String, String>> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendfsync")
        .query_async(&mut connection)
        .await
        .ok();
    let (seconds, micros): (i64, i64) = redis::cmd("TIME")
        .query_async(&mut connection)
        .await
        .map_err(unreachable)?;
    let now_ms = seconds * 1000 + micros / 1000;
    let server = info_fields(&server);
    let memory = info_fields(&memory);
    let number = |fields: &HashMap<&str, &str>, name| {
        fields
            .get(name)
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    let redis = RedisFacts {
        url: url.clone(),
        version: server.get("redis_version").unwrap_or(&"?").to_string(),
        appendfsync: appendfsync.and_then(|mut answer| answer.remove("appendfsync")),
        used_memory_bytes: number(&memory, "used_memory"),
        max_memory_bytes: number(&memory, "maxmemory"),
        round_trip_ms: round_trip.as_secs_f64() * 1000.0,
    };

    let mut names: Vec<String> = redis::cmd("SMEMBERS")
        .arg(keys.nodes())
        .query_async(&mut connection)
        .await
        .map_err(unreachable)?;
    names.sort();
    let mut nodes = Vec::with_capacity(names.len());
    let mut digests = Vec::new();
    for name in names {
        let (record, lease): (HashMap<String, String>, i64) = redis::pipe()
            .hgetall(keys.record(&name))
            .exists(keys.lease(&name))
            .query_async(&mut connection)
            .await
            .map_err(unreachable)?;
        let field = |field: &str| record.get(field).map_or("", String::as_str);
        let whole = |field: &str| field_number(record.get(field));
        let live = lease == 1;
        if live {
            digests.push(field("digest").to_owned());
        }
        nodes.push((
            field("digest").to_owned(),
            NodeStatus {
                name,
                live,
                up_ms: now_ms - whole("started"),
                heartbeat_ms_ago: now_ms - whole("heartbeat"),
                users: whole("users").max(0) as u64,
                connections: whole("connections").max(0) as u64,
                rooms: whole("rooms").max(0) as u64,
                clock_offset_ms: whole("clock_offset_ms"),
                version: field("version").to_owned(),
                settings_differ: false,
            },
        ));
    }
    let usual = most_common(&digests);
    let nodes = nodes
        .into_iter()
        .map(|(digest, mut node)| {
            node.settings_differ = node.live && usual.is_some_and(|usual| usual != digest);
            node
        })
        .collect();
    Ok(ClusterStatus { redis, nodes })
}

/// The `name:value` lines of an `INFO` section.
fn info_fields(info: &str) -> HashMap<&str, &str> {
    info.lines()
        .filter_map(|line| line.trim_end().split_once(':'))
        .collect()
}

fn field_number(value: Option<&String>) -> i64 {
    value.and_then(|value| value.parse().ok()).unwrap_or(0)
}

/// The value most of `values` hold (the first of the most frequent, in order).
fn most_common(values: &[String]) -> Option<&str> {
    let mut best: Option<(&str, usize)> = None;
    for value in values {
        let count = values.iter().filter(|other| *other == value).count();
        if best.is_none_or(|(_, most)| count > most) {
            best = Some((value, count));
        }
    }
    best.map(|(value, _)| value)
}

/// `1 node`, `3 nodes`.
fn counted(count: u64, thing: &str) -> String {
    if count == 1 {
        format!("1 {thing}")
    } else {
        format!("{count} {thing}s")
    }
}

/// `3d 4h`, `12m 5s`, `40s`.
fn age(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {}s", seconds % 60),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

/// `1.2 GiB`, `800.0 KiB`, `512 B`.
fn bytes(count: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = count as f64;
    if value < 1024.0 {
        return format!("{count} B");
    }
    let mut unit = "B";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, live: bool, users: u64) -> NodeStatus {
        NodeStatus {
            name: name.into(),
            live,
            up_ms: 3 * 86_400_000 + 4 * 3_600_000,
            heartbeat_ms_ago: 400,
            users,
            connections: users + 7,
            rooms: 3,
            clock_offset_ms: 2,
            version: "0.1.0".into(),
            settings_differ: false,
        }
    }

    fn status(nodes: Vec<NodeStatus>) -> ClusterStatus {
        ClusterStatus {
            redis: RedisFacts {
                url: "redis://10.0.0.5:6379".into(),
                version: "7.0.15".into(),
                appendfsync: Some("always".into()),
                used_memory_bytes: 1288 * 1024 * 1024,
                max_memory_bytes: 8 << 30,
                round_trip_ms: 0.21,
            },
            nodes,
        }
    }

    #[test]
    fn the_report_has_redis_a_row_per_node_and_the_totals() {
        let report = status(vec![
            node("alpha-6667", true, 1204),
            node("gamma-6667", false, 9),
        ]);
        let text = report.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "redis redis://10.0.0.5:6379  7.0.15  aof always  memory 1.3 GiB of 8.0 GiB  \
             round trip 0.21 ms"
        );
        assert!(
            lines[1].starts_with("node        state  up     heartbeat  users"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("alpha-6667  live   3d 4h  0.4 s ago   1204"),
            "{text}"
        );
        assert!(
            lines[3].contains("lost")
                && lines[3].ends_with("gone: removed when a node next starts"),
            "{text}"
        );
        assert_eq!(lines[4], "1204 users in 3 rooms; 1 node live");
        assert!(
            status(Vec::new())
                .render()
                .ends_with("0 users in 0 rooms; 0 nodes live\n")
        );
        assert_eq!(report.exit_code(), 1);
        assert_eq!(status(vec![node("alpha-6667", true, 1)]).exit_code(), 0);
        assert_eq!(status(Vec::new()).exit_code(), 0);
    }

    #[test]
    fn units_read_as_people_write_them() {
        assert_eq!(age(40_000), "40s");
        assert_eq!(age(725_000), "12m 5s");
        assert_eq!(age(2 * 3_600_000 + 60_000), "2h 1m");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(800 * 1024), "800.0 KiB");
        assert_eq!(
            most_common(&["a".into(), "b".into(), "b".into()]),
            Some("b")
        );
    }
}
