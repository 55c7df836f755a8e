//! `ordinal image`: the node's images from the command line, as `kind
//! load` and `crictl images` give them — import archives without a
//! registry, pack a program of this machine into an image, list, pull,
//! remove. They work on the store of `ordinal up`'s node (`<data
//! dir>/node/image-store`) whether or not it runs; a running node sees the
//! change at once, so a pod waiting for an imported image starts.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use ordinal_core::image_reference::Reference;
use ordinal_image::{Image, ImageStore, Progress, ProgressEvent};

#[derive(clap::Subcommand)]
pub enum ImageCommand {
    /// Import image archives: docker-save archives (`docker save`),
    /// OCI archives and OCI layout directories, each plain, gzip or zstd.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Make an image of a program of this machine and store it, as
    /// import does: the binary (as /usr/local/bin/NAME, the image's
    /// Entrypoint) with the shared libraries ldd lists for it, /etc/passwd
    /// and /etc/group with root and nobody, /tmp, and this machine's
    /// /etc/os-release. For running a binary you just built as pods,
    /// without docker.
    Pack {
        /// The image's name, NAME:TAG (e.g. ordinal-kv:dev).
        reference: String,
        /// The program (e.g. target/debug/ordinal-kv).
        binary: PathBuf,
        /// The image's Cmd: the arguments the program gets when a pod
        /// gives none (everything after --cmd).
        #[arg(long, num_args = 1.., allow_hyphen_values = true, value_name = "ARG")]
        cmd: Vec<String>,
    },
    /// List the stored images.
    #[command(alias = "list")]
    Ls,
    /// Pull an image from its registry (honouring the node's registries
    /// file, if given).
    Pull {
        reference: String,
        /// A registries file (mirrors, plain-HTTP registries, credentials,
        /// CAs) in k3s's `registries.yaml` format.
        #[arg(long)]
        registries: Option<PathBuf>,
    },
    /// Remove images (a name removes that name; an ID, or the last name,
    /// removes the image).
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<String>,
    },
}

/// Where `ordinal up` keeps its node's images.
pub fn store_dir(data_dir: &Path) -> PathBuf {
    ordinal_node::images::store_dir(&data_dir.join("node"))
}

pub async fn run(data_dir: &Path, command: ImageCommand) -> anyhow::Result<()> {
    let dir = store_dir(data_dir);
    let store = ImageStore::open(&dir)
        .with_context(|| format!("opening the image store {}", dir.display()))?;
    match command {
        ImageCommand::Import { files } => {
            let mut failed = 0;
            for file in files {
                let progress = Lines::new(format!("importing {}", file.display()));
                match store.import(&file, &progress) {
                    Ok(images) => {
                        progress.finish();
                        for image in images {
                            println!("imported {}", describe(&image));
                        }
                    }
                    Err(e) => {
                        progress.finish();
                        eprintln!("ordinal: {e}");
                        failed += 1;
                    }
                }
            }
            anyhow::ensure!(failed == 0, "{failed} archive(s) could not be imported");
            Ok(())
        }
        ImageCommand::Pack {
            reference,
            binary,
            cmd,
        } => {
            let image = pack(&store, &reference, &binary, &cmd)?;
            println!("packed {} from {}", describe(&image), binary.display());
            Ok(())
        }
        ImageCommand::Ls => {
            print!("{}", table(&store.list()));
            Ok(())
        }
        ImageCommand::Pull {
            reference,
            registries,
        } => {
            let parsed = Reference::parse(&reference).map_err(|e| anyhow::anyhow!("{e}"))?;
            let registries = match registries {
                Some(path) => ordinal_image::registries::RegistriesConfig::load(&path)
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                None => Default::default(),
            };
            let options = ordinal_image::pull::PullOptions {
                credentials: Vec::new(),
                registries: std::sync::Arc::new(registries),
            };
            let progress = Lines::new(format!("pulling {parsed}"));
            let began = Instant::now();
            let pulled = store.pull(&parsed, &options, &progress).await;
            progress.finish();
            let image = pulled.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "pulled {} in {}",
                describe(&image),
                ordinal_node::pod::images::text::go_duration(began.elapsed())
            );
            Ok(())
        }
        ImageCommand::Rm { images } => {
            let mut failed = 0;
            for what in images {
                match store.remove(&what) {
                    Ok(_) => println!("removed {what}"),
                    Err(e) => {
                        eprintln!("ordinal: {what}: {e}");
                        failed += 1;
                    }
                }
            }
            anyhow::ensure!(failed == 0, "{failed} image(s) could not be removed");
            Ok(())
        }
    }
}

/// The users of a packed image: root, and nobody for `runAsUser: 65534`.
const PACKED_PASSWD: &[u8] =
    b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const PACKED_GROUP: &[u8] = b"root:x:0:\nnogroup:x:65534:\n";
/// Names from /etc/hosts first, as on Debian: without this file glibc
/// asks DNS first and, when DNS answers "no such name", never reads
/// /etc/hosts (so `localhost` would not resolve).
const PACKED_NSSWITCH: &[u8] = b"hosts: files dns\n";

/// The image `ordinal image pack` makes of `binary`: see
/// [`ImageCommand::Pack`].
fn packed_image(binary: &Path, cmd: &[String]) -> anyhow::Result<ordinal_image::build::BuiltImage> {
    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .with_context(|| format!("{}: not a program's path", binary.display()))?;
    let inner = format!("/usr/local/bin/{name}");
    let mut builder = ordinal_image::build::ImageBuilder::new()
        .mkdir("/etc", 0o755)
        .mkdir("/root", 0o700)
        .mkdir("/tmp", 0o1777)
        .add_bytes("/etc/passwd", PACKED_PASSWD, 0o644)
        .add_bytes("/etc/group", PACKED_GROUP, 0o644)
        .add_bytes("/etc/nsswitch.conf", PACKED_NSSWITCH, 0o644)
        .add_program(binary, &inner)?
        .entrypoint([inner.as_str()]);
    if let Some(release) = ["/etc/os-release", "/usr/lib/os-release"]
        .into_iter()
        .find_map(|p| std::fs::read(p).ok())
    {
        builder = builder.add_bytes("/etc/os-release", &release, 0o644);
    }
    if !cmd.is_empty() {
        builder = builder.cmd(cmd.iter().cloned());
    }
    Ok(builder.build())
}

/// Packs `binary` as `reference` into the store: the image is written as
/// an OCI layout in a temporary directory and imported from there, so it
/// is stored exactly as an imported archive would be.
fn pack(
    store: &ImageStore,
    reference: &str,
    binary: &Path,
    cmd: &[String],
) -> anyhow::Result<Image> {
    let parsed = Reference::parse(reference).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(name) = parsed.tagged_name().filter(|_| parsed.digest().is_none()) else {
        anyhow::bail!(
            "{reference}: name the image NAME:TAG; its digest is known only once it is made"
        );
    };
    let image = packed_image(binary, cmd)?;
    let work = tempfile::Builder::new()
        .prefix("ordinal-pack-")
        .tempdir()
        .context("making a temporary directory")?;
    let layout = work.path().join("layout");
    ordinal_image::build::write(
        &layout,
        ordinal_image::build::Format::OciLayout,
        ordinal_image::compression::Compression::None,
        &[ordinal_image::build::Tagged::one(&image, &name)],
    )
    .with_context(|| format!("writing the image to {}", layout.display()))?;
    let mut stored = store
        .import(&layout, &ordinal_image::NoProgress)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    stored
        .pop()
        .with_context(|| format!("{reference}: the import stored no image"))
}

/// `name (id, size)` of an image.
fn describe(image: &Image) -> String {
    let name = image
        .repo_tags
        .first()
        .or(image.repo_digests.first())
        .cloned()
        .unwrap_or_else(|| "<none>".into());
    format!(
        "{name} ({}, {})",
        short_id(&image.id),
        human_size(image.size)
    )
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(13)]
}

/// Sizes as crictl prints them: decimal units, three significant digits.
fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < units.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let text = if unit == 0 {
        format!("{bytes}")
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{}", units[unit])
}

/// `crictl images`' table: one row per name (or one `<none>` row).
fn table(images: &[Image]) -> String {
    let mut rows = vec![[
        "IMAGE".to_string(),
        "TAG".to_string(),
        "IMAGE ID".to_string(),
        "SIZE".to_string(),
    ]];
    let mut sorted: Vec<&Image> = images.iter().collect();
    sorted.sort_by(|a, b| a.repo_tags.first().cmp(&b.repo_tags.first()));
    for image in sorted {
        let id = short_id(&image.id).to_string();
        let size = human_size(image.size);
        if image.repo_tags.is_empty() {
            let repo = image
                .repo_digests
                .first()
                .and_then(|d| d.split_once('@'))
                .map(|(repo, _)| repo.to_string())
                .unwrap_or_else(|| "<none>".into());
            rows.push([repo, "<none>".into(), id, size]);
            continue;
        }
        for tag in &image.repo_tags {
            let (repo, tag) = tag.rsplit_once(':').unwrap_or((tag, "<none>"));
            rows.push([repo.into(), tag.into(), id.clone(), size.clone()]);
        }
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line = format!(
            "{:w0$}   {:w1$}   {:w2$}   {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Progress on stderr: one line rewritten in place on a terminal, a line
/// every few seconds otherwise (and nothing for work that is quick).
struct Lines {
    what: String,
    state: Mutex<LinesState>,
    terminal: bool,
}

struct LinesState {
    layers: std::collections::BTreeMap<String, (u64, Option<u64>, bool)>,
    started: Instant,
    last: Option<Instant>,
    shown: bool,
}

/// Work shorter than this says nothing.
const QUIET_FOR: Duration = Duration::from_millis(500);

impl Lines {
    fn new(what: String) -> Lines {
        Lines {
            what,
            state: Mutex::new(LinesState {
                layers: Default::default(),
                started: Instant::now(),
                last: None,
                shown: false,
            }),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn line(&self, s: &LinesState) -> String {
        let total: u64 = s.layers.values().filter_map(|(_, size, _)| *size).sum();
        let done: u64 = s.layers.values().map(|(d, _, _)| *d).sum();
        let finished = s.layers.values().filter(|(_, _, f)| *f).count();
        let mut line = format!(
            "ordinal: {}: {finished}/{} layers",
            self.what,
            s.layers.len()
        );
        if total > 0 {
            line.push_str(&format!(", {} of {}", human_size(done), human_size(total)));
        } else if done > 0 {
            line.push_str(&format!(", {}", human_size(done)));
        }
        line
    }

    fn finish(&self) {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.shown {
            let line = self.line(&s);
            let mut err = std::io::stderr();
            if self.terminal {
                let _ = writeln!(err, "\r\x1b[K{line}");
            } else {
                let _ = writeln!(err, "{line}");
            }
        }
    }
}

impl Progress for Lines {
    fn update(&self, event: ProgressEvent) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            ProgressEvent::LayerStarted { digest, size } => {
                s.layers.insert(digest, (0, size, false));
            }
            ProgressEvent::LayerBytes { digest, done } => {
                s.layers.entry(digest).or_insert((0, None, false)).0 = done;
            }
            ProgressEvent::LayerExists { digest } | ProgressEvent::LayerDone { digest } => {
                let entry = s.layers.entry(digest).or_insert((0, None, false));
                entry.2 = true;
                if let Some(size) = entry.1 {
                    entry.0 = size;
                }
            }
            ProgressEvent::ImageStored { .. } => {}
        }
        let now = Instant::now();
        if now - s.started < QUIET_FOR {
            return;
        }
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        };
        if s.last.is_some_and(|t| now - t < every) {
            return;
        }
        s.last = Some(now);
        s.shown = true;
        let line = self.line(&s);
        let mut err = std::io::stderr();
        if self.terminal {
            let _ = write!(err, "\r\x1b[K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_packed_program_is_stored_with_its_libraries_users_and_entrypoint() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&tmp.path().join("store")).unwrap();
        let getent = Path::new("/usr/bin/getent");
        let image = pack(&store, "getent:test", getent, &["hosts".into()]).unwrap();
        assert_eq!(image.repo_tags, ["docker.io/library/getent:test"]);
        assert_eq!(
            image.config.entrypoint.as_deref(),
            Some(&["/usr/local/bin/getent".to_string()][..])
        );
        assert_eq!(
            image.config.cmd.as_deref(),
            Some(&["hosts".to_string()][..])
        );
        let found = store
            .get(&Reference::parse("getent:test").unwrap())
            .expect("stored under its name");
        assert_eq!(found.id, image.id);

        let layers = store.layer_dirs(&image).unwrap();
        let file = |p: &str| layers.iter().map(|l| l.join(p)).find(|p| p.exists());
        assert!(file("usr/local/bin/getent").is_some());
        for lib in ordinal_image::program::shared_libraries(getent).unwrap() {
            let inner = lib.strip_prefix("/").unwrap().to_str().unwrap().to_string();
            assert!(file(&inner).is_some(), "{inner} is in the image");
        }
        let passwd = std::fs::read_to_string(file("etc/passwd").unwrap()).unwrap();
        assert_eq!(
            passwd
                .lines()
                .map(|l| l.split(':').next().unwrap())
                .collect::<Vec<_>>(),
            ["root", "nobody"]
        );
        let tmp_mode = std::fs::metadata(file("tmp").unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(tmp_mode & 0o7777, 0o1777);
        assert_eq!(
            std::fs::read(file("etc/os-release").unwrap()).unwrap(),
            std::fs::read("/etc/os-release").unwrap()
        );
    }

    #[test]
    fn packing_refuses_digests_scripts_and_missing_files() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&tmp.path().join("store")).unwrap();
        let getent = Path::new("/usr/bin/getent");
        let digest = format!("x@sha256:{}", "a".repeat(64));
        let err = pack(&store, &digest, getent, &[]).unwrap_err().to_string();
        assert!(err.contains("NAME:TAG"), "{err}");
        let err = pack(&store, "Upper:1", getent, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be lowercase"), "{err}");
        let script = tmp.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let err = pack(&store, "s:1", &script, &[]).unwrap_err().to_string();
        assert!(err.contains("not an ELF program"), "{err}");
        let err = pack(&store, "m:1", &tmp.path().join("missing"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
        assert!(store.list().is_empty(), "nothing stored");
    }

    #[test]
    fn sizes_read_as_crictl_prints_them() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(2_155_320), "2.16MB");
        assert_eq!(human_size(104_857_600), "105MB");
        assert_eq!(human_size(12_300_000), "12.3MB");
        assert_eq!(human_size(1_000_000_000), "1GB");
    }
}
