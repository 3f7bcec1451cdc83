//! The EKS edge: the cluster's endpoint and CA (DescribeCluster), the bearer token (a
//! SigV4-presigned STS URL), and the teams' Pod Identity associations. I/O for the EKS API; the
//! token is minted from credentials and a time passed in.

pub mod cluster;
pub mod pod_identity;
pub mod token;
