//! The sign-in's rules: the event and its groups, who is admitted and how, the cluster's
//! conventions, the desired state, the plan against what is observed, its outcome, and the pace
//! at which groups start. Pure.

pub mod admission;
pub mod conventions;
pub mod desired;
pub mod event;
pub mod groups;
pub mod metrics;
pub mod pace;
pub mod plan;
pub mod summary;
pub mod team_defaults;
pub mod team_role;
pub mod token;
