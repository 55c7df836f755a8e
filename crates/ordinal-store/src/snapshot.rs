//! Immutable views of the object cache.
//!
//! The cache is a persistent ordered map (`imbl::OrdMap`) from key to the
//! current [`Object`]. The writer builds each new version of it from the
//! previous one, sharing almost all nodes, and publishes it whole after a
//! commit; taking a [`Snapshot`] is an `O(1)` clone, so a LIST never holds a
//! lock while it walks the objects and never sees half a batch.

use std::ops::Bound;
use std::sync::Arc;

use imbl::OrdMap;

use crate::Object;

/// The cache: key to current object.
pub(crate) type Objects = OrdMap<Arc<str>, Arc<Object>>;

/// Every object of the store as of one revision.
#[derive(Clone)]
pub struct Snapshot {
    /// The revision this snapshot shows: every write up to and including it,
    /// none after.
    pub rev: u64,
    pub(crate) objects: Objects,
}

impl Snapshot {
    /// The object stored under exactly `key`.
    pub fn get(&self, key: &str) -> Option<&Arc<Object>> {
        self.objects.get(key)
    }

    /// The objects whose key starts with `prefix`, in key order, beginning
    /// after `start_after` when given (the last key of the previous page, for
    /// limit/continue pagination).
    ///
    /// Prefixes are plain string prefixes: end them with `/` so that
    /// `/core/pods/default/` does not also match `/core/pods/default2/`.
    pub fn range<'a>(
        &'a self,
        prefix: &'a str,
        start_after: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Arc<Object>> + 'a {
        let lower = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        self.objects
            .range::<_, str>((lower, Bound::Unbounded))
            .take_while(move |(key, _)| key.starts_with(prefix))
            .map(|(_, object)| object)
    }

    /// How many objects have a key starting with `prefix` (walks them).
    pub fn count(&self, prefix: &str) -> usize {
        self.range(prefix, None).count()
    }

    /// How many objects the snapshot holds in total.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the snapshot holds no object at all.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("rev", &self.rev)
            .field("objects", &self.objects.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attrs;

    fn snapshot(keys: &[&str]) -> Snapshot {
        let mut objects = Objects::new();
        for (i, key) in keys.iter().enumerate() {
            let key: Arc<str> = (*key).into();
            let object = Object {
                key: key.clone(),
                rev: i as u64 + 1,
                bytes: bytes::Bytes::from_static(b"{}"),
                attrs: Attrs::default(),
            };
            objects.insert(key, Arc::new(object));
        }
        Snapshot {
            rev: keys.len() as u64,
            objects,
        }
    }

    fn keys<'a>(it: impl Iterator<Item = &'a Arc<Object>>) -> Vec<&'a str> {
        it.map(|o| &*o.key).collect()
    }

    #[test]
    fn range_is_prefix_bounded_and_ordered() {
        let s = snapshot(&[
            "/p/default2/a",
            "/p/default/b",
            "/p/default/a",
            "/q/x",
            "/p/a",
        ]);
        assert_eq!(
            keys(s.range("/p/default/", None)),
            ["/p/default/a", "/p/default/b"]
        );
        assert_eq!(
            keys(s.range("/p/", None)),
            ["/p/a", "/p/default/a", "/p/default/b", "/p/default2/a"]
        );
        assert_eq!(s.count("/p/default2/"), 1);
        assert_eq!(s.count("/r/"), 0);
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn range_resumes_after_a_key() {
        let s = snapshot(&["/p/a", "/p/b", "/p/c", "/q/a"]);
        assert_eq!(keys(s.range("/p/", Some("/p/a"))), ["/p/b", "/p/c"]);
        assert_eq!(keys(s.range("/p/", Some("/p/bb"))), ["/p/c"]);
        assert!(keys(s.range("/p/", Some("/p/c"))).is_empty());
        // A continue key before the prefix starts from the prefix.
        assert_eq!(keys(s.range("/p/", Some("/a"))), ["/p/a", "/p/b", "/p/c"]);
    }
}
