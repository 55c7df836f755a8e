//! policy/v1.

pub(crate) mod pod_disruption_budget;
