//! Unpacking scenarios: overlay format, metadata kept, and hostile layers
//! that try to write outside their directory.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tar::EntryType;

use super::*;
use crate::build::{self, Entry};
use crate::compression::Compression;

struct Scene {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    layer: PathBuf,
    sentinel: PathBuf,
}

/// A layer directory beside a sentinel directory that must stay as it is.
fn scene() -> Scene {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    let layer = base.join("layer");
    let sentinel = base.join("sentinel");
    fs::create_dir(&layer).unwrap();
    fs::create_dir(&sentinel).unwrap();
    fs::write(sentinel.join("secret"), b"untouched").unwrap();
    Scene {
        _tmp: tmp,
        base,
        layer,
        sentinel,
    }
}

impl Scene {
    fn unpack(&self, entries: &[Entry]) -> Result<Unpacked, UnpackError> {
        let tar = build::layer_tar(entries).unwrap();
        unpack(&tar[..], &self.layer)
    }

    /// Nothing outside the layer changed.
    fn assert_contained(&self) {
        assert_eq!(listing(&self.sentinel), vec!["secret".to_string()]);
        assert_eq!(
            fs::read(self.sentinel.join("secret")).unwrap(),
            b"untouched"
        );
        assert_eq!(
            fs::metadata(self.sentinel.join("secret")).unwrap().nlink(),
            1
        );
        let mut top: Vec<String> = fs::read_dir(&self.base)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        top.sort();
        assert_eq!(top, vec!["layer".to_string(), "sentinel".to_string()]);
    }
}

fn raw(kind: EntryType, name: &str, link: &str, data: &[u8]) -> Entry {
    Entry::Raw {
        kind,
        name: name.as_bytes().to_vec(),
        link: link.as_bytes().to_vec(),
        data: data.to_vec(),
        mode: 0o644,
    }
}

fn file(path: &str, data: &[u8]) -> Entry {
    Entry::File {
        path: path.into(),
        data: data.to_vec(),
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: 1_600_000_000,
        xattrs: vec![],
    }
}

#[test]
fn whiteouts_become_char_devices_and_opaque_dirs_get_the_xattr() {
    let s = scene();
    let u = s
        .unpack(&[
            Entry::Dir {
                path: "d".into(),
                mode: 0o755,
                uid: 0,
                gid: 0,
            },
            Entry::Whiteout {
                path: "/d/gone".into(),
            },
            Entry::Opaque { dir: "/o".into() },
            file("/o/new", b"n"),
        ])
        .unwrap();
    let wh = fs::symlink_metadata(s.layer.join("d/gone")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!s.layer.join("d/.wh.gone").exists());
    let mut buf = [0u8; 4];
    let n =
        rustix::fs::lgetxattr(s.layer.join("o"), "trusted.overlay.opaque", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"y");
    assert!(!s.layer.join("o/.wh..wh..opq").exists());
    assert_eq!(fs::read(s.layer.join("o/new")).unwrap(), b"n");
    assert_eq!(u.compression, Compression::None);
    assert_eq!(u.diff_id, u.compressed_digest);
}

#[test]
fn a_whiteout_does_not_hide_a_file_of_its_own_layer() {
    let s = scene();
    s.unpack(&[file("/x", b"mine"), Entry::Whiteout { path: "/x".into() }])
        .unwrap();
    assert_eq!(fs::read(s.layer.join("x")).unwrap(), b"mine");
}

#[test]
fn owners_modes_times_xattrs_capabilities_links_and_nodes_are_kept() {
    let s = scene();
    // VFS_CAP_REVISION_2 with the effective bit; CAP_NET_BIND_SERVICE permitted.
    let cap: Vec<u8> = [0x0200_0001u32, 1 << 10, 0, 0, 0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    s.unpack(&[
        Entry::Dir {
            path: "/bin".into(),
            mode: 0o755,
            uid: 0,
            gid: 0,
        },
        Entry::File {
            path: "/bin/suid".into(),
            data: b"#!/bin/sh\n".to_vec(),
            mode: 0o4755,
            uid: 1000,
            gid: 2000,
            mtime: 1_234_567_890,
            xattrs: vec![("user.note".into(), b"hello".to_vec())],
        },
        Entry::File {
            path: "/bin/ping".into(),
            data: b"elf".to_vec(),
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: 1_234_567_890,
            xattrs: vec![("security.capability".into(), cap.clone())],
        },
        Entry::File {
            path: "/big-ids".into(),
            data: vec![],
            mode: 0o600,
            uid: 3_000_000,
            gid: 3_000_001,
            mtime: 1,
            xattrs: vec![],
        },
        Entry::HardLink {
            path: "/bin/suid2".into(),
            target: "/bin/suid".into(),
        },
        Entry::Symlink {
            path: "/bin/sh".into(),
            target: "busybox".into(),
        },
        Entry::Char {
            path: "/dev/null".into(),
            major: 1,
            minor: 3,
        },
        Entry::Fifo {
            path: "/run/fifo".into(),
        },
        Entry::Dir {
            path: "/tmp".into(),
            mode: 0o1777,
            uid: 0,
            gid: 0,
        },
    ])
    .unwrap();
    let m = fs::metadata(s.layer.join("bin/suid")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o4755);
    assert_eq!((m.uid(), m.gid()), (1000, 2000));
    assert_eq!(m.mtime(), 1_234_567_890);
    assert_eq!(m.nlink(), 2);
    assert_eq!(
        m.ino(),
        fs::metadata(s.layer.join("bin/suid2")).unwrap().ino()
    );
    let mut buf = [0u8; 64];
    let n = rustix::fs::lgetxattr(s.layer.join("bin/suid"), "user.note", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"hello");
    let n = rustix::fs::lgetxattr(
        s.layer.join("bin/ping"),
        "security.capability",
        &mut buf[..],
    )
    .unwrap();
    assert_eq!(&buf[..n], &cap[..]);
    let big = fs::metadata(s.layer.join("big-ids")).unwrap();
    assert_eq!((big.uid(), big.gid()), (3_000_000, 3_000_001));
    assert_eq!(
        fs::read_link(s.layer.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let null = fs::symlink_metadata(s.layer.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert!(
        fs::symlink_metadata(s.layer.join("run/fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(
        fs::metadata(s.layer.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
}

#[test]
fn compressed_layers_report_both_digests() {
    for c in [Compression::Gzip, Compression::Zstd] {
        let s = scene();
        let tar = build::layer_tar(&[file("/a", b"x")]).unwrap();
        let z = build::compress(&tar, c);
        let u = unpack(&z[..], &s.layer).unwrap();
        assert_eq!(u.compression, c);
        assert_eq!(u.diff_id, crate::digest::sha256(&tar));
        assert_eq!(u.compressed_digest, crate::digest::sha256(&z));
        assert_eq!(u.tar_size, tar.len() as u64);
    }
}

#[test]
fn truncated_and_corrupt_layers_are_errors() {
    let tar = build::layer_tar(&[file("/a", &[7u8; 10_000])]).unwrap();
    let s = scene();
    assert!(matches!(
        unpack(&tar[..3000], &s.layer),
        Err(UnpackError::Read(_))
    ));
    let z = build::compress(&tar, Compression::Gzip);
    let s = scene();
    assert!(unpack(&z[..z.len() / 2], &s.layer).is_err());
    let mut bad = z.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    let s = scene();
    assert!(unpack(&bad[..], &s.layer).is_err());
}

#[test]
fn dot_dot_and_absolute_paths_stay_inside() {
    let s = scene();
    s.unpack(&[
        raw(EntryType::Regular, "../../sentinel/secret", "", b"pwned"),
        raw(EntryType::Regular, "/etc/passwd", "", b"root"),
        raw(EntryType::Regular, "a/../../../../x", "", b"x"),
    ])
    .unwrap();
    s.assert_contained();
    assert_eq!(fs::read(s.layer.join("sentinel/secret")).unwrap(), b"pwned");
    assert_eq!(fs::read(s.layer.join("etc/passwd")).unwrap(), b"root");
    assert_eq!(fs::read(s.layer.join("x")).unwrap(), b"x");
}

#[test]
fn a_symlink_to_the_host_root_is_followed_inside_the_layer() {
    let s = scene();
    let sentinel = s.sentinel.display().to_string();
    let _ = s.unpack(&[
        raw(EntryType::Symlink, "a", "/", b""),
        raw(EntryType::Regular, "a/etc/passwd", "", b"root"),
        raw(EntryType::Symlink, "s", &sentinel, b""),
        raw(EntryType::Regular, "s/secret", "", b"pwned"),
    ]);
    s.assert_contained();
    assert_eq!(fs::read(s.layer.join("etc/passwd")).unwrap(), b"root");
}

#[test]
fn symlink_parent_chains_stay_inside() {
    let s = scene();
    let sentinel = s.sentinel.display().to_string();
    let _ = s.unpack(&[
        raw(EntryType::Symlink, "up", "..", b""),
        raw(EntryType::Symlink, "b", "up/up/up", b""),
        raw(EntryType::Symlink, "c", "b/sentinel", b""),
        raw(EntryType::Regular, "c/secret", "", b"pwned"),
        raw(EntryType::Regular, "b/b/b/sentinel/secret", "", b"pwned"),
        raw(EntryType::Symlink, "proc", "/proc/self/root", b""),
        raw(
            EntryType::Regular,
            &format!("proc{sentinel}/secret"),
            "",
            b"pwned",
        ),
    ]);
    s.assert_contained();
}

#[test]
fn hard_links_cannot_reach_outside() {
    let s = scene();
    let secret = s.sentinel.join("secret").display().to_string();
    let sentinel = s.sentinel.display().to_string();
    for entries in [
        vec![raw(EntryType::Link, "h", &secret, b"")],
        vec![raw(EntryType::Link, "h", "../sentinel/secret", b"")],
        vec![
            raw(EntryType::Symlink, "s", &sentinel, b""),
            raw(EntryType::Link, "h", "s/secret", b""),
        ],
        vec![
            raw(EntryType::Symlink, "r", "/", b""),
            raw(EntryType::Link, "h", &format!("r{secret}"), b""),
        ],
    ] {
        let _ = s.unpack(&entries);
        s.assert_contained();
    }
}

#[test]
fn a_file_replacing_a_symlink_does_not_write_through_it() {
    let s = scene();
    let secret = s.sentinel.join("secret").display().to_string();
    s.unpack(&[
        raw(EntryType::Symlink, "f", &secret, b""),
        raw(EntryType::Regular, "f", "", b"pwned"),
    ])
    .unwrap();
    s.assert_contained();
    assert_eq!(fs::read(s.layer.join("f")).unwrap(), b"pwned");
}

/// `@` stands for the sentinel's absolute path (without its leading `/`).
fn component() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a", "b", "..", ".", "sentinel", "secret", "@"])
}

fn hostile_path() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(component(), 1..5)).prop_map(|(abs, parts)| {
        let p = parts.join("/");
        if abs { format!("/{p}") } else { p }
    })
}

fn hostile_entry() -> impl Strategy<Value = (u8, String, String)> {
    let target = prop_oneof![
        hostile_path(),
        prop::sample::select(vec![
            "/",
            "..",
            "../..",
            "../sentinel",
            "/@",
            "/@/secret",
            "a"
        ])
        .prop_map(str::to_string),
    ];
    (0u8..5, hostile_path(), target)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Whatever sequence of files, directories, symlinks, hard links and
    /// whiteouts a layer holds, nothing outside the layer directory changes.
    #[test]
    fn random_hostile_layers_never_write_outside(seed in prop::collection::vec(hostile_entry(), 1..16)) {
        let s = scene();
        let sentinel = s.sentinel.display().to_string();
        let expand = |p: &str| p.replace('@', &sentinel[1..]);
        let entries: Vec<Entry> = seed
            .into_iter()
            .map(|(k, path, target)| {
                let (path, target) = (expand(&path), expand(&target));
                match k {
                    0 => raw(EntryType::Regular, &path, "", b"pwned"),
                    1 => raw(EntryType::Directory, &path, "", b""),
                    2 => raw(EntryType::Symlink, &path, &target, b""),
                    3 => raw(EntryType::Link, &path, &target, b""),
                    _ => raw(EntryType::Regular, &format!("{path}/.wh.secret"), "", b""),
                }
            })
            .collect();
        let _ = s.unpack(&entries);
        s.assert_contained();
    }
}
