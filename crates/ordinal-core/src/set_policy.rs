//! ordinal's StatefulSet annotations: the choices where ordinal's
//! controller departs from upstream's, each selected on an unchanged
//! `apps/v1` StatefulSet, with upstream's behaviour one value away.
//!
//! | annotation | values (default first) | upstream's behaviour |
//! |---|---|---|
//! | `ordinal.dev/rollout-recovery` | `Automatic`, `Manual` | `Manual` |
//! | `ordinal.dev/reserved-ordinals` | ordinals and ranges, `"1,4-5"` | none reserved |
//! | `ordinal.dev/pod-update-policy` | `ReCreate`, `InPlaceIfPossible` | `ReCreate` |
//! | `ordinal.dev/teardown` | `Ordered`, `Unordered` | `Unordered` |
//!
//! The API server refuses a set whose annotations do not parse (422, with
//! the annotation's field path); a controller running against another
//! API server records a Warning event and leaves the set as it is. Both
//! read the annotations here, so they agree on what is valid.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ordinal_core::set_policy::{Policies, RolloutRecovery, RESERVED_ORDINALS};
//!
//! let annotations = BTreeMap::from([(RESERVED_ORDINALS.to_string(), "1, 4-5".to_string())]);
//! let policies = Policies::parse(Some(&annotations)).unwrap();
//! assert!(policies.reserved.contains(4) && !policies.reserved.contains(3));
//! assert_eq!(policies.rollout_recovery, RolloutRecovery::Automatic);
//! ```

use std::collections::BTreeMap;
use std::fmt;

/// Whether a rollout stuck on a pod that is not Ready recovers by itself.
pub const ROLLOUT_RECOVERY: &str = "ordinal.dev/rollout-recovery";
/// Ordinals that are kept empty.
pub const RESERVED_ORDINALS: &str = "ordinal.dev/reserved-ordinals";
/// Whether an image-only revision updates pods in place.
pub const POD_UPDATE_POLICY: &str = "ordinal.dev/pod-update-policy";
/// Whether a foreground deletion removes pods highest ordinal first.
pub const TEARDOWN: &str = "ordinal.dev/teardown";

/// The largest ordinal a reservation may name: ordinals are `int32` in the
/// API (`spec.ordinals.start`, `replicas`), so nothing above can exist.
pub const MAX_ORDINAL: i64 = i32::MAX as i64;

/// `ordinal.dev/rollout-recovery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RolloutRecovery {
    /// A pod that is not at the update revision and not Ready is replaced
    /// at once, instead of the rollout waiting for it forever.
    #[default]
    Automatic,
    /// Upstream's behaviour: the rollout waits until the pod is Ready or
    /// someone deletes it.
    Manual,
}

/// `ordinal.dev/pod-update-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PodUpdatePolicy {
    /// Upstream's behaviour: an outdated pod is deleted and created again.
    #[default]
    ReCreate,
    /// A revision that changes only container images (and metadata)
    /// updates the pod in place; anything else is recreated.
    InPlaceIfPossible,
}

/// `ordinal.dev/teardown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Teardown {
    /// A foreground deletion removes pods highest ordinal first, each after
    /// the previous one is gone (all at once under `Parallel`).
    #[default]
    Ordered,
    /// Upstream's behaviour: the garbage collector deletes every pod at once.
    Unordered,
}

/// A set of ordinals, as sorted, disjoint, non-adjacent inclusive ranges,
/// so that `"0-2000000000"` costs one range, not two billion entries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ordinals {
    ranges: Vec<(i64, i64)>,
}

impl Ordinals {
    /// No ordinal.
    pub const fn none() -> Ordinals {
        Ordinals { ranges: Vec::new() }
    }

    /// Parses `"1,4-5"`: ordinals and inclusive ranges, comma-separated,
    /// spaces allowed around each item. The empty string is no ordinal.
    pub fn parse(text: &str) -> Result<Ordinals, String> {
        let mut ranges = Vec::new();
        if text.trim().is_empty() {
            return Ok(Ordinals::none());
        }
        for item in text.split(',') {
            let item = item.trim();
            let (low, high) = match item.split_once('-') {
                Some((low, high)) => (ordinal(low, item)?, ordinal(high, item)?),
                None => {
                    let one = ordinal(item, item)?;
                    (one, one)
                }
            };
            if low > high {
                return Err(format!(
                    "range {item:?} ends before it starts; write the lower ordinal first"
                ));
            }
            ranges.push((low, high));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
        for (low, high) in ranges {
            match merged.last_mut() {
                Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
                _ => merged.push((low, high)),
            }
        }
        Ok(Ordinals { ranges: merged })
    }

    /// Whether `ordinal` is in the set.
    pub fn contains(&self, ordinal: i64) -> bool {
        self.range_of(ordinal).is_some()
    }

    /// The range of the set holding `ordinal`, if any.
    pub fn range_of(&self, ordinal: i64) -> Option<(i64, i64)> {
        let i = self.ranges.partition_point(|&(_, high)| high < ordinal);
        self.ranges
            .get(i)
            .copied()
            .filter(|&(low, _)| low <= ordinal)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// How many ordinals of the set lie in `low..high`.
    pub fn count_between(&self, low: i64, high: i64) -> i64 {
        self.ranges
            .iter()
            .map(|&(a, b)| (b.min(high - 1) - a.max(low) + 1).max(0))
            .sum()
    }

    /// The ordinals from `start` up that are not in the set, lazily, in
    /// ascending order; none beyond [`MAX_ORDINAL`].
    pub fn free_after(&self, start: i64) -> impl Iterator<Item = i64> + '_ {
        let mut next = start.max(0);
        let mut i = self.ranges.partition_point(|&(_, high)| high < next);
        std::iter::from_fn(move || {
            while let Some(&(low, high)) = self.ranges.get(i) {
                if low > next {
                    break;
                }
                next = next.max(high + 1);
                i += 1;
            }
            (next <= MAX_ORDINAL).then(|| {
                next += 1;
                next - 1
            })
        })
    }
}

impl fmt::Display for Ordinals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(low, high)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if low == high {
                write!(f, "{low}")?;
            } else {
                write!(f, "{low}-{high}")?;
            }
        }
        Ok(())
    }
}

fn ordinal(text: &str, item: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{item:?} is not an ordinal or a range of ordinals (write \"1,4-5\")"
        ));
    }
    match text.parse::<i64>() {
        Ok(n) if n <= MAX_ORDINAL => Ok(n),
        _ => Err(format!(
            "{text} is larger than the largest ordinal, {MAX_ORDINAL}"
        )),
    }
}

/// One annotation that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The annotation's key.
    pub key: &'static str,
    /// Its value.
    pub value: String,
    /// Why it is refused, with the values that would be accepted.
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "metadata.annotations[{}]: Invalid value: {:?}: {}",
            self.key, self.value, self.message
        )
    }
}

/// Every ordinal choice of one set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policies {
    /// `ordinal.dev/rollout-recovery`.
    pub rollout_recovery: RolloutRecovery,
    /// `ordinal.dev/reserved-ordinals`.
    pub reserved: Ordinals,
    /// `ordinal.dev/pod-update-policy`.
    pub pod_update: PodUpdatePolicy,
    /// `ordinal.dev/teardown`.
    pub teardown: Teardown,
}

impl Policies {
    /// Reads the set's annotations. Annotations outside `ordinal.dev/` and
    /// absent ones leave the default; every invalid one is reported.
    pub fn parse(annotations: Option<&BTreeMap<String, String>>) -> Result<Policies, Vec<Invalid>> {
        let mut policies = Policies::default();
        let mut invalid = Vec::new();
        let Some(annotations) = annotations else {
            return Ok(policies);
        };
        let mut check = |key: &'static str, result: Result<(), String>| {
            if let Err(message) = result {
                invalid.push(Invalid {
                    key,
                    value: annotations[key].clone(),
                    message,
                });
            }
        };
        if let Some(value) = annotations.get(ROLLOUT_RECOVERY) {
            check(
                ROLLOUT_RECOVERY,
                choice(
                    value,
                    &[
                        ("Automatic", RolloutRecovery::Automatic),
                        ("Manual", RolloutRecovery::Manual),
                    ],
                )
                .map(|v| policies.rollout_recovery = v),
            );
        }
        if let Some(value) = annotations.get(RESERVED_ORDINALS) {
            check(
                RESERVED_ORDINALS,
                Ordinals::parse(value).map(|v| policies.reserved = v),
            );
        }
        if let Some(value) = annotations.get(POD_UPDATE_POLICY) {
            check(
                POD_UPDATE_POLICY,
                choice(
                    value,
                    &[
                        ("ReCreate", PodUpdatePolicy::ReCreate),
                        ("InPlaceIfPossible", PodUpdatePolicy::InPlaceIfPossible),
                    ],
                )
                .map(|v| policies.pod_update = v),
            );
        }
        if let Some(value) = annotations.get(TEARDOWN) {
            check(
                TEARDOWN,
                choice(
                    value,
                    &[
                        ("Ordered", Teardown::Ordered),
                        ("Unordered", Teardown::Unordered),
                    ],
                )
                .map(|v| policies.teardown = v),
            );
        }
        if invalid.is_empty() {
            Ok(policies)
        } else {
            Err(invalid)
        }
    }
}

fn choice<T: Copy>(value: &str, options: &[(&str, T)]) -> Result<T, String> {
    options
        .iter()
        .find(|(name, _)| *name == value)
        .map(|&(_, v)| v)
        .ok_or_else(|| {
            let names: Vec<String> = options.iter().map(|(n, _)| format!("{n:?}")).collect();
            format!("supported values: {}", names.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ordinals_parse_merge_and_print() {
        let o = Ordinals::parse(" 5-6, 1 ,4, 7").unwrap();
        assert_eq!(o.to_string(), "1,4-7");
        assert!(o.contains(1) && o.contains(4) && o.contains(7));
        assert!(!o.contains(0) && !o.contains(2) && !o.contains(8));
        assert_eq!(o.range_of(5), Some((4, 7)));
        assert_eq!(o.range_of(3), None);
        assert!(Ordinals::parse("").unwrap().is_empty());
        assert_eq!(
            Ordinals::parse("0-2147483647").unwrap().to_string(),
            "0-2147483647"
        );
    }

    #[test]
    fn bad_ordinals_say_what_to_write() {
        for bad in [
            "x-",
            "-1",
            "1,",
            "3-1",
            "1.5",
            "a",
            "2147483648",
            "1--2",
            "99999999999999999999",
        ] {
            let err = Ordinals::parse(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
        assert!(
            Ordinals::parse("3-1")
                .unwrap_err()
                .contains("lower ordinal first")
        );
        assert!(Ordinals::parse("x-").unwrap_err().contains("\"1,4-5\""));
    }

    fn free_from(o: &Ordinals, start: i64, count: usize) -> Vec<i64> {
        o.free_after(start).take(count).collect()
    }

    #[test]
    fn free_ordinals_skip_the_reserved_ones() {
        let o = Ordinals::parse("1,4-5").unwrap();
        assert_eq!(free_from(&o, 0, 4), [0, 2, 3, 6]);
        assert_eq!(free_from(&o, 2, 3), [2, 3, 6]);
        assert_eq!(free_from(&Ordinals::none(), 3, 2), [3, 4]);
        assert_eq!(
            free_from(&Ordinals::parse("0-2147483647").unwrap(), 0, 3),
            Vec::<i64>::new()
        );
        assert_eq!(
            free_from(&Ordinals::parse("2147483646").unwrap(), 2147483645, 3),
            [2147483645, 2147483647]
        );
        assert_eq!(free_from(&o, 4, 2), [6, 7]);
        assert_eq!(o.count_between(0, 5), 2);
        assert_eq!(o.count_between(2, 5), 1);
        assert_eq!(o.count_between(6, 100), 0);
    }

    #[test]
    fn policies_default_to_ordinals_choices_and_report_every_bad_value() {
        assert_eq!(Policies::parse(None).unwrap(), Policies::default());
        let p = Policies::parse(Some(&annotations(&[
            (ROLLOUT_RECOVERY, "Manual"),
            (POD_UPDATE_POLICY, "InPlaceIfPossible"),
            (TEARDOWN, "Unordered"),
            ("other", "x"),
        ])))
        .unwrap();
        assert_eq!(p.rollout_recovery, RolloutRecovery::Manual);
        assert_eq!(p.pod_update, PodUpdatePolicy::InPlaceIfPossible);
        assert_eq!(p.teardown, Teardown::Unordered);
        let errs = Policies::parse(Some(&annotations(&[
            (ROLLOUT_RECOVERY, "manual"),
            (RESERVED_ORDINALS, "x-"),
        ])))
        .unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].key, ROLLOUT_RECOVERY);
        assert!(errs[0].message.contains("\"Manual\""), "{}", errs[0]);
        assert_eq!(
            errs[1].to_string(),
            "metadata.annotations[ordinal.dev/reserved-ordinals]: Invalid value: \"x-\": \"x-\" is not an ordinal or a range of ordinals (write \"1,4-5\")"
        );
    }
}
