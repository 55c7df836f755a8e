use std::os::unix::process::CommandExt;
use std::process::Command;

use super::*;

fn host() -> HostRoot {
    HostRoot {
        entries: vec![
            HostEntry::Dir("etc".into()),
            HostEntry::Dir("usr".into()),
            HostEntry::Symlink("bin".into(), PathBuf::from("usr/bin")),
        ],
    }
}

fn names(plan: &Plan) -> Vec<String> {
    plan.names.iter().map(|n| n.0.clone()).collect()
}

#[test]
fn overlay_options_list_the_top_layer_first_by_short_name() {
    let data = overlay_options(
        &["1".into(), "7".into(), "12".into()],
        Path::new("/d/c/upper"),
        Path::new("/d/c/work"),
    )
    .unwrap();
    assert_eq!(
        data.to_str().unwrap(),
        "lowerdir=12:7:1,upperdir=/d/c/upper,workdir=/d/c/work"
    );
    let err = overlay_options(&["a:b".into()], Path::new("/u"), Path::new("/w")).unwrap_err();
    assert!(err.to_string().contains("bad layer"), "{err}");
    let many: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    let err = overlay_options(&many, Path::new("/u"), Path::new("/w")).unwrap_err();
    assert!(err.to_string().contains("too many layers"), "{err}");
    let err = overlay_options(&["1".into()], Path::new("/a,b"), Path::new("/w")).unwrap_err();
    assert!(err.to_string().contains("upperdir"), "{err}");
}

#[test]
fn files_come_before_volumes_and_volumes_mount_parents_first() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts");
    std::fs::write(&file, "x").unwrap();
    let layout = Layout {
        root: Root::Host(host()),
        mount_point: &dir.path().join("root"),
        tmp: dir.path(),
        files: &[(PathBuf::from("/etc/hosts"), file.clone())],
        working_dir: Path::new("/"),
        privileged: false,
        read_only_root: false,
    };
    let volumes = [
        Bind::path(dir.path(), "/data/inner", true),
        Bind::path(dir.path(), "/data", false),
    ];
    let plan = Plan::build(&layout, &volumes).unwrap();
    let steps = names(&plan);
    let position = |needle: &str| {
        steps
            .iter()
            .position(|s| s.ends_with(needle))
            .unwrap_or_else(|| panic!("no step ending in {needle}: {steps:?}"))
    };
    assert!(position("at /etc/hosts") < position("at /data"));
    assert!(position("at /data") < position("at /data/inner"));
    assert!(steps.iter().any(|s| s == "linking /bin"), "{steps:?}");
}

#[test]
fn image_containers_get_proc_dev_sys_and_masked_paths_unless_privileged() {
    let dir = tempfile::tempdir().unwrap();
    let layout = |privileged| Layout {
        root: Root::Copy(dir.path().to_path_buf()),
        mount_point: dir.path(),
        tmp: dir.path(),
        files: &[],
        working_dir: Path::new("/"),
        privileged,
        read_only_root: false,
    };
    let plain = names(&Plan::build(&layout(false), &[]).unwrap());
    for step in [
        "mounting proc at /proc",
        "mounting tmpfs at /dev",
        "creating /dev/null",
        "mounting devpts at /dev/pts",
        "mounting tmpfs at /dev/shm",
        "mounting sysfs at /sys",
        "masking /proc/kcore",
        "making /proc/sys read-only",
    ] {
        assert!(plain.iter().any(|s| s == step), "{step} missing: {plain:?}");
    }
    let privileged = names(&Plan::build(&layout(true), &[]).unwrap());
    assert!(!privileged.iter().any(|s| s.starts_with("masking")));
    assert!(!privileged.iter().any(|s| s == "making /proc/sys read-only"));
    assert!(privileged.iter().any(|s| s == "mounting /dev at /dev"));
}

#[test]
fn the_root_itself_is_not_a_mount_path() {
    let err = relative(Path::new("///")).unwrap_err();
    assert!(err.to_string().contains("root"), "{err}");
    assert_eq!(
        relative(Path::new("/var/run/x")).unwrap().to_str().unwrap(),
        "var/run/x"
    );
}

/// The host's static busybox, for a real image root.
fn busybox() -> PathBuf {
    for p in ["/usr/bin/busybox", "/bin/busybox"] {
        let path = PathBuf::from(p);
        if path.exists() {
            return path;
        }
    }
    panic!("busybox not found: install Debian's busybox-static");
}

fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A one-layer image: busybox with its applets, /etc/passwd, and the
/// things images carry that a container's mounts must respect.
fn image_layer(dir: &Path) {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::create_dir_all(dir.join("run")).unwrap();
    std::fs::create_dir_all(dir.join("var")).unwrap();
    std::fs::copy(busybox(), dir.join("bin/busybox")).unwrap();
    for applet in ["sh", "cat", "ls", "echo", "test", "mkdir", "touch", "stat"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    std::fs::write(dir.join("etc/os-release"), "ID=ordinal-test\n").unwrap();
    std::os::unix::fs::symlink("/run", dir.join("var/run")).unwrap();
}

/// Runs `script` with busybox sh inside a container built from `plan`
/// (forked, in a new mount namespace of its own); returns (status,
/// output).
fn run_in(plan: Plan, script: &str) -> (i32, String) {
    let plan = Arc::new(plan);
    let inside = Arc::clone(&plan);
    let mut command = Command::new("/bin/sh");
    command.args(["-c", script]).env_clear().env("PATH", "/bin");
    // SAFETY: the plan makes system calls only.
    unsafe {
        command.pre_exec(move || inside.enter());
    }
    match command.output() {
        Ok(out) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.code().unwrap_or(-1), text)
        }
        Err(e) => panic!(
            "entering the container failed at {:?}: {e}",
            plan.describe_failure()
        ),
    }
}

#[test]
fn an_image_root_shows_the_image_and_volumes_resolve_inside_it() {
    assert!(is_root(), "this test needs root (mount namespaces)");
    let tmp = tempfile::tempdir().unwrap();
    let layers = tmp.path().join("layers");
    image_layer(&layers.join("1"));
    let container = tmp.path().join("c");
    for d in ["upper", "work", "rootfs"] {
        std::fs::create_dir_all(container.join(d)).unwrap();
    }
    let volume = tmp.path().join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    std::fs::write(volume.join("greeting"), "hello from the volume\n").unwrap();
    let hosts = tmp.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    let layout = Layout {
        root: Root::Overlay {
            layers_dir: layers.clone(),
            layers: vec!["1".into()],
            upper: container.join("upper"),
            work: container.join("work"),
        },
        mount_point: &container.join("rootfs"),
        tmp: tmp.path(),
        files: &[(PathBuf::from("/etc/hosts"), hosts)],
        working_dir: Path::new("/work/dir"),
        privileged: false,
        read_only_root: false,
    };
    let volumes = [
        Bind::path(&volume, "/var/run/x", false),
        Bind::path(&volume, "/not/in/the/image", true),
    ];
    let plan = Plan::build(&layout, &volumes).unwrap();
    let (status, out) = run_in(
        plan,
        "cat /etc/os-release; cat /run/x/greeting; cat /not/in/the/image/greeting; \
         cat /etc/hosts; pwd; touch /written; \
         echo 1 > /proc/sys/kernel/ordinal_test 2>/dev/null && echo SYSCTL-WRITABLE; \
         test -e /proc/kcore && cat /proc/kcore | wc -c; \
         touch /not/in/the/image/x 2>/dev/null && echo VOLUME-WRITABLE; \
         test -c /dev/null && echo devnull; ls /",
    );
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("ID=ordinal-test"), "{out}");
    assert_eq!(out.matches("hello from the volume").count(), 2, "{out}");
    assert!(out.contains("127.0.0.1 localhost"), "{out}");
    assert!(out.contains("/work/dir"), "{out}");
    assert!(!out.contains("SYSCTL-WRITABLE"), "{out}");
    assert!(!out.contains("VOLUME-WRITABLE"), "{out}");
    assert!(out.contains("devnull"), "{out}");
    // The host's directories are not there.
    assert!(!out.contains("home"), "{out}");
    // Writes land in the container's layer; mount points made for the
    // volumes too; nothing in the image layer or on the host.
    assert!(container.join("upper/written").exists());
    assert!(container.join("upper/run/x").is_dir());
    assert!(container.join("upper/not/in/the/image").is_dir());
    assert!(!layers.join("1/written").exists());
    assert!(!Path::new("/not/in/the/image").exists());
    assert!(!volume.join("x").exists());
    // The mount namespace went with the process: nothing stays mounted.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(tmp.path().to_str().unwrap()), "{mounts}");
}

#[test]
fn a_read_only_root_refuses_writes_but_volumes_take_them() {
    assert!(is_root(), "this test needs root (mount namespaces)");
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("copy");
    image_layer(&image);
    let volume = tmp.path().join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    let layout = Layout {
        root: Root::Copy(image.clone()),
        mount_point: &image,
        tmp: tmp.path(),
        files: &[],
        working_dir: Path::new("/"),
        privileged: false,
        read_only_root: true,
    };
    let plan = Plan::build(&layout, &[Bind::path(&volume, "/data", false)]).unwrap();
    let (status, out) = run_in(
        plan,
        "touch /nope 2>/dev/null && echo ROOT-WRITABLE; touch /data/yes && echo volume-ok",
    );
    assert_eq!(status, 0, "{out}");
    assert!(!out.contains("ROOT-WRITABLE"), "{out}");
    assert!(out.contains("volume-ok"), "{out}");
    assert!(volume.join("yes").exists());
}

#[test]
fn a_failing_step_is_named() {
    assert!(is_root(), "this test needs root (mount namespaces)");
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("copy");
    image_layer(&image);
    let layout = Layout {
        root: Root::Copy(image.clone()),
        mount_point: &image,
        tmp: tmp.path(),
        files: &[],
        working_dir: Path::new("/"),
        privileged: false,
        read_only_root: false,
    };
    // A volume whose target is a file in the image but whose source is a
    // directory: the bind fails (ENOTDIR).
    std::fs::write(image.join("etc/plainfile"), "x").unwrap();
    let volume = tmp.path().join("volume");
    std::fs::create_dir_all(&volume).unwrap();
    let plan =
        Arc::new(Plan::build(&layout, &[Bind::path(&volume, "/etc/plainfile", false)]).unwrap());
    let inside = Arc::clone(&plan);
    let mut command = Command::new("/bin/true");
    // SAFETY: the plan makes system calls only.
    unsafe {
        command.pre_exec(move || inside.enter());
    }
    let err = command.status().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR), "{err}");
    // The child's record is in its own memory after a fork; with the
    // agent's launch (shared memory) the parent reads it. Here we only
    // check the plan names the step it would report.
    assert!(
        names(&plan)
            .iter()
            .any(|s| s.ends_with("at /etc/plainfile")),
        "{:?}",
        names(&plan)
    );
}
