//! The fake API server's request path: the connection's request read, the fault or latency
//! injected, the caller authenticated and authorised, the route resolved to a resource, and
//! the store's answer written as kube-apiserver writes it. I/O (loopback HTTPS).

#[allow(unused_imports)]
use super::*;

/// Counts a request as in progress for as long as it lives.
pub(super) struct InFlight(Arc<Shared>);

impl InFlight {
    fn enter(shared: &Arc<Shared>) -> InFlight {
        let mut state = shared.lock();
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().in_flight -= 1;
    }
}

pub(super) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Answer, std::io::Error> {
    let _in_flight = InFlight::enter(&shared);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let headers = request.headers().clone();
    let body = crate::serve::read_body(request).await;

    let (latency, fault) = take_fault(&shared, &method);
    tokio::time::sleep(latency).await;
    let record_sized = |status: u16, response_bytes: usize| {
        shared.lock().requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            status,
            response_bytes,
        });
    };
    let record = |status: u16| record_sized(status, 0);
    if let Some(fault) = fault {
        record(fault.status());
        return fault_answer(fault).await;
    }
    let now = (shared.config.clock)();
    let user = match authenticate(&shared, &headers, now) {
        Ok(user) => user,
        Err(reason) => {
            record(401);
            shared.lock().rejected_tokens.push(reason);
            return Ok(json_answer(
                401,
                &ApiError::new(401, "Unauthorized", "Unauthorized").to_status(),
            ));
        }
    };
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let answer = route(
        &shared,
        &user,
        &method,
        &path,
        &query,
        &content_type,
        &body,
        now,
    );
    let (status, answer) = match answer {
        Ok((status, value)) => (status, json_answer(status, &value)),
        Err(Reply::Api(error)) => (error.code, json_answer(error.code, &error.to_status())),
        Err(Reply::NotFoundPage) => (404, text_answer(404, "404 page not found\n")),
    };
    record_sized(
        status,
        hyper::body::Body::size_hint(answer.body())
            .exact()
            .unwrap_or(0) as usize,
    );
    Ok(answer)
}

/// The latency to add, and the next injected fault that matches `method` (taken).
fn take_fault(shared: &Shared, method: &Method) -> (Duration, Option<Fault>) {
    let mut state = shared.lock();
    let position = state
        .faults
        .iter()
        .position(|(_, m)| m.as_ref().is_none_or(|m| m == method));
    (
        state.latency,
        position
            .and_then(|i| state.faults.remove(i))
            .map(|(f, _)| f),
    )
}

impl Fault {
    /// The status the request log records for the fault (0: no answer).
    fn status(&self) -> u16 {
        match self {
            Fault::Hang | Fault::Reset => 0,
            Fault::Status { code, .. } => *code,
        }
    }
}

/// What an injected fault answers: nothing (a hang, a reset), or an error status.
async fn fault_answer(fault: Fault) -> Result<Answer, std::io::Error> {
    match fault {
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            Err(std::io::Error::other("hung"))
        }
        Fault::Reset => Err(std::io::Error::other("connection reset by the fake")),
        Fault::Status { code, retry_after } => {
            let reason = if code == 429 {
                "TooManyRequests"
            } else {
                "InternalError"
            };
            let mut status = ApiError::new(code, reason, "injected fault").to_status();
            let mut answer = Response::builder()
                .status(code)
                .header("content-type", "application/json");
            if let Some(seconds) = retry_after {
                status["details"] = json!({"retryAfterSeconds": seconds});
                answer = answer.header("retry-after", seconds.to_string());
            }
            Ok(answer
                .body(Full::new(Bytes::from(status.to_string())))
                .expect("static response parts"))
        }
    }
}

/// The caller of a request, from its bearer token (as aws-iam-authenticator verifies it), or
/// why it is refused.
fn authenticate(
    shared: &Shared,
    headers: &hyper::HeaderMap,
    now: SystemTime,
) -> Result<UserInfo, String> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        None => Err("no bearer token".to_owned()),
        Some(token) => shared.config.authenticate(token, now),
    }
}

pub(super) enum Reply {
    Api(ApiError),
    /// A path no API serves: the real server answers in plain text.
    NotFoundPage,
}

impl From<ApiError> for Reply {
    fn from(error: ApiError) -> Self {
        Reply::Api(error)
    }
}

pub(super) fn resolve(shared: &Shared, segments: &[&str]) -> Option<Route> {
    let (group, version, rest) = match segments {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let find = |plural: &str| {
        shared.served().into_iter().find(|r| {
            r.group == group && r.plural == plural && shared.versions_of(r).contains(&version)
        })
    };
    let version_of = |r: &Resource| {
        shared
            .versions_of(r)
            .iter()
            .find(|v| **v == version)
            .copied()
    };
    let route = |resource: Resource, namespace: Option<&str>, name: Option<&str>| {
        Some(Route {
            version: version_of(&resource)?,
            resource,
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
        })
    };
    match rest {
        ["namespaces", ns, plural] => find(plural)
            .filter(|r| r.namespaced)
            .and_then(|r| route(r, Some(ns), None)),
        ["namespaces", ns, plural, name] => find(plural)
            .filter(|r| r.namespaced)
            .and_then(|r| route(r, Some(ns), Some(name))),
        [plural] => find(plural).and_then(|r| route(r, None, None)),
        [plural, name] => find(plural)
            .filter(|r| !r.namespaced)
            .and_then(|r| route(r, None, Some(name))),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn route(
    shared: &Arc<Shared>,
    user: &UserInfo,
    method: &Method,
    path: &str,
    query: &str,
    content_type: &str,
    body: &[u8],
    now: SystemTime,
) -> Result<(u16, Value), Reply> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if *method == Method::GET
        && let Some(document) = discovery(shared, &segments)
    {
        return Ok((200, document));
    }
    if segments
        == [
            "apis",
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
        ]
    {
        return self_subject_access_review(shared.config.rbac.as_ref(), user, method, body);
    }
    let route = resolve(shared, &segments).ok_or(Reply::NotFoundPage)?;
    if let Some(rbac) = &shared.config.rbac {
        let rules = rbac.rules_for(user, route.namespace.as_deref());
        // The escalation check judges the binding as it would be after the write: a patch
        // that leaves roleRef out keeps the stored one.
        let stored_role_ref = route.name.as_deref().and_then(|name| {
            shared
                .lock()
                .store
                .raw(&route.resource, route.namespace.as_deref(), name)
                .map(|stored| stored["roleRef"].clone())
        });
        authorize(&rules, user, method, &route, body, stored_role_ref)?;
    }
    let options = WriteOptions::of(query)?;
    let call = Call {
        method,
        query,
        content_type,
        body,
        options,
    };
    let target = Target {
        resource: route.resource,
        version: route.version,
        namespace: route.namespace.as_deref(),
    };
    let mut state = shared.lock();
    state.store.set_now(rfc3339(now));
    let mut scratch;
    let store: &mut Store = if call.options.dry_run {
        scratch = state.store.clone();
        &mut scratch
    } else {
        &mut state.store
    };
    // Admission sees who writes (the store then forgets it: its own writes are not requests).
    store.set_caller(Some(user.clone()), call.options.dry_run);
    let outcome = dispatch(shared, store, &target, route.name.as_deref(), &call);
    store.set_caller(None, false);
    outcome
}

/// The query parameters of a write: `dryRun=All`, `fieldManager`, `force`.
struct WriteOptions {
    dry_run: bool,
    field_manager: Option<String>,
    force: bool,
}

impl WriteOptions {
    /// The options of `query`, refused as kube-apiserver refuses them.
    fn of(query: &str) -> Result<Self, Reply> {
        let dry_run = match query_param(query, "dryRun").as_deref() {
            None => false,
            Some("All") => true,
            Some(other) => {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!("unsupported dryRun value {other:?}"),
                )
                .into());
            }
        };
        let field_manager = query_param(query, "fieldManager");
        if let Some(manager) = &field_manager
            && (manager.len() > 128 || manager.chars().any(|c| c.is_control()))
        {
            return Err(ApiError::new(422, "Invalid", "fieldManager: Invalid value").into());
        }
        let force = match query_param(query, "force").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(ApiError::new(400, "BadRequest", "invalid force value").into()),
        };
        Ok(WriteOptions {
            dry_run,
            field_manager,
            force,
        })
    }
}

/// One request to the store.
struct Call<'a> {
    method: &'a Method,
    query: &'a str,
    content_type: &'a str,
    body: &'a [u8],
    options: WriteOptions,
}

impl Call<'_> {
    fn parse_body(&self) -> Result<Value, Reply> {
        serde_json::from_slice(self.body).map_err(|e| {
            ApiError::new(400, "BadRequest", format!("the body is not JSON: {e}")).into()
        })
    }
}

/// The store's answer to `call` on `target` (the object `name`, or the collection); a created
/// Profile is handed to the profile controller.
fn dispatch(
    shared: &Arc<Shared>,
    store: &mut Store,
    target: &Target,
    name: Option<&str>,
    call: &Call,
) -> Result<(u16, Value), Reply> {
    let manager = call.options.field_manager.as_deref().unwrap_or("unknown");
    let reconciles = !call.options.dry_run && target.resource.kind == "Profile";
    let content_type = call.content_type;
    let outcome: Result<(u16, Value), ApiError> = match (call.method.clone(), name) {
        (Method::GET, None) => paged_list(store, target, call.query).map(|v| (200, v)),
        (Method::POST, None) if target.resource.namespaced == target.namespace.is_some() => {
            let created = store.create(target, call.parse_body()?, manager);
            if let (Ok(profile), true) = (&created, reconciles) {
                schedule_profile_controller(shared, profile);
            }
            created.map(|v| (201, v))
        }
        (Method::GET, Some(name)) => store.get(target, name).map(|v| (200, v)),
        (Method::PUT, Some(name)) => store
            .update(target, name, call.parse_body()?, manager)
            .map(|v| (200, v)),
        (Method::PATCH, Some(name)) if content_type.starts_with("application/apply-patch+yaml") => {
            let applied = store.apply(
                target,
                name,
                call.parse_body()?,
                call.options.field_manager.as_deref(),
                call.options.force,
            );
            if let (Ok((profile, true)), true) = (&applied, reconciles) {
                schedule_profile_controller(shared, profile);
            }
            applied.map(|(v, created)| (if created { 201 } else { 200 }, v))
        }
        (Method::PATCH, Some(name)) if content_type.starts_with("application/merge-patch+json") => {
            store
                .merge_patch(target, name, call.parse_body()?, manager)
                .map(|v| (200, v))
        }
        (Method::PATCH, Some(_)) => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the fake serves apply and merge patches only, not {content_type:?}"),
        )),
        (Method::DELETE, Some(name)) => {
            let options = if call.body.is_empty() {
                json!({})
            } else {
                call.parse_body()?
            };
            store.delete(target, name, &options).map(|v| (200, v))
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{} is not allowed here", call.method),
        )),
    };
    outcome.map_err(Reply::from)
}

/// A list as the API server pages it: `limit` items (all without one) after the item a
/// `continue` token names, in key order (namespace, name), and a `continue` token while more
/// remain.
pub(super) fn paged_list(store: &Store, target: &Target, query: &str) -> Result<Value, ApiError> {
    let limit = match query_param(query, "limit") {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => {
                return Err(ApiError::new(
                    400,
                    "BadRequest",
                    format!("invalid limit {text:?}"),
                ));
            }
        },
    };
    let token = query_param(query, "continue").filter(|t| !t.is_empty());
    let after = match &token {
        None => None,
        Some(token) => Some(
            token
                .strip_prefix(CONTINUE_PREFIX)
                .and_then(|k| k.split_once('/'))
                .ok_or_else(|| {
                    ApiError::new(
                        400,
                        "BadRequest",
                        "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
                    )
                })?,
        ),
    };
    let page = (limit.is_some() || after.is_some()).then_some(Page {
        limit: limit.unwrap_or(usize::MAX),
        after,
    });
    let (mut list, last) = store.list(
        target,
        query_param(query, "labelSelector").as_deref(),
        query_param(query, "fieldSelector").as_deref(),
        page,
    )?;
    if let Some((namespace, name)) = last {
        list["metadata"]["continue"] = json!(format!("{CONTINUE_PREFIX}{namespace}/{name}"));
    }
    Ok(list)
}

/// The fake's continue tokens: this, then the key of the last item returned.
pub(super) const CONTINUE_PREFIX: &str = "fake-continue-after:";
