//! autoscaling/v1: not served on its own, but the body of every `scale`
//! subresource.

pub(crate) mod scale;
