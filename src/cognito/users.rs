//! One user of the pool, by user name (`AdminGetUser`, in Cognito's "UserRead" quota category),
//! for the offboarding sweep. The SDK retries throttling itself; what is still refused after its
//! retries is left for the next run, and only a refusal that would refuse every user (the pool
//! or the permission missing) stops the sweep. I/O.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};

use crate::domain::sweep::PoolUser;
use crate::error::Error;

/// Why a user could not be looked up.
#[derive(Debug)]
pub enum LookupFailed {
    /// Throttled past the SDK's retries, or no answer: ask again at the next run.
    ForNow(String),
    /// Every lookup would fail the same way (no such pool, no permission, bad credentials).
    Always(Error),
}

/// Error codes that refuse every user alike.
const ALWAYS: &[&str] = &[
    "AccessDeniedException",
    "NotAuthorizedException",
    "ResourceNotFoundException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
];

/// What the pool `pool_id` says of `username`.
pub async fn pool_user(
    cognito: &Client,
    pool_id: &str,
    username: &str,
) -> Result<PoolUser, LookupFailed> {
    match cognito
        .admin_get_user()
        .user_pool_id(pool_id)
        .username(username)
        .send()
        .await
    {
        Ok(output) => Ok(PoolUser::Found {
            enabled: output.enabled,
            sub: output
                .user_attributes
                .unwrap_or_default()
                .into_iter()
                .find(|a| a.name == "sub")
                .and_then(|a| a.value),
        }),
        Err(SdkError::ServiceError(failure)) if failure.err().is_user_not_found_exception() => {
            Ok(PoolUser::Missing)
        }
        Err(error) => match error.code() {
            Some(code) if ALWAYS.contains(&code) => Err(LookupFailed::Always(Error::Cognito {
                operation: "AdminGetUser",
                source: Box::new(error),
            })),
            code => Err(LookupFailed::ForNow(
                code.map_or_else(|| error.to_string(), str::to_owned),
            )),
        },
    }
}
