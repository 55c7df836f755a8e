//! The protobuf form of the OpenAPI v2 document (gnostic's `openapi.v2.Document`).
//!
//! client-go's `DiscoveryClient.OpenAPISchema()` (behind kubectl 1.27/1.28
//! client-side validation and `kubectl explain --output
//! plaintext-openapiv2`) asks `GET /openapi/v2` for
//! `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and
//! unmarshals the body as `openapi.v2.Document`, the message of
//! `openapiv2/OpenAPIv2.proto` in github.com/google/gnostic-models.
//! Upstream (kube-openapi `handler.ToProtoBinary`) makes those bytes by
//! parsing its JSON document with gnostic's `openapi_v2.ParseDocument` and
//! marshalling the result; [`encode_v2`] makes the same message from the
//! same JSON.
//!
//! The structs below mirror the messages of that proto, with its field
//! numbers and types. The one field left out is `Any.value`, a
//! `google.protobuf.Any` that gnostic fills only from compiler extension
//! plugins, which upstream does not use: it is never on the wire.
//!
//! # How JSON becomes the messages
//!
//! - Keys starting with `x-` become `vendor_extension` entries in every
//!   message that has that field; other keys the message has no field for
//!   are dropped.
//! - Free-form values (`default`, `example`, members of `enum`, response
//!   `examples`, vendor extensions) become `Any { yaml }`, `null` included.
//!   gnostic writes block-style YAML there; here the text is flow-style
//!   YAML, which is the value's compact JSON except that keys of 1000
//!   characters or more are written as explicit keys (`? "key":value`),
//!   and with the code points YAML does not allow raw (DEL and the C1
//!   controls, U+2028, U+2029, the byte order mark, …) escaped as `\u`. It
//!   ends with a newline, as gnostic's does. go-yaml v3 reads both texts as
//!   the same value; go-yaml v2 (YAML 1.1, which kube-openapi's
//!   `VendorExtensionToMap` uses) reads this one as the JSON value, where it
//!   reads gnostic's unquoted `yes`, `no`, `on`, `n` as booleans.
//! - Maps (`paths`, `definitions`, `properties`, responses, …) are repeated
//!   `(name, value)` pairs in the order of the JSON object; this crate's
//!   `serde_json` keeps objects sorted by key.
//! - A oneof takes the variant gnostic's parse settles on for a valid
//!   document: a parameter or response with `$ref` is a `JsonReference`; a
//!   parameter's `in` picks body, header, formData, query or path; a
//!   security scheme's `type` (and an oauth2 scheme's `flow`) picks its
//!   variant; a response schema with `type: file` and only the keys a file
//!   schema allows is a `FileSchema`; `additionalProperties` is a schema or
//!   a boolean; `type` is one name or an array of them (either way a
//!   `TypeItem` list); `items` is one schema (a list of one).
//! - Scalars are read as gnostic reads them: a string field takes a JSON
//!   string or an integer (gnostic takes YAML `!!int` scalars as text; `null`
//!   is the empty string), an integer field an integer that fits in an
//!   `i64`, a number field any number, a boolean field a boolean.
//! - Anything else (a missing key, a value of the wrong type, an unknown
//!   `in`) is skipped: the field keeps its zero value. Where gnostic would
//!   reject the whole document (and upstream fail the request), only the
//!   offending piece is left out.
//!
//! proto3 leaves zero values off the wire, so Go's `proto.Unmarshal` cannot
//! tell them from absent keys: `""`, `0`, `false`, `[]` and a missing key
//! all decode as Go's zero value (nil for messages), as with gnostic.

use prost::{Message as _, Oneof};
use serde_json::Value;

/// Encodes a Swagger 2.0 document (as served at `GET /openapi/v2` in JSON)
/// as gnostic's `openapi.v2.Document` protobuf, the body client-go's
/// `OpenAPISchema()` requests with `Accept:
/// application/com.github.proto-openapi.spec.v2@v1.0+protobuf`.
///
/// Never fails: what does not fit the specification is left out (see the
/// module documentation).
pub(crate) fn encode_v2(doc: &Value) -> Vec<u8> {
    document(doc).encode_to_vec()
}

// ---------------------------------------------------------------------------
// The messages of openapiv2/OpenAPIv2.proto (package openapi.v2).
// ---------------------------------------------------------------------------

/// `Document`: the root of a Swagger 2.0 document.
#[derive(Clone, PartialEq, prost::Message)]
struct Document {
    /// `swagger`: always "2.0".
    #[prost(string, tag = "1")]
    swagger: String,
    /// `info`.
    #[prost(message, optional, tag = "2")]
    info: Option<Info>,
    /// `host`.
    #[prost(string, tag = "3")]
    host: String,
    /// `basePath`.
    #[prost(string, tag = "4")]
    base_path: String,
    /// `schemes`.
    #[prost(string, repeated, tag = "5")]
    schemes: Vec<String>,
    /// `consumes`.
    #[prost(string, repeated, tag = "6")]
    consumes: Vec<String>,
    /// `produces`.
    #[prost(string, repeated, tag = "7")]
    produces: Vec<String>,
    /// `paths`.
    #[prost(message, optional, tag = "8")]
    paths: Option<Paths>,
    /// `definitions`.
    #[prost(message, optional, tag = "9")]
    definitions: Option<Definitions>,
    /// `parameters`: parameters shared by operations.
    #[prost(message, optional, tag = "10")]
    parameters: Option<ParameterDefinitions>,
    /// `responses`: responses shared by operations.
    #[prost(message, optional, tag = "11")]
    responses: Option<ResponseDefinitions>,
    /// `security`.
    #[prost(message, repeated, tag = "12")]
    security: Vec<SecurityRequirement>,
    /// `securityDefinitions`.
    #[prost(message, optional, tag = "13")]
    security_definitions: Option<SecurityDefinitions>,
    /// `tags`.
    #[prost(message, repeated, tag = "14")]
    tags: Vec<Tag>,
    /// `externalDocs`.
    #[prost(message, optional, tag = "15")]
    external_docs: Option<ExternalDocs>,
    /// `x-` keys.
    #[prost(message, repeated, tag = "16")]
    vendor_extension: Vec<NamedAny>,
}

/// `Info`: the API's title and version.
#[derive(Clone, PartialEq, prost::Message)]
struct Info {
    /// `title`.
    #[prost(string, tag = "1")]
    title: String,
    /// `version`.
    #[prost(string, tag = "2")]
    version: String,
    /// `description`.
    #[prost(string, tag = "3")]
    description: String,
    /// `termsOfService`.
    #[prost(string, tag = "4")]
    terms_of_service: String,
    /// `contact`.
    #[prost(message, optional, tag = "5")]
    contact: Option<Contact>,
    /// `license`.
    #[prost(message, optional, tag = "6")]
    license: Option<License>,
    /// `x-` keys.
    #[prost(message, repeated, tag = "7")]
    vendor_extension: Vec<NamedAny>,
}

/// `Contact`.
#[derive(Clone, PartialEq, prost::Message)]
struct Contact {
    /// `name`.
    #[prost(string, tag = "1")]
    name: String,
    /// `url`.
    #[prost(string, tag = "2")]
    url: String,
    /// `email`.
    #[prost(string, tag = "3")]
    email: String,
    /// `x-` keys.
    #[prost(message, repeated, tag = "4")]
    vendor_extension: Vec<NamedAny>,
}

/// `License`.
#[derive(Clone, PartialEq, prost::Message)]
struct License {
    /// `name`.
    #[prost(string, tag = "1")]
    name: String,
    /// `url`.
    #[prost(string, tag = "2")]
    url: String,
    /// `x-` keys.
    #[prost(message, repeated, tag = "3")]
    vendor_extension: Vec<NamedAny>,
}

/// `ExternalDocs`.
#[derive(Clone, PartialEq, prost::Message)]
struct ExternalDocs {
    /// `description`.
    #[prost(string, tag = "1")]
    description: String,
    /// `url`.
    #[prost(string, tag = "2")]
    url: String,
    /// `x-` keys.
    #[prost(message, repeated, tag = "3")]
    vendor_extension: Vec<NamedAny>,
}

/// `Tag`.
#[derive(Clone, PartialEq, prost::Message)]
struct Tag {
    /// `name`.
    #[prost(string, tag = "1")]
    name: String,
    /// `description`.
    #[prost(string, tag = "2")]
    description: String,
    /// `externalDocs`.
    #[prost(message, optional, tag = "3")]
    external_docs: Option<ExternalDocs>,
    /// `x-` keys.
    #[prost(message, repeated, tag = "4")]
    vendor_extension: Vec<NamedAny>,
}

/// `Any`: a free-form value as YAML text (field 1, a `google.protobuf.Any`,
/// is not declared: it is never set).
#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    /// The value as YAML (here: JSON, which is YAML).
    #[prost(string, tag = "2")]
    yaml: String,
}

/// `NamedAny`: one entry of a map of free-form values.
#[derive(Clone, PartialEq, prost::Message)]
struct NamedAny {
    /// The key.
    #[prost(string, tag = "1")]
    name: String,
    /// The value.
    #[prost(message, optional, tag = "2")]
    value: Option<Any>,
}

/// `Paths`: the `paths` object.
#[derive(Clone, PartialEq, prost::Message)]
struct Paths {
    /// `x-` keys.
    #[prost(message, repeated, tag = "1")]
    vendor_extension: Vec<NamedAny>,
    /// The keys starting with `/`.
    #[prost(message, repeated, tag = "2")]
    path: Vec<NamedPathItem>,
}

/// `NamedPathItem`: one path.
#[derive(Clone, PartialEq, prost::Message)]
struct NamedPathItem {
    /// The path, `/api/v1/namespaces/{namespace}/pods`.
    #[prost(string, tag = "1")]
    name: String,
    /// Its operations.
    #[prost(message, optional, tag = "2")]
    value: Option<PathItem>,
}

/// `PathItem`: the operations of one path.
#[derive(Clone, PartialEq, prost::Message)]
struct PathItem {
    /// `$ref`.
    #[prost(string, tag = "1")]
    r#ref: String,
    /// `get`.
    #[prost(message, optional, tag = "2")]
    get: Option<Operation>,
    /// `put`.
    #[prost(message, optional, tag = "3")]
    put: Option<Operation>,
    /// `post`.
    #[prost(message, optional, tag = "4")]
    post: Option<Operation>,
    /// `delete`.
    #[prost(message, optional, tag = "5")]
    delete: Option<Operation>,
    /// `options`.
    #[prost(message, optional, tag = "6")]
    options: Option<Operation>,
    /// `head`.
    #[prost(message, optional, tag = "7")]
    head: Option<Operation>,
    /// `patch`.
    #[prost(message, optional, tag = "8")]
    patch: Option<Operation>,
    /// `parameters`: those of every operation of the path.
    #[prost(message, repeated, tag = "9")]
    parameters: Vec<ParametersItem>,
    /// `x-` keys.
    #[prost(message, repeated, tag = "10")]
    vendor_extension: Vec<NamedAny>,
}

/// `Operation`.
#[derive(Clone, PartialEq, prost::Message)]
struct Operation {
    /// `tags`.
    #[prost(string, repeated, tag = "1")]
    tags: Vec<String>,
    /// `summary`.
    #[prost(string, tag = "2")]
    summary: String,
    /// `description`.
    #[prost(string, tag = "3")]
    description: String,
    /// `externalDocs`.
    #[prost(message, optional, tag = "4")]
    external_docs: Option<ExternalDocs>,
    /// `operationId`.
    #[prost(string, tag = "5")]
    operation_id: String,
    /// `produces`.
    #[prost(string, repeated, tag = "6")]
    produces: Vec<String>,
    /// `consumes`.
    #[prost(string, repeated, tag = "7")]
    consumes: Vec<String>,
    /// `parameters`.
    #[prost(message, repeated, tag = "8")]
    parameters: Vec<ParametersItem>,
    /// `responses`.
    #[prost(message, optional, tag = "9")]
    responses: Option<Responses>,
    /// `schemes`.
    #[prost(string, repeated, tag = "10")]
    schemes: Vec<String>,
    /// `deprecated`.
    #[prost(bool, tag = "11")]
    deprecated: bool,
    /// `security`.
    #[prost(message, repeated, tag = "12")]
    security: Vec<SecurityRequirement>,
    /// `x-` keys.
    #[prost(message, repeated, tag = "13")]
    vendor_extension: Vec<NamedAny>,
}

/// `ParametersItem`: one member of a `parameters` array.
#[derive(Clone, PartialEq, prost::Message)]
struct ParametersItem {
    /// Which of the two it is.
    #[prost(oneof = "ParametersItemOneof", tags = "1, 2")]
    oneof: Option<ParametersItemOneof>,
}

/// The variants of `ParametersItem`.
#[derive(Clone, PartialEq, Oneof)]
enum ParametersItemOneof {
    /// A parameter.
    #[prost(message, boxed, tag = "1")]
    Parameter(Box<Parameter>),
    /// A `$ref` to a parameter of the document's `parameters`.
    #[prost(message, tag = "2")]
    JsonReference(JsonReference),
}

/// `JsonReference`: a `$ref`.
#[derive(Clone, PartialEq, prost::Message)]
struct JsonReference {
    /// `$ref`.
    #[prost(string, tag = "1")]
    r#ref: String,
    /// `description`.
    #[prost(string, tag = "2")]
    description: String,
}

/// `Parameter`: a body or a non-body parameter.
#[derive(Clone, PartialEq, prost::Message)]
struct Parameter {
    /// Which of the two it is.
    #[prost(oneof = "ParameterOneof", tags = "1, 2")]
    oneof: Option<ParameterOneof>,
}

/// The variants of `Parameter`.
#[derive(Clone, PartialEq, Oneof)]
enum ParameterOneof {
    /// `in: body`.
    #[prost(message, boxed, tag = "1")]
    BodyParameter(Box<BodyParameter>),
    /// Any other `in`.
    #[prost(message, boxed, tag = "2")]
    NonBodyParameter(Box<NonBodyParameter>),
}

/// `BodyParameter`: `in: body`.
#[derive(Clone, PartialEq, prost::Message)]
struct BodyParameter {
    /// `description`.
    #[prost(string, tag = "1")]
    description: String,
    /// `name`.
    #[prost(string, tag = "2")]
    name: String,
    /// `in`.
    #[prost(string, tag = "3")]
    r#in: String,
    /// `required`.
    #[prost(bool, tag = "4")]
    required: bool,
    /// `schema`.
    #[prost(message, optional, tag = "5")]
    schema: Option<Schema>,
    /// `x-` keys.
    #[prost(message, repeated, tag = "6")]
    vendor_extension: Vec<NamedAny>,
}

/// `NonBodyParameter`: one of the four simple parameter kinds.
#[derive(Clone, PartialEq, prost::Message)]
struct NonBodyParameter {
    /// Which kind, by `in`.
    #[prost(oneof = "NonBodyParameterOneof", tags = "1, 2, 3, 4")]
    oneof: Option<NonBodyParameterOneof>,
}

/// The variants of `NonBodyParameter`.
#[derive(Clone, PartialEq, Oneof)]
#[expect(
    clippy::enum_variant_names,
    reason = "named after the oneof's fields in the proto"
)]
enum NonBodyParameterOneof {
    /// `in: header`.
    #[prost(message, tag = "1")]
    HeaderParameterSubSchema(HeaderParameterSubSchema),
    /// `in: formData`.
    #[prost(message, tag = "2")]
    FormDataParameterSubSchema(FormDataParameterSubSchema),
    /// `in: query`.
    #[prost(message, tag = "3")]
    QueryParameterSubSchema(QueryParameterSubSchema),
    /// `in: path`.
    #[prost(message, tag = "4")]
    PathParameterSubSchema(PathParameterSubSchema),
}

/// `HeaderParameterSubSchema`: `in: header`.
#[derive(Clone, PartialEq, prost::Message)]
struct HeaderParameterSubSchema {
    /// `required`.
    #[prost(bool, tag = "1")]
    required: bool,
    /// `in`.
    #[prost(string, tag = "2")]
    r#in: String,
    /// `description`.
    #[prost(string, tag = "3")]
    description: String,
    /// `name`.
    #[prost(string, tag = "4")]
    name: String,
    /// `type`.
    #[prost(string, tag = "5")]
    r#type: String,
    /// `format`.
    #[prost(string, tag = "6")]
    format: String,
    /// `items`.
    #[prost(message, optional, boxed, tag = "7")]
    items: Option<Box<PrimitivesItems>>,
    /// `collectionFormat`.
    #[prost(string, tag = "8")]
    collection_format: String,
    /// `default`.
    #[prost(message, optional, tag = "9")]
    default: Option<Any>,
    /// `maximum`.
    #[prost(double, tag = "10")]
    maximum: f64,
    /// `exclusiveMaximum`.
    #[prost(bool, tag = "11")]
    exclusive_maximum: bool,
    /// `minimum`.
    #[prost(double, tag = "12")]
    minimum: f64,
    /// `exclusiveMinimum`.
    #[prost(bool, tag = "13")]
    exclusive_minimum: bool,
    /// `maxLength`.
    #[prost(int64, tag = "14")]
    max_length: i64,
    /// `minLength`.
    #[prost(int64, tag = "15")]
    min_length: i64,
    /// `pattern`.
    #[prost(string, tag = "16")]
    pattern: String,
    /// `maxItems`.
    #[prost(int64, tag = "17")]
    max_items: i64,
    /// `minItems`.
    #[prost(int64, tag = "18")]
    min_items: i64,
    /// `uniqueItems`.
    #[prost(bool, tag = "19")]
    unique_items: bool,
    /// `enum`.
    #[prost(message, repeated, tag = "20")]
    r#enum: Vec<Any>,
    /// `multipleOf`.
    #[prost(double, tag = "21")]
    multiple_of: f64,
    /// `x-` keys.
    #[prost(message, repeated, tag = "22")]
    vendor_extension: Vec<NamedAny>,
}

/// `FormDataParameterSubSchema`: `in: formData`.
#[derive(Clone, PartialEq, prost::Message)]
struct FormDataParameterSubSchema {
    /// `required`.
    #[prost(bool, tag = "1")]
    required: bool,
    /// `in`.
    #[prost(string, tag = "2")]
    r#in: String,
    /// `description`.
    #[prost(string, tag = "3")]
    description: String,
    /// `name`.
    #[prost(string, tag = "4")]
    name: String,
    /// `allowEmptyValue`.
    #[prost(bool, tag = "5")]
    allow_empty_value: bool,
    /// `type`.
    #[prost(string, tag = "6")]
    r#type: String,
    /// `format`.
    #[prost(string, tag = "7")]
    format: String,
    /// `items`.
    #[prost(message, optional, boxed, tag = "8")]
    items: Option<Box<PrimitivesItems>>,
    /// `collectionFormat`.
    #[prost(string, tag = "9")]
    collection_format: String,
    /// `default`.
    #[prost(message, optional, tag = "10")]
    default: Option<Any>,
    /// `maximum`.
    #[prost(double, tag = "11")]
    maximum: f64,
    /// `exclusiveMaximum`.
    #[prost(bool, tag = "12")]
    exclusive_maximum: bool,
    /// `minimum`.
    #[prost(double, tag = "13")]
    minimum: f64,
    /// `exclusiveMinimum`.
    #[prost(bool, tag = "14")]
    exclusive_minimum: bool,
    /// `maxLength`.
    #[prost(int64, tag = "15")]
    max_length: i64,
    /// `minLength`.
    #[prost(int64, tag = "16")]
    min_length: i64,
    /// `pattern`.
    #[prost(string, tag = "17")]
    pattern: String,
    /// `maxItems`.
    #[prost(int64, tag = "18")]
    max_items: i64,
    /// `minItems`.
    #[prost(int64, tag = "19")]
    min_items: i64,
    /// `uniqueItems`.
    #[prost(bool, tag = "20")]
    unique_items: bool,
    /// `enum`.
    #[prost(message, repeated, tag = "21")]
    r#enum: Vec<Any>,
    /// `multipleOf`.
    #[prost(double, tag = "22")]
    multiple_of: f64,
    /// `x-` keys.
    #[prost(message, repeated, tag = "23")]
    vendor_extension: Vec<NamedAny>,
}

/// `QueryParameterSubSchema`: `in: query`.
#[derive(Clone, PartialEq, prost::Message)]
struct QueryParameterSubSchema {
    /// `required`.
    #[prost(bool, tag = "1")]
    required: bool,
    /// `in`.
    #[prost(string, tag = "2")]
    r#in: String,
    /// `description`.
    #[prost(string, tag = "3")]
    description: String,
    /// `name`.
    #[prost(string, tag = "4")]
    name: String,
    /// `allowEmptyValue`.
    #[prost(bool, tag = "5")]
    allow_empty_value: bool,
    /// `type`.
    #[prost(string, tag = "6")]
    r#type: String,
    /// `format`.
    #[prost(string, tag = "7")]
    format: String,
    /// `items`.
    #[prost(message, optional, boxed, tag = "8")]
    items: Option<Box<PrimitivesItems>>,
    /// `collectionFormat`.
    #[prost(string, tag = "9")]
    collection_format: String,
    /// `default`.
    #[prost(message, optional, tag = "10")]
    default: Option<Any>,
    /// `maximum`.
    #[prost(double, tag = "11")]
    maximum: f64,
    /// `exclusiveMaximum`.
    #[prost(bool, tag = "12")]
    exclusive_maximum: bool,
    /// `minimum`.
    #[prost(double, tag = "13")]
    minimum: f64,
    /// `exclusiveMinimum`.
    #[prost(bool, tag = "14")]
    exclusive_minimum: bool,
    /// `maxLength`.
    #[prost(int64, tag = "15")]
    max_length: i64,
    /// `minLength`.
    #[prost(int64, tag = "16")]
    min_length: i64,
    /// `pattern`.
    #[prost(string, tag = "17")]
    pattern: String,
    /// `maxItems`.
    #[prost(int64, tag = "18")]
    max_items: i64,
    /// `minItems`.
    #[prost(int64, tag = "19")]
    min_items: i64,
    /// `uniqueItems`.
    #[prost(bool, tag = "20")]
    unique_items: bool,
    /// `enum`.
    #[prost(message, repeated, tag = "21")]
    r#enum: Vec<Any>,
    /// `multipleOf`.
    #[prost(double, tag = "22")]
    multiple_of: f64,
    /// `x-` keys.
    #[prost(message, repeated, tag = "23")]
    vendor_extension: Vec<NamedAny>,
}

/// `PathParameterSubSchema`: `in: path`.
#[derive(Clone, PartialEq, prost::Message)]
struct PathParameterSubSchema {
    /// `required`.
    #[prost(bool, tag = "1")]
    required: bool,
    /// `in`.
    #[prost(string, tag = "2")]
    r#in: String,
    /// `description`.
    #[prost(string, tag = "3")]
    description: String,
    /// `name`.
    #[prost(string, tag = "4")]
    name: String,
    /// `type`.
    #[prost(string, tag = "5")]
    r#type: String,
    /// `format`.
    #[prost(string, tag = "6")]
    format: String,
    /// `items`.
    #[prost(message, optional, boxed, tag = "7")]
    items: Option<Box<PrimitivesItems>>,
    /// `collectionFormat`.
    #[prost(string, tag = "8")]
    collection_format: String,
    /// `default`.
    #[prost(message, optional, tag = "9")]
    default: Option<Any>,
    /// `maximum`.
    #[prost(double, tag = "10")]
    maximum: f64,
    /// `exclusiveMaximum`.
    #[prost(bool, tag = "11")]
    exclusive_maximum: bool,
    /// `minimum`.
    #[prost(double, tag = "12")]
    minimum: f64,
    /// `exclusiveMinimum`.
    #[prost(bool, tag = "13")]
    exclusive_minimum: bool,
    /// `maxLength`.
    #[prost(int64, tag = "14")]
    max_length: i64,
    /// `minLength`.
    #[prost(int64, tag = "15")]
    min_length: i64,
    /// `pattern`.
    #[prost(string, tag = "16")]
    pattern: String,
    /// `maxItems`.
    #[prost(int64, tag = "17")]
    max_items: i64,
    /// `minItems`.
    #[prost(int64, tag = "18")]
    min_items: i64,
    /// `uniqueItems`.
    #[prost(bool, tag = "19")]
    unique_items: bool,
    /// `enum`.
    #[prost(message, repeated, tag = "20")]
    r#enum: Vec<Any>,
    /// `multipleOf`.
    #[prost(double, tag = "21")]
    multiple_of: f64,
    /// `x-` keys.
    #[prost(message, repeated, tag = "22")]
    vendor_extension: Vec<NamedAny>,
}

/// `PrimitivesItems`: the `items` of a simple parameter or header.
#[derive(Clone, PartialEq, prost::Message)]
struct PrimitivesItems {
    /// `type`.
    #[prost(string, tag = "1")]
    r#type: String,
    /// `format`.
    #[prost(string, tag = "2")]
    format: String,
    /// `items`.
    #[prost(message, optional, boxed, tag = "3")]
    items: Option<Box<PrimitivesItems>>,
    /// `collectionFormat`.
    #[prost(string, tag = "4")]
    collection_format: String,
    /// `default`.
    #[prost(message, optional, tag = "5")]
    default: Option<Any>,
    /// `maximum`.
    #[prost(double, tag = "6")]
    maximum: f64,
    /// `exclusiveMaximum`.
    #[prost(bool, tag = "7")]
    exclusive_maximum: bool,
    /// `minimum`.
    #[prost(double, tag = "8")]
    minimum: f64,
    /// `exclusiveMinimum`.
    #[prost(bool, tag = "9")]
    exclusive_minimum: bool,
    /// `maxLength`.
    #[prost(int64, tag = "10")]
    max_length: i64,
    /// `minLength`.
    #[prost(int64, tag = "11")]
    min_length: i64,
    /// `pattern`.
    #[prost(string, tag = "12")]
    pattern: String,
    /// `maxItems`.
    #[prost(int64, tag = "13")]
    max_items: i64,
    /// `minItems`.
    #[prost(int64, tag = "14")]
    min_items: i64,
    /// `uniqueItems`.
    #[prost(bool, tag = "15")]
    unique_items: bool,
    /// `enum`.
    #[prost(message, repeated, tag = "16")]
    r#enum: Vec<Any>,
    /// `multipleOf`.
    #[prost(double, tag = "17")]
    multiple_of: f64,
    /// `x-` keys.
    #[prost(message, repeated, tag = "18")]
    vendor_extension: Vec<NamedAny>,
}

/// `Responses`: the `responses` of an operation.
#[derive(Clone, PartialEq, prost::Message)]
struct Responses {
    /// The keys that are a three-digit status code or `default`.
    #[prost(message, repeated, tag = "1")]
    response_code: Vec<NamedResponseValue>,
    /// `x-` keys.
    #[prost(message, repeated, tag = "2")]
    vendor_extension: Vec<NamedAny>,
}

/// `NamedResponseValue`: one status code's response.
#[derive(Clone, PartialEq, prost::Message)]
struct NamedResponseValue {
    /// The status code, or `default`.
    #[prost(string, tag = "1")]
    name: String,
    /// The response.
    #[prost(message, optional, tag = "2")]
    value: Option<ResponseValue>,
}

/// `ResponseValue`: a response or a reference to one.
#[derive(Clone, PartialEq, prost::Message)]
struct ResponseValue {
    /// Which of the two it is.
    #[prost(oneof = "ResponseValueOneof", tags = "1, 2")]
    oneof: Option<ResponseValueOneof>,
}

/// The variants of `ResponseValue`.
#[derive(Clone, PartialEq, Oneof)]
enum ResponseValueOneof {
    /// A response.
    #[prost(message, boxed, tag = "1")]
    Response(Box<Response>),
    /// A `$ref` to a response of the document's `responses`.
    #[prost(message, tag = "2")]
    JsonReference(JsonReference),
}

/// `Response`.
#[derive(Clone, PartialEq, prost::Message)]
struct Response {
    /// `description`.
    #[prost(string, tag = "1")]
    description: String,
    /// `schema`.
    #[prost(message, optional, tag = "2")]
    schema: Option<SchemaItem>,
    /// `headers`.
    #[prost(message, optional, tag = "3")]
    headers: Option<Headers>,
    /// `examples`: by media type.
    #[prost(message, optional, tag = "4")]
    examples: Option<Examples>,
    /// `x-` keys.
    #[prost(message, repeated, tag = "5")]
    vendor_extension: Vec<NamedAny>,
}

/// `SchemaItem`: a response's schema.
#[derive(Clone, PartialEq, prost::Message)]
struct SchemaItem {
    /// Which of the two it is.
    #[prost(oneof = "SchemaItemOneof", tags = "1, 2")]
    oneof: Option<SchemaItemOneof>,
}

/// The variants of `SchemaItem`.
#[derive(Clone, PartialEq, Oneof)]
enum SchemaItemOneof {
    /// A schema.
    #[prost(message, boxed, tag = "1")]
    Schema(Box<Schema>),
    /// `type: file`.
    #[prost(message, boxed, tag = "2")]
    FileSchema(Box<FileSchema>),
}

/// `FileSchema`: a response that is a file.
#[derive(Clone, PartialEq, prost::Message)]
struct FileSchema {
    /// `format`.
    #[prost(string, tag = "1")]
    format: String,
    /// `title`.
    #[prost(string, tag = "2")]
    title: String,
    /// `description`.
    #[prost(string, tag = "3")]
    description: String,
    /// `default`.
    #[prost(message, optional, tag = "4")]
    default: Option<Any>,
    /// `required`.
    #[prost(string, repeated, tag = "5")]
    required: Vec<String>,
    /// `type`: `file`.
    #[prost(string, tag = "6")]
    r#type: String,
    /// `readOnly`.
    #[prost(bool, tag = "7")]
    read_only: bool,
    /// `externalDocs`.
    #[prost(message, optional, tag = "8")]
    external_docs: Option<ExternalDocs>,
    /// `example`.
    #[prost(message, optional, tag = "9")]
    example: Option<Any>,
    /// `x-` keys.
    #[prost(message, repeated, tag = "10")]
    vendor_extension: Vec<NamedAny>,
}

/// `Headers`: a response's headers.
#[derive(Clone, PartialEq, prost::Message)]
struct Headers {
    /// The headers, by name.
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedHeader>,
}

/// `NamedHeader`: one header.
#[derive(Clone, PartialEq, prost::Message)]
struct NamedHeader {
    /// The header's name.
    #[prost(string, tag = "1")]
    name: String,
    /// The header.
    #[prost(message, optional, tag = "2")]
    value: Option<Header>,
}

/// `Header`.
#[derive(Clone, PartialEq, prost::Message)]
struct Header {
    /// `type`.
    #[prost(string, tag = "1")]
    r#type: String,
    /// `format`.
    #[prost(string, tag = "2")]
    format: String,
    /// `items`.
    #[prost(message, optional, boxed, tag = "3")]
    items: Option<Box<PrimitivesItems>>,
    /// `collectionFormat`.
    #[prost(string, tag = "4")]
    collection_format: String,
    /// `default`.
    #[prost(message, optional, tag = "5")]
    default: Option<Any>,
    /// `maximum`.
    #[prost(double, tag = "6")]
    maximum: f64,
    /// `exclusiveMaximum`.
    #[prost(bool, tag = "7")]
    exclusive_maximum: bool,
    /// `minimum`.
    #[prost(double, tag = "8")]
    minimum: f64,
    /// `exclusiveMinimum`.
    #[prost(bool, tag = "9")]
    exclusive_minimum: bool,
    /// `maxLength`.
    #[prost(int64, tag = "10")]
    max_length: i64,
    /// `minLength`.
    #[prost(int64, tag = "11")]
    min_length: i64,
    /// `pattern`.
    #[prost(string, tag = "12")]
    pattern: String,
    /// `maxItems`.
    #[prost(int64, tag = "13")]
    max_items: i64,
    /// `minItems`.
    #[prost(int64, tag = "14")]
    min_items: i64,
    /// `uniqueItems`.
    #[prost(bool, tag = "15")]
    unique_items: bool,
    /// `enum`.
    #[prost(message, repeated, tag = "16")]
    r#enum: Vec<Any>,
    /// `multipleOf`.
    #[prost(double, tag = "17")]
    multiple_of: f64,
    /// `description`.
    #[prost(string, tag = "18")]
    description: String,
    /// `x-` keys.
    #[prost(message, repeated, tag = "19")]
    vendor_extension: Vec<NamedAny>,
}

/// `Examples`: a response's examples, by media type.
#[derive(Clone, PartialEq, prost::Message)]
struct Examples {
    /// The examples.
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedAny>,
}

/// `Definitions`: the `definitions` object.
#[derive(Clone, PartialEq, prost::Message)]
struct Definitions {
    /// The schemas, by name.
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSchema>,
}

/// `NamedSchema`: one named schema (a definition or a property).
#[derive(Clone, PartialEq, prost::Message)]
struct NamedSchema {
    /// The name.
    #[prost(string, tag = "1")]
    name: String,
    /// The schema.
    #[prost(message, optional, tag = "2")]
    value: Option<Schema>,
}

/// `Schema`: a Swagger 2.0 schema object.
#[derive(Clone, PartialEq, prost::Message)]
struct Schema {
    /// `$ref`.
    #[prost(string, tag = "1")]
    r#ref: String,
    /// `format`.
    #[prost(string, tag = "2")]
    format: String,
    /// `title`.
    #[prost(string, tag = "3")]
    title: String,
    /// `description`.
    #[prost(string, tag = "4")]
    description: String,
    /// `default`.
    #[prost(message, optional, tag = "5")]
    default: Option<Any>,
    /// `multipleOf`.
    #[prost(double, tag = "6")]
    multiple_of: f64,
    /// `maximum`.
    #[prost(double, tag = "7")]
    maximum: f64,
    /// `exclusiveMaximum`.
    #[prost(bool, tag = "8")]
    exclusive_maximum: bool,
    /// `minimum`.
    #[prost(double, tag = "9")]
    minimum: f64,
    /// `exclusiveMinimum`.
    #[prost(bool, tag = "10")]
    exclusive_minimum: bool,
    /// `maxLength`.
    #[prost(int64, tag = "11")]
    max_length: i64,
    /// `minLength`.
    #[prost(int64, tag = "12")]
    min_length: i64,
    /// `pattern`.
    #[prost(string, tag = "13")]
    pattern: String,
    /// `maxItems`.
    #[prost(int64, tag = "14")]
    max_items: i64,
    /// `minItems`.
    #[prost(int64, tag = "15")]
    min_items: i64,
    /// `uniqueItems`.
    #[prost(bool, tag = "16")]
    unique_items: bool,
    /// `maxProperties`.
    #[prost(int64, tag = "17")]
    max_properties: i64,
    /// `minProperties`.
    #[prost(int64, tag = "18")]
    min_properties: i64,
    /// `required`.
    #[prost(string, repeated, tag = "19")]
    required: Vec<String>,
    /// `enum`.
    #[prost(message, repeated, tag = "20")]
    r#enum: Vec<Any>,
    /// `additionalProperties`.
    #[prost(message, optional, tag = "21")]
    additional_properties: Option<AdditionalPropertiesItem>,
    /// `type`.
    #[prost(message, optional, tag = "22")]
    r#type: Option<TypeItem>,
    /// `items`.
    #[prost(message, optional, tag = "23")]
    items: Option<ItemsItem>,
    /// `allOf`.
    #[prost(message, repeated, tag = "24")]
    all_of: Vec<Schema>,
    /// `properties`.
    #[prost(message, optional, tag = "25")]
    properties: Option<Properties>,
    /// `discriminator`.
    #[prost(string, tag = "26")]
    discriminator: String,
    /// `readOnly`.
    #[prost(bool, tag = "27")]
    read_only: bool,
    /// `xml`.
    #[prost(message, optional, tag = "28")]
    xml: Option<Xml>,
    /// `externalDocs`.
    #[prost(message, optional, tag = "29")]
    external_docs: Option<ExternalDocs>,
    /// `example`.
    #[prost(message, optional, tag = "30")]
    example: Option<Any>,
    /// `x-` keys.
    #[prost(message, repeated, tag = "31")]
    vendor_extension: Vec<NamedAny>,
}

/// `AdditionalPropertiesItem`: a schema or a boolean.
#[derive(Clone, PartialEq, prost::Message)]
struct AdditionalPropertiesItem {
    /// Which of the two it is.
    #[prost(oneof = "AdditionalPropertiesOneof", tags = "1, 2")]
    oneof: Option<AdditionalPropertiesOneof>,
}

/// The variants of `AdditionalPropertiesItem`.
#[derive(Clone, PartialEq, Oneof)]
enum AdditionalPropertiesOneof {
    /// The schema of every other property.
    #[prost(message, boxed, tag = "1")]
    Schema(Box<Schema>),
    /// Whether other properties are allowed.
    #[prost(bool, tag = "2")]
    Boolean(bool),
}

/// `TypeItem`: `type`, one name or several.
#[derive(Clone, PartialEq, prost::Message)]
struct TypeItem {
    /// The type names.
    #[prost(string, repeated, tag = "1")]
    value: Vec<String>,
}

/// `ItemsItem`: `items`.
#[derive(Clone, PartialEq, prost::Message)]
struct ItemsItem {
    /// The items' schema (gnostic always puts exactly one).
    #[prost(message, repeated, tag = "1")]
    schema: Vec<Schema>,
}

/// `Properties`: `properties`.
#[derive(Clone, PartialEq, prost::Message)]
struct Properties {
    /// The properties, by name.
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSchema>,
}

/// `Xml`.
#[derive(Clone, PartialEq, prost::Message)]
struct Xml {
    /// `name`.
    #[prost(string, tag = "1")]
    name: String,
    /// `namespace`.
    #[prost(string, tag = "2")]
    namespace: String,
    /// `prefix`.
    #[prost(string, tag = "3")]
    prefix: String,
    /// `attribute`.
    #[prost(bool, tag = "4")]
    attribute: bool,
    /// `wrapped`.
    #[prost(bool, tag = "5")]
    wrapped: bool,
    /// `x-` keys.
    #[prost(message, repeated, tag = "6")]
    vendor_extension: Vec<NamedAny>,
}

/// `ParameterDefinitions`: the document's `parameters`.
#[derive(Clone, PartialEq, prost::Message)]
struct ParameterDefinitions {
    /// The parameters, by name.
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedParameter>,
}

/// `NamedParameter`: one shared parameter.
#[derive(Clone, PartialEq, prost::Message)]
struct NamedParameter {
    /// The name `$ref`s use.
    #[prost(string, tag = "1")]
    name: String,
    /// The parameter.
    #[prost(message, optional, tag = "2")]
    value: Option<Parameter>,
}

/// `ResponseDefinitions`: the document's `responses`.
#[derive(Clone, PartialEq, prost::Message)]
struct ResponseDefinitions {
    /// The responses, by name.
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedResponse>,
}

/// `NamedResponse`: one shared response.
#[derive(Clone, PartialEq, prost::Message)]
struct NamedResponse {
    /// The name `$ref`s use.
    #[prost(string, tag = "1")]
    name: String,
    /// The response.
    #[prost(message, optional, tag = "2")]
    value: Option<Response>,
}

/// `SecurityDefinitions`: the document's `securityDefinitions`.
#[derive(Clone, PartialEq, prost::Message)]
struct SecurityDefinitions {
    /// The schemes, by name.
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSecurityDefinitionsItem>,
}

/// `NamedSecurityDefinitionsItem`: one security scheme.
#[derive(Clone, PartialEq, prost::Message)]
struct NamedSecurityDefinitionsItem {
    /// The name requirements use (`BearerToken`).
    #[prost(string, tag = "1")]
    name: String,
    /// The scheme.
    #[prost(message, optional, tag = "2")]
    value: Option<SecurityDefinitionsItem>,
}

/// `SecurityDefinitionsItem`: one of the six kinds of security scheme.
#[derive(Clone, PartialEq, prost::Message)]
struct SecurityDefinitionsItem {
    /// Which kind, by `type` and `flow`.
    #[prost(oneof = "SecurityDefinitionsItemOneof", tags = "1, 2, 3, 4, 5, 6")]
    oneof: Option<SecurityDefinitionsItemOneof>,
}

/// The variants of `SecurityDefinitionsItem`.
#[derive(Clone, PartialEq, Oneof)]
#[expect(
    clippy::enum_variant_names,
    reason = "named after the oneof's fields in the proto"
)]
enum SecurityDefinitionsItemOneof {
    /// `type: basic`.
    #[prost(message, tag = "1")]
    BasicAuthenticationSecurity(BasicAuthenticationSecurity),
    /// `type: apiKey`.
    #[prost(message, tag = "2")]
    ApiKeySecurity(ApiKeySecurity),
    /// `type: oauth2`, `flow: implicit`.
    #[prost(message, tag = "3")]
    Oauth2ImplicitSecurity(Oauth2ImplicitSecurity),
    /// `type: oauth2`, `flow: password`.
    #[prost(message, tag = "4")]
    Oauth2PasswordSecurity(Oauth2PasswordSecurity),
    /// `type: oauth2`, `flow: application`.
    #[prost(message, tag = "5")]
    Oauth2ApplicationSecurity(Oauth2ApplicationSecurity),
    /// `type: oauth2`, `flow: accessCode`.
    #[prost(message, tag = "6")]
    Oauth2AccessCodeSecurity(Oauth2AccessCodeSecurity),
}

/// `BasicAuthenticationSecurity`.
#[derive(Clone, PartialEq, prost::Message)]
struct BasicAuthenticationSecurity {
    /// `type`.
    #[prost(string, tag = "1")]
    r#type: String,
    /// `description`.
    #[prost(string, tag = "2")]
    description: String,
    /// `x-` keys.
    #[prost(message, repeated, tag = "3")]
    vendor_extension: Vec<NamedAny>,
}

/// `ApiKeySecurity`: upstream's `BearerToken` (an `authorization` header).
#[derive(Clone, PartialEq, prost::Message)]
struct ApiKeySecurity {
    /// `type`.
    #[prost(string, tag = "1")]
    r#type: String,
    /// `name`.
    #[prost(string, tag = "2")]
    name: String,
    /// `in`.
    #[prost(string, tag = "3")]
    r#in: String,
    /// `description`.
    #[prost(string, tag = "4")]
    description: String,
    /// `x-` keys.
    #[prost(message, repeated, tag = "5")]
    vendor_extension: Vec<NamedAny>,
}

/// `Oauth2ImplicitSecurity`.
#[derive(Clone, PartialEq, prost::Message)]
struct Oauth2ImplicitSecurity {
    /// `type`.
    #[prost(string, tag = "1")]
    r#type: String,
    /// `flow`.
    #[prost(string, tag = "2")]
    flow: String,
    /// `scopes`.
    #[prost(message, optional, tag = "3")]
    scopes: Option<Oauth2Scopes>,
    /// `authorizationUrl`.
    #[prost(string, tag = "4")]
    authorization_url: String,
    /// `description`.
    #[prost(string, tag = "5")]
    description: String,
    /// `x-` keys.
    #[prost(message, repeated, tag = "6")]
    vendor_extension: Vec<NamedAny>,
}

/// `Oauth2PasswordSecurity`.
#[derive(Clone, PartialEq, prost::Message)]
struct Oauth2PasswordSecurity {
    /// `type`.
    #[prost(string, tag = "1")]
    r#type: String,
    /// `flow`.
    #[prost(string, tag = "2")]
    flow: String,
    /// `scopes`.
    #[prost(message, optional, tag = "3")]
    scopes: Option<Oauth2Scopes>,
    /// `tokenUrl`.
    #[prost(string, tag = "4")]
    token_url: String,
    /// `description`.
    #[prost(string, tag = "5")]
    description: String,
    /// `x-` keys.
    #[prost(message, repeated, tag = "6")]
    vendor_extension: Vec<NamedAny>,
}

/// `Oauth2ApplicationSecurity`.
#[derive(Clone, PartialEq, prost::Message)]
struct Oauth2ApplicationSecurity {
    /// `type`.
    #[prost(string, tag = "1")]
    r#type: String,
    /// `flow`.
    #[prost(string, tag = "2")]
    flow: String,
    /// `scopes`.
    #[prost(message, optional, tag = "3")]
    scopes: Option<Oauth2Scopes>,
    /// `tokenUrl`.
    #[prost(string, tag = "4")]
    token_url: String,
    /// `description`.
    #[prost(string, tag = "5")]
    description: String,
    /// `x-` keys.
    #[prost(message, repeated, tag = "6")]
    vendor_extension: Vec<NamedAny>,
}

/// `Oauth2AccessCodeSecurity`.
#[derive(Clone, PartialEq, prost::Message)]
struct Oauth2AccessCodeSecurity {
    /// `type`.
    #[prost(string, tag = "1")]
    r#type: String,
    /// `flow`.
    #[prost(string, tag = "2")]
    flow: String,
    /// `scopes`.
    #[prost(message, optional, tag = "3")]
    scopes: Option<Oauth2Scopes>,
    /// `authorizationUrl`.
    #[prost(string, tag = "4")]
    authorization_url: String,
    /// `tokenUrl`.
    #[prost(string, tag = "5")]
    token_url: String,
    /// `description`.
    #[prost(string, tag = "6")]
    description: String,
    /// `x-` keys.
    #[prost(message, repeated, tag = "7")]
    vendor_extension: Vec<NamedAny>,
}

/// `Oauth2Scopes`: scope name to description.
#[derive(Clone, PartialEq, prost::Message)]
struct Oauth2Scopes {
    /// The scopes.
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedString>,
}

/// `NamedString`: one entry of a map of strings.
#[derive(Clone, PartialEq, prost::Message)]
struct NamedString {
    /// The key.
    #[prost(string, tag = "1")]
    name: String,
    /// The value.
    #[prost(string, tag = "2")]
    value: String,
}

/// `SecurityRequirement`: scheme name to the scopes required.
#[derive(Clone, PartialEq, prost::Message)]
struct SecurityRequirement {
    /// The schemes.
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedStringArray>,
}

/// `NamedStringArray`: one entry of a map of string lists.
#[derive(Clone, PartialEq, prost::Message)]
struct NamedStringArray {
    /// The key.
    #[prost(string, tag = "1")]
    name: String,
    /// The value.
    #[prost(message, optional, tag = "2")]
    value: Option<StringArray>,
}

/// `StringArray`.
#[derive(Clone, PartialEq, prost::Message)]
struct StringArray {
    /// The strings.
    #[prost(string, repeated, tag = "1")]
    value: Vec<String>,
}

// ---------------------------------------------------------------------------
// Reading JSON values.
// ---------------------------------------------------------------------------

/// A scalar as text where the proto wants a string: a JSON string, or an
/// integer written out (gnostic takes YAML `!!int` scalars as strings).
/// `null` reads as the empty string, as in gnostic.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// The string field `key` of `v`, empty when absent or not text.
fn string(v: &Value, key: &str) -> String {
    v.get(key).and_then(text).unwrap_or_default()
}

/// The boolean field `key` of `v`, false when absent or not a boolean.
fn boolean(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or_default()
}

/// The number field `key` of `v`, zero when absent or not a number.
fn number(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or_default()
}

/// The integer field `key` of `v`, zero when absent or not an integer that
/// fits in an `i64`.
fn integer(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or_default()
}

/// The members of the array `key` of `v`; none when absent or not an array.
fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The string-list field `key` of `v`: its members that are text.
fn strings(v: &Value, key: &str) -> Vec<String> {
    array(v, key).iter().filter_map(text).collect()
}

/// The field `key` of `v` if it is an object.
fn object<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|value| value.is_object())
}

/// The members of `v` (none unless it is an object), in order.
fn entries(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
    v.as_object().into_iter().flatten()
}

/// The members of `v` whose values are objects, for maps of messages.
fn members(v: &Value) -> impl Iterator<Item = (String, &Value)> {
    entries(v)
        .filter(|(_, value)| value.is_object())
        .map(|(name, value)| (name.clone(), value))
}

/// The members of the array `key` of `v` that are objects.
fn objects<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    array(v, key).iter().filter(|value| value.is_object())
}

/// Keys of at least this many characters (quotes included) are written as
/// explicit keys, `? "key":value`: YAML parsers (libyaml, go-yaml) take an
/// implicit key only if its `:` comes within 1024 characters of its start.
const LONG_KEY: usize = 1000;

/// A free-form value as the YAML text of an `Any`: the value in flow style,
/// which for all but very long keys is its compact JSON, and a newline, as
/// gnostic's text ends with one.
fn yaml(value: &Value) -> String {
    let mut out = String::new();
    write_flow(&mut out, value);
    out.push('\n');
    out
}

/// Writes `value` as a YAML flow node.
fn write_flow(out: &mut String, value: &Value) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_flow(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, member)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let start = out.len();
                write_quoted(out, key);
                if out[start..].chars().count() >= LONG_KEY {
                    out.insert_str(start, "? ");
                }
                out.push(':');
                write_flow(out, member);
            }
            out.push('}');
        }
        Value::String(s) => write_quoted(out, s),
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Writes `s` as a double-quoted scalar: its JSON string, with the code
/// points YAML does not allow raw in a document or folds as line breaks
/// inside quotes (DEL and the C1 controls, NEL among them, U+2028, U+2029,
/// the byte order mark, U+FFFE, U+FFFF) escaped as `\u`, which means the
/// same in both languages.
fn write_quoted(out: &mut String, s: &str) {
    let json = serde_json::to_string(s).unwrap_or_default();
    for c in json.chars() {
        if matches!(
            c,
            '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        ) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
}

/// A free-form value as an `Any`.
fn to_any(value: &Value) -> Any {
    Any { yaml: yaml(value) }
}

/// The free-form field `key` of `v`, if present (`null` included).
fn any_at(v: &Value, key: &str) -> Option<Any> {
    v.get(key).map(to_any)
}

/// The members of the array `key` of `v` as `Any`s (`enum`).
fn anys(v: &Value, key: &str) -> Vec<Any> {
    array(v, key).iter().map(to_any).collect()
}

/// The `x-` keys of `v`, as vendor extensions.
fn extensions(v: &Value) -> Vec<NamedAny> {
    entries(v)
        .filter(|(name, _)| name.starts_with("x-"))
        .map(|(name, value)| NamedAny {
            name: name.clone(),
            value: Some(to_any(value)),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// JSON to messages.
// ---------------------------------------------------------------------------

/// The root object.
fn document(v: &Value) -> Document {
    Document {
        swagger: string(v, "swagger"),
        info: object(v, "info").map(info),
        host: string(v, "host"),
        base_path: string(v, "basePath"),
        schemes: strings(v, "schemes"),
        consumes: strings(v, "consumes"),
        produces: strings(v, "produces"),
        paths: object(v, "paths").map(paths),
        definitions: object(v, "definitions").map(|d| Definitions {
            additional_properties: named_schemas(d),
        }),
        parameters: object(v, "parameters").map(|p| ParameterDefinitions {
            additional_properties: members(p)
                .filter_map(|(name, value)| {
                    Some(NamedParameter {
                        name,
                        value: Some(parameter(value)?),
                    })
                })
                .collect(),
        }),
        responses: object(v, "responses").map(|r| ResponseDefinitions {
            additional_properties: members(r)
                .map(|(name, value)| NamedResponse {
                    name,
                    value: Some(response(value)),
                })
                .collect(),
        }),
        security: security(v),
        security_definitions: object(v, "securityDefinitions").map(|s| SecurityDefinitions {
            additional_properties: members(s)
                .filter_map(|(name, value)| {
                    Some(NamedSecurityDefinitionsItem {
                        name,
                        value: Some(security_definition(value)?),
                    })
                })
                .collect(),
        }),
        tags: objects(v, "tags").map(tag).collect(),
        external_docs: object(v, "externalDocs").map(external_docs),
        vendor_extension: extensions(v),
    }
}

/// `info`.
fn info(v: &Value) -> Info {
    Info {
        title: string(v, "title"),
        version: string(v, "version"),
        description: string(v, "description"),
        terms_of_service: string(v, "termsOfService"),
        contact: object(v, "contact").map(|c| Contact {
            name: string(c, "name"),
            url: string(c, "url"),
            email: string(c, "email"),
            vendor_extension: extensions(c),
        }),
        license: object(v, "license").map(|l| License {
            name: string(l, "name"),
            url: string(l, "url"),
            vendor_extension: extensions(l),
        }),
        vendor_extension: extensions(v),
    }
}

/// `externalDocs`.
fn external_docs(v: &Value) -> ExternalDocs {
    ExternalDocs {
        description: string(v, "description"),
        url: string(v, "url"),
        vendor_extension: extensions(v),
    }
}

/// A member of `tags`.
fn tag(v: &Value) -> Tag {
    Tag {
        name: string(v, "name"),
        description: string(v, "description"),
        external_docs: object(v, "externalDocs").map(external_docs),
        vendor_extension: extensions(v),
    }
}

/// `paths`: the keys starting with `/` are paths.
fn paths(v: &Value) -> Paths {
    Paths {
        vendor_extension: extensions(v),
        path: members(v)
            .filter(|(name, _)| name.starts_with('/'))
            .map(|(name, value)| NamedPathItem {
                name,
                value: Some(path_item(value)),
            })
            .collect(),
    }
}

/// One path's operations.
fn path_item(v: &Value) -> PathItem {
    let op = |key| object(v, key).map(operation);
    PathItem {
        r#ref: string(v, "$ref"),
        get: op("get"),
        put: op("put"),
        post: op("post"),
        delete: op("delete"),
        options: op("options"),
        head: op("head"),
        patch: op("patch"),
        parameters: parameters(v),
        vendor_extension: extensions(v),
    }
}

/// An operation.
fn operation(v: &Value) -> Operation {
    Operation {
        tags: strings(v, "tags"),
        summary: string(v, "summary"),
        description: string(v, "description"),
        external_docs: object(v, "externalDocs").map(external_docs),
        operation_id: string(v, "operationId"),
        produces: strings(v, "produces"),
        consumes: strings(v, "consumes"),
        parameters: parameters(v),
        responses: object(v, "responses").map(responses),
        schemes: strings(v, "schemes"),
        deprecated: boolean(v, "deprecated"),
        security: security(v),
        vendor_extension: extensions(v),
    }
}

/// The `security` requirements of `v`.
fn security(v: &Value) -> Vec<SecurityRequirement> {
    objects(v, "security")
        .map(|requirement| SecurityRequirement {
            additional_properties: entries(requirement)
                .filter_map(|(name, scopes)| {
                    Some(NamedStringArray {
                        name: name.clone(),
                        value: Some(StringArray {
                            value: scopes.as_array()?.iter().filter_map(text).collect(),
                        }),
                    })
                })
                .collect(),
        })
        .collect()
}

/// The `parameters` array of a path or an operation.
fn parameters(v: &Value) -> Vec<ParametersItem> {
    objects(v, "parameters")
        .filter_map(|p| {
            let oneof = if p.get("$ref").is_some() {
                ParametersItemOneof::JsonReference(json_reference(p))
            } else {
                ParametersItemOneof::Parameter(Box::new(parameter(p)?))
            };
            Some(ParametersItem { oneof: Some(oneof) })
        })
        .collect()
}

/// A `$ref` object.
fn json_reference(v: &Value) -> JsonReference {
    JsonReference {
        r#ref: string(v, "$ref"),
        description: string(v, "description"),
    }
}

/// A parameter, by its `in`; `None` for an unknown `in`.
fn parameter(v: &Value) -> Option<Parameter> {
    let oneof = match v.get("in")?.as_str()? {
        "body" => ParameterOneof::BodyParameter(Box::new(BodyParameter {
            description: string(v, "description"),
            name: string(v, "name"),
            r#in: string(v, "in"),
            required: boolean(v, "required"),
            schema: object(v, "schema").map(schema),
            vendor_extension: extensions(v),
        })),
        location => ParameterOneof::NonBodyParameter(Box::new(NonBodyParameter {
            oneof: Some(non_body_parameter(v, location)?),
        })),
    };
    Some(Parameter { oneof: Some(oneof) })
}

/// The fields shared by simple parameters, headers and their items, read
/// once and moved into whichever message holds them.
struct Simple {
    /// `type`.
    r#type: String,
    /// `format`.
    format: String,
    /// `items`.
    items: Option<Box<PrimitivesItems>>,
    /// `collectionFormat`.
    collection_format: String,
    /// `default`.
    default: Option<Any>,
    /// `maximum`.
    maximum: f64,
    /// `exclusiveMaximum`.
    exclusive_maximum: bool,
    /// `minimum`.
    minimum: f64,
    /// `exclusiveMinimum`.
    exclusive_minimum: bool,
    /// `maxLength`.
    max_length: i64,
    /// `minLength`.
    min_length: i64,
    /// `pattern`.
    pattern: String,
    /// `maxItems`.
    max_items: i64,
    /// `minItems`.
    min_items: i64,
    /// `uniqueItems`.
    unique_items: bool,
    /// `enum`.
    r#enum: Vec<Any>,
    /// `multipleOf`.
    multiple_of: f64,
    /// `x-` keys.
    vendor_extension: Vec<NamedAny>,
}

/// Reads the [`Simple`] fields of `v`.
fn simple(v: &Value) -> Simple {
    Simple {
        r#type: string(v, "type"),
        format: string(v, "format"),
        items: object(v, "items").map(|i| Box::new(primitives_items(i))),
        collection_format: string(v, "collectionFormat"),
        default: any_at(v, "default"),
        maximum: number(v, "maximum"),
        exclusive_maximum: boolean(v, "exclusiveMaximum"),
        minimum: number(v, "minimum"),
        exclusive_minimum: boolean(v, "exclusiveMinimum"),
        max_length: integer(v, "maxLength"),
        min_length: integer(v, "minLength"),
        pattern: string(v, "pattern"),
        max_items: integer(v, "maxItems"),
        min_items: integer(v, "minItems"),
        unique_items: boolean(v, "uniqueItems"),
        r#enum: anys(v, "enum"),
        multiple_of: number(v, "multipleOf"),
        vendor_extension: extensions(v),
    }
}

/// Builds the message `$message` from the [`Simple`] fields of `$v` and the
/// message's own fields given.
macro_rules! with_simple {
    ($message:ident, $v:expr, { $($field:ident: $value:expr),* $(,)? }) => {{
        let s = simple($v);
        $message {
            $($field: $value,)*
            r#type: s.r#type,
            format: s.format,
            items: s.items,
            collection_format: s.collection_format,
            default: s.default,
            maximum: s.maximum,
            exclusive_maximum: s.exclusive_maximum,
            minimum: s.minimum,
            exclusive_minimum: s.exclusive_minimum,
            max_length: s.max_length,
            min_length: s.min_length,
            pattern: s.pattern,
            max_items: s.max_items,
            min_items: s.min_items,
            unique_items: s.unique_items,
            r#enum: s.r#enum,
            multiple_of: s.multiple_of,
            vendor_extension: s.vendor_extension,
        }
    }};
}

/// A simple parameter located `location` (`query`, `path`, …); `None` for a
/// location Swagger 2.0 does not have.
fn non_body_parameter(v: &Value, location: &str) -> Option<NonBodyParameterOneof> {
    let required = boolean(v, "required");
    let r#in = string(v, "in");
    let description = string(v, "description");
    let name = string(v, "name");
    Some(match location {
        "header" => NonBodyParameterOneof::HeaderParameterSubSchema(with_simple!(
            HeaderParameterSubSchema,
            v,
            { required: required, r#in: r#in, description: description, name: name }
        )),
        "formData" => NonBodyParameterOneof::FormDataParameterSubSchema(with_simple!(
            FormDataParameterSubSchema,
            v,
            {
                required: required,
                r#in: r#in,
                description: description,
                name: name,
                allow_empty_value: boolean(v, "allowEmptyValue"),
            }
        )),
        "query" => NonBodyParameterOneof::QueryParameterSubSchema(with_simple!(
            QueryParameterSubSchema,
            v,
            {
                required: required,
                r#in: r#in,
                description: description,
                name: name,
                allow_empty_value: boolean(v, "allowEmptyValue"),
            }
        )),
        "path" => NonBodyParameterOneof::PathParameterSubSchema(with_simple!(
            PathParameterSubSchema,
            v,
            { required: required, r#in: r#in, description: description, name: name }
        )),
        _ => return None,
    })
}

/// The `items` of a simple parameter or header.
fn primitives_items(v: &Value) -> PrimitivesItems {
    with_simple!(PrimitivesItems, v, {})
}

/// A response header.
fn header(v: &Value) -> Header {
    with_simple!(Header, v, { description: string(v, "description") })
}

/// An operation's `responses`: the keys that are a status code or
/// `default`, and the `x-` keys.
fn responses(v: &Value) -> Responses {
    let is_code = |name: &str| {
        name == "default" || (name.len() == 3 && name.bytes().all(|b| b.is_ascii_digit()))
    };
    Responses {
        response_code: members(v)
            .filter(|(name, _)| is_code(name))
            .map(|(name, value)| {
                let oneof = if value.get("$ref").is_some() {
                    ResponseValueOneof::JsonReference(json_reference(value))
                } else {
                    ResponseValueOneof::Response(Box::new(response(value)))
                };
                NamedResponseValue {
                    name,
                    value: Some(ResponseValue { oneof: Some(oneof) }),
                }
            })
            .collect(),
        vendor_extension: extensions(v),
    }
}

/// A response.
fn response(v: &Value) -> Response {
    Response {
        description: string(v, "description"),
        schema: object(v, "schema").map(schema_item),
        headers: object(v, "headers").map(|h| Headers {
            additional_properties: members(h)
                .map(|(name, value)| NamedHeader {
                    name,
                    value: Some(header(value)),
                })
                .collect(),
        }),
        examples: object(v, "examples").map(|e| Examples {
            additional_properties: entries(e)
                .map(|(name, value)| NamedAny {
                    name: name.clone(),
                    value: Some(to_any(value)),
                })
                .collect(),
        }),
        vendor_extension: extensions(v),
    }
}

/// A response's schema: a file schema for `type: file` with only the keys a
/// file schema has (as gnostic, which tries it last), a schema otherwise.
fn schema_item(v: &Value) -> SchemaItem {
    const FILE_KEYS: [&str; 9] = [
        "default",
        "description",
        "example",
        "externalDocs",
        "format",
        "readOnly",
        "required",
        "title",
        "type",
    ];
    let is_file = v.get("type").and_then(Value::as_str) == Some("file")
        && entries(v).all(|(key, _)| key.starts_with("x-") || FILE_KEYS.contains(&key.as_str()));
    let oneof = if is_file {
        SchemaItemOneof::FileSchema(Box::new(FileSchema {
            format: string(v, "format"),
            title: string(v, "title"),
            description: string(v, "description"),
            default: any_at(v, "default"),
            required: strings(v, "required"),
            r#type: string(v, "type"),
            read_only: boolean(v, "readOnly"),
            external_docs: object(v, "externalDocs").map(external_docs),
            example: any_at(v, "example"),
            vendor_extension: extensions(v),
        }))
    } else {
        SchemaItemOneof::Schema(Box::new(schema(v)))
    };
    SchemaItem { oneof: Some(oneof) }
}

/// The members of a map of schemas (`definitions`, `properties`).
fn named_schemas(v: &Value) -> Vec<NamedSchema> {
    members(v)
        .map(|(name, value)| NamedSchema {
            name,
            value: Some(schema(value)),
        })
        .collect()
}

/// A schema.
fn schema(v: &Value) -> Schema {
    Schema {
        r#ref: string(v, "$ref"),
        format: string(v, "format"),
        title: string(v, "title"),
        description: string(v, "description"),
        default: any_at(v, "default"),
        multiple_of: number(v, "multipleOf"),
        maximum: number(v, "maximum"),
        exclusive_maximum: boolean(v, "exclusiveMaximum"),
        minimum: number(v, "minimum"),
        exclusive_minimum: boolean(v, "exclusiveMinimum"),
        max_length: integer(v, "maxLength"),
        min_length: integer(v, "minLength"),
        pattern: string(v, "pattern"),
        max_items: integer(v, "maxItems"),
        min_items: integer(v, "minItems"),
        unique_items: boolean(v, "uniqueItems"),
        max_properties: integer(v, "maxProperties"),
        min_properties: integer(v, "minProperties"),
        required: strings(v, "required"),
        r#enum: anys(v, "enum"),
        additional_properties: v
            .get("additionalProperties")
            .and_then(additional_properties),
        r#type: v.get("type").and_then(type_item),
        items: object(v, "items").map(|i| ItemsItem {
            schema: vec![schema(i)],
        }),
        all_of: objects(v, "allOf").map(schema).collect(),
        properties: object(v, "properties").map(|p| Properties {
            additional_properties: named_schemas(p),
        }),
        discriminator: string(v, "discriminator"),
        read_only: boolean(v, "readOnly"),
        xml: object(v, "xml").map(|x| Xml {
            name: string(x, "name"),
            namespace: string(x, "namespace"),
            prefix: string(x, "prefix"),
            attribute: boolean(x, "attribute"),
            wrapped: boolean(x, "wrapped"),
            vendor_extension: extensions(x),
        }),
        external_docs: object(v, "externalDocs").map(external_docs),
        example: any_at(v, "example"),
        vendor_extension: extensions(v),
    }
}

/// `additionalProperties`: a schema or a boolean.
fn additional_properties(v: &Value) -> Option<AdditionalPropertiesItem> {
    let oneof = match v {
        Value::Bool(b) => AdditionalPropertiesOneof::Boolean(*b),
        Value::Object(_) => AdditionalPropertiesOneof::Schema(Box::new(schema(v))),
        _ => return None,
    };
    Some(AdditionalPropertiesItem { oneof: Some(oneof) })
}

/// `type`: one name, or an array of names.
fn type_item(v: &Value) -> Option<TypeItem> {
    let value = match v {
        Value::Array(names) => names.iter().filter_map(text).collect(),
        _ => vec![text(v)?],
    };
    Some(TypeItem { value })
}

/// A security scheme, by its `type` (and `flow` for oauth2); `None` for one
/// Swagger 2.0 does not have.
fn security_definition(v: &Value) -> Option<SecurityDefinitionsItem> {
    use SecurityDefinitionsItemOneof as Kind;
    let r#type = string(v, "type");
    let flow = string(v, "flow");
    let scopes = object(v, "scopes").map(|s| Oauth2Scopes {
        additional_properties: entries(s)
            .filter_map(|(name, value)| {
                Some(NamedString {
                    name: name.clone(),
                    value: text(value)?,
                })
            })
            .collect(),
    });
    let description = string(v, "description");
    let vendor_extension = extensions(v);
    let kind = match (r#type.as_str(), flow.as_str()) {
        ("basic", _) => Kind::BasicAuthenticationSecurity(BasicAuthenticationSecurity {
            r#type,
            description,
            vendor_extension,
        }),
        ("apiKey", _) => Kind::ApiKeySecurity(ApiKeySecurity {
            r#type,
            name: string(v, "name"),
            r#in: string(v, "in"),
            description,
            vendor_extension,
        }),
        ("oauth2", "implicit") => Kind::Oauth2ImplicitSecurity(Oauth2ImplicitSecurity {
            r#type,
            flow,
            scopes,
            authorization_url: string(v, "authorizationUrl"),
            description,
            vendor_extension,
        }),
        ("oauth2", "password") => Kind::Oauth2PasswordSecurity(Oauth2PasswordSecurity {
            r#type,
            flow,
            scopes,
            token_url: string(v, "tokenUrl"),
            description,
            vendor_extension,
        }),
        ("oauth2", "application") => Kind::Oauth2ApplicationSecurity(Oauth2ApplicationSecurity {
            r#type,
            flow,
            scopes,
            token_url: string(v, "tokenUrl"),
            description,
            vendor_extension,
        }),
        ("oauth2", "accessCode") => Kind::Oauth2AccessCodeSecurity(Oauth2AccessCodeSecurity {
            r#type,
            flow,
            scopes,
            authorization_url: string(v, "authorizationUrl"),
            token_url: string(v, "tokenUrl"),
            description,
            vendor_extension,
        }),
        _ => return None,
    };
    Some(SecurityDefinitionsItem { oneof: Some(kind) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Map, json};

    // -----------------------------------------------------------------------
    // Messages back to JSON, leaving out what proto3 leaves off the wire.
    // -----------------------------------------------------------------------

    /// A JSON object under construction; zero values are not added.
    #[derive(Default)]
    struct Obj(Map<String, Value>);

    impl Obj {
        fn put(mut self, key: &str, value: Option<Value>) -> Self {
            if let Some(value) = value {
                self.0.insert(key.to_string(), value);
            }
            self
        }

        fn str(self, key: &str, s: &str) -> Self {
            self.put(key, (!s.is_empty()).then_some(json!(s)))
        }

        fn bool(self, key: &str, b: bool) -> Self {
            self.put(key, b.then_some(json!(true)))
        }

        fn f64(self, key: &str, x: f64) -> Self {
            self.put(key, (x != 0.0).then_some(json!(x)))
        }

        fn i64(self, key: &str, x: i64) -> Self {
            self.put(key, (x != 0).then_some(json!(x)))
        }

        fn strs(self, key: &str, v: &[String]) -> Self {
            self.put(key, (!v.is_empty()).then_some(json!(v)))
        }

        fn list<T>(self, key: &str, v: &[T], f: impl Fn(&T) -> Value) -> Self {
            self.put(key, (!v.is_empty()).then(|| v.iter().map(f).collect()))
        }

        fn any(self, key: &str, a: &Option<Any>) -> Self {
            self.put(key, a.as_ref().map(from_any))
        }

        fn ext(mut self, extensions: &[NamedAny]) -> Self {
            for e in extensions {
                let value = e.value.as_ref().map_or(Value::Null, from_any);
                self.0.insert(e.name.clone(), value);
            }
            self
        }

        fn done(self) -> Value {
            Value::Object(self.0)
        }
    }

    /// Named pairs as a JSON object.
    fn pairs<'a, T: 'a>(
        v: impl IntoIterator<Item = &'a T>,
        f: impl Fn(&T) -> (String, Value),
    ) -> Value {
        Value::Object(v.into_iter().map(f).collect())
    }

    fn from_any(a: &Any) -> Value {
        serde_yaml::from_str(&a.yaml).expect("an Any holds YAML")
    }

    fn from_document(d: &Document) -> Value {
        Obj::default()
            .str("swagger", &d.swagger)
            .put("info", d.info.as_ref().map(from_info))
            .str("host", &d.host)
            .str("basePath", &d.base_path)
            .strs("schemes", &d.schemes)
            .strs("consumes", &d.consumes)
            .strs("produces", &d.produces)
            .put("paths", d.paths.as_ref().map(from_paths))
            .put(
                "definitions",
                d.definitions
                    .as_ref()
                    .map(|d| from_named_schemas(&d.additional_properties)),
            )
            .put(
                "parameters",
                d.parameters.as_ref().map(|p| {
                    pairs(&p.additional_properties, |n| {
                        (
                            n.name.clone(),
                            n.value.as_ref().map_or(Value::Null, from_parameter),
                        )
                    })
                }),
            )
            .put(
                "responses",
                d.responses.as_ref().map(|r| {
                    pairs(&r.additional_properties, |n| {
                        (
                            n.name.clone(),
                            n.value.as_ref().map_or(Value::Null, from_response),
                        )
                    })
                }),
            )
            .list("security", &d.security, from_security_requirement)
            .put(
                "securityDefinitions",
                d.security_definitions.as_ref().map(|s| {
                    pairs(&s.additional_properties, |n| {
                        (
                            n.name.clone(),
                            n.value
                                .as_ref()
                                .map_or(Value::Null, from_security_definition),
                        )
                    })
                }),
            )
            .list("tags", &d.tags, |t| {
                Obj::default()
                    .str("name", &t.name)
                    .str("description", &t.description)
                    .put(
                        "externalDocs",
                        t.external_docs.as_ref().map(from_external_docs),
                    )
                    .ext(&t.vendor_extension)
                    .done()
            })
            .put(
                "externalDocs",
                d.external_docs.as_ref().map(from_external_docs),
            )
            .ext(&d.vendor_extension)
            .done()
    }

    fn from_info(i: &Info) -> Value {
        Obj::default()
            .str("title", &i.title)
            .str("version", &i.version)
            .str("description", &i.description)
            .str("termsOfService", &i.terms_of_service)
            .put(
                "contact",
                i.contact.as_ref().map(|c| {
                    Obj::default()
                        .str("name", &c.name)
                        .str("url", &c.url)
                        .str("email", &c.email)
                        .ext(&c.vendor_extension)
                        .done()
                }),
            )
            .put(
                "license",
                i.license.as_ref().map(|l| {
                    Obj::default()
                        .str("name", &l.name)
                        .str("url", &l.url)
                        .ext(&l.vendor_extension)
                        .done()
                }),
            )
            .ext(&i.vendor_extension)
            .done()
    }

    fn from_external_docs(e: &ExternalDocs) -> Value {
        Obj::default()
            .str("description", &e.description)
            .str("url", &e.url)
            .ext(&e.vendor_extension)
            .done()
    }

    fn from_security_requirement(r: &SecurityRequirement) -> Value {
        pairs(&r.additional_properties, |n| {
            let scopes = n.value.as_ref().map_or(&[][..], |s| s.value.as_slice());
            (n.name.clone(), json!(scopes))
        })
    }

    fn from_security_definition(s: &SecurityDefinitionsItem) -> Value {
        use SecurityDefinitionsItemOneof as Kind;
        let scopes = |s: &Option<Oauth2Scopes>| {
            s.as_ref().map(|s| {
                pairs(&s.additional_properties, |n| {
                    (n.name.clone(), json!(n.value))
                })
            })
        };
        match &s.oneof {
            None => Value::Null,
            Some(Kind::BasicAuthenticationSecurity(b)) => Obj::default()
                .str("type", &b.r#type)
                .str("description", &b.description)
                .ext(&b.vendor_extension)
                .done(),
            Some(Kind::ApiKeySecurity(a)) => Obj::default()
                .str("type", &a.r#type)
                .str("name", &a.name)
                .str("in", &a.r#in)
                .str("description", &a.description)
                .ext(&a.vendor_extension)
                .done(),
            Some(Kind::Oauth2ImplicitSecurity(o)) => Obj::default()
                .str("type", &o.r#type)
                .str("flow", &o.flow)
                .put("scopes", scopes(&o.scopes))
                .str("authorizationUrl", &o.authorization_url)
                .str("description", &o.description)
                .ext(&o.vendor_extension)
                .done(),
            Some(Kind::Oauth2PasswordSecurity(o)) => Obj::default()
                .str("type", &o.r#type)
                .str("flow", &o.flow)
                .put("scopes", scopes(&o.scopes))
                .str("tokenUrl", &o.token_url)
                .str("description", &o.description)
                .ext(&o.vendor_extension)
                .done(),
            Some(Kind::Oauth2ApplicationSecurity(o)) => Obj::default()
                .str("type", &o.r#type)
                .str("flow", &o.flow)
                .put("scopes", scopes(&o.scopes))
                .str("tokenUrl", &o.token_url)
                .str("description", &o.description)
                .ext(&o.vendor_extension)
                .done(),
            Some(Kind::Oauth2AccessCodeSecurity(o)) => Obj::default()
                .str("type", &o.r#type)
                .str("flow", &o.flow)
                .put("scopes", scopes(&o.scopes))
                .str("authorizationUrl", &o.authorization_url)
                .str("tokenUrl", &o.token_url)
                .str("description", &o.description)
                .ext(&o.vendor_extension)
                .done(),
        }
    }

    fn from_paths(p: &Paths) -> Value {
        let mut out = Obj::default().ext(&p.vendor_extension);
        for path in &p.path {
            let item = path.value.as_ref().map_or(Value::Null, from_path_item);
            out.0.insert(path.name.clone(), item);
        }
        out.done()
    }

    fn from_path_item(p: &PathItem) -> Value {
        let op = |o: &Option<Operation>| o.as_ref().map(from_operation);
        Obj::default()
            .str("$ref", &p.r#ref)
            .put("get", op(&p.get))
            .put("put", op(&p.put))
            .put("post", op(&p.post))
            .put("delete", op(&p.delete))
            .put("options", op(&p.options))
            .put("head", op(&p.head))
            .put("patch", op(&p.patch))
            .list("parameters", &p.parameters, from_parameters_item)
            .ext(&p.vendor_extension)
            .done()
    }

    fn from_operation(o: &Operation) -> Value {
        Obj::default()
            .strs("tags", &o.tags)
            .str("summary", &o.summary)
            .str("description", &o.description)
            .put(
                "externalDocs",
                o.external_docs.as_ref().map(from_external_docs),
            )
            .str("operationId", &o.operation_id)
            .strs("produces", &o.produces)
            .strs("consumes", &o.consumes)
            .list("parameters", &o.parameters, from_parameters_item)
            .put("responses", o.responses.as_ref().map(from_responses))
            .strs("schemes", &o.schemes)
            .bool("deprecated", o.deprecated)
            .list("security", &o.security, from_security_requirement)
            .ext(&o.vendor_extension)
            .done()
    }

    fn from_json_reference(r: &JsonReference) -> Value {
        Obj::default()
            .str("$ref", &r.r#ref)
            .str("description", &r.description)
            .done()
    }

    fn from_parameters_item(p: &ParametersItem) -> Value {
        match &p.oneof {
            None => Value::Null,
            Some(ParametersItemOneof::Parameter(p)) => from_parameter(p),
            Some(ParametersItemOneof::JsonReference(r)) => from_json_reference(r),
        }
    }

    /// Adds the fields every simple-value message shares.
    macro_rules! put_simple {
        ($obj:expr, $s:expr) => {
            $obj.str("type", &$s.r#type)
                .str("format", &$s.format)
                .put("items", $s.items.as_deref().map(from_primitives_items))
                .str("collectionFormat", &$s.collection_format)
                .any("default", &$s.default)
                .f64("maximum", $s.maximum)
                .bool("exclusiveMaximum", $s.exclusive_maximum)
                .f64("minimum", $s.minimum)
                .bool("exclusiveMinimum", $s.exclusive_minimum)
                .i64("maxLength", $s.max_length)
                .i64("minLength", $s.min_length)
                .str("pattern", &$s.pattern)
                .i64("maxItems", $s.max_items)
                .i64("minItems", $s.min_items)
                .bool("uniqueItems", $s.unique_items)
                .list("enum", &$s.r#enum, from_any)
                .f64("multipleOf", $s.multiple_of)
                .ext(&$s.vendor_extension)
        };
    }

    fn from_parameter(p: &Parameter) -> Value {
        use NonBodyParameterOneof as Kind;
        let located = |required, r#in: &str, description: &str, name: &str| {
            Obj::default()
                .bool("required", required)
                .str("in", r#in)
                .str("description", description)
                .str("name", name)
        };
        match &p.oneof {
            None => Value::Null,
            Some(ParameterOneof::BodyParameter(b)) => Obj::default()
                .str("description", &b.description)
                .str("name", &b.name)
                .str("in", &b.r#in)
                .bool("required", b.required)
                .put("schema", b.schema.as_ref().map(from_schema))
                .ext(&b.vendor_extension)
                .done(),
            Some(ParameterOneof::NonBodyParameter(n)) => match &n.oneof {
                None => Value::Null,
                Some(Kind::HeaderParameterSubSchema(s)) => {
                    put_simple!(located(s.required, &s.r#in, &s.description, &s.name), s).done()
                }
                Some(Kind::FormDataParameterSubSchema(s)) => put_simple!(
                    located(s.required, &s.r#in, &s.description, &s.name)
                        .bool("allowEmptyValue", s.allow_empty_value),
                    s
                )
                .done(),
                Some(Kind::QueryParameterSubSchema(s)) => put_simple!(
                    located(s.required, &s.r#in, &s.description, &s.name)
                        .bool("allowEmptyValue", s.allow_empty_value),
                    s
                )
                .done(),
                Some(Kind::PathParameterSubSchema(s)) => {
                    put_simple!(located(s.required, &s.r#in, &s.description, &s.name), s).done()
                }
            },
        }
    }

    fn from_primitives_items(p: &PrimitivesItems) -> Value {
        put_simple!(Obj::default(), p).done()
    }

    fn from_responses(r: &Responses) -> Value {
        let mut out = Obj::default();
        for code in &r.response_code {
            let value = match code.value.as_ref().and_then(|v| v.oneof.as_ref()) {
                None => Value::Null,
                Some(ResponseValueOneof::Response(r)) => from_response(r),
                Some(ResponseValueOneof::JsonReference(r)) => from_json_reference(r),
            };
            out.0.insert(code.name.clone(), value);
        }
        out.ext(&r.vendor_extension).done()
    }

    fn from_response(r: &Response) -> Value {
        let schema = r.schema.as_ref().map(|s| match &s.oneof {
            None => Value::Null,
            Some(SchemaItemOneof::Schema(s)) => from_schema(s),
            Some(SchemaItemOneof::FileSchema(f)) => Obj::default()
                .str("format", &f.format)
                .str("title", &f.title)
                .str("description", &f.description)
                .any("default", &f.default)
                .strs("required", &f.required)
                .str("type", &f.r#type)
                .bool("readOnly", f.read_only)
                .put(
                    "externalDocs",
                    f.external_docs.as_ref().map(from_external_docs),
                )
                .any("example", &f.example)
                .ext(&f.vendor_extension)
                .done(),
        });
        Obj::default()
            .str("description", &r.description)
            .put("schema", schema)
            .put(
                "headers",
                r.headers.as_ref().map(|h| {
                    pairs(&h.additional_properties, |n| {
                        let header = n.value.as_ref().map_or(Value::Null, |h| {
                            put_simple!(Obj::default(), h)
                                .str("description", &h.description)
                                .done()
                        });
                        (n.name.clone(), header)
                    })
                }),
            )
            .put(
                "examples",
                r.examples.as_ref().map(|e| {
                    pairs(&e.additional_properties, |n| {
                        (
                            n.name.clone(),
                            n.value.as_ref().map_or(Value::Null, from_any),
                        )
                    })
                }),
            )
            .ext(&r.vendor_extension)
            .done()
    }

    fn from_named_schemas(schemas: &[NamedSchema]) -> Value {
        pairs(schemas, |n| {
            (
                n.name.clone(),
                n.value.as_ref().map_or(Value::Null, from_schema),
            )
        })
    }

    fn from_schema(s: &Schema) -> Value {
        let additional = s.additional_properties.as_ref().map(|a| match &a.oneof {
            None => Value::Null,
            Some(AdditionalPropertiesOneof::Schema(s)) => from_schema(s),
            Some(AdditionalPropertiesOneof::Boolean(b)) => json!(b),
        });
        // One type name reads back as a string, several as an array.
        let r#type = s.r#type.as_ref().map(|t| match t.value.as_slice() {
            [one] => json!(one),
            many => json!(many),
        });
        let items = s.items.as_ref().map(|i| match i.schema.as_slice() {
            [one] => from_schema(one),
            many => many.iter().map(from_schema).collect(),
        });
        Obj::default()
            .str("$ref", &s.r#ref)
            .str("format", &s.format)
            .str("title", &s.title)
            .str("description", &s.description)
            .any("default", &s.default)
            .f64("multipleOf", s.multiple_of)
            .f64("maximum", s.maximum)
            .bool("exclusiveMaximum", s.exclusive_maximum)
            .f64("minimum", s.minimum)
            .bool("exclusiveMinimum", s.exclusive_minimum)
            .i64("maxLength", s.max_length)
            .i64("minLength", s.min_length)
            .str("pattern", &s.pattern)
            .i64("maxItems", s.max_items)
            .i64("minItems", s.min_items)
            .bool("uniqueItems", s.unique_items)
            .i64("maxProperties", s.max_properties)
            .i64("minProperties", s.min_properties)
            .strs("required", &s.required)
            .list("enum", &s.r#enum, from_any)
            .put("additionalProperties", additional)
            .put("type", r#type)
            .put("items", items)
            .list("allOf", &s.all_of, from_schema)
            .put(
                "properties",
                s.properties
                    .as_ref()
                    .map(|p| from_named_schemas(&p.additional_properties)),
            )
            .str("discriminator", &s.discriminator)
            .bool("readOnly", s.read_only)
            .put(
                "xml",
                s.xml.as_ref().map(|x| {
                    Obj::default()
                        .str("name", &x.name)
                        .str("namespace", &x.namespace)
                        .str("prefix", &x.prefix)
                        .bool("attribute", x.attribute)
                        .bool("wrapped", x.wrapped)
                        .ext(&x.vendor_extension)
                        .done()
                }),
            )
            .put(
                "externalDocs",
                s.external_docs.as_ref().map(from_external_docs),
            )
            .any("example", &s.example)
            .ext(&s.vendor_extension)
            .done()
    }

    /// Decodes protobuf bytes as a `Document` and turns it back into JSON.
    fn decode_to_json(bytes: &[u8]) -> Value {
        from_document(&Document::decode(bytes).expect("a Document"))
    }

    // -----------------------------------------------------------------------
    // Fixed documents.
    // -----------------------------------------------------------------------

    /// The GVK upstream puts on Pod operations and the Pod definition.
    fn pod_gvk() -> Value {
        json!({ "group": "", "kind": "Pod", "version": "v1" })
    }

    /// An excerpt of upstream's `api/openapi-spec/swagger.json` (1.33),
    /// shortened but with the same shapes.
    fn kubernetes_excerpt() -> Value {
        json!({
            "swagger": "2.0",
            "info": { "title": "Kubernetes", "version": "v1.33.0" },
            "paths": {
                "/api/v1/namespaces/{namespace}/pods/{name}": {
                    "parameters": [
                        {
                            "description": "name of the Pod",
                            "in": "path",
                            "name": "name",
                            "required": true,
                            "type": "string",
                            "uniqueItems": true
                        },
                        { "$ref": "#/parameters/namespace-vgWSWtn3" },
                        { "$ref": "#/parameters/pretty-tJGM1-ng" }
                    ],
                    "patch": {
                        "consumes": [
                            "application/json-patch+json",
                            "application/merge-patch+json",
                            "application/strategic-merge-patch+json",
                            "application/apply-patch+yaml"
                        ],
                        "description": "partially update the specified Pod",
                        "operationId": "patchCoreV1NamespacedPod",
                        "parameters": [
                            { "$ref": "#/parameters/body-78PwaGsr" },
                            {
                                "description": "When present, indicates that modifications should not be persisted.",
                                "in": "query",
                                "name": "dryRun",
                                "type": "string",
                                "uniqueItems": true
                            },
                            {
                                "description": "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields.",
                                "in": "query",
                                "name": "fieldValidation",
                                "type": "string",
                                "uniqueItems": true
                            },
                            { "$ref": "#/parameters/force-tOGGb0Yi" }
                        ],
                        "produces": [
                            "application/json",
                            "application/yaml",
                            "application/vnd.kubernetes.protobuf",
                            "application/cbor"
                        ],
                        "responses": {
                            "200": {
                                "description": "OK",
                                "schema": { "$ref": "#/definitions/io.k8s.api.core.v1.Pod" }
                            },
                            "201": {
                                "description": "Created",
                                "schema": { "$ref": "#/definitions/io.k8s.api.core.v1.Pod" }
                            },
                            "401": { "description": "Unauthorized" }
                        },
                        "schemes": ["https"],
                        "tags": ["core_v1"],
                        "x-kubernetes-action": "patch",
                        "x-kubernetes-group-version-kind": pod_gvk()
                    }
                }
            },
            "definitions": {
                "io.k8s.api.core.v1.Pod": {
                    "description": "Pod is a collection of containers that can run on a host.",
                    "properties": {
                        "apiVersion": {
                            "description": "APIVersion defines the versioned schema of this representation of an object.",
                            "type": "string"
                        },
                        "metadata": {
                            "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                            "default": {},
                            "description": "Standard object's metadata."
                        },
                        "spec": {
                            "$ref": "#/definitions/io.k8s.api.core.v1.PodSpec",
                            "default": {},
                            "description": "Specification of the desired behavior of the pod."
                        }
                    },
                    "type": "object",
                    "x-kubernetes-group-version-kind": [pod_gvk()]
                },
                "io.k8s.api.core.v1.PodSpec": {
                    "description": "PodSpec is a description of a pod.",
                    "properties": {
                        "containers": {
                            "description": "List of containers belonging to the pod.",
                            "items": {
                                "$ref": "#/definitions/io.k8s.api.core.v1.Container",
                                "default": {}
                            },
                            "type": "array",
                            "x-kubernetes-list-map-keys": ["name"],
                            "x-kubernetes-list-type": "map",
                            "x-kubernetes-patch-merge-key": "name",
                            "x-kubernetes-patch-strategy": "merge"
                        },
                        "nodeSelector": {
                            "additionalProperties": { "default": "", "type": "string" },
                            "description": "NodeSelector is a selector which must be true for the pod to fit on a node.",
                            "type": "object",
                            "x-kubernetes-map-type": "atomic"
                        },
                        "restartPolicy": {
                            "description": "Restart policy for all containers within the pod.",
                            "enum": ["Always", "Never", "OnFailure"],
                            "type": "string"
                        },
                        "terminationGracePeriodSeconds": {
                            "description": "Optional duration in seconds the pod needs to terminate gracefully.",
                            "format": "int64",
                            "type": "integer"
                        }
                    },
                    "required": ["containers"],
                    "type": "object"
                },
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
                    "description": "ObjectMeta is metadata that all persisted resources must have.",
                    "properties": {
                        "name": { "description": "Name must be unique within a namespace.", "type": "string" }
                    },
                    "type": "object"
                },
                "io.k8s.apimachinery.pkg.apis.meta.v1.Patch": {
                    "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
                    "type": "object"
                }
            },
            "parameters": {
                "body-78PwaGsr": {
                    "in": "body",
                    "name": "body",
                    "required": true,
                    "schema": { "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch" }
                },
                "force-tOGGb0Yi": {
                    "description": "Force is going to \"force\" Apply requests.",
                    "in": "query",
                    "name": "force",
                    "type": "boolean",
                    "uniqueItems": true
                },
                "namespace-vgWSWtn3": {
                    "description": "object name and auth scope, such as for teams and projects",
                    "in": "path",
                    "name": "namespace",
                    "required": true,
                    "type": "string",
                    "uniqueItems": true
                },
                "pretty-tJGM1-ng": {
                    "description": "If 'true', then the output is pretty printed.",
                    "in": "query",
                    "name": "pretty",
                    "type": "string",
                    "uniqueItems": true
                }
            },
            "securityDefinitions": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "in": "header",
                    "name": "authorization",
                    "type": "apiKey"
                }
            },
            "security": [{ "BearerToken": [] }]
        })
    }

    /// A document that fills every field of every message declared here,
    /// with values proto3 keeps (no zeros, no empty strings).
    fn every_field() -> Value {
        let ext = || json!({ "x-a": [1, "two", null], "x-b": { "c": 1.5 } });
        let simple = |extra: Value| {
            let mut v = json!({
                "collectionFormat": "csv",
                "default": "d",
                "enum": ["d", 7],
                "exclusiveMaximum": true,
                "exclusiveMinimum": true,
                "format": "f",
                "items": {
                    "collectionFormat": "pipes",
                    "items": { "type": "integer", "maximum": 3.0 },
                    "type": "array"
                },
                "maxItems": 9,
                "maxLength": 8,
                "maximum": 10.5,
                "minItems": 2,
                "minLength": 1,
                "minimum": -2.5,
                "multipleOf": 0.5,
                "pattern": "^p$",
                "type": "string",
                "uniqueItems": true,
                "x-s": "s"
            });
            if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
                v.extend(extra);
            }
            v
        };
        let schema = json!({
            "$ref": "#/definitions/r",
            "additionalProperties": false,
            "allOf": [{ "type": "object" }, { "description": "second" }],
            "default": { "k": [1, 2] },
            "description": "desc",
            "discriminator": "kind",
            "enum": [1, "a", { "o": true }, null],
            "example": "ex",
            "exclusiveMaximum": true,
            "exclusiveMinimum": true,
            "externalDocs": { "description": "more", "url": "https://e.example", "x-e": 1 },
            "format": "int32",
            "items": {
                "additionalProperties": { "type": ["string", "null"] },
                "type": "object"
            },
            "maxItems": 4,
            "maxLength": 5,
            "maxProperties": 6,
            "maximum": 7.25,
            "minItems": 1,
            "minLength": 2,
            "minProperties": 3,
            "minimum": -1.0,
            "multipleOf": 2.0,
            "pattern": "^[a-z]+$",
            "properties": { "a": { "type": "string" }, "b": { "readOnly": true } },
            "readOnly": true,
            "required": ["a", "b"],
            "title": "T",
            "type": "object",
            "uniqueItems": true,
            "xml": {
                "attribute": true,
                "name": "n",
                "namespace": "ns",
                "prefix": "p",
                "wrapped": true,
                "x-x": "x"
            },
            "x-kubernetes-preserve-unknown-fields": true
        });
        let oauth = |flow: &str| {
            json!({
                "authorizationUrl": "https://a.example",
                "description": flow,
                "flow": flow,
                "scopes": { "read": "reads", "write": "writes" },
                "tokenUrl": "https://t.example",
                "type": "oauth2",
                "x-o": flow
            })
        };
        let mut implicit = oauth("implicit");
        let mut password = oauth("password");
        let mut application = oauth("application");
        for o in [&mut implicit, &mut password, &mut application] {
            if let Some(o) = o.as_object_mut() {
                o.remove(if o["flow"] == "implicit" {
                    "tokenUrl"
                } else {
                    "authorizationUrl"
                });
            }
        }
        json!({
            "basePath": "/base",
            "consumes": ["application/json"],
            "definitions": { "s": schema, "t": { "type": "string" } },
            "externalDocs": { "description": "docs", "url": "https://d.example" },
            "host": "h.example",
            "info": {
                "contact": { "email": "e@example.com", "name": "c", "url": "https://c.example", "x-c": 1 },
                "description": "about",
                "license": { "name": "Apache-2.0", "url": "https://l.example", "x-l": 2 },
                "termsOfService": "tos",
                "title": "every field",
                "version": "1",
                "x-i": "i"
            },
            "parameters": {
                "b": { "description": "body", "in": "body", "name": "b", "required": true, "schema": { "type": "object" }, "x-p": 1 },
                "q": { "in": "query", "name": "q", "type": "integer" }
            },
            "paths": {
                "/p/{id}": {
                    "$ref": "#/paths/other",
                    "delete": { "responses": { "default": { "$ref": "#/responses/r" } } },
                    "get": {
                        "consumes": ["application/x-www-form-urlencoded"],
                        "deprecated": true,
                        "description": "get it",
                        "externalDocs": { "url": "https://o.example" },
                        "operationId": "getIt",
                        "parameters": [
                            simple(json!({ "description": "h", "in": "header", "name": "X-H", "required": true })),
                            simple(json!({ "allowEmptyValue": true, "description": "f", "in": "formData", "name": "f", "required": true })),
                            simple(json!({ "allowEmptyValue": true, "description": "q", "in": "query", "name": "q", "required": true })),
                            simple(json!({ "description": "p", "in": "path", "name": "id", "required": true })),
                            { "$ref": "#/parameters/b", "description": "ref" }
                        ],
                        "produces": ["application/octet-stream"],
                        "responses": {
                            "200": {
                                "description": "a file",
                                "examples": { "application/json": { "a": 1 }, "text/plain": "hi" },
                                "headers": { "X-Rate": simple(json!({ "description": "rate" })) },
                                "schema": {
                                    "default": "d",
                                    "description": "the file",
                                    "example": "e",
                                    "externalDocs": { "url": "https://f.example" },
                                    "format": "binary",
                                    "readOnly": true,
                                    "required": ["x"],
                                    "title": "F",
                                    "type": "file",
                                    "x-f": "f"
                                },
                                "x-r": "r"
                            },
                            "x-rs": "rs"
                        },
                        "schemes": ["https", "wss"],
                        "security": [{ "oauth": ["read", "write"] }, { "key": [] }],
                        "summary": "sum",
                        "tags": ["t1", "t2"],
                        "x-op": { "k": 1 }
                    },
                    "head": { "responses": { "204": { "description": "none" } } },
                    "options": { "responses": { "200": { "description": "ok" } } },
                    "parameters": [{ "$ref": "#/parameters/q" }],
                    "post": { "responses": { "201": { "description": "made", "schema": { "type": "object" } } } },
                    "put": { "responses": { "200": { "description": "put" } } },
                    "patch": { "responses": { "200": { "description": "patched" } } },
                    "x-path": "p"
                },
                "x-paths": "ps"
            },
            "produces": ["application/json", "application/yaml"],
            "responses": {
                "r": { "description": "shared", "schema": { "$ref": "#/definitions/s" } }
            },
            "schemes": ["https"],
            "security": [{ "key": [] }],
            "securityDefinitions": {
                "application": application,
                "basic": { "description": "basic", "type": "basic", "x-b": "b" },
                "code": oauth("accessCode"),
                "implicit": implicit,
                "key": { "description": "key", "in": "header", "name": "authorization", "type": "apiKey", "x-k": "k" },
                "password": password
            },
            "swagger": "2.0",
            "tags": [{ "description": "tag", "externalDocs": { "url": "https://t.example" }, "name": "t1", "x-t": "t" }],
            "x-doc": ext()
        })
    }

    // -----------------------------------------------------------------------
    // Tests on fixed documents.
    // -----------------------------------------------------------------------

    /// The simple parameter a member of `parameters` holds, if it holds one.
    fn non_body(item: &ParametersItem) -> Option<&NonBodyParameterOneof> {
        let Some(ParametersItemOneof::Parameter(p)) = &item.oneof else {
            return None;
        };
        let Some(ParameterOneof::NonBodyParameter(n)) = &p.oneof else {
            return None;
        };
        n.oneof.as_ref()
    }

    #[test]
    fn kubernetes_shapes() {
        let doc = Document::decode(encode_v2(&kubernetes_excerpt()).as_slice()).unwrap();
        assert_eq!(doc.swagger, "2.0");
        let info = doc.info.as_ref().unwrap();
        assert_eq!(
            (info.title.as_str(), info.version.as_str()),
            ("Kubernetes", "v1.33.0")
        );

        // The PATCH operation: its GVK extension and its own fieldValidation
        // parameter, as cli-runtime's query_param_verifier looks for them.
        let paths = doc.paths.as_ref().unwrap();
        let [path] = paths.path.as_slice() else {
            panic!("one path: {paths:?}")
        };
        assert_eq!(path.name, "/api/v1/namespaces/{namespace}/pods/{name}");
        let item = path.value.as_ref().unwrap();
        let patch = item.patch.as_ref().unwrap();
        assert_eq!(patch.operation_id, "patchCoreV1NamespacedPod");
        let gvk = patch
            .vendor_extension
            .iter()
            .find(|e| e.name == "x-kubernetes-group-version-kind")
            .and_then(|e| e.value.as_ref())
            .unwrap();
        let parsed: std::collections::BTreeMap<String, String> =
            serde_yaml::from_str(&gvk.yaml).unwrap();
        assert_eq!(
            parsed,
            [("group", ""), ("kind", "Pod"), ("version", "v1")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into()
        );
        let query = patch
            .parameters
            .iter()
            .find_map(|p| match non_body(p) {
                Some(NonBodyParameterOneof::QueryParameterSubSchema(q))
                    if q.name == "fieldValidation" =>
                {
                    Some(q)
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(
            (query.r#in.as_str(), query.r#type.as_str()),
            ("query", "string")
        );
        assert!(query.unique_items);
        assert!(matches!(
            &patch.parameters[0].oneof,
            Some(ParametersItemOneof::JsonReference(r)) if r.r#ref == "#/parameters/body-78PwaGsr"
        ));
        let responses = &patch.responses.as_ref().unwrap().response_code;
        let codes: Vec<_> = responses.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(codes, ["200", "201", "401"]);
        let Some(ResponseValueOneof::Response(ok)) =
            responses[0].value.as_ref().and_then(|v| v.oneof.as_ref())
        else {
            panic!("a response")
        };
        assert!(matches!(
            ok.schema.as_ref().and_then(|s| s.oneof.as_ref()),
            Some(SchemaItemOneof::Schema(s)) if s.r#ref == "#/definitions/io.k8s.api.core.v1.Pod"
        ));
        // The path-level parameter `name` is a path parameter.
        assert!(matches!(
            non_body(&item.parameters[0]),
            Some(NonBodyParameterOneof::PathParameterSubSchema(p)) if p.name == "name" && p.required
        ));

        // Definitions.
        let definitions = &doc.definitions.as_ref().unwrap().additional_properties;
        let definition = |name: &str| {
            definitions
                .iter()
                .find(|d| d.name == name)
                .and_then(|d| d.value.as_ref())
                .unwrap()
        };
        let props = |schema: &Schema| schema.properties.clone().unwrap().additional_properties;
        let pod = definition("io.k8s.api.core.v1.Pod");
        assert_eq!(pod.r#type.as_ref().unwrap().value, ["object"]);
        let pod_props = props(pod);
        let names: Vec<_> = pod_props.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["apiVersion", "metadata", "spec"]);
        let metadata = pod_props[1].value.as_ref().unwrap();
        assert_eq!(
            metadata.r#ref,
            "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert_eq!(metadata.default.as_ref().unwrap().yaml, "{}\n");
        let api_version = pod_props[0].value.as_ref().unwrap();
        assert_eq!(api_version.r#type.as_ref().unwrap().value, ["string"]);
        let pod_gvks: Vec<std::collections::BTreeMap<String, String>> =
            serde_yaml::from_str(&pod.vendor_extension[0].value.as_ref().unwrap().yaml).unwrap();
        assert_eq!(pod_gvks.len(), 1);
        assert_eq!(pod_gvks[0]["kind"], "Pod");

        let spec = definition("io.k8s.api.core.v1.PodSpec");
        assert_eq!(spec.required, ["containers"]);
        let spec_props = props(spec);
        let containers = spec_props[0].value.as_ref().unwrap();
        let extensions: Vec<_> = containers
            .vendor_extension
            .iter()
            .map(|e| (e.name.as_str(), from_any(e.value.as_ref().unwrap())))
            .collect();
        assert_eq!(
            extensions,
            [
                ("x-kubernetes-list-map-keys", json!(["name"])),
                ("x-kubernetes-list-type", json!("map")),
                ("x-kubernetes-patch-merge-key", json!("name")),
                ("x-kubernetes-patch-strategy", json!("merge")),
            ]
        );
        assert_eq!(
            containers.items.as_ref().unwrap().schema[0].r#ref,
            "#/definitions/io.k8s.api.core.v1.Container"
        );
        let node_selector = spec_props[1].value.as_ref().unwrap();
        let Some(AdditionalPropertiesOneof::Schema(values)) = node_selector
            .additional_properties
            .as_ref()
            .and_then(|a| a.oneof.as_ref())
        else {
            panic!("an additionalProperties schema")
        };
        assert_eq!(values.r#type.as_ref().unwrap().value, ["string"]);
        assert_eq!(values.default.as_ref().unwrap().yaml, "\"\"\n");
        let restart = spec_props[2].value.as_ref().unwrap();
        let members: Vec<_> = restart.r#enum.iter().map(from_any).collect();
        assert_eq!(
            members,
            [json!("Always"), json!("Never"), json!("OnFailure")]
        );
        let grace = spec_props[3].value.as_ref().unwrap();
        assert_eq!(grace.format, "int64");

        // Shared parameters and security.
        let shared = &doc.parameters.as_ref().unwrap().additional_properties;
        assert!(matches!(
            shared[0].value.as_ref().and_then(|p| p.oneof.as_ref()),
            Some(ParameterOneof::BodyParameter(b))
                if b.required && b.schema.as_ref().unwrap().r#ref.ends_with(".Patch")
        ));
        let schemes = &doc
            .security_definitions
            .as_ref()
            .unwrap()
            .additional_properties;
        assert_eq!(schemes[0].name, "BearerToken");
        assert!(matches!(
            schemes[0].value.as_ref().and_then(|s| s.oneof.as_ref()),
            Some(SecurityDefinitionsItemOneof::ApiKeySecurity(k))
                if k.name == "authorization" && k.r#in == "header" && k.r#type == "apiKey"
        ));
        assert_eq!(doc.security[0].additional_properties[0].name, "BearerToken");
    }

    #[test]
    fn fixed_documents_round_trip() {
        for doc in [kubernetes_excerpt(), every_field()] {
            assert_eq!(decode_to_json(&encode_v2(&doc)), doc);
        }
    }

    /// gnostic's own encoding of [`every_field`], in base64: the document's
    /// JSON (as `serde_json::to_vec` writes it) through gnostic-models'
    /// `openapi_v2.ParseDocument` and `proto.Marshal` (gnostic-models
    /// a84a29e with Go 1.19, yaml.v3 3.0.1 and google.golang.org/protobuf
    /// 1.28.1), which upstream's `handler.ToProtoBinary` also does.
    const GNOSTIC_EVERY_FIELD: &[&str] = &[
        "CgMyLjASiwEKC2V2ZXJ5IGZpZWxkEgExGgVhYm91dCIDdG9zKjIKAWMSEWh0dHBzOi8vYy5leGFtcGxlGg1lQGV4YW1wbGUu",
        "Y29tIgsKA3gtYxIEEgIxCjIsCgpBcGFjaGUtMi4wEhFodHRwczovL2wuZXhhbXBsZRoLCgN4LWwSBBICMgo6CwoDeC1pEgQS",
        "AmkKGgloLmV4YW1wbGUiBS9iYXNlKgVodHRwczIQYXBwbGljYXRpb24vanNvbjoQYXBwbGljYXRpb24vanNvbjoQYXBwbGlj",
        "YXRpb24veWFtbEKwCwoQCgd4LXBhdGhzEgUSA3BzChKbCwoHL3Ave2lkfRKPCwoNIy9wYXRocy9vdGhlchK/CQoCdDEKAnQy",
        "EgNzdW0aBmdldCBpdCITEhFodHRwczovL28uZXhhbXBsZSoFZ2V0SXQyGGFwcGxpY2F0aW9uL29jdGV0LXN0cmVhbTohYXBw",
        "bGljYXRpb24veC13d3ctZm9ybS11cmxlbmNvZGVkQqQBCqEBEp4BCpsBCAESBmhlYWRlchoBaCIDWC1IKgZzdHJpbmcyAWY6",
        "IgoFYXJyYXkaEgoHaW50ZWdlcjEAAAAAAAAIQCIFcGlwZXNCA2NzdkoEEgJkClEAAAAAAAAlQFgBYQAAAAAAAATAaAFwCHgB",
        "ggEDXnAkiAEJkAECmAEBogEEEgJkCqIBBBICNwqpAQAAAAAAAOA/sgELCgN4LXMSBBICcwpCpwEKpAESoQESngEIARIIZm9y",
        "bURhdGEaAWYiAWYoATIGc3RyaW5nOgFmQiIKBWFycmF5GhIKB2ludGVnZXIxAAAAAAAACEAiBXBpcGVzSgNjc3ZSBBICZApZ",
        "AAAAAAAAJUBgAWkAAAAAAAAEwHABeAiAAQGKAQNecCSQAQmYAQKgAQGqAQQSAmQKqgEEEgI3CrEBAAAAAAAA4D+6AQsKA3gt",
        "cxIEEgJzCkKkAQqhARKeARqbAQgBEgVxdWVyeRoBcSIBcSgBMgZzdHJpbmc6AWZCIgoFYXJyYXkaEgoHaW50ZWdlcjEAAAAA",
        "AAAIQCIFcGlwZXNKA2NzdlIEEgJkClkAAAAAAAAlQGABaQAAAAAAAATAcAF4CIABAYoBA15wJJABCZgBAqABAaoBBBICZAqq",
        "AQQSAjcKsQEAAAAAAADgP7oBCwoDeC1zEgQSAnMKQqEBCp4BEpsBIpgBCAESBHBhdGgaAXAiAmlkKgZzdHJpbmcyAWY6IgoF",
        "YXJyYXkaEgoHaW50ZWdlcjEAAAAAAAAIQCIFcGlwZXNCA2NzdkoEEgJkClEAAAAAAAAlQFgBYQAAAAAAAATAaAFwCHgBggED",
        "XnAkiAEJkAECmAEBogEEEgJkCqIBBBICNwqpAQAAAAAAAOA/sgELCgN4LXMSBBICcwpCFxIVCg4jL3BhcmFtZXRlcnMvYhID",
        "cmVmStUCCsMCCgMyMDASuwIKuAIKBmEgZmlsZRJQEk4KBmJpbmFyeRIBRhoIdGhlIGZpbGUiBBICZAoqAXgyBGZpbGU4AUIT",
        "EhFodHRwczovL2YuZXhhbXBsZUoEEgJlClILCgN4LWYSBBICZgoamgEKlwEKBlgtUmF0ZRKMAQoGc3RyaW5nEgFmGiIKBWFy",
        "cmF5GhIKB2ludGVnZXIxAAAAAAAACEAiBXBpcGVzIgNjc3YqBBICZAoxAAAAAAAAJUA4AUEAAAAAAAAEwEgBUAhYAWIDXnAk",
        "aAlwAngBggEEEgJkCoIBBBICNwqJAQAAAAAAAOA/kgEEcmF0ZZoBCwoDeC1zEgQSAnMKIjIKGwoQYXBwbGljYXRpb24vanNv",
        "bhIHEgVhOiAxCgoTCgp0ZXh0L3BsYWluEgUSA2hpCioLCgN4LXISBBICcgoSDQoEeC1ycxIFEgNycwpSBWh0dHBzUgN3c3NY",
        "AWIYChYKBW9hdXRoEg0KBHJlYWQKBXdyaXRlYgkKBwoDa2V5EgBqDwoEeC1vcBIHEgVrOiAxChoSShAKDgoDMjAwEgcKBQoD",
        "cHV0IiJKIAoeCgMyMDESFwoVCgRtYWRlEg0KC7IBCAoGb2JqZWN0KiBKHgocCgdkZWZhdWx0EhESDwoNIy9yZXNwb25zZXMv",
        "cjIRSg8KDQoDMjAwEgYKBAoCb2s6E0oRCg8KAzIwNBIICgYKBG5vbmVCFkoUChIKAzIwMBILCgkKB3BhdGNoZWRKEhIQCg4j",
        "L3BhcmFtZXRlcnMvcVIOCgZ4LXBhdGgSBBICcApKswMKngMKAXMSmAMKDyMvZGVmaW5pdGlvbnMvchIFaW50MzIaAVQiBGRl",
        "c2MqFRITazoKICAgIC0gMQogICAgLSAyCjEAAAAAAAAAQDkAAAAAAAAdQEABSQAAAAAAAPC/UAFYBWACagheW2Etel0rJHAE",
        "eAGAAQGIAQaQAQOaAQFhmgEBYqIBBBICMQqiAQQSAmEKogEKEghvOiB0cnVlCqIBBxIFbnVsbAqqAQIQALIBCAoGb2JqZWN0",
        "ugEjCiGqARMKEbIBDgoGc3RyaW5nCgRudWxssgEICgZvYmplY3TCAQuyAQgKBm9iamVjdMIBCCIGc2Vjb25kygEcChAKAWES",
        "C7IBCAoGc3RyaW5nCggKAWISA9gBAdIBBGtpbmTYAQHiARsKAW4SAm5zGgFwIAEoATILCgN4LXgSBBICeArqASYKBG1vcmUS",
        "EWh0dHBzOi8vZS5leGFtcGxlGgsKA3gtZRIEEgIxCvIBBRIDZXgK+gEvCiR4LWt1YmVybmV0ZXMtcHJlc2VydmUtdW5rbm93",
        "bi1maWVsZHMSBxIFdHJ1ZQoKEAoBdBILsgEICgZzdHJpbmdSUgoyCgFiEi0KKwoEYm9keRIBYhoEYm9keSABKguyAQgKBm9i",
        "amVjdDILCgN4LXASBBICMQoKHAoBcRIXEhUaExIFcXVlcnkiAXEyB2ludGVnZXJaJAoiCgFyEh0KBnNoYXJlZBITChEKDyMv",
        "ZGVmaW5pdGlvbnMvc2IJCgcKA2tleRIAatsECn8KC2FwcGxpY2F0aW9uEnAqbgoGb2F1dGgyEgthcHBsaWNhdGlvbhogCg0K",
        "BHJlYWQSBXJlYWRzCg8KBXdyaXRlEgZ3cml0ZXMiEWh0dHBzOi8vdC5leGFtcGxlKgthcHBsaWNhdGlvbjIVCgN4LW8SDhIM",
        "YXBwbGljYXRpb24KCiYKBWJhc2ljEh0KGwoFYmFzaWMSBWJhc2ljGgsKA3gtYhIEEgJiCgqJAQoEY29kZRKAATJ+CgZvYXV0",
        "aDISCmFjY2Vzc0NvZGUaIAoNCgRyZWFkEgVyZWFkcwoPCgV3cml0ZRIGd3JpdGVzIhFodHRwczovL2EuZXhhbXBsZSoRaHR0",
        "cHM6Ly90LmV4YW1wbGUyCmFjY2Vzc0NvZGU6FAoDeC1vEg0SC2FjY2Vzc0NvZGUKCnMKCGltcGxpY2l0EmcaZQoGb2F1dGgy",
        "EghpbXBsaWNpdBogCg0KBHJlYWQSBXJlYWRzCg8KBXdyaXRlEgZ3cml0ZXMiEWh0dHBzOi8vYS5leGFtcGxlKghpbXBsaWNp",
        "dDISCgN4LW8SCxIJaW1wbGljaXQKCjoKA2tleRIzEjEKBmFwaUtleRINYXV0aG9yaXphdGlvbhoGaGVhZGVyIgNrZXkqCwoD",
        "eC1rEgQSAmsKCnMKCHBhc3N3b3JkEmciZQoGb2F1dGgyEghwYXNzd29yZBogCg0KBHJlYWQSBXJlYWRzCg8KBXdyaXRlEgZ3",
        "cml0ZXMiEWh0dHBzOi8vdC5leGFtcGxlKghwYXNzd29yZDISCgN4LW8SCxIJcGFzc3dvcmQKcisKAnQxEgN0YWcaExIRaHR0",
        "cHM6Ly90LmV4YW1wbGUiCwoDeC10EgQSAnQKehkKBGRvY3MSEWh0dHBzOi8vZC5leGFtcGxlggE9CgV4LWRvYxI0EjJ4LWE6",
        "CiAgICAtIDEKICAgIC0gdHdvCiAgICAtIG51bGwKeC1iOgogICAgYzogMS41Cg==",
    ];

    #[test]
    fn gnostic_encoding_decodes_to_the_same_document() {
        use base64::Engine as _;
        let golden = base64::engine::general_purpose::STANDARD
            .decode(GNOSTIC_EVERY_FIELD.concat())
            .unwrap();
        let decoded = Document::decode(golden.as_slice()).unwrap();
        // Every field gnostic wrote has a field here with its number and
        // type: nothing was skipped as unknown, and writing the message
        // again gives gnostic's bytes.
        assert_eq!(decoded.encode_to_vec(), golden);
        // And each field holds what gnostic put in it.
        assert_eq!(from_document(&decoded), every_field());
        // Our encoding differs only in the text of the `Any`s.
        let ours = Document::decode(encode_v2(&every_field()).as_slice()).unwrap();
        assert_eq!(from_document(&ours), from_document(&decoded));
    }

    #[test]
    fn any_text_is_yaml_of_the_same_value() {
        let long_key = "k".repeat(2 * LONG_KEY);
        let value = json!({
            "<<": "yes",
            "on": ["no", "~", "null", "1e3", "0x1F", "2001-12-14", "", " ", "a: b", "#"],
            "controls": "\u{0}\u{7}\u{1b}\u{7f}\u{85}\u{9f}\t\r\n",
            "separators": "\u{2028}\u{2029}\u{feff}\u{fffe}\u{ffff}",
            "unicode": "é😀",
            "numbers": [0, -1, 1.5, 1e300, -0.0, u64::MAX, i64::MIN, 0.1],
            "nested": [[], {}, [null, true, false]],
            long_key.clone(): { long_key: 1 },
        });
        let text = yaml(&value);
        assert!(text.ends_with('\n'));
        assert!(text.contains("? \""), "long keys are explicit: {text}");
        for c in ['\u{85}', '\u{2028}', '\u{feff}'] {
            assert!(!text.contains(c), "{c:?} is escaped");
        }
        assert_eq!(serde_yaml::from_str::<Value>(&text).unwrap(), value);
        assert_eq!(yaml(&json!("merge")), "\"merge\"\n");
        assert_eq!(
            yaml(&json!({ "group": "", "kind": "Pod" })),
            "{\"group\":\"\",\"kind\":\"Pod\"}\n"
        );
    }

    #[test]
    fn wrong_types_are_skipped() {
        let doc = json!({
            "swagger": 2,
            "info": "nope",
            "host": 1.5,
            "schemes": "https",
            "paths": {
                "no-slash": {},
                "/p": {
                    "get": [],
                    "put": {
                        "parameters": [
                            5,
                            { "in": "cookie", "name": "c" },
                            { "in": 7, "name": "n" },
                            { "in": "query", "name": "q", "required": "yes", "maxLength": 1.5 },
                        ],
                        "responses": { "2xx": { "description": "no" }, "200": "no", "default": { "description": true } },
                    },
                },
            },
            "definitions": {
                "A": {
                    "type": 5,
                    "required": ["a", 1, null, true, {}],
                    "properties": { "a": true, "b": { "type": ["string", false] } },
                    "additionalProperties": "no",
                    "items": [{ "type": "string" }],
                    "allOf": [1, { "title": "t" }],
                    "maximum": "big",
                    "maxLength": 1e20,
                    "readOnly": 1,
                },
                "B": [],
            },
            "securityDefinitions": { "s": { "type": "oauth2", "flow": "other" }, "k": { "type": "apiKey" } },
            "security": [{ "k": "nope", "s": [] }, 3],
            "tags": ["t", { "name": "u" }],
        });
        let decoded = Document::decode(encode_v2(&doc).as_slice()).unwrap();
        assert_eq!(decoded.swagger, "2");
        assert_eq!((decoded.info.is_none(), decoded.host.as_str()), (true, ""));
        assert!(decoded.schemes.is_empty());
        assert_eq!(
            from_document(&decoded),
            json!({
                "swagger": "2",
                "paths": {
                    "/p": {
                        "put": {
                            "parameters": [{ "in": "query", "name": "q" }],
                            "responses": { "default": {} },
                        },
                    },
                },
                "definitions": {
                    "A": {
                        "type": "5",
                        "required": ["a", "1", ""],
                        "properties": { "b": { "type": "string" } },
                        "allOf": [{ "title": "t" }],
                    },
                },
                "securityDefinitions": { "k": { "type": "apiKey" } },
                "security": [{ "s": [] }],
                "tags": [{ "name": "u" }],
            })
        );
    }

    // -----------------------------------------------------------------------
    // Generated documents.
    // -----------------------------------------------------------------------

    /// A name for a definition, a property or a parameter.
    fn word() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9.-]{0,7}"
    }

    /// Text that proto3 keeps (not empty), any Unicode.
    fn prose() -> impl Strategy<Value = Value> {
        any::<String>()
            .prop_filter("not empty", |s| !s.is_empty())
            .prop_map(Value::String)
    }

    /// A free-form value: `default`, `example`, `enum` members, extensions.
    fn free() -> BoxedStrategy<Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
    }

    /// `x-` keys and their values.
    fn extension_members() -> impl Strategy<Value = Vec<(String, Value)>> {
        prop::collection::vec(("x-[a-z-]{1,12}", free()), 0..3)
    }

    /// An optional member `key` of an object under construction.
    fn member(
        key: &'static str,
        value: impl Strategy<Value = Value>,
    ) -> impl Strategy<Value = Option<(String, Value)>> {
        prop::option::of(value.prop_map(move |v| (key.to_string(), v)))
    }

    /// Builds an object from generated members.
    fn assemble(
        members: impl IntoIterator<Item = Option<(String, Value)>>,
        extensions: Vec<(String, Value)>,
    ) -> Value {
        Value::Object(members.into_iter().flatten().chain(extensions).collect())
    }

    /// A non-zero number, as an `f64` (the proto's doubles read back so).
    fn double() -> impl Strategy<Value = Value> {
        (-4000i32..4000)
            .prop_filter("non-zero", |n| *n != 0)
            .prop_map(|n| json!(f64::from(n) / 8.0))
    }

    /// A non-zero integer.
    fn int64() -> impl Strategy<Value = Value> {
        any::<i64>()
            .prop_filter("non-zero", |n| *n != 0)
            .prop_map(Value::from)
    }

    /// A list of one to three words.
    fn words() -> impl Strategy<Value = Value> {
        prop::collection::vec(word(), 1..4).prop_map(|w| json!(w))
    }

    /// The members of a schema other than the nested schemas.
    fn schema_members() -> BoxedStrategy<Vec<Option<(String, Value)>>> {
        (
            (
                member(
                    "$ref",
                    word().prop_map(|w| json!(format!("#/definitions/{w}"))),
                ),
                member("description", prose()),
                member("title", prose()),
                member("format", word().prop_map(Value::String)),
                member(
                    "type",
                    prop_oneof![
                        word().prop_map(Value::String),
                        prop::collection::vec(word(), 2..4).prop_map(|w| json!(w)),
                    ],
                ),
                member("required", words()),
                member(
                    "enum",
                    prop::collection::vec(free(), 1..4).prop_map(Value::Array),
                ),
                member("default", free()),
                member("example", free()),
                member("readOnly", Just(json!(true))),
            ),
            (
                member("maximum", double()),
                member("minimum", double()),
                member("multipleOf", double()),
                member("exclusiveMaximum", Just(json!(true))),
                member("maxLength", int64()),
                member("minItems", int64()),
                member("maxProperties", int64()),
                member("pattern", prose()),
                member("uniqueItems", Just(json!(true))),
                member("discriminator", word().prop_map(Value::String)),
            ),
        )
            .prop_map(|(a, b)| {
                let (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9) = a;
                let (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9) = b;
                vec![
                    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9,
                ]
            })
            .boxed()
    }

    /// A schema, with nested `properties`, `items`, `additionalProperties`
    /// and `allOf`.
    fn schema_value() -> BoxedStrategy<Value> {
        let leaf = (schema_members(), extension_members()).prop_map(|(m, e)| assemble(m, e));
        leaf.prop_recursive(3, 24, 4, |inner| {
            (
                schema_members(),
                extension_members(),
                member(
                    "properties",
                    prop::collection::btree_map(word(), inner.clone(), 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ),
                member("items", inner.clone()),
                member(
                    "additionalProperties",
                    prop_oneof![any::<bool>().prop_map(Value::Bool), inner.clone()],
                ),
                member(
                    "allOf",
                    prop::collection::vec(inner, 1..3).prop_map(Value::Array),
                ),
            )
                .prop_map(|(mut m, e, properties, items, additional, all_of)| {
                    m.extend([properties, items, additional, all_of]);
                    assemble(m, e)
                })
        })
        .boxed()
    }

    /// A parameter: a simple one of each location, a body one, or a `$ref`.
    fn parameter_value() -> BoxedStrategy<Value> {
        let simple = (
            prop::sample::select(vec!["query", "path", "header", "formData"]),
            word(),
            (
                member("description", prose()),
                member("required", Just(json!(true))),
                member("type", word().prop_map(Value::String)),
                member("uniqueItems", Just(json!(true))),
                member("default", free()),
                member(
                    "enum",
                    prop::collection::vec(free(), 1..3).prop_map(Value::Array),
                ),
                member("maxLength", int64()),
                member("minimum", double()),
                member(
                    "items",
                    (word(), extension_members())
                        .prop_map(|(t, e)| assemble([Some(("type".to_string(), json!(t)))], e)),
                ),
            ),
            extension_members(),
        )
            .prop_map(|(location, name, (a, b, c, d, e, f, g, h, i), ext)| {
                let mut members = vec![
                    Some(("in".to_string(), json!(location))),
                    Some(("name".to_string(), json!(name))),
                ];
                members.extend([a, b, c, d, e, f, g, h, i]);
                assemble(members, ext)
            });
        let body = (
            word(),
            member("description", prose()),
            schema_value(),
            extension_members(),
        )
            .prop_map(|(name, description, schema, ext)| {
                let members = [
                    Some(("in".to_string(), json!("body"))),
                    Some(("name".to_string(), json!(name))),
                    description,
                    Some(("schema".to_string(), schema)),
                ];
                assemble(members, ext)
            });
        let reference = word().prop_map(|w| json!({ "$ref": format!("#/parameters/{w}") }));
        prop_oneof![simple, body, reference].boxed()
    }

    /// An operation with parameters and responses.
    fn operation_value() -> BoxedStrategy<Value> {
        let response = prop_oneof![
            (
                prose(),
                prop::option::of(schema_value()),
                extension_members()
            )
                .prop_map(|(description, schema, ext)| {
                    let members = [
                        Some(("description".to_string(), description)),
                        schema.map(|s| ("schema".to_string(), s)),
                    ];
                    assemble(members, ext)
                }),
            word().prop_map(|w| json!({ "$ref": format!("#/responses/{w}") })),
        ];
        (
            member("operationId", word().prop_map(Value::String)),
            member("description", prose()),
            member("tags", words()),
            member("consumes", words()),
            member("produces", words()),
            member("deprecated", Just(json!(true))),
            member(
                "parameters",
                prop::collection::vec(parameter_value(), 1..4).prop_map(Value::Array),
            ),
            member(
                "responses",
                (
                    prop::collection::btree_map(
                        prop::sample::select(vec!["200", "201", "401", "default"]),
                        response,
                        0..3,
                    ),
                    extension_members(),
                )
                    .prop_map(|(codes, ext)| {
                        assemble(
                            codes.into_iter().map(|(c, r)| Some((c.to_string(), r))),
                            ext,
                        )
                    }),
            ),
            extension_members(),
        )
            .prop_map(|(a, b, c, d, e, f, g, h, ext)| assemble([a, b, c, d, e, f, g, h], ext))
            .boxed()
    }

    /// A Swagger 2.0 document.
    fn document_value() -> BoxedStrategy<Value> {
        let path_item = (
            prop::collection::btree_map(
                prop::sample::select(vec!["get", "put", "post", "delete", "patch", "head"]),
                operation_value(),
                0..3,
            ),
            member(
                "parameters",
                prop::collection::vec(parameter_value(), 1..3).prop_map(Value::Array),
            ),
            extension_members(),
        )
            .prop_map(|(ops, parameters, ext)| {
                let ops = ops.into_iter().map(|(m, o)| Some((m.to_string(), o)));
                assemble(ops.chain([parameters]), ext)
            });
        (
            (prose(), prose(), extension_members()).prop_map(|(title, version, ext)| {
                assemble(
                    [
                        Some(("title".to_string(), title)),
                        Some(("version".to_string(), version)),
                    ],
                    ext,
                )
            }),
            prop::collection::btree_map("/[a-z{}/]{0,12}", path_item, 0..3),
            prop::collection::btree_map(word(), schema_value(), 0..4),
            extension_members(),
            any::<bool>(),
        )
            .prop_map(|(info, paths, definitions, ext, secured)| {
                let mut doc = json!({
                    "swagger": "2.0",
                    "info": info,
                    "paths": paths,
                    "definitions": definitions,
                });
                if secured {
                    doc["securityDefinitions"] = json!({
                        "BearerToken": {
                            "description": "Bearer Token authentication",
                            "in": "header",
                            "name": "authorization",
                            "type": "apiKey"
                        }
                    });
                    doc["security"] = json!([{ "BearerToken": [] }]);
                }
                if let Some(doc) = doc.as_object_mut() {
                    doc.extend(ext);
                }
                doc
            })
            .boxed()
    }

    /// Arbitrary JSON whose keys are often Swagger's, so that it reaches
    /// deep into the conversion.
    fn swaggerish() -> BoxedStrategy<Value> {
        let key = prop_oneof![
            prop::sample::select(vec![
                "swagger",
                "info",
                "paths",
                "definitions",
                "parameters",
                "responses",
                "securityDefinitions",
                "security",
                "tags",
                "externalDocs",
                "get",
                "put",
                "patch",
                "in",
                "name",
                "schema",
                "type",
                "items",
                "properties",
                "additionalProperties",
                "allOf",
                "enum",
                "default",
                "example",
                "$ref",
                "required",
                "headers",
                "examples",
                "flow",
                "scopes",
                "xml",
                "title",
                "x-a",
                "/p",
                "200",
                "default",
                "body",
                "query",
                "path",
                "header",
                "formData",
                "file",
                "apiKey",
                "oauth2",
                "basic",
                "implicit",
            ])
            .prop_map(str::to_string),
            any::<String>(),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            prop::sample::select(vec![
                "body",
                "query",
                "path",
                "header",
                "formData",
                "file",
                "apiKey",
                "oauth2",
                "basic",
                "implicit",
                "password",
                "application",
                "accessCode",
                "object",
            ])
            .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
    }

    proptest! {
        #[test]
        fn generated_documents_round_trip(doc in document_value()) {
            prop_assert_eq!(decode_to_json(&encode_v2(&doc)), doc);
        }

        #[test]
        fn arbitrary_json_never_panics(v in swaggerish()) {
            // As the whole document, and in the places that hold schemas,
            // parameters and operations.
            let docs = [
                v.clone(),
                json!({ "definitions": { "a": v.clone() } }),
                json!({ "paths": { "/p": v.clone() } }),
                json!({ "paths": { "/p": { "get": v.clone(), "parameters": [v.clone()] } } }),
                json!({ "parameters": { "p": v.clone() }, "responses": { "r": v.clone() } }),
                json!({ "securityDefinitions": { "s": v.clone() }, "security": [v] }),
            ];
            for doc in docs {
                let bytes = encode_v2(&doc);
                // What was written decodes, and every Any in it is YAML.
                let decoded = Document::decode(bytes.as_slice());
                prop_assert!(decoded.is_ok());
                let _ = from_document(&decoded.unwrap());
            }
        }
    }
}
