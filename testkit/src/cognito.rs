//! A loopback Cognito user pools endpoint (`cognito-idp`, AWS JSON 1.1: `POST /` with
//! `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>`), answering the operations this
//! project calls: `ListUserPoolClients` (paginated), `DescribeUserPoolClient` and
//! `AdminGetUser` (users present, deleted, disabled; throttling on demand). It checks the
//! SigV4 credential scope, validates the input as the service does, and answers errors in the
//! service's shape (`__type`, `message`, `x-amzn-errortype`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::{Value, json};

use crate::serve::{self, Answer, aws_error, spawn_server};
use crate::sigv4::signed_for;

const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

#[derive(Default)]
struct State {
    /// App clients by pool id, each the `UserPoolClient` document DescribeUserPoolClient returns.
    pools: BTreeMap<String, Vec<Value>>,
    /// Users by pool id, then user name.
    users: BTreeMap<String, BTreeMap<String, FakeUser>>,
    /// Operations called, in order.
    calls: Vec<String>,
    /// `AdminGetUser` calls still to refuse with `TooManyRequestsException`.
    throttled: usize,
    /// Added to every answer.
    latency: Duration,
}

/// A user of a pool, as `AdminGetUser` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    pub sub: String,
    pub enabled: bool,
}

pub struct FakeCognito {
    state: Arc<Mutex<State>>,
    address: SocketAddr,
}

const JSON_1_1: &str = "application/x-amz-json-1.1";

fn answer(status: u16, body: &Value) -> Answer {
    serve::answer(status, JSON_1_1, body.to_string())
}

fn error(status: u16, kind: &str, message: &str) -> Answer {
    aws_error(
        status,
        JSON_1_1,
        kind,
        &json!({"__type": kind, "message": message}),
    )
}

impl FakeCognito {
    /// Serves the region's endpoint for callers signing with `access_key_id`.
    pub async fn start(region: &str, access_key_id: &str) -> FakeCognito {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let (region, access_key_id) = (region.to_owned(), access_key_id.to_owned());
        let address = spawn_server(
            None,
            Arc::new(move |request| {
                let state = shared.clone();
                let (region, access_key_id) = (region.clone(), access_key_id.clone());
                Box::pin(async move {
                    let authorization = request
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let target = request
                        .headers()
                        .get("x-amz-target")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let body = request
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let latency = state.lock().unwrap_or_else(|p| p.into_inner()).latency;
                    tokio::time::sleep(latency).await;
                    if !signed_for(&authorization, &access_key_id, &region, "cognito-idp") {
                        return Ok(error(
                            400,
                            "UnrecognizedClientException",
                            "The security token included in the request is invalid.",
                        ));
                    }
                    Ok(handle(&state, &target, &body))
                })
            }),
        )
        .await;
        FakeCognito { state, address }
    }

    /// The value for `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Creates the pool `pool_id` (with no app clients) if it does not exist.
    pub fn add_pool(&self, pool_id: &str) {
        self.lock().pools.entry(pool_id.to_owned()).or_default();
    }

    /// Adds an app client to `pool_id`: `client` holds the fields of a `UserPoolClient` (at least
    /// `ClientId` and `ClientName`).
    pub fn add_client(&self, pool_id: &str, mut client: Value) {
        client["UserPoolId"] = json!(pool_id);
        self.lock()
            .pools
            .entry(pool_id.to_owned())
            .or_default()
            .push(client);
    }

    /// Adds (or replaces) the user `username` of `pool_id`.
    pub fn add_user(&self, pool_id: &str, username: &str, sub: &str, enabled: bool) {
        let user = FakeUser {
            sub: sub.to_owned(),
            enabled,
        };
        let mut state = self.lock();
        state.pools.entry(pool_id.to_owned()).or_default();
        state
            .users
            .entry(pool_id.to_owned())
            .or_default()
            .insert(username.to_owned(), user);
    }

    /// Deletes the user `username` of `pool_id` (`AdminDeleteUser`).
    pub fn delete_user(&self, pool_id: &str, username: &str) {
        if let Some(users) = self.lock().users.get_mut(pool_id) {
            users.remove(username);
        }
    }

    /// Refuses the next `times` `AdminGetUser` calls as over the request rate quota.
    pub fn throttle(&self, times: usize) {
        self.lock().throttled = times;
    }

    /// Adds `latency` to every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The operations called so far.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn handle(state: &Mutex<State>, target: &str, body: &[u8]) -> Answer {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
        return error(400, "UnknownOperationException", "");
    };
    state.calls.push(operation.to_owned());
    let Ok(input) = serde_json::from_slice::<Value>(body) else {
        return error(400, "SerializationException", "the body is not JSON");
    };
    let pool_id = input["UserPoolId"].as_str().unwrap_or("");
    if !is_pool_id(pool_id) {
        return error(
            400,
            "InvalidParameterException",
            "1 validation error detected: Value at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+",
        );
    }
    if operation == "AdminGetUser" {
        return admin_get_user(&mut state, pool_id, &input);
    }
    let Some(clients) = state.pools.get(pool_id) else {
        return error(
            400,
            "ResourceNotFoundException",
            &format!("User pool {pool_id} does not exist."),
        );
    };
    match operation {
        "ListUserPoolClients" => {
            let page = input["MaxResults"].as_u64().unwrap_or(60);
            if !(1..=60).contains(&page) {
                return error(
                    400,
                    "InvalidParameterException",
                    "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 60",
                );
            }
            let start: usize = match input["NextToken"].as_str() {
                None => 0,
                Some(token) => match token.strip_prefix("after-").and_then(|n| n.parse().ok()) {
                    Some(n) => n,
                    None => return error(400, "InvalidParameterException", "Invalid token"),
                },
            };
            let end = (start + page as usize).min(clients.len());
            let listed: Vec<Value> = clients[start.min(end)..end]
                .iter()
                .map(|c| {
                    json!({"ClientId": c["ClientId"], "ClientName": c["ClientName"],
                           "UserPoolId": pool_id})
                })
                .collect();
            let mut output = json!({"UserPoolClients": listed});
            if end < clients.len() {
                output["NextToken"] = json!(format!("after-{end}"));
            }
            answer(200, &output)
        }
        "DescribeUserPoolClient" => {
            let client_id = input["ClientId"].as_str().unwrap_or("");
            match clients.iter().find(|c| c["ClientId"] == client_id) {
                Some(client) => answer(200, &json!({"UserPoolClient": client})),
                None => error(
                    400,
                    "ResourceNotFoundException",
                    &format!("User pool client {client_id} does not exist."),
                ),
            }
        }
        other => error(
            400,
            "UnknownOperationException",
            &format!("the fake does not serve {other}"),
        ),
    }
}

/// `AdminGetUser`: the user's attributes (their `sub` among them) and whether they are enabled.
fn admin_get_user(state: &mut State, pool_id: &str, input: &Value) -> Answer {
    let username = input["Username"].as_str().unwrap_or("");
    if username.is_empty() || username.chars().count() > 128 {
        return error(
            400,
            "InvalidParameterException",
            "1 validation error detected: Value at 'username' failed to satisfy constraint: Member must have length between 1 and 128",
        );
    }
    if state.throttled > 0 {
        state.throttled -= 1;
        return error(400, "TooManyRequestsException", "Too many requests");
    }
    let Some(users) = state
        .users
        .get(pool_id)
        .or(state.pools.get(pool_id).map(|_| &EMPTY))
    else {
        return error(
            400,
            "ResourceNotFoundException",
            &format!("User pool {pool_id} does not exist."),
        );
    };
    match users.get(username) {
        Some(user) => answer(
            200,
            &json!({
                "Username": username,
                "UserAttributes": [{"Name": "sub", "Value": user.sub}],
                "Enabled": user.enabled,
                "UserStatus": "EXTERNAL_PROVIDER",
                "UserCreateDate": 1.7e9,
                "UserLastModifiedDate": 1.7e9,
            }),
        ),
        None => error(400, "UserNotFoundException", "User does not exist."),
    }
}

static EMPTY: BTreeMap<String, FakeUser> = BTreeMap::new();

/// The service's pattern for pool ids: `[\w-]+_[0-9a-zA-Z]+`.
fn is_pool_id(id: &str) -> bool {
    id.split_once('_').is_some_and(|(region, suffix)| {
        !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !suffix.is_empty()
            && suffix.chars().all(|c| c.is_ascii_alphanumeric())
    })
}
