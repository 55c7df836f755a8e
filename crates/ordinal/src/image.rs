//! `ordinal image`: the node's images from the command line, as `kind
//! load` and `crictl images` give them — import archives without a
//! registry, list, pull, remove. They work on the store of `ordinal up`'s
//! node (`<data dir>/node/image-store`) whether or not it runs; a running
//! node sees the change at once, so a pod waiting for an imported image
//! starts.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use ordinal_image::{Image, ImageStore, Progress, ProgressEvent, Reference};

#[derive(clap::Subcommand)]
pub enum ImageCommand {
    /// Import image archives: docker-save archives (`docker save`),
    /// OCI archives and OCI layout directories, each plain, gzip or zstd.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
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
