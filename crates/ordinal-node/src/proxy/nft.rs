//! Running `nft`: a ruleset fed on standard input as one transaction,
//! optionally inside another network namespace (the `nft` child enters it
//! before it starts; this process stays where it is).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

/// Why a ruleset was not applied.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// The `nft` program could not be started.
    #[error("running nft (is the nftables package installed?): {0}")]
    Spawn(std::io::Error),
    /// The network namespace (path) to apply the rules in could not be
    /// opened.
    #[error("opening the network namespace {0}: {1}")]
    Netns(String, std::io::Error),
    /// `nft` exited non-zero; its standard error.
    #[error("nft refused the ruleset: {0}")]
    Refused(String),
}

/// How to reach `nft`.
#[derive(Debug)]
pub struct Nft {
    netns: Option<OwnedFd>,
}

impl Nft {
    /// `nft` in this process's network namespace, or in the one at
    /// `netns` (a path such as `/run/netns/NAME`).
    pub fn new(netns: Option<&Path>) -> Result<Nft, NftError> {
        let netns = match netns {
            None => None,
            Some(path) => Some(
                std::fs::File::open(path)
                    .map(OwnedFd::from)
                    .map_err(|e| NftError::Netns(path.display().to_string(), e))?,
            ),
        };
        Ok(Nft { netns })
    }

    /// Runs `nft -f -` with `ruleset` as its input.
    pub async fn apply(&self, ruleset: &str) -> Result<(), NftError> {
        self.run(&["-f", "-"], Some(ruleset)).await.map(|_| ())
    }

    /// Runs `nft ARGS`, returning its standard output.
    pub async fn run(&self, args: &[&str], input: Option<&str>) -> Result<String, NftError> {
        let mut command = tokio::process::Command::new("nft");
        command
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(fd) = &self.netns {
            let fd = fd.as_raw_fd();
            // SAFETY: between fork and exec the child only calls setns(2),
            // which is async-signal-safe, on a descriptor this process
            // keeps open until the command has been spawned.
            unsafe {
                command.pre_exec(move || {
                    if libc::setns(fd, libc::CLONE_NEWNET) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = command.spawn().map_err(NftError::Spawn)?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(text.as_bytes())
                .await
                .map_err(NftError::Spawn)?;
        }
        let out = child.wait_with_output().await.map_err(NftError::Spawn)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(NftError::Refused(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    }
}
