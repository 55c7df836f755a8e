//! core/v1 Events. events.k8s.io/v1 serves the same objects under other
//! field names ([`crate::registry::events::event`]): they are stored as
//! core Events, so the selectable fields computed here serve both APIs
//! (events.k8s.io's field labels are aliases of these).

use serde_json::Value;

use crate::registry::Strategy;
use crate::selector::{Fields, str_at};
use crate::table::{self, Printer};

/// The field labels of core/v1 Events.
pub(crate) const FIELD_LABELS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
];

/// Where an Event API keeps what the field labels select.
pub(crate) struct EventFieldNames {
    /// The referenced object: `involvedObject` or `regarding`.
    pub object: &'static str,
    /// `reportingComponent` or `reportingController`.
    pub reporting: &'static str,
    /// `source` or `deprecatedSource`.
    pub source: &'static str,
}

/// The selectable fields of an Event whose fields are named `names`.
pub(crate) fn selectable_fields(event: &Value, names: &EventFieldNames, out: &mut Fields) {
    let s = |path: &[&str]| str_at(event, path).to_string();
    for (label, key) in [
        ("involvedObject.kind", "kind"),
        ("involvedObject.namespace", "namespace"),
        ("involvedObject.name", "name"),
        ("involvedObject.uid", "uid"),
        ("involvedObject.apiVersion", "apiVersion"),
        ("involvedObject.resourceVersion", "resourceVersion"),
        ("involvedObject.fieldPath", "fieldPath"),
    ] {
        out.push((label, s(&[names.object, key])));
    }
    out.push(("reason", s(&["reason"])));
    let reporting = s(&[names.reporting]);
    let mut source = s(&[names.source, "component"]);
    if source.is_empty() {
        source = reporting.clone();
    }
    out.push(("reportingComponent", reporting));
    out.push(("source", source));
    out.push(("type", s(&["type"])));
}

#[derive(Debug)]
pub struct EventStrategy;

impl Strategy for EventStrategy {
    fn field_labels(&self) -> Option<&'static [&'static str]> {
        Some(FIELD_LABELS)
    }

    fn selectable_fields(&self, object: &Value, out: &mut Fields) {
        let names = EventFieldNames {
            object: "involvedObject",
            reporting: "reportingComponent",
            source: "source",
        };
        selectable_fields(object, &names, out);
    }

    fn printer(&self) -> &'static Printer {
        &table::cluster::EVENT
    }
}
