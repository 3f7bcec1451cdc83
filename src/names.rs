//! Kubernetes names derived from untrusted input: namespace/Profile names, KFAM binding names,
//! and the label value that finds a user's objects again. Pure.

use sha2::{Digest, Sha256};

/// Longest DNS-1123 label (namespace and Profile names).
pub const MAX_LABEL_LEN: usize = 63;
/// Hex characters of the hash suffix given to names that had to be cut or lost characters.
const HASH_SUFFIX_LEN: usize = 8;

/// True when `name` is a DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_LABEL_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Turns any string into a DNS-1123 label, or `None` when nothing usable is left.
///
/// A valid label is kept as is. Otherwise the text is lowercased, every run of characters outside
/// `[a-z0-9]` becomes one `-`, and `-` is trimmed from both ends. Two inputs that would then look
/// alike although they differed in letters (non-ASCII letters and digits are lost here), or a
/// result longer than 63 characters, get a stable hash suffix so that distinct names stay distinct.
pub fn dns_label(input: &str) -> Option<String> {
    if is_dns_label(input) {
        return Some(input.to_owned());
    }
    let lowered = input.to_lowercase();
    let mut label = String::with_capacity(lowered.len());
    let mut lost_letters = false;
    for c in lowered.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            label.push(c);
        } else {
            lost_letters |= c.is_alphanumeric();
            if !label.ends_with('-') {
                label.push('-');
            }
        }
    }
    let label = label.trim_matches('-');
    if label.is_empty() {
        return None;
    }
    if !lost_letters && label.len() <= MAX_LABEL_LEN {
        return Some(label.to_owned());
    }
    // Hash what identifies the input up to case and separators: the ASCII label when only
    // separators were lost, the lowercased text when letters were.
    let identity = if lost_letters {
        lowered.as_str()
    } else {
        label
    };
    let suffix = &hex_sha256(identity)[..HASH_SUFFIX_LEN];
    let keep = MAX_LABEL_LEN - HASH_SUFFIX_LEN - 1;
    let head = label[..label.len().min(keep)].trim_end_matches('-');
    Some(format!("{head}-{suffix}"))
}

/// The name KFAM and the Kubeflow dashboard give a contributor's RoleBinding and its Istio twin:
/// `user-<email, every run of [^a-zA-Z0-9] as "-", lowercased>-clusterrole-<role>`.
pub fn kfam_binding_name(email: &str, role: &str) -> String {
    format!("user-{}-clusterrole-{role}", kfam_user_part(email))
}

/// The Python Lambda's binding name for a user, `user-<username>-kubeflow-org-clusterrole-<role>`
/// (it derived the email as `<username>@kubeflow.org`).
pub fn legacy_binding_name(user_name: &str, role: &str) -> String {
    kfam_binding_name(&format!("{user_name}@kubeflow.org"), role)
}

fn kfam_user_part(email: &str) -> String {
    let mut out = String::with_capacity(email.len());
    let mut in_run = false;
    for c in email.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    out
}

/// A label value that identifies a user's objects (an email is not a valid label value):
/// 40 hex characters of SHA-256 of the email.
pub fn user_label_value(email: &str) -> String {
    hex_sha256(email)[..40].to_owned()
}

fn hex_sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_valid_dns_labels() {
        let cases: &[(&str, Option<&str>)] = &[
            ("ridy-rumesh", Some("ridy-rumesh")),
            ("RIDY-RUMESH", Some("ridy-rumesh")),
            ("Data Science", Some("data-science")),
            ("ml_team.eu", Some("ml-team-eu")),
            ("  --a__b--  ", Some("a-b")),
            ("a--b", Some("a--b")),
            ("0team", Some("0team")),
            ("team!!!", Some("team")),
            ("", None),
            ("---", None),
            ("___ ... ", None),
            ("数据", None),
            ("🙂", None),
        ];
        for (input, expected) in cases {
            assert_eq!(dns_label(input).as_deref(), *expected, "input {input:?}");
        }
    }

    #[test]
    fn a_name_that_lost_letters_gets_a_hash_so_it_stays_distinct() {
        let a = dns_label("Équipe").unwrap();
        let b = dns_label("quipe").unwrap();
        assert_eq!(b, "quipe");
        assert_ne!(a, b);
        assert!(a.starts_with("quipe-") && is_dns_label(&a), "{a}");
        let x = dns_label("team-数据").unwrap();
        let y = dns_label("team-机器").unwrap();
        assert_ne!(x, y);
        assert!(x.starts_with("team-") && is_dns_label(&x), "{x}");
    }

    #[test]
    fn a_long_name_is_cut_with_a_stable_hash_suffix() {
        let long_a = format!("{}-a", "x".repeat(70));
        let long_b = format!("{}-b", "x".repeat(70));
        let a = dns_label(&long_a).unwrap();
        let b = dns_label(&long_b).unwrap();
        assert_eq!(a.len(), MAX_LABEL_LEN);
        assert!(is_dns_label(&a) && is_dns_label(&b));
        assert_ne!(a, b, "two long names must stay distinct after truncation");
        assert_eq!(a, dns_label(&long_a).unwrap(), "the suffix is stable");
        assert_eq!(dns_label(&a).unwrap(), a, "the result is kept as is");
    }

    #[test]
    fn a_cut_never_leaves_a_dash_before_the_suffix() {
        let input = format!("{}_{}", "y".repeat(53), "z".repeat(20));
        let label = dns_label(&input).unwrap();
        assert!(is_dns_label(&label) && !label.contains("--"), "{label}");
    }

    #[test]
    fn exactly_sixty_three_characters_is_kept() {
        let input = "a".repeat(63);
        assert_eq!(dns_label(&input).unwrap(), input);
        assert!(!is_dns_label(&"a".repeat(64)));
    }

    #[test]
    fn binding_names_follow_kfam() {
        assert_eq!(
            kfam_binding_name("alice.smith@example.com", "edit"),
            "user-alice-smith-example-com-clusterrole-edit"
        );
        assert_eq!(
            kfam_binding_name("Bob..O'Neil+ml@Corp.Example", "view"),
            "user-bob-o-neil-ml-corp-example-clusterrole-view"
        );
        assert_eq!(
            legacy_binding_name("rumesh", "edit"),
            "user-rumesh-kubeflow-org-clusterrole-edit"
        );
    }

    #[test]
    fn user_label_values_are_valid_and_distinct() {
        let a = user_label_value("alice@example.com");
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, user_label_value("Alice@example.com"));
    }
}
