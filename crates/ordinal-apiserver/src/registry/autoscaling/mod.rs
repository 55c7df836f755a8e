//! autoscaling/v1: not served on its own, but the body of
//! `statefulsets/scale`.

pub(crate) mod scale;
