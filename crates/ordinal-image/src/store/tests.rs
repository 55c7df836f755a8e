//! Store scenarios: crash leftovers swept, change notification across
//! handles, garbage collection on disk.

use std::collections::HashSet;
use std::fs;
use std::time::{Duration, Instant};

use super::*;
use crate::build::{Format, ImageBuilder, Tagged, write};
use crate::compression::Compression;
use crate::progress::NoProgress;

fn import_one(s: &ImageStore, dir: &Path, name: &str, content: &[u8]) -> Image {
    let img = ImageBuilder::new().add_bytes("/f", content, 0o644).build();
    let p = dir.join(format!("{}.tar", name.replace([':', '/'], "_")));
    write(
        &p,
        Format::OciArchive,
        Compression::None,
        &[Tagged::one(&img, name)],
    )
    .unwrap();
    s.import(&p, &NoProgress).unwrap().remove(0)
}

#[test]
fn leftovers_of_a_crash_are_swept_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let s = ImageStore::open(&root).unwrap();
    let img = import_one(&s, tmp.path(), "a:1", b"a");
    drop(s);
    // A layer renamed into place whose record was never written, and a
    // dead process's work directory.
    fs::create_dir_all(root.join("layers/99/etc")).unwrap();
    fs::create_dir_all(root.join("tmp/12345-0-1/layer-0/x")).unwrap();
    fs::write(root.join("tmp/12345-0-1.lock"), b"").unwrap();
    let s = ImageStore::open(&root).unwrap();
    assert!(!root.join("layers/99").exists());
    assert!(!root.join("tmp/12345-0-1").exists());
    assert!(!root.join("tmp/12345-0-1.lock").exists());
    assert_eq!(s.layer_dirs(&img).unwrap().len(), 1);
    // A live handle's work directory survives another handle's open.
    let work = s.work().path.clone();
    let _other = ImageStore::open(&root).unwrap();
    assert!(work.exists());
}

#[tokio::test]
async fn another_handles_import_wakes_a_subscriber_quickly() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let watcher = ImageStore::open(&root).unwrap();
    let mut rx = watcher.subscribe();
    let writer = ImageStore::open(&root).unwrap();
    let dir = tmp.path().to_path_buf();
    let started = Instant::now();
    let t = std::thread::spawn(move || import_one(&writer, &dir, "b:1", b"b"));
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .expect("woken")
        .unwrap();
    let waited = started.elapsed();
    t.join().unwrap();
    assert!(*rx.borrow() >= 1);
    assert!(
        waited < Duration::from_millis(400),
        "woken after {waited:?}"
    );
    assert!(watcher.get(&Reference::parse("b:1").unwrap()).is_some());
    // Another process renaming the generation file into place wakes it
    // as quickly.
    let seen = *rx.borrow_and_update();
    let started = Instant::now();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo {} > {root}/tmp/g && mv {root}/tmp/g {root}/generation",
            seen + 40,
            root = root.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .expect("woken")
        .unwrap();
    assert_eq!(*rx.borrow(), seen + 40);
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "woken after {:?}",
        started.elapsed()
    );
}

#[test]
fn gc_removes_unused_images_least_recently_used_first_and_their_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let s = ImageStore::open(&tmp.path().join("store")).unwrap();
    let old = import_one(&s, tmp.path(), "old:1", &[1u8; 100_000]);
    let used = import_one(&s, tmp.path(), "used:1", &[2u8; 100_000]);
    let recent = import_one(&s, tmp.path(), "recent:1", &[3u8; 100_000]);
    // Age the records as if stored long ago; `old` least recently used.
    for (img, used_at) in [(&old, 10), (&used, 5), (&recent, 1000)] {
        let mut rec = s.record(&img.id).unwrap();
        rec.created = 0;
        rec.last_used = used_at;
        s.write_record(&rec).unwrap();
    }
    for mut l in s.layer_records() {
        l.stored = 0;
        s.write_layer_record(&l).unwrap();
    }
    let policy = GcPolicy::default();
    let in_use: HashSet<String> = [used.id.clone()].into();
    let calm = DiskUsage {
        capacity_bytes: 1_000_000,
        available_bytes: 500_000,
        store_bytes: 0,
    };
    let report = s.gc_with_usage(&policy, &in_use, calm).unwrap();
    assert!(report.removed_images.is_empty());
    assert_eq!(s.list().len(), 3);
    // 90% used; freeing 100 kB reaches 80%.
    let full = DiskUsage {
        capacity_bytes: 1_000_000,
        available_bytes: 100_000,
        store_bytes: 0,
    };
    let old_dirs = s.layer_dirs(&old).unwrap();
    let report = s.gc_with_usage(&policy, &in_use, full).unwrap();
    assert_eq!(report.removed_images, vec![old.id.clone()]);
    assert_eq!(report.removed_layers, old.layers);
    assert!(!old_dirs[0].exists());
    assert!(s.find(&old.id).is_none());
    assert!(s.find(&used.id).is_some() && s.find(&recent.id).is_some());
    // An image in use stays however full the disk is.
    let report = s.gc_with_usage(&policy, &in_use, full).unwrap();
    assert_eq!(report.removed_images, vec![recent.id.clone()]);
    assert_eq!(s.list().len(), 1);
    assert!(s.layer_dirs(&used).unwrap()[0].exists());
    // The usage figures are real.
    let u = s.usage();
    assert!(u.capacity_bytes > 0 && u.store_bytes >= 100_000);
}

#[test]
fn a_stored_layer_is_shared_not_unpacked_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let s = ImageStore::open(&tmp.path().join("store")).unwrap();
    let base = ImageBuilder::new().add_bytes("/base", &[9u8; 1000], 0o644);
    let a = base.clone().layer().add_bytes("/a", b"a", 0o644).build();
    let b = base.layer().add_bytes("/b", b"b", 0o644).build();
    let pa = tmp.path().join("a.tar");
    let pb = tmp.path().join("b.tar");
    write(
        &pa,
        Format::DockerArchive,
        Compression::Gzip,
        &[Tagged::one(&a, "a")],
    )
    .unwrap();
    write(
        &pb,
        Format::DockerArchive,
        Compression::Gzip,
        &[Tagged::one(&b, "b")],
    )
    .unwrap();
    let ia = s.import(&pa, &NoProgress).unwrap().remove(0);
    let ib = s.import(&pb, &NoProgress).unwrap().remove(0);
    assert_eq!(s.layer_ids(&ia).unwrap()[0], s.layer_ids(&ib).unwrap()[0]);
    assert_eq!(s.layer_records().len(), 3);
}

#[test]
fn a_store_handle_is_shared_across_threads_and_touch_marks_use() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<ImageStore>();
    let tmp = tempfile::tempdir().unwrap();
    let s = ImageStore::open(&tmp.path().join("store")).unwrap();
    let img = import_one(&s, tmp.path(), "t:1", b"t");
    let mut rec = s.record(&img.id).unwrap();
    rec.last_used = 5;
    s.write_record(&rec).unwrap();
    let g = s.generation();
    s.touch(&img);
    assert!(s.record(&img.id).unwrap().last_used > 5);
    // Use is not a change of the set of images.
    assert_eq!(s.generation(), g);
}
