//! Container logs: the CRI log file format the kubelet reads ([`format`]),
//! the writer that turns a container's stdout and stderr into such a file
//! ([`writer`]), and the reader that serves `pods/log` from it with all of
//! `PodLogOptions` ([`reader`]).
//!
//! Every container instance has a file of its own; the runtime keeps the
//! previous instance's file for `--previous`.

pub mod format;
pub mod reader;
pub mod writer;

pub use format::Stream;
pub use reader::{LogOptions, OptionsError};
pub use writer::{ContainerLog, Follower};
