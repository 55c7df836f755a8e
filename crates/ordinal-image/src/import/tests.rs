//! Import scenarios: every format and compression, multi-platform
//! indexes, and broken archives that must leave the store as it was.

use std::fs;
use std::path::Path;

use super::*;
use crate::build::{BuiltImage, BuiltIndex, Format, ImageBuilder, Tagged, write};
use crate::compression::Compression;
use crate::progress::NoProgress;
use crate::unpack::listing;

fn sample() -> BuiltImage {
    ImageBuilder::new()
        .mkdir("/etc", 0o755)
        .add_bytes("/etc/hello", b"hello\n", 0o644)
        .add_bytes("/etc/gone", b"lower\n", 0o644)
        .layer()
        .add_bytes("/bin/app", &[1u8; 70_000], 0o755)
        .whiteout("/etc/gone")
        .entrypoint(["/bin/app"])
        .cmd(["--serve"])
        .env("MODE", "test")
        .workdir("/srv")
        .user("1000")
        .volume("/data")
        .build()
}

fn store() -> (tempfile::TempDir, ImageStore) {
    let tmp = tempfile::tempdir().unwrap();
    let s = ImageStore::open(&tmp.path().join("store")).unwrap();
    (tmp, s)
}

fn check_sample(s: &ImageStore, img: &BuiltImage, name: &str) {
    let got = s
        .get(&Reference::parse(name).unwrap())
        .expect("imported image by name");
    assert_eq!(got.id, img.id());
    assert_eq!(got.layers, img.diff_ids);
    assert_eq!(got.config.entrypoint, Some(vec!["/bin/app".to_string()]));
    assert_eq!(got.config.cmd, Some(vec!["--serve".to_string()]));
    assert!(got.config.env.contains(&"MODE=test".to_string()));
    assert_eq!(got.config.working_dir.as_deref(), Some("/srv"));
    assert_eq!(got.config.user.as_deref(), Some("1000"));
    assert_eq!(got.config.volumes, vec!["/data".to_string()]);
    let dirs = s.layer_dirs(&got).unwrap();
    assert_eq!(dirs.len(), 2);
    assert_eq!(fs::read(dirs[0].join("etc/hello")).unwrap(), b"hello\n");
    assert_eq!(fs::read(dirs[1].join("bin/app")).unwrap().len(), 70_000);
    let ids = s.layer_ids(&got).unwrap();
    assert_eq!(s.root().join("layers").join(&ids[1]), dirs[1]);
    let expected_size: u64 = img.layers.iter().map(|l| l.bytes.len() as u64).sum::<u64>()
        + img.config.bytes.len() as u64;
    assert_eq!(got.size, expected_size);
}

#[test]
fn every_format_and_compression_imports() {
    let img = sample();
    let layers_gz = img.clone();
    let plain = ImageBuilder::new()
        .add_bytes("/a", b"a", 0o644)
        .compression(Compression::None)
        .build();
    for format in [
        Format::OciArchive,
        Format::DockerArchive,
        Format::DockerOciArchive,
        Format::OciLayout,
    ] {
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            if format == Format::OciLayout && c != Compression::None {
                continue;
            }
            let (tmp, s) = store();
            let path = tmp.path().join("image");
            write(
                &path,
                format,
                c,
                &[
                    Tagged::one(&layers_gz, "example.com/app:1"),
                    Tagged::one(&plain, "plain"),
                ],
            )
            .unwrap();
            let images = s
                .import(&path, &NoProgress)
                .unwrap_or_else(|e| panic!("{format:?} {c:?}: {e}"));
            assert_eq!(images.len(), 2, "{format:?} {c:?}");
            check_sample(&s, &layers_gz, "example.com/app:1");
            let p = s
                .get(&Reference::parse("plain").unwrap())
                .expect("second image");
            assert_eq!(
                p.repo_tags,
                vec!["docker.io/library/plain:latest".to_string()]
            );
            if format != Format::DockerArchive {
                let app = s
                    .get(&Reference::parse("example.com/app:1").unwrap())
                    .unwrap();
                assert_eq!(
                    app.repo_digests,
                    vec![format!("example.com/app@{}", layers_gz.manifest.digest)]
                );
            }
            // Importing again stores nothing new.
            let layers_before = listing(&s.root().join("layers"));
            s.import(&path, &NoProgress).unwrap();
            assert_eq!(listing(&s.root().join("layers")), layers_before);
            assert_eq!(
                listing(&s.root().join("tmp")).len(),
                2,
                "only our work dir and its lock"
            );
        }
    }
}

#[test]
fn a_multi_platform_index_imports_this_machines_image_with_the_index_digest() {
    let here = ImageBuilder::new()
        .add_bytes("/arch", b"here", 0o644)
        .build();
    let other_arch = if crate::platform::goarch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let other = ImageBuilder::new()
        .add_bytes("/arch", b"other", 0o644)
        .platform("linux", other_arch)
        .build();
    let index = BuiltIndex::new(vec![other, here.clone()]);
    for format in [Format::OciArchive, Format::OciLayout] {
        let (tmp, s) = store();
        let path = tmp.path().join("multi");
        write(
            &path,
            format,
            Compression::Gzip,
            &[Tagged::index(&index, "multi:2")],
        )
        .unwrap();
        let images = s.import(&path, &NoProgress).unwrap();
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].id, here.id());
        assert_eq!(images[0].config.architecture, crate::platform::goarch());
        assert_eq!(
            images[0].repo_digests,
            vec![format!("docker.io/library/multi@{}", index.index.digest)]
        );
        let dirs = s.layer_dirs(&images[0]).unwrap();
        assert_eq!(fs::read(dirs[0].join("arch")).unwrap(), b"here");
        assert!(
            s.get(&Reference::parse(&format!("multi@{}", index.index.digest)).unwrap())
                .is_some()
        );
    }
    let only_other = BuiltIndex::new(vec![ImageBuilder::new().platform("linux", "s390x").build()]);
    let (tmp, s) = store();
    let path = tmp.path().join("other.tar");
    write(
        &path,
        Format::OciArchive,
        Compression::None,
        &[Tagged::index(&only_other, "x:1")],
    )
    .unwrap();
    let e = s.import(&path, &NoProgress).unwrap_err();
    assert!(e.to_string().contains("no image for linux/"), "{e}");
    assert!(e.to_string().contains("linux/s390x"), "{e}");
}

/// The store's files, for before/after comparisons.
fn snapshot(s: &ImageStore) -> Vec<String> {
    listing(s.root())
}

fn assert_refused(s: &ImageStore, path: &Path, what: &str, expect: &str) {
    let before = snapshot(s);
    let e = s.import(path, &NoProgress).expect_err(what);
    let msg = e.to_string();
    assert!(msg.contains(&path.display().to_string()), "{what}: {msg}");
    assert!(msg.contains(expect), "{what}: {msg}");
    assert_eq!(snapshot(s), before, "{what}: the store changed");
}

#[test]
fn broken_archives_are_refused_and_store_nothing() {
    let img = sample();
    let (tmp, s) = store();
    // A first image so that the store has records, lock and generation.
    let ok = tmp.path().join("ok.tar");
    let other = ImageBuilder::new().add_bytes("/x", b"x", 0o644).build();
    write(
        &ok,
        Format::OciArchive,
        Compression::None,
        &[Tagged::one(&other, "other:1")],
    )
    .unwrap();
    s.import(&ok, &NoProgress).unwrap();

    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let full = tmp.path().join("full.tar");
        write(
            &full,
            Format::DockerArchive,
            c,
            &[Tagged::one(&img, "app:1")],
        )
        .unwrap();
        let bytes = fs::read(&full).unwrap();
        let cut = tmp.path().join("cut.tar");
        fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        assert_refused(&s, &cut, &format!("truncated {c:?}"), "");
    }

    // A layer whose bytes differ from the digest its name claims.
    let oci = tmp.path().join("oci.tar");
    write(
        &oci,
        Format::OciArchive,
        Compression::None,
        &[Tagged::one(&img, "app:1")],
    )
    .unwrap();
    let mut bytes = fs::read(&oci).unwrap();
    let needle = &img.layers[1].bytes[100..132];
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("layer bytes in the archive");
    bytes[at + 5] ^= 0x55;
    let bad = tmp.path().join("bad-digest.tar");
    fs::write(&bad, &bytes).unwrap();
    assert_refused(&s, &bad, "flipped layer byte", "");

    // A docker-save layer that is not the one the config names (same
    // size, other content).
    let plain = |hello: &[u8]| {
        ImageBuilder::new()
            .add_bytes("/etc/hello", hello, 0o644)
            .compression(Compression::None)
            .build()
    };
    let (real, swapped) = (plain(b"hello\n"), plain(b"HELLO\n"));
    let legacy = tmp.path().join("legacy.tar");
    write(
        &legacy,
        Format::DockerArchive,
        Compression::None,
        &[Tagged::one(&real, "app:1")],
    )
    .unwrap();
    let mut archive_bytes = fs::read(&legacy).unwrap();
    let orig = &real.layers[0].bytes;
    let pos = archive_bytes
        .windows(orig.len())
        .position(|w| w == &orig[..])
        .unwrap();
    archive_bytes[pos..pos + orig.len()].copy_from_slice(&swapped.layers[0].bytes);
    let p = tmp.path().join("swapped.tar");
    fs::write(&p, &archive_bytes).unwrap();
    assert_refused(&s, &p, "swapped layer", "(uncompressed) has digest");

    let junk = tmp.path().join("junk.tar");
    fs::write(&junk, vec![0x42u8; 4096]).unwrap();
    assert_refused(&s, &junk, "not an archive", "");
    let empty = tmp.path().join("empty.tar");
    fs::write(&empty, b"").unwrap();
    assert_refused(&s, &empty, "empty", "");
    assert_eq!(s.list().len(), 1);
}

#[test]
fn a_tag_moves_to_the_newer_image_and_remove_untags_then_deletes() {
    let (tmp, s) = store();
    let v1 = ImageBuilder::new().add_bytes("/v", b"1", 0o644).build();
    let v2 = ImageBuilder::new().add_bytes("/v", b"2", 0o644).build();
    let p1 = tmp.path().join("v1.tar");
    let p2 = tmp.path().join("v2.tar");
    write(
        &p1,
        Format::DockerArchive,
        Compression::None,
        &[Tagged {
            content: crate::build::Content::Image(&v1),
            names: vec!["app:latest".into(), "app:1".into()],
        }],
    )
    .unwrap();
    write(
        &p2,
        Format::DockerArchive,
        Compression::None,
        &[Tagged::one(&v2, "app")],
    )
    .unwrap();
    let g0 = s.generation();
    s.import(&p1, &NoProgress).unwrap();
    assert!(s.generation() > g0);
    s.import(&p2, &NoProgress).unwrap();
    let latest = s.get(&Reference::parse("app").unwrap()).unwrap();
    assert_eq!(latest.id, v2.id());
    let old = s.find(v1.id()).unwrap();
    assert_eq!(old.repo_tags, vec!["docker.io/library/app:1".to_string()]);
    // A short id prefix finds it too.
    assert_eq!(s.find(&v1.id()[7..19]).unwrap().id, old.id);
    let removed = s.remove("app:1").unwrap();
    assert_eq!(removed.id, v1.id());
    assert!(s.find(v1.id()).is_none());
    assert!(matches!(s.remove("app:1"), Err(StoreError::NotFound(_))));
    assert_eq!(s.list().len(), 1);
}
