//! Resource quantities (`1Gi`, `500M`, `1.5e9`, `250m`) as numbers.
//!
//! Storage sizes are read as whole bytes, the way apimachinery's
//! `Quantity.Value()` rounds them (up, to the next byte): the binder
//! compares a claim's request with a volume's capacity, the scheduler sorts
//! claims by size, and the resizer compares a request with the size a
//! claim has. The scheduler's resource fit adds requests up exactly, in
//! nano-units ([`nanos`]), and rounds once, as upstream adds `Quantity`
//! values before taking `MilliValue()` or `Value()`.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The bytes a quantity stands for, rounded up; `None` when the text is
/// not a quantity. Values beyond `i128` range saturate.
pub fn bytes(q: &Quantity) -> Option<i128> {
    parse(q.0.trim(), 0)
}

/// The thousandths a quantity stands for (`250m` → 250, `1.5` → 1500),
/// rounded up as `MilliValue()` does; `None` when the text is not a
/// quantity (the node's cgroups take CPU in thousandths of a core).
pub fn millis(q: &Quantity) -> Option<i128> {
    parse(q.0.trim(), 3)
}

/// The quantity in nano-units (`250m` is 250,000,000), rounded up; `None`
/// when the text is not a quantity.
pub fn nanos(q: &Quantity) -> Option<i128> {
    parse(q.0.trim(), 9)
}

/// Nano-units to milli-units, rounded up (`MilliValue()`).
pub fn nanos_to_millis(n: i128) -> i128 {
    div_ceil(n, 1_000_000)
}

/// Nano-units to whole units, rounded up (`Value()`).
pub fn nanos_to_units(n: i128) -> i128 {
    div_ceil(n, 1_000_000_000)
}

fn div_ceil(n: i128, d: i128) -> i128 {
    n / d + i128::from(n % d > 0)
}

/// [`bytes`], with a missing or malformed quantity read as zero (as Go
/// reads a missing map entry).
pub fn bytes_or_zero(q: Option<&Quantity>) -> i128 {
    q.and_then(bytes).unwrap_or(0)
}

/// The quantity times 10^`shift`, rounded up.
fn parse(s: &str, shift: i64) -> Option<i128> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let mut mantissa: i128 = 0;
    for d in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa
            .saturating_mul(10)
            .saturating_add(i128::from(d - b'0'));
    }
    let (exp10, exp2) = exponents(suffix)?;
    // value = mantissa * 10^(exp10 - fraction digits) * 2^exp2
    let mut value = mantissa.saturating_mul(1i128 << exp2);
    let scale = exp10 + shift - fraction.len() as i64;
    if scale >= 0 {
        value = value.saturating_mul(pow10(scale));
    } else {
        let divisor = pow10(-scale);
        value = value / divisor + i128::from(value % divisor != 0);
    }
    Some(if negative { -value } else { value })
}

fn pow10(n: i64) -> i128 {
    10i128
        .checked_pow(u32::try_from(n).unwrap_or(u32::MAX))
        .unwrap_or(i128::MAX)
}

/// The decimal and binary exponents of a suffix (`Gi` = 2^30, `k` = 10^3,
/// `e6` = 10^6).
fn exponents(suffix: &str) -> Option<(i64, u32)> {
    Some(match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let n: i64 = exp.parse().ok()?;
            if !(-30..=30).contains(&n) {
                return None;
            }
            (n, 0)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Option<i128> {
        bytes(&Quantity(s.into()))
    }

    #[test]
    fn millis_of_cpu_quantities() {
        let m = |s: &str| millis(&Quantity(s.into()));
        assert_eq!(m("250m"), Some(250));
        assert_eq!(m("1"), Some(1000));
        assert_eq!(m("1.5"), Some(1500));
        assert_eq!(m("0.0001"), Some(1));
        assert_eq!(m("100u"), Some(1));
        assert_eq!(m("2k"), Some(2_000_000));
        assert_eq!(m("-500m"), Some(-500));
        assert_eq!(m("x"), None);
    }

    #[test]
    fn binary_decimal_and_exponent_suffixes() {
        assert_eq!(b("1Gi"), Some(1 << 30));
        assert_eq!(b("1024Mi"), Some(1 << 30));
        assert_eq!(b("1G"), Some(1_000_000_000));
        assert_eq!(b("1.5Gi"), Some(3 << 29));
        assert_eq!(b("1e3"), Some(1000));
        assert_eq!(b("2E2"), Some(200));
        assert_eq!(b("100"), Some(100));
        assert_eq!(b("-1Ki"), Some(-1024));
    }

    #[test]
    fn fractions_round_up_to_a_byte() {
        assert_eq!(b("1500m"), Some(2));
        assert_eq!(b("0.1"), Some(1));
        assert_eq!(b("1.0001k"), Some(1001));
    }

    #[test]
    fn nano_units_keep_fractions_for_exact_sums() {
        let n = |s: &str| nanos(&Quantity(s.into()));
        assert_eq!(n("250m"), Some(250_000_000));
        assert_eq!(n("0.5"), Some(500_000_000));
        assert_eq!(n("2"), Some(2_000_000_000));
        assert_eq!(n("1Ki"), Some(1024 * 1_000_000_000));
        assert_eq!(n("1n"), Some(1));
        assert_eq!(nanos_to_millis(n("0.0001").unwrap()), 1);
        assert_eq!(nanos_to_millis(2 * n("0.0001").unwrap()), 1);
        assert_eq!(nanos_to_millis(n("1500m").unwrap()), 1500);
        assert_eq!(nanos_to_units(n("1500m").unwrap()), 2);
        assert_eq!(nanos_to_units(n("64Mi").unwrap()), 64 << 20);
    }

    #[test]
    fn malformed_quantities_are_none() {
        for s in ["", "Gi", "1..2", "1Xi", "abc", "1e99"] {
            assert_eq!(b(s), None, "{s}");
        }
        assert_eq!(bytes_or_zero(None), 0);
    }

    proptest::proptest! {
        /// The `quantity` fuzz target on stable: no text, however long or
        /// odd, makes a reader panic or overflow (the fuzz crate runs the
        /// same three on arbitrary bytes).
        #[test]
        fn no_text_makes_a_reader_fail(
            text in "[+-]{0,2}[0-9.]{0,60}([eE][+-]?[0-9]{0,30}|[numkMGTPE]|[KMGTPE]i|.{0,3})?",
            any_text in ".{0,40}",
        ) {
            for t in [&text, &any_text] {
                let q = Quantity(t.clone());
                if let (Some(n), Some(m)) = (nanos(&q), millis(&q)) {
                    let _ = nanos_to_millis(n).cmp(&m);
                    let _ = nanos_to_units(n);
                }
                let _ = bytes(&q);
            }
        }
    }
}
