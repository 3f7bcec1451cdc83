//! The user pool's app clients: `ListUserPoolClients` (every page) and
//! `DescribeUserPoolClient` for each, a few at a time (both are in Cognito's 15-per-second
//! "UserPoolClientRead" quota category). I/O.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::UserPoolClientType;
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::domain::doctor::AppClient;
use crate::error::Error;

/// Descriptions in flight at once.
const CONCURRENT_DESCRIPTIONS: usize = 4;

/// Every app client of `pool_id`, with what matters of its settings.
pub async fn app_clients(cognito: &Client, pool_id: &str) -> Result<Vec<AppClient>, Error> {
    let failed = |operation: &'static str| {
        move |source: Box<dyn std::error::Error + Send + Sync>| Error::Cognito { operation, source }
    };
    let listed: Vec<_> = cognito
        .list_user_pool_clients()
        .user_pool_id(pool_id)
        .max_results(60)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| failed("ListUserPoolClients")(Box::new(e)))?;
    stream::iter(listed.into_iter().filter_map(|c| c.client_id))
        .map(|client_id| async move {
            let output = cognito
                .describe_user_pool_client()
                .user_pool_id(pool_id)
                .client_id(&client_id)
                .send()
                .await
                .map_err(|e| failed("DescribeUserPoolClient")(Box::new(e)))?;
            let client = output
                .user_pool_client
                .unwrap_or_else(|| UserPoolClientType::builder().build());
            Ok(AppClient {
                id: client_id,
                name: client.client_name.unwrap_or_default(),
                write_attributes: client.write_attributes.unwrap_or_default(),
                oauth_scopes: client.allowed_o_auth_scopes.unwrap_or_default(),
                explicit_auth_flows: client
                    .explicit_auth_flows
                    .unwrap_or_default()
                    .iter()
                    .map(|f| f.as_str().to_owned())
                    .collect(),
            })
        })
        .buffered(CONCURRENT_DESCRIPTIONS)
        .try_collect()
        .await
}
