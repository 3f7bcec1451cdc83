//! Cognito Pre Token Generation events as Cognito sends them, for tests, demos and benchmarks.

use serde_json::json;

/// A stable Cognito `sub` for a test user name.
pub fn sub_of(user: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in user.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        hash >> 32,
        hash & 0xffff_ffff_ffff
    )
}

/// A V1 federated (ADFS, hosted UI) sign-in event like the captured one.
pub fn sign_in_event(user: &str, email: &str, groups: &str) -> String {
    token_event("TokenGeneration_HostedAuth", true, user, email, groups)
}

/// A token event of `trigger_source`; `federated` users carry the `identities` attribute.
pub fn token_event(
    trigger_source: &str,
    federated: bool,
    user: &str,
    email: &str,
    groups: &str,
) -> String {
    let mut attributes = json!({"sub": sub_of(user), "email_verified": "true",
                                "email": email, "custom:groups": groups});
    let user_name = if federated {
        attributes["cognito:user_status"] = json!("EXTERNAL_PROVIDER");
        attributes["identities"] = json!(
            json!([{
            "userId": format!("AD\\{user}"), "providerName": "ADFS", "providerType": "SAML",
            "issuer": "http://adfs.corp.example/adfs/services/trust", "primary": true,
            "dateCreated": 1_614_866_385_549u64}])
            .to_string()
        );
        format!("adfs_ad\\{user}")
    } else {
        user.to_owned()
    };
    json!({
        "version": "1", "triggerSource": trigger_source, "region": "us-east-1",
        "userPoolId": "us-east-1_mg7wscVHr", "userName": user_name,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1qlg2f7sagm6ob7s5985rm1qk8"},
        "request": {
            "userAttributes": attributes,
            "groupConfiguration": {"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": null},
        },
        "response": {"claimsOverrideDetails": null},
    })
    .to_string()
}
