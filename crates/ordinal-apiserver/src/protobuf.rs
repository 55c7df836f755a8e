//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).
//!
//! client-go's typed clients, and with them kubectl's imperative generators
//! (`kubectl create configmap|secret|namespace|service|serviceaccount|role|
//! rolebinding|clusterrole|clusterrolebinding|job|cronjob|deployment|pdb|
//! priorityclass|token`,
//! `kubectl auth can-i|whoami`), send their bodies as protobuf. [`decode`]
//! turns such a body into the [`serde_json::Value`] the same object would
//! have had as JSON, so the rest of the server only ever sees JSON.
//!
//! The wire format is upstream's (apimachinery
//! `pkg/runtime/serializer/protobuf`): the four magic bytes `k8s\0`, then a
//! `runtime.Unknown` message whose `typeMeta` (field 1) names the kind and
//! whose `raw` (field 2) holds the object's own encoding. Objects follow the
//! gogo-protobuf conventions of the Go types: maps are repeated `{1: key, 2:
//! value}` entries, `metav1.Time` is `{1: seconds, 2: nanos}`, `IntOrString`
//! is `{1: type, 2: intVal, 3: strVal}`, `resource.Quantity` is `{1: string}`,
//! and an embedded struct that JSON inlines (`VolumeSource` in `Volume`,
//! `ProbeHandler` in `Probe`, ...) is a nested message whose fields the JSON
//! object takes as its own. Repeated scalars are read packed or not.
//!
//! Go's protobuf encoder writes every non-pointer field, zero or not, while
//! its JSON encoder omits zero `omitempty` fields. The decoder follows the
//! JSON side: each field is described with its Go JSON behaviour (omitted
//! when zero, always present, present when set on the wire, or repeated), so
//! the result is what `json.Marshal` of the decoded Go object would give
//! (`creationTimestamp: null`, `spec: {}`, `targetPort: 0`, `"status":
//! {"allowed": false}`, a slice or pointer without `omitempty` as `null`,
//! ...). Field order follows the Go structs.
//!
//! Supported kinds, each with every field of its Go type (k8s.io/api 1.33)
//! down to the leaves, the whole `PodTemplateSpec` included:
//! - v1 ConfigMap, Secret, Namespace, Service, ServiceAccount, Pod, and
//!   DeleteOptions (any apiVersion);
//! - policy/v1 Eviction and PodDisruptionBudget;
//! - scheduling.k8s.io/v1 PriorityClass;
//! - authentication.k8s.io/v1 TokenRequest, TokenReview, SelfSubjectReview;
//! - authorization.k8s.io/v1 SelfSubjectAccessReview,
//!   SelfSubjectRulesReview, SubjectAccessReview, LocalSubjectAccessReview;
//! - rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding,
//!   ClusterRoleBinding;
//! - batch/v1 Job and CronJob;
//! - apps/v1 Deployment and ReplicaSet.
//!
//! Any other kind is [`ProtobufError::UnsupportedKind`]. Field numbers the
//! tables do not know (fields newer than 1.33) are skipped, as protobuf
//! does; a field's repeated occurrences follow protobuf's rules (last scalar
//! wins, messages merge, map keys are overwritten).
//!
//! Known differences from upstream: `contentEncoding` other than empty is
//! refused; groups (wire types 3 and 4) are refused rather than skipped;
//! strings that are not UTF-8 become U+FFFD as Go's JSON encoder would
//! write them; a Secret map value absent from its entry becomes `""`
//! rather than `null`; a `resource.Quantity` is passed on as sent rather
//! than parsed and written in canonical form (`"1000m"` stays `"1000m"`;
//! the JSON path then judges it as it would a JSON client's).

use base64::Engine as _;
use serde_json::{Map, Value};

/// The media type of a Kubernetes protobuf body.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: [u8; 4] = [b'k', b'8', b's', 0];

/// Messages nest no deeper than the schemas do (a CronJob's pod template
/// reaches about 14 levels); this is a guard in case a schema ever becomes
/// recursive.
const MAX_DEPTH: usize = 32;

/// Why a protobuf body could not be decoded.
///
/// The messages are fit for a 400 BadRequest, except
/// [`ProtobufError::UnsupportedKind`] and
/// [`ProtobufError::UnsupportedEncoding`], which call for a 415 (see
/// [`ProtobufError::is_unsupported`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with `k8s\0`.
    #[error(
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
    )]
    NotProtobuf,
    /// A varint, length or value runs past the end of its message.
    #[error("proto: {message}: unexpected EOF")]
    UnexpectedEof {
        /// The message being read.
        message: &'static str,
    },
    /// A varint longer than 64 bits.
    #[error("proto: {message}: integer overflow")]
    IntegerOverflow {
        /// The message being read.
        message: &'static str,
    },
    /// Field number 0, or a wire type protobuf does not define.
    #[error("proto: {message}: illegal tag {field} (wire type {wire_type})")]
    IllegalTag {
        /// The message being read.
        message: &'static str,
        /// The field number.
        field: u64,
        /// The wire type.
        wire_type: u8,
    },
    /// A known field with the wrong wire type.
    #[error("proto: {message}: wrong wireType = {wire_type} for field {field}")]
    WrongWireType {
        /// The message being read.
        message: &'static str,
        /// The field's JSON name.
        field: &'static str,
        /// The wire type found.
        wire_type: u8,
    },
    /// A `metav1.Time` outside the years 0001-9999.
    #[error("proto: {message}: time {seconds}s is out of range")]
    TimeOutOfRange {
        /// The message being read.
        message: &'static str,
        /// The seconds since the epoch.
        seconds: i64,
    },
    /// A `managedFields[].fieldsV1` that is not JSON.
    #[error("proto: FieldsV1: invalid JSON: {0}")]
    InvalidFieldsV1(String),
    /// Messages nested deeper than any supported kind allows.
    #[error("proto: messages nested too deeply")]
    TooDeep,
    /// The envelope names no kind.
    #[error("Object 'Kind' is missing in protobuf envelope")]
    MissingKind,
    /// A kind this server cannot decode from protobuf.
    #[error(
        "no protobuf decoder for kind {kind:?} in version {api_version:?}: send application/json"
    )]
    UnsupportedKind {
        /// The envelope's apiVersion.
        api_version: String,
        /// The envelope's kind.
        kind: String,
    },
    /// The envelope's `contentEncoding` is set (upstream never sets it).
    #[error("unsupported protobuf content encoding {0:?}")]
    UnsupportedEncoding(String),
}

impl ProtobufError {
    /// True when the body is well formed but names something this server
    /// cannot decode: answer 415 rather than 400.
    #[cfg(test)]
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            ProtobufError::UnsupportedKind { .. } | ProtobufError::UnsupportedEncoding(_)
        )
    }
}

/// Decodes a protobuf request body into JSON (apiVersion and kind included
/// from the envelope's TypeMeta).
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let rest = body
        .strip_prefix(&MAGIC)
        .ok_or(ProtobufError::NotProtobuf)?;
    let unknown = read_fields(rest, &UNKNOWN)?;
    let type_meta = concat(&unknown[0]);
    let type_meta = read_fields(&type_meta, &TYPE_META)?;
    let api_version = last_str(&type_meta[0]);
    let kind = last_str(&type_meta[1]);
    let encoding = last_str(&unknown[2]);
    if !encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEncoding(encoding));
    }
    if kind.is_empty() {
        return Err(ProtobufError::MissingKind);
    }
    let schema = match (api_version.as_str(), kind.as_str()) {
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "Secret") => &SECRET,
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "Service") => &SERVICE,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("v1", "Pod") => &POD,
        ("policy/v1", "Eviction") => &EVICTION,
        ("policy/v1", "PodDisruptionBudget") => &POD_DISRUPTION_BUDGET,
        ("authentication.k8s.io/v1", "TokenRequest") => &AUTHN_TOKEN_REQUEST,
        ("authentication.k8s.io/v1", "TokenReview") => &AUTHN_TOKEN_REVIEW,
        ("authentication.k8s.io/v1", "SelfSubjectReview") => &AUTHN_SELF_SUBJECT_REVIEW,
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => &AUTHZ_SELF_SUBJECT_ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => &AUTHZ_SELF_SUBJECT_RULES_REVIEW,
        ("authorization.k8s.io/v1", "SubjectAccessReview") => &AUTHZ_SUBJECT_ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview") => {
            &AUTHZ_LOCAL_SUBJECT_ACCESS_REVIEW
        }
        ("rbac.authorization.k8s.io/v1", "Role") => &ROLE,
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => &CLUSTER_ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => &ROLE_BINDING,
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => &CLUSTER_ROLE_BINDING,
        ("batch/v1", "Job") => &JOB,
        ("batch/v1", "CronJob") => &CRON_JOB,
        ("apps/v1", "Deployment") => &DEPLOYMENT,
        ("apps/v1", "ReplicaSet") => &REPLICA_SET,
        ("scheduling.k8s.io/v1", "PriorityClass") => &PRIORITY_CLASS,
        // Every group version registers DeleteOptions (metav1.AddToGroupVersion).
        (_, "DeleteOptions") => &DELETE_OPTIONS,
        _ => return Err(ProtobufError::UnsupportedKind { api_version, kind }),
    };
    let raw = concat(&unknown[1]);
    let mut object = Map::new();
    object.insert("kind".into(), Value::String(kind));
    object.insert("apiVersion".into(), Value::String(api_version));
    let fields = message(&raw, schema, 1)?;
    object.extend(fields);
    Ok(Value::Object(object))
}

// ---------------------------------------------------------------------------
// Schemas

/// A message: its name (for errors) and fields in Go declaration order.
struct Message {
    name: &'static str,
    fields: &'static [Field],
}

/// One field: protobuf number, JSON name, type, and JSON presence.
struct Field {
    number: u64,
    name: &'static str,
    ty: Ty,
    card: Card,
}

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Bool,
    I32,
    I64,
    /// `[]byte` as base64 (used only as map values and FieldsV1 here).
    Bytes,
    /// `metav1.Time`: an RFC 3339 string, `null` when zero.
    Time,
    /// `intstr.IntOrString`: a number or a string.
    IntOrString,
    /// `metav1.FieldsV1`: its raw bytes are JSON.
    FieldsV1,
    Msg(&'static Message),
    /// `map[string]string`.
    StrMap,
    /// `map[string][]byte`.
    BytesMap,
    /// `resource.Quantity` (`{1: string}`): its string.
    Quantity,
    /// A named `[]string` sent as a message `{1: repeated string}` (the
    /// `ExtraValue` of authentication and authorization): an array, `null`
    /// when empty as Go's nil slice.
    StrList,
    /// `map[string]T` for any other value type T.
    MapOf(&'static Ty),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Card {
    /// A non-pointer `omitempty` scalar: present unless zero. Maps and
    /// slices: present unless empty.
    Omit,
    /// No `omitempty`, or a non-pointer struct (which `omitempty` never
    /// omits): always present, zero when absent from the wire.
    Always,
    /// A pointer: present exactly when on the wire.
    Opt,
    /// A slice: an array, omitted when empty.
    Rep,
    /// A slice without `omitempty`: an array, `null` when empty.
    RepOrNull,
    /// A pointer or map without `omitempty`: `null` when absent.
    OptOrNull,
    /// An embedded struct with `json:",inline"` that protobuf sends as a
    /// nested message: its fields join the enclosing object.
    Inline,
}

const fn f(number: u64, name: &'static str, ty: Ty, card: Card) -> Field {
    Field {
        number,
        name,
        ty,
        card,
    }
}

use Card::{Always, Inline, Omit, Opt, OptOrNull, Rep, RepOrNull};
use Ty::{
    Bool, Bytes, BytesMap, FieldsV1, I32, I64, IntOrString, MapOf, Msg, Quantity, Str, StrList,
    StrMap, Time,
};

static UNKNOWN: Message = Message {
    name: "Unknown",
    fields: &[
        f(1, "typeMeta", Bytes, Opt),
        f(2, "raw", Bytes, Opt),
        f(3, "contentEncoding", Str, Omit),
        f(4, "contentType", Str, Omit),
    ],
};

static TYPE_META: Message = Message {
    name: "TypeMeta",
    fields: &[f(1, "apiVersion", Str, Omit), f(2, "kind", Str, Omit)],
};

static OBJECT_META: Message = Message {
    name: "ObjectMeta",
    fields: &[
        f(1, "name", Str, Omit),
        f(2, "generateName", Str, Omit),
        f(3, "namespace", Str, Omit),
        f(4, "selfLink", Str, Omit),
        f(5, "uid", Str, Omit),
        f(6, "resourceVersion", Str, Omit),
        f(7, "generation", I64, Omit),
        f(8, "creationTimestamp", Time, Always),
        f(9, "deletionTimestamp", Time, Opt),
        f(10, "deletionGracePeriodSeconds", I64, Opt),
        f(11, "labels", StrMap, Omit),
        f(12, "annotations", StrMap, Omit),
        f(13, "ownerReferences", Msg(&OWNER_REFERENCE), Rep),
        f(14, "finalizers", Str, Rep),
        f(17, "managedFields", Msg(&MANAGED_FIELDS_ENTRY), Rep),
    ],
};

static OWNER_REFERENCE: Message = Message {
    name: "OwnerReference",
    fields: &[
        f(5, "apiVersion", Str, Always),
        f(1, "kind", Str, Always),
        f(3, "name", Str, Always),
        f(4, "uid", Str, Always),
        f(6, "controller", Bool, Opt),
        f(7, "blockOwnerDeletion", Bool, Opt),
    ],
};

static MANAGED_FIELDS_ENTRY: Message = Message {
    name: "ManagedFieldsEntry",
    fields: &[
        f(1, "manager", Str, Omit),
        f(2, "operation", Str, Omit),
        f(3, "apiVersion", Str, Omit),
        f(4, "time", Time, Opt),
        f(6, "fieldsType", Str, Omit),
        f(7, "fieldsV1", FieldsV1, Opt),
        f(8, "subresource", Str, Omit),
    ],
};

static CONFIG_MAP: Message = Message {
    name: "ConfigMap",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(4, "immutable", Bool, Opt),
        f(2, "data", StrMap, Omit),
        f(3, "binaryData", BytesMap, Omit),
    ],
};

static SECRET: Message = Message {
    name: "Secret",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(5, "immutable", Bool, Opt),
        f(2, "data", BytesMap, Omit),
        f(4, "stringData", StrMap, Omit),
        f(3, "type", Str, Omit),
    ],
};

static NAMESPACE: Message = Message {
    name: "Namespace",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&NAMESPACE_SPEC), Always),
        f(3, "status", Msg(&NAMESPACE_STATUS), Always),
    ],
};

static NAMESPACE_SPEC: Message = Message {
    name: "NamespaceSpec",
    fields: &[f(1, "finalizers", Str, Rep)],
};

static NAMESPACE_STATUS: Message = Message {
    name: "NamespaceStatus",
    fields: &[
        f(1, "phase", Str, Omit),
        f(2, "conditions", Msg(&NAMESPACE_CONDITION), Rep),
    ],
};

static NAMESPACE_CONDITION: Message = Message {
    name: "NamespaceCondition",
    fields: &[
        f(1, "type", Str, Always),
        f(2, "status", Str, Always),
        f(4, "lastTransitionTime", Time, Always),
        f(5, "reason", Str, Omit),
        f(6, "message", Str, Omit),
    ],
};

static SERVICE: Message = Message {
    name: "Service",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&SERVICE_SPEC), Always),
        f(3, "status", Msg(&SERVICE_STATUS), Always),
    ],
};

static SERVICE_SPEC: Message = Message {
    name: "ServiceSpec",
    fields: &[
        f(1, "ports", Msg(&SERVICE_PORT), Rep),
        f(2, "selector", StrMap, Omit),
        f(3, "clusterIP", Str, Omit),
        f(18, "clusterIPs", Str, Rep),
        f(4, "type", Str, Omit),
        f(5, "externalIPs", Str, Rep),
        f(7, "sessionAffinity", Str, Omit),
        f(8, "loadBalancerIP", Str, Omit),
        f(9, "loadBalancerSourceRanges", Str, Rep),
        f(10, "externalName", Str, Omit),
        f(11, "externalTrafficPolicy", Str, Omit),
        f(12, "healthCheckNodePort", I32, Omit),
        f(13, "publishNotReadyAddresses", Bool, Omit),
        f(
            14,
            "sessionAffinityConfig",
            Msg(&SESSION_AFFINITY_CONFIG),
            Opt,
        ),
        f(19, "ipFamilies", Str, Rep),
        f(17, "ipFamilyPolicy", Str, Opt),
        f(20, "allocateLoadBalancerNodePorts", Bool, Opt),
        f(21, "loadBalancerClass", Str, Opt),
        f(22, "internalTrafficPolicy", Str, Opt),
        f(23, "trafficDistribution", Str, Opt),
    ],
};

static SERVICE_PORT: Message = Message {
    name: "ServicePort",
    fields: &[
        f(1, "name", Str, Omit),
        f(2, "protocol", Str, Omit),
        f(6, "appProtocol", Str, Opt),
        f(3, "port", I32, Always),
        f(4, "targetPort", IntOrString, Always),
        f(5, "nodePort", I32, Omit),
    ],
};

static SESSION_AFFINITY_CONFIG: Message = Message {
    name: "SessionAffinityConfig",
    fields: &[f(1, "clientIP", Msg(&CLIENT_IP_CONFIG), Opt)],
};

static CLIENT_IP_CONFIG: Message = Message {
    name: "ClientIPConfig",
    fields: &[f(1, "timeoutSeconds", I32, Opt)],
};

static SERVICE_STATUS: Message = Message {
    name: "ServiceStatus",
    fields: &[
        f(1, "loadBalancer", Msg(&LOAD_BALANCER_STATUS), Always),
        f(2, "conditions", Msg(&CONDITION), Rep),
    ],
};

static LOAD_BALANCER_STATUS: Message = Message {
    name: "LoadBalancerStatus",
    fields: &[f(1, "ingress", Msg(&LOAD_BALANCER_INGRESS), Rep)],
};

static LOAD_BALANCER_INGRESS: Message = Message {
    name: "LoadBalancerIngress",
    fields: &[
        f(1, "ip", Str, Omit),
        f(2, "hostname", Str, Omit),
        f(3, "ipMode", Str, Opt),
        f(4, "ports", Msg(&PORT_STATUS), Rep),
    ],
};

static PORT_STATUS: Message = Message {
    name: "PortStatus",
    fields: &[
        f(1, "port", I32, Always),
        f(2, "protocol", Str, Always),
        f(3, "error", Str, Opt),
    ],
};

static CONDITION: Message = Message {
    name: "Condition",
    fields: &[
        f(1, "type", Str, Always),
        f(2, "status", Str, Always),
        f(3, "observedGeneration", I64, Omit),
        f(4, "lastTransitionTime", Time, Always),
        f(5, "reason", Str, Always),
        f(6, "message", Str, Always),
    ],
};

static SERVICE_ACCOUNT: Message = Message {
    name: "ServiceAccount",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "secrets", Msg(&OBJECT_REFERENCE), Rep),
        f(3, "imagePullSecrets", Msg(&LOCAL_OBJECT_REFERENCE), Rep),
        f(4, "automountServiceAccountToken", Bool, Opt),
    ],
};

static OBJECT_REFERENCE: Message = Message {
    name: "ObjectReference",
    fields: &[
        f(1, "kind", Str, Omit),
        f(2, "namespace", Str, Omit),
        f(3, "name", Str, Omit),
        f(4, "uid", Str, Omit),
        f(5, "apiVersion", Str, Omit),
        f(6, "resourceVersion", Str, Omit),
        f(7, "fieldPath", Str, Omit),
    ],
};

static LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "LocalObjectReference",
    fields: &[f(1, "name", Str, Omit)],
};

static DELETE_OPTIONS: Message = Message {
    name: "DeleteOptions",
    fields: &[
        f(1, "gracePeriodSeconds", I64, Opt),
        f(2, "preconditions", Msg(&PRECONDITIONS), Opt),
        f(3, "orphanDependents", Bool, Opt),
        f(4, "propagationPolicy", Str, Opt),
        f(5, "dryRun", Str, Rep),
        f(
            6,
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            Bool,
            Opt,
        ),
    ],
};

static PRECONDITIONS: Message = Message {
    name: "Preconditions",
    fields: &[f(1, "uid", Str, Opt), f(2, "resourceVersion", Str, Opt)],
};

// meta/v1 messages used by the kinds below.

static LABEL_SELECTOR: Message = Message {
    name: "LabelSelector",
    fields: &[
        f(1, "matchLabels", StrMap, Omit),
        f(2, "matchExpressions", Msg(&LABEL_SELECTOR_REQUIREMENT), Rep),
    ],
};

static LABEL_SELECTOR_REQUIREMENT: Message = Message {
    name: "LabelSelectorRequirement",
    fields: &[
        f(1, "key", Str, Always),
        f(2, "operator", Str, Always),
        f(3, "values", Str, Rep),
    ],
};

static FIELD_SELECTOR_REQUIREMENT: Message = Message {
    name: "FieldSelectorRequirement",
    fields: &[
        f(1, "key", Str, Always),
        f(2, "operator", Str, Always),
        f(3, "values", Str, Rep),
    ],
};

// v1 Pod, policy/v1, authentication.k8s.io/v1, authorization.k8s.io/v1,
// rbac.authorization.k8s.io/v1 and batch/v1 (with the whole core/v1
// PodTemplateSpec), transcribed from the `json` and `protobuf` struct tags
// of upstream's types.go (k8s.io/api v0.33).

static EVICTION: Message = Message {
    name: "Eviction",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "deleteOptions", Msg(&DELETE_OPTIONS), Opt),
    ],
};

static POD_DISRUPTION_BUDGET_SPEC: Message = Message {
    name: "PodDisruptionBudgetSpec",
    fields: &[
        f(1, "minAvailable", IntOrString, Opt),
        f(2, "selector", Msg(&LABEL_SELECTOR), Opt),
        f(3, "maxUnavailable", IntOrString, Opt),
        f(4, "unhealthyPodEvictionPolicy", Str, Opt),
    ],
};

static POD_DISRUPTION_BUDGET_STATUS: Message = Message {
    name: "PodDisruptionBudgetStatus",
    fields: &[
        f(1, "observedGeneration", I64, Omit),
        f(2, "disruptedPods", MapOf(&Time), Omit),
        f(3, "disruptionsAllowed", I32, Always),
        f(4, "currentHealthy", I32, Always),
        f(5, "desiredHealthy", I32, Always),
        f(6, "expectedPods", I32, Always),
        f(7, "conditions", Msg(&CONDITION), Rep),
    ],
};

static PRIORITY_CLASS: Message = Message {
    name: "PriorityClass",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "value", I32, Always),
        f(3, "globalDefault", Bool, Omit),
        f(4, "description", Str, Omit),
        f(5, "preemptionPolicy", Str, Opt),
    ],
};

static POD_DISRUPTION_BUDGET: Message = Message {
    name: "PodDisruptionBudget",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&POD_DISRUPTION_BUDGET_SPEC), Always),
        f(3, "status", Msg(&POD_DISRUPTION_BUDGET_STATUS), Always),
    ],
};

static AUTHN_BOUND_OBJECT_REFERENCE: Message = Message {
    name: "BoundObjectReference",
    fields: &[
        f(1, "kind", Str, Omit),
        f(2, "apiVersion", Str, Omit),
        f(3, "name", Str, Omit),
        f(4, "uid", Str, Omit),
    ],
};

static AUTHN_TOKEN_REQUEST_SPEC: Message = Message {
    name: "TokenRequestSpec",
    fields: &[
        f(1, "audiences", Str, RepOrNull),
        f(4, "expirationSeconds", I64, OptOrNull),
        f(
            3,
            "boundObjectRef",
            Msg(&AUTHN_BOUND_OBJECT_REFERENCE),
            OptOrNull,
        ),
    ],
};

static AUTHN_TOKEN_REQUEST_STATUS: Message = Message {
    name: "TokenRequestStatus",
    fields: &[
        f(1, "token", Str, Always),
        f(2, "expirationTimestamp", Time, Always),
    ],
};

static AUTHN_TOKEN_REQUEST: Message = Message {
    name: "TokenRequest",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&AUTHN_TOKEN_REQUEST_SPEC), Always),
        f(3, "status", Msg(&AUTHN_TOKEN_REQUEST_STATUS), Always),
    ],
};

static AUTHN_TOKEN_REVIEW_SPEC: Message = Message {
    name: "TokenReviewSpec",
    fields: &[f(1, "token", Str, Omit), f(2, "audiences", Str, Rep)],
};

static AUTHN_USER_INFO: Message = Message {
    name: "UserInfo",
    fields: &[
        f(1, "username", Str, Omit),
        f(2, "uid", Str, Omit),
        f(3, "groups", Str, Rep),
        f(4, "extra", MapOf(&StrList), Omit),
    ],
};

static AUTHN_TOKEN_REVIEW_STATUS: Message = Message {
    name: "TokenReviewStatus",
    fields: &[
        f(1, "authenticated", Bool, Omit),
        f(2, "user", Msg(&AUTHN_USER_INFO), Always),
        f(4, "audiences", Str, Rep),
        f(3, "error", Str, Omit),
    ],
};

static AUTHN_TOKEN_REVIEW: Message = Message {
    name: "TokenReview",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&AUTHN_TOKEN_REVIEW_SPEC), Always),
        f(3, "status", Msg(&AUTHN_TOKEN_REVIEW_STATUS), Always),
    ],
};

static AUTHN_SELF_SUBJECT_REVIEW_STATUS: Message = Message {
    name: "SelfSubjectReviewStatus",
    fields: &[f(1, "userInfo", Msg(&AUTHN_USER_INFO), Always)],
};

static AUTHN_SELF_SUBJECT_REVIEW: Message = Message {
    name: "SelfSubjectReview",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "status", Msg(&AUTHN_SELF_SUBJECT_REVIEW_STATUS), Always),
    ],
};

static AUTHZ_FIELD_SELECTOR_ATTRIBUTES: Message = Message {
    name: "FieldSelectorAttributes",
    fields: &[
        f(1, "rawSelector", Str, Omit),
        f(2, "requirements", Msg(&FIELD_SELECTOR_REQUIREMENT), Rep),
    ],
};

static AUTHZ_LABEL_SELECTOR_ATTRIBUTES: Message = Message {
    name: "LabelSelectorAttributes",
    fields: &[
        f(1, "rawSelector", Str, Omit),
        f(2, "requirements", Msg(&LABEL_SELECTOR_REQUIREMENT), Rep),
    ],
};

static AUTHZ_RESOURCE_ATTRIBUTES: Message = Message {
    name: "ResourceAttributes",
    fields: &[
        f(1, "namespace", Str, Omit),
        f(2, "verb", Str, Omit),
        f(3, "group", Str, Omit),
        f(4, "version", Str, Omit),
        f(5, "resource", Str, Omit),
        f(6, "subresource", Str, Omit),
        f(7, "name", Str, Omit),
        f(
            8,
            "fieldSelector",
            Msg(&AUTHZ_FIELD_SELECTOR_ATTRIBUTES),
            Opt,
        ),
        f(
            9,
            "labelSelector",
            Msg(&AUTHZ_LABEL_SELECTOR_ATTRIBUTES),
            Opt,
        ),
    ],
};

static AUTHZ_NON_RESOURCE_ATTRIBUTES: Message = Message {
    name: "NonResourceAttributes",
    fields: &[f(1, "path", Str, Omit), f(2, "verb", Str, Omit)],
};

static AUTHZ_SELF_SUBJECT_ACCESS_REVIEW_SPEC: Message = Message {
    name: "SelfSubjectAccessReviewSpec",
    fields: &[
        f(
            1,
            "resourceAttributes",
            Msg(&AUTHZ_RESOURCE_ATTRIBUTES),
            Opt,
        ),
        f(
            2,
            "nonResourceAttributes",
            Msg(&AUTHZ_NON_RESOURCE_ATTRIBUTES),
            Opt,
        ),
    ],
};

static AUTHZ_SUBJECT_ACCESS_REVIEW_STATUS: Message = Message {
    name: "SubjectAccessReviewStatus",
    fields: &[
        f(1, "allowed", Bool, Always),
        f(4, "denied", Bool, Omit),
        f(2, "reason", Str, Omit),
        f(3, "evaluationError", Str, Omit),
    ],
};

static AUTHZ_SELF_SUBJECT_ACCESS_REVIEW: Message = Message {
    name: "SelfSubjectAccessReview",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(
            2,
            "spec",
            Msg(&AUTHZ_SELF_SUBJECT_ACCESS_REVIEW_SPEC),
            Always,
        ),
        f(
            3,
            "status",
            Msg(&AUTHZ_SUBJECT_ACCESS_REVIEW_STATUS),
            Always,
        ),
    ],
};

static AUTHZ_SELF_SUBJECT_RULES_REVIEW_SPEC: Message = Message {
    name: "SelfSubjectRulesReviewSpec",
    fields: &[f(1, "namespace", Str, Omit)],
};

static AUTHZ_RESOURCE_RULE: Message = Message {
    name: "ResourceRule",
    fields: &[
        f(1, "verbs", Str, RepOrNull),
        f(2, "apiGroups", Str, Rep),
        f(3, "resources", Str, Rep),
        f(4, "resourceNames", Str, Rep),
    ],
};

static AUTHZ_NON_RESOURCE_RULE: Message = Message {
    name: "NonResourceRule",
    fields: &[
        f(1, "verbs", Str, RepOrNull),
        f(2, "nonResourceURLs", Str, Rep),
    ],
};

static AUTHZ_SUBJECT_RULES_REVIEW_STATUS: Message = Message {
    name: "SubjectRulesReviewStatus",
    fields: &[
        f(1, "resourceRules", Msg(&AUTHZ_RESOURCE_RULE), RepOrNull),
        f(
            2,
            "nonResourceRules",
            Msg(&AUTHZ_NON_RESOURCE_RULE),
            RepOrNull,
        ),
        f(3, "incomplete", Bool, Always),
        f(4, "evaluationError", Str, Omit),
    ],
};

static AUTHZ_SELF_SUBJECT_RULES_REVIEW: Message = Message {
    name: "SelfSubjectRulesReview",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(
            2,
            "spec",
            Msg(&AUTHZ_SELF_SUBJECT_RULES_REVIEW_SPEC),
            Always,
        ),
        f(3, "status", Msg(&AUTHZ_SUBJECT_RULES_REVIEW_STATUS), Always),
    ],
};

static AUTHZ_SUBJECT_ACCESS_REVIEW_SPEC: Message = Message {
    name: "SubjectAccessReviewSpec",
    fields: &[
        f(
            1,
            "resourceAttributes",
            Msg(&AUTHZ_RESOURCE_ATTRIBUTES),
            Opt,
        ),
        f(
            2,
            "nonResourceAttributes",
            Msg(&AUTHZ_NON_RESOURCE_ATTRIBUTES),
            Opt,
        ),
        f(3, "user", Str, Omit),
        f(4, "groups", Str, Rep),
        f(5, "extra", MapOf(&StrList), Omit),
        f(6, "uid", Str, Omit),
    ],
};

static AUTHZ_SUBJECT_ACCESS_REVIEW: Message = Message {
    name: "SubjectAccessReview",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&AUTHZ_SUBJECT_ACCESS_REVIEW_SPEC), Always),
        f(
            3,
            "status",
            Msg(&AUTHZ_SUBJECT_ACCESS_REVIEW_STATUS),
            Always,
        ),
    ],
};

static AUTHZ_LOCAL_SUBJECT_ACCESS_REVIEW: Message = Message {
    name: "LocalSubjectAccessReview",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&AUTHZ_SUBJECT_ACCESS_REVIEW_SPEC), Always),
        f(
            3,
            "status",
            Msg(&AUTHZ_SUBJECT_ACCESS_REVIEW_STATUS),
            Always,
        ),
    ],
};

static POLICY_RULE: Message = Message {
    name: "PolicyRule",
    fields: &[
        f(1, "verbs", Str, RepOrNull),
        f(2, "apiGroups", Str, Rep),
        f(3, "resources", Str, Rep),
        f(4, "resourceNames", Str, Rep),
        f(5, "nonResourceURLs", Str, Rep),
    ],
};

static ROLE: Message = Message {
    name: "Role",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "rules", Msg(&POLICY_RULE), RepOrNull),
    ],
};

static AGGREGATION_RULE: Message = Message {
    name: "AggregationRule",
    fields: &[f(1, "clusterRoleSelectors", Msg(&LABEL_SELECTOR), Rep)],
};

static CLUSTER_ROLE: Message = Message {
    name: "ClusterRole",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "rules", Msg(&POLICY_RULE), RepOrNull),
        f(3, "aggregationRule", Msg(&AGGREGATION_RULE), Opt),
    ],
};

static SUBJECT: Message = Message {
    name: "Subject",
    fields: &[
        f(1, "kind", Str, Always),
        f(2, "apiGroup", Str, Omit),
        f(3, "name", Str, Always),
        f(4, "namespace", Str, Omit),
    ],
};

static ROLE_REF: Message = Message {
    name: "RoleRef",
    fields: &[
        f(1, "apiGroup", Str, Always),
        f(2, "kind", Str, Always),
        f(3, "name", Str, Always),
    ],
};

static ROLE_BINDING: Message = Message {
    name: "RoleBinding",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "subjects", Msg(&SUBJECT), Rep),
        f(3, "roleRef", Msg(&ROLE_REF), Always),
    ],
};

static CLUSTER_ROLE_BINDING: Message = Message {
    name: "ClusterRoleBinding",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "subjects", Msg(&SUBJECT), Rep),
        f(3, "roleRef", Msg(&ROLE_REF), Always),
    ],
};

static POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT: Message = Message {
    name: "PodFailurePolicyOnExitCodesRequirement",
    fields: &[
        f(1, "containerName", Str, Opt),
        f(2, "operator", Str, Always),
        f(3, "values", I32, RepOrNull),
    ],
};

static POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN: Message = Message {
    name: "PodFailurePolicyOnPodConditionsPattern",
    fields: &[f(1, "type", Str, Always), f(2, "status", Str, Always)],
};

static POD_FAILURE_POLICY_RULE: Message = Message {
    name: "PodFailurePolicyRule",
    fields: &[
        f(1, "action", Str, Always),
        f(
            2,
            "onExitCodes",
            Msg(&POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT),
            Opt,
        ),
        f(
            3,
            "onPodConditions",
            Msg(&POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN),
            Rep,
        ),
    ],
};

static POD_FAILURE_POLICY: Message = Message {
    name: "PodFailurePolicy",
    fields: &[f(1, "rules", Msg(&POD_FAILURE_POLICY_RULE), RepOrNull)],
};

static SUCCESS_POLICY_RULE: Message = Message {
    name: "SuccessPolicyRule",
    fields: &[
        f(1, "succeededIndexes", Str, Opt),
        f(2, "succeededCount", I32, Opt),
    ],
};

static SUCCESS_POLICY: Message = Message {
    name: "SuccessPolicy",
    fields: &[f(1, "rules", Msg(&SUCCESS_POLICY_RULE), RepOrNull)],
};

static HOST_PATH_VOLUME_SOURCE: Message = Message {
    name: "HostPathVolumeSource",
    fields: &[f(1, "path", Str, Always), f(2, "type", Str, Opt)],
};

static EMPTY_DIR_VOLUME_SOURCE: Message = Message {
    name: "EmptyDirVolumeSource",
    fields: &[f(1, "medium", Str, Omit), f(2, "sizeLimit", Quantity, Opt)],
};

static GCE_PERSISTENT_DISK_VOLUME_SOURCE: Message = Message {
    name: "GCEPersistentDiskVolumeSource",
    fields: &[
        f(1, "pdName", Str, Always),
        f(2, "fsType", Str, Omit),
        f(3, "partition", I32, Omit),
        f(4, "readOnly", Bool, Omit),
    ],
};

static AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE: Message = Message {
    name: "AWSElasticBlockStoreVolumeSource",
    fields: &[
        f(1, "volumeID", Str, Always),
        f(2, "fsType", Str, Omit),
        f(3, "partition", I32, Omit),
        f(4, "readOnly", Bool, Omit),
    ],
};

static GIT_REPO_VOLUME_SOURCE: Message = Message {
    name: "GitRepoVolumeSource",
    fields: &[
        f(1, "repository", Str, Always),
        f(2, "revision", Str, Omit),
        f(3, "directory", Str, Omit),
    ],
};

static KEY_TO_PATH: Message = Message {
    name: "KeyToPath",
    fields: &[
        f(1, "key", Str, Always),
        f(2, "path", Str, Always),
        f(3, "mode", I32, Opt),
    ],
};

static SECRET_VOLUME_SOURCE: Message = Message {
    name: "SecretVolumeSource",
    fields: &[
        f(1, "secretName", Str, Omit),
        f(2, "items", Msg(&KEY_TO_PATH), Rep),
        f(3, "defaultMode", I32, Opt),
        f(4, "optional", Bool, Opt),
    ],
};

static NFS_VOLUME_SOURCE: Message = Message {
    name: "NFSVolumeSource",
    fields: &[
        f(1, "server", Str, Always),
        f(2, "path", Str, Always),
        f(3, "readOnly", Bool, Omit),
    ],
};

static ISCSI_VOLUME_SOURCE: Message = Message {
    name: "ISCSIVolumeSource",
    fields: &[
        f(1, "targetPortal", Str, Always),
        f(2, "iqn", Str, Always),
        f(3, "lun", I32, Always),
        f(4, "iscsiInterface", Str, Omit),
        f(5, "fsType", Str, Omit),
        f(6, "readOnly", Bool, Omit),
        f(7, "portals", Str, Rep),
        f(8, "chapAuthDiscovery", Bool, Omit),
        f(11, "chapAuthSession", Bool, Omit),
        f(10, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE), Opt),
        f(12, "initiatorName", Str, Opt),
    ],
};

static GLUSTERFS_VOLUME_SOURCE: Message = Message {
    name: "GlusterfsVolumeSource",
    fields: &[
        f(1, "endpoints", Str, Always),
        f(2, "path", Str, Always),
        f(3, "readOnly", Bool, Omit),
    ],
};

static PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: Message = Message {
    name: "PersistentVolumeClaimVolumeSource",
    fields: &[f(1, "claimName", Str, Always), f(2, "readOnly", Bool, Omit)],
};

static RBD_VOLUME_SOURCE: Message = Message {
    name: "RBDVolumeSource",
    fields: &[
        f(1, "monitors", Str, RepOrNull),
        f(2, "image", Str, Always),
        f(3, "fsType", Str, Omit),
        f(4, "pool", Str, Omit),
        f(5, "user", Str, Omit),
        f(6, "keyring", Str, Omit),
        f(7, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE), Opt),
        f(8, "readOnly", Bool, Omit),
    ],
};

static FLEX_VOLUME_SOURCE: Message = Message {
    name: "FlexVolumeSource",
    fields: &[
        f(1, "driver", Str, Always),
        f(2, "fsType", Str, Omit),
        f(3, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE), Opt),
        f(4, "readOnly", Bool, Omit),
        f(5, "options", StrMap, Omit),
    ],
};

static CINDER_VOLUME_SOURCE: Message = Message {
    name: "CinderVolumeSource",
    fields: &[
        f(1, "volumeID", Str, Always),
        f(2, "fsType", Str, Omit),
        f(3, "readOnly", Bool, Omit),
        f(4, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE), Opt),
    ],
};

static CEPH_FS_VOLUME_SOURCE: Message = Message {
    name: "CephFSVolumeSource",
    fields: &[
        f(1, "monitors", Str, RepOrNull),
        f(2, "path", Str, Omit),
        f(3, "user", Str, Omit),
        f(4, "secretFile", Str, Omit),
        f(5, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE), Opt),
        f(6, "readOnly", Bool, Omit),
    ],
};

static FLOCKER_VOLUME_SOURCE: Message = Message {
    name: "FlockerVolumeSource",
    fields: &[
        f(1, "datasetName", Str, Omit),
        f(2, "datasetUUID", Str, Omit),
    ],
};

static OBJECT_FIELD_SELECTOR: Message = Message {
    name: "ObjectFieldSelector",
    fields: &[
        f(1, "apiVersion", Str, Omit),
        f(2, "fieldPath", Str, Always),
    ],
};

static RESOURCE_FIELD_SELECTOR: Message = Message {
    name: "ResourceFieldSelector",
    fields: &[
        f(1, "containerName", Str, Omit),
        f(2, "resource", Str, Always),
        f(3, "divisor", Quantity, Always),
    ],
};

static DOWNWARD_API_VOLUME_FILE: Message = Message {
    name: "DownwardAPIVolumeFile",
    fields: &[
        f(1, "path", Str, Always),
        f(2, "fieldRef", Msg(&OBJECT_FIELD_SELECTOR), Opt),
        f(3, "resourceFieldRef", Msg(&RESOURCE_FIELD_SELECTOR), Opt),
        f(4, "mode", I32, Opt),
    ],
};

static DOWNWARD_API_VOLUME_SOURCE: Message = Message {
    name: "DownwardAPIVolumeSource",
    fields: &[
        f(1, "items", Msg(&DOWNWARD_API_VOLUME_FILE), Rep),
        f(2, "defaultMode", I32, Opt),
    ],
};

static FC_VOLUME_SOURCE: Message = Message {
    name: "FCVolumeSource",
    fields: &[
        f(1, "targetWWNs", Str, Rep),
        f(2, "lun", I32, Opt),
        f(3, "fsType", Str, Omit),
        f(4, "readOnly", Bool, Omit),
        f(5, "wwids", Str, Rep),
    ],
};

static AZURE_FILE_VOLUME_SOURCE: Message = Message {
    name: "AzureFileVolumeSource",
    fields: &[
        f(1, "secretName", Str, Always),
        f(2, "shareName", Str, Always),
        f(3, "readOnly", Bool, Omit),
    ],
};

static CONFIG_MAP_VOLUME_SOURCE: Message = Message {
    name: "ConfigMapVolumeSource",
    fields: &[
        f(
            1,
            "localObjectReference",
            Msg(&LOCAL_OBJECT_REFERENCE),
            Inline,
        ),
        f(2, "items", Msg(&KEY_TO_PATH), Rep),
        f(3, "defaultMode", I32, Opt),
        f(4, "optional", Bool, Opt),
    ],
};

static VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE: Message = Message {
    name: "VsphereVirtualDiskVolumeSource",
    fields: &[
        f(1, "volumePath", Str, Always),
        f(2, "fsType", Str, Omit),
        f(3, "storagePolicyName", Str, Omit),
        f(4, "storagePolicyID", Str, Omit),
    ],
};

static QUOBYTE_VOLUME_SOURCE: Message = Message {
    name: "QuobyteVolumeSource",
    fields: &[
        f(1, "registry", Str, Always),
        f(2, "volume", Str, Always),
        f(3, "readOnly", Bool, Omit),
        f(4, "user", Str, Omit),
        f(5, "group", Str, Omit),
        f(6, "tenant", Str, Omit),
    ],
};

static AZURE_DISK_VOLUME_SOURCE: Message = Message {
    name: "AzureDiskVolumeSource",
    fields: &[
        f(1, "diskName", Str, Always),
        f(2, "diskURI", Str, Always),
        f(3, "cachingMode", Str, Opt),
        f(4, "fsType", Str, Opt),
        f(5, "readOnly", Bool, Opt),
        f(6, "kind", Str, Opt),
    ],
};

static PHOTON_PERSISTENT_DISK_VOLUME_SOURCE: Message = Message {
    name: "PhotonPersistentDiskVolumeSource",
    fields: &[f(1, "pdID", Str, Always), f(2, "fsType", Str, Omit)],
};

static SECRET_PROJECTION: Message = Message {
    name: "SecretProjection",
    fields: &[
        f(
            1,
            "localObjectReference",
            Msg(&LOCAL_OBJECT_REFERENCE),
            Inline,
        ),
        f(2, "items", Msg(&KEY_TO_PATH), Rep),
        f(4, "optional", Bool, Opt),
    ],
};

static DOWNWARD_API_PROJECTION: Message = Message {
    name: "DownwardAPIProjection",
    fields: &[f(1, "items", Msg(&DOWNWARD_API_VOLUME_FILE), Rep)],
};

static CONFIG_MAP_PROJECTION: Message = Message {
    name: "ConfigMapProjection",
    fields: &[
        f(
            1,
            "localObjectReference",
            Msg(&LOCAL_OBJECT_REFERENCE),
            Inline,
        ),
        f(2, "items", Msg(&KEY_TO_PATH), Rep),
        f(4, "optional", Bool, Opt),
    ],
};

static SERVICE_ACCOUNT_TOKEN_PROJECTION: Message = Message {
    name: "ServiceAccountTokenProjection",
    fields: &[
        f(1, "audience", Str, Omit),
        f(2, "expirationSeconds", I64, Opt),
        f(3, "path", Str, Always),
    ],
};

static CLUSTER_TRUST_BUNDLE_PROJECTION: Message = Message {
    name: "ClusterTrustBundleProjection",
    fields: &[
        f(1, "name", Str, Opt),
        f(2, "signerName", Str, Opt),
        f(3, "labelSelector", Msg(&LABEL_SELECTOR), Opt),
        f(5, "optional", Bool, Opt),
        f(4, "path", Str, Always),
    ],
};

static VOLUME_PROJECTION: Message = Message {
    name: "VolumeProjection",
    fields: &[
        f(1, "secret", Msg(&SECRET_PROJECTION), Opt),
        f(2, "downwardAPI", Msg(&DOWNWARD_API_PROJECTION), Opt),
        f(3, "configMap", Msg(&CONFIG_MAP_PROJECTION), Opt),
        f(
            4,
            "serviceAccountToken",
            Msg(&SERVICE_ACCOUNT_TOKEN_PROJECTION),
            Opt,
        ),
        f(
            5,
            "clusterTrustBundle",
            Msg(&CLUSTER_TRUST_BUNDLE_PROJECTION),
            Opt,
        ),
    ],
};

static PROJECTED_VOLUME_SOURCE: Message = Message {
    name: "ProjectedVolumeSource",
    fields: &[
        f(1, "sources", Msg(&VOLUME_PROJECTION), RepOrNull),
        f(2, "defaultMode", I32, Opt),
    ],
};

static PORTWORX_VOLUME_SOURCE: Message = Message {
    name: "PortworxVolumeSource",
    fields: &[
        f(1, "volumeID", Str, Always),
        f(2, "fsType", Str, Omit),
        f(3, "readOnly", Bool, Omit),
    ],
};

static SCALE_IO_VOLUME_SOURCE: Message = Message {
    name: "ScaleIOVolumeSource",
    fields: &[
        f(1, "gateway", Str, Always),
        f(2, "system", Str, Always),
        f(3, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE), OptOrNull),
        f(4, "sslEnabled", Bool, Omit),
        f(5, "protectionDomain", Str, Omit),
        f(6, "storagePool", Str, Omit),
        f(7, "storageMode", Str, Omit),
        f(8, "volumeName", Str, Omit),
        f(9, "fsType", Str, Omit),
        f(10, "readOnly", Bool, Omit),
    ],
};

static STORAGE_OS_VOLUME_SOURCE: Message = Message {
    name: "StorageOSVolumeSource",
    fields: &[
        f(1, "volumeName", Str, Omit),
        f(2, "volumeNamespace", Str, Omit),
        f(3, "fsType", Str, Omit),
        f(4, "readOnly", Bool, Omit),
        f(5, "secretRef", Msg(&LOCAL_OBJECT_REFERENCE), Opt),
    ],
};

static CSI_VOLUME_SOURCE: Message = Message {
    name: "CSIVolumeSource",
    fields: &[
        f(1, "driver", Str, Always),
        f(2, "readOnly", Bool, Opt),
        f(3, "fsType", Str, Opt),
        f(4, "volumeAttributes", StrMap, Omit),
        f(5, "nodePublishSecretRef", Msg(&LOCAL_OBJECT_REFERENCE), Opt),
    ],
};

static VOLUME_RESOURCE_REQUIREMENTS: Message = Message {
    name: "VolumeResourceRequirements",
    fields: &[
        f(1, "limits", MapOf(&Quantity), Omit),
        f(2, "requests", MapOf(&Quantity), Omit),
    ],
};

static TYPED_LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "TypedLocalObjectReference",
    fields: &[
        f(1, "apiGroup", Str, OptOrNull),
        f(2, "kind", Str, Always),
        f(3, "name", Str, Always),
    ],
};

static TYPED_OBJECT_REFERENCE: Message = Message {
    name: "TypedObjectReference",
    fields: &[
        f(1, "apiGroup", Str, OptOrNull),
        f(2, "kind", Str, Always),
        f(3, "name", Str, Always),
        f(4, "namespace", Str, Opt),
    ],
};

static PERSISTENT_VOLUME_CLAIM_SPEC: Message = Message {
    name: "PersistentVolumeClaimSpec",
    fields: &[
        f(1, "accessModes", Str, Rep),
        f(4, "selector", Msg(&LABEL_SELECTOR), Opt),
        f(2, "resources", Msg(&VOLUME_RESOURCE_REQUIREMENTS), Always),
        f(3, "volumeName", Str, Omit),
        f(5, "storageClassName", Str, Opt),
        f(6, "volumeMode", Str, Opt),
        f(7, "dataSource", Msg(&TYPED_LOCAL_OBJECT_REFERENCE), Opt),
        f(8, "dataSourceRef", Msg(&TYPED_OBJECT_REFERENCE), Opt),
        f(9, "volumeAttributesClassName", Str, Opt),
    ],
};

static PERSISTENT_VOLUME_CLAIM_TEMPLATE: Message = Message {
    name: "PersistentVolumeClaimTemplate",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&PERSISTENT_VOLUME_CLAIM_SPEC), Always),
    ],
};

static EPHEMERAL_VOLUME_SOURCE: Message = Message {
    name: "EphemeralVolumeSource",
    fields: &[f(
        1,
        "volumeClaimTemplate",
        Msg(&PERSISTENT_VOLUME_CLAIM_TEMPLATE),
        Opt,
    )],
};

static IMAGE_VOLUME_SOURCE: Message = Message {
    name: "ImageVolumeSource",
    fields: &[f(1, "reference", Str, Omit), f(2, "pullPolicy", Str, Omit)],
};

static VOLUME_SOURCE: Message = Message {
    name: "VolumeSource",
    fields: &[
        f(1, "hostPath", Msg(&HOST_PATH_VOLUME_SOURCE), Opt),
        f(2, "emptyDir", Msg(&EMPTY_DIR_VOLUME_SOURCE), Opt),
        f(
            3,
            "gcePersistentDisk",
            Msg(&GCE_PERSISTENT_DISK_VOLUME_SOURCE),
            Opt,
        ),
        f(
            4,
            "awsElasticBlockStore",
            Msg(&AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE),
            Opt,
        ),
        f(5, "gitRepo", Msg(&GIT_REPO_VOLUME_SOURCE), Opt),
        f(6, "secret", Msg(&SECRET_VOLUME_SOURCE), Opt),
        f(7, "nfs", Msg(&NFS_VOLUME_SOURCE), Opt),
        f(8, "iscsi", Msg(&ISCSI_VOLUME_SOURCE), Opt),
        f(9, "glusterfs", Msg(&GLUSTERFS_VOLUME_SOURCE), Opt),
        f(
            10,
            "persistentVolumeClaim",
            Msg(&PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE),
            Opt,
        ),
        f(11, "rbd", Msg(&RBD_VOLUME_SOURCE), Opt),
        f(12, "flexVolume", Msg(&FLEX_VOLUME_SOURCE), Opt),
        f(13, "cinder", Msg(&CINDER_VOLUME_SOURCE), Opt),
        f(14, "cephfs", Msg(&CEPH_FS_VOLUME_SOURCE), Opt),
        f(15, "flocker", Msg(&FLOCKER_VOLUME_SOURCE), Opt),
        f(16, "downwardAPI", Msg(&DOWNWARD_API_VOLUME_SOURCE), Opt),
        f(17, "fc", Msg(&FC_VOLUME_SOURCE), Opt),
        f(18, "azureFile", Msg(&AZURE_FILE_VOLUME_SOURCE), Opt),
        f(19, "configMap", Msg(&CONFIG_MAP_VOLUME_SOURCE), Opt),
        f(
            20,
            "vsphereVolume",
            Msg(&VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE),
            Opt,
        ),
        f(21, "quobyte", Msg(&QUOBYTE_VOLUME_SOURCE), Opt),
        f(22, "azureDisk", Msg(&AZURE_DISK_VOLUME_SOURCE), Opt),
        f(
            23,
            "photonPersistentDisk",
            Msg(&PHOTON_PERSISTENT_DISK_VOLUME_SOURCE),
            Opt,
        ),
        f(26, "projected", Msg(&PROJECTED_VOLUME_SOURCE), Opt),
        f(24, "portworxVolume", Msg(&PORTWORX_VOLUME_SOURCE), Opt),
        f(25, "scaleIO", Msg(&SCALE_IO_VOLUME_SOURCE), Opt),
        f(27, "storageos", Msg(&STORAGE_OS_VOLUME_SOURCE), Opt),
        f(28, "csi", Msg(&CSI_VOLUME_SOURCE), Opt),
        f(29, "ephemeral", Msg(&EPHEMERAL_VOLUME_SOURCE), Opt),
        f(30, "image", Msg(&IMAGE_VOLUME_SOURCE), Opt),
    ],
};

static VOLUME: Message = Message {
    name: "Volume",
    fields: &[
        f(1, "name", Str, Always),
        f(2, "volumeSource", Msg(&VOLUME_SOURCE), Inline),
    ],
};

static CONTAINER_PORT: Message = Message {
    name: "ContainerPort",
    fields: &[
        f(1, "name", Str, Omit),
        f(2, "hostPort", I32, Omit),
        f(3, "containerPort", I32, Always),
        f(4, "protocol", Str, Omit),
        f(5, "hostIP", Str, Omit),
    ],
};

static CONFIG_MAP_ENV_SOURCE: Message = Message {
    name: "ConfigMapEnvSource",
    fields: &[
        f(
            1,
            "localObjectReference",
            Msg(&LOCAL_OBJECT_REFERENCE),
            Inline,
        ),
        f(2, "optional", Bool, Opt),
    ],
};

static SECRET_ENV_SOURCE: Message = Message {
    name: "SecretEnvSource",
    fields: &[
        f(
            1,
            "localObjectReference",
            Msg(&LOCAL_OBJECT_REFERENCE),
            Inline,
        ),
        f(2, "optional", Bool, Opt),
    ],
};

static ENV_FROM_SOURCE: Message = Message {
    name: "EnvFromSource",
    fields: &[
        f(1, "prefix", Str, Omit),
        f(2, "configMapRef", Msg(&CONFIG_MAP_ENV_SOURCE), Opt),
        f(3, "secretRef", Msg(&SECRET_ENV_SOURCE), Opt),
    ],
};

static CONFIG_MAP_KEY_SELECTOR: Message = Message {
    name: "ConfigMapKeySelector",
    fields: &[
        f(
            1,
            "localObjectReference",
            Msg(&LOCAL_OBJECT_REFERENCE),
            Inline,
        ),
        f(2, "key", Str, Always),
        f(3, "optional", Bool, Opt),
    ],
};

static SECRET_KEY_SELECTOR: Message = Message {
    name: "SecretKeySelector",
    fields: &[
        f(
            1,
            "localObjectReference",
            Msg(&LOCAL_OBJECT_REFERENCE),
            Inline,
        ),
        f(2, "key", Str, Always),
        f(3, "optional", Bool, Opt),
    ],
};

static ENV_VAR_SOURCE: Message = Message {
    name: "EnvVarSource",
    fields: &[
        f(1, "fieldRef", Msg(&OBJECT_FIELD_SELECTOR), Opt),
        f(2, "resourceFieldRef", Msg(&RESOURCE_FIELD_SELECTOR), Opt),
        f(3, "configMapKeyRef", Msg(&CONFIG_MAP_KEY_SELECTOR), Opt),
        f(4, "secretKeyRef", Msg(&SECRET_KEY_SELECTOR), Opt),
    ],
};

static ENV_VAR: Message = Message {
    name: "EnvVar",
    fields: &[
        f(1, "name", Str, Always),
        f(2, "value", Str, Omit),
        f(3, "valueFrom", Msg(&ENV_VAR_SOURCE), Opt),
    ],
};

static RESOURCE_CLAIM: Message = Message {
    name: "ResourceClaim",
    fields: &[f(1, "name", Str, Always), f(2, "request", Str, Omit)],
};

static RESOURCE_REQUIREMENTS: Message = Message {
    name: "ResourceRequirements",
    fields: &[
        f(1, "limits", MapOf(&Quantity), Omit),
        f(2, "requests", MapOf(&Quantity), Omit),
        f(3, "claims", Msg(&RESOURCE_CLAIM), Rep),
    ],
};

static CONTAINER_RESIZE_POLICY: Message = Message {
    name: "ContainerResizePolicy",
    fields: &[
        f(1, "resourceName", Str, Always),
        f(2, "restartPolicy", Str, Always),
    ],
};

static VOLUME_MOUNT: Message = Message {
    name: "VolumeMount",
    fields: &[
        f(1, "name", Str, Always),
        f(2, "readOnly", Bool, Omit),
        f(7, "recursiveReadOnly", Str, Opt),
        f(3, "mountPath", Str, Always),
        f(4, "subPath", Str, Omit),
        f(5, "mountPropagation", Str, Opt),
        f(6, "subPathExpr", Str, Omit),
    ],
};

static VOLUME_DEVICE: Message = Message {
    name: "VolumeDevice",
    fields: &[f(1, "name", Str, Always), f(2, "devicePath", Str, Always)],
};

static EXEC_ACTION: Message = Message {
    name: "ExecAction",
    fields: &[f(1, "command", Str, Rep)],
};

static HTTP_HEADER: Message = Message {
    name: "HTTPHeader",
    fields: &[f(1, "name", Str, Always), f(2, "value", Str, Always)],
};

static HTTP_GET_ACTION: Message = Message {
    name: "HTTPGetAction",
    fields: &[
        f(1, "path", Str, Omit),
        f(2, "port", IntOrString, Always),
        f(3, "host", Str, Omit),
        f(4, "scheme", Str, Omit),
        f(5, "httpHeaders", Msg(&HTTP_HEADER), Rep),
    ],
};

static TCP_SOCKET_ACTION: Message = Message {
    name: "TCPSocketAction",
    fields: &[f(1, "port", IntOrString, Always), f(2, "host", Str, Omit)],
};

static GRPC_ACTION: Message = Message {
    name: "GRPCAction",
    fields: &[f(1, "port", I32, Always), f(2, "service", Str, OptOrNull)],
};

static PROBE_HANDLER: Message = Message {
    name: "ProbeHandler",
    fields: &[
        f(1, "exec", Msg(&EXEC_ACTION), Opt),
        f(2, "httpGet", Msg(&HTTP_GET_ACTION), Opt),
        f(3, "tcpSocket", Msg(&TCP_SOCKET_ACTION), Opt),
        f(4, "grpc", Msg(&GRPC_ACTION), Opt),
    ],
};

static PROBE: Message = Message {
    name: "Probe",
    fields: &[
        f(1, "handler", Msg(&PROBE_HANDLER), Inline),
        f(2, "initialDelaySeconds", I32, Omit),
        f(3, "timeoutSeconds", I32, Omit),
        f(4, "periodSeconds", I32, Omit),
        f(5, "successThreshold", I32, Omit),
        f(6, "failureThreshold", I32, Omit),
        f(7, "terminationGracePeriodSeconds", I64, Opt),
    ],
};

static SLEEP_ACTION: Message = Message {
    name: "SleepAction",
    fields: &[f(1, "seconds", I64, Always)],
};

static LIFECYCLE_HANDLER: Message = Message {
    name: "LifecycleHandler",
    fields: &[
        f(1, "exec", Msg(&EXEC_ACTION), Opt),
        f(2, "httpGet", Msg(&HTTP_GET_ACTION), Opt),
        f(3, "tcpSocket", Msg(&TCP_SOCKET_ACTION), Opt),
        f(4, "sleep", Msg(&SLEEP_ACTION), Opt),
    ],
};

static LIFECYCLE: Message = Message {
    name: "Lifecycle",
    fields: &[
        f(1, "postStart", Msg(&LIFECYCLE_HANDLER), Opt),
        f(2, "preStop", Msg(&LIFECYCLE_HANDLER), Opt),
        f(3, "stopSignal", Str, Opt),
    ],
};

static CAPABILITIES: Message = Message {
    name: "Capabilities",
    fields: &[f(1, "add", Str, Rep), f(2, "drop", Str, Rep)],
};

static SE_LINUX_OPTIONS: Message = Message {
    name: "SELinuxOptions",
    fields: &[
        f(1, "user", Str, Omit),
        f(2, "role", Str, Omit),
        f(3, "type", Str, Omit),
        f(4, "level", Str, Omit),
    ],
};

static WINDOWS_SECURITY_CONTEXT_OPTIONS: Message = Message {
    name: "WindowsSecurityContextOptions",
    fields: &[
        f(1, "gmsaCredentialSpecName", Str, Opt),
        f(2, "gmsaCredentialSpec", Str, Opt),
        f(3, "runAsUserName", Str, Opt),
        f(4, "hostProcess", Bool, Opt),
    ],
};

static SECCOMP_PROFILE: Message = Message {
    name: "SeccompProfile",
    fields: &[
        f(1, "type", Str, Always),
        f(2, "localhostProfile", Str, Opt),
    ],
};

static APP_ARMOR_PROFILE: Message = Message {
    name: "AppArmorProfile",
    fields: &[
        f(1, "type", Str, Always),
        f(2, "localhostProfile", Str, Opt),
    ],
};

static SECURITY_CONTEXT: Message = Message {
    name: "SecurityContext",
    fields: &[
        f(1, "capabilities", Msg(&CAPABILITIES), Opt),
        f(2, "privileged", Bool, Opt),
        f(3, "seLinuxOptions", Msg(&SE_LINUX_OPTIONS), Opt),
        f(
            10,
            "windowsOptions",
            Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS),
            Opt,
        ),
        f(4, "runAsUser", I64, Opt),
        f(8, "runAsGroup", I64, Opt),
        f(5, "runAsNonRoot", Bool, Opt),
        f(6, "readOnlyRootFilesystem", Bool, Opt),
        f(7, "allowPrivilegeEscalation", Bool, Opt),
        f(9, "procMount", Str, Opt),
        f(11, "seccompProfile", Msg(&SECCOMP_PROFILE), Opt),
        f(12, "appArmorProfile", Msg(&APP_ARMOR_PROFILE), Opt),
    ],
};

static CONTAINER: Message = Message {
    name: "Container",
    fields: &[
        f(1, "name", Str, Always),
        f(2, "image", Str, Omit),
        f(3, "command", Str, Rep),
        f(4, "args", Str, Rep),
        f(5, "workingDir", Str, Omit),
        f(6, "ports", Msg(&CONTAINER_PORT), Rep),
        f(19, "envFrom", Msg(&ENV_FROM_SOURCE), Rep),
        f(7, "env", Msg(&ENV_VAR), Rep),
        f(8, "resources", Msg(&RESOURCE_REQUIREMENTS), Always),
        f(23, "resizePolicy", Msg(&CONTAINER_RESIZE_POLICY), Rep),
        f(24, "restartPolicy", Str, Opt),
        f(9, "volumeMounts", Msg(&VOLUME_MOUNT), Rep),
        f(21, "volumeDevices", Msg(&VOLUME_DEVICE), Rep),
        f(10, "livenessProbe", Msg(&PROBE), Opt),
        f(11, "readinessProbe", Msg(&PROBE), Opt),
        f(22, "startupProbe", Msg(&PROBE), Opt),
        f(12, "lifecycle", Msg(&LIFECYCLE), Opt),
        f(13, "terminationMessagePath", Str, Omit),
        f(20, "terminationMessagePolicy", Str, Omit),
        f(14, "imagePullPolicy", Str, Omit),
        f(15, "securityContext", Msg(&SECURITY_CONTEXT), Opt),
        f(16, "stdin", Bool, Omit),
        f(17, "stdinOnce", Bool, Omit),
        f(18, "tty", Bool, Omit),
    ],
};

static EPHEMERAL_CONTAINER_COMMON: Message = Message {
    name: "EphemeralContainerCommon",
    fields: &[
        f(1, "name", Str, Always),
        f(2, "image", Str, Omit),
        f(3, "command", Str, Rep),
        f(4, "args", Str, Rep),
        f(5, "workingDir", Str, Omit),
        f(6, "ports", Msg(&CONTAINER_PORT), Rep),
        f(19, "envFrom", Msg(&ENV_FROM_SOURCE), Rep),
        f(7, "env", Msg(&ENV_VAR), Rep),
        f(8, "resources", Msg(&RESOURCE_REQUIREMENTS), Always),
        f(23, "resizePolicy", Msg(&CONTAINER_RESIZE_POLICY), Rep),
        f(24, "restartPolicy", Str, Opt),
        f(9, "volumeMounts", Msg(&VOLUME_MOUNT), Rep),
        f(21, "volumeDevices", Msg(&VOLUME_DEVICE), Rep),
        f(10, "livenessProbe", Msg(&PROBE), Opt),
        f(11, "readinessProbe", Msg(&PROBE), Opt),
        f(22, "startupProbe", Msg(&PROBE), Opt),
        f(12, "lifecycle", Msg(&LIFECYCLE), Opt),
        f(13, "terminationMessagePath", Str, Omit),
        f(20, "terminationMessagePolicy", Str, Omit),
        f(14, "imagePullPolicy", Str, Omit),
        f(15, "securityContext", Msg(&SECURITY_CONTEXT), Opt),
        f(16, "stdin", Bool, Omit),
        f(17, "stdinOnce", Bool, Omit),
        f(18, "tty", Bool, Omit),
    ],
};

static EPHEMERAL_CONTAINER: Message = Message {
    name: "EphemeralContainer",
    fields: &[
        f(
            1,
            "ephemeralContainerCommon",
            Msg(&EPHEMERAL_CONTAINER_COMMON),
            Inline,
        ),
        f(2, "targetContainerName", Str, Omit),
    ],
};

static SYSCTL: Message = Message {
    name: "Sysctl",
    fields: &[f(1, "name", Str, Always), f(2, "value", Str, Always)],
};

static POD_SECURITY_CONTEXT: Message = Message {
    name: "PodSecurityContext",
    fields: &[
        f(1, "seLinuxOptions", Msg(&SE_LINUX_OPTIONS), Opt),
        f(
            8,
            "windowsOptions",
            Msg(&WINDOWS_SECURITY_CONTEXT_OPTIONS),
            Opt,
        ),
        f(2, "runAsUser", I64, Opt),
        f(6, "runAsGroup", I64, Opt),
        f(3, "runAsNonRoot", Bool, Opt),
        f(4, "supplementalGroups", I64, Rep),
        f(12, "supplementalGroupsPolicy", Str, Opt),
        f(5, "fsGroup", I64, Opt),
        f(7, "sysctls", Msg(&SYSCTL), Rep),
        f(9, "fsGroupChangePolicy", Str, Opt),
        f(10, "seccompProfile", Msg(&SECCOMP_PROFILE), Opt),
        f(11, "appArmorProfile", Msg(&APP_ARMOR_PROFILE), Opt),
        f(13, "seLinuxChangePolicy", Str, Opt),
    ],
};

static NODE_SELECTOR_REQUIREMENT: Message = Message {
    name: "NodeSelectorRequirement",
    fields: &[
        f(1, "key", Str, Always),
        f(2, "operator", Str, Always),
        f(3, "values", Str, Rep),
    ],
};

static NODE_SELECTOR_TERM: Message = Message {
    name: "NodeSelectorTerm",
    fields: &[
        f(1, "matchExpressions", Msg(&NODE_SELECTOR_REQUIREMENT), Rep),
        f(2, "matchFields", Msg(&NODE_SELECTOR_REQUIREMENT), Rep),
    ],
};

static NODE_SELECTOR: Message = Message {
    name: "NodeSelector",
    fields: &[f(
        1,
        "nodeSelectorTerms",
        Msg(&NODE_SELECTOR_TERM),
        RepOrNull,
    )],
};

static PREFERRED_SCHEDULING_TERM: Message = Message {
    name: "PreferredSchedulingTerm",
    fields: &[
        f(1, "weight", I32, Always),
        f(2, "preference", Msg(&NODE_SELECTOR_TERM), Always),
    ],
};

static NODE_AFFINITY: Message = Message {
    name: "NodeAffinity",
    fields: &[
        f(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&NODE_SELECTOR),
            Opt,
        ),
        f(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&PREFERRED_SCHEDULING_TERM),
            Rep,
        ),
    ],
};

static POD_AFFINITY_TERM: Message = Message {
    name: "PodAffinityTerm",
    fields: &[
        f(1, "labelSelector", Msg(&LABEL_SELECTOR), Opt),
        f(2, "namespaces", Str, Rep),
        f(3, "topologyKey", Str, Always),
        f(4, "namespaceSelector", Msg(&LABEL_SELECTOR), Opt),
        f(5, "matchLabelKeys", Str, Rep),
        f(6, "mismatchLabelKeys", Str, Rep),
    ],
};

static WEIGHTED_POD_AFFINITY_TERM: Message = Message {
    name: "WeightedPodAffinityTerm",
    fields: &[
        f(1, "weight", I32, Always),
        f(2, "podAffinityTerm", Msg(&POD_AFFINITY_TERM), Always),
    ],
};

static POD_AFFINITY: Message = Message {
    name: "PodAffinity",
    fields: &[
        f(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&POD_AFFINITY_TERM),
            Rep,
        ),
        f(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&WEIGHTED_POD_AFFINITY_TERM),
            Rep,
        ),
    ],
};

static POD_ANTI_AFFINITY: Message = Message {
    name: "PodAntiAffinity",
    fields: &[
        f(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            Msg(&POD_AFFINITY_TERM),
            Rep,
        ),
        f(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            Msg(&WEIGHTED_POD_AFFINITY_TERM),
            Rep,
        ),
    ],
};

static AFFINITY: Message = Message {
    name: "Affinity",
    fields: &[
        f(1, "nodeAffinity", Msg(&NODE_AFFINITY), Opt),
        f(2, "podAffinity", Msg(&POD_AFFINITY), Opt),
        f(3, "podAntiAffinity", Msg(&POD_ANTI_AFFINITY), Opt),
    ],
};

static TOLERATION: Message = Message {
    name: "Toleration",
    fields: &[
        f(1, "key", Str, Omit),
        f(2, "operator", Str, Omit),
        f(3, "value", Str, Omit),
        f(4, "effect", Str, Omit),
        f(5, "tolerationSeconds", I64, Opt),
    ],
};

static HOST_ALIAS: Message = Message {
    name: "HostAlias",
    fields: &[f(1, "ip", Str, Always), f(2, "hostnames", Str, Rep)],
};

static POD_DNS_CONFIG_OPTION: Message = Message {
    name: "PodDNSConfigOption",
    fields: &[f(1, "name", Str, Omit), f(2, "value", Str, Opt)],
};

static POD_DNS_CONFIG: Message = Message {
    name: "PodDNSConfig",
    fields: &[
        f(1, "nameservers", Str, Rep),
        f(2, "searches", Str, Rep),
        f(3, "options", Msg(&POD_DNS_CONFIG_OPTION), Rep),
    ],
};

static POD_READINESS_GATE: Message = Message {
    name: "PodReadinessGate",
    fields: &[f(1, "conditionType", Str, Always)],
};

static TOPOLOGY_SPREAD_CONSTRAINT: Message = Message {
    name: "TopologySpreadConstraint",
    fields: &[
        f(1, "maxSkew", I32, Always),
        f(2, "topologyKey", Str, Always),
        f(3, "whenUnsatisfiable", Str, Always),
        f(4, "labelSelector", Msg(&LABEL_SELECTOR), Opt),
        f(5, "minDomains", I32, Opt),
        f(6, "nodeAffinityPolicy", Str, Opt),
        f(7, "nodeTaintsPolicy", Str, Opt),
        f(8, "matchLabelKeys", Str, Rep),
    ],
};

static POD_OS: Message = Message {
    name: "PodOS",
    fields: &[f(1, "name", Str, Always)],
};

static POD_SCHEDULING_GATE: Message = Message {
    name: "PodSchedulingGate",
    fields: &[f(1, "name", Str, Always)],
};

static POD_RESOURCE_CLAIM: Message = Message {
    name: "PodResourceClaim",
    fields: &[
        f(1, "name", Str, Always),
        f(3, "resourceClaimName", Str, Opt),
        f(4, "resourceClaimTemplateName", Str, Opt),
    ],
};

static POD_SPEC: Message = Message {
    name: "PodSpec",
    fields: &[
        f(1, "volumes", Msg(&VOLUME), Rep),
        f(20, "initContainers", Msg(&CONTAINER), Rep),
        f(2, "containers", Msg(&CONTAINER), RepOrNull),
        f(34, "ephemeralContainers", Msg(&EPHEMERAL_CONTAINER), Rep),
        f(3, "restartPolicy", Str, Omit),
        f(4, "terminationGracePeriodSeconds", I64, Opt),
        f(5, "activeDeadlineSeconds", I64, Opt),
        f(6, "dnsPolicy", Str, Omit),
        f(7, "nodeSelector", StrMap, Omit),
        f(8, "serviceAccountName", Str, Omit),
        f(9, "serviceAccount", Str, Omit),
        f(21, "automountServiceAccountToken", Bool, Opt),
        f(10, "nodeName", Str, Omit),
        f(11, "hostNetwork", Bool, Omit),
        f(12, "hostPID", Bool, Omit),
        f(13, "hostIPC", Bool, Omit),
        f(27, "shareProcessNamespace", Bool, Opt),
        f(14, "securityContext", Msg(&POD_SECURITY_CONTEXT), Opt),
        f(15, "imagePullSecrets", Msg(&LOCAL_OBJECT_REFERENCE), Rep),
        f(16, "hostname", Str, Omit),
        f(17, "subdomain", Str, Omit),
        f(18, "affinity", Msg(&AFFINITY), Opt),
        f(19, "schedulerName", Str, Omit),
        f(22, "tolerations", Msg(&TOLERATION), Rep),
        f(23, "hostAliases", Msg(&HOST_ALIAS), Rep),
        f(24, "priorityClassName", Str, Omit),
        f(25, "priority", I32, Opt),
        f(26, "dnsConfig", Msg(&POD_DNS_CONFIG), Opt),
        f(28, "readinessGates", Msg(&POD_READINESS_GATE), Rep),
        f(29, "runtimeClassName", Str, Opt),
        f(30, "enableServiceLinks", Bool, Opt),
        f(31, "preemptionPolicy", Str, Opt),
        f(32, "overhead", MapOf(&Quantity), Omit),
        f(
            33,
            "topologySpreadConstraints",
            Msg(&TOPOLOGY_SPREAD_CONSTRAINT),
            Rep,
        ),
        f(35, "setHostnameAsFQDN", Bool, Opt),
        f(36, "os", Msg(&POD_OS), Opt),
        f(37, "hostUsers", Bool, Opt),
        f(38, "schedulingGates", Msg(&POD_SCHEDULING_GATE), Rep),
        f(39, "resourceClaims", Msg(&POD_RESOURCE_CLAIM), Rep),
        f(40, "resources", Msg(&RESOURCE_REQUIREMENTS), Opt),
    ],
};

static POD_CONDITION: Message = Message {
    name: "PodCondition",
    fields: &[
        f(1, "type", Str, Always),
        f(7, "observedGeneration", I64, Omit),
        f(2, "status", Str, Always),
        f(3, "lastProbeTime", Time, Always),
        f(4, "lastTransitionTime", Time, Always),
        f(5, "reason", Str, Omit),
        f(6, "message", Str, Omit),
    ],
};

static HOST_IP: Message = Message {
    name: "HostIP",
    fields: &[f(1, "ip", Str, Always)],
};

static POD_IP: Message = Message {
    name: "PodIP",
    fields: &[f(1, "ip", Str, Always)],
};

static CONTAINER_STATE_WAITING: Message = Message {
    name: "ContainerStateWaiting",
    fields: &[f(1, "reason", Str, Omit), f(2, "message", Str, Omit)],
};

static CONTAINER_STATE_RUNNING: Message = Message {
    name: "ContainerStateRunning",
    fields: &[f(1, "startedAt", Time, Always)],
};

static CONTAINER_STATE_TERMINATED: Message = Message {
    name: "ContainerStateTerminated",
    fields: &[
        f(1, "exitCode", I32, Always),
        f(2, "signal", I32, Omit),
        f(3, "reason", Str, Omit),
        f(4, "message", Str, Omit),
        f(5, "startedAt", Time, Always),
        f(6, "finishedAt", Time, Always),
        f(7, "containerID", Str, Omit),
    ],
};

static CONTAINER_STATE: Message = Message {
    name: "ContainerState",
    fields: &[
        f(1, "waiting", Msg(&CONTAINER_STATE_WAITING), Opt),
        f(2, "running", Msg(&CONTAINER_STATE_RUNNING), Opt),
        f(3, "terminated", Msg(&CONTAINER_STATE_TERMINATED), Opt),
    ],
};

static VOLUME_MOUNT_STATUS: Message = Message {
    name: "VolumeMountStatus",
    fields: &[
        f(1, "name", Str, Always),
        f(2, "mountPath", Str, Always),
        f(3, "readOnly", Bool, Omit),
        f(4, "recursiveReadOnly", Str, Opt),
    ],
};

static LINUX_CONTAINER_USER: Message = Message {
    name: "LinuxContainerUser",
    fields: &[
        f(1, "uid", I64, Always),
        f(2, "gid", I64, Always),
        f(3, "supplementalGroups", I64, Rep),
    ],
};

static CONTAINER_USER: Message = Message {
    name: "ContainerUser",
    fields: &[f(1, "linux", Msg(&LINUX_CONTAINER_USER), Opt)],
};

static RESOURCE_HEALTH: Message = Message {
    name: "ResourceHealth",
    fields: &[f(1, "resourceID", Str, Always), f(2, "health", Str, Omit)],
};

static RESOURCE_STATUS: Message = Message {
    name: "ResourceStatus",
    fields: &[
        f(1, "name", Str, Always),
        f(2, "resources", Msg(&RESOURCE_HEALTH), Rep),
    ],
};

static CONTAINER_STATUS: Message = Message {
    name: "ContainerStatus",
    fields: &[
        f(1, "name", Str, Always),
        f(2, "state", Msg(&CONTAINER_STATE), Always),
        f(3, "lastState", Msg(&CONTAINER_STATE), Always),
        f(4, "ready", Bool, Always),
        f(5, "restartCount", I32, Always),
        f(6, "image", Str, Always),
        f(7, "imageID", Str, Always),
        f(8, "containerID", Str, Omit),
        f(9, "started", Bool, Opt),
        f(10, "allocatedResources", MapOf(&Quantity), Omit),
        f(11, "resources", Msg(&RESOURCE_REQUIREMENTS), Opt),
        f(12, "volumeMounts", Msg(&VOLUME_MOUNT_STATUS), Rep),
        f(13, "user", Msg(&CONTAINER_USER), Opt),
        f(14, "allocatedResourcesStatus", Msg(&RESOURCE_STATUS), Rep),
        f(15, "stopSignal", Str, Opt),
    ],
};

static POD_RESOURCE_CLAIM_STATUS: Message = Message {
    name: "PodResourceClaimStatus",
    fields: &[
        f(1, "name", Str, Always),
        f(2, "resourceClaimName", Str, Opt),
    ],
};

static POD_STATUS: Message = Message {
    name: "PodStatus",
    fields: &[
        f(17, "observedGeneration", I64, Omit),
        f(1, "phase", Str, Omit),
        f(2, "conditions", Msg(&POD_CONDITION), Rep),
        f(3, "message", Str, Omit),
        f(4, "reason", Str, Omit),
        f(11, "nominatedNodeName", Str, Omit),
        f(5, "hostIP", Str, Omit),
        f(16, "hostIPs", Msg(&HOST_IP), Rep),
        f(6, "podIP", Str, Omit),
        f(12, "podIPs", Msg(&POD_IP), Rep),
        f(7, "startTime", Time, Opt),
        f(10, "initContainerStatuses", Msg(&CONTAINER_STATUS), Rep),
        f(8, "containerStatuses", Msg(&CONTAINER_STATUS), Rep),
        f(9, "qosClass", Str, Omit),
        f(
            13,
            "ephemeralContainerStatuses",
            Msg(&CONTAINER_STATUS),
            Rep,
        ),
        f(14, "resize", Str, Omit),
        f(
            15,
            "resourceClaimStatuses",
            Msg(&POD_RESOURCE_CLAIM_STATUS),
            Rep,
        ),
    ],
};

static POD: Message = Message {
    name: "Pod",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&POD_SPEC), Always),
        f(3, "status", Msg(&POD_STATUS), Always),
    ],
};

static POD_TEMPLATE_SPEC: Message = Message {
    name: "PodTemplateSpec",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&POD_SPEC), Always),
    ],
};

static JOB_SPEC: Message = Message {
    name: "JobSpec",
    fields: &[
        f(1, "parallelism", I32, Opt),
        f(2, "completions", I32, Opt),
        f(3, "activeDeadlineSeconds", I64, Opt),
        f(11, "podFailurePolicy", Msg(&POD_FAILURE_POLICY), Opt),
        f(16, "successPolicy", Msg(&SUCCESS_POLICY), Opt),
        f(7, "backoffLimit", I32, Opt),
        f(12, "backoffLimitPerIndex", I32, Opt),
        f(13, "maxFailedIndexes", I32, Opt),
        f(4, "selector", Msg(&LABEL_SELECTOR), Opt),
        f(5, "manualSelector", Bool, Opt),
        f(6, "template", Msg(&POD_TEMPLATE_SPEC), Always),
        f(8, "ttlSecondsAfterFinished", I32, Opt),
        f(9, "completionMode", Str, Opt),
        f(10, "suspend", Bool, Opt),
        f(14, "podReplacementPolicy", Str, Opt),
        f(15, "managedBy", Str, Opt),
    ],
};

static JOB_CONDITION: Message = Message {
    name: "JobCondition",
    fields: &[
        f(1, "type", Str, Always),
        f(2, "status", Str, Always),
        f(3, "lastProbeTime", Time, Always),
        f(4, "lastTransitionTime", Time, Always),
        f(5, "reason", Str, Omit),
        f(6, "message", Str, Omit),
    ],
};

static UNCOUNTED_TERMINATED_PODS: Message = Message {
    name: "UncountedTerminatedPods",
    fields: &[f(1, "succeeded", Str, Rep), f(2, "failed", Str, Rep)],
};

static JOB_STATUS: Message = Message {
    name: "JobStatus",
    fields: &[
        f(1, "conditions", Msg(&JOB_CONDITION), Rep),
        f(2, "startTime", Time, Opt),
        f(3, "completionTime", Time, Opt),
        f(4, "active", I32, Omit),
        f(5, "succeeded", I32, Omit),
        f(6, "failed", I32, Omit),
        f(11, "terminating", I32, Opt),
        f(7, "completedIndexes", Str, Omit),
        f(10, "failedIndexes", Str, Opt),
        f(
            8,
            "uncountedTerminatedPods",
            Msg(&UNCOUNTED_TERMINATED_PODS),
            Opt,
        ),
        f(9, "ready", I32, Opt),
    ],
};

static JOB: Message = Message {
    name: "Job",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&JOB_SPEC), Always),
        f(3, "status", Msg(&JOB_STATUS), Always),
    ],
};

static JOB_TEMPLATE_SPEC: Message = Message {
    name: "JobTemplateSpec",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&JOB_SPEC), Always),
    ],
};

static CRON_JOB_SPEC: Message = Message {
    name: "CronJobSpec",
    fields: &[
        f(1, "schedule", Str, Always),
        f(8, "timeZone", Str, Opt),
        f(2, "startingDeadlineSeconds", I64, Opt),
        f(3, "concurrencyPolicy", Str, Omit),
        f(4, "suspend", Bool, Opt),
        f(5, "jobTemplate", Msg(&JOB_TEMPLATE_SPEC), Always),
        f(6, "successfulJobsHistoryLimit", I32, Opt),
        f(7, "failedJobsHistoryLimit", I32, Opt),
    ],
};

static CRON_JOB_STATUS: Message = Message {
    name: "CronJobStatus",
    fields: &[
        f(1, "active", Msg(&OBJECT_REFERENCE), Rep),
        f(4, "lastScheduleTime", Time, Opt),
        f(5, "lastSuccessfulTime", Time, Opt),
    ],
};

static CRON_JOB: Message = Message {
    name: "CronJob",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&CRON_JOB_SPEC), Always),
        f(3, "status", Msg(&CRON_JOB_STATUS), Always),
    ],
};

// apps/v1 Deployment and ReplicaSet (`kubectl create deployment`).

static ROLLING_UPDATE_DEPLOYMENT: Message = Message {
    name: "RollingUpdateDeployment",
    fields: &[
        f(1, "maxUnavailable", IntOrString, Opt),
        f(2, "maxSurge", IntOrString, Opt),
    ],
};

static DEPLOYMENT_STRATEGY: Message = Message {
    name: "DeploymentStrategy",
    fields: &[
        f(1, "type", Str, Omit),
        f(2, "rollingUpdate", Msg(&ROLLING_UPDATE_DEPLOYMENT), Opt),
    ],
};

static DEPLOYMENT_SPEC: Message = Message {
    name: "DeploymentSpec",
    fields: &[
        f(1, "replicas", I32, Opt),
        f(2, "selector", Msg(&LABEL_SELECTOR), OptOrNull),
        f(3, "template", Msg(&POD_TEMPLATE_SPEC), Always),
        f(4, "strategy", Msg(&DEPLOYMENT_STRATEGY), Always),
        f(5, "minReadySeconds", I32, Omit),
        f(6, "revisionHistoryLimit", I32, Opt),
        f(7, "paused", Bool, Omit),
        f(9, "progressDeadlineSeconds", I32, Opt),
    ],
};

static DEPLOYMENT_CONDITION: Message = Message {
    name: "DeploymentCondition",
    fields: &[
        f(1, "type", Str, Always),
        f(2, "status", Str, Always),
        f(6, "lastUpdateTime", Time, Always),
        f(7, "lastTransitionTime", Time, Always),
        f(4, "reason", Str, Omit),
        f(5, "message", Str, Omit),
    ],
};

static DEPLOYMENT_STATUS: Message = Message {
    name: "DeploymentStatus",
    fields: &[
        f(1, "observedGeneration", I64, Omit),
        f(2, "replicas", I32, Omit),
        f(3, "updatedReplicas", I32, Omit),
        f(7, "readyReplicas", I32, Omit),
        f(4, "availableReplicas", I32, Omit),
        f(5, "unavailableReplicas", I32, Omit),
        f(9, "terminatingReplicas", I32, Opt),
        f(6, "conditions", Msg(&DEPLOYMENT_CONDITION), Rep),
        f(8, "collisionCount", I32, Opt),
    ],
};

static DEPLOYMENT: Message = Message {
    name: "Deployment",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&DEPLOYMENT_SPEC), Always),
        f(3, "status", Msg(&DEPLOYMENT_STATUS), Always),
    ],
};

static REPLICA_SET_SPEC: Message = Message {
    name: "ReplicaSetSpec",
    fields: &[
        f(1, "replicas", I32, Opt),
        f(4, "minReadySeconds", I32, Omit),
        f(2, "selector", Msg(&LABEL_SELECTOR), OptOrNull),
        f(3, "template", Msg(&POD_TEMPLATE_SPEC), Always),
    ],
};

static REPLICA_SET_CONDITION: Message = Message {
    name: "ReplicaSetCondition",
    fields: &[
        f(1, "type", Str, Always),
        f(2, "status", Str, Always),
        f(3, "lastTransitionTime", Time, Always),
        f(4, "reason", Str, Omit),
        f(5, "message", Str, Omit),
    ],
};

static REPLICA_SET_STATUS: Message = Message {
    name: "ReplicaSetStatus",
    fields: &[
        f(1, "replicas", I32, Always),
        f(2, "fullyLabeledReplicas", I32, Omit),
        f(4, "readyReplicas", I32, Omit),
        f(5, "availableReplicas", I32, Omit),
        f(7, "terminatingReplicas", I32, Opt),
        f(3, "observedGeneration", I64, Omit),
        f(6, "conditions", Msg(&REPLICA_SET_CONDITION), Rep),
    ],
};

static REPLICA_SET: Message = Message {
    name: "ReplicaSet",
    fields: &[
        f(1, "metadata", Msg(&OBJECT_META), Always),
        f(2, "spec", Msg(&REPLICA_SET_SPEC), Always),
        f(3, "status", Msg(&REPLICA_SET_STATUS), Always),
    ],
};

// Messages with a JSON form of their own.

static TIME: Message = Message {
    name: "Time",
    fields: &[f(1, "seconds", I64, Omit), f(2, "nanos", I32, Omit)],
};

static INT_OR_STRING: Message = Message {
    name: "IntOrString",
    fields: &[
        f(1, "type", I64, Omit),
        f(2, "intVal", I32, Omit),
        f(3, "strVal", Str, Omit),
    ],
};

static FIELDS_V1: Message = Message {
    name: "FieldsV1",
    fields: &[f(1, "Raw", Bytes, Opt)],
};

static QUANTITY: Message = Message {
    name: "Quantity",
    fields: &[f(1, "string", Str, Opt)],
};

static STR_LIST: Message = Message {
    name: "StringList",
    fields: &[f(1, "items", Str, Rep)],
};

static MAP_ENTRY: Message = Message {
    name: "MapEntry",
    fields: &[f(1, "key", Str, Omit), f(2, "value", Bytes, Omit)],
};

// ---------------------------------------------------------------------------
// Wire format

/// One occurrence of a field on the wire.
#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_BYTES: u8 = 2;
const WIRE_FIXED32: u8 = 5;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn eof(&self) -> ProtobufError {
        ProtobufError::UnexpectedEof {
            message: self.message,
        }
    }

    fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            if shift >= 64 {
                return Err(ProtobufError::IntegerOverflow {
                    message: self.message,
                });
            }
            let &byte = self.buf.get(self.pos).ok_or_else(|| self.eof())?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], ProtobufError> {
        let remaining = self.buf.len() - self.pos;
        match usize::try_from(len) {
            Ok(len) if len <= remaining => {
                let bytes = &self.buf[self.pos..self.pos + len];
                self.pos += len;
                Ok(bytes)
            }
            _ => Err(self.eof()),
        }
    }
}

/// Reads a message's fields, checking wire types, into one list of
/// occurrences per schema field (unknown fields are skipped).
fn read_fields<'a>(buf: &'a [u8], schema: &Message) -> Result<Vec<Vec<Wire<'a>>>, ProtobufError> {
    let mut found: Vec<Vec<Wire<'a>>> = vec![Vec::new(); schema.fields.len()];
    let mut r = Reader {
        buf,
        pos: 0,
        message: schema.name,
    };
    while r.pos < buf.len() {
        let tag = r.varint()?;
        let number = tag >> 3;
        let wire_type = (tag & 7) as u8;
        if number == 0
            || !matches!(
                wire_type,
                WIRE_VARINT | WIRE_FIXED64 | WIRE_BYTES | WIRE_FIXED32
            )
        {
            return Err(ProtobufError::IllegalTag {
                message: schema.name,
                field: number,
                wire_type,
            });
        }
        let value = match wire_type {
            WIRE_VARINT => Wire::Varint(r.varint()?),
            WIRE_FIXED64 => Wire::Bytes(r.take(8)?),
            WIRE_FIXED32 => Wire::Bytes(r.take(4)?),
            _ => {
                let len = r.varint()?;
                Wire::Bytes(r.take(len)?)
            }
        };
        let Some(index) = schema.fields.iter().position(|f| f.number == number) else {
            continue;
        };
        let field = &schema.fields[index];
        let expected = match field.ty {
            Bool | I32 | I64 => WIRE_VARINT,
            _ => WIRE_BYTES,
        };
        let repeated = matches!(field.card, Rep | RepOrNull);
        if let (true, WIRE_VARINT, Wire::Bytes(packed)) = (repeated, expected, value) {
            // A packed repeated scalar: the varints back to back.
            let mut p = Reader {
                buf: packed,
                pos: 0,
                message: schema.name,
            };
            while p.pos < packed.len() {
                found[index].push(Wire::Varint(p.varint()?));
            }
            continue;
        }
        if wire_type != expected {
            return Err(ProtobufError::WrongWireType {
                message: schema.name,
                field: field.name,
                wire_type,
            });
        }
        found[index].push(value);
    }
    Ok(found)
}

/// The concatenation of a message field's occurrences: protobuf merges
/// repeated occurrences of a singular message exactly so.
fn concat(occurrences: &[Wire<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for w in occurrences {
        if let Wire::Bytes(b) = w {
            out.extend_from_slice(b);
        }
    }
    out
}

fn last_str(occurrences: &[Wire<'_>]) -> String {
    match occurrences.last() {
        Some(Wire::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

fn last_bytes<'a>(occurrences: &[Wire<'a>]) -> &'a [u8] {
    match occurrences.last() {
        Some(Wire::Bytes(b)) => b,
        _ => &[],
    }
}

fn last_varint(occurrences: &[Wire<'_>]) -> u64 {
    match occurrences.last() {
        Some(Wire::Varint(v)) => *v,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------
// To JSON

/// Decodes one message into a JSON object.
fn message(
    buf: &[u8],
    schema: &Message,
    depth: usize,
) -> Result<Map<String, Value>, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    let found = read_fields(buf, schema)?;
    let mut out = Map::new();
    for (field, occurrences) in schema.fields.iter().zip(&found) {
        let value = match field.card {
            Rep => {
                let items = occurrences
                    .iter()
                    .map(|w| value(field.ty, std::slice::from_ref(w), depth))
                    .collect::<Result<Vec<_>, _>>()?;
                (!items.is_empty()).then_some(Value::Array(items))
            }
            RepOrNull => {
                let items = occurrences
                    .iter()
                    .map(|w| value(field.ty, std::slice::from_ref(w), depth))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(if items.is_empty() {
                    Value::Null
                } else {
                    Value::Array(items)
                })
            }
            Opt if occurrences.is_empty() => None,
            OptOrNull if occurrences.is_empty() => Some(Value::Null),
            Opt | OptOrNull | Always => Some(value(field.ty, occurrences, depth)?),
            Inline => {
                if let Value::Object(inner) = value(field.ty, occurrences, depth)? {
                    out.extend(inner);
                }
                None
            }
            Omit => Some(value(field.ty, occurrences, depth)?).filter(|v| !is_zero(v)),
        };
        if let Some(value) = value {
            out.insert(field.name.to_owned(), value);
        }
    }
    Ok(out)
}

/// The JSON value of a singular field from its occurrences (none: zero).
fn value(ty: Ty, occurrences: &[Wire<'_>], depth: usize) -> Result<Value, ProtobufError> {
    Ok(match ty {
        Str => Value::String(last_str(occurrences)),
        Bool => Value::Bool(last_varint(occurrences) != 0),
        I32 => Value::from(last_varint(occurrences) as i32),
        I64 => Value::from(last_varint(occurrences) as i64),
        Bytes => Value::String(base64(last_bytes(occurrences))),
        Time => time(&concat(occurrences), depth + 1)?,
        IntOrString => int_or_string(&concat(occurrences), depth + 1)?,
        FieldsV1 => fields_v1(&concat(occurrences), depth + 1)?,
        Quantity => quantity(&concat(occurrences), depth + 1)?,
        StrList => str_list(&concat(occurrences), depth + 1)?,
        MapOf(inner) => {
            if depth > MAX_DEPTH {
                return Err(ProtobufError::TooDeep);
            }
            let mut map = Map::new();
            for w in occurrences {
                let Wire::Bytes(entry) = w else { continue };
                let entry = read_fields(entry, &MAP_ENTRY)?;
                map.insert(last_str(&entry[0]), value(*inner, &entry[1], depth + 1)?);
            }
            Value::Object(map)
        }
        Msg(schema) => Value::Object(message(&concat(occurrences), schema, depth + 1)?),
        StrMap | BytesMap => {
            let mut map = Map::new();
            for w in occurrences {
                let Wire::Bytes(entry) = w else { continue };
                let entry = read_fields(entry, &MAP_ENTRY)?;
                let key = last_str(&entry[0]);
                let value = match ty {
                    StrMap => Value::String(last_str(&entry[1])),
                    _ => Value::String(base64(last_bytes(&entry[1]))),
                };
                map.insert(key, value);
            }
            Value::Object(map)
        }
    })
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Go's zero `time.Time` as Unix seconds (0001-01-01T00:00:00Z).
const ZERO_TIME_SECONDS: i64 = -62_135_596_800;
/// 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
const MAX_TIME_SECONDS: i64 = 253_402_300_799;

/// `metav1.Time`: RFC 3339 with whole seconds, as its MarshalJSON writes;
/// `null` for an empty message or Go's zero time.
fn time(buf: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    if buf.is_empty() {
        return Ok(Value::Null);
    }
    let found = read_fields(buf, &TIME)?;
    let seconds = last_varint(&found[0]) as i64;
    let nanos = last_varint(&found[1]) as i32;
    if seconds == ZERO_TIME_SECONDS && nanos == 0 {
        return Ok(Value::Null);
    }
    // Go normalises nanos outside [0, 1e9) into the seconds.
    let seconds = seconds.checked_add(i64::from(nanos).div_euclid(1_000_000_000));
    let seconds = match seconds {
        Some(s) if (ZERO_TIME_SECONDS..=MAX_TIME_SECONDS).contains(&s) => s,
        _ => {
            return Err(ProtobufError::TimeOutOfRange {
                message: TIME.name,
                seconds: seconds.unwrap_or(i64::MAX),
            });
        }
    };
    Ok(Value::String(rfc3339(seconds)))
}

/// Formats Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (years 0001-9999).
fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `intstr.IntOrString`: type 1 is a string, anything else an int.
fn int_or_string(buf: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    let found = read_fields(buf, &INT_OR_STRING)?;
    Ok(if last_varint(&found[0]) as i64 == 1 {
        Value::String(last_str(&found[2]))
    } else {
        Value::from(last_varint(&found[1]) as i32)
    })
}

/// `resource.Quantity`: its string as sent (`"0"`, the zero quantity, when
/// absent). Upstream would also reject a malformed quantity here and write
/// the canonical form; this server parses quantities from the JSON.
fn quantity(buf: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    let found = read_fields(buf, &QUANTITY)?;
    Ok(Value::String(if found[0].is_empty() {
        "0".to_owned()
    } else {
        last_str(&found[0])
    }))
}

/// A `[]string` wrapped in a message: an array, `null` when empty.
fn str_list(buf: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    let found = read_fields(buf, &STR_LIST)?;
    if found[0].is_empty() {
        return Ok(Value::Null);
    }
    Ok(Value::Array(
        found[0]
            .iter()
            .map(|w| Value::String(last_str(std::slice::from_ref(w))))
            .collect(),
    ))
}

/// `metav1.FieldsV1`: the raw bytes are the JSON; none is `null`.
fn fields_v1(buf: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    let found = read_fields(buf, &FIELDS_V1)?;
    let raw = last_bytes(&found[0]);
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|e| ProtobufError::InvalidFieldsV1(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    // A tiny protobuf encoder.

    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn tag(field: u64, wire_type: u8) -> Vec<u8> {
        varint(field << 3 | u64::from(wire_type))
    }

    /// A varint field.
    fn v(field: u64, value: u64) -> Vec<u8> {
        [tag(field, 0), varint(value)].concat()
    }

    /// A length-delimited field holding bytes.
    fn b(field: u64, bytes: &[u8]) -> Vec<u8> {
        [tag(field, 2), varint(bytes.len() as u64), bytes.to_vec()].concat()
    }

    /// A string field.
    fn s(field: u64, value: &str) -> Vec<u8> {
        b(field, value.as_bytes())
    }

    /// A message field.
    fn m(field: u64, parts: &[Vec<u8>]) -> Vec<u8> {
        b(field, &parts.concat())
    }

    /// A map entry.
    fn entry(field: u64, key: &str, value: &[u8]) -> Vec<u8> {
        m(field, &[s(1, key), b(2, value)])
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        [
            MAGIC.to_vec(),
            m(1, &[s(1, api_version), s(2, kind)]),
            b(2, raw),
            s(3, ""),
            s(4, ""),
        ]
        .concat()
    }

    /// ObjectMeta as gogo writes it: every non-pointer field, zero or not,
    /// and an empty Time for a zero creationTimestamp.
    fn meta(name: &str, namespace: &str, extra: &[Vec<u8>]) -> Vec<u8> {
        let mut parts = vec![
            s(1, name),
            s(2, ""),
            s(3, namespace),
            s(4, ""),
            s(5, ""),
            s(6, ""),
            v(7, 0),
            m(8, &[]),
        ];
        parts.extend_from_slice(extra);
        m(1, &parts)
    }

    /// Every kind [`decode`] knows.
    const SUPPORTED: [(&str, &str); 24] = [
        ("v1", "ConfigMap"),
        ("v1", "Secret"),
        ("v1", "Namespace"),
        ("v1", "Service"),
        ("v1", "ServiceAccount"),
        ("v1", "Pod"),
        ("v1", "DeleteOptions"),
        ("policy/v1", "Eviction"),
        ("policy/v1", "PodDisruptionBudget"),
        ("authentication.k8s.io/v1", "TokenRequest"),
        ("authentication.k8s.io/v1", "TokenReview"),
        ("authentication.k8s.io/v1", "SelfSubjectReview"),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview"),
        ("authorization.k8s.io/v1", "SubjectAccessReview"),
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "ReplicaSet"),
    ];

    #[test]
    fn every_supported_kind_decodes_an_empty_object() {
        for (api_version, kind) in SUPPORTED {
            let got = decode(&envelope(api_version, kind, &[])).unwrap();
            assert_eq!(got["kind"], json!(kind));
            assert_eq!(got["apiVersion"], json!(api_version));
        }
    }

    /// Bodies kubectl 1.33 really sent (captured from a loopback listener).
    #[test]
    fn kubectl_create_bodies() {
        let cases: [(&[u8], Value); 5] = [
            (
                b"k8s\x00\n\x0f\n\x02v1\x12\tConfigMap\x12*\n\x18\n\x01x\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00\x12\x06\n\x01a\x12\x011\x12\x06\n\x01b\x12\x012\x1a\x00\"\x00",
                json!({
                    "kind": "ConfigMap",
                    "apiVersion": "v1",
                    "metadata": {"name": "x", "namespace": "default", "creationTimestamp": null},
                    "data": {"a": "1", "b": "2"},
                }),
            ),
            (
                b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12$\n\x18\n\x01s\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00\x12\x06\n\x01k\x12\x01v\x1a\x00\x1a\x00\"\x00",
                json!({
                    "kind": "Secret",
                    "apiVersion": "v1",
                    "metadata": {"name": "s", "namespace": "default", "creationTimestamp": null},
                    "data": {"k": "dg=="},
                }),
            ),
            (
                b"k8s\x00\n\x0f\n\x02v1\x12\tNamespace\x12\x1b\n\x13\n\x03ns1\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x00\x1a\x02\n\x00\x1a\x00\"\x00",
                json!({
                    "kind": "Namespace",
                    "apiVersion": "v1",
                    "metadata": {"name": "ns1", "creationTimestamp": null},
                    "spec": {},
                    "status": {},
                }),
            ),
            (
                b"k8s\x00\n\r\n\x02v1\x12\x07Service\x12s\n&\n\x03svc\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00Z\n\n\x03app\x12\x03svc\x12E\n\x1e\n\x0780-http\x12\x03TCP\x18P\"\n\x08\x01\x10\x00\x1a\x04http(\x00\x12\n\n\x03app\x12\x03svc\x1a\x00\"\tClusterIP:\x00B\x00R\x00Z\x00`\x00h\x00\x1a\x02\n\x00\x1a\x00\"\x00",
                json!({
                    "kind": "Service",
                    "apiVersion": "v1",
                    "metadata": {
                        "name": "svc",
                        "namespace": "default",
                        "creationTimestamp": null,
                        "labels": {"app": "svc"},
                    },
                    "spec": {
                        "ports": [{"name": "80-http", "protocol": "TCP", "port": 80, "targetPort": "http"}],
                        "selector": {"app": "svc"},
                        "type": "ClusterIP",
                    },
                    "status": {"loadBalancer": {}},
                }),
            ),
            (
                b"k8s\x00\n\x14\n\x02v1\x12\x0eServiceAccount\x12\x1b\n\x19\n\x02sa\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00\x1a\x00\"\x00",
                json!({
                    "kind": "ServiceAccount",
                    "apiVersion": "v1",
                    "metadata": {"name": "sa", "namespace": "default", "creationTimestamp": null},
                }),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(decode(body).unwrap(), want);
        }
    }

    /// Bodies kubectl 1.33 sent for the kinds beyond core/v1 (captured
    /// through a loopback proxy), each with the JSON it must decode to. For
    /// the generators that JSON is what `--dry-run=client -o json` prints for
    /// the same command, that is Go's `json.Marshal` of the very object.
    #[test]
    fn kubectl_bodies_of_other_groups() {
        let cases: [(&[u8], &str); 16] = [
            // kubectl create token robot --audience=api --duration=1h
            (
                b"k8s\x00\n(\n\x18authentication.k8s.io/v1\x12\x0cTokenRequest\x12\"\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x08\n\x03api \x90\x1c\x1a\x04\n\x00\x12\x00\x1a\x00\"\x00",
                r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","metadata":{"creationTimestamp":null},"spec":{"audiences":["api"],"boundObjectRef":null,"expirationSeconds":3600},"status":{"expirationTimestamp":null,"token":""}}"#,
            ),
            // kubectl create token robot
            (
                b"k8s\x00\n(\n\x18authentication.k8s.io/v1\x12\x0cTokenRequest\x12\x1a\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x00\x1a\x04\n\x00\x12\x00\x1a\x00\"\x00",
                r#"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","metadata":{"creationTimestamp":null},"spec":{"audiences":null,"boundObjectRef":null,"expirationSeconds":null},"status":{"expirationTimestamp":null,"token":""}}"#,
            ),
            // kubectl auth can-i get pods
            (
                b"k8s\x00\n2\n\x17authorization.k8s.io/v1\x12\x17SelfSubjectAccessReview\x12<\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x1e\n\x1c\n\x07default\x12\x03get\x1a\x00\"\x00*\x04pods2\x00:\x00\x1a\x08\x08\x00\x12\x00\x1a\x00 \x00\x1a\x00\"\x00",
                r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","metadata":{"creationTimestamp":null},"spec":{"resourceAttributes":{"namespace":"default","resource":"pods","verb":"get"}},"status":{"allowed":false}}"#,
            ),
            // kubectl auth can-i --list
            (
                b"k8s\x00\n1\n\x17authorization.k8s.io/v1\x12\x16SelfSubjectRulesReview\x12#\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\t\n\x07default\x1a\x04\x18\x00\"\x00\x1a\x00\"\x00",
                r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","metadata":{"creationTimestamp":null},"spec":{"namespace":"default"},"status":{"incomplete":false,"nonResourceRules":null,"resourceRules":null}}"#,
            ),
            // kubectl auth whoami
            (
                b"k8s\x00\n-\n\x18authentication.k8s.io/v1\x12\x11SelfSubjectReview\x12\x1a\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x06\n\x04\n\x00\x12\x00\x1a\x00\"\x00",
                r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview","metadata":{"creationTimestamp":null},"status":{"userInfo":{}}}"#,
            ),
            // kubectl create role r --verb=get,list --resource=pods,statefulsets.apps --resource-name=x
            (
                b"k8s\x00\n$\n\x1crbac.authorization.k8s.io/v1\x12\x04Role\x12O\n\x11\n\x01r\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x16\n\x03get\n\x04list\x12\x00\x1a\x04pods\"\x01x\x12\"\n\x03get\n\x04list\x12\x04apps\x1a\x0cstatefulsets\"\x01x\x1a\x00\"\x00",
                r#"{"kind":"Role","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"r","creationTimestamp":null},"rules":[{"verbs":["get","list"],"apiGroups":[""],"resources":["pods"],"resourceNames":["x"]},{"verbs":["get","list"],"apiGroups":["apps"],"resources":["statefulsets"],"resourceNames":["x"]}]}"#,
            ),
            // kubectl create clusterrole c --verb=get --non-resource-url=/logs/*
            (
                b"k8s\x00\n+\n\x1crbac.authorization.k8s.io/v1\x12\x0bClusterRole\x12#\n\x11\n\x01c\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x0e\n\x03get*\x07/logs/*\x1a\x00\"\x00",
                r#"{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"c","creationTimestamp":null},"rules":[{"verbs":["get"],"nonResourceURLs":["/logs/*"]}]}"#,
            ),
            // kubectl create clusterrole agg --aggregation-rule=rbac.example.com/agg=true
            (
                b"k8s\x00\n+\n\x1crbac.authorization.k8s.io/v1\x12\x0bClusterRole\x127\n\x13\n\x03agg\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x1a \n\x1e\n\x1c\n\x14rbac.example.com/agg\x12\x04true\x1a\x00\"\x00",
                r#"{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"agg","creationTimestamp":null},"rules":null,"aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"rbac.example.com/agg":"true"}}]}}"#,
            ),
            // kubectl create rolebinding rb --role=r --user=alice --serviceaccount=default:robot --group=devs
            (
                b"k8s\x00\n+\n\x1crbac.authorization.k8s.io/v1\x12\x0bRoleBinding\x12\xb6\x01\n\x12\n\x02rb\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12*\n\x04User\x12\x19rbac.authorization.k8s.io\x1a\x05alice\"\x00\x12*\n\x05Group\x12\x19rbac.authorization.k8s.io\x1a\x04devs\"\x00\x12\"\n\x0eServiceAccount\x12\x00\x1a\x05robot\"\x07default\x1a$\n\x19rbac.authorization.k8s.io\x12\x04Role\x1a\x01r\x1a\x00\"\x00",
                r#"{"kind":"RoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"rb","creationTimestamp":null},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"},{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"devs"},{"kind":"ServiceAccount","name":"robot","namespace":"default"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"}}"#,
            ),
            // kubectl create clusterrolebinding crb --clusterrole=c --user=bob
            (
                b"k8s\x00\n2\n\x1crbac.authorization.k8s.io/v1\x12\x12ClusterRoleBinding\x12l\n\x13\n\x03crb\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12(\n\x04User\x12\x19rbac.authorization.k8s.io\x1a\x03bob\"\x00\x1a+\n\x19rbac.authorization.k8s.io\x12\x0bClusterRole\x1a\x01c\x1a\x00\"\x00",
                r#"{"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"crb","creationTimestamp":null},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"bob"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"c"}}"#,
            ),
            // kubectl create pdb my-pdb --selector=app=rails --min-available=1
            (
                b"k8s\x00\n \n\tpolicy/v1\x12\x13PodDisruptionBudget\x12>\n\x16\n\x06my-pdb\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x18\n\x06\x08\x00\x10\x01\x1a\x00\x12\x0e\n\x0c\n\x03app\x12\x05rails\x1a\n\x08\x00\x18\x00 \x00(\x000\x00\x1a\x00\"\x00",
                r#"{"kind":"PodDisruptionBudget","apiVersion":"policy/v1","metadata":{"name":"my-pdb","creationTimestamp":null},"spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"rails"}}},"status":{"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0}}"#,
            ),
            // kubectl create pdb p2 --selector=app=web --max-unavailable=50%
            (
                b"k8s\x00\n \n\tpolicy/v1\x12\x13PodDisruptionBudget\x12;\n\x12\n\x02p2\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x19\x12\x0c\n\n\n\x03app\x12\x03web\x1a\t\x08\x01\x10\x00\x1a\x0350%\x1a\n\x08\x00\x18\x00 \x00(\x000\x00\x1a\x00\"\x00",
                r#"{"kind":"PodDisruptionBudget","apiVersion":"policy/v1","metadata":{"name":"p2","creationTimestamp":null},"spec":{"selector":{"matchLabels":{"app":"web"}},"maxUnavailable":"50%"},"status":{"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0}}"#,
            ),
            // kubectl create job hello --image=busybox -- echo hi
            (
                b"k8s\x00\n\x0f\n\x08batch/v1\x12\x03Job\x12\x8a\x01\n\x15\n\x05hello\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12g2e\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12Q\x12.\n\x05hello\x12\x07busybox\x1a\x04echo\x1a\x02hi*\x00B\x00j\x00r\x00\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2\x01\x00\x1a\x05Never2\x00B\x00J\x00R\x00X\x00`\x00h\x00\x82\x01\x00\x8a\x01\x00\x9a\x01\x00\xc2\x01\x00\x1a\x08 \x00(\x000\x00:\x00\x1a\x00\"\x00",
                r#"{"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"hello","creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":[{"name":"hello","image":"busybox","command":["echo","hi"],"resources":{}}],"restartPolicy":"Never"}}},"status":{}}"#,
            ),
            // kubectl create cronjob nightly --image=busybox --schedule='0 3 * * *' -- date
            (
                b"k8s\x00\n\x13\n\x08batch/v1\x12\x07CronJob\x12\xb2\x01\n\x17\n\x07nightly\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x94\x01\n\t0 3 * * *\x1a\x00*\x84\x01\n\x17\n\x07nightly\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12i2g\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12S\x12,\n\x07nightly\x12\x07busybox\x1a\x04date*\x00B\x00j\x00r\x00\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2\x01\x00\x1a\tOnFailure2\x00B\x00J\x00R\x00X\x00`\x00h\x00\x82\x01\x00\x8a\x01\x00\x9a\x01\x00\xc2\x01\x00\x1a\x00\x1a\x00\"\x00",
                r#"{"kind":"CronJob","apiVersion":"batch/v1","metadata":{"name":"nightly","creationTimestamp":null},"spec":{"schedule":"0 3 * * *","jobTemplate":{"metadata":{"name":"nightly","creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":[{"name":"nightly","image":"busybox","command":["date"],"resources":{}}],"restartPolicy":"OnFailure"}}}}},"status":{}}"#,
            ),
            // kubectl create job manual --from=cronjob/nightly
            (
                b"k8s\x00\n\x0f\n\x08batch/v1\x12\x03Job\x12\xc3\x02\n\x89\x01\n\x06manual\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00b+\n!cronjob.kubernetes.io/instantiate\x12\x06manualjD\n\x07CronJob\x1a\x07nightly\"$ef9fe8e0-741e-4dff-943f-c13996a72634*\x08batch/v10\x01\x12\xaa\x012\xa7\x01\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x92\x01\x12J\n\x07nightly\x12\x07busybox\x1a\x04date*\x00B\x00j\x14/dev/termination-logr\x06Always\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2\x01\x04File\x1a\tOnFailure \x1e2\x0cClusterFirstB\x00J\x00R\x00X\x00`\x00h\x00r\x00\x82\x01\x00\x8a\x01\x00\x9a\x01\x11default-scheduler\xc2\x01\x00\x1a\x08 \x00(\x000\x00:\x00\x1a\x00\"\x00",
                r#"{"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"manual","creationTimestamp":null,"annotations":{"cronjob.kubernetes.io/instantiate":"manual"},"ownerReferences":[{"apiVersion":"batch/v1","kind":"CronJob","name":"nightly","uid":"ef9fe8e0-741e-4dff-943f-c13996a72634","controller":true}]},"spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":[{"name":"nightly","image":"busybox","command":["date"],"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"Always"}],"restartPolicy":"OnFailure","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler"}}},"status":{}}"#,
            ),
            // kubectl debug web --copy-to=web-copy2 --image=busybox --container=dbg
            //   --profile=general -- sleep 1 (no client dry run: checked by
            //   hand against the Go types)
            (
                b"k8s\x00\n\t\n\x02v1\x12\x03Pod\x12\x8e\x05\n \n\tweb-copy2\x12\x00\x1a\x07default\"\x00*\x002\x008\x00B\x00\x12\xd4\x04\n\x84\x01\n\x15kube-api-access-2cssz\x12k\xd2\x01h\n\x0e\"\x0c\n\x00\x10\x97\x1c\x1a\x05token\n(\x1a&\n\x12\n\x10kube-root-ca.crt\x12\x10\n\x06ca.crt\x12\x06ca.crt\n)\x12'\n%\n\tnamespace\x12\x18\n\x02v1\x12\x12metadata.namespace\x10\xa4\x03\x12\xa3\x01\n\x03web\x12\x05nginx*\x002\r\n\x00\x10\x00\x18P\"\x03TCP*\x00:\x06\n\x01A\x12\x011B\x00JL\n\x15kube-api-access-2cssz\x10\x01\x1a-/var/run/secrets/kubernetes.io/serviceaccount\"\x002\x00j\x14/dev/termination-logr\x06Always\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2\x01\x04File\x12@\n\x03dbg\x12\x07busybox\x1a\x05sleep\x1a\x011*\x00B\x00j\x00r\x00z\x0e\n\x0c\n\nSYS_PTRACE\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2\x01\x04File\x1a\x06Always \x1e2\x0cClusterFirstB\x07defaultJ\x07defaultR\x00X\x00`\x00h\x00r\x00\x82\x01\x00\x8a\x01\x00\x9a\x01\x11default-scheduler\xb2\x016\n\x1cnode.kubernetes.io/not-ready\x12\x06Exists\x1a\x00\"\tNoExecute(\xac\x02\xb2\x018\n\x1enode.kubernetes.io/unreachable\x12\x06Exists\x1a\x00\"\tNoExecute(\xac\x02\xc2\x01\x00\xc8\x01\x00\xd8\x01\x01\xf0\x01\x01\xfa\x01\x14PreemptLowerPriority\x1a\x13\n\x00\x1a\x00\"\x00*\x002\x00J\x00Z\x00r\x00\x88\x01\x00\x1a\x00\"\x00",
                r#"{"apiVersion":"v1","kind":"Pod","metadata":{"creationTimestamp":null,"name":"web-copy2","namespace":"default"},"spec":{"containers":[{"env":[{"name":"A","value":"1"}],"image":"nginx","imagePullPolicy":"Always","name":"web","ports":[{"containerPort":80,"protocol":"TCP"}],"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","volumeMounts":[{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"kube-api-access-2cssz","readOnly":true}]},{"command":["sleep","1"],"image":"busybox","name":"dbg","resources":{},"securityContext":{"capabilities":{"add":["SYS_PTRACE"]}},"terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority","priority":0,"restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"serviceAccount":"default","serviceAccountName":"default","shareProcessNamespace":true,"terminationGracePeriodSeconds":30,"tolerations":[{"effect":"NoExecute","key":"node.kubernetes.io/not-ready","operator":"Exists","tolerationSeconds":300},{"effect":"NoExecute","key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":300}],"volumes":[{"name":"kube-api-access-2cssz","projected":{"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"items":[{"key":"ca.crt","path":"ca.crt"}],"name":"kube-root-ca.crt"}},{"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}]}}]},"status":{}}"#,
            ),
        ];
        for (body, want) in cases {
            let want: Value = serde_json::from_str(want).unwrap();
            assert_eq!(decode(body).unwrap(), want);
        }
    }

    #[test]
    fn config_map() {
        let raw = [
            meta(
                "cfg",
                "default",
                &[entry(11, "app", b"web"), entry(11, "tier", b"front")],
            ),
            entry(2, "a", b"1"),
            entry(2, "b", b"two\nlines"),
        ]
        .concat();
        let got = decode(&envelope("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "ConfigMap",
                "apiVersion": "v1",
                "metadata": {
                    "name": "cfg",
                    "namespace": "default",
                    "creationTimestamp": null,
                    "labels": {"app": "web", "tier": "front"},
                },
                "data": {"a": "1", "b": "two\nlines"},
            })
        );
    }

    #[test]
    fn config_map_full_metadata() {
        let raw = [
            m(
                1,
                &[
                    s(1, ""),
                    s(2, "cfg-"),
                    s(3, "ns"),
                    s(5, "0b7f6a3e-1111-2222-3333-444455556666"),
                    s(6, "42"),
                    v(7, 3),
                    m(8, &[v(1, 1_704_164_645), v(2, 999)]),
                    m(9, &[v(1, 1_704_164_700)]),
                    v(10, 30),
                    entry(12, "note", b"x"),
                    m(
                        13,
                        &[
                            s(5, "apps/v1"),
                            s(1, "Deployment"),
                            s(3, "web"),
                            s(4, "u-1"),
                            v(6, 1),
                        ],
                    ),
                    s(14, "a/b"),
                    s(14, "c/d"),
                    m(
                        17,
                        &[
                            s(1, "kubectl"),
                            s(2, "Update"),
                            s(3, "v1"),
                            m(4, &[v(1, 0)]),
                            s(6, "FieldsV1"),
                            m(7, &[b(1, br#"{"f:data":{"f:a":{}}}"#)]),
                        ],
                    ),
                    v(99, 7), // unknown field: skipped
                ],
            ),
            v(4, 1),
            entry(3, "bin", &[0, 1, 2, 255]),
        ]
        .concat();
        let got = decode(&envelope("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "ConfigMap",
                "apiVersion": "v1",
                "metadata": {
                    "generateName": "cfg-",
                    "namespace": "ns",
                    "uid": "0b7f6a3e-1111-2222-3333-444455556666",
                    "resourceVersion": "42",
                    "generation": 3,
                    "creationTimestamp": "2024-01-02T03:04:05Z",
                    "deletionTimestamp": "2024-01-02T03:05:00Z",
                    "deletionGracePeriodSeconds": 30,
                    "annotations": {"note": "x"},
                    "ownerReferences": [{
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "web",
                        "uid": "u-1",
                        "controller": true,
                    }],
                    "finalizers": ["a/b", "c/d"],
                    "managedFields": [{
                        "manager": "kubectl",
                        "operation": "Update",
                        "apiVersion": "v1",
                        "time": "1970-01-01T00:00:00Z",
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:data": {"f:a": {}}},
                    }],
                },
                "immutable": true,
                "binaryData": {"bin": "AAEC/w=="},
            })
        );
    }

    #[test]
    fn secret_with_binary_data() {
        let raw = [
            meta("creds", "", &[]),
            entry(2, "key", &[0xde, 0xad, 0xbe, 0xef]),
            entry(2, "empty", b""),
            entry(4, "plain", b"text"),
            s(3, "Opaque"),
        ]
        .concat();
        let got = decode(&envelope("v1", "Secret", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "Secret",
                "apiVersion": "v1",
                "metadata": {"name": "creds", "creationTimestamp": null},
                "data": {"key": "3q2+7w==", "empty": ""},
                "stringData": {"plain": "text"},
                "type": "Opaque",
            })
        );
    }

    #[test]
    fn service_with_named_target_port_and_node_port() {
        let port = |name: &str, number: u64, target: Vec<Vec<u8>>, node: u64| {
            m(
                1,
                &[
                    s(1, name),
                    s(2, "TCP"),
                    v(3, number),
                    m(4, &target),
                    v(5, node),
                ],
            )
        };
        let spec = m(
            2,
            &[
                port("http", 80, vec![v(1, 1), v(2, 0), s(3, "web")], 30080),
                port("metrics", 9090, vec![v(1, 0), v(2, 9091), s(3, "")], 0),
                entry(2, "app", b"web"),
                s(3, "10.0.0.10"),
                s(18, "10.0.0.10"),
                s(4, "NodePort"),
                s(5, "192.0.2.1"),
                s(7, "ClientIP"),
                s(8, ""),
                s(10, ""),
                s(11, "Local"),
                v(12, 0),
                v(13, 1),
                m(14, &[m(1, &[v(1, 10800)])]),
                s(19, "IPv4"),
                s(17, "SingleStack"),
                v(20, 0),
                s(22, "Cluster"),
            ],
        );
        let raw = [meta("web", "default", &[]), spec, m(3, &[m(1, &[])])].concat();
        let got = decode(&envelope("v1", "Service", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "Service",
                "apiVersion": "v1",
                "metadata": {"name": "web", "namespace": "default", "creationTimestamp": null},
                "spec": {
                    "ports": [
                        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "web", "nodePort": 30080},
                        {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9091},
                    ],
                    "selector": {"app": "web"},
                    "clusterIP": "10.0.0.10",
                    "clusterIPs": ["10.0.0.10"],
                    "type": "NodePort",
                    "externalIPs": ["192.0.2.1"],
                    "sessionAffinity": "ClientIP",
                    "externalTrafficPolicy": "Local",
                    "publishNotReadyAddresses": true,
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                    "ipFamilies": ["IPv4"],
                    "ipFamilyPolicy": "SingleStack",
                    "allocateLoadBalancerNodePorts": false,
                    "internalTrafficPolicy": "Cluster",
                },
                "status": {"loadBalancer": {}},
            })
        );
    }

    #[test]
    fn service_minimal_as_kubectl_create_service() {
        // kubectl create service clusterip x --tcp=5678:8080
        let raw = [
            meta("x", "", &[entry(11, "app", b"x")]),
            m(
                2,
                &[
                    m(
                        1,
                        &[
                            s(1, "5678-8080"),
                            s(2, "TCP"),
                            v(3, 5678),
                            m(4, &[v(1, 0), v(2, 8080), s(3, "")]),
                            v(5, 0),
                        ],
                    ),
                    entry(2, "app", b"x"),
                    s(3, ""),
                    s(4, "ClusterIP"),
                    s(7, ""),
                    s(8, ""),
                    s(10, ""),
                    s(11, ""),
                    v(12, 0),
                    v(13, 0),
                ],
            ),
            m(3, &[m(1, &[])]),
        ]
        .concat();
        let got = decode(&envelope("v1", "Service", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "Service",
                "apiVersion": "v1",
                "metadata": {"name": "x", "creationTimestamp": null, "labels": {"app": "x"}},
                "spec": {
                    "ports": [{"name": "5678-8080", "protocol": "TCP", "port": 5678, "targetPort": 8080}],
                    "selector": {"app": "x"},
                    "type": "ClusterIP",
                },
                "status": {"loadBalancer": {}},
            })
        );
    }

    #[test]
    fn namespace() {
        let raw = [meta("team-a", "", &[]), m(2, &[]), m(3, &[s(1, "")])].concat();
        let got = decode(&envelope("v1", "Namespace", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {"name": "team-a", "creationTimestamp": null},
                "spec": {},
                "status": {},
            })
        );
        // Absent spec and status still appear, as Go's JSON writes them.
        let got = decode(&envelope("v1", "Namespace", &meta("b", "", &[]))).unwrap();
        assert_eq!(got["spec"], json!({}));
        assert_eq!(got["status"], json!({}));
    }

    #[test]
    fn service_account() {
        let raw = [
            meta("robot", "default", &[]),
            m(2, &[s(1, "Secret"), s(3, "robot-token")]),
            m(3, &[s(1, "registry")]),
            v(4, 0),
        ]
        .concat();
        let got = decode(&envelope("v1", "ServiceAccount", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "ServiceAccount",
                "apiVersion": "v1",
                "metadata": {"name": "robot", "namespace": "default", "creationTimestamp": null},
                "secrets": [{"kind": "Secret", "name": "robot-token"}],
                "imagePullSecrets": [{"name": "registry"}],
                "automountServiceAccountToken": false,
            })
        );
    }

    #[test]
    fn delete_options() {
        let raw = [
            v(1, 0),
            m(2, &[s(1, "u-1"), s(2, "7")]),
            v(3, 0),
            s(4, "Foreground"),
            s(5, "All"),
        ]
        .concat();
        for api_version in ["v1", "meta.k8s.io/v1", "apps/v1"] {
            let got = decode(&envelope(api_version, "DeleteOptions", &raw)).unwrap();
            assert_eq!(
                got,
                json!({
                    "kind": "DeleteOptions",
                    "apiVersion": api_version,
                    "gracePeriodSeconds": 0,
                    "preconditions": {"uid": "u-1", "resourceVersion": "7"},
                    "orphanDependents": false,
                    "propagationPolicy": "Foreground",
                    "dryRun": ["All"],
                })
            );
        }
        let got = decode(&envelope("v1", "DeleteOptions", &[])).unwrap();
        assert_eq!(got, json!({"kind": "DeleteOptions", "apiVersion": "v1"}));
        // Negative int64 (ten-byte varint).
        let got = decode(&envelope("v1", "DeleteOptions", &v(1, -1i64 as u64))).unwrap();
        assert_eq!(got["gracePeriodSeconds"], json!(-1));
    }

    #[test]
    fn protobuf_merge_rules() {
        // A repeated singular message merges; the last scalar wins; a
        // repeated map key is overwritten.
        let raw = [
            m(1, &[s(1, "first"), entry(11, "k", b"1")]),
            m(
                1,
                &[s(1, "second"), entry(11, "k", b"2"), entry(11, "j", b"3")],
            ),
        ]
        .concat();
        let got = decode(&envelope("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(
            got["metadata"],
            json!({"name": "second", "creationTimestamp": null, "labels": {"k": "2", "j": "3"}})
        );
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_704_164_645), "2024-01-02T03:04:05Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(ZERO_TIME_SECONDS + 1), "0001-01-01T00:00:01Z");
        assert_eq!(rfc3339(MAX_TIME_SECONDS), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        let t = |parts: &[Vec<u8>]| time(&parts.concat(), 0);
        assert_eq!(t(&[]).unwrap(), Value::Null);
        assert_eq!(t(&[v(1, ZERO_TIME_SECONDS as u64)]).unwrap(), Value::Null);
        assert_eq!(
            t(&[v(1, 1_704_164_645), v(2, 500)]).unwrap(),
            json!("2024-01-02T03:04:05Z")
        );
        assert!(t(&[v(1, i64::MAX as u64)]).is_err());
        assert!(t(&[v(1, i64::MIN as u64), v(2, -1i64 as u64)]).is_err());
    }

    #[test]
    fn wrong_magic() {
        let err = decode(b"{\"kind\":\"ConfigMap\"}").unwrap_err();
        assert_eq!(err, ProtobufError::NotProtobuf);
        assert_eq!(
            err.to_string(),
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
        );
        assert_eq!(decode(b"k8s").unwrap_err(), ProtobufError::NotProtobuf);
        assert_eq!(decode(b"").unwrap_err(), ProtobufError::NotProtobuf);
    }

    #[test]
    fn truncated_varint() {
        let mut body = envelope("v1", "ConfigMap", &meta("x", "", &[]));
        body.push(0x08); // tag of an unknown varint field...
        body.push(0x80); // ...whose value never ends
        assert_eq!(
            decode(&body).unwrap_err(),
            ProtobufError::UnexpectedEof { message: "Unknown" }
        );
        let raw = [meta("x", "", &[]), vec![0x20, 0xff]].concat(); // immutable, truncated
        assert_eq!(
            decode(&envelope("v1", "ConfigMap", &raw)).unwrap_err(),
            ProtobufError::UnexpectedEof {
                message: "ConfigMap"
            }
        );
        let too_long = [MAGIC.to_vec(), vec![0x08], vec![0xff; 11]].concat();
        assert_eq!(
            decode(&too_long).unwrap_err(),
            ProtobufError::IntegerOverflow { message: "Unknown" }
        );
    }

    #[test]
    fn length_beyond_buffer() {
        let mut raw = tag(1, 2);
        raw.extend(varint(1000));
        raw.extend(b"short");
        let err = decode(&envelope("v1", "ConfigMap", &raw)).unwrap_err();
        assert_eq!(
            err,
            ProtobufError::UnexpectedEof {
                message: "ConfigMap"
            }
        );
        let mut raw = tag(1, 2);
        raw.extend(varint(u64::MAX));
        assert!(decode(&envelope("v1", "ConfigMap", &raw)).is_err());
    }

    #[test]
    fn wrong_wire_type() {
        // metadata.name as a varint
        let raw = m(1, &[v(1, 5)]);
        let err = decode(&envelope("v1", "ConfigMap", &raw)).unwrap_err();
        assert_eq!(
            err,
            ProtobufError::WrongWireType {
                message: "ObjectMeta",
                field: "name",
                wire_type: 0
            }
        );
        assert_eq!(
            err.to_string(),
            "proto: ObjectMeta: wrong wireType = 0 for field name"
        );
        // immutable as bytes
        let raw = s(4, "true");
        assert!(matches!(
            decode(&envelope("v1", "ConfigMap", &raw)).unwrap_err(),
            ProtobufError::WrongWireType {
                field: "immutable",
                ..
            }
        ));
        // field number 0, and a group
        assert!(matches!(
            decode(&envelope("v1", "ConfigMap", &[0x00, 0x00])).unwrap_err(),
            ProtobufError::IllegalTag { field: 0, .. }
        ));
        assert!(matches!(
            decode(&envelope("v1", "ConfigMap", &[0x0b])).unwrap_err(),
            ProtobufError::IllegalTag { wire_type: 3, .. }
        ));
    }

    #[test]
    fn unknown_wire_types_are_skipped() {
        let raw = [
            vec![0xa1, 0x06], // field 100, fixed64
            vec![0; 8],
            vec![0xa5, 0x06], // field 100, fixed32
            vec![0; 4],
            s(101, "ignored"),
            meta("x", "", &[]),
        ]
        .concat();
        let got = decode(&envelope("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(got["metadata"]["name"], json!("x"));
    }

    #[test]
    fn unsupported_kinds_and_envelopes() {
        let err = decode(&envelope("apps/v1", "DaemonSet", &[])).unwrap_err();
        assert!(err.is_unsupported());
        assert_eq!(
            err.to_string(),
            "no protobuf decoder for kind \"DaemonSet\" in version \"apps/v1\": send application/json"
        );
        assert!(
            decode(&envelope("v1", "Node", &[]))
                .unwrap_err()
                .is_unsupported()
        );
        assert!(
            decode(&envelope("example.com/v1", "ConfigMap", &[]))
                .unwrap_err()
                .is_unsupported()
        );
        assert_eq!(
            decode(&envelope("v1", "", &[])).unwrap_err(),
            ProtobufError::MissingKind
        );
        let gzip = [
            MAGIC.to_vec(),
            m(1, &[s(1, "v1"), s(2, "ConfigMap")]),
            s(3, "gzip"),
        ]
        .concat();
        let err = decode(&gzip).unwrap_err();
        assert!(err.is_unsupported());
        assert!(!ProtobufError::NotProtobuf.is_unsupported());
    }

    #[test]
    fn invalid_fields_v1() {
        let raw = m(1, &[m(17, &[m(7, &[b(1, b"{not json")])])]);
        assert!(matches!(
            decode(&envelope("v1", "ConfigMap", &raw)).unwrap_err(),
            ProtobufError::InvalidFieldsV1(_)
        ));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let raw = m(1, &[b(1, &[b'a', 0xff])]);
        let got = decode(&envelope("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(got["metadata"]["name"], json!("a\u{fffd}"));
    }

    /// A zero-valued metadata as gogo writes it, for objects without a name.
    fn empty_meta() -> Vec<u8> {
        meta("", "", &[])
    }

    #[test]
    fn eviction_as_kubectl_drain() {
        let raw = [
            meta("web-0", "default", &[]),
            m(2, &[v(1, 30), s(5, "All")]),
        ]
        .concat();
        let got = decode(&envelope("policy/v1", "Eviction", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "Eviction",
                "apiVersion": "policy/v1",
                "metadata": {"name": "web-0", "namespace": "default", "creationTimestamp": null},
                "deleteOptions": {"gracePeriodSeconds": 30, "dryRun": ["All"]},
            })
        );
        // Without deleteOptions the field is absent (a nil pointer).
        let got = decode(&envelope("policy/v1", "Eviction", &meta("p", "ns", &[]))).unwrap();
        assert!(got.get("deleteOptions").is_none());
    }

    #[test]
    fn pod_disruption_budget() {
        // kubectl create pdb my-pdb --selector=app=rails --min-available=1
        let status_zero = m(3, &[v(1, 0), v(3, 0), v(4, 0), v(5, 0), v(6, 0)]);
        let raw = [
            meta("my-pdb", "default", &[]),
            m(
                2,
                &[
                    m(1, &[v(1, 0), v(2, 1), s(3, "")]),
                    m(2, &[entry(1, "app", b"rails")]),
                ],
            ),
            status_zero.clone(),
        ]
        .concat();
        let got = decode(&envelope("policy/v1", "PodDisruptionBudget", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "PodDisruptionBudget",
                "apiVersion": "policy/v1",
                "metadata": {"name": "my-pdb", "namespace": "default", "creationTimestamp": null},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "rails"}}},
                "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
            })
        );
        // maxUnavailable as a percentage, an expression selector, the
        // eviction policy, and a full status.
        let raw = [
            meta("p", "ns", &[]),
            m(
                2,
                &[
                    m(
                        2,
                        &[m(2, &[s(1, "tier"), s(2, "In"), s(3, "web"), s(3, "api")])],
                    ),
                    m(3, &[v(1, 1), v(2, 0), s(3, "50%")]),
                    s(4, "AlwaysAllow"),
                ],
            ),
            m(
                3,
                &[
                    v(1, 4),
                    m(2, &[s(1, "web-1"), b(2, &[v(1, 1_704_164_645)].concat())]),
                    v(3, 1),
                    v(4, 3),
                    v(5, 2),
                    v(6, 3),
                    m(
                        7,
                        &[
                            s(1, "DisruptionAllowed"),
                            s(2, "True"),
                            v(3, 4),
                            m(4, &[v(1, 1_704_164_645)]),
                            s(5, "SufficientPods"),
                            s(6, ""),
                        ],
                    ),
                ],
            ),
        ]
        .concat();
        let got = decode(&envelope("policy/v1", "PodDisruptionBudget", &raw)).unwrap();
        assert_eq!(
            got["spec"],
            json!({
                "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]},
                "maxUnavailable": "50%",
                "unhealthyPodEvictionPolicy": "AlwaysAllow",
            })
        );
        assert_eq!(
            got["status"],
            json!({
                "observedGeneration": 4,
                "disruptedPods": {"web-1": "2024-01-02T03:04:05Z"},
                "disruptionsAllowed": 1,
                "currentHealthy": 3,
                "desiredHealthy": 2,
                "expectedPods": 3,
                "conditions": [{
                    "type": "DisruptionAllowed",
                    "status": "True",
                    "observedGeneration": 4,
                    "lastTransitionTime": "2024-01-02T03:04:05Z",
                    "reason": "SufficientPods",
                    "message": "",
                }],
            })
        );
    }

    #[test]
    fn token_request() {
        // kubectl create token robot --audience=api --duration=1h
        //   --bound-object-kind=Pod --bound-object-name=web-0 --bound-object-uid=u-1
        let raw = [
            empty_meta(),
            m(
                2,
                &[
                    s(1, "api"),
                    v(4, 3600),
                    m(3, &[s(1, "Pod"), s(2, "v1"), s(3, "web-0"), s(4, "u-1")]),
                ],
            ),
            m(3, &[s(1, ""), m(2, &[])]),
        ]
        .concat();
        let got = decode(&envelope("authentication.k8s.io/v1", "TokenRequest", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "TokenRequest",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {
                    "audiences": ["api"],
                    "expirationSeconds": 3600,
                    "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web-0", "uid": "u-1"},
                },
                "status": {"token": "", "expirationTimestamp": null},
            })
        );
        // kubectl create token robot: the spec's fields have no omitempty,
        // so Go writes them as null.
        let raw = [empty_meta(), m(2, &[]), m(3, &[s(1, ""), m(2, &[])])].concat();
        let got = decode(&envelope("authentication.k8s.io/v1", "TokenRequest", &raw)).unwrap();
        assert_eq!(
            got["spec"],
            json!({"audiences": null, "expirationSeconds": null, "boundObjectRef": null})
        );
    }

    #[test]
    fn token_review_and_self_subject_review() {
        let raw = [
            empty_meta(),
            m(2, &[s(1, "secret-token"), s(2, "api")]),
            m(3, &[v(1, 0), m(2, &[s(1, ""), s(2, "")]), s(3, "")]),
        ]
        .concat();
        let got = decode(&envelope("authentication.k8s.io/v1", "TokenReview", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "TokenReview",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {"token": "secret-token", "audiences": ["api"]},
                "status": {"user": {}},
            })
        );
        // kubectl auth whoami
        let raw = [empty_meta(), m(2, &[m(1, &[s(1, ""), s(2, "")])])].concat();
        let got = decode(&envelope(
            "authentication.k8s.io/v1",
            "SelfSubjectReview",
            &raw,
        ))
        .unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "SelfSubjectReview",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "status": {"userInfo": {}},
            })
        );
        // A filled-in UserInfo, extra values included.
        let raw = [
            empty_meta(),
            m(
                2,
                &[m(
                    1,
                    &[
                        s(1, "alice"),
                        s(2, "u-1"),
                        s(3, "devs"),
                        s(3, "system:authenticated"),
                        m(4, &[s(1, "scopes"), m(2, &[s(1, "a"), s(1, "b")])]),
                        m(4, &[s(1, "none"), m(2, &[])]),
                    ],
                )],
            ),
        ]
        .concat();
        let got = decode(&envelope(
            "authentication.k8s.io/v1",
            "SelfSubjectReview",
            &raw,
        ))
        .unwrap();
        assert_eq!(
            got["status"],
            json!({"userInfo": {
                "username": "alice",
                "uid": "u-1",
                "groups": ["devs", "system:authenticated"],
                "extra": {"scopes": ["a", "b"], "none": null},
            }})
        );
    }

    /// ResourceAttributes as gogo writes kubectl auth can-i's: every string,
    /// zero or not.
    fn resource_attributes(namespace: &str, verb: &str, resource: &str) -> Vec<u8> {
        m(
            1,
            &[
                s(1, namespace),
                s(2, verb),
                s(3, ""),
                s(4, ""),
                s(5, resource),
                s(6, ""),
                s(7, ""),
            ],
        )
    }

    #[test]
    fn self_subject_access_review_as_kubectl_auth_can_i() {
        // kubectl auth can-i get pods
        let raw = [
            empty_meta(),
            m(2, &[resource_attributes("default", "get", "pods")]),
            m(3, &[v(1, 0), v(4, 0), s(2, ""), s(3, "")]),
        ]
        .concat();
        let got = decode(&envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            &raw,
        ))
        .unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "SelfSubjectAccessReview",
                "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}},
                "status": {"allowed": false},
            })
        );
        // Absent status still has allowed (no omitempty); selectors and
        // non-resource attributes.
        let raw = [
            empty_meta(),
            m(
                2,
                &[
                    m(
                        1,
                        &[
                            s(2, "list"),
                            s(3, "apps"),
                            s(4, "v1"),
                            s(5, "deployments"),
                            s(6, "scale"),
                            s(7, "web"),
                            m(8, &[s(1, "metadata.name=web")]),
                            m(9, &[m(2, &[s(1, "app"), s(2, "Exists")])]),
                        ],
                    ),
                    m(2, &[s(1, "/healthz"), s(2, "get")]),
                ],
            ),
        ]
        .concat();
        let got = decode(&envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            &raw,
        ))
        .unwrap();
        assert_eq!(
            got["spec"],
            json!({
                "resourceAttributes": {
                    "verb": "list",
                    "group": "apps",
                    "version": "v1",
                    "resource": "deployments",
                    "subresource": "scale",
                    "name": "web",
                    "fieldSelector": {"rawSelector": "metadata.name=web"},
                    "labelSelector": {"requirements": [{"key": "app", "operator": "Exists"}]},
                },
                "nonResourceAttributes": {"path": "/healthz", "verb": "get"},
            })
        );
        assert_eq!(got["status"], json!({"allowed": false}));
    }

    #[test]
    fn self_subject_rules_review() {
        // kubectl auth can-i --list
        let raw = [
            empty_meta(),
            m(2, &[s(1, "default")]),
            m(3, &[v(3, 0), s(4, "")]),
        ]
        .concat();
        let got = decode(&envelope(
            "authorization.k8s.io/v1",
            "SelfSubjectRulesReview",
            &raw,
        ))
        .unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "SelfSubjectRulesReview",
                "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": null},
                "spec": {"namespace": "default"},
                "status": {"resourceRules": null, "nonResourceRules": null, "incomplete": false},
            })
        );
    }

    #[test]
    fn subject_access_reviews() {
        let spec = m(
            2,
            &[
                resource_attributes("team-a", "create", "secrets"),
                s(3, "bob"),
                s(4, "devs"),
                m(5, &[s(1, "scopes"), m(2, &[s(1, "read")])]),
                s(6, "u-2"),
            ],
        );
        let raw = [empty_meta(), spec].concat();
        for kind in ["SubjectAccessReview", "LocalSubjectAccessReview"] {
            let got = decode(&envelope("authorization.k8s.io/v1", kind, &raw)).unwrap();
            assert_eq!(
                got,
                json!({
                    "kind": kind,
                    "apiVersion": "authorization.k8s.io/v1",
                    "metadata": {"creationTimestamp": null},
                    "spec": {
                        "resourceAttributes": {"namespace": "team-a", "verb": "create", "resource": "secrets"},
                        "user": "bob",
                        "groups": ["devs"],
                        "extra": {"scopes": ["read"]},
                        "uid": "u-2",
                    },
                    "status": {"allowed": false},
                })
            );
        }
    }

    #[test]
    fn roles() {
        // kubectl create role r --verb=get,list --resource=pods,deployments.apps
        let rule = |group: &str, resource: &str| {
            m(2, &[s(1, "get"), s(1, "list"), s(2, group), s(3, resource)])
        };
        let raw = [
            meta("r", "default", &[]),
            rule("", "pods"),
            rule("apps", "deployments"),
        ]
        .concat();
        let got = decode(&envelope("rbac.authorization.k8s.io/v1", "Role", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "Role",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "r", "namespace": "default", "creationTimestamp": null},
                "rules": [
                    {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
                    {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"]},
                ],
            })
        );
        // kubectl create clusterrole c --verb=get --non-resource-url=/logs/*
        let raw = [meta("c", "", &[]), m(2, &[s(1, "get"), s(5, "/logs/*")])].concat();
        let got = decode(&envelope(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            &raw,
        ))
        .unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "ClusterRole",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "c", "creationTimestamp": null},
                "rules": [{"verbs": ["get"], "nonResourceURLs": ["/logs/*"]}],
            })
        );
        // kubectl create clusterrole agg --aggregation-rule=rbac.example.com/agg=true:
        // no rules (no omitempty: null), and the selectors.
        let raw = [
            meta("agg", "", &[]),
            m(3, &[m(1, &[entry(1, "rbac.example.com/agg", b"true")])]),
        ]
        .concat();
        let got = decode(&envelope(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            &raw,
        ))
        .unwrap();
        assert_eq!(got["rules"], Value::Null);
        assert_eq!(
            got["aggregationRule"],
            json!({"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/agg": "true"}}]})
        );
        // A rule with no verbs writes them as null.
        let raw = [meta("r", "", &[]), m(2, &[s(3, "pods")])].concat();
        let got = decode(&envelope("rbac.authorization.k8s.io/v1", "Role", &raw)).unwrap();
        assert_eq!(
            got["rules"],
            json!([{"verbs": null, "resources": ["pods"]}])
        );
    }

    #[test]
    fn role_bindings() {
        // kubectl create rolebinding rb --role=r --user=alice --serviceaccount=ns:robot
        let raw = [
            meta("rb", "default", &[]),
            m(
                2,
                &[
                    s(1, "User"),
                    s(2, "rbac.authorization.k8s.io"),
                    s(3, "alice"),
                    s(4, ""),
                ],
            ),
            m(
                2,
                &[s(1, "ServiceAccount"), s(2, ""), s(3, "robot"), s(4, "ns")],
            ),
            m(
                3,
                &[s(1, "rbac.authorization.k8s.io"), s(2, "Role"), s(3, "r")],
            ),
        ]
        .concat();
        let got = decode(&envelope(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            &raw,
        ))
        .unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "RoleBinding",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "rb", "namespace": "default", "creationTimestamp": null},
                "subjects": [
                    {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
                    {"kind": "ServiceAccount", "name": "robot", "namespace": "ns"},
                ],
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            })
        );
        // No subjects; roleRef's fields are always written.
        let got = decode(&envelope(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            &meta("crb", "", &[]),
        ))
        .unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "ClusterRoleBinding",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "crb", "creationTimestamp": null},
                "roleRef": {"apiGroup": "", "kind": "", "name": ""},
            })
        );
    }

    /// A Container as gogo writes kubectl's generators': every non-pointer
    /// field, zero or not.
    fn container(name: &str, image: &str, command: &[&str], resources: Vec<Vec<u8>>) -> Vec<u8> {
        let mut parts = vec![s(1, name), s(2, image)];
        parts.extend(command.iter().map(|c| s(3, c)));
        parts.extend([
            s(5, ""),
            m(8, &resources),
            s(13, ""),
            s(14, ""),
            v(16, 0),
            v(17, 0),
            v(18, 0),
            s(20, ""),
        ]);
        m(2, &parts)
    }

    /// A PodSpec as gogo writes one with these containers and restart policy.
    fn pod_spec(containers: &[Vec<u8>], restart_policy: &str) -> Vec<Vec<u8>> {
        let mut parts = containers.to_vec();
        parts.extend([
            s(3, restart_policy),
            s(6, ""),
            s(8, ""),
            s(9, ""),
            s(10, ""),
            v(11, 0),
            v(12, 0),
            v(13, 0),
            s(16, ""),
            s(17, ""),
            s(19, ""),
            s(24, ""),
        ]);
        parts
    }

    #[test]
    fn deployment_as_kubectl_create_deployment() {
        // kubectl 1.33 create deployment web --image=nginx (captured from a
        // loopback listener)
        let body: &[u8] = b"k8s\x00\n\x15\n\x07apps/v1\x12\nDeployment\x12\xab\x01\n\x1f\n\x03web\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00Z\n\n\x03app\x12\x03web\x12z\x08\x01\x12\x0c\n\n\n\x03app\x12\x03web\x1a`\n\x1c\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00Z\n\n\x03app\x12\x03web\x12@\x12\"\n\x05nginx\x12\x05nginx*\x00B\x00j\x00r\x00\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2\x01\x00\x1a\x002\x00B\x00J\x00R\x00X\x00`\x00h\x00\x82\x01\x00\x8a\x01\x00\x9a\x01\x00\xc2\x01\x00\"\x02\n\x00(\x008\x00\x1a\x0c\x08\x00\x10\x00\x18\x00 \x00(\x008\x00\x1a\x00\"\x00";
        let got = decode(body).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "Deployment",
                "apiVersion": "apps/v1",
                "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                        "spec": {
                            "containers": [{"name": "nginx", "image": "nginx", "resources": {}}],
                        },
                    },
                    "strategy": {},
                },
                "status": {},
            })
        );
    }

    #[test]
    fn replica_set_with_status() {
        let selector = m(2, &[entry(1, "app", b"web")]);
        let template = m(3, &[meta("", "", &[]), m(2, &pod_spec(&[], "Always"))]);
        let raw = [
            meta("web-1", "default", &[]),
            m(2, &[v(1, 2), v(4, 0), selector, template]),
            m(
                3,
                &[
                    v(1, 0),
                    v(3, 1),
                    m(6, &[s(1, "ReplicaFailure"), s(2, "False"), m(3, &[])]),
                ],
            ),
        ]
        .concat();
        let got = decode(&envelope("apps/v1", "ReplicaSet", &raw)).unwrap();
        assert_eq!(got["spec"]["replicas"], 2);
        assert_eq!(
            got["spec"]["selector"],
            json!({"matchLabels": {"app": "web"}})
        );
        assert!(got["spec"].get("minReadySeconds").is_none());
        assert_eq!(
            got["status"],
            json!({"replicas": 0, "observedGeneration": 1, "conditions": [
                {"type": "ReplicaFailure", "status": "False", "lastTransitionTime": null}
            ]})
        );
        // A selector absent from the wire is Go's nil pointer without
        // omitempty.
        let bare = decode(&envelope("apps/v1", "Deployment", &[])).unwrap();
        assert_eq!(bare["spec"]["selector"], Value::Null);
        assert_eq!(bare["spec"]["strategy"], json!({}));
    }

    #[test]
    fn job_as_kubectl_create_job() {
        // kubectl create job hello --image=busybox -- echo hi
        // (kubectl sets no resources; the limits here show Quantity maps)
        let resources = vec![
            entry(1, "cpu", &s(1, "500m")),
            entry(2, "memory", &s(1, "64Mi")),
        ];
        let template = m(
            6,
            &[
                meta("", "", &[]),
                m(
                    2,
                    &pod_spec(
                        &[container("hello", "busybox", &["echo", "hi"], resources)],
                        "Never",
                    ),
                ),
            ],
        );
        let raw = [
            meta("hello", "default", &[]),
            m(2, &[template]),
            m(3, &[v(4, 0), v(5, 0), v(6, 0), s(7, "")]),
        ]
        .concat();
        let got = decode(&envelope("batch/v1", "Job", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "Job",
                "apiVersion": "batch/v1",
                "metadata": {"name": "hello", "namespace": "default", "creationTimestamp": null},
                "spec": {
                    "template": {
                        "metadata": {"creationTimestamp": null},
                        "spec": {
                            "containers": [{
                                "name": "hello",
                                "image": "busybox",
                                "command": ["echo", "hi"],
                                "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}},
                            }],
                            "restartPolicy": "Never",
                        },
                    },
                },
                "status": {},
            })
        );
    }

    #[test]
    fn job_from_cronjob_keeps_the_whole_pod_template() {
        // kubectl create job manual --from=cronjob/nightly copies the
        // CronJob's template, whatever it holds.
        let pod = [
            m(
                1,
                &[
                    s(1, "config"),
                    m(
                        2,
                        &[m(
                            19,
                            &[
                                m(1, &[s(1, "app-config")]),
                                m(2, &[s(1, "k"), s(2, "k.txt")]),
                                v(3, 0o644),
                            ],
                        )],
                    ),
                ],
            ),
            m(
                2,
                &[
                    s(1, "main"),
                    s(2, "app:1"),
                    m(6, &[s(1, "http"), v(3, 8080), s(4, "TCP")]),
                    m(7, &[s(1, "MODE"), s(2, "batch")]),
                    m(
                        7,
                        &[
                            s(1, "PASSWORD"),
                            m(3, &[m(4, &[m(1, &[s(1, "db")]), s(2, "password")])]),
                        ],
                    ),
                    m(8, &[entry(2, "cpu", &s(1, "1"))]),
                    m(9, &[s(1, "config"), s(3, "/etc/app"), v(2, 1)]),
                    m(
                        11,
                        &[
                            m(
                                1,
                                &[m(2, &[s(1, "/ready"), m(2, &[v(1, 1), s(3, "http")])])],
                            ),
                            v(2, 5),
                        ],
                    ),
                    m(15, &[v(5, 1), v(4, 1000)]),
                ],
            ),
            s(3, "OnFailure"),
            v(4, 30),
            entry(7, "disk", b"ssd"),
            m(
                14,
                &[b(4, &[varint(1000), varint(2000)].concat()), v(5, 2000)],
            ),
            m(
                22,
                &[
                    s(1, "dedicated"),
                    s(2, "Equal"),
                    s(3, "batch"),
                    s(4, "NoSchedule"),
                ],
            ),
            m(34, &[m(1, &[s(1, "debug"), s(2, "busybox")]), s(2, "main")]),
        ]
        .concat();
        let raw = [
            meta(
                "manual",
                "default",
                &[
                    entry(12, "cronjob.kubernetes.io/instantiate", b"manual"),
                    m(
                        13,
                        &[
                            s(5, "batch/v1"),
                            s(1, "CronJob"),
                            s(3, "nightly"),
                            s(4, "u-9"),
                            v(6, 1),
                        ],
                    ),
                ],
            ),
            m(
                2,
                &[
                    v(7, 2),
                    m(
                        6,
                        &[meta("", "", &[entry(11, "app", b"nightly")]), b(2, &pod)],
                    ),
                    v(8, 100),
                ],
            ),
        ]
        .concat();
        let got = decode(&envelope("batch/v1", "Job", &raw)).unwrap();
        assert_eq!(
            got["metadata"],
            json!({
                "name": "manual",
                "namespace": "default",
                "creationTimestamp": null,
                "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                "ownerReferences": [{
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": "nightly",
                    "uid": "u-9",
                    "controller": true,
                }],
            })
        );
        assert_eq!(got["spec"]["backoffLimit"], json!(2));
        assert_eq!(got["spec"]["ttlSecondsAfterFinished"], json!(100));
        assert_eq!(
            got["spec"]["template"],
            json!({
                "metadata": {"creationTimestamp": null, "labels": {"app": "nightly"}},
                "spec": {
                    "volumes": [{
                        "name": "config",
                        "configMap": {
                            "name": "app-config",
                            "items": [{"key": "k", "path": "k.txt"}],
                            "defaultMode": 420,
                        },
                    }],
                    "containers": [{
                        "name": "main",
                        "image": "app:1",
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "env": [
                            {"name": "MODE", "value": "batch"},
                            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                        ],
                        "resources": {"requests": {"cpu": "1"}},
                        "volumeMounts": [{"name": "config", "readOnly": true, "mountPath": "/etc/app"}],
                        "readinessProbe": {
                            "httpGet": {"path": "/ready", "port": "http"},
                            "initialDelaySeconds": 5,
                        },
                        "securityContext": {"runAsUser": 1000, "runAsNonRoot": true},
                    }],
                    "ephemeralContainers": [{
                        "name": "debug",
                        "image": "busybox",
                        "resources": {},
                        "targetContainerName": "main",
                    }],
                    "restartPolicy": "OnFailure",
                    "terminationGracePeriodSeconds": 30,
                    "nodeSelector": {"disk": "ssd"},
                    "securityContext": {"supplementalGroups": [1000, 2000], "fsGroup": 2000},
                    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}],
                },
            })
        );
    }

    #[test]
    fn pod_with_status() {
        let raw = [
            meta("web-0", "default", &[]),
            m(
                2,
                &pod_spec(&[container("app", "nginx", &[], vec![])], "Always"),
            ),
            m(
                3,
                &[
                    s(1, "Running"),
                    m(
                        2,
                        &[
                            s(1, "Ready"),
                            s(2, "True"),
                            m(3, &[]),
                            m(4, &[v(1, 1_704_164_645)]),
                        ],
                    ),
                    s(5, "10.0.0.1"),
                    m(16, &[s(1, "10.0.0.1")]),
                    m(7, &[v(1, 1_704_164_645)]),
                    m(
                        8,
                        &[
                            s(1, "app"),
                            m(2, &[m(2, &[m(1, &[v(1, 1_704_164_645)])])]),
                            m(3, &[]),
                            v(4, 1),
                            v(5, 0),
                            s(6, "nginx"),
                            s(7, "docker.io/library/nginx@sha256:ab"),
                            v(9, 1),
                        ],
                    ),
                    s(9, "BestEffort"),
                ],
            ),
        ]
        .concat();
        let got = decode(&envelope("v1", "Pod", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "Pod",
                "apiVersion": "v1",
                "metadata": {"name": "web-0", "namespace": "default", "creationTimestamp": null},
                "spec": {
                    "containers": [{"name": "app", "image": "nginx", "resources": {}}],
                    "restartPolicy": "Always",
                },
                "status": {
                    "phase": "Running",
                    "conditions": [{
                        "type": "Ready",
                        "status": "True",
                        "lastProbeTime": null,
                        "lastTransitionTime": "2024-01-02T03:04:05Z",
                    }],
                    "hostIP": "10.0.0.1",
                    "hostIPs": [{"ip": "10.0.0.1"}],
                    "startTime": "2024-01-02T03:04:05Z",
                    "containerStatuses": [{
                        "name": "app",
                        "state": {"running": {"startedAt": "2024-01-02T03:04:05Z"}},
                        "lastState": {},
                        "ready": true,
                        "restartCount": 0,
                        "image": "nginx",
                        "imageID": "docker.io/library/nginx@sha256:ab",
                        "started": true,
                    }],
                    "qosClass": "BestEffort",
                },
            })
        );
    }

    #[test]
    fn cron_job_as_kubectl_create_cronjob() {
        // kubectl create cronjob nightly --image=busybox --schedule="0 3 * * *" -- date
        let job_template = m(
            5,
            &[
                meta("nightly", "", &[]),
                m(
                    2,
                    &[m(
                        6,
                        &[
                            meta("", "", &[]),
                            m(
                                2,
                                &pod_spec(
                                    &[container("nightly", "busybox", &["date"], vec![])],
                                    "OnFailure",
                                ),
                            ),
                        ],
                    )],
                ),
            ],
        );
        let raw = [
            meta("nightly", "default", &[]),
            m(2, &[s(1, "0 3 * * *"), s(3, ""), job_template]),
            m(3, &[]),
        ]
        .concat();
        let got = decode(&envelope("batch/v1", "CronJob", &raw)).unwrap();
        assert_eq!(
            got,
            json!({
                "kind": "CronJob",
                "apiVersion": "batch/v1",
                "metadata": {"name": "nightly", "namespace": "default", "creationTimestamp": null},
                "spec": {
                    "schedule": "0 3 * * *",
                    "jobTemplate": {
                        "metadata": {"name": "nightly", "creationTimestamp": null},
                        "spec": {
                            "template": {
                                "metadata": {"creationTimestamp": null},
                                "spec": {
                                    "containers": [{"name": "nightly", "image": "busybox", "command": ["date"], "resources": {}}],
                                    "restartPolicy": "OnFailure",
                                },
                            },
                        },
                    },
                },
                "status": {},
            })
        );
        // A pod template without containers: Go writes containers: null.
        let raw = [meta("c", "", &[]), m(2, &[m(5, &[])])].concat();
        let got = decode(&envelope("batch/v1", "CronJob", &raw)).unwrap();
        assert_eq!(
            got["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            json!({"containers": null})
        );
    }

    #[test]
    fn quantity_absent_string_is_zero() {
        let raw = [
            meta("j", "", &[]),
            m(
                2,
                &[m(
                    6,
                    &[m(2, &[m(2, &[s(1, "c"), m(8, &[entry(1, "cpu", &[])])])])],
                )],
            ),
        ]
        .concat();
        let got = decode(&envelope("batch/v1", "Job", &raw)).unwrap();
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "0"}})
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&body);
            let _ = decode(&[MAGIC.as_slice(), &body].concat());
        }

        #[test]
        fn arbitrary_objects_never_panic(
            (api_version, kind) in prop::sample::select(SUPPORTED.to_vec()),
            raw in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let _ = decode(&envelope(api_version, kind, &raw));
        }

        #[test]
        fn mutated_objects_never_panic(
            index in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            // Mutate and truncate a valid, deeply nested body.
            let raw = m(1, &[
                s(1, "x"),
                m(8, &[v(1, 5)]),
                m(13, &[s(5, "v1"), v(6, 1)]),
                m(17, &[m(4, &[v(1, 1)]), m(7, &[b(1, b"{}")])]),
            ]);
            let mut body = envelope("v1", "ConfigMap", &raw);
            let i = index.index(body.len());
            body[i] = byte;
            body.truncate(cut.index(body.len() + 1));
            let _ = decode(&body);
        }

        #[test]
        fn mutated_pod_templates_never_panic(
            index in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            // The deepest supported nesting: a CronJob's pod template with a
            // volume (inline source), a probe (inline handler) and resources.
            let pod = [
                m(1, &[s(1, "v"), m(2, &[m(19, &[m(1, &[s(1, "cm")]), v(3, 420)])])]),
                container(
                    "c",
                    "busybox",
                    &["date"],
                    vec![entry(1, "cpu", &s(1, "1")), m(3, &[s(1, "claim")])],
                ),
                m(2, &[s(1, "d"), m(11, &[m(1, &[m(2, &[m(2, &[v(1, 1), s(3, "http")])])])])]),
                m(14, &[b(4, &[varint(1), varint(2)].concat())]),
            ]
            .concat();
            let raw = [
                meta("cj", "ns", &[]),
                m(2, &[s(1, "* * * * *"), m(5, &[m(2, &[m(6, &[b(2, &pod)])])])]),
            ]
            .concat();
            let mut body = envelope("batch/v1", "CronJob", &raw);
            let i = index.index(body.len());
            body[i] = byte;
            body.truncate(cut.index(body.len() + 1));
            let _ = decode(&body);
        }
    }
}
