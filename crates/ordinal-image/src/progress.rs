//! Progress of imports and pulls, for the CLI's output and the node's
//! events. Reporting never fails or blocks the work.

/// One step of an import or a pull.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A layer started: its digest (compressed, or diff_id in docker-save
    /// archives) and size when known.
    LayerStarted { digest: String, size: Option<u64> },
    /// Bytes of a layer read so far.
    LayerBytes { digest: String, done: u64 },
    /// The store already had this layer.
    LayerExists { digest: String },
    /// A layer is unpacked and stored.
    LayerDone { digest: String },
    /// An image is stored under these names.
    ImageStored { id: String, names: Vec<String> },
}

/// Receives progress events.
pub trait Progress: Send + Sync {
    fn update(&self, event: ProgressEvent);
}

/// Ignores progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _event: ProgressEvent) {}
}

impl<F: Fn(ProgressEvent) + Send + Sync> Progress for F {
    fn update(&self, event: ProgressEvent) {
        self(event)
    }
}
