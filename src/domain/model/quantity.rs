//! Kubernetes resource quantities (`500m`, `1Gi`, `2e3`), read to compare them, as
//! k8s.io/apimachinery v0.33.0 `pkg/api/resource/quantity.go` defines them:
//! `<signedNumber><suffix>`, a decimal number (`1`, `1.5`, `.5`) and a binary-SI suffix (`Ki`
//! to `Ei`), a decimal-SI one (`n`, `u`, `m`, none, `k`, `M`, `G`, `T`, `P`, `E`) or a decimal
//! exponent (`e3`, `E-2`). Amounts finer than `1n` round up to it, as upstream's do. Pure.

/// A quantity in billionths (`1n`) of its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i128);

impl Quantity {
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The quantity as a number of units (for messages and ratios).
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

/// Billionths in one unit.
const NANOS: i128 = 1_000_000_000;

/// `text` as a quantity, or why it is none.
pub fn parse(text: &str) -> Result<Quantity, String> {
    let unfit = || format!("{text:?} is not a Kubernetes quantity (e.g. 500m, 2, 1.5Gi, 1e3)");
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(unfit());
    }
    let digits = format!("{whole}{fraction}");
    let mantissa: i128 = digits.parse().map_err(|_| unfit())?;
    let (numerator, denominator) = scale(suffix).ok_or_else(unfit)?;
    let denominator = 10i128
        .checked_pow(fraction.len() as u32)
        .and_then(|d| d.checked_mul(denominator))
        .ok_or_else(unfit)?;
    let scaled = mantissa.checked_mul(numerator).ok_or_else(unfit)?;
    // Rounded up to 1n, as upstream rounds what is finer.
    let nanos = scaled.div_euclid(denominator) + i128::from(scaled.rem_euclid(denominator) != 0);
    Ok(Quantity(if negative { -nanos } else { nanos }))
}

/// What one of a suffix is worth, in billionths: a fraction (numerator, denominator).
fn scale(suffix: &str) -> Option<(i128, i128)> {
    let binary = |power: u32| Some((2i128.pow(power) * NANOS, 1));
    let decimal = |exponent: i32| {
        let shifted = exponent + 9;
        if shifted >= 0 {
            Some((10i128.checked_pow(shifted as u32)?, 1))
        } else {
            Some((1, 10i128.checked_pow((-shifted) as u32)?))
        }
    };
    match suffix {
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        exponent if exponent.starts_with(['e', 'E']) => {
            let power = &exponent[1..];
            let unsigned = power.strip_prefix(['+', '-']).unwrap_or(power);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            decimal(power.parse::<i32>().ok().filter(|p| p.abs() <= 30)?)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn quantities_compare_across_suffixes() {
        assert_eq!(q("1"), q("1000m"));
        assert_eq!(q("1k"), q("1e3"));
        assert_eq!(q("1Ki"), q("1024"));
        assert_eq!(q("1.5Gi"), q("1536Mi"));
        assert_eq!(q(".5"), q("500m"));
        assert_eq!(q("+2"), q("2"));
        assert!(q("100m") < q("1"));
        assert!(q("1Gi") > q("1G"));
        assert!(q("-1").is_negative());
        assert_eq!(q("1E-3"), q("1m"));
        assert_eq!(q("2").as_f64(), 2.0);
    }

    #[test]
    fn what_is_finer_than_a_billionth_rounds_up_to_one() {
        assert_eq!(q("0.1n"), q("1n"));
        assert_eq!(q("1e-12"), q("1n"));
        assert_eq!(q("0"), Quantity(0));
    }

    #[test]
    fn what_is_no_quantity_is_refused() {
        for text in [
            "",
            "Gi",
            "1GB",
            "1.2.3",
            "one",
            "1 Gi",
            "1e",
            "1e+",
            "1Kii",
            "--1",
            "1e99",
            "99999999999999999999999999999999999999Ei",
        ] {
            assert!(parse(text).is_err(), "{text:?} accepted");
        }
    }
}
