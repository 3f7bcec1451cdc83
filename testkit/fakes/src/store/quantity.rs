//! `resource.Quantity` as kube-apiserver reads one from a built-in object (kubernetes/apimachinery
//! v0.33.0 `pkg/api/resource/quantity.go` `ParseQuantity`, `suffix.go`, `math.go`, `amount.go`),
//! then rounds it up to thousandths as every `v1.ResourceList` is defaulted (kubernetes/kubernetes
//! `pkg/apis/core/v1/defaults.go` `SetDefaults_ResourceList`, `val.RoundUp(milliScale)`). Pure.
//!
//! The value is kept in thousandths (an `i128`, saturating far beyond anything int64 holds), so
//! that comparisons are exact as `Quantity.Cmp`'s are.

use std::cmp::Ordering;

/// `ErrFormatWrong` (quantity.go `splitREString`).
pub(super) const FORMAT_WRONG: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// `ErrSuffix`.
const SUFFIX_WRONG: &str = "unable to parse quantity's suffix";
/// Far beyond int64 thousandths; where values saturate.
const SATURATED: i128 = 10_i128.pow(36);
/// `maxAllowed` (2^63-1), the cap of BinarySI amounts, in thousandths.
const BINARY_CAP: i128 = (i64::MAX as i128) * 1000;
/// `resource.MaxMilliValue` (math.go).
pub(super) const MAX_MILLI_VALUE: i128 = (i64::MAX / 1000) as i128;

/// quantity.go `Format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    DecimalExponent,
    BinarySI,
    DecimalSI,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Quantity {
    /// The value in thousandths, rounded away from zero.
    milli: i128,
    format: Format,
    /// The text `ParseQuantity` keeps when the input looks canonical (its fast path), which
    /// `String()` then returns as written (so `+1` stays `+1`).
    kept: Option<String>,
}

/// `parseQuantityString`: sign, integer digits (leading zeros dropped), fraction, suffix.
struct Scan<'a> {
    positive: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

fn scan(text: &str) -> Result<Scan<'_>, &'static str> {
    let b = text.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => (positive, pos) = (false, 1),
        Some(b'+') => pos = 1,
        _ => {}
    }
    let done = |num, denom| {
        Ok(Scan {
            positive,
            num,
            denom,
            suffix: "",
        })
    };
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return done("0", "");
    }
    let start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos >= end {
        return done(&text[start..], "");
    }
    let num = if pos == start { "0" } else { &text[start..pos] };
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let from = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &text[from..pos];
        if pos >= end {
            return done(num, denom);
        }
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return Err(FORMAT_WRONG);
    }
    Ok(Scan {
        positive,
        num,
        denom,
        suffix: &text[suffix_start..],
    })
}

/// `suffixHandler.interpret`: (base, exponent, format).
fn interpret(suffix: &str) -> Option<(u32, i32, Format)> {
    const DECIMAL: [(&str, i32); 10] = [
        ("n", -9),
        ("u", -6),
        ("m", -3),
        ("", 0),
        ("k", 3),
        ("M", 6),
        ("G", 9),
        ("T", 12),
        ("P", 15),
        ("E", 18),
    ];
    const BINARY: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    if let Some((_, e)) = DECIMAL.iter().find(|(s, _)| *s == suffix) {
        return Some((10, *e, Format::DecimalSI));
    }
    if let Some(i) = BINARY.iter().position(|s| *s == suffix) {
        return Some((2, 10 * (i as i32 + 1), Format::BinarySI));
    }
    let exponent = suffix
        .strip_prefix(['e', 'E'])
        .filter(|_| suffix.len() > 1)?;
    // strconv.ParseInt(.., 10, 64), then int32(parsed) as Go converts.
    let parsed: i64 = exponent.parse().ok()?;
    Some((10, parsed as i32, Format::DecimalExponent))
}

/// `digits` (no sign) times 10^`shift`, rounded away from zero, saturating.
fn scaled(digits: &str, shift: i64) -> i128 {
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return 0;
    }
    if shift >= 0 {
        if digits.len() as i64 + shift > 36 {
            return SATURATED;
        }
        return digits.parse::<i128>().unwrap_or(SATURATED) * 10_i128.pow(shift as u32);
    }
    let dropped = (-shift).min(digits.len() as i64 + 1) as usize;
    if dropped > digits.len() {
        return 1;
    }
    let (kept, rest) = digits.split_at(digits.len() - dropped);
    if kept.len() > 36 {
        return SATURATED;
    }
    let kept = if kept.is_empty() {
        0
    } else {
        kept.parse::<i128>().unwrap_or(SATURATED)
    };
    kept + i128::from(rest.bytes().any(|d| d != b'0'))
}

/// `ParseQuantity` then `RoundUp(-3)`; the error is upstream's message.
pub(super) fn parse(text: &str) -> Result<Quantity, &'static str> {
    if text.is_empty() {
        return Err(FORMAT_WRONG);
    }
    if text == "0" {
        return Ok(Quantity {
            milli: 0,
            format: Format::DecimalSI,
            kept: Some("0".into()),
        });
    }
    let s = scan(text)?;
    let (base, exponent, mut format) = interpret(s.suffix).ok_or(SUFFIX_WRONG)?;
    let digits = format!("{}{}", s.num, s.denom);
    let mut milli = if base == 10 {
        scaled(&digits, i64::from(exponent) - s.denom.len() as i64 + 3)
    } else {
        let whole = scaled(&digits, 3);
        let shifted = whole.checked_mul(1_i128 << exponent).unwrap_or(SATURATED);
        scaled(&shifted.to_string(), -(s.denom.len() as i64)).min(BINARY_CAP)
    };
    if format == Format::BinarySI && milli > 0 && milli < 1000 {
        format = Format::DecimalSI;
    }
    if !s.positive {
        milli = -milli;
    }
    let kept = kept_text(text, &s, exponent, format, &digits);
    Ok(Quantity {
        milli,
        format,
        kept,
    })
}

/// Whether `ParseQuantity`'s fast path keeps `text` as the quantity's string (quantity.go
/// 295-343), and `RoundUp(-3)` leaves it (only when no more than 3 decimals are dropped).
fn kept_text(text: &str, s: &Scan, exponent: i32, format: Format, digits: &str) -> Option<String> {
    let (precision, scale) = match format {
        Format::BinarySI if exponent >= 0 && s.denom.is_empty() => {
            let bits = (exponent as f32 * 3.0 / 10.0) as i32;
            (15 - s.num.len() as i32 - bits - 1, 0)
        }
        Format::BinarySI => (-1, 0),
        _ => (18 - digits.len() as i32, exponent - s.denom.len() as i32),
    };
    if precision < 0 || scale < -9 {
        return None;
    }
    let value: i64 = digits.parse().ok()?;
    let canonical = match format {
        Format::BinarySI => {
            value.checked_mul(1_i64.checked_shl(exponent as u32)?)?;
            exponent % 10 == 0 && value & 7 != 0
        }
        _ => scale % 3 == 0 && !digits.ends_with("000") && !digits.starts_with('0'),
    };
    (canonical && scale >= -3).then(|| text.to_owned())
}

impl Quantity {
    pub(super) const ZERO: Quantity = Quantity {
        milli: 0,
        format: Format::DecimalSI,
        kept: None,
    };

    /// `NewQuantity(n, DecimalSI)`.
    pub(super) fn from_int(n: i64) -> Quantity {
        Quantity {
            milli: i128::from(n) * 1000,
            format: Format::DecimalSI,
            kept: None,
        }
    }

    /// `Cmp`.
    pub(super) fn cmp(&self, other: &Quantity) -> Ordering {
        self.milli.cmp(&other.milli)
    }

    /// `MilliValue`.
    pub(super) fn milli_value(&self) -> i128 {
        self.milli
    }

    /// `Value`: whole units, rounded away from zero (math.go `negativeScaleInt64`).
    pub(super) fn value(&self) -> i128 {
        let whole = self.milli / 1000;
        whole + (self.milli % 1000).signum()
    }

    /// `String()`: the kept text, or the canonical form (`CanonicalizeBytes`).
    pub(super) fn text(&self) -> String {
        if let Some(kept) = &self.kept {
            return kept.clone();
        }
        if self.milli == 0 {
            return "0".into();
        }
        let binary = self.format == Format::BinarySI
            && self.milli.abs() >= 1024 * 1000
            && self.milli % 1000 == 0;
        if binary {
            let (mut v, mut k) = (self.milli / 1000, 0);
            while k < 6 && v % 1024 == 0 {
                (v, k) = (v / 1024, k + 1);
            }
            return format!("{v}{}", ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k]);
        }
        let (mut m, mut e) = (self.milli, -3_i32);
        while m % 10 == 0 {
            (m, e) = (m / 10, e + 1);
        }
        while e % 3 != 0 {
            (m, e) = (m * 10, e - 1);
        }
        if self.format == Format::DecimalExponent {
            return if e == 0 {
                m.to_string()
            } else {
                format!("{m}e{e}")
            };
        }
        while e > 18 {
            (m, e) = (m.saturating_mul(1000), e - 3);
        }
        let suffix = ["m", "", "k", "M", "G", "T", "P", "E"][((e + 3) / 3) as usize];
        format!("{m}{suffix}")
    }
}

/// The pattern CRDs generated from `resource.Quantity` carry (kubeflow/manifests v1.10.2
/// `applications/admission-webhook/upstream/base/crd.yaml`, e.g. `divisor`), which the schema
/// validator matches as a regular expression (not with `ParseQuantity`: `1e2.5` passes, `.`
/// does not).
pub(super) const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// Whether `text` matches [`QUANTITY_PATTERN`].
pub(super) fn matches_quantity_pattern(text: &str) -> bool {
    /// `([0-9]+(\.[0-9]*)?)|(\.[0-9]+)`, greedy; what follows it.
    fn number(text: &str) -> Option<&str> {
        let int = text.bytes().take_while(u8::is_ascii_digit).count();
        let rest = &text[int..];
        match rest.strip_prefix('.') {
            Some(after) => {
                let frac = after.bytes().take_while(u8::is_ascii_digit).count();
                (int > 0 || frac > 0).then_some(&after[frac..])
            }
            None => (int > 0).then_some(rest),
        }
    }
    let unsigned = |t: &str| t.strip_prefix(['+', '-']).unwrap_or(t).to_owned();
    let Some(rest) = number(&unsigned(text)).map(str::to_owned) else {
        return false;
    };
    let b = rest.as_bytes();
    match b {
        [] => true,
        [c] if b"numkMGTPE".contains(c) => true,
        [c, b'i'] if b"KMGTPE".contains(c) => true,
        [b'e' | b'E', ..] => number(&unsigned(&rest[1..])) == Some(""),
        _ => false,
    }
}
