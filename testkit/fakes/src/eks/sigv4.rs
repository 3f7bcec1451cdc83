//! An independent verifier of EKS bearer tokens, as aws-iam-authenticator and STS check them:
//! format, allowed query parameters, expiry, and the SigV4 signature recomputed from the
//! credentials the test handed out.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const PREFIX: &str = "k8s-aws-v1.";
const MAX_TOKEN_LEN: usize = 4096;
const ALLOWED_PARAMS: [&str; 9] = [
    "Action",
    "Version",
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
];
/// Tokens are honoured this long after `X-Amz-Date`.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// A token dated further in the future than this is refused (STS's clock-skew limit).
const MAX_FUTURE_SKEW: Duration = Duration::from_secs(5 * 60);

/// The AWS credentials the fake STS knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl TestCredentials {
    pub fn example() -> Self {
        TestCredentials {
            access_key_id: "AKIAFAKECLUSTERTEST1".into(),
            secret_access_key: "fake/secret/key/for/the/loopback/cluster/00".into(),
            session_token: Some("FwoGZXIvYXdzEFAKESESSIONTOKENfortests//+==".into()),
        }
    }

    /// The sweep function's credentials (its own IAM role, its own access entry).
    pub fn sweep_example() -> Self {
        TestCredentials {
            access_key_id: "AKIAFAKESWEEPTEST001".into(),
            secret_access_key: "fake/secret/key/for/the/sweep/function/0001".into(),
            session_token: Some("FwoGZXIvYXdzEFAKESWEEPSESSIONTOKEN//+==".into()),
        }
    }
}

/// The STS host aws-iam-authenticator accepts for `region`: its partition's DNS suffix (the
/// AWS SDK partition table: `aws` amazonaws.com, `aws-cn` amazonaws.com.cn, `aws-us-gov`
/// amazonaws.com, `aws-eusc` amazonaws.eu, `aws-iso` c2s.ic.gov, `aws-iso-b` sc2s.sgov.gov,
/// `aws-iso-e` cloud.adc-e.uk, `aws-iso-f` csp.hci.ic.gov). Written apart from the product's.
pub fn sts_host(region: &str) -> String {
    let partitions: [(&str, &str); 7] = [
        ("cn-", "amazonaws.com.cn"),
        ("eusc-", "amazonaws.eu"),
        ("us-isob-", "sc2s.sgov.gov"),
        ("us-isof-", "csp.hci.ic.gov"),
        ("us-iso-", "c2s.ic.gov"),
        ("eu-isoe-", "cloud.adc-e.uk"),
        ("us-gov-", "amazonaws.com"),
    ];
    let suffix = partitions
        .iter()
        .find(|(start, _)| region.starts_with(start))
        .map_or("amazonaws.com", |(_, suffix)| suffix);
    format!("sts.{region}.{suffix}")
}

/// Verifies `token` for `cluster` in `region` at time `now`; the error says why it is refused.
pub fn verify_token(
    token: &str,
    credentials: &TestCredentials,
    region: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<(), String> {
    let host = sts_host(region);
    let params = presigned_params(token, &host)?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| format!("missing {name}"))
    };
    if param("Action")? != "GetCallerIdentity" || param("Version")? != "2011-06-15" {
        return Err("not a GetCallerIdentity call".into());
    }
    if param("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return Err("unsupported algorithm".into());
    }
    let signed_headers = param("X-Amz-SignedHeaders")?;
    if signed_headers != "host;x-k8s-aws-id" {
        return Err(format!(
            "signed headers must be host;x-k8s-aws-id, not {signed_headers}"
        ));
    }
    let expires: u64 = param("X-Amz-Expires")?
        .parse()
        .map_err(|_| "X-Amz-Expires is not a number")?;
    if expires > 900 {
        return Err("X-Amz-Expires over 900".into());
    }
    let date = param("X-Amz-Date")?;
    let signed_at = parse_amz_date(date).ok_or("malformed X-Amz-Date")?;
    if now > signed_at + TOKEN_LIFETIME {
        return Err("token expired".into());
    }
    if signed_at > now + MAX_FUTURE_SKEW {
        return Err("token dated in the future".into());
    }
    let scope_date = &date[..8];
    let expected_credential = format!(
        "{}/{scope_date}/{region}/sts/aws4_request",
        credentials.access_key_id
    );
    if param("X-Amz-Credential")? != expected_credential {
        return Err("unknown access key or wrong credential scope".into());
    }
    if param("X-Amz-Security-Token").ok() != credentials.session_token.as_deref() {
        return Err("invalid session token".into());
    }
    let expected = signature(&params, credentials, &host, region, cluster, date);
    if param("X-Amz-Signature")? != expected {
        return Err("signature does not match (wrong cluster, key or content)".into());
    }
    Ok(())
}

/// The query parameters of the presigned STS URL the token carries, each allowed and once.
fn presigned_params(token: &str, host: &str) -> Result<Vec<(String, String)>, String> {
    if token.len() > MAX_TOKEN_LEN {
        return Err("token too long".into());
    }
    let encoded = token
        .strip_prefix(PREFIX)
        .ok_or("missing k8s-aws-v1. prefix")?;
    let url = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|e| format!("not unpadded base64url: {e}"))?;
    let url = String::from_utf8(url).map_err(|_| "URL is not UTF-8")?;
    let query = url
        .strip_prefix(&format!("https://{host}/?"))
        .ok_or_else(|| format!("not an https://{host}/ URL"))?;
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').ok_or("malformed query")?;
        let (key, value) = (percent_decode(key)?, percent_decode(value)?);
        if !ALLOWED_PARAMS.contains(&key.as_str()) {
            return Err(format!("query parameter {key} is not allowed"));
        }
        if params.iter().any(|(k, _)| *k == key) {
            return Err(format!("query parameter {key} appears twice"));
        }
        params.push((key, value));
    }
    Ok(params)
}

/// The SigV4 signature the presigned request must carry, computed independently (AWS General
/// Reference, "Create a signed AWS API request": canonical request, string to sign, key).
fn signature(
    params: &[(String, String)],
    credentials: &TestCredentials,
    host: &str,
    region: &str,
    cluster: &str,
    date: &str,
) -> String {
    let scope_date = &date[..8];
    let mut canonical: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    canonical.sort();
    let canonical_query: Vec<String> = canonical.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let canonical_request = format!(
        "GET\n/\n{}\nhost:{host}\nx-k8s-aws-id:{cluster}\n\nhost;x-k8s-aws-id\n{}",
        canonical_query.join("&"),
        hex(&Sha256::digest(b""))
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope_date}/{region}/sts/aws4_request\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", credentials.secret_access_key).as_bytes(),
        scope_date.as_bytes(),
    );
    for part in [region, "sts", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex(&hmac(&key, string_to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// True when an `Authorization` header is a SigV4 signature whose credential scope names
/// `access_key_id`, `region` and `service`: what an AWS endpoint checks before anything else.
/// (The signature itself is verified only for EKS tokens, by [`verify_token`].)
pub fn signed_for(authorization: &str, access_key_id: &str, region: &str, service: &str) -> bool {
    authorization.starts_with("AWS4-HMAC-SHA256 ")
        && authorization.contains(&format!("Credential={access_key_id}/"))
        && authorization.contains(&format!("/{region}/{service}/aws4_request"))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn uri_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| "query is not UTF-8".to_owned())
}

/// `YYYYMMDDTHHMMSSZ` to a time.
fn parse_amz_date(date: &str) -> Option<SystemTime> {
    let b = date.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| date.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let secs = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_parse() {
        let t = parse_amz_date("20231114T221320Z").unwrap();
        assert_eq!(
            t,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
        assert!(parse_amz_date("20231314T221320Z").is_none());
        assert!(parse_amz_date("2023-11-14").is_none());
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let creds = TestCredentials::example();
        let now = SystemTime::now();
        for (token, reason) in [
            ("Bearer x", "prefix"),
            ("k8s-aws-v1.!!!", "base64url"),
            ("k8s-aws-v1.aHR0cDovL2V4YW1wbGU", "not an https"),
        ] {
            let err = verify_token(token, &creds, "us-east-1", "kf", now).unwrap_err();
            assert!(err.contains(reason), "{token}: {err}");
        }
    }
}
