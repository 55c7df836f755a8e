//! rbac.authorization.k8s.io/v1: the objects of role-based access control
//! (roles, cluster roles and their bindings). Serving them is all this
//! module does; deciding requests with them is the authorizer's job.

pub(crate) mod cluster_role;
pub(crate) mod cluster_role_binding;
pub(crate) mod role;
pub(crate) mod role_binding;
