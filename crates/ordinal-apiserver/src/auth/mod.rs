//! Who is asking, and whether they may: authentication (the admin token,
//! ServiceAccount JWTs), impersonation, and RBAC authorization, run on
//! every request but the health checks, in upstream's order: authenticate,
//! impersonate, authorize.
//!
//! The admin (and anything else in `system:masters`) is allowed everything
//! without a look at the roles, as upstream's authorizer chain does; every
//! other identity is allowed what its RoleBindings and ClusterRoleBindings
//! grant and nothing more.

pub mod attributes;
pub mod escalation;
pub mod rbac;
pub mod reviews;
pub mod tokens;

use std::collections::BTreeMap;

use http::HeaderMap;
use ordinal_store::Snapshot;
use serde_json::Value;

use crate::resources;
use crate::status::ApiError;
use attributes::{Attributes, ResourceAttributes};

/// The group every member of which is allowed everything.
pub const MASTERS: &str = "system:masters";
/// The group of every authenticated identity.
pub const AUTHENTICATED: &str = "system:authenticated";

/// An authenticated identity, as upstream's `user.Info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// `system:admin`, `system:serviceaccount:<ns>:<name>`.
    pub name: String,
    /// The uid, when the identity has one.
    pub uid: String,
    /// Its groups.
    pub groups: Vec<String>,
    /// Extra attributes (the bound pod of a token, …).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// The holder of the admin token.
    pub fn admin() -> UserInfo {
        UserInfo {
            name: "system:admin".into(),
            groups: vec![MASTERS.into(), AUTHENTICATED.into()],
            ..Default::default()
        }
    }

    /// A ServiceAccount, with upstream's groups.
    pub fn service_account(namespace: &str, name: &str, uid: &str) -> UserInfo {
        UserInfo {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            uid: uid.into(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                AUTHENTICATED.into(),
            ],
            extra: BTreeMap::new(),
        }
    }

    /// Whether the identity bypasses authorization.
    pub fn is_master(&self) -> bool {
        self.groups.iter().any(|g| g == MASTERS)
    }

    /// The `(namespace, name)` of a ServiceAccount identity.
    pub fn service_account_of(&self) -> Option<(&str, &str)> {
        let rest = self.name.strip_prefix("system:serviceaccount:")?;
        rest.split_once(':')
    }
}

/// The server's authenticator and authorizer.
pub struct Auth {
    admin_token: String,
    /// The tokens of the embedder's components and who they are.
    components: Vec<(String, UserInfo)>,
    /// Signs and verifies ServiceAccount tokens.
    pub signer: tokens::Signer,
}

impl Auth {
    /// An authenticator for the admin token and tokens `signer` signed.
    pub fn new(admin_token: String, signer: tokens::Signer) -> Auth {
        Auth {
            admin_token,
            components: Vec::new(),
            signer,
        }
    }

    /// Accepts `token` as `user` (a component's identity).
    pub fn add_static(&mut self, token: String, user: UserInfo) {
        self.components.push((token, user));
    }

    /// The identity a bearer token proves, if any.
    pub fn authenticate(&self, token: &str, snapshot: &Snapshot) -> Option<UserInfo> {
        if constant_time_eq(token.as_bytes(), self.admin_token.as_bytes()) {
            return Some(UserInfo::admin());
        }
        if let Some((_, user)) = self
            .components
            .iter()
            .find(|(t, _)| constant_time_eq(token.as_bytes(), t.as_bytes()))
        {
            return Some(user.clone());
        }
        if !tokens::looks_like_jwt(token) {
            return None;
        }
        let verified = self.signer.verify(token).ok()?;
        let b = &verified.binding;
        // The ServiceAccount must still exist with the uid the token names,
        // and so must the pod it is bound to.
        let account = object(
            snapshot,
            &resources::by_plural("", "serviceaccounts")?.key(Some(&b.namespace), &b.name),
        )?;
        if account.pointer("/metadata/uid").and_then(Value::as_str) != Some(b.uid.as_str()) {
            return None;
        }
        let mut user = UserInfo::service_account(&b.namespace, &b.name, &b.uid);
        if let Some((pod, uid)) = &b.pod {
            let object = object(snapshot, &resources::PODS.key(Some(&b.namespace), pod))?;
            if object.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid.as_str()) {
                return None;
            }
            user.extra.insert(
                "authentication.kubernetes.io/pod-name".into(),
                vec![pod.clone()],
            );
            user.extra.insert(
                "authentication.kubernetes.io/pod-uid".into(),
                vec![uid.clone()],
            );
        }
        user.extra.insert(
            "authentication.kubernetes.io/credential-id".into(),
            vec![format!("JTI={}", verified.id)],
        );
        Some(user)
    }
}

fn object(snapshot: &Snapshot, key: &str) -> Option<Value> {
    snapshot
        .get(key)
        .and_then(|o| serde_json::from_slice(&o.bytes).ok())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `user` may make the request.
pub fn authorize(snapshot: &Snapshot, user: &UserInfo, attrs: &Attributes) -> bool {
    user.is_master() || rbac::allows(snapshot, user, attrs)
}

/// The 403 a refused request gets, worded as upstream's.
pub fn forbidden(user: &UserInfo, attrs: &Attributes) -> ApiError {
    match attrs {
        Attributes::NonResource { verb, path } => ApiError::forbidden_raw(
            None,
            format!(
                "forbidden: User \"{}\" cannot {verb} path \"{path}\"",
                user.name
            ),
        ),
        Attributes::Resource(r) => {
            let mut resource = r.resource.clone();
            if !r.subresource.is_empty() {
                resource = format!("{resource}/{}", r.subresource);
            }
            let scope = if r.namespace.is_empty() {
                "at the cluster scope".to_string()
            } else {
                format!("in the namespace \"{}\"", r.namespace)
            };
            let reason = format!(
                "User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
                user.name, r.verb, r.group
            );
            ApiError::forbidden_raw(Some(r), reason)
        }
    }
}

/// Applies the `Impersonate-*` headers: the identity the request acts as,
/// once `user` is allowed to impersonate each part of it; `Ok(None)` when
/// the request impersonates no one.
pub fn impersonate(
    snapshot: &Snapshot,
    user: &UserInfo,
    headers: &HeaderMap,
) -> Result<Option<UserInfo>, ApiError> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let users = values("impersonate-user");
    let groups = values("impersonate-group");
    let uids = values("impersonate-uid");
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix("impersonate-extra-")
            && let Ok(v) = value.to_str()
        {
            let key = percent_encoding::percent_decode_str(key)
                .decode_utf8_lossy()
                .into_owned();
            extra.entry(key).or_default().push(v.to_string());
        }
    }
    if users.is_empty() {
        if groups.is_empty() && uids.is_empty() && extra.is_empty() {
            return Ok(None);
        }
        return Err(ApiError::bad_request(
            "requested impersonation of groups, a uid or extra fields without impersonating a user",
        ));
    }
    if users.len() > 1 || uids.len() > 1 {
        return Err(ApiError::bad_request(
            "only one user and one uid may be impersonated",
        ));
    }
    let name = users[0].clone();
    let check = |attrs: ResourceAttributes| -> Result<(), ApiError> {
        let attrs = Attributes::Resource(attrs);
        if authorize(snapshot, user, &attrs) {
            Ok(())
        } else {
            Err(forbidden(user, &attrs))
        }
    };
    let ask = |group: &str, resource: &str, namespace: &str, name: &str| ResourceAttributes {
        verb: "impersonate".into(),
        group: group.into(),
        resource: resource.into(),
        namespace: namespace.into(),
        name: name.into(),
        ..Default::default()
    };
    let mut target = match name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
    {
        Some((ns, sa)) => {
            check(ask("", "serviceaccounts", ns, sa))?;
            let mut u = UserInfo::service_account(ns, sa, "");
            u.groups.clear();
            u
        }
        None => {
            check(ask("", "users", "", &name))?;
            UserInfo {
                name: name.clone(),
                ..Default::default()
            }
        }
    };
    for group in &groups {
        check(ask("", "groups", "", group))?;
    }
    for uid in &uids {
        check(ask("authentication.k8s.io", "uids", "", uid))?;
    }
    for (key, values) in &extra {
        for v in values {
            check(ask(
                "authentication.k8s.io",
                &format!("userextras/{key}"),
                "",
                v,
            ))?;
        }
    }
    if let Some(uid) = uids.first() {
        target.uid = uid.clone();
    }
    target.groups = groups;
    if let Some((ns, _)) = target
        .service_account_of()
        .map(|(n, s)| (n.to_string(), s.to_string()))
    {
        for g in [
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{ns}"),
        ] {
            if !target.groups.contains(&g) {
                target.groups.push(g);
            }
        }
    }
    if name != "system:anonymous" && !target.groups.iter().any(|g| g == AUTHENTICATED) {
        target.groups.push(AUTHENTICATED.into());
    }
    target.extra = extra;
    Ok(Some(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot of an empty store: no roles, no bindings.
    fn empty() -> (tempfile::TempDir, Snapshot) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            ordinal_store::Store::open(ordinal_store::StoreConfig::new(dir.path().join("s.db")))
                .unwrap();
        let snapshot = store.snapshot();
        store.close();
        (dir, snapshot)
    }

    #[test]
    fn forbidden_messages_follow_upstream() {
        let user = UserInfo::service_account("a", "reader", "u");
        let attrs = attributes::of_request("GET", "/api/v1/namespaces/a/secrets", None);
        let e = forbidden(&user, &attrs);
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "secrets is forbidden: User \"system:serviceaccount:a:reader\" cannot list resource \"secrets\" in API group \"\" in the namespace \"a\""
        );
        let attrs = attributes::of_request("GET", "/api/v1/namespaces/a/pods/p/log", None);
        assert_eq!(
            forbidden(&user, &attrs).message,
            "pods \"p\" is forbidden: User \"system:serviceaccount:a:reader\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"a\""
        );
        let attrs = attributes::of_request("GET", "/apis/apps/v1/statefulsets", None);
        assert!(
            forbidden(&user, &attrs)
                .message
                .ends_with("in API group \"apps\" at the cluster scope")
        );
        let attrs = attributes::of_request("GET", "/metrics", None);
        assert_eq!(
            forbidden(&user, &attrs).message,
            "forbidden: User \"system:serviceaccount:a:reader\" cannot get path \"/metrics\""
        );
    }

    #[test]
    fn masters_need_no_roles_and_others_do() {
        let (_dir, empty) = empty();
        let attrs = attributes::of_request("DELETE", "/api/v1/namespaces/a/pods/p", None);
        assert!(authorize(&empty, &UserInfo::admin(), &attrs));
        assert!(!authorize(
            &empty,
            &UserInfo::service_account("a", "b", "u"),
            &attrs
        ));
    }

    #[test]
    fn impersonation_needs_the_right_and_a_user() {
        let (_dir, empty) = empty();
        let mut headers = HeaderMap::new();
        assert_eq!(
            impersonate(&empty, &UserInfo::admin(), &headers).unwrap(),
            None
        );
        headers.insert("impersonate-group", "devs".parse().unwrap());
        assert_eq!(
            impersonate(&empty, &UserInfo::admin(), &headers)
                .unwrap_err()
                .code,
            400
        );
        headers.insert("impersonate-user", "jane".parse().unwrap());
        let jane = impersonate(&empty, &UserInfo::admin(), &headers)
            .unwrap()
            .unwrap();
        assert_eq!(jane.name, "jane");
        assert_eq!(
            jane.groups,
            vec!["devs".to_string(), AUTHENTICATED.to_string()]
        );
        let nobody = UserInfo::service_account("a", "b", "u");
        let e = impersonate(&empty, &nobody, &headers).unwrap_err();
        assert_eq!(e.code, 403);
        assert!(
            e.message.contains("cannot impersonate resource \"users\""),
            "{}",
            e.message
        );
        let mut sa = HeaderMap::new();
        sa.insert(
            "impersonate-user",
            "system:serviceaccount:ns:x".parse().unwrap(),
        );
        let x = impersonate(&empty, &UserInfo::admin(), &sa)
            .unwrap()
            .unwrap();
        assert!(x.groups.contains(&"system:serviceaccounts:ns".to_string()));
    }
}
