//! autoscaling/v1 Scale, the body of `statefulsets/scale`.

use crate::registry::Strategy;
use crate::table::{self, Printer};

#[derive(Debug)]
pub struct ScaleStrategy;

impl Strategy for ScaleStrategy {
    fn printer(&self) -> &'static Printer {
        &table::apps::SCALE
    }
}
