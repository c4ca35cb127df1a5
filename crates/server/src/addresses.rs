//! Lists of address ranges (CIDR) in the configuration: the addresses exempt from flood
//! control (`[flood] exempt_addresses`) and from the per-address limits (`[limits]
//! exempt_addresses`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// Address ranges, each written `192.0.2.0/24`, `2001:db8::/32`, or a single address
/// (`127.0.0.1`, `::1`). An IPv4 client on an IPv6 socket (`::ffff:192.0.2.1`) matches the
/// IPv4 ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressList(Vec<IpNet>);

impl AddressList {
    /// The loopback ranges, `127.0.0.0/8` and `::1/128`: the default exemption from the
    /// per-address limits, so that local tools and a reverse proxy on the same machine (whose
    /// clients all arrive from loopback) are never refused.
    pub fn loopback() -> Self {
        Self(vec![
            "127.0.0.0/8".parse().expect("valid range"),
            "::1/128".parse().expect("valid range"),
        ])
    }

    /// Parses each entry; the error names the first that is not an address or a range.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| parse_range(entry.as_ref()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|range| range.contains(&address))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for AddressList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "[{}]", entries.join(", "))
    }
}

fn parse_range(entry: &str) -> Result<IpNet, String> {
    let entry = entry.trim();
    if let Ok(range) = IpNet::from_str(entry) {
        // `10.1.2.3/8` means `10.0.0.0/8`; store it as such so the list prints as it matches.
        return Ok(range.trunc());
    }
    IpAddr::from_str(entry).map(IpNet::from).map_err(|_| {
        format!("{entry:?} is not an address or an address range (such as 192.0.2.0/24)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_and_single_addresses_match_what_they_cover() {
        let list = AddressList::parse(&["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]).unwrap();
        assert!(list.contains(ip("10.200.1.1")));
        assert!(list.contains(ip("192.0.2.7")));
        assert!(!list.contains(ip("192.0.2.8")));
        assert!(list.contains(ip("2001:db8:1::5")));
        assert!(!list.contains(ip("2001:db9::1")));
        // An IPv4 client seen through an IPv6 socket.
        assert!(list.contains(ip("::ffff:10.1.1.1")));
    }

    #[test]
    fn the_loopback_list_covers_both_families() {
        let list = AddressList::loopback();
        assert!(list.contains(ip("127.0.0.1")));
        assert!(list.contains(ip("127.5.5.5")));
        assert!(list.contains(ip("::1")));
        assert!(!list.contains(ip("192.0.2.1")));
        assert_eq!(list.to_string(), "[127.0.0.0/8, ::1/128]");
    }

    #[test]
    fn a_wrong_entry_is_named() {
        let error = AddressList::parse(&["10.0.0.0/8", "ten"]).unwrap_err();
        assert!(error.contains("\"ten\""), "{error}");
        assert!(AddressList::parse(&["10.0.0.0/33"]).is_err());
        assert_eq!(
            AddressList::parse(&["10.1.2.3/8"]).unwrap().to_string(),
            "[10.0.0.0/8]"
        );
    }
}
