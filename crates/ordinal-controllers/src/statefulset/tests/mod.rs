//! Scenario and property tests for the planning core, driven through an
//! in-memory cluster ([`sim`]).

mod properties;
mod scenarios;
mod sim;
