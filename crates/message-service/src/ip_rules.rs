//! Which peer addresses may call the MessageService.

use std::net::IpAddr;

use ipnet::IpNet;

/// Allow and deny lists of networks. Deny wins; an empty allow list allows all.
#[derive(Clone, Debug, Default)]
pub(crate) struct IpRules {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
}

impl IpRules {
    pub(crate) fn new(allow: Vec<IpNet>, deny: Vec<IpNet>) -> Self {
        IpRules { allow, deny }
    }

    pub(crate) fn permits(&self, addr: IpAddr) -> bool {
        // An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d.
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

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().expect("test network parses")).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address parses")
    }

    #[test]
    fn empty_rules_allow_everything() {
        let rules = IpRules::default();
        assert!(rules.permits(ip("127.0.0.1")));
        assert!(rules.permits(ip("::1")));
    }

    #[test]
    fn allow_list_restricts() {
        let rules = IpRules::new(nets(&["10.0.0.0/8"]), vec![]);
        assert!(rules.permits(ip("10.1.2.3")));
        assert!(!rules.permits(ip("127.0.0.1")));
        assert!(!rules.permits(ip("::1")));
    }

    #[test]
    fn deny_wins_over_allow() {
        let rules = IpRules::new(nets(&["10.0.0.0/8"]), nets(&["10.9.0.0/16"]));
        assert!(rules.permits(ip("10.1.2.3")));
        assert!(!rules.permits(ip("10.9.1.1")));
    }

    #[test]
    fn mapped_ipv4_is_matched_as_ipv4() {
        let rules = IpRules::new(nets(&["192.0.2.0/24"]), vec![]);
        assert!(rules.permits(ip("::ffff:192.0.2.7")));
        let rules = IpRules::new(vec![], nets(&["192.0.2.0/24"]));
        assert!(!rules.permits(ip("::ffff:192.0.2.7")));
    }
}
