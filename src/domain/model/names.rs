//! Kubernetes names derived from untrusted input: namespace/Profile names, KFAM binding names,
//! and the label value that finds a user's objects again; and the rules such names follow (DNS
//! labels and subdomains, label values, qualified names). Pure.

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

/// True when `name` is a DNS-1123 subdomain (the names of most namespaced objects): DNS labels
/// joined by `.`, at most 253 characters.
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// A Kubernetes qualified name: an optional DNS-subdomain prefix and `/`, then at most 63
/// letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit
/// (k8s.io/apimachinery v0.33.0 `pkg/util/validation/validation.go`, `IsQualifiedName`).
pub fn is_qualified_name(name: &str) -> bool {
    let (prefix, name) = match name.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, name),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

/// A label value: empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and ending
/// with a letter or digit (the same file, `IsValidLabelValue`).
pub fn is_label_value(value: &str) -> bool {
    let edge = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    value.len() <= 63
        && edge(value.chars().next())
        && edge(value.chars().last())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Turns any string into a DNS-1123 label, or `None` when nothing usable is left.
///
/// A valid label is kept as is. Otherwise ASCII letters are lowercased (and nothing else: no
/// Unicode case mapping, under which the Kelvin sign becomes `k`), every run of characters
/// outside `[a-z0-9]` becomes one `-`, and `-` is trimmed from both ends. A name that lost
/// non-ASCII characters, or a result longer than 63 characters, gets a stable hash suffix of
/// the whole name, so that names differing in those characters stay apart.
/// Names differing only in separators (`Data_Science`, `data-science`) map to one label: which
/// AD group owns it is recorded on its Profile (see [`crate::domain::sign_in::desired`]).
pub fn dns_label(input: &str) -> Option<String> {
    if is_dns_label(input) {
        return Some(input.to_owned());
    }
    let mut label = String::with_capacity(input.len());
    let mut lost_characters = false;
    for c in input.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            label.push(c);
        } else {
            lost_characters |= !c.is_ascii();
            if !label.ends_with('-') {
                label.push('-');
            }
        }
    }
    let label = label.trim_matches('-');
    if label.is_empty() {
        return None;
    }
    if !lost_characters && label.len() <= MAX_LABEL_LEN {
        return Some(label.to_owned());
    }
    // Hash the ASCII label when only separators were lost, the whole name when other characters
    // were. The whole name is lowercased as version 0.1 did, so that its namespaces keep their
    // names; this is only a hash input: names it folds together are told apart by the group
    // record on the Profile.
    let identity = if lost_characters {
        input.to_lowercase()
    } else {
        label.to_owned()
    };
    let suffix = &hex_sha256(&identity)[..HASH_SUFFIX_LEN];
    let keep = MAX_LABEL_LEN - HASH_SUFFIX_LEN - 1;
    let head = label[..label.len().min(keep)].trim_end_matches('-');
    Some(format!("{head}-{suffix}"))
}

/// Which generation of KFAM (Kubeflow's access management, behind the dashboard's
/// "Manage contributors") names the contributor objects of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KfamNaming {
    /// Kubeflow >= 1.3: runs of `[^a-zA-Z0-9]` become `-`, then everything is lowercased.
    Current,
    /// Kubeflow 1.2: runs of `[^a-z0-9]` become `-` before lowercasing, so capitals are lost.
    Kubeflow12,
}

/// The name KFAM and the Kubeflow dashboard give a contributor's RoleBinding and its Istio twin
/// (`getBindingName` in kubeflow/kubeflow `components/access-management/kfam/bindings.go`):
/// `lower(join("-", "User", replace(email), "ClusterRole", role))`, with runs of characters
/// outside the kept set replaced by `-` once more, so the joins leave no double dash.
pub fn kfam_binding_name(email: &str, role: &str, naming: KfamNaming) -> String {
    let keep = |c: char| match naming {
        KfamNaming::Current => c.is_ascii_alphanumeric(),
        KfamNaming::Kubeflow12 => c.is_ascii_lowercase() || c.is_ascii_digit(),
    };
    let user = replace_runs(email, keep);
    let raw = format!("User-{user}-ClusterRole-{role}").to_lowercase();
    replace_runs(&raw, keep)
}

/// `text` with every run of characters `keep` refuses replaced by one `-`.
fn replace_runs(text: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if keep(c) {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    out
}

/// The Python Lambda's binding name for a user, `user-<username>-kubeflow-org-clusterrole-<role>`
/// (it derived the email as `<username>@kubeflow.org`).
pub fn legacy_binding_name(user_name: &str, role: &str) -> String {
    kfam_binding_name(
        &format!("{user_name}@kubeflow.org"),
        role,
        KfamNaming::Current,
    )
}

/// A deterministic variant of `name` for the person or thing `key` stands for, at most `max`
/// characters: `name` (cut if need be) and 8 hex characters of SHA-256 of `key`. Used where a
/// name derived from a person is already someone else's (look-alike people: `jo.smith` and
/// `jo_smith`).
pub fn collision_safe(name: &str, key: &str, max: usize) -> String {
    let suffix = &hex_sha256(key)[..HASH_SUFFIX_LEN];
    let keep = max.saturating_sub(HASH_SUFFIX_LEN + 1);
    let head = name[..name.len().min(keep)].trim_end_matches('-');
    format!("{head}-{suffix}")
}

/// The user label value of objects made by versions before 0.2, which keyed people on their
/// email (40 hex characters of SHA-256 of the email as sent). Such objects are found by it and
/// re-labelled with the Cognito `sub` at the user's next federated sign-in.
pub fn legacy_user_label_value(email: &str) -> String {
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
        let a = dns_label("\u{c9}quipe").unwrap();
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
    fn binding_names_are_exactly_kfams_for_each_generation() {
        use KfamNaming::{Current, Kubeflow12};
        let cases: &[(&str, &str, KfamNaming, &str)] = &[
            (
                "alice.smith@example.com",
                "edit",
                Current,
                "user-alice-smith-example-com-clusterrole-edit",
            ),
            (
                "_svc.ml@corp.example",
                "edit",
                Current,
                "user-svc-ml-corp-example-clusterrole-edit",
            ),
            ("a.b@c.d.", "view", Current, "user-a-b-c-d-clusterrole-view"),
            (
                "a..b__c@d",
                "edit",
                Current,
                "user-a-b-c-d-clusterrole-edit",
            ),
            (
                "Rumesh.Perera@Corp.com",
                "edit",
                Current,
                "user-rumesh-perera-corp-com-clusterrole-edit",
            ),
            (
                "Bob..O'Neil+ml@Corp.Example",
                "view",
                Current,
                "user-bob-o-neil-ml-corp-example-clusterrole-view",
            ),
            (
                "jos\u{e9}@corp.example",
                "edit",
                Current,
                "user-jos-corp-example-clusterrole-edit",
            ),
            (
                "\u{c9}mile@corp.example",
                "edit",
                Current,
                "user-mile-corp-example-clusterrole-edit",
            ),
            (
                "Rumesh.Perera@Corp.com",
                "edit",
                Kubeflow12,
                "user-umesh-erera-orp-com-clusterrole-edit",
            ),
            (
                "alice.smith@example.com",
                "edit",
                Kubeflow12,
                "user-alice-smith-example-com-clusterrole-edit",
            ),
            (
                "_svc.ml@corp.example",
                "edit",
                Kubeflow12,
                "user-svc-ml-corp-example-clusterrole-edit",
            ),
            ("ABC@X.Y", "view", Kubeflow12, "user-clusterrole-view"),
        ];
        for (email, role, naming, expected) in cases {
            assert_eq!(
                kfam_binding_name(email, role, *naming),
                *expected,
                "{email} {naming:?}"
            );
        }
        assert_eq!(
            legacy_binding_name("rumesh", "edit"),
            "user-rumesh-kubeflow-org-clusterrole-edit"
        );
    }

    #[test]
    fn collision_safe_names_are_valid_stable_and_distinct() {
        let a = collision_safe("profile-jo-smith", "sub-a", MAX_LABEL_LEN);
        let b = collision_safe("profile-jo-smith", "sub-b", MAX_LABEL_LEN);
        assert_ne!(a, b);
        assert!(
            a.starts_with("profile-jo-smith-") && is_dns_label(&a),
            "{a}"
        );
        assert_eq!(
            a,
            collision_safe("profile-jo-smith", "sub-a", MAX_LABEL_LEN)
        );
        let long = collision_safe(&"x".repeat(70), "k", MAX_LABEL_LEN);
        assert!(long.len() <= MAX_LABEL_LEN && is_dns_label(&long), "{long}");
    }

    #[test]
    fn legacy_user_label_values_are_what_earlier_versions_wrote() {
        let a = legacy_user_label_value("alice@example.com");
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, legacy_user_label_value("Alice@example.com"));
    }

    #[test]
    fn unicode_look_alikes_never_fold_into_an_ascii_name() {
        // Under Unicode case mapping the Kelvin sign lowercases to "k" and U+0130 to "i̇".
        for look_alike in [
            "\u{212A}ubeflow-team",
            "\u{130}stio-system",
            "ml\u{a0}",
            "\u{a0}ml",
            "kube\u{2010}system",
        ] {
            let label = dns_label(look_alike).unwrap();
            assert!(is_dns_label(&label), "{label}");
            for plain in ["kubeflow-team", "istio-system", "ml", "kube-system"] {
                assert_ne!(label, plain, "{look_alike:?} must not become {plain}");
            }
        }
        assert_ne!(
            dns_label("\u{212A}ubeflow-team"),
            dns_label("\u{17F}ubeflow-team"),
            "two look-alikes stay apart too"
        );
    }
}
