//! autoscaling/v1 Scale, the body of every `scale` subresource.

use crate::registry::Strategy;
use crate::table::{self, Printer};

#[derive(Debug)]
pub struct ScaleStrategy;

impl Strategy for ScaleStrategy {
    fn printer(&self) -> &'static Printer {
        &table::apps::SCALE
    }
}
