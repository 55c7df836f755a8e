//! Progress of imports and pulls, for the CLI's output and the node's
//! events. Reporting never fails or blocks the work.

/// One step of an import or a pull.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgressEvent {
    /// A layer started: its digest (compressed, or diff_id in docker-save
    /// archives) and size when known.
    LayerStarted {
        /// The layer's digest, `sha256:<hex>`.
        digest: String,
        /// Its size in bytes, when the manifest or archive says.
        size: Option<u64>,
    },
    /// Bytes of a layer read so far.
    LayerBytes {
        /// The layer's digest, `sha256:<hex>`.
        digest: String,
        /// Bytes read so far (a running total, not an increment).
        done: u64,
    },
    /// The store already had this layer.
    LayerExists {
        /// The layer's digest, `sha256:<hex>`.
        digest: String,
    },
    /// A layer is unpacked and stored.
    LayerDone {
        /// The layer's digest, `sha256:<hex>`.
        digest: String,
    },
    /// An image is stored under these names.
    ImageStored {
        /// The image's id, `sha256:<config digest hex>`.
        id: String,
        /// The normalized names now pointing at it.
        names: Vec<String>,
    },
}

/// Receives progress events.
pub trait Progress: Send + Sync {
    /// Called for each step, on whichever thread does the work; must
    /// return quickly and never fail.
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
