//! The EKS edge: the cluster's endpoint and CA (DescribeCluster) and the bearer token (a
//! SigV4-presigned STS URL). I/O for DescribeCluster; the token is minted from credentials and
//! a time passed in.

pub mod cluster;
pub mod token;
