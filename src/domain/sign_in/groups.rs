//! The groups claim: the AD groups' exact names, as the IdP sent them. Pure.

use serde_json::Value;

/// Parses a groups claim: `[A, B]`, `A, B`, a bare `A`, or a JSON array string `["A","B"]`.
///
/// Names are kept exactly as the IdP sent them: only ASCII white space around a value is
/// trimmed, and nothing is lowercased or folded. With `decode`, each value is URL-form-decoded
/// first (`Data+Science` -> `Data Science`). Empty values are dropped; a name that repeats an
/// earlier one up to the case of ASCII letters (AD names are case-insensitive) is the same
/// group and is dropped too; first-occurrence order is kept.
pub fn parse_groups(claim: &str, decode: bool) -> Vec<String> {
    let claim = trim_ascii(claim);
    let values: Vec<String> = match serde_json::from_str::<Vec<Value>>(claim) {
        Ok(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        Err(_) => {
            let inner = claim
                .strip_prefix('[')
                .and_then(|c| c.strip_suffix(']'))
                .unwrap_or(claim);
            inner.split(',').map(str::to_owned).collect()
        }
    };
    let mut groups: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let value = trim_ascii(&value);
        let group = if decode {
            trim_ascii(&form_decode(value)).to_owned()
        } else {
            value.to_owned()
        };
        if !group.is_empty() && !groups.iter().any(|g| g.eq_ignore_ascii_case(&group)) {
            groups.push(group);
        }
    }
    groups
}

/// Trims ASCII white space only: a Unicode space is part of a name, not around it.
fn trim_ascii(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_ascii_whitespace())
}

/// `application/x-www-form-urlencoded` value decoding: `+` is a space, `%XX` a byte. A `%` not
/// followed by two hex digits stays as it is; invalid UTF-8 becomes U+FFFD.
fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).and_then(|p| hex_pair(p[0], p[1])) {
                Some(decoded) => {
                    out.push(decoded);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_claims_in_every_form_keep_the_exact_names() {
        let cases: &[(&str, &[&str])] = &[
            (
                "[RIDY-RUMESH, RIDY-JOSE, RUMESH]",
                &["RIDY-RUMESH", "RIDY-JOSE", "RUMESH"],
            ),
            ("RIDY-RUMESH, RIDY-JOSE", &["RIDY-RUMESH", "RIDY-JOSE"]),
            ("RIDY-RUMESH", &["RIDY-RUMESH"]),
            ("[RIDY-RUMESH]", &["RIDY-RUMESH"]),
            (
                r#"["RIDY-RUMESH","RIDY-JOSE"]"#,
                &["RIDY-RUMESH", "RIDY-JOSE"],
            ),
            (r#"["Data Science", 7, "ops"]"#, &["Data Science", "ops"]),
            // Not decoded unless configured: the claim's text is the name.
            (
                "[Data+Science, R%26D%2C+EU]",
                &["Data+Science", "R%26D%2C+EU"],
            ),
            // Repeats up to ASCII case are one AD group; the first spelling is kept.
            ("[ A , , a, B,b ]", &["A", "B"]),
            // Separators, accents and look-alikes make different groups.
            (
                "[data-science, Data_Science, \u{212A}F, KF, \u{e9}quipe, \u{c9}quipe]",
                &[
                    "data-science",
                    "Data_Science",
                    "\u{212A}F",
                    "KF",
                    "\u{e9}quipe",
                    "\u{c9}quipe",
                ],
            ),
            // Only ASCII white space is trimmed: a no-break space is part of the name.
            ("[\u{a0}ml]", &["\u{a0}ml"]),
            ("", &[]),
            ("[]", &[]),
            ("[ , ]", &[]),
        ];
        for (claim, expected) in cases {
            assert_eq!(parse_groups(claim, false), *expected, "claim {claim:?}");
        }
    }

    #[test]
    fn decoding_happens_only_when_configured() {
        let cases: &[(&str, &[&str])] = &[
            ("[Data+Science, R%26D%2C+EU]", &["Data Science", "R&D, EU"]),
            ("100%, 5%zz, %4", &["100%", "5%zz", "%4"]),
            ("%C3%89quipe", &["\u{c9}quipe"]),
            ("%FF", &["\u{fffd}"]),
            ("%52IDY-finance", &["RIDY-finance"]),
            ("[kube-x%0Aforged]", &["kube-x\nforged"]),
        ];
        for (claim, expected) in cases {
            assert_eq!(parse_groups(claim, true), *expected, "claim {claim:?}");
        }
        assert_eq!(parse_groups("%52IDY-finance", false), ["%52IDY-finance"]);
    }
}
