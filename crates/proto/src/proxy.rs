//! The PROXY protocol (HAProxy, versions 1 and 2): the header a load balancer or reverse
//! proxy sends first on each connection it opens to us, naming the client it came from. Pure
//! parsing; the server reads the header's bytes (exactly them, nothing of what follows) and
//! asks this module what they say. Specification: "The PROXY protocol", haproxy.org,
//! `doc/proxy-protocol.txt`.
//!
//! Version 1 is one text line, at most 107 bytes with its CRLF: `PROXY TCP4 192.0.2.1
//! 198.51.100.1 56324 443\r\n` (or `TCP6`, or `UNKNOWN` with anything after it). Version 2 is
//! binary: a 12-byte signature, a version/command byte, a family/transport byte, a 2-byte
//! length, then that many bytes of addresses (and optional TLVs, which are skipped).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;

/// The first bytes of a version 1 header.
pub const V1_PREFIX: &[u8] = b"PROXY ";
/// The longest version 1 header, CRLF included.
pub const V1_MAX_BYTES: usize = 107;
/// The signature every version 2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// A version 2 header's fixed part: the signature, version/command, family, length.
pub const V2_FIXED_BYTES: usize = 16;

/// Where a proxied connection really comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxied {
    /// The client's address and port, as the proxy saw them.
    Client(SocketAddr),
    /// A connection the proxy opened itself (a health check: v1 `UNKNOWN`, v2 `LOCAL`, or an
    /// address family other than IP): it has no other client, so the proxy's own address
    /// stands.
    Local,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProxyError {
    #[error("the connection did not start with a PROXY protocol header")]
    NotProxy,
    #[error("malformed PROXY protocol header: {0}")]
    Malformed(&'static str),
}

/// Reads a version 1 header: `line` is everything up to and including its LF.
pub fn parse_v1(line: &[u8]) -> Result<Proxied, ProxyError> {
    let malformed = ProxyError::Malformed;
    let rest = line.strip_prefix(V1_PREFIX).ok_or(ProxyError::NotProxy)?;
    let rest = rest
        .strip_suffix(b"\r\n")
        .ok_or(malformed("a version 1 header ends with CRLF"))?;
    if line.len() > V1_MAX_BYTES {
        return Err(malformed("a version 1 header is at most 107 bytes"));
    }
    let text = std::str::from_utf8(rest).map_err(|_| malformed("not ASCII"))?;
    let mut words = text.split(' ');
    let family = words.next().unwrap_or_default();
    if family == "UNKNOWN" {
        return Ok(Proxied::Local);
    }
    let fields: Vec<&str> = words.collect();
    let [source, _destination, source_port, _destination_port] = fields[..] else {
        return Err(malformed(
            "a version 1 header has four fields after its family",
        ));
    };
    let address: IpAddr = source
        .parse()
        .map_err(|_| malformed("bad source address"))?;
    let port: u16 = source_port
        .parse()
        .map_err(|_| malformed("bad source port"))?;
    let fits = match family {
        "TCP4" => address.is_ipv4(),
        "TCP6" => address.is_ipv6(),
        _ => return Err(malformed("the family is TCP4, TCP6 or UNKNOWN")),
    };
    if !fits {
        return Err(malformed("the address does not match the family"));
    }
    Ok(Proxied::Client(SocketAddr::new(address, port)))
}

/// How many bytes follow a version 2 header's fixed part (`fixed`: its first 16 bytes).
pub fn v2_remaining(fixed: &[u8; V2_FIXED_BYTES]) -> Result<usize, ProxyError> {
    if fixed[..12] != V2_SIGNATURE {
        return Err(ProxyError::NotProxy);
    }
    if fixed[12] >> 4 != 2 {
        return Err(ProxyError::Malformed("the version is not 2"));
    }
    Ok(usize::from(u16::from_be_bytes([fixed[14], fixed[15]])))
}

/// Reads a version 2 header: its fixed part, and the `rest` of the length it gives.
pub fn parse_v2(fixed: &[u8; V2_FIXED_BYTES], rest: &[u8]) -> Result<Proxied, ProxyError> {
    let malformed = ProxyError::Malformed;
    if v2_remaining(fixed)? != rest.len() {
        return Err(malformed("the length does not match"));
    }
    match fixed[12] & 0x0f {
        0x0 => return Ok(Proxied::Local),
        0x1 => {}
        _ => return Err(malformed("the command is LOCAL or PROXY")),
    }
    // The high nibble is the address family (1 IPv4, 2 IPv6, 3 Unix), the low one the
    // transport; anything but IP has no client address for us.
    let address = match fixed[13] >> 4 {
        0x1 => {
            let bytes: [u8; 12] = rest
                .get(..12)
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or(malformed("an IPv4 header carries 12 bytes of addresses"))?;
            let ip = Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]);
            SocketAddr::new(ip.into(), u16::from_be_bytes([bytes[8], bytes[9]]))
        }
        0x2 => {
            let bytes: [u8; 36] = rest
                .get(..36)
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or(malformed("an IPv6 header carries 36 bytes of addresses"))?;
            let octets: [u8; 16] = bytes[..16].try_into().expect("16 bytes");
            SocketAddr::new(
                Ipv6Addr::from(octets).into(),
                u16::from_be_bytes([bytes[32], bytes[33]]),
            )
        }
        _ => return Ok(Proxied::Local),
    };
    Ok(Proxied::Client(address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(text: &str) -> Proxied {
        Proxied::Client(text.parse().unwrap())
    }

    #[test]
    fn version_1_names_the_client() {
        assert_eq!(
            parse_v1(b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"),
            Ok(client("192.0.2.1:56324"))
        );
        assert_eq!(
            parse_v1(b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 6697\r\n"),
            Ok(client("[2001:db8::1]:4000"))
        );
        assert_eq!(parse_v1(b"PROXY UNKNOWN\r\n"), Ok(Proxied::Local));
        assert_eq!(
            parse_v1(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"),
            Ok(Proxied::Local)
        );
    }

    #[test]
    fn version_1_mistakes_are_refused() {
        assert_eq!(parse_v1(b"NICK alice\r\n"), Err(ProxyError::NotProxy));
        for wrong in [
            &b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\n"[..],
            b"PROXY TCP4 2001:db8::1 198.51.100.1 56324 443\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.1 70000 443\r\n",
            b"PROXY TCP4 192.0.2.1 198.51.100.1 56324\r\n",
            b"PROXY UDP4 192.0.2.1 198.51.100.1 56324 443\r\n",
        ] {
            assert!(
                matches!(parse_v1(wrong), Err(ProxyError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(wrong)
            );
        }
        let long = format!("PROXY TCP4 {}\r\n", "1".repeat(120));
        assert!(parse_v1(long.as_bytes()).is_err());
    }

    fn v2(command: u8, family: u8, rest: &[u8]) -> ([u8; 16], Vec<u8>) {
        let mut fixed = [0; 16];
        fixed[..12].copy_from_slice(&V2_SIGNATURE);
        fixed[12] = 0x20 | command;
        fixed[13] = family;
        fixed[14..].copy_from_slice(&u16::try_from(rest.len()).unwrap().to_be_bytes());
        (fixed, rest.to_vec())
    }

    #[test]
    fn version_2_names_the_client_and_skips_tlvs() {
        let mut ipv4 = vec![192, 0, 2, 1, 198, 51, 100, 1];
        ipv4.extend_from_slice(&56324u16.to_be_bytes());
        ipv4.extend_from_slice(&443u16.to_be_bytes());
        ipv4.extend_from_slice(&[0x04, 0x00, 0x01, 0xff]); // a TLV
        let (fixed, rest) = v2(1, 0x11, &ipv4);
        assert_eq!(v2_remaining(&fixed), Ok(16));
        assert_eq!(parse_v2(&fixed, &rest), Ok(client("192.0.2.1:56324")));

        let mut ipv6 = Vec::new();
        ipv6.extend_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        ipv6.extend_from_slice(&[0; 16]);
        ipv6.extend_from_slice(&4000u16.to_be_bytes());
        ipv6.extend_from_slice(&6697u16.to_be_bytes());
        let (fixed, rest) = v2(1, 0x21, &ipv6);
        assert_eq!(parse_v2(&fixed, &rest), Ok(client("[2001:db8::7]:4000")));

        let (fixed, rest) = v2(0, 0x00, &[]);
        assert_eq!(parse_v2(&fixed, &rest), Ok(Proxied::Local));
    }

    #[test]
    fn version_2_mistakes_are_refused() {
        let (mut fixed, rest) = v2(1, 0x11, &[0; 4]);
        assert!(matches!(
            parse_v2(&fixed, &rest),
            Err(ProxyError::Malformed(_))
        ));
        assert!(parse_v2(&fixed, &[0; 3]).is_err(), "length mismatch");
        fixed[12] = 0x11;
        assert!(matches!(
            v2_remaining(&fixed),
            Err(ProxyError::Malformed(_))
        ));
        fixed[0] = b'X';
        assert_eq!(v2_remaining(&fixed), Err(ProxyError::NotProxy));
    }
}
