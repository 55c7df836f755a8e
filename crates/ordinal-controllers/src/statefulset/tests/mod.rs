//! Scenario and property tests for the planning core, driven through an
//! in-memory cluster ([`sim`]).

mod scenarios;
mod sim;
