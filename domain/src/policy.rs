//! The install's policy: what the operator decided for every workspace (who may sign up, how
//! long data may be kept, which proxies are trusted to name the client). Read once at start.

use std::net::IpAddr;
use std::str::FromStr;

/// Who may create an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignupMode {
    /// Anyone (each new account gets a workspace of its own).
    Open,
    /// Only an address with a pending invitation.
    Invite,
    /// Nobody, except the first user of an empty install.
    Closed,
}

impl SignupMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SignupMode::Open => "open",
            SignupMode::Invite => "invite",
            SignupMode::Closed => "closed",
        }
    }
}

impl FromStr for SignupMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(SignupMode::Open),
            "invite" => Ok(SignupMode::Invite),
            "closed" => Ok(SignupMode::Closed),
            other => Err(format!("must be open, invite or closed, not {other:?}")),
        }
    }
}

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `::1/128`; a bare address is /32
/// or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            // An IPv4 client seen through an IPv6 socket.
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            _ => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

/// Parses a comma-separated list of CIDRs.
pub fn parse_cidrs(list: &str) -> Result<Vec<Cidr>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(Cidr::from_str)
        .collect()
}

/// What the operator decided.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `ARGUS_ENV=production`: secure cookies, HSTS, no demo data.
    pub production: bool,
    pub signup: SignupMode,
    /// No workspace may keep data longer.
    pub max_retention_days: i32,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<Cidr>,
    /// Sign-ups per hour from one client address, and on the whole install.
    pub signups_per_address: u64,
    pub signups_global: u64,
}

/// The install's retention ceiling unless configured.
pub const DEFAULT_MAX_RETENTION_DAYS: i32 = 365;
/// Sign-ups an hour from one address, unless configured.
pub const DEFAULT_SIGNUPS_PER_ADDRESS: u64 = 5;
/// Sign-ups an hour on the install, unless configured.
pub const DEFAULT_SIGNUPS_GLOBAL: u64 = 100;

impl Default for Policy {
    /// Development: open sign-up, a year of retention, no trusted proxy.
    fn default() -> Self {
        Policy {
            production: false,
            signup: SignupMode::Open,
            max_retention_days: DEFAULT_MAX_RETENTION_DAYS,
            trusted_proxies: Vec::new(),
            signups_per_address: DEFAULT_SIGNUPS_PER_ADDRESS,
            signups_global: DEFAULT_SIGNUPS_GLOBAL,
        }
    }
}

impl Policy {
    /// The client's address: the peer, or — when the peer is a trusted proxy — the right-most
    /// address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: &[&str]) -> Option<IpAddr> {
        let peer = peer?;
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let mut client = peer;
        let hops = forwarded_for
            .iter()
            .flat_map(|h| h.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in hops.into_iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                // A hop we cannot read: trust nothing left of it.
                break;
            };
            client = ip;
            if !self.is_trusted(ip) {
                break;
            }
        }
        Some(client)
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|c| c.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_match_their_networks() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.9".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("10.1.0.1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "::/129", "1.2.3.4/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!(parse_cidrs(" 10.0.0.0/8, ::1 ,").unwrap().len(), 2);
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let open = Policy::default();
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        // Nobody trusted: the header is the client's to forge and is ignored.
        assert_eq!(open.client_ip(Some(peer), &["1.2.3.4"]), Some(peer));
        let behind = Policy {
            trusted_proxies: parse_cidrs("10.0.0.0/8").unwrap(),
            ..Policy::default()
        };
        assert_eq!(
            behind.client_ip(Some(peer), &["1.2.3.4"]),
            Some("1.2.3.4".parse().unwrap())
        );
        // A client that sends its own header: the proxy appends the real address; the
        // right-most untrusted hop is the client.
        assert_eq!(
            behind.client_ip(Some(peer), &["6.6.6.6, 1.2.3.4, 10.0.0.9"]),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            behind.client_ip(Some(peer), &["garbage, 10.0.0.9"]),
            Some("10.0.0.9".parse().unwrap())
        );
        assert_eq!(behind.client_ip(Some(peer), &[]), Some(peer));
        let outsider: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(
            behind.client_ip(Some(outsider), &["1.1.1.1"]),
            Some(outsider)
        );
    }
}
