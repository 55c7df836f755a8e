//! The protobuf form of the OpenAPI v2 document (gnostic's `openapi.v2.Document`).
