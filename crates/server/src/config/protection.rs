//! Reading the settings that protect the server from its clients: `[flood]` (see `flood.rs`),
//! the per-address part of `[limits]` (see `admission.rs`), and `[proxy]`, which says where
//! clients' addresses come from (see `proxy_protocol.rs`).

use serde::Deserialize;

use std::net::SocketAddr;

use super::{ConfigError, FileLimits, Limits, ListenerConfig, OFF};
use crate::addresses::AddressList;
use crate::admission::AddressLimits;
use crate::flood::FloodSettings;
use crate::proxy_protocol::ProxySettings;
use crate::rate_limit::Rate;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileFlood {
    pub burst: Option<u32>,
    pub rate: Option<f64>,
    pub recvq_bytes: Option<usize>,
    pub exempt_addresses: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileProxy {
    pub listeners: Option<Vec<SocketAddr>>,
    pub trusted_proxies: Option<Vec<String>>,
}

/// `[proxy]`; each listener it names must be one of `listeners`.
pub(super) fn resolve_proxy(
    file: &FileProxy,
    listeners: &[ListenerConfig],
) -> Result<ProxySettings, ConfigError> {
    let defaults = ProxySettings::default();
    let settings = ProxySettings {
        listeners: file.listeners.clone().unwrap_or(defaults.listeners),
        trusted_proxies: addresses("[proxy] trusted_proxies", &file.trusted_proxies)?
            .unwrap_or(defaults.trusted_proxies),
    };
    if let Some(stranger) = settings.listeners.iter().find(|address| {
        !listeners
            .iter()
            .any(|listener| listener.address == **address)
    }) {
        return Err(ConfigError::Invalid(format!(
            "[proxy] listeners names {stranger}, which is not one of the listen addresses"
        )));
    }
    Ok(settings)
}

pub(super) fn resolve_flood(
    file: &FileFlood,
    limits: &Limits,
) -> Result<FloodSettings, ConfigError> {
    let defaults = FloodSettings::default();
    let settings = FloodSettings {
        burst: file.burst.unwrap_or(defaults.burst),
        rate: file.rate.unwrap_or(defaults.rate),
        recvq_bytes: file.recvq_bytes.unwrap_or(defaults.recvq_bytes),
        exempt: addresses("[flood] exempt_addresses", &file.exempt_addresses)?
            .unwrap_or(defaults.exempt),
    };
    if settings.burst == 0 {
        return Err(ConfigError::Invalid(
            "[flood] burst must be at least 1".into(),
        ));
    }
    if !(settings.rate.is_finite() && settings.rate > 0.0) {
        return Err(ConfigError::Invalid(
            "[flood] rate must be a positive number of lines per second".into(),
        ));
    }
    // The input waiting includes a line still arriving, which may be as long as a line may be
    // (an IRC line with tags is the longest unless max_line_bytes is raised).
    let longest_line = limits
        .max_line_bytes
        .max(crate::session::irc::MAX_LINE_BYTES);
    if settings.recvq_bytes < 2 * longest_line {
        return Err(ConfigError::Invalid(format!(
            "[flood] recvq_bytes must be at least twice the longest line ({} bytes)",
            2 * longest_line
        )));
    }
    Ok(settings)
}

pub(super) fn resolve_address_limits(file: &FileLimits) -> Result<AddressLimits, ConfigError> {
    let defaults = AddressLimits::default();
    let settings = AddressLimits {
        connections_per_address: file
            .connections_per_address
            .unwrap_or(defaults.connections_per_address),
        connect_rate_per_address: rate(
            "[limits] connect_rate_per_address",
            &file.connect_rate_per_address,
        )?
        .unwrap_or(defaults.connect_rate_per_address),
        max_connections: file.max_connections.unwrap_or(defaults.max_connections),
        account_registrations_per_address: rate(
            "[limits] account_registrations_per_address",
            &file.account_registrations_per_address,
        )?
        .unwrap_or(defaults.account_registrations_per_address),
        room_creations_per_address: rate(
            "[limits] room_creations_per_address",
            &file.room_creations_per_address,
        )?
        .unwrap_or(defaults.room_creations_per_address),
        exempt: addresses("[limits] exempt_addresses", &file.exempt_addresses)?
            .unwrap_or(defaults.exempt),
    };
    if settings.connections_per_address == 0 || settings.max_connections == 0 {
        return Err(ConfigError::Invalid(
            "[limits] connections_per_address and max_connections must be at least 1".into(),
        ));
    }
    Ok(settings)
}

/// A rate such as `"30/1m"`, or `"off"` (`Some(None)`); `None` when not given.
fn rate(key: &str, value: &Option<String>) -> Result<Option<Option<Rate>>, ConfigError> {
    let Some(text) = value else {
        return Ok(None);
    };
    if text.trim() == OFF {
        return Ok(Some(None));
    }
    text.parse()
        .map(|rate| Some(Some(rate)))
        .map_err(|error| ConfigError::Invalid(format!("{key}: {error}, or \"off\"")))
}

fn addresses(key: &str, value: &Option<Vec<String>>) -> Result<Option<AddressList>, ConfigError> {
    value
        .as_deref()
        .map(|entries| {
            AddressList::parse(entries)
                .map_err(|error| ConfigError::Invalid(format!("{key}: {error}")))
        })
        .transpose()
}
