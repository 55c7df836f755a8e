//! Resource quantities (`500m`, `1Gi`, `1e3`) as apimachinery's
//! `resource.Quantity` reads them, for comparing requests with limits and
//! storage sizes.
//!
//! A quantity is held as a count of nano-units, saturating far beyond any
//! real value, which is exact for everything upstream keeps exact (it rounds
//! to milli-units on input anyway).

use std::cmp::Ordering;

/// A parsed quantity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity {
    nanos: i128,
}

/// The error text upstream's decoder gives for a malformed quantity.
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

const LIMIT: i128 = i128::MAX / 4;

fn saturate(v: Option<i128>) -> i128 {
    v.unwrap_or(LIMIT).min(LIMIT)
}

fn pow10(n: u32) -> i128 {
    saturate(10i128.checked_pow(n))
}

impl Quantity {
    /// Parses a quantity string; `None` when it is not one.
    pub fn parse(s: &str) -> Option<Quantity> {
        let (negative, rest) = match s.as_bytes().first()? {
            b'+' => (false, &s[1..]),
            b'-' => (true, &s[1..]),
            _ => (false, s),
        };
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_len);
        let (whole, fraction) = match number.split_once('.') {
            Some((w, f)) => (w, f),
            None => (number, ""),
        };
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return None;
        }
        let mut mantissa: i128 = 0;
        for d in whole.bytes().chain(fraction.bytes()) {
            mantissa = saturate(
                mantissa
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(i128::from(d - b'0'))),
            );
        }
        let (exp10, exp2) = suffix_exponents(suffix)?;
        let scale = exp10 + 9 - fraction.len() as i64;
        let mut nanos = if scale >= 0 {
            saturate(mantissa.checked_mul(pow10(scale.min(60) as u32)))
        } else {
            let div = pow10((-scale).min(60) as u32);
            // Sub-nano amounts round up, as upstream rounds up.
            mantissa / div + i128::from(mantissa % div != 0)
        };
        nanos = saturate(nanos.checked_mul(saturate(2i128.checked_pow(exp2))));
        Some(Quantity {
            nanos: if negative { -nanos } else { nanos },
        })
    }

    pub fn is_negative(self) -> bool {
        self.nanos < 0
    }

    pub fn is_positive(self) -> bool {
        self.nanos > 0
    }

    /// The sum, saturating.
    pub fn plus(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos).clamp(-LIMIT, LIMIT),
        }
    }

    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// Compares as `Quantity.Cmp` does.
    pub fn cmp_value(self, other: Quantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

/// The decimal and binary exponents of a suffix.
fn suffix_exponents(suffix: &str) -> Option<(i64, u32)> {
    let binary = |n| Some((0, n));
    match suffix {
        "" => Some((0, 0)),
        "n" => Some((-9, 0)),
        "u" => Some((-6, 0)),
        "m" => Some((-3, 0)),
        "k" => Some((3, 0)),
        "M" => Some((6, 0)),
        "G" => Some((9, 0)),
        "T" => Some((12, 0)),
        "P" => Some((15, 0)),
        "E" => Some((18, 0)),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let value: i64 = digits.parse().ok()?;
            let value = value.min(100);
            Some((if exp.starts_with('-') { -value } else { value }, 0))
        }
    }
}

/// Reads a JSON quantity: a string, or a bare number as kubectl sometimes
/// sends.
pub fn from_json(v: &serde_json::Value) -> Option<Quantity> {
    match v {
        serde_json::Value::String(s) => Quantity::parse(s),
        serde_json::Value::Number(n) => Quantity::parse(&n.to_string()),
        _ => None,
    }
}

/// The text of a JSON quantity for messages.
pub fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn equal_amounts_in_different_notations_compare_equal() {
        for (a, b) in [
            ("1Gi", "1073741824"),
            ("0.5", "500m"),
            ("1k", "1000"),
            ("1e3", "1k"),
            ("100m", ".1"),
            ("1.5Gi", "1536Mi"),
            ("+2", "2."),
            ("1E-3", "1m"),
        ] {
            assert_eq!(q(a), q(b), "{a} == {b}");
        }
        assert!(q("2") > q("1500m"));
        assert!(q("1Mi") > q("1M"));
        assert!(q("-1").is_negative());
        assert!(q("0Gi").is_zero());
    }

    #[test]
    fn malformed_quantities_are_rejected() {
        for s in [
            "", "abc", "1.2.3", ".", "1Q", "1e", "1Gi2", "--1", "1 Gi", "e3",
        ] {
            assert_eq!(Quantity::parse(s), None, "{s}");
        }
    }

    #[test]
    fn huge_values_saturate_instead_of_overflowing() {
        assert!(q("99999999999999999999999999999999999999999Ei") > q("1Ei"));
        assert!(q("1e100") > q("1e20"));
        assert_eq!(q("1e100"), q("1e90"), "both saturate");
        assert_eq!(q("1n"), Quantity { nanos: 1 });
        assert_eq!(q("0.1n"), Quantity { nanos: 1 });
    }
}
