//! Listeners behind a load balancer or reverse proxy (`[proxy]`): each connection to such a
//! listener starts with a PROXY protocol header (version 1 or 2, see
//! `palaver_proto::proxy`) naming the client, and the server takes that client's address for
//! everything an address decides — limits, bans, the host others see — instead of the
//! proxy's. Opt-in per listener, since on any other listener a client could claim any address
//! with such a header; and only from the proxies' own addresses (`trusted_proxies`).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use palaver_proto::proxy::{
    Proxied, ProxyError, V1_MAX_BYTES, V1_PREFIX, V2_FIXED_BYTES, V2_SIGNATURE, parse_v1, parse_v2,
    v2_remaining,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::addresses::AddressList;

/// How long a proxy has to send its header: it sends it at once, so anything slower is
/// something else connecting.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// `[proxy]`: which listeners take PROXY headers, and from whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// Configured listener addresses whose connections start with a PROXY header.
    pub listeners: Vec<SocketAddr>,
    /// The proxies' addresses: a connection from anywhere else to such a listener is closed
    /// unheard. Loopback by default (a proxy on the same machine).
    pub trusted_proxies: AddressList,
}

impl Default for ProxySettings {
    fn default() -> Self {
        Self {
            listeners: Vec::new(),
            trusted_proxies: AddressList::loopback(),
        }
    }
}

/// Reads the PROXY header at the start of `stream` — exactly its bytes, so what follows is
/// the client's — and returns the client's address (`proxy`, the connection's own peer, when
/// the header names none).
pub async fn read_header(stream: &mut TcpStream, proxy: SocketAddr) -> io::Result<SocketAddr> {
    let proxied = tokio::time::timeout(HEADER_TIMEOUT, read_proxied(stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no PROXY header in time"))??;
    Ok(match proxied {
        Proxied::Client(client) => client,
        Proxied::Local => proxy,
    })
}

async fn read_proxied(stream: &mut TcpStream) -> io::Result<Proxied> {
    let invalid = |error: ProxyError| io::Error::new(io::ErrorKind::InvalidData, error);
    // Both versions are told apart by their first bytes: `PROXY ` or the v2 signature.
    let mut start = [0; V1_PREFIX.len()];
    stream.read_exact(&mut start).await?;
    if start == V1_PREFIX {
        // A text line: read it a byte at a time, so as not to read past its LF.
        let mut line = start.to_vec();
        while line.last() != Some(&b'\n') {
            if line.len() == V1_MAX_BYTES {
                return Err(invalid(ProxyError::Malformed(
                    "a version 1 header is too long",
                )));
            }
            line.push(stream.read_u8().await?);
        }
        return parse_v1(&line).map_err(invalid);
    }
    if start[..] != V2_SIGNATURE[..start.len()] {
        return Err(invalid(ProxyError::NotProxy));
    }
    let mut fixed = [0; V2_FIXED_BYTES];
    fixed[..start.len()].copy_from_slice(&start);
    stream.read_exact(&mut fixed[start.len()..]).await?;
    let mut rest = vec![0; v2_remaining(&fixed).map_err(invalid)?];
    stream.read_exact(&mut rest).await?;
    parse_v2(&fixed, &rest).map_err(invalid)
}
