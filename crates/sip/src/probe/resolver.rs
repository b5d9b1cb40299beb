//! Telling "this name does not exist" from "this machine cannot ask DNS". Both fail the same
//! lookup, but only the first is the user's typo; the second is the server's configuration.

use std::io;

/// Whether a failed lookup means DNS could not be asked at all. getaddrinfo answers
/// `EAI_AGAIN` when no nameserver is configured (glibc then tries 127.0.0.1:53) or none
/// answers, and `EAI_NONAME` for a name that does not exist; the standard library passes on
/// only `gai_strerror`'s text, which is the same in glibc and musl.
pub fn unavailable(e: &io::Error) -> bool {
    e.to_string()
        .contains("Temporary failure in name resolution")
}

/// Whether `/etc/resolv.conf` names any nameserver.
pub fn nameserver_configured() -> bool {
    std::fs::read_to_string("/etc/resolv.conf").is_ok_and(|text| names_a_nameserver(&text))
}

fn names_a_nameserver(resolv_conf: &str) -> bool {
    resolv_conf.lines().any(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some("nameserver") && words.next().is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_lookup_failures_are_told_apart() {
        let again = io::Error::other(
            "failed to lookup address information: Temporary failure in name resolution",
        );
        let noname =
            io::Error::other("failed to lookup address information: Name or service not known");
        assert!(unavailable(&again));
        assert!(!unavailable(&noname));
    }

    #[test]
    fn resolv_conf_without_a_nameserver_line_configures_none() {
        assert!(names_a_nameserver(
            "search example.com\nnameserver 10.0.0.53\n"
        ));
        assert!(!names_a_nameserver(""));
        assert!(!names_a_nameserver(
            "# nameserver 10.0.0.53\nnameserver\noptions ndots:1\n"
        ));
    }
}
