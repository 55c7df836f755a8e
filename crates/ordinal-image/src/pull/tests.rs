//! Pulls from a real registry (Debian's docker-registry) on loopback:
//! TLS with our own CA, htpasswd users, mirrors and plain HTTP.

use std::sync::Arc;

use super::*;
use crate::build::{BuiltImage, BuiltIndex, ImageBuilder};
use crate::compression::Compression;
use crate::progress::NoProgress;
use crate::testing::{Registry, RegistryOptions};
use crate::unpack::listing;

fn secure() -> Registry {
    Registry::start(RegistryOptions {
        tls: true,
        users: vec![("alice".into(), "wonderland".into())],
        token_auth: false,
    })
    .expect("start the registry")
}

fn image(tag: &[u8]) -> BuiltImage {
    ImageBuilder::new()
        .add_bytes("/etc/version", tag, 0o644)
        .layer()
        .add_bytes("/data/blob", &vec![tag[0]; 300_000], 0o644)
        .compression(Compression::Zstd)
        .cmd(["/bin/true"])
        .build()
}

fn options(reg: &Registry) -> PullOptions {
    PullOptions {
        credentials: reg.credentials().into_iter().collect(),
        registries: reg.registries_config(),
    }
}

fn store() -> (tempfile::TempDir, ImageStore) {
    let tmp = tempfile::tempdir().unwrap();
    let s = ImageStore::open(&tmp.path().join("store")).unwrap();
    (tmp, s)
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[tokio::test]
async fn a_good_pull_with_credentials_stores_the_image_once() {
    let reg = secure();
    let img = image(b"v1");
    reg.push(&img, "team/app", "1").await.unwrap();
    let (_tmp, s) = store();
    let r = Reference::parse(&format!("{}/team/app:1", reg.host())).unwrap();
    let got = assert_send(s.pull(&r, &options(&reg), &NoProgress))
        .await
        .unwrap();
    assert_eq!(got.id, img.id());
    assert_eq!(got.repo_tags, vec![format!("{}/team/app:1", reg.host())]);
    assert_eq!(
        got.repo_digests,
        vec![format!("{}/team/app@{}", reg.host(), img.manifest.digest)]
    );
    assert_eq!(got.config.cmd, Some(vec!["/bin/true".to_string()]));
    let dirs = s.layer_dirs(&got).unwrap();
    assert_eq!(std::fs::read(dirs[0].join("etc/version")).unwrap(), b"v1");
    assert_eq!(
        std::fs::read(dirs[1].join("data/blob")).unwrap().len(),
        300_000
    );
    assert_eq!(s.get(&r).unwrap().id, got.id);
    // Pulling again downloads no layer.
    s.pull(&r, &options(&reg), &NoProgress).await.unwrap();
    for l in &img.layers {
        assert_eq!(reg.blob_gets(&l.digest), 1, "{}", reg.log());
    }
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized_with_the_registrys_status() {
    let reg = secure();
    reg.push(&image(b"v1"), "app", "1").await.unwrap();
    let (_tmp, s) = store();
    let r = Reference::parse(&format!("{}/app:1", reg.host())).unwrap();
    let mut o = options(&reg);
    o.credentials = vec![Credentials::new("alice", "wrong")];
    let e = s.pull(&r, &o, &NoProgress).await.unwrap_err();
    assert_eq!(e.kind, PullErrorKind::Unauthorized, "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "failed to pull and unpack image \"{r}\": failed to resolve reference \"{r}\""
        )),
        "{msg}"
    );
    assert!(msg.contains("401 Unauthorized"), "{msg}");
    assert!(s.list().is_empty());
}

#[tokio::test]
async fn a_missing_image_is_not_found() {
    let reg = secure();
    let (_tmp, s) = store();
    let r = Reference::parse(&format!("{}/nothing:1", reg.host())).unwrap();
    let e = s.pull(&r, &options(&reg), &NoProgress).await.unwrap_err();
    assert_eq!(e.kind, PullErrorKind::NotFound, "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "failed to pull and unpack image \"{r}\": failed to resolve reference \"{r}\": {r}: not found"
        )
    );
}

#[tokio::test]
async fn a_multi_platform_index_pulls_this_machines_image() {
    let reg = secure();
    let here = image(b"here");
    let other = ImageBuilder::new()
        .add_bytes("/etc/version", b"other", 0o644)
        .platform(
            "linux",
            if crate::platform::goarch() == "arm64" {
                "amd64"
            } else {
                "arm64"
            },
        )
        .build();
    let index = BuiltIndex::new(vec![other, here.clone()]);
    reg.push_index(&index, "multi", "2").await.unwrap();
    let (_tmp, s) = store();
    let r = Reference::parse(&format!("{}/multi:2", reg.host())).unwrap();
    let got = s.pull(&r, &options(&reg), &NoProgress).await.unwrap();
    assert_eq!(got.id, here.id());
    assert_eq!(
        got.repo_digests,
        vec![format!("{}/multi@{}", reg.host(), index.index.digest)]
    );
    // By the index digest, it is found without a pull.
    let by_digest =
        Reference::parse(&format!("{}/multi@{}", reg.host(), index.index.digest)).unwrap();
    assert_eq!(s.get(&by_digest).unwrap().id, got.id);
}

#[tokio::test]
async fn a_corrupted_blob_is_refused_and_nothing_is_stored() {
    let reg = secure();
    let img = image(b"v1");
    reg.push(&img, "app", "1").await.unwrap();
    let path = reg.blob_path(&img.layers[1].digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let (_tmp, s) = store();
    let before = listing(s.root());
    let r = Reference::parse(&format!("{}/app:1", reg.host())).unwrap();
    let e = s.pull(&r, &options(&reg), &NoProgress).await.unwrap_err();
    assert_eq!(e.kind, PullErrorKind::Digest, "{e}");
    assert!(e.to_string().contains(&img.layers[1].digest), "{e}");
    assert!(s.list().is_empty());
    // The good layer may stay (it is verified and shared); the bad one,
    // and anything half-written, does not.
    let after = listing(s.root());
    let new: Vec<_> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(
        new.iter()
            .all(|p| p.starts_with("layers/") || p.as_str() == "layers" || p.as_str() == "lock"),
        "{new:?}"
    );
    assert!(
        s.layer_records()
            .iter()
            .all(|l| l.diff_id != img.diff_ids[1])
    );
    assert_eq!(listing(&s.work().path), Vec::<String>::new());
}

#[tokio::test]
async fn concurrent_pulls_of_one_image_download_each_layer_once() {
    let reg = secure();
    let img = image(b"v1");
    reg.push(&img, "app", "1").await.unwrap();
    let (_tmp, s) = store();
    let r = Reference::parse(&format!("{}/app:1", reg.host())).unwrap();
    let o = options(&reg);
    let (a, b) = tokio::join!(s.pull(&r, &o, &NoProgress), s.pull(&r, &o, &NoProgress));
    assert_eq!(a.unwrap().id, b.unwrap().id);
    for l in &img.layers {
        assert_eq!(reg.blob_gets(&l.digest), 1, "{}", reg.log());
    }
}

#[tokio::test]
async fn plain_http_through_registries_yaml() {
    let reg = Registry::start(RegistryOptions::default()).unwrap();
    let img = image(b"http");
    reg.push(&img, "app", "1").await.unwrap();
    let (_tmp, s) = store();
    let r = Reference::parse(&format!("{}/app:1", reg.host())).unwrap();
    // Without the config the pull speaks TLS to a plain server and fails.
    let e = s
        .pull(&r, &PullOptions::default(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(e.kind, PullErrorKind::Network, "{e}");
    let got = s.pull(&r, &options(&reg), &NoProgress).await.unwrap();
    assert_eq!(got.id, img.id());
}

#[tokio::test]
async fn a_mirror_serves_another_registrys_image() {
    let reg = secure();
    let img = image(b"mirrored");
    reg.push(&img, "library/app", "1").await.unwrap();
    let (_tmp, s) = store();
    // The origin (port 9 on loopback) has nothing listening: only the
    // mirror can answer.
    let origin = "127.0.0.1:9";
    let yaml = reg.registries_yaml(origin).replacen(
        "    tls:\n",
        "    auth: {username: alice, password: wonderland}\n    tls:\n",
        1,
    );
    let config = RegistriesConfig::parse(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let o = PullOptions {
        credentials: vec![],
        registries: Arc::new(config),
    };
    let r = Reference::parse(&format!("{origin}/library/app:1")).unwrap();
    let got = s.pull(&r, &o, &NoProgress).await.unwrap();
    assert_eq!(got.id, img.id());
    assert_eq!(got.repo_tags, vec![format!("{origin}/library/app:1")]);
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallFs(std::path::PathBuf);

impl SmallFs {
    fn mount(dir: &std::path::Path, size: &str) -> SmallFs {
        use std::ffi::CString;
        let target = CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
        let data = CString::new(format!("size={size}")).unwrap();
        // SAFETY: valid C strings for the duration of the call.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        };
        assert_eq!(
            rc,
            0,
            "mounting a tmpfs needs root: {}",
            std::io::Error::last_os_error()
        );
        SmallFs(dir.to_path_buf())
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let target = std::ffi::CString::new(self.0.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid C string.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

#[tokio::test]
async fn a_full_disk_fails_the_pull_and_leaves_nothing_half_written() {
    let reg = secure();
    let mut noise = Vec::with_capacity(4 << 20);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while noise.len() < 4 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    let img = ImageBuilder::new().add_bytes("/big", &noise, 0o644).build();
    reg.push(&img, "big", "1").await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let _fs = SmallFs::mount(tmp.path(), "1m");
    let s = ImageStore::open(&tmp.path().join("store")).unwrap();
    let r = Reference::parse(&format!("{}/big:1", reg.host())).unwrap();
    let e = s.pull(&r, &options(&reg), &NoProgress).await.unwrap_err();
    assert_eq!(e.kind, PullErrorKind::Disk, "{e}");
    assert!(e.to_string().contains("No space left on device"), "{e}");
    assert!(s.list().is_empty());
    assert!(s.layer_records().is_empty());
    assert_eq!(listing(&s.root().join("layers")), Vec::<String>::new());
    assert_eq!(listing(&s.work().path), Vec::<String>::new());
    drop(s);
}

#[tokio::test]
async fn bearer_token_challenges_are_answered_with_the_users_credentials() {
    let reg = Registry::start(RegistryOptions {
        tls: true,
        users: vec![("alice".into(), "wonderland".into())],
        token_auth: true,
    })
    .unwrap();
    let img = image(b"token");
    reg.push(&img, "team/app", "1").await.unwrap();
    let (_tmp, s) = store();
    let r = Reference::parse(&format!("{}/team/app:1", reg.host())).unwrap();
    let issued = reg.tokens_issued();
    let got = s.pull(&r, &options(&reg), &NoProgress).await.unwrap();
    assert_eq!(got.id, img.id());
    assert!(reg.tokens_issued() > issued);
    // Without credentials the token server refuses and so does the registry.
    let (_tmp2, s2) = store();
    let mut anonymous = options(&reg);
    anonymous.credentials.clear();
    let e = s2.pull(&r, &anonymous, &NoProgress).await.unwrap_err();
    assert_eq!(e.kind, PullErrorKind::Unauthorized, "{e}");
    assert!(e.to_string().contains("401 Unauthorized"), "{e}");
}
