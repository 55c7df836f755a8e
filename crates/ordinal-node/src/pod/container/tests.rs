use std::net::{IpAddr, Ipv4Addr};

use super::*;

fn pod(yaml: &str) -> Pod {
    serde_yaml::from_str(yaml).expect("pod yaml")
}

const POD: &str = "metadata: {name: db-0, namespace: shop, uid: u-1}\n\
    spec:\n  containers:\n  - name: db\n    image: postgres:16\n";

fn rt() -> env::Runtime {
    env::Runtime {
        pod_ip: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))),
        host_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        node_cpu_millis: 2000,
        node_memory: 1 << 30,
    }
}

/// An image root of one layer holding /etc/passwd and /etc/group.
fn layer(dir: &Path) -> RootSpec {
    let l = dir.join("layers/1");
    std::fs::create_dir_all(l.join("etc")).unwrap();
    std::fs::write(
        l.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        l.join("etc/group"),
        "root:x:0:\npostgres:x:999:\nssl-cert:x:101:postgres\n",
    )
    .unwrap();
    std::fs::create_dir_all(l.join("var/lib/postgresql/data")).unwrap();
    std::fs::write(l.join("var/lib/postgresql/data/PG_VERSION"), "16\n").unwrap();
    RootSpec::Image {
        layers_dir: dir.join("layers"),
        layers: vec!["1".into()],
        layer_dirs: vec![l],
    }
}

struct Case {
    pod: Pod,
    config: ImageConfig,
    dir: tempfile::TempDir,
    volumes: HashMap<String, volumes::Prepared>,
}

impl Case {
    fn new(yaml: &str, config: ImageConfig) -> Case {
        Case {
            pod: pod(yaml),
            config,
            dir: tempfile::tempdir().unwrap(),
            volumes: HashMap::new(),
        }
    }

    fn build(&self) -> Result<ContainerSpec, Refusal> {
        let root = layer(self.dir.path());
        let spec = self.pod.spec.as_ref().unwrap();
        build(&Inputs {
            pod: &self.pod,
            container: &spec.containers[0],
            sources: &env::Sources::default(),
            runtime: &rt(),
            volumes: &self.volumes,
            pod_dir: &self.dir.path().join("pod"),
            domain: "cluster.local",
            restart_count: 0,
            image: Some(ImageInput {
                config: &self.config,
                root,
            }),
        })
    }
}

fn config() -> ImageConfig {
    ImageConfig {
        entrypoint: Some(vec!["docker-entrypoint.sh".into()]),
        cmd: Some(vec!["postgres".into()]),
        env: vec![
            "PATH=/usr/lib/postgresql/16/bin:/usr/bin:/bin".into(),
            "PGDATA=/var/lib/postgresql/data".into(),
            "LANG=en_US.utf8".into(),
        ],
        working_dir: Some("/var/lib/postgresql".into()),
        user: Some("postgres".into()),
        volumes: vec!["/var/lib/postgresql/data".into()],
        ..Default::default()
    }
}

fn env_of<'a>(spec: &'a ContainerSpec, name: &str) -> Option<&'a str> {
    spec.env
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn entrypoint_and_cmd_combine_with_command_and_args_as_containerd_does() {
    let with = |extra: &str| {
        Case::new(&format!("{POD}{extra}"), config())
            .build()
            .unwrap()
            .argv
    };
    assert_eq!(with(""), ["docker-entrypoint.sh", "postgres"]);
    assert_eq!(
        with("    args: [postgres, -c, max_connections=50]\n"),
        [
            "docker-entrypoint.sh",
            "postgres",
            "-c",
            "max_connections=50"
        ]
    );
    assert_eq!(with("    command: [sleep]\n"), ["sleep"]);
    assert_eq!(
        with("    command: [sh, -c]\n    args: [\"echo $(PGDATA)\"]\n"),
        ["sh", "-c", "echo /var/lib/postgresql/data"]
    );
    let empty = Case::new(POD, ImageConfig::default()).build().unwrap_err();
    assert_eq!(empty.0, "CreateContainerError");
    assert!(empty.1.contains("no command specified"), "{empty:?}");
}

#[test]
fn the_pods_environment_wins_over_the_images() {
    let c = Case::new(
        &format!(
            "{POD}    env: [{{name: LANG, value: C.UTF-8}}, {{name: X, value: \"$(PGDATA)/x\"}}]\n"
        ),
        config(),
    );
    let spec = c.build().unwrap();
    assert_eq!(env_of(&spec, "LANG"), Some("C.UTF-8"));
    assert_eq!(env_of(&spec, "PGDATA"), Some("/var/lib/postgresql/data"));
    assert_eq!(
        env_of(&spec, "PATH"),
        Some("/usr/lib/postgresql/16/bin:/usr/bin:/bin"),
        "the image's PATH replaces the default"
    );
    assert_eq!(env_of(&spec, "HOME"), Some("/var/lib/postgresql"));
    assert_eq!(env_of(&spec, "HOSTNAME"), Some("db-0"));
    assert_eq!(spec.working_dir.as_deref(), Some("/var/lib/postgresql"));
    // An image without PATH gets the default one.
    let spec = Case::new(
        POD,
        ImageConfig {
            cmd: Some(vec!["x".into()]),
            ..Default::default()
        },
    )
    .build()
    .unwrap();
    assert_eq!(env_of(&spec, "PATH"), Some(DEFAULT_PATH));
    assert_eq!(env_of(&spec, "HOME"), Some("/root"));
}

#[test]
fn the_image_user_is_looked_up_and_run_as_user_wins() {
    let spec = Case::new(POD, config()).build().unwrap();
    assert_eq!((spec.user, spec.group), (Some(999), Some(999)));
    assert_eq!(spec.supplemental_groups, vec![101]);
    let spec = Case::new(
        &format!("{POD}    securityContext: {{runAsUser: 1234, runAsGroup: 5678}}\n"),
        config(),
    )
    .build()
    .unwrap();
    assert_eq!((spec.user, spec.group), (Some(1234), Some(5678)));
    let mut missing = config();
    missing.user = Some("mysql".into());
    let e = Case::new(POD, missing).build().unwrap_err();
    assert!(e.1.contains("unable to find user mysql"), "{e:?}");
}

#[test]
fn run_as_non_root_refuses_root_and_unverifiable_names() {
    let non_root = format!("{POD}    securityContext: {{runAsNonRoot: true}}\n");
    let mut root = config();
    root.user = None;
    let e = Case::new(&non_root, root).build().unwrap_err();
    assert_eq!(e.0, "CreateContainerConfigError");
    assert_eq!(
        e.1,
        "container has runAsNonRoot and image will run as root (pod: \"db-0_shop(u-1)\", container: db)"
    );
    let e = Case::new(&non_root, config()).build().unwrap_err();
    assert!(
        e.1.contains("image has non-numeric user (postgres), cannot verify user is non-root"),
        "{e:?}"
    );
    let mut numeric = config();
    numeric.user = Some("999".into());
    assert!(Case::new(&non_root, numeric).build().is_ok());
}

#[test]
fn image_volumes_get_an_anonymous_volume_filled_from_the_image_unless_mounted() {
    let c = Case::new(POD, config());
    let spec = c.build().unwrap();
    let anon = spec
        .binds
        .iter()
        .find(|b| b.target == Path::new("/var/lib/postgresql/data"))
        .expect("an anonymous volume");
    let Source::Path(host) = &anon.source else {
        panic!("a path");
    };
    assert!(host.starts_with(c.dir.path().join("pod/containers/db/volumes")));
    assert_eq!(
        std::fs::read_to_string(host.join("PG_VERSION")).unwrap(),
        "16\n"
    );

    let mut mounted = Case::new(
        &format!("{POD}    volumeMounts: [{{name: data, mountPath: /var/lib/postgresql/data}}]\n"),
        config(),
    );
    let claim = mounted.dir.path().join("claim");
    std::fs::create_dir_all(&claim).unwrap();
    mounted.volumes.insert(
        "data".into(),
        volumes::Prepared {
            path: claim.clone(),
            read_only: false,
            refresh_at: None,
        },
    );
    let spec = mounted.build().unwrap();
    let at_data: Vec<_> = spec
        .binds
        .iter()
        .filter(|b| b.target == Path::new("/var/lib/postgresql/data"))
        .collect();
    assert_eq!(at_data.len(), 1);
    assert!(matches!(&at_data[0].source, Source::Path(p) if *p == claim));
}

#[test]
fn the_termination_message_file_is_bound_and_read_back() {
    let c = Case::new(
        &format!(
            "{POD}    terminationMessagePath: /tmp/why\n    terminationMessagePolicy: FallbackToLogsOnError\n"
        ),
        config(),
    );
    let spec = c.build().unwrap();
    let pod_dir = c.dir.path().join("pod");
    let host = termination_file(&pod_dir, "db");
    assert!(
        spec.files
            .iter()
            .any(|(inside, h)| inside == Path::new("/tmp/why") && *h == host),
        "{:?}",
        spec.files
    );
    let container = &c.pod.spec.as_ref().unwrap().containers[0];
    std::fs::write(&host, "disk full").unwrap();
    assert_eq!(
        termination_message(container, &pod_dir, Path::new("/nonexistent"), 1).as_deref(),
        Some("disk full")
    );
    // Empty file, failure, fallback to the log's end.
    std::fs::write(&host, "").unwrap();
    let log = c.dir.path().join("0.log");
    let mut records = Vec::new();
    for line in ["starting", "FATAL: could not open file"] {
        crate::logs::format::encode(
            &mut records,
            jiff::Timestamp::now(),
            crate::logs::format::Stream::Stderr,
            false,
            line.as_bytes(),
        );
    }
    std::fs::write(&log, records).unwrap();
    let message = termination_message(container, &pod_dir, &log, 1).unwrap();
    assert!(
        message.ends_with("FATAL: could not open file\n"),
        "{message:?}"
    );
    assert_eq!(termination_message(container, &pod_dir, &log, 0), None);
}

#[test]
fn sub_paths_stay_inside_their_volume() {
    let tmp = tempfile::tempdir().unwrap();
    let volume = tmp.path().join("v");
    std::fs::create_dir_all(volume.join("inside")).unwrap();
    std::os::unix::fs::symlink("/", volume.join("escape")).unwrap();
    std::os::unix::fs::symlink("../..", volume.join("up")).unwrap();
    std::os::unix::fs::symlink("inside", volume.join("alias")).unwrap();
    for bad in ["escape", "up/etc", "../x", "/etc"] {
        let e = open_sub_path(&volume, bad).unwrap_err();
        assert!(
            e.to_string().contains("out of the volume") || e.to_string().contains("'..'"),
            "{bad}: {e}"
        );
    }
    let fd = open_sub_path(&volume, "alias/new/deeper").unwrap();
    use std::os::fd::AsRawFd;
    let at = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    assert_eq!(at, volume.join("inside/new/deeper"));
    assert!(!Path::new("/new").exists());
}

#[test]
fn a_containers_own_root_is_kept_across_restarts_but_not_across_images() {
    let pod_dir = tempfile::tempdir().unwrap();
    let upper = container_dir(pod_dir.path(), "db").join("upper");
    let written = upper.join("var/lib/data");
    own_root_for(pod_dir.path(), "db", "sha256:aaa");
    std::fs::create_dir_all(written.parent().unwrap()).unwrap();
    std::fs::write(&written, "written by the container").unwrap();

    // A restart on the same image (after an agent restart too: the record
    // is on disk) keeps what the container wrote.
    own_root_for(pod_dir.path(), "db", "sha256:aaa");
    assert!(written.exists());

    // Another image: a root of its own.
    own_root_for(pod_dir.path(), "db", "sha256:bbb");
    assert!(!upper.exists(), "the old image's writable layer is gone");
    std::fs::create_dir_all(written.parent().unwrap()).unwrap();
    std::fs::write(&written, "written on bbb").unwrap();
    own_root_for(pod_dir.path(), "db", "sha256:bbb");
    assert!(written.exists());

    // Host mode has no image: nothing is touched.
    own_root_for(pod_dir.path(), "db", "");
    assert!(written.exists());
}
