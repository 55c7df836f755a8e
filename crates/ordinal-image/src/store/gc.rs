//! Garbage collection with the kubelet's image GC semantics: when the
//! filesystem's usage reaches the high threshold, unused images go, least
//! recently used first, until usage is at the low threshold; images in use
//! and images younger than the minimum age stay. Layers that no image
//! references go as well.
//!
//! The decision ([`plan`]) is pure; [`ImageStore::gc`] carries it out.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::Duration;

use super::files::{self, LayerRecord};
use super::{ImageStore, StoreError, io_err};

/// When and how much to collect.
#[derive(Clone, Debug)]
pub struct GcPolicy {
    /// Collect when usage reaches this percentage (kubelet: 85).
    pub high_threshold_percent: u8,
    /// Collect down to this percentage (kubelet: 80).
    pub low_threshold_percent: u8,
    /// Images stored more recently than this stay (kubelet: 2 minutes).
    pub min_age: Duration,
    /// Unreferenced layers stored more recently than this stay: an import
    /// or pull in another process may be about to record an image that
    /// uses them.
    pub layer_grace: Duration,
}

impl Default for GcPolicy {
    fn default() -> Self {
        GcPolicy {
            high_threshold_percent: 85,
            low_threshold_percent: 80,
            min_age: Duration::from_secs(120),
            layer_grace: Duration::from_secs(600),
        }
    }
}

/// The filesystem holding the store, and the store's share of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskUsage {
    pub(crate) capacity_bytes: u64,
    pub(crate) available_bytes: u64,
    /// Bytes of unpacked layers and blobs.
    pub store_bytes: u64,
}

impl DiskUsage {
    /// Used percentage as the kubelet computes it.
    pub fn used_percent(&self) -> u64 {
        if self.capacity_bytes == 0 {
            return 0;
        }
        100 - (self.available_bytes as u128 * 100 / self.capacity_bytes as u128) as u64
    }
}

/// What a collection removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Ids of the removed images.
    pub removed_images: Vec<String>,
    /// Diff_ids of removed layers.
    pub removed_layers: Vec<String>,
    /// Disk bytes of the removed layers.
    pub freed_bytes: u64,
}

/// An image as the planner sees it.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub id: String,
    pub last_used: i64,
    pub created: i64,
    /// (diff_id, disk bytes) of its layers.
    pub layers: Vec<(String, u64)>,
}

/// The images to remove, in order: none below the high threshold;
/// otherwise unused, old-enough images, least recently used first, until
/// the bytes their removal frees (layers nothing else uses) bring usage to
/// the low threshold.
pub fn plan(
    images: &[Candidate],
    usage: &DiskUsage,
    policy: &GcPolicy,
    in_use: &HashSet<String>,
    now: i64,
) -> Vec<String> {
    if usage.capacity_bytes == 0 || usage.used_percent() < policy.high_threshold_percent as u64 {
        return Vec::new();
    }
    let target_available =
        usage.capacity_bytes as u128 * (100 - policy.low_threshold_percent as u128) / 100;
    let to_free = target_available.saturating_sub(usage.available_bytes as u128) as u64;
    let mut refs: HashMap<&str, usize> = HashMap::new();
    for i in images {
        for (d, _) in &i.layers {
            *refs.entry(d.as_str()).or_default() += 1;
        }
    }
    let mut order: Vec<&Candidate> = images
        .iter()
        .filter(|i| !in_use.contains(&i.id))
        .filter(|i| now - i.created >= policy.min_age.as_secs() as i64)
        .collect();
    order.sort_by(|a, b| a.last_used.cmp(&b.last_used).then(a.id.cmp(&b.id)));
    let mut freed = 0u64;
    let mut out = Vec::new();
    for i in order {
        if freed >= to_free {
            break;
        }
        for (d, size) in &i.layers {
            let n = refs.get_mut(d.as_str()).expect("counted above");
            *n -= 1;
            if *n == 0 {
                freed += size;
            }
        }
        out.push(i.id.clone());
    }
    out
}

pub(super) fn usage(store: &ImageStore) -> DiskUsage {
    let (capacity_bytes, available_bytes) = match rustix::fs::statvfs(store.root()) {
        Ok(s) => (s.f_blocks * s.f_frsize, s.f_bavail * s.f_frsize),
        Err(_) => (0, 0),
    };
    let layers: u64 = store.layer_records().iter().map(|l| l.disk_size).sum();
    let blobs_dir = store.root().join("blobs/sha256");
    let blobs: u64 = fs::read_dir(&blobs_dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    DiskUsage {
        capacity_bytes,
        available_bytes,
        store_bytes: layers + blobs,
    }
}

impl ImageStore {
    /// Collects garbage as [`plan`] decides, then removes layers no image
    /// references. `in_use` holds the ids of images containers use.
    pub fn gc(&self, policy: &GcPolicy, in_use: &HashSet<String>) -> Result<GcReport, StoreError> {
        self.gc_with_usage(policy, in_use, self.usage())
    }

    /// [`ImageStore::gc`] against a given usage (tests simulate a full disk).
    #[doc(hidden)]
    pub fn gc_with_usage(
        &self,
        policy: &GcPolicy,
        in_use: &HashSet<String>,
        usage: DiskUsage,
    ) -> Result<GcReport, StoreError> {
        let _lock = self.lock()?;
        let layers: HashMap<String, LayerRecord> = self
            .layer_records()
            .into_iter()
            .map(|l| (l.diff_id.clone(), l))
            .collect();
        let records = self.image_records();
        let candidates: Vec<Candidate> = records
            .iter()
            .map(|r| Candidate {
                id: r.id.clone(),
                last_used: r.last_used,
                created: r.created,
                layers: r
                    .layers
                    .iter()
                    .map(|d| (d.clone(), layers.get(d).map_or(0, |l| l.disk_size)))
                    .collect(),
            })
            .collect();
        let now = files::now();
        let doomed = plan(&candidates, &usage, policy, in_use, now);
        let mut report = GcReport::default();
        for r in records.iter().filter(|r| doomed.contains(&r.id)) {
            self.delete_record(r)?;
            report.removed_images.push(r.id.clone());
        }
        // Layers of the images kept stay; the rest go once past the grace
        // period (a commit in progress elsewhere may be about to use them).
        let referenced: HashSet<&String> = records
            .iter()
            .filter(|r| !doomed.contains(&r.id))
            .flat_map(|r| r.layers.iter())
            .collect();
        for l in layers.values() {
            if referenced.contains(&l.diff_id)
                || now - l.stored < policy.layer_grace.as_secs() as i64
            {
                continue;
            }
            self.delete_layer(l)?;
            report.removed_layers.push(l.diff_id.clone());
            report.freed_bytes += l.disk_size;
        }
        if !report.removed_images.is_empty() {
            self.bump_generation()?;
        }
        Ok(report)
    }

    /// Record first, then the directory: a crash in between leaves an
    /// unrecorded directory, removed at the next open.
    fn delete_layer(&self, l: &LayerRecord) -> Result<(), StoreError> {
        let layers = self.root().join("layers");
        let json = layers.join(format!("{}.json", l.id));
        match fs::remove_file(&json) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&json)(e)),
        }
        let dir = layers.join(l.id.to_string());
        let doomed = self.work().fresh("doomed-");
        match fs::rename(&dir, &doomed) {
            Ok(()) => crate::unpack::confined::remove_tree(&doomed).map_err(io_err(&doomed)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&dir)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, last_used: i64, layers: &[(&str, u64)]) -> Candidate {
        Candidate {
            id: id.into(),
            last_used,
            created: 0,
            layers: layers.iter().map(|(d, s)| (d.to_string(), *s)).collect(),
        }
    }

    const GB: u64 = 1 << 30;

    fn usage(used_percent: u64) -> DiskUsage {
        DiskUsage {
            capacity_bytes: 100 * GB,
            available_bytes: (100 - used_percent) * GB,
            store_bytes: 0,
        }
    }

    #[test]
    fn nothing_below_the_high_threshold() {
        let images = [img("a", 1, &[("l1", 10 * GB)])];
        assert!(
            plan(
                &images,
                &usage(84),
                &GcPolicy::default(),
                &HashSet::new(),
                1000
            )
            .is_empty()
        );
    }

    #[test]
    fn least_recently_used_first_until_the_low_threshold() {
        // 90% used: 10 GB must go to reach 80%.
        let images = [
            img("new", 300, &[("l3", 6 * GB)]),
            img("old", 100, &[("l1", 6 * GB)]),
            img("mid", 200, &[("l2", 6 * GB)]),
        ];
        let p = plan(
            &images,
            &usage(90),
            &GcPolicy::default(),
            &HashSet::new(),
            1000,
        );
        assert_eq!(p, vec!["old".to_string(), "mid".to_string()]);
    }

    #[test]
    fn in_use_and_young_images_stay_and_shared_layers_free_nothing() {
        let mut young = img("young", 0, &[("l4", 50 * GB)]);
        young.created = 990;
        let images = [
            img("used", 0, &[("l1", 50 * GB)]),
            img("shares", 1, &[("l2", 50 * GB)]),
            img("also", 2, &[("l2", 50 * GB)]),
            young,
        ];
        let in_use: HashSet<String> = ["used".to_string()].into();
        let p = plan(&images, &usage(95), &GcPolicy::default(), &in_use, 1000);
        // "shares" frees nothing alone (its layer is shared), so "also"
        // goes too; "used" and "young" never.
        assert_eq!(p, vec!["shares".to_string(), "also".to_string()]);
    }
}
