//! Images for the end-to-end tests, made here without a registry or a
//! network: Debian's static busybox as `busybox:1.36` (its applets — sh,
//! httpd, nc, sleep, wget — are what the tests' pods run). Every
//! `ordinal up` the harness starts has it imported into its node's store
//! before it starts, as `ordinal image import` would.
//!
//! And a stand-in for `registry.k8s.io/nginx-slim`, the image of the
//! upstream StatefulSet tutorial, built from Debian's nginx for the replay
//! of `examples/statefulset-basics` (which has no network to pull the real
//! one): [`nginx_slim_archive`].

use std::path::Path;
use std::sync::OnceLock;

use ordinal_image::build::{BuiltImage, Content, Format, ImageBuilder, Tagged, write};
use ordinal_image::compression::Compression;
use ordinal_image::{ImageStore, NoProgress};

/// The name the tests' pods use for the busybox image.
pub const BUSYBOX: &str = "busybox:1.36";

/// The busybox image as a docker-save archive, built once per test binary.
pub fn busybox_archive() -> &'static [u8] {
    static ARCHIVE: OnceLock<Vec<u8>> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let image = ImageBuilder::busybox()
            .unwrap_or_else(|e| panic!("building the busybox test image: {e}"))
            .build();
        archive(&image, BUSYBOX)
    })
}

/// `image` as a docker-save archive naming it `name`.
pub fn archive(image: &BuiltImage, name: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("image.tar");
    write(
        &path,
        Format::DockerArchive,
        Compression::None,
        &[Tagged::one(image, name)],
    )
    .unwrap_or_else(|e| panic!("writing the archive of {name}: {e}"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading the archive of {name}: {e}"))
}

/// Imports `archive` into the image store of the node of the `ordinal up`
/// whose data dir is `data_dir`.
pub fn import(data_dir: &Path, name: &str, archive: &[u8]) {
    import_into_node(&data_dir.join("node"), name, archive);
}

/// Imports `archive` into the image store of the node agent whose
/// directory is `node_dir` (`ordinal node --dir`).
pub fn import_into_node(node_dir: &Path, name: &str, archive: &[u8]) {
    let store_dir = ordinal_node::images::store_dir(node_dir);
    std::fs::create_dir_all(node_dir).expect("the node's directory");
    let store = ImageStore::open(&store_dir).expect("opening the test image store");
    let file = node_dir.join(format!(".{name}.import.tar"));
    std::fs::write(&file, archive).expect("writing the archive");
    let imported = store.import(&file, &NoProgress);
    let _ = std::fs::remove_file(&file);
    imported.unwrap_or_else(|e| panic!("importing {name}: {e}"));
}

/// busybox plus the `ordinal` at `binary` (this build's) and the shared
/// libraries it links, tagged `ordinal:test`: `ordinal controller` (or any
/// kube-rs client of ours) in a pod.
#[allow(dead_code)]
pub fn ordinal_archive(binary: &Path) -> Vec<u8> {
    let image = ImageBuilder::busybox()
        .unwrap_or_else(|e| panic!("building the ordinal image: {e}"))
        .layer()
        .add_programs(&[(binary, "/usr/local/bin/ordinal")])
        .unwrap_or_else(|e| panic!("adding {}: {e}", binary.display()))
        .build();
    archive(&image, "ordinal:test")
}

/// The images every test node has.
pub fn prepare(data_dir: &Path) {
    import(data_dir, "busybox", busybox_archive());
}

/// The image of the upstream tutorial's `web.yaml`.
pub const NGINX_SLIM: &str = "registry.k8s.io/nginx-slim:0.21";
/// The tag the tutorial's rolling update patches the StatefulSet to.
pub const NGINX_SLIM_NEXT: &str = "registry.k8s.io/nginx-slim:0.24";

/// nginx in the foreground (the image's Cmd adds `daemon off;`), serving
/// /usr/share/nginx/html on port 80 with its workers as www-data, logs
/// to the container's output.
const NGINX_CONF: &str = "user www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;

events {
    worker_connections 64;
}

http {
    access_log /var/log/nginx/access.log;
    default_type text/plain;
    server {
        listen 80;
        root /usr/share/nginx/html;
        index index.html;
    }
}
";

/// A host file the stand-in needs, or a failure naming the Debian package
/// that has it.
fn host_program(path: &'static str, package: &str) -> &'static Path {
    let p = Path::new(path);
    assert!(
        p.exists(),
        "{path} is missing: install Debian's {package} (the stand-in for registry.k8s.io/nginx-slim is built from it)"
    );
    p
}

/// A stand-in for `registry.k8s.io/nginx-slim` at `tag`: what the
/// tutorial uses of the real image, from this machine's Debian packages.
/// Debian's nginx at /usr/sbin/nginx (with the libraries ldd lists and the
/// loader) and a minimal /etc/nginx/nginx.conf; curl and getent with
/// theirs; the static busybox for `sh`, `hostname`, `cat` and the rest;
/// /etc/passwd with www-data, the user nginx's workers run as; this
/// machine's /etc/os-release; nginx-slim's Cmd (`nginx -g 'daemon off;'`)
/// and its log files linked to the container's stdout and stderr. The
/// tag is a label too, so the two tags are two images, as upstream.
pub fn nginx_slim(tag: &str) -> BuiltImage {
    let nginx = host_program("/usr/sbin/nginx", "nginx");
    let curl = host_program("/usr/bin/curl", "curl");
    let getent = host_program("/usr/bin/getent", "libc-bin");
    let os_release = std::fs::read("/etc/os-release").expect("this machine's /etc/os-release");
    ImageBuilder::busybox()
        .unwrap_or_else(|e| panic!("building the nginx-slim stand-in: {e}"))
        .layer()
        .add_programs(&[
            (nginx, "/usr/sbin/nginx"),
            (curl, "/usr/bin/curl"),
            (getent, "/usr/bin/getent"),
        ])
        .unwrap_or_else(|e| panic!("building the nginx-slim stand-in: {e}"))
        .add_bytes(
            "/etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\n\
              www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\
              nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            0o644,
        )
        .add_bytes(
            "/etc/group",
            b"root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n",
            0o644,
        )
        .add_bytes("/etc/nsswitch.conf", b"hosts: files dns\n", 0o644)
        .add_bytes("/etc/os-release", &os_release, 0o644)
        .add_bytes("/etc/nginx/nginx.conf", NGINX_CONF.as_bytes(), 0o644)
        .mkdir("/usr/share/nginx/html", 0o755)
        .mkdir("/var/lib/nginx", 0o755)
        .mkdir("/var/log/nginx", 0o755)
        .add_symlink("/var/log/nginx/access.log", "/dev/stdout")
        .add_symlink("/var/log/nginx/error.log", "/dev/stderr")
        .mkdir("/run", 0o755)
        .cmd(["nginx", "-g", "daemon off;"])
        .label("org.opencontainers.image.version", tag)
        .label(
            "org.opencontainers.image.description",
            "ordinal's test stand-in for registry.k8s.io/nginx-slim, from Debian's nginx",
        )
        .build()
}

/// Both tags of the stand-in as one docker-save archive, as `docker save
/// registry.k8s.io/nginx-slim:0.21 registry.k8s.io/nginx-slim:0.24`
/// writes it, at `path`.
pub fn nginx_slim_archive(path: &Path) {
    let first = nginx_slim("0.21");
    let next = nginx_slim("0.24");
    write(
        path,
        Format::DockerArchive,
        Compression::None,
        &[
            Tagged {
                content: Content::Image(&first),
                names: vec![NGINX_SLIM.to_string()],
            },
            Tagged {
                content: Content::Image(&next),
                names: vec![NGINX_SLIM_NEXT.to_string()],
            },
        ],
    )
    .expect("writing the nginx-slim archive");
}
