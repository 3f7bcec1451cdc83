//! The minted EKS token checked by an independent SigV4 implementation (the fake API server's
//! verifier, written from aws-iam-authenticator's rules), not by the library that signed it.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use kfpm_fakes::eks::sigv4::{TestCredentials, verify_token};
use kubeflow_profile_manager::eks::token::mint_token;

fn credentials(test: &TestCredentials) -> Credentials {
    Credentials::new(
        &test.access_key_id,
        &test.secret_access_key,
        test.session_token.clone(),
        None,
        "test",
    )
}

const MINTED: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn a_minted_token_verifies_for_its_cluster_for_fifteen_minutes() {
    let test = TestCredentials::example();
    let token = mint_token(&credentials(&test), "eu-west-1", "kf", at(MINTED)).unwrap();
    assert_eq!(
        verify_token(token.expose(), &test, "eu-west-1", "kf", at(MINTED)),
        Ok(())
    );
    assert_eq!(
        verify_token(
            token.expose(),
            &test,
            "eu-west-1",
            "kf",
            at(MINTED + 14 * 60)
        ),
        Ok(())
    );
    assert_eq!(
        verify_token(
            token.expose(),
            &test,
            "eu-west-1",
            "kf",
            at(MINTED + 15 * 60 + 1)
        ),
        Err("token expired".into())
    );
}

#[test]
fn a_token_is_refused_for_another_cluster_region_or_secret() {
    let test = TestCredentials::example();
    let token = mint_token(&credentials(&test), "eu-west-1", "kf", at(MINTED)).unwrap();
    let now = at(MINTED);
    let refused = verify_token(token.expose(), &test, "eu-west-1", "other", now).unwrap_err();
    assert!(refused.contains("signature"), "{refused}");
    assert!(verify_token(token.expose(), &test, "us-east-1", "kf", now).is_err());
    let mut wrong = test.clone();
    wrong.secret_access_key = "another-secret".into();
    assert!(
        verify_token(token.expose(), &wrong, "eu-west-1", "kf", now)
            .unwrap_err()
            .contains("signature")
    );
    wrong = test.clone();
    wrong.session_token = Some("another-session".into());
    assert!(verify_token(token.expose(), &wrong, "eu-west-1", "kf", now).is_err());
}

#[test]
fn a_token_without_a_session_token_verifies_too() {
    let mut test = TestCredentials::example();
    test.session_token = None;
    let token = mint_token(&credentials(&test), "us-east-1", "kf", at(MINTED)).unwrap();
    assert_eq!(
        verify_token(token.expose(), &test, "us-east-1", "kf", at(MINTED)),
        Ok(())
    );
    assert!(token.expose().len() < 4096);
}

#[test]
fn a_token_for_a_china_region_carries_the_china_partitions_host_and_verifies() {
    let test = TestCredentials::example();
    for region in ["cn-north-1", "us-gov-west-1", "us-iso-east-1"] {
        let token = mint_token(&credentials(&test), region, "kf", at(MINTED)).unwrap();
        assert_eq!(
            verify_token(token.expose(), &test, region, "kf", at(MINTED)),
            Ok(()),
            "{region}"
        );
    }
}

#[test]
fn the_verifier_refuses_the_sts_host_of_another_partition() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let test = TestCredentials::example();
    let token = mint_token(&credentials(&test), "cn-north-1", "kf", at(MINTED)).unwrap();
    // The same presigned URL with the aws partition's host, as the previous version made it.
    let url = String::from_utf8(
        URL_SAFE_NO_PAD
            .decode(token.expose().strip_prefix("k8s-aws-v1.").unwrap())
            .unwrap(),
    )
    .unwrap();
    let wrong = url.replace("amazonaws.com.cn", "amazonaws.com");
    let forged = format!("k8s-aws-v1.{}", URL_SAFE_NO_PAD.encode(wrong));
    let refused = verify_token(&forged, &test, "cn-north-1", "kf", at(MINTED)).unwrap_err();
    assert!(
        refused.contains("sts.cn-north-1.amazonaws.com.cn"),
        "{refused}"
    );
}
