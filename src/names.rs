//! Which names are allowed where a name becomes part of something else: a
//! file path under `--out`, a Kubernetes object, a label.
//!
//! Names a user writes (a policy's, a metric's, a manifest object's) end up
//! in output file names (`locust/<policy>/<job>_stats.csv`), in pod and Job
//! names, and in Markdown tables. Checking them once where they are read,
//! with a located error, keeps every later use safe: no name can hold `/`,
//! `..`, a newline or a control character.
//!
//! In: a name. Out: whether it is allowed, and the rule in words for the
//! hint. Neighbours: `crate::scenario::validate` (TOML names),
//! `crate::manifest::convert` (object names), `crate::analysis::validate`
//! (metric names).

/// The rule of [`is_safe_name`], for hints.
pub const SAFE_NAME_RULE: &str =
    "use letters, digits, '-', '_' and '.', starting with a letter or digit, at most 63 characters";

/// The rule of [`is_dns_subdomain`], for hints.
pub const DNS_SUBDOMAIN_RULE: &str = "a Kubernetes name: lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters";

/// A name canarysim may use as a file name: 1 to 63 characters from
/// `A-Z a-z 0-9 - _ .`, starting with a letter or digit (so never `.`,
/// `..` or a hidden file).
pub fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A Service or Rollout name (RFC 1035 label, Kubernetes'
/// `IsDNS1035Label`): at most 63 lowercase letters, digits and `-`,
/// starting with a letter and not ending with `-`.
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// The rule of [`is_dns_label`], for hints.
pub const DNS_LABEL_RULE: &str = "a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

/// A namespace or container name (RFC 1123 label, Kubernetes'
/// `IsDNS1123Label`): at most 63 lowercase letters, digits and `-`,
/// starting and ending with a letter or digit.
pub fn is_dns_label(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || c == '-')
}

/// A Kubernetes object name (RFC 1123 subdomain, as `metadata.name` of most
/// kinds): at most 253 characters of lowercase letters, digits, `-` and
/// `.`, starting and ending with a letter or digit.
pub fn is_dns_subdomain(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 253
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || c == '-' || c == '.')
        && s.split('.')
            .all(|part| !part.is_empty() && part.starts_with(alnum) && part.ends_with(alnum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_may_start_with_a_digit_a_service_may_not() {
        // IsDNS1123Label (namespaces, containers) against IsDNS1035Label
        // (Services): both lowercase, digits and '-', neither ends in '-'.
        for (s, rfc1123, rfc1035) in [
            ("checkout-canary", true, true),
            ("9lives", true, false),
            ("a", true, true),
            ("ends-", false, false),
            ("-starts", false, false),
            ("Upper", false, false),
            ("", false, false),
        ] {
            assert_eq!(is_dns_label(s), rfc1123, "{s}");
            assert_eq!(is_dns1035_label(s), rfc1035, "{s}");
        }
        assert!(is_dns_label(&"x".repeat(63)) && !is_dns_label(&"x".repeat(64)));
    }

    #[test]
    fn safe_names_cannot_climb_out_of_a_directory() {
        for ok in ["manual", "hardened-v2", "p_1.5", "A", "9lives"] {
            assert!(is_safe_name(ok), "{ok}");
        }
        for bad in [
            "",
            "..",
            ".",
            ".hidden",
            "../../../x",
            "a/b",
            "a\\b",
            "a\nb",
            "a|b",
            "-x",
            &"x".repeat(64),
        ] {
            assert!(!is_safe_name(bad), "{bad:?}");
        }
        assert!(is_safe_name(&"x".repeat(63)));
    }

    #[test]
    fn kubernetes_names_follow_rfc_1123_subdomains() {
        for ok in ["checkout", "canary-memory", "a.b-c.d", "0x"] {
            assert!(is_dns_subdomain(ok), "{ok}");
        }
        for bad in [
            "", "Checkout", "-a", "a-", "a..b", "a.-b", "a_b", "../x", "a/b",
        ] {
            assert!(!is_dns_subdomain(bad), "{bad:?}");
        }
        assert!(is_dns_subdomain(&"a".repeat(253)));
        assert!(!is_dns_subdomain(&"a".repeat(254)));
    }
}
