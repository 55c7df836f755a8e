//! The copying fallback where overlayfs cannot be used: the layers of an
//! image applied in order into one directory, with overlay semantics
//! (a whiteout removes what lower layers made, an opaque directory hides
//! their contents), keeping owners, modes, times, xattrs and hard links
//! within a layer. Writes go through the same confinement as unpacking.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::unpack::confined::{Confined, InnerPath, Meta, OPAQUE_XATTR, Special};

/// Applies `layer_dirs` (lowest first) into `dest`, an existing directory.
pub fn materialize(layer_dirs: &[PathBuf], dest: &Path) -> io::Result<()> {
    let mut tree = Confined::open(dest)?;
    for layer in layer_dirs {
        let mut links: HashMap<(u64, u64), InnerPath> = HashMap::new();
        apply_dir(
            &mut tree,
            layer,
            &InnerPath::clean(Path::new("/")),
            &mut links,
        )?;
    }
    tree.finish()
}

fn apply_dir(
    tree: &mut Confined,
    host: &Path,
    inner: &InnerPath,
    links: &mut HashMap<(u64, u64), InnerPath>,
) -> io::Result<()> {
    let mut names: Vec<OsString> = fs::read_dir(host)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    for name in names {
        let path = host.join(&name);
        let p = inner.join(&name);
        let md = fs::symlink_metadata(&path)?;
        let ft = md.file_type();
        let meta = meta_of(&path, &md)?;
        if ft.is_char_device() && md.rdev() == 0 {
            tree.remove(&p)?;
        } else if ft.is_dir() {
            if is_opaque(&path) {
                tree.empty_dir(&p)?;
            }
            tree.dir(&p, &meta)?;
            apply_dir(tree, &path, &p, links)?;
        } else if ft.is_symlink() {
            tree.symlink(&p, &fs::read_link(&path)?, &meta)?;
        } else if ft.is_file() {
            let key = (md.dev(), md.ino());
            if md.nlink() > 1
                && let Some(first) = links.get(&key)
            {
                tree.hardlink(&p, first)?;
                continue;
            }
            tree.file(&p, &meta, &mut fs::File::open(&path)?)?;
            if md.nlink() > 1 {
                links.insert(key, p);
            }
        } else {
            let (major, minor) = (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev()));
            let kind = if ft.is_char_device() {
                Special::Char { major, minor }
            } else if ft.is_block_device() {
                Special::Block { major, minor }
            } else if ft.is_fifo() {
                Special::Fifo
            } else {
                continue; // sockets are not image content
            };
            tree.special(&p, kind, &meta)?;
        }
    }
    Ok(())
}

fn is_opaque(path: &Path) -> bool {
    let mut buf = [0u8; 8];
    matches!(rustix::fs::lgetxattr(path, OPAQUE_XATTR, &mut buf[..]), Ok(n) if &buf[..n] == b"y")
}

/// The entry's metadata, with its xattrs except overlayfs's own.
fn meta_of(path: &Path, md: &fs::Metadata) -> io::Result<Meta> {
    let mut xattrs = Vec::new();
    let mut list = vec![0u8; 64 * 1024];
    let n = match rustix::fs::llistxattr(path, &mut list[..]) {
        Ok(n) => n,
        Err(e) if e == rustix::io::Errno::NOTSUP => 0,
        Err(e) => return Err(e.into()),
    };
    for name in list[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") {
            continue;
        }
        let name = std::ffi::OsStr::from_bytes(name);
        let mut value = vec![0u8; 64 * 1024];
        let len = rustix::fs::lgetxattr(path, name, &mut value[..])?;
        value.truncate(len);
        xattrs.push((name.to_os_string(), value));
    }
    Ok(Meta {
        uid: md.uid(),
        gid: md.gid(),
        mode: md.mode() & 0o7777,
        mtime: md.mtime(),
        xattrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{self, Entry};
    use crate::unpack::{listing, unpack};

    fn layer(base: &Path, n: usize, entries: &[Entry]) -> PathBuf {
        let dir = base.join(format!("l{n}"));
        fs::create_dir(&dir).unwrap();
        unpack(&build::layer_tar(entries).unwrap()[..], &dir).unwrap();
        dir
    }

    fn f(path: &str, data: &[u8]) -> Entry {
        Entry::File {
            path: path.into(),
            data: data.to_vec(),
            mode: 0o640,
            uid: 7,
            gid: 8,
            mtime: 1_500_000_000,
            xattrs: vec![("user.k".into(), b"v".to_vec())],
        }
    }

    #[test]
    fn layers_merge_as_overlayfs_would_show_them() {
        let tmp = tempfile::tempdir().unwrap();
        let l1 = layer(
            tmp.path(),
            1,
            &[
                f("/a/one", b"1"),
                f("/b/old", b"old"),
                f("/c/keep", b"keep"),
                f("/o/lower", b"lower"),
                f("/replaced", b"file"),
            ],
        );
        let l2 = layer(
            tmp.path(),
            2,
            &[
                Entry::Whiteout {
                    path: "/b/old".into(),
                },
                Entry::Opaque { dir: "/o".into() },
                f("/o/new", b"new"),
                f("/a/two", b"2"),
                Entry::HardLink {
                    path: "/a/two-again".into(),
                    target: "/a/two".into(),
                },
                Entry::Symlink {
                    path: "/replaced".into(),
                    target: "/a/one".into(),
                },
            ],
        );
        let dest = tmp.path().join("root");
        fs::create_dir(&dest).unwrap();
        materialize(&[l1, l2], &dest).unwrap();
        assert_eq!(
            listing(&dest),
            [
                "a",
                "a/one",
                "a/two",
                "a/two-again",
                "b",
                "c",
                "c/keep",
                "o",
                "o/new",
                "replaced"
            ]
        );
        let two = fs::metadata(dest.join("a/two")).unwrap();
        assert_eq!(
            two.ino(),
            fs::metadata(dest.join("a/two-again")).unwrap().ino()
        );
        assert_eq!((two.uid(), two.gid(), two.mode() & 0o7777), (7, 8, 0o640));
        assert_eq!(two.mtime(), 1_500_000_000);
        let mut buf = [0u8; 8];
        let n = rustix::fs::lgetxattr(dest.join("a/two"), "user.k", &mut buf[..]).unwrap();
        assert_eq!(&buf[..n], b"v");
        assert_eq!(
            fs::read_link(dest.join("replaced")).unwrap(),
            Path::new("/a/one")
        );
        // No overlay markers leak into the copy.
        assert!(rustix::fs::lgetxattr(dest.join("o"), OPAQUE_XATTR, &mut buf[..]).is_err());
    }
}
