//! Which entry of a multi-platform image index this machine runs: the
//! index names platforms in Go's terms (`linux`/`amd64`, `arm64` + `v8`).

use oci_spec::image::{Descriptor, ImageIndex};

/// This machine's architecture as Go (and so image indexes) spells it.
pub fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        "mips64" => "mips64",
        other => other,
    }
}

/// The platform string of this machine, `linux/amd64`.
pub fn current() -> String {
    format!("linux/{}", goarch())
}

/// Picks the index entry for `linux/<goarch()>`: among matches, one
/// without a variant or with the usual variant of this architecture.
pub fn select(index: &ImageIndex) -> Option<&Descriptor> {
    select_for(index, "linux", goarch())
}

/// Picks the entry for a given platform (tests pick others).
pub fn select_for<'a>(index: &'a ImageIndex, os: &str, arch: &str) -> Option<&'a Descriptor> {
    let preferred_variant = match arch {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    };
    let matches: Vec<&Descriptor> = index
        .manifests()
        .iter()
        .filter(|d| {
            d.platform()
                .as_ref()
                .is_some_and(|p| p.os().to_string() == os && p.architecture().to_string() == arch)
        })
        .collect();
    matches
        .iter()
        .find(|d| {
            let v = d.platform().as_ref().and_then(|p| p.variant().clone());
            v.is_none() || v.as_deref() == preferred_variant
        })
        .or(matches.first())
        .copied()
}
