//! Programs of this machine as image content: a compiled binary together
//! with the shared libraries the dynamic loader resolves for it, each at
//! the path it has here, so the binary runs in a root that holds nothing
//! else. `ordinal image pack` makes images of a developer's fresh build
//! this way, and the end-to-end tests make stand-ins of real images
//! (nginx, curl) from Debian's packages.
//!
//! The libraries are what `ldd` lists: the ones the binary and its
//! libraries link. Libraries a program opens itself at run time
//! (`dlopen`: glibc's NSS modules other than files and dns, gconv, plugin
//! directories) are not listed and not copied.
//!
//! ```no_run
//! use ordinal_image::build::ImageBuilder;
//! let image = ImageBuilder::new()
//!     .add_program(std::path::Path::new("/usr/bin/curl"), "/usr/bin/curl")?
//!     .entrypoint(["/usr/bin/curl"])
//!     .build();
//! # Ok::<(), ordinal_image::program::ProgramError>(())
//! ```

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::{Entry, ImageBuilder, is_static_elf};

/// Why a program could not be made image content.
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// The program or one of its libraries could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The file is not an ELF executable (a script, say).
    #[error(
        "{}: not an ELF program (a script needs its interpreter, which is not copied; pack the interpreter instead)",
        .0.display()
    )]
    NotElf(PathBuf),
    /// `ldd` could not be started (usually: it is not installed).
    #[error("{}: running ldd failed: {source} (install Debian's libc-bin)", binary.display())]
    LddMissing {
        /// The dynamically linked program.
        binary: PathBuf,
        /// Why `ldd` did not start.
        #[source]
        source: io::Error,
    },
    /// `ldd` ran and exited with an error.
    #[error("{}: ldd failed: {message}", binary.display())]
    LddFailed {
        /// The dynamically linked program.
        binary: PathBuf,
        /// What `ldd` printed on stderr.
        message: String,
    },
    /// `ldd`'s listing names a missing library or a line of unknown shape.
    #[error("{}: {source}", binary.display())]
    Ldd {
        /// The dynamically linked program.
        binary: PathBuf,
        /// What in the listing was wrong.
        #[source]
        source: LddError,
    },
}

/// What in `ldd`'s output says the libraries cannot all be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LddError {
    /// A library the program needs is not installed (its name).
    #[error("{0} is not found on this machine (ldd: not found)")]
    NotFound(String),
    /// A line of none of the known shapes (the line).
    #[error("ldd printed a line it is not expected to print: {0:?}")]
    Unexpected(String),
}

/// The libraries (the dynamic loader among them) an `ldd` listing names,
/// in its order, each once. The kernel's vDSO has no file and is left out.
///
/// The three shapes of a line: `name => /path (0xaddr)` for a library
/// found on the search path, `/path (0xaddr)` for one named by path (the
/// loader), `name (0xaddr)` for the vDSO; `name => not found` is an error.
pub fn parse_ldd(output: &str) -> Result<Vec<PathBuf>, LddError> {
    let mut seen = BTreeSet::new();
    let mut libraries = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        // A shared object that needs no other library (ldd says so for
        // one without NEEDED entries).
        if line == "statically linked" {
            continue;
        }
        let unexpected = || LddError::Unexpected(line.to_string());
        let (name, path) = match line.split_once("=>") {
            Some((name, rest)) => {
                let rest = rest.trim();
                if rest == "not found" {
                    return Err(LddError::NotFound(name.trim().to_string()));
                }
                (name.trim(), strip_address(rest).ok_or_else(unexpected)?)
            }
            None => {
                let path = strip_address(line).ok_or_else(unexpected)?;
                (path, path)
            }
        };
        // `linux-vdso.so.1 (0x…)` (`linux-gate.so.1` on i386, `=>  (0x…)`
        // in older glibc): the kernel maps it, there is no file to copy.
        if name.starts_with("linux-vdso") || name.starts_with("linux-gate") {
            continue;
        }
        if !path.starts_with('/') {
            return Err(unexpected());
        }
        if seen.insert(path.to_string()) {
            libraries.push(PathBuf::from(path));
        }
    }
    Ok(libraries)
}

/// `path (0xaddr)` → `path` (empty for `(0xaddr)` alone); a line without
/// the address is not ldd's.
fn strip_address(s: &str) -> Option<&str> {
    let open = s.rfind('(')?;
    let (path, address) = s.split_at(open);
    (address.starts_with("(0x") && address.ends_with(')')).then(|| path.trim())
}

/// The shared libraries (and loader) `binary` needs, as `ldd` finds them
/// on this machine; none for a static binary.
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, ProgramError> {
    let bytes = fs::read(binary).map_err(|source| ProgramError::Io {
        path: binary.to_path_buf(),
        source,
    })?;
    if !bytes.starts_with(b"\x7fELF") {
        return Err(ProgramError::NotElf(binary.to_path_buf()));
    }
    // A program without an interpreter, or a shared object without a
    // dynamic section, links nothing (a shared object has no interpreter
    // but links its libraries all the same).
    if is_static_elf(&bytes) && !crate::build::elf_has_segment(&bytes, crate::build::PT_DYNAMIC) {
        return Ok(Vec::new());
    }
    let out =
        Command::new("ldd")
            .arg(binary)
            .output()
            .map_err(|source| ProgramError::LddMissing {
                binary: binary.to_path_buf(),
                source,
            })?;
    if !out.status.success() {
        let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(ProgramError::LddFailed {
            binary: binary.to_path_buf(),
            message,
        });
    }
    parse_ldd(&String::from_utf8_lossy(&out.stdout)).map_err(|source| ProgramError::Ldd {
        binary: binary.to_path_buf(),
        source,
    })
}

impl ImageBuilder {
    /// Adds the host program `binary` at `image_path` and every library
    /// it needs at the path it has on this machine (symbolic links
    /// followed, so each is a plain file in the image), owned by root with
    /// their modes kept.
    pub fn add_program(self, binary: &Path, image_path: &str) -> Result<Self, ProgramError> {
        self.add_programs(&[(binary, image_path)])
    }

    /// [`ImageBuilder::add_program`] for several programs, each library
    /// they share added once.
    pub fn add_programs(mut self, programs: &[(&Path, &str)]) -> Result<Self, ProgramError> {
        let mut libraries = BTreeSet::new();
        for (binary, image_path) in programs {
            libraries.extend(shared_libraries(binary)?);
            self = self.add_host_file_as_root(binary, image_path)?;
        }
        for library in libraries {
            let inner = library.to_string_lossy().into_owned();
            self = self.add_host_file_as_root(&library, &inner)?;
        }
        Ok(self)
    }

    /// A host file's content and mode at `image_path`, owned by root (a
    /// developer's build is owned by the developer; in the image it is
    /// the system's).
    fn add_host_file_as_root(self, host: &Path, image_path: &str) -> Result<Self, ProgramError> {
        let io_err = |source| ProgramError::Io {
            path: host.to_path_buf(),
            source,
        };
        let meta = fs::metadata(host).map_err(io_err)?;
        let data = fs::read(host).map_err(io_err)?;
        Ok(self.entry(Entry::File {
            path: image_path.into(),
            data,
            mode: meta.mode() & 0o777,
            uid: 0,
            gid: 0,
            mtime: meta.mtime().max(0) as u64,
            xattrs: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURL: &str = "\tlinux-vdso.so.1 (0x00007ffd6b9f2000)
\tlibcurl.so.4 => /lib/x86_64-linux-gnu/libcurl.so.4 (0x00007f9a8fc2e000)
\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f9a8fc0f000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f9a8fa2d000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f9a8fd35000)
\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f9a8f8ae000)
";

    #[test]
    fn shared_objects_bring_the_libraries_they_link() {
        // A library has no interpreter, yet links others (Python's
        // extension modules link zlib, OpenSSL, libffi...).
        let zlib = Path::new("/lib/x86_64-linux-gnu/libz.so.1");
        assert!(zlib.exists(), "zlib is missing: install Debian's zlib1g");
        assert_eq!(
            parse_ldd("\tstatically linked\n").unwrap(),
            Vec::<PathBuf>::new()
        );
        let libs = shared_libraries(zlib).unwrap();
        assert!(
            libs.iter().any(|l| l.to_string_lossy().contains("libc.so")),
            "{libs:?}"
        );
    }

    #[test]
    fn ldd_lists_libraries_and_the_loader_without_the_vdso() {
        let libs = parse_ldd(CURL).unwrap();
        assert_eq!(
            libs,
            [
                "/lib/x86_64-linux-gnu/libcurl.so.4",
                "/lib/x86_64-linux-gnu/libz.so.1",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib64/ld-linux-x86-64.so.2",
                "/lib/x86_64-linux-gnu/libssl.so.3",
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn other_architectures_and_older_ldd_shapes_parse() {
        let arm = "\tlinux-vdso.so.1 (0x0000ffff9b5fe000)
\tlibc.so.6 => /lib/aarch64-linux-gnu/libc.so.6 (0x0000ffff9b400000)
\t/lib/ld-linux-aarch64.so.1 (0x0000ffff9b5c1000)
";
        assert_eq!(
            parse_ldd(arm).unwrap(),
            [
                "/lib/aarch64-linux-gnu/libc.so.6",
                "/lib/ld-linux-aarch64.so.1"
            ]
            .map(PathBuf::from)
        );
        // glibc before 2.x printed the vDSO with an empty arrow; i386
        // calls it linux-gate.
        let old = "\tlinux-vdso.so.1 =>  (0x00007fff5a7fe000)
\tlinux-gate.so.1 (0xf7f0e000)
\tlibm.so.6 => /lib/libm.so.6 (0xf7d00000)
";
        assert_eq!(parse_ldd(old).unwrap(), [PathBuf::from("/lib/libm.so.6")]);
    }

    #[test]
    fn a_library_listed_twice_is_copied_once_and_paths_keep_their_spaces() {
        let text = "\tlibx.so => /opt/my libs/libx.so (0x1000)
\tliby.so => /opt/my libs/libx.so (0x1000)
";
        assert_eq!(
            parse_ldd(text).unwrap(),
            [PathBuf::from("/opt/my libs/libx.so")]
        );
    }

    #[test]
    fn a_missing_library_is_an_error_naming_it() {
        let text = "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1000)
\tlibgone.so.3 => not found
";
        assert_eq!(
            parse_ldd(text),
            Err(LddError::NotFound("libgone.so.3".into()))
        );
        assert_eq!(
            parse_ldd("\tlibgone.so.3 => not found\n")
                .unwrap_err()
                .to_string(),
            "libgone.so.3 is not found on this machine (ldd: not found)"
        );
    }

    #[test]
    fn lines_ldd_does_not_print_are_refused() {
        assert!(matches!(
            parse_ldd("\tlibc.so.6 => relative/libc.so.6 (0x1000)\n"),
            Err(LddError::Unexpected(_))
        ));
        assert!(matches!(
            parse_ldd("\tlibc.so.6 => /lib/libc.so.6\n"),
            Err(LddError::Unexpected(_))
        ));
        assert_eq!(parse_ldd("").unwrap(), Vec::<PathBuf>::new());
    }

    #[test]
    fn a_host_program_comes_with_its_libraries() {
        // ldd itself runs here: Debian's `getent` links libc only.
        let libs = shared_libraries(Path::new("/usr/bin/getent"))
            .expect("getent is in Debian's libc-bin, like ldd");
        assert!(libs.iter().any(|l| l.ends_with("libc.so.6")), "{libs:?}");
        assert!(
            libs.iter()
                .any(|l| l.to_string_lossy().contains("ld-linux")),
            "the loader: {libs:?}"
        );
        assert!(libs.iter().all(|l| l.is_absolute() && l.exists()));
    }

    #[test]
    fn static_programs_need_nothing_and_scripts_are_refused() {
        let busybox = Path::new("/usr/bin/busybox");
        assert_eq!(
            shared_libraries(busybox).expect("install Debian's busybox-static"),
            Vec::<PathBuf>::new()
        );
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("run.sh");
        fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        let err = shared_libraries(&script).unwrap_err();
        assert!(matches!(err, ProgramError::NotElf(_)), "{err}");
        let err = shared_libraries(&dir.path().join("absent")).unwrap_err();
        assert!(err.to_string().contains("absent"), "{err}");
    }
}
