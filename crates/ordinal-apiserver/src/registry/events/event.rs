//! events.k8s.io/v1 Events: the core Events under their newer field names.

use serde_json::Value;

use crate::registry::Strategy;
use crate::registry::core::event::{self as core_event, EventFieldNames};
use crate::selector::Fields;
use crate::table::{self, Printer};

#[derive(Debug)]
pub struct EventStrategy;

impl Strategy for EventStrategy {
    fn field_labels(&self) -> Option<&'static [&'static str]> {
        Some(core_event::FIELD_LABELS)
    }

    fn selectable_fields(&self, object: &Value, out: &mut Fields) {
        let names = EventFieldNames {
            object: "regarding",
            reporting: "reportingController",
            source: "deprecatedSource",
        };
        core_event::selectable_fields(object, &names, out);
    }

    fn printer(&self) -> &'static Printer {
        &table::cluster::EVENT
    }
}
