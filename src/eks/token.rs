//! The EKS bearer token (aws-iam-authenticator / `aws eks get-token` format): a SigV4-presigned
//! STS `GetCallerIdentity` URL. No I/O: credentials and time are parameters, so a token is
//! reproducible byte for byte; it sits at the EKS edge because it signs with the AWS signing
//! crate.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::TokenError;

const TOKEN_PREFIX: &str = "k8s-aws-v1.";
/// The header that binds a token to one cluster; it must be signed.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// A token older than this is re-minted before use, well inside the 15 minutes after its
/// `X-Amz-Date` for which the API server honours it.
pub const REMINT_AFTER: Duration = Duration::from_secs(10 * 60);

/// A bearer token. Its `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken {
    value: String,
    pub minted_at: SystemTime,
}

impl BearerToken {
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// True when the token is due for re-minting at `now`.
    pub fn is_stale(&self, now: SystemTime) -> bool {
        match now.duration_since(self.minted_at) {
            Ok(age) => age >= REMINT_AFTER,
            // The clock went backwards by more than a second: do not trust the token's age.
            Err(e) => e.duration() > Duration::from_secs(1),
        }
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BearerToken(<redacted>, minted_at: {:?})",
            self.minted_at
        )
    }
}

/// Mints the bearer token for `cluster` in `region` from `credentials` at time `now`.
pub fn mint_token(
    credentials: &Credentials,
    region: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<BearerToken, TokenError> {
    fn err(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> TokenError {
        TokenError(e.into())
    }
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(err)?
        .into();
    let url = format!(
        "https://{}/?Action=GetCallerIdentity&Version=2011-06-15",
        sts_host(region)
    );
    let request = SignableRequest::new(
        "GET",
        &url,
        std::iter::once((CLUSTER_ID_HEADER, cluster)),
        SignableBody::Bytes(&[]),
    )
    .map_err(err)?;
    let (instructions, _signature) = sign(request, &params).map_err(err)?.into_parts();
    let mut presigned = http::Request::get(&url).body(()).map_err(err)?;
    instructions.apply_to_request_http1x(&mut presigned);
    Ok(BearerToken {
        value: format!(
            "{TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(presigned.uri().to_string())
        ),
        minted_at: now,
    })
}

/// The regional STS host of `region`'s partition: aws-iam-authenticator accepts only the STS
/// hosts of the cluster's partition (it resolves them from the AWS SDK's partition table, as
/// this does: `aws-sdk-eks`'s `endpoint_lib.rs` lists each partition's region pattern and DNS
/// suffix).
pub fn sts_host(region: &str) -> String {
    let suffix = match region {
        r if r.starts_with("cn-") => "amazonaws.com.cn",
        r if r.starts_with("eusc-") => "amazonaws.eu",
        r if r.starts_with("us-iso-") => "c2s.ic.gov",
        r if r.starts_with("us-isob-") => "sc2s.sgov.gov",
        r if r.starts_with("eu-isoe-") => "cloud.adc-e.uk",
        r if r.starts_with("us-isof-") => "csp.hci.ic.gov",
        // aws and aws-us-gov
        _ => "amazonaws.com",
    };
    format!("sts.{region}.{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("session-token".into()),
            None,
            "test",
        )
    }

    fn decode(token: &BearerToken) -> String {
        let b64 = token.expose().strip_prefix(TOKEN_PREFIX).unwrap();
        assert!(!b64.contains('='), "no padding");
        String::from_utf8(URL_SAFE_NO_PAD.decode(b64).unwrap()).unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn the_token_is_a_presigned_get_caller_identity_url() {
        // The signature itself is verified by an independent SigV4 implementation in
        // tests/token.rs (the fake API server's verifier).
        let token =
            mint_token(&credentials(), "eu-west-1", "my-cluster", at(1_700_000_000)).unwrap();
        let url = decode(&token);
        assert!(url.starts_with(
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ));
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Fsts%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=60",
            "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id",
            "X-Amz-Security-Token=session-token",
            "X-Amz-Signature=",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
    }

    #[test]
    fn the_same_inputs_give_the_same_token_and_another_second_another() {
        let a = mint_token(&credentials(), "us-east-1", "kf", at(1_700_000_000)).unwrap();
        let b = mint_token(&credentials(), "us-east-1", "kf", at(1_700_000_000)).unwrap();
        let c = mint_token(&credentials(), "us-east-1", "kf", at(1_700_000_001)).unwrap();
        let d = mint_token(&credentials(), "us-east-1", "other", at(1_700_000_000)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.expose(), c.expose());
        assert_ne!(a.expose(), d.expose());
    }

    #[test]
    fn the_sts_host_is_the_partitions() {
        for (region, host) in [
            ("us-east-1", "sts.us-east-1.amazonaws.com"),
            ("eu-west-1", "sts.eu-west-1.amazonaws.com"),
            ("cn-north-1", "sts.cn-north-1.amazonaws.com.cn"),
            ("cn-northwest-1", "sts.cn-northwest-1.amazonaws.com.cn"),
            ("us-gov-west-1", "sts.us-gov-west-1.amazonaws.com"),
            ("eusc-de-east-1", "sts.eusc-de-east-1.amazonaws.eu"),
            ("us-iso-east-1", "sts.us-iso-east-1.c2s.ic.gov"),
            ("us-isob-east-1", "sts.us-isob-east-1.sc2s.sgov.gov"),
            ("eu-isoe-west-1", "sts.eu-isoe-west-1.cloud.adc-e.uk"),
            ("us-isof-south-1", "sts.us-isof-south-1.csp.hci.ic.gov"),
        ] {
            assert_eq!(sts_host(region), host, "{region}");
            let token = mint_token(&credentials(), region, "kf", at(1_700_000_000)).unwrap();
            assert!(
                decode(&token).starts_with(&format!("https://{host}/?")),
                "{region}"
            );
        }
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let token = mint_token(&credentials(), "us-east-1", "kf", at(1_700_000_000)).unwrap();
        let shown = format!("{token:?}");
        assert!(!shown.contains("k8s-aws-v1"), "{shown}");
    }

    #[test]
    fn a_token_is_stale_after_ten_minutes_or_when_the_clock_goes_back() {
        let token = mint_token(&credentials(), "us-east-1", "kf", at(1_000)).unwrap();
        assert!(!token.is_stale(at(1_000 + 599)));
        assert!(token.is_stale(at(1_000 + 600)));
        assert!(token.is_stale(at(900)));
    }
}
