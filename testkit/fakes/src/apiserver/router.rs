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
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();

    let (latency, fault) = {
        let mut state = shared.lock();
        let position = state
            .faults
            .iter()
            .position(|(_, m)| m.as_ref().is_none_or(|m| *m == method));
        (
            state.latency,
            position
                .and_then(|i| state.faults.remove(i))
                .map(|(f, _)| f),
        )
    };
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
    match fault {
        Some(Fault::Hang) => {
            record(0);
            tokio::time::sleep(Duration::from_secs(600)).await;
            return Err(std::io::Error::other("hung"));
        }
        Some(Fault::Reset) => {
            record(0);
            return Err(std::io::Error::other("connection reset by the fake"));
        }
        Some(Fault::Status { code, retry_after }) => {
            record(code);
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
            return Ok(answer
                .body(Full::new(Bytes::from(status.to_string())))
                .expect("static response parts"));
        }
        None => {}
    }

    let now = (shared.config.clock)();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let verdict = match token {
        None => Err("no bearer token".to_owned()),
        Some(token) => shared.config.authenticate(token, now),
    };
    let user = match verdict {
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
    let parse_body = || -> Result<Value, Reply> {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::new(400, "BadRequest", format!("the body is not JSON: {e}")).into()
        })
    };
    let target = Target {
        resource: route.resource,
        version: route.version,
        namespace: route.namespace.as_deref(),
    };
    let mut state = shared.lock();
    state.store.set_now(rfc3339(now));
    let mut scratch;
    let store: &mut Store = if dry_run {
        scratch = state.store.clone();
        &mut scratch
    } else {
        &mut state.store
    };
    let manager = field_manager.as_deref().unwrap_or("unknown");
    // Admission sees who writes (the store then forgets it: its own writes are not requests).
    store.set_caller(Some(user.clone()), dry_run);
    let outcome: Result<(u16, Value), ApiError> = match (method.clone(), route.name.as_deref()) {
        (Method::GET, None) => paged_list(store, &target, query).map(|v| (200, v)),
        (Method::POST, None) if target.resource.namespaced == target.namespace.is_some() => {
            let created = store
                .create(&target, parse_body()?, manager)
                .map(|v| (201, v));
            if created.is_ok() && !dry_run && target.resource.kind == "Profile" {
                schedule_profile_controller(
                    shared,
                    &created.as_ref().map(|(_, v)| v.clone()).unwrap_or_default(),
                );
            }
            created
        }
        (Method::GET, Some(name)) => store.get(&target, name).map(|v| (200, v)),
        (Method::PUT, Some(name)) => store
            .update(&target, name, parse_body()?, manager)
            .map(|v| (200, v)),
        (Method::PATCH, Some(name)) if content_type.starts_with("application/apply-patch+yaml") => {
            let applied = store.apply(
                &target,
                name,
                parse_body()?,
                field_manager.as_deref(),
                force,
            );
            if let Ok((object, true)) = &applied
                && !dry_run
                && target.resource.kind == "Profile"
            {
                schedule_profile_controller(shared, object);
            }
            applied.map(|(v, created)| (if created { 201 } else { 200 }, v))
        }
        (Method::PATCH, Some(name)) if content_type.starts_with("application/merge-patch+json") => {
            store
                .merge_patch(&target, name, parse_body()?, manager)
                .map(|v| (200, v))
        }
        (Method::PATCH, Some(_)) => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the fake serves apply and merge patches only, not {content_type:?}"),
        )),
        (Method::DELETE, Some(name)) => {
            let options = if body.is_empty() {
                json!({})
            } else {
                parse_body()?
            };
            store.delete(&target, name, &options).map(|v| (200, v))
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not allowed here"),
        )),
    };
    store.set_caller(None, false);
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
