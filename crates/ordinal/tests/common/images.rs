//! Images for the end-to-end tests, made here without a registry or a
//! network: Debian's static busybox as `busybox:1.36` (its applets — sh,
//! httpd, nc, sleep, wget — are what the tests' pods run). Every
//! `ordinal up` the harness starts has it imported into its node's store
//! before it starts, as `ordinal image import` would.

use std::path::Path;
use std::sync::OnceLock;

use ordinal_image::build::{Format, ImageBuilder, Tagged, write};
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
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("busybox.tar");
        write(
            &path,
            Format::DockerArchive,
            Compression::None,
            &[Tagged::one(&image, BUSYBOX)],
        )
        .expect("writing the busybox archive");
        std::fs::read(&path).expect("reading the busybox archive")
    })
}

/// Imports `archive` into the image store of the node of the `ordinal up`
/// whose data dir is `data_dir`.
pub fn import(data_dir: &Path, name: &str, archive: &[u8]) {
    let store_dir = data_dir.join("node").join("image-store");
    let store = ImageStore::open(&store_dir).expect("opening the test image store");
    let file = data_dir.join(format!(".{name}.import.tar"));
    std::fs::write(&file, archive).expect("writing the archive");
    let imported = store.import(&file, &NoProgress);
    let _ = std::fs::remove_file(&file);
    imported.unwrap_or_else(|e| panic!("importing {name}: {e}"));
}

/// The images every test node has.
pub fn prepare(data_dir: &Path) {
    import(data_dir, "busybox", busybox_archive());
}
