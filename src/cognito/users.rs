//! The user pool asked about people by their `sub`, for the offboarding sweep: `ListUsers`
//! filtered by `sub` (one person), or every page of `ListUsers` (the whole pool), and the
//! pool's size (`DescribeUserPool`'s `EstimatedNumberOfUsers`) to choose between them.
//!
//! `ListUsers` is in Cognito's `UserList` quota category (30 requests per second per account
//! and region, shared by every pool, not adjustable) and `DescribeUserPool` in `UserPoolRead`
//! (15); neither counts a user as monthly active, unlike `AdminGetUser` ("Quotas in Amazon
//! Cognito", docs.aws.amazon.com/cognito/latest/developerguide/quotas.html). The SDK retries
//! throttling itself; what is still refused after its retries is left for the next run, and
//! only a refusal that would refuse every lookup (the pool or the permission missing) stops the
//! sweep. I/O.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cognitoidentityprovider::types::UserType;

use crate::domain::offboarding::sweep::{POOL_PAGE, PoolAnswer};
use crate::error::Error;

/// Why the pool could not be asked.
#[derive(Debug)]
pub enum LookupFailed {
    /// Throttled past the SDK's retries, or no answer: ask again at the next run.
    ForNow(String),
    /// Every lookup would fail the same way (no such pool, no permission, bad credentials).
    Always(Error),
}

/// Error codes that refuse every lookup alike.
const ALWAYS: &[&str] = &[
    "AccessDeniedException",
    "NotAuthorizedException",
    "ResourceNotFoundException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidParameterException",
];

fn failed<E, R>(operation: &'static str, error: SdkError<E, R>) -> LookupFailed
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match error.code() {
        Some(code) if ALWAYS.contains(&code) => LookupFailed::Always(Error::Cognito {
            operation,
            source: Box::new(error),
        }),
        code => LookupFailed::ForNow(code.map_or_else(|| error.to_string(), str::to_owned)),
    }
}

/// About how many users the pool `pool_id` has.
pub async fn estimated_users(cognito: &Client, pool_id: &str) -> Result<u64, LookupFailed> {
    let output = cognito
        .describe_user_pool()
        .user_pool_id(pool_id)
        .send()
        .await
        .map_err(|e| failed("DescribeUserPool", e))?;
    Ok(output
        .user_pool
        .map_or(0, |pool| pool.estimated_number_of_users.max(0) as u64))
}

/// A user's `sub` and whether they are enabled; `None` for a user without a `sub`.
fn sub_of(user: &UserType) -> Option<(String, bool)> {
    let sub = user
        .attributes
        .as_deref()?
        .iter()
        .find(|a| a.name == "sub")?
        .value
        .clone()?;
    Some((sub, user.enabled))
}

/// What the pool says of the person `sub` (a label value: letters, digits, `.`, `_` and `-`,
/// so it needs no quoting inside the filter).
pub async fn by_sub(
    cognito: &Client,
    pool_id: &str,
    sub: &str,
) -> Result<PoolAnswer, LookupFailed> {
    let output = cognito
        .list_users()
        .user_pool_id(pool_id)
        .filter(format!("sub = \"{sub}\""))
        .limit(1)
        .send()
        .await
        .map_err(|e| failed("ListUsers", e))?;
    let found = output
        .users
        .unwrap_or_default()
        .iter()
        .filter_map(sub_of)
        .find(|(found, _)| found == sub);
    Ok(match found {
        Some((_, enabled)) => PoolAnswer::Found { enabled },
        None => PoolAnswer::Missing,
    })
}

/// One page of the whole pool (after `token`): each user's `sub` and whether they are enabled,
/// and the token of the next page.
pub async fn pool_page(
    cognito: &Client,
    pool_id: &str,
    token: Option<String>,
) -> Result<(Vec<(String, bool)>, Option<String>), LookupFailed> {
    let output = cognito
        .list_users()
        .user_pool_id(pool_id)
        .limit(POOL_PAGE as i32)
        .set_pagination_token(token)
        .send()
        .await
        .map_err(|e| failed("ListUsers", e))?;
    let users = output
        .users
        .unwrap_or_default()
        .iter()
        .filter_map(sub_of)
        .collect();
    Ok((users, output.pagination_token.filter(|t| !t.is_empty())))
}
