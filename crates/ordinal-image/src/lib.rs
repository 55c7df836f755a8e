//! Container images for ordinal (references as the kubelet parses them are
//! `ordinal_core::image_reference`): a content-addressed store shared by the node agent and the CLI, layer
//! unpacking confined to its directory, import of docker-save and OCI
//! archives, pulls over the OCI distribution protocol, and garbage
//! collection with the kubelet's semantics.
//!
//! The node runs a container on an overlay of [`ImageStore::layer_dirs`]
//! (or a copy made by [`materialize`] where overlayfs is unavailable).
//!
//! ```no_run
//! use ordinal_core::image_reference::Reference;
//! use ordinal_image::{ImageStore, NoProgress};
//! let store = ImageStore::open(std::path::Path::new("/var/lib/ordinal/image-store"))?;
//! store.import(std::path::Path::new("busybox.tar"), &NoProgress)?;
//! let image = store.get(&Reference::parse("busybox:1.36")?).expect("imported");
//! let lower = store.layer_ids(&image)?; // mount with lowerdir= from layers/
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod auth;
pub mod build;
pub mod compression;
mod config;
mod digest;
mod import;
mod materialize;
mod platform;
pub mod program;
mod progress;
pub mod pull;
pub mod registries;
mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod unpack;

pub use config::ImageConfig;
pub use import::ImportError;
pub use materialize::materialize;
pub use progress::{NoProgress, Progress, ProgressEvent};
pub use pull::{PullError, PullOptions};
pub use registries::RegistriesConfig;
pub use store::{DiskUsage, GcPolicy, GcReport, Image, ImageStore, StoreError};
