//! Scenario and property tests for the planning core, driven through an
//! in-memory cluster ([`sim`]); the executor against a real API server
//! ([`executor`]).

mod beyond;
mod executor;
mod properties;
mod scenarios;
mod sim;
