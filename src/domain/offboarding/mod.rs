//! Offboarding's rules: the sweep's verdicts on people and the access report. Pure.

pub mod access;
pub mod sweep;
pub mod team_setup;
