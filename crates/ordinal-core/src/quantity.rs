//! Resource quantities (`500m`, `1Gi`, `1.5e9`) as apimachinery's
//! `resource.Quantity` reads them.
//!
//! The grammar is upstream's `ParseQuantity`: an optionally signed decimal
//! number, then a binary suffix (`Ki` … `Ei`), a decimal suffix (`n`, `u`,
//! `m`, `k`, `M` … `E`) or a decimal exponent (`e3`, `E-2`) whose value
//! fits an `int32`, as upstream's suffix parser requires. A quantity is
//! held as a count of nano-units, rounded up as upstream rounds anything
//! finer than `1n` up, and saturating far beyond any value upstream keeps
//! in an `int64` (about 4·10^28 whole units), so comparisons and sums never
//! overflow.
//!
//! Rounding to milli-units or whole units ([`Quantity::milli_value`],
//! [`Quantity::value`]) goes away from zero, as `MilliValue()` and
//! `Value()` do. The readers of k8s-openapi's `Quantity` ([`bytes`],
//! [`millis`], [`nanos`]) are for sizes and CPU the controllers and the node
//! compute with: for them a quantity too large to hold exactly is no number
//! at all (`None`), never a saturated one.

use std::cmp::Ordering;

/// A parsed quantity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity {
    nanos: i128,
}

/// The error text upstream's decoder gives for a malformed quantity.
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Where nano-unit counts saturate.
const LIMIT: i128 = i128::MAX / 4;
/// Nano-units in a milli-unit and in a unit.
const PER_MILLI: i128 = 1_000_000;
const PER_UNIT: i128 = 1_000_000_000;

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
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
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
        // Beyond ±100 every amount has saturated or rounds to one nano-unit.
        let scale = exp10.clamp(-100, 100) + 9 - fraction.len() as i64;
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

    /// The quantity of `nanos` nano-units (saturating).
    pub fn from_nanos(nanos: i128) -> Quantity {
        Quantity {
            nanos: nanos.clamp(-LIMIT, LIMIT),
        }
    }

    /// The amount in nano-units (`250m` is 250,000,000).
    pub fn nanos(self) -> i128 {
        self.nanos
    }

    /// The amount in milli-units, rounded away from zero (`MilliValue()`).
    pub fn milli_value(self) -> i128 {
        nanos_to_millis(self.nanos)
    }

    /// The amount in whole units, rounded away from zero (`Value()`).
    pub fn value(self) -> i128 {
        nanos_to_units(self.nanos)
    }

    /// Whether the amount is too large to be held exactly.
    pub fn is_saturated(self) -> bool {
        self.nanos.abs() >= LIMIT
    }

    /// Whether the amount is below zero (`Sign() < 0`).
    pub fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// Whether the amount is above zero (`Sign() > 0`).
    pub fn is_positive(self) -> bool {
        self.nanos > 0
    }

    /// Whether the amount is exactly zero (`IsZero()`).
    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// The sum, saturating.
    pub fn plus(self, other: Quantity) -> Quantity {
        Quantity::from_nanos(self.nanos.saturating_add(other.nanos))
    }

    /// Compares as `Quantity.Cmp` does.
    pub fn cmp_value(self, other: Quantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

/// Nano-units to milli-units, rounded away from zero (`MilliValue()` of a
/// sum of quantities).
pub fn nanos_to_millis(n: i128) -> i128 {
    div_away_from_zero(n, PER_MILLI)
}

/// Nano-units to whole units, rounded away from zero (`Value()` of a sum
/// of quantities).
pub fn nanos_to_units(n: i128) -> i128 {
    div_away_from_zero(n, PER_UNIT)
}

fn div_away_from_zero(n: i128, d: i128) -> i128 {
    let q = n / d;
    match n % d {
        0 => q,
        r if r > 0 => q + 1,
        _ => q - 1,
    }
}

/// The decimal and binary exponents of a suffix (`Gi` = 2^30, `k` = 10^3,
/// `e6` = 10^6).
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
            // Upstream reads the exponent with `strconv.ParseInt(_, 10, 32)`.
            let value: i32 = exp.parse().ok()?;
            Some((i64::from(value), 0))
        }
    }
}

#[cfg(feature = "k8s")]
pub use self::k8s::{bytes, bytes_or_zero, millis, nanos};

#[cfg(feature = "k8s")]
mod k8s {
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Text;

    use super::Quantity;

    /// The quantity, unless it is malformed or too large to hold exactly.
    fn exact(q: &Text) -> Option<Quantity> {
        Quantity::parse(q.0.trim()).filter(|q| !q.is_saturated())
    }

    /// The bytes a quantity stands for, rounded up as `Value()` rounds.
    pub fn bytes(q: &Text) -> Option<i128> {
        exact(q).map(Quantity::value)
    }

    /// The thousandths a quantity stands for (`250m` → 250, `1.5` → 1500),
    /// rounded up as `MilliValue()` does (the node's cgroups take CPU in
    /// thousandths of a core).
    pub fn millis(q: &Text) -> Option<i128> {
        exact(q).map(Quantity::milli_value)
    }

    /// The quantity in nano-units (`250m` is 250,000,000), for sums that
    /// round once, as upstream adds `Quantity` values before rounding.
    pub fn nanos(q: &Text) -> Option<i128> {
        exact(q).map(Quantity::nanos)
    }

    /// [`bytes`], with a missing or malformed quantity read as zero (as Go
    /// reads a missing map entry).
    pub fn bytes_or_zero(q: Option<&Text>) -> i128 {
        q.and_then(bytes).unwrap_or(0)
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
    fn exponents_are_upstreams_int32() {
        assert!(Quantity::parse("1e2147483647").is_some());
        assert!(Quantity::parse("1e-2147483648").is_some());
        assert_eq!(Quantity::parse("1e2147483648"), None);
        assert_eq!(Quantity::parse("1e-2147483649"), None);
        assert_eq!(q("1e-2147483648"), q("1n"), "rounds up to a nano-unit");
    }

    #[test]
    fn huge_values_saturate_instead_of_overflowing() {
        assert!(q("99999999999999999999999999999999999999999Ei") > q("1Ei"));
        assert!(q("1e100") > q("1e20"));
        assert_eq!(q("1e100"), q("1e90"), "both saturate");
        assert!(q("1e100").is_saturated());
        assert!(!q("1Ei").is_saturated());
        assert_eq!(q("1n"), Quantity { nanos: 1 });
        assert_eq!(q("0.1n"), Quantity { nanos: 1 });
    }

    #[test]
    fn rounding_goes_away_from_zero() {
        assert_eq!(q("1500m").value(), 2);
        assert_eq!(q("-1500m").value(), -2);
        assert_eq!(q("-0.0001").milli_value(), -1);
        assert_eq!(q("2").milli_value(), 2000);
    }

    #[cfg(feature = "k8s")]
    mod readers {
        use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

        use crate::quantity::*;

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
}
