//! ServiceAccounts.

use crate::registry::Strategy;
use crate::table::{self, Printer};

#[derive(Debug)]
pub struct ServiceAccountStrategy;

impl Strategy for ServiceAccountStrategy {
    fn printer(&self) -> &'static Printer {
        &table::config::SERVICE_ACCOUNT
    }

    fn returns_deleted_object(&self) -> bool {
        true
    }
}
