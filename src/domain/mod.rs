//! The pure core, sorted by use case: the shared model (objects, names, protected namespaces,
//! the mesh, activity records, metrics), the sign-in's rules, offboarding's (the sweep and the
//! access report), the doctor's, and the configuration. Plain functions of their arguments
//! over plain data (serde, k8s-openapi and kube-core types): no client, network, runtime or SDK
//! crate is used here.

pub mod config;
pub mod doctor;
pub mod model;
pub mod offboarding;
pub mod router;
pub mod sign_in;
