//! [`AddressRules`]: CIDR allow and deny lists for who may connect.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Allow and deny lists of networks. Deny wins; an empty allow list allows any address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressRules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<IpNet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<IpNet>,
}

impl AddressRules {
    /// Whether the rules say nothing (every address is permitted).
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// Whether `addr` may connect. An IPv4 peer on a dual-stack socket
    /// (`::ffff:a.b.c.d`) is judged by its IPv4 address.
    pub fn permits(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        if self.deny.iter().any(|net| net.contains(&addr)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|net| net.contains(&addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], deny: &[&str]) -> AddressRules {
        let nets = |list: &[&str]| list.iter().map(|s| s.parse().expect("test network parses")).collect();
        AddressRules { allow: nets(allow), deny: nets(deny) }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address parses")
    }

    #[test]
    fn empty_rules_permit_everyone() {
        assert!(AddressRules::default().permits(ip("203.0.113.9")));
        assert!(AddressRules::default().is_empty());
    }

    #[test]
    fn deny_wins_over_allow() {
        let rules = rules(&["10.0.0.0/8"], &["10.9.0.0/16"]);
        assert!(rules.permits(ip("10.1.2.3")));
        assert!(!rules.permits(ip("10.9.2.3")));
        assert!(!rules.permits(ip("192.0.2.1")));
    }

    #[test]
    fn mapped_ipv4_is_judged_as_ipv4() {
        let rules = rules(&[], &["127.0.0.0/8"]);
        assert!(!rules.permits(ip("::ffff:127.0.0.1")));
        assert!(rules.permits(ip("::1")));
    }

    #[test]
    fn rules_survive_the_wire() {
        let rules = rules(&["10.0.0.0/8", "2001:db8::/32"], &["10.9.0.0/16"]);
        let back: AddressRules = crate::decode(&crate::encode(&rules), 1 << 16).expect("decodes");
        assert_eq!(back, rules);
    }
}
