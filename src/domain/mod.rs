//! The pure core: the configuration, the event and who it is for, the names, the desired state,
//! the plan (desired against observed) and what a sign-in reports. Plain functions of their
//! arguments over plain data (serde, k8s-openapi and kube-core types): no client, network,
//! runtime or SDK crate is used here.

pub mod access;
pub mod activity;
pub mod admission;
pub mod config;
pub mod conventions;
pub mod desired;
pub mod doctor;
pub mod event;
pub mod groups;
pub mod mesh;
pub mod metrics;
pub mod names;
pub mod objects;
pub mod pace;
pub mod plan;
pub mod protected;
pub mod report;
pub mod sweep;
