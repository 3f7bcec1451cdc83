//! The model every use case shares: the kinds and objects with the function's marks, names,
//! the namespaces never bound, the mesh's shapes, a person's activity record, the metrics line.
//! Pure.

pub mod activity;
pub mod crds;
pub mod mesh;
pub mod metrics;
pub mod names;
pub mod objects;
pub mod protected;
pub mod quantity;
pub mod quota;
pub mod team_defaults;
