//! Import and pull of a 100 MB image: random (incompressible) content in
//! four gzip layers, imported from a docker-save archive into an empty
//! store, and pulled into another empty store from a TLS registry with
//! authentication on loopback (Debian's docker-registry).
//!
//! `cargo bench -p ordinal-image --bench image`

#[path = "../../../benches/report.rs"]
mod report;

use std::time::Instant;

use ordinal_core::image_reference::Reference;
use ordinal_image::build::{Format, ImageBuilder, Tagged, write};
use ordinal_image::compression::Compression;
use ordinal_image::testing::{Registry, RegistryOptions};
use ordinal_image::{ImageStore, NoProgress, PullOptions};

const LAYERS: usize = 4;
const LAYER_BYTES: usize = 25 << 20;

/// Incompressible bytes, quickly (xorshift).
fn random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

fn main() {
    let mut b = ImageBuilder::new();
    for i in 0..LAYERS {
        if i > 0 {
            b = b.layer();
        }
        b = b
            .add_bytes(
                &format!("/data/big-{i}"),
                &random(LAYER_BYTES - 64 * 1024, i as u64 + 1),
                0o644,
            )
            .mkdir(&format!("/etc/l{i}"), 0o755);
        for f in 0..64 {
            b = b.add_bytes(
                &format!("/etc/l{i}/f{f}"),
                &random(1024, (i * 100 + f) as u64 + 7),
                0o644,
            );
        }
    }
    let image = b.compression(Compression::Gzip).cmd(["/bin/sh"]).build();
    let total: usize = image.layers.iter().map(|l| l.bytes.len()).sum();
    println!(
        "image: {} layers, {:.1} MB compressed",
        LAYERS,
        total as f64 / 1e6
    );

    let tmp = tempfile::tempdir().expect("a temp dir");
    let archive = tmp.path().join("image.tar");
    write(
        &archive,
        Format::DockerArchive,
        Compression::None,
        &[Tagged::one(&image, "bench:1")],
    )
    .expect("write the archive");

    let store = ImageStore::open(&tmp.path().join("import-store")).expect("open a store");
    let t = Instant::now();
    store.import(&archive, &NoProgress).expect("import");
    let import = t.elapsed();
    println!("import: {:.0} ms", report::ms(import));
    report::figure(
        "image.import_100mb",
        report::ms(import),
        "ms",
        report::Goal::AtMost(1000.0),
        "ordinal image import of a 100 MB docker-save archive (4 gzip layers, random content) into an empty store",
    );

    let registry = Registry::start(RegistryOptions {
        tls: true,
        users: vec![("bench".into(), "bench".into())],
        token_auth: false,
    })
    .expect("start docker-registry");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(registry.push(&image, "bench", "1"))
        .expect("push");
    let store = ImageStore::open(&tmp.path().join("pull-store")).expect("open a store");
    let options = PullOptions {
        credentials: registry.credentials().into_iter().collect(),
        registries: registry.registries_config(),
    };
    let r = Reference::parse(&format!("{}/bench:1", registry.host())).expect("a reference");
    let t = Instant::now();
    rt.block_on(store.pull(&r, &options, &NoProgress))
        .expect("pull");
    let pull = t.elapsed();
    println!("pull: {:.0} ms", report::ms(pull));
    report::figure(
        "image.pull_100mb",
        report::ms(pull),
        "ms",
        report::Goal::AtMost(1500.0),
        "pull of a 100 MB image (4 gzip layers, random content) from a TLS registry with basic auth on loopback into an empty store",
    );
}
