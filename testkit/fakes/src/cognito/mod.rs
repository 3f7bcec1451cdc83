//! A loopback Cognito user pools endpoint (`cognito-idp`, AWS JSON 1.1: `POST /` with
//! `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>`), answering the operations this
//! project calls: `ListUserPoolClients` (paginated), `DescribeUserPoolClient`, `DescribeUserPool`
//! and `ListUsers` (filtered by an attribute, or paginated over the pool). It checks the SigV4
//! credential scope and which operations each caller's IAM policy allows, validates the input as
//! the service's model does (aws/api-models-aws `cognito-identity-provider-2016-04-18.json`:
//! `ListUsersRequest` `Limit` 0-60, `Filter` at most 256 characters, the searchable
//! attributes), throttles each quota category past its default rate ("Quotas in Amazon
//! Cognito": `UserList` 30, `UserPoolRead` 15, `UserPoolClientRead` 15 requests per second per
//! account and region) and answers errors in the service's shape (`__type`, `message`,
//! `x-amzn-errortype`, HTTP 400 as the service sends them, whatever the model declares).

mod users;

use users::list_users;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::eks::sigv4::signed_for;
use crate::serve::{self, Answer, aws_error, spawn_server};

const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";

/// A caller of the fake: its access key and the operations its IAM policy allows.
#[derive(Debug, Clone)]
pub struct Caller {
    pub access_key_id: String,
    /// The role name the caller's session is of (in `AccessDeniedException` messages).
    pub role: String,
    pub allowed: Vec<&'static str>,
}

#[derive(Default)]
struct State {
    /// App clients by pool id, each the `UserPoolClient` document DescribeUserPoolClient returns.
    pools: BTreeMap<String, Vec<Value>>,
    /// Users by pool id, then user name.
    users: BTreeMap<String, BTreeMap<String, FakeUser>>,
    /// Operations called, in order.
    calls: Vec<String>,
    /// `ListUsers` calls still to refuse with `TooManyRequestsException`.
    throttled: usize,
    /// The recent requests of each quota category (their arrival), for its rate.
    recent: BTreeMap<&'static str, VecDeque<Instant>>,
    /// Requests refused for going over a category's rate.
    over_quota: usize,
    /// Added to every answer.
    latency: Duration,
}

/// A user of a pool.
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

/// The quota category of an operation and its default rate, per second ("Quotas in Amazon
/// Cognito", docs.aws.amazon.com/cognito/latest/developerguide/quotas.html, the category table).
fn quota(operation: &str) -> Option<(&'static str, usize)> {
    match operation {
        "ListUsers" => Some(("UserList", 30)),
        "DescribeUserPool" => Some(("UserPoolRead", 15)),
        "ListUserPoolClients" | "DescribeUserPoolClient" => Some(("UserPoolClientRead", 15)),
        _ => None,
    }
}

impl FakeCognito {
    /// Serves the region's endpoint for `callers` (each signing with its access key).
    pub async fn start(region: &str, callers: Vec<Caller>) -> FakeCognito {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let region = region.to_owned();
        let callers = Arc::new(callers);
        let address = spawn_server(
            None,
            Arc::new(move |request| {
                let state = shared.clone();
                let (region, callers) = (region.clone(), callers.clone());
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
                    let body = crate::serve::read_body(request).await;
                    let latency = state.lock().unwrap_or_else(|p| p.into_inner()).latency;
                    tokio::time::sleep(latency).await;
                    let caller = callers.iter().find(|c| {
                        signed_for(&authorization, &c.access_key_id, &region, "cognito-idp")
                    });
                    let Some(caller) = caller else {
                        return Ok(error(
                            400,
                            "UnrecognizedClientException",
                            "The security token included in the request is invalid.",
                        ));
                    };
                    Ok(handle(&state, caller, &region, &target, &body))
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

    /// Refuses the next `times` `ListUsers` calls as over the request rate quota.
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

    /// Requests refused so far for going over their category's default rate.
    pub fn over_quota(&self) -> usize {
        self.lock().over_quota
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn handle(
    state: &Mutex<State>,
    caller: &Caller,
    region: &str,
    target: &str,
    body: &[u8],
) -> Answer {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
        return error(400, "UnknownOperationException", "");
    };
    state.calls.push(operation.to_owned());
    let Ok(input) = serde_json::from_slice::<Value>(body) else {
        return error(400, "SerializationException", "the body is not JSON");
    };
    let pool_id = input["UserPoolId"].as_str().unwrap_or("");
    if let Err(Refused(kind, message)) = admit(&mut state, caller, region, operation, pool_id) {
        return error(400, kind, &message);
    }
    let Some(clients) = state.pools.get(pool_id).cloned() else {
        return error(
            400,
            "ResourceNotFoundException",
            &format!("User pool {pool_id} does not exist."),
        );
    };
    match operation {
        "ListUsers" => list_users(&mut state, pool_id, &input),
        "DescribeUserPool" => {
            let users = state.users.get(pool_id).map_or(0, BTreeMap::len);
            answer(
                200,
                &json!({"UserPool": {"Id": pool_id, "Name": "kubeflow",
                                     "EstimatedNumberOfUsers": users}}),
            )
        }
        "ListUserPoolClients" => list_clients(&clients, pool_id, &input),
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

/// A request Cognito refuses (HTTP 400): its `__type` and message.
struct Refused(&'static str, String);

/// Whether `caller` may call `operation` on `pool_id` now: a valid pool id, an IAM policy that
/// names the operation, and its category's rate not exceeded; else Cognito's refusal.
fn admit(
    state: &mut State,
    caller: &Caller,
    region: &str,
    operation: &str,
    pool_id: &str,
) -> Result<(), Refused> {
    if !is_pool_id(pool_id) {
        return Err(Refused("InvalidParameterException", "1 validation error detected: Value at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+".to_string()));
    }
    // IAM: the caller's policy names the operation (docs.aws.amazon.com/service-authorization
    // "Actions, resources, and condition keys for Amazon Cognito User Pools").
    if !caller.allowed.contains(&operation) {
        return Err(Refused(
            "AccessDeniedException",
            format!(
                "User: arn:aws:sts::111122223333:assumed-role/{}/session is not authorized to perform: cognito-idp:{operation} on resource: arn:aws:cognito-idp:{region}:111122223333:userpool/{pool_id} because no identity-based policy allows the cognito-idp:{operation} action",
                caller.role
            ),
        ));
    }
    if let Some((category, per_second)) = quota(operation) {
        let now = Instant::now();
        let recent = state.recent.entry(category).or_default();
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            recent.pop_front();
        }
        if recent.len() >= per_second {
            state.over_quota += 1;
            return Err(Refused(
                "TooManyRequestsException",
                "Too many requests".into(),
            ));
        }
        recent.push_back(now);
    }
    Ok(())
}

/// `ListUserPoolClients`: a page of at most `MaxResults` (1 to 60) of the pool's clients.
fn list_clients(clients: &[Value], pool_id: &str, input: &Value) -> Answer {
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
