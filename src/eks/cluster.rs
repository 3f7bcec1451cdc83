//! The EKS cluster: its endpoint and CA from `DescribeCluster`. I/O (DescribeCluster); the
//! validation of what it says is pure.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{DescribeProblem, Error};

/// What DescribeCluster says about the cluster, kept for the life of the container.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    pub endpoint: http::Uri,
    /// DER certificates of the cluster CA bundle.
    pub ca_certificates: Vec<Vec<u8>>,
}

impl std::fmt::Debug for ClusterInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterInfo")
            .field("endpoint", &self.endpoint)
            .field("ca_certificates", &self.ca_certificates.len())
            .finish()
    }
}

/// Asks EKS for the cluster's endpoint and CA.
pub async fn describe_cluster(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
) -> Result<ClusterInfo, Error> {
    let failed = |detail: String| Error::ClusterDescription {
        cluster: cluster.to_owned(),
        detail,
    };
    let output = eks
        .describe_cluster()
        .name(cluster)
        .send()
        .await
        .map_err(|source| {
            let problem = match source.as_service_error() {
                Some(e) if e.is_resource_not_found_exception() => DescribeProblem::NoSuchCluster,
                Some(e) if e.meta().code() == Some("AccessDeniedException") => {
                    DescribeProblem::AccessDenied
                }
                _ => DescribeProblem::Other,
            };
            Error::DescribeCluster {
                cluster: cluster.to_owned(),
                problem,
                source: Box::new(source),
            }
        })?;
    let described = output
        .cluster()
        .ok_or_else(|| failed("the answer has no cluster".into()))?;
    let endpoint = described
        .endpoint()
        .ok_or_else(|| failed("the cluster has no endpoint yet".into()))?;
    let ca = described
        .certificate_authority()
        .and_then(|ca| ca.data())
        .ok_or_else(|| failed("the cluster has no certificate authority".into()))?;
    cluster_info(endpoint, ca).map_err(failed)
}

/// Validates an endpoint (HTTPS only) and a base64 PEM CA bundle, as DescribeCluster gives them.
pub fn cluster_info(endpoint: &str, ca_base64: &str) -> Result<ClusterInfo, String> {
    let endpoint: http::Uri = endpoint
        .parse()
        .map_err(|e| format!("invalid endpoint: {e}"))?;
    if endpoint.scheme_str() != Some("https") || endpoint.host().is_none() {
        return Err("the endpoint is not an https:// URL".into());
    }
    let pem = STANDARD
        .decode(ca_base64.trim())
        .map_err(|e| format!("the CA is not base64: {e}"))?;
    let pem = String::from_utf8(pem).map_err(|_| "the CA is not PEM text".to_owned())?;
    let ca_certificates = pem_certificates(&pem)?;
    Ok(ClusterInfo {
        endpoint,
        ca_certificates,
    })
}

/// DER bodies of every `CERTIFICATE` block of a PEM bundle; at least one.
fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut certificates = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after
            .find(END)
            .ok_or_else(|| "a PEM certificate is not terminated".to_owned())?;
        let body: String = after[..end].split_whitespace().collect();
        certificates.push(
            STANDARD
                .decode(body)
                .map_err(|e| format!("a PEM certificate is not base64: {e}"))?,
        );
        rest = &after[end + END.len()..];
    }
    if certificates.is_empty() {
        return Err("the CA bundle holds no certificate".into());
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(text: &str) -> String {
        STANDARD.encode(text)
    }

    #[test]
    fn a_pem_bundle_gives_every_certificate() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAQID\nBA==\n-----END CERTIFICATE-----\n\
                   -----BEGIN CERTIFICATE-----\nBQY=\n-----END CERTIFICATE-----\n";
        let info = cluster_info("https://ABC.gr7.us-east-1.eks.amazonaws.com", &b64(pem)).unwrap();
        assert_eq!(info.ca_certificates, vec![vec![1, 2, 3, 4], vec![5, 6]]);
        assert_eq!(
            info.endpoint.host(),
            Some("ABC.gr7.us-east-1.eks.amazonaws.com")
        );
    }

    #[test]
    fn bad_endpoints_and_bundles_are_refused_with_a_reason() {
        let ok_pem = b64("-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----");
        let cases = [
            ("http://insecure.example", ok_pem.clone(), "not an https"),
            ("not a url", ok_pem.clone(), "invalid endpoint"),
            ("https://x.example", "%%%".to_owned(), "not base64"),
            (
                "https://x.example",
                b64("no certificate here"),
                "no certificate",
            ),
            (
                "https://x.example",
                b64("-----BEGIN CERTIFICATE-----\nAQID"),
                "not terminated",
            ),
            (
                "https://x.example",
                b64("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----"),
                "not base64",
            ),
        ];
        for (endpoint, ca, reason) in cases {
            let err = cluster_info(endpoint, &ca).unwrap_err();
            assert!(err.contains(reason), "{endpoint}: {err}");
        }
    }
}
