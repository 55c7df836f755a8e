//! The StorageClass `local-path`, created at start-up when absent (as k3s
//! ships its local-path class): the default class, provisioner
//! `ordinal.dev/local-path`, reclaim policy Delete, expandable, binding
//! when the first pod is scheduled. A class of that name that exists is
//! left as the user made it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, PostParams};

use super::{ANN_DEFAULT_CLASS, DEFAULT_CLASS, PROVISIONER};

/// The class as it is created.
pub fn local_path_class() -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some(DEFAULT_CLASS.into()),
            annotations: Some(BTreeMap::from([(
                ANN_DEFAULT_CLASS.to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        },
        provisioner: PROVISIONER.into(),
        reclaim_policy: Some("Delete".into()),
        allow_volume_expansion: Some(true),
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        ..Default::default()
    }
}

/// Creates the class unless it exists, retrying while the API server is
/// not reachable yet.
pub async fn ensure(client: Client) {
    let api: Api<StorageClass> = Api::all(client);
    let mut delay = Duration::from_millis(50);
    loop {
        match api.get_opt(DEFAULT_CLASS).await {
            Ok(Some(_)) => return,
            Ok(None) => match api
                .create(&PostParams::default(), &local_path_class())
                .await
            {
                Ok(_) => return,
                Err(kube::Error::Api(s)) if s.code == 409 => return,
                Err(e) => tracing::debug!(error = %e, "creating the local-path StorageClass"),
            },
            Err(e) => tracing::debug!(error = %e, "reading the local-path StorageClass"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_is_the_default_and_waits_for_consumers() {
        let c = local_path_class();
        assert_eq!(c.metadata.annotations.unwrap()[ANN_DEFAULT_CLASS], "true");
        assert_eq!(
            c.volume_binding_mode.as_deref(),
            Some("WaitForFirstConsumer")
        );
        assert_eq!(c.reclaim_policy.as_deref(), Some("Delete"));
        assert_eq!(c.allow_volume_expansion, Some(true));
    }
}
