//! The Kubernetes edge: a client that trusts only the cluster's CA and follows the sign-in
//! policy, the reads of a sign-in and its writes, the doctor's questions, the sweep's inventory
//! and revocations, all through kube-rs's typed API. I/O.

pub mod bounded;
pub mod client;
pub mod execute;
pub mod inspect;
pub mod inventory;
pub mod observe;
pub mod policy;
pub mod status;
pub(crate) mod typed;
pub mod upkeep;
