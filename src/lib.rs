//! # kubeflow-profile-manager
//!
//! A Cognito Pre Token Generation trigger that gives people signing in through Active Directory
//! their Kubeflow access on EKS: a personal Profile, a Profile per AD group, and contributor
//! access (a RoleBinding plus its Istio twin) in each group namespace; access the user's groups
//! no longer call for is removed. The event is returned exactly as received. Around it: the
//! offboarding sweep, the access report and the doctor.
//!
//! The folders carry the design, each layer importing only those below it:
//! - a room per use case: [`sign_in`], [`sweep`], [`access_report`], [`doctor`], entered through
//!   [`App::invoke`] once the pure router ([`domain::router`]) has said what was asked;
//! - [`app`]: what a warm container keeps ([`App`], state only), one fan-out over the clusters
//!   and one time budget for every job;
//! - the I/O edges: [`kubernetes`], [`eks`], [`cognito`], [`lambda`], and [`error`];
//! - [`domain`]: the pure core, sorted by use case.
#![forbid(unsafe_code)]

pub mod access_report;
pub mod app;
pub mod cognito;
pub mod doctor;
pub mod domain;
pub mod eks;
pub mod error;
mod invoke;
pub mod kubernetes;
pub mod lambda;
pub mod sign_in;
pub mod sweep;

pub use app::{App, Clock};
pub use domain::config;
pub use invoke::{AccessAnswer, Answer};
pub use sign_in::{ClusterSignIn, Outcome};
