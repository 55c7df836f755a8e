//! Who a container runs as: the image's `User` (a name or number, with an
//! optional group) looked up in the image's own `/etc/passwd` and
//! `/etc/group`, overridden by `runAsUser`/`runAsGroup`, as containerd
//! resolves it. The user's home becomes `HOME` when the environment does
//! not set it, and the groups listing the user become supplementary
//! groups.

use std::path::{Path, PathBuf};

/// The numbers a container runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub uid: u32,
    pub gid: u32,
    /// Groups whose member list names the user.
    pub groups: Vec<u32>,
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        let uid = f.next()?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        let _gecos = f.next()?;
        let home = f.next().unwrap_or("/");
        Some(PasswdEntry {
            name,
            uid,
            gid,
            home,
        })
    })
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: &'a str,
}

fn group_entries(text: &str) -> impl Iterator<Item = GroupEntry<'_>> {
    text.lines().filter_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        let gid = f.next()?.parse().ok()?;
        let members = f.next().unwrap_or("");
        Some(GroupEntry { name, gid, members })
    })
}

/// Resolves the user. `image_user` is the image config's `User` (empty:
/// root); `run_as_user`/`run_as_group` win over it. `passwd` and `group`
/// are the image's files (empty when it has none).
pub fn resolve(
    image_user: &str,
    run_as_user: Option<u32>,
    run_as_group: Option<u32>,
    passwd: &str,
    group: &str,
) -> Result<Resolved, String> {
    let (user_part, group_part) = match image_user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (image_user, None),
    };
    let entry = |uid: Option<u32>, name: Option<&str>| {
        passwd_entries(passwd).find(|e| Some(e.uid) == uid || Some(e.name) == name)
    };
    let (uid, primary, name, home) = if let Some(uid) = run_as_user {
        let e = entry(Some(uid), None);
        (
            uid,
            e.as_ref().map(|e| e.gid),
            e.as_ref().map(|e| e.name.to_string()),
            e.map(|e| e.home.to_string()),
        )
    } else if user_part.is_empty() {
        let e = entry(Some(0), None);
        (
            0,
            e.as_ref().map(|e| e.gid),
            e.as_ref().map(|e| e.name.to_string()),
            e.map(|e| e.home.to_string()),
        )
    } else if let Ok(uid) = user_part.parse::<u32>() {
        let e = entry(Some(uid), None);
        (
            uid,
            e.as_ref().map(|e| e.gid),
            e.as_ref().map(|e| e.name.to_string()),
            e.map(|e| e.home.to_string()),
        )
    } else {
        let e = entry(None, Some(user_part)).ok_or_else(|| {
            format!("unable to find user {user_part}: no matching entries in passwd file")
        })?;
        (
            e.uid,
            Some(e.gid),
            Some(e.name.to_string()),
            Some(e.home.to_string()),
        )
    };
    let gid = match (run_as_group, group_part.filter(|g| !g.is_empty())) {
        (Some(g), _) => g,
        // The image's group applies to the image's user only.
        (None, Some(g)) if run_as_user.is_none() => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(group)
                .find(|e| e.name == g)
                .map(|e| e.gid)
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?,
        },
        _ => primary.unwrap_or(0),
    };
    let mut groups = Vec::new();
    if let Some(name) = &name {
        for e in group_entries(group) {
            if e.members.split(',').any(|m| m.trim() == name) && !groups.contains(&e.gid) {
                groups.push(e.gid);
            }
        }
    }
    Ok(Resolved {
        uid,
        gid,
        groups,
        home: home.filter(|h| !h.is_empty()).unwrap_or_else(|| "/".into()),
    })
}

/// Whether `user` (the image's `User`, no `runAsUser`) is a name that
/// cannot be checked against `runAsNonRoot` without the image's files;
/// the kubelet refuses those.
pub fn is_numeric(user: &str) -> bool {
    let u = user.split(':').next().unwrap_or("");
    u.is_empty() || u.parse::<u32>().is_ok()
}

/// A file of the image as the container sees it at start: the topmost
/// layer (or the container's own writable layer, given first) that has
/// it, unless a layer above deleted it (an overlay whiteout).
pub fn read_image_file(layers_top_first: &[PathBuf], path: &str) -> Option<String> {
    let rel = Path::new(path.trim_start_matches('/'));
    for layer in layers_top_first {
        let candidate = layer.join(rel);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) => {
                use std::os::unix::fs::FileTypeExt;
                // A character device 0/0 is a whiteout: deleted above.
                if meta.file_type().is_char_device() {
                    return None;
                }
                if meta.is_file() {
                    return std::fs::read_to_string(&candidate).ok();
                }
                return None;
            }
            Err(_) => continue,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
        postgres:x:999:998::/var/lib/postgresql:/bin/bash\n";
    const GROUP: &str = "root:x:0:\nnogroup:x:65534:\npostgres:x:998:\nssl-cert:x:101:postgres\n\
        staff:x:50:nobody,postgres\n";

    #[test]
    fn names_are_looked_up_with_their_primary_and_member_groups() {
        let r = resolve("postgres", None, None, PASSWD, GROUP).unwrap();
        assert_eq!(r.uid, 999);
        assert_eq!(r.gid, 998);
        assert_eq!(r.groups, vec![101, 50]);
        assert_eq!(r.home, "/var/lib/postgresql");
    }

    #[test]
    fn empty_means_root_and_numbers_need_no_entry() {
        let r = resolve("", None, None, PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (0, 0, "/root"));
        let r = resolve("1234", None, None, PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_str()), (1234, 0, "/"));
        let r = resolve("1234:5678", None, None, "", "").unwrap();
        assert_eq!((r.uid, r.gid), (1234, 5678));
        let r = resolve("nobody:staff", None, None, PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid), (65534, 50));
    }

    #[test]
    fn run_as_user_and_group_win() {
        let r = resolve("postgres", Some(65534), None, PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid), (65534, 65534));
        let r = resolve("postgres:staff", Some(0), Some(7), PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid), (0, 7));
        let r = resolve("", None, Some(42), PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid), (0, 42));
    }

    #[test]
    fn unknown_names_are_errors_as_containerd_words_them() {
        let e = resolve("mysql", None, None, PASSWD, GROUP).unwrap_err();
        assert_eq!(
            e,
            "unable to find user mysql: no matching entries in passwd file"
        );
        let e = resolve("postgres:wheel", None, None, PASSWD, GROUP).unwrap_err();
        assert!(e.contains("unable to find group wheel"), "{e}");
        assert!(is_numeric("1000:1000") && is_numeric("") && !is_numeric("postgres"));
    }

    #[test]
    fn image_files_come_from_the_topmost_layer_unless_whited_out() {
        let tmp = tempfile::tempdir().unwrap();
        let (low, high) = (tmp.path().join("low"), tmp.path().join("high"));
        std::fs::create_dir_all(low.join("etc")).unwrap();
        std::fs::create_dir_all(high.join("etc")).unwrap();
        std::fs::write(low.join("etc/passwd"), "low").unwrap();
        std::fs::write(low.join("etc/group"), "low").unwrap();
        std::fs::write(high.join("etc/passwd"), "high").unwrap();
        let layers = [high.clone(), low.clone()];
        assert_eq!(
            read_image_file(&layers, "/etc/passwd").as_deref(),
            Some("high")
        );
        assert_eq!(
            read_image_file(&layers, "/etc/group").as_deref(),
            Some("low")
        );
        assert_eq!(read_image_file(&layers, "/etc/shadow"), None);
        // A whiteout (char device 0/0, as unpacked layers hold them; mknod
        // needs root, as the suite does).
        let whiteout = std::ffi::CString::new(high.join("etc/group").to_str().unwrap()).unwrap();
        // SAFETY: mknod on a NUL-terminated path in our temp dir.
        let made = unsafe { libc::mknod(whiteout.as_ptr(), libc::S_IFCHR, 0) };
        assert_eq!(made, 0, "mknod of a whiteout (the tests run as root)");
        assert_eq!(read_image_file(&layers, "/etc/group"), None);
    }
}
