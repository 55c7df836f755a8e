//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).
//!
//! client-go's typed clients, and with them kubectl's imperative generators
//! (`kubectl create configmap|secret|namespace|service|serviceaccount`),
//! send their bodies as protobuf. [`decode`] turns such a body into the
//! [`serde_json::Value`] the same object would have had as JSON, so the rest
//! of the server only ever sees JSON.
//!
//! The wire format is upstream's (apimachinery
//! `pkg/runtime/serializer/protobuf`): the four magic bytes `k8s\0`, then a
//! `runtime.Unknown` message whose `typeMeta` (field 1) names the kind and
//! whose `raw` (field 2) holds the object's own encoding. Objects follow the
//! gogo-protobuf conventions of the Go types: maps are repeated `{1: key, 2:
//! value}` entries, `metav1.Time` is `{1: seconds, 2: nanos}`, `IntOrString`
//! is `{1: type, 2: intVal, 3: strVal}`.
//!
//! Go's protobuf encoder writes every non-pointer field, zero or not, while
//! its JSON encoder omits zero `omitempty` fields. The decoder follows the
//! JSON side: each field is described with its Go JSON behaviour (omitted
//! when zero, always present, present when set on the wire, or repeated), so
//! the result is what `json.Marshal` of the decoded Go object would give
//! (`creationTimestamp: null`, `spec: {}`, `targetPort: 0`, ...). Field order
//! follows the Go structs.
//!
//! Supported kinds: v1 ConfigMap, Secret, Namespace, Service, ServiceAccount,
//! and DeleteOptions (any apiVersion). Any other kind is
//! [`ProtobufError::UnsupportedKind`]. Unknown field numbers are skipped, as
//! protobuf does; a field's repeated occurrences follow protobuf's rules
//! (last scalar wins, messages merge, map keys are overwritten).
//!
//! Known differences from upstream: `contentEncoding` other than empty is
//! refused; groups (wire types 3 and 4) are refused rather than skipped;
//! strings that are not UTF-8 become U+FFFD as Go's JSON encoder would
//! write them; a Secret map value absent from its entry becomes `""`
//! rather than `null`.

use base64::Engine as _;
use serde_json::{Map, Value};

/// The media type of a Kubernetes protobuf body.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
const MAGIC: [u8; 4] = [b'k', b'8', b's', 0];

/// Messages nest no deeper than the schemas do (about 6 levels); this is a
/// guard in case a schema ever becomes recursive.
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
}

const fn f(number: u64, name: &'static str, ty: Ty, card: Card) -> Field {
    Field {
        number,
        name,
        ty,
        card,
    }
}

use Card::{Always, Omit, Opt, Rep};
use Ty::{Bool, Bytes, BytesMap, FieldsV1, I32, I64, IntOrString, Msg, Str, StrMap, Time};

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
            Opt if occurrences.is_empty() => None,
            Opt | Always => Some(value(field.ty, occurrences, depth)?),
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
        let err = decode(&envelope("apps/v1", "Deployment", &[])).unwrap_err();
        assert!(err.is_unsupported());
        assert_eq!(
            err.to_string(),
            "no protobuf decoder for kind \"Deployment\" in version \"apps/v1\": send application/json"
        );
        assert!(
            decode(&envelope("v1", "Pod", &[]))
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

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&body);
            let _ = decode(&[MAGIC.as_slice(), &body].concat());
        }

        #[test]
        fn arbitrary_objects_never_panic(
            kind in prop::sample::select(vec!["ConfigMap", "Secret", "Namespace", "Service", "ServiceAccount", "DeleteOptions"]),
            raw in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let _ = decode(&envelope("v1", kind, &raw));
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
    }
}
