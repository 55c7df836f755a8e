//! What a controller's cache does to a watch event before it keeps the
//! object.

use kube::runtime::watcher::Event;

/// Drops `metadata.managedFields` from the event's object. The caches never
/// read managedFields, often the largest part of an object's metadata;
/// dropping them keeps the caches (every pod of the cluster) small.
pub fn forget_managed_fields<K: kube::Resource>(event: &mut Event<K>) {
    match event {
        Event::Apply(obj) | Event::InitApply(obj) | Event::Delete(obj) => {
            obj.meta_mut().managed_fields = None;
        }
        Event::Init | Event::InitDone => {}
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    use super::*;

    #[test]
    fn cached_objects_keep_no_managed_fields() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web-0".into());
        pod.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        for mut event in [
            Event::Apply(pod.clone()),
            Event::InitApply(pod.clone()),
            Event::Delete(pod.clone()),
        ] {
            forget_managed_fields(&mut event);
            let (Event::Apply(p) | Event::InitApply(p) | Event::Delete(p)) = event else {
                unreachable!()
            };
            assert_eq!(p.metadata.managed_fields, None);
            assert_eq!(p.metadata.name.as_deref(), Some("web-0"));
        }
    }
}
