//! `ListUsers` as the user pool answers it: `Limit` up to 60, a `Filter` on a searchable
//! attribute (`=` or `^=`), pages by `PaginationToken`. Pure (on the fake's state).

#[allow(unused_imports)]
use super::*;

/// The attributes `ListUsers` can filter on (the model's `ListUsersRequest.Filter`
/// documentation; custom attributes are not searchable).
const SEARCHABLE: [&str; 10] = [
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
];

/// `attribute = "value"` or `attribute ^= "value"` (the attribute may be quoted too).
fn parse_filter(filter: &str) -> Option<(String, bool, String)> {
    let (attribute, rest, prefix) = match filter.split_once("^=") {
        Some((a, r)) => (a, r, true),
        None => {
            let (a, r) = filter.split_once('=')?;
            (a, r, false)
        }
    };
    let attribute = attribute.trim().trim_matches('"').to_owned();
    let value = rest.trim().strip_prefix('"')?.strip_suffix('"')?.to_owned();
    (SEARCHABLE.contains(&attribute.as_str()) && !value.contains('"'))
        .then_some((attribute, prefix, value))
}

/// `ListUsers`: a page of the pool's users (by user name), those matching the filter.
/// What a `ListUsers` request asks for.
struct UsersQuery {
    limit: usize,
    /// `Filter`: the attribute, whether it is a prefix (`^=`), and the value.
    wanted: Option<(String, bool, String)>,
    /// After which user name the page starts.
    after: Option<String>,
}

/// `ListUsers`'s input, checked as the service checks it.
fn users_query(input: &Value) -> Result<UsersQuery, Refused> {
    let limit = match input.get("Limit") {
        None => 60,
        Some(limit) => match limit.as_u64() {
            Some(n) if n <= 60 => n as usize,
            _ => {
                return Err(Refused("InvalidParameterException", "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value less than or equal to 60".to_string()));
            }
        },
    };
    let filter = input["Filter"].as_str().unwrap_or("");
    if filter.chars().count() > 256 {
        return Err(Refused("InvalidParameterException", "1 validation error detected: Value at 'filter' failed to satisfy constraint: Member must have length less than or equal to 256".to_string()));
    }
    let wanted = match filter {
        "" => None,
        _ => Some(parse_filter(filter).ok_or_else(|| {
            Refused(
                "InvalidParameterException",
                "Error while parsing filter.".into(),
            )
        })?),
    };
    let after = match input.get("PaginationToken") {
        None => None,
        Some(token) => match token.as_str().and_then(|t| t.strip_prefix("after:")) {
            Some(name) => Some(name.to_owned()),
            None => {
                return Err(Refused(
                    "InvalidParameterException",
                    "Invalid pagination token".to_string(),
                ));
            }
        },
    };
    Ok(UsersQuery {
        limit,
        wanted,
        after,
    })
}

/// True when the user `username` matches the query's filter.
fn matches_filter(query: &UsersQuery, username: &str, user: &FakeUser) -> bool {
    let Some((attribute, prefix, value)) = &query.wanted else {
        return true;
    };
    let actual = match attribute.as_str() {
        "sub" => user.sub.as_str(),
        "username" => username,
        "status" if user.enabled => "Enabled",
        "status" => "Disabled",
        _ => return false,
    };
    if *prefix {
        actual.starts_with(value.as_str())
    } else {
        actual == value
    }
}

pub(super) fn list_users(state: &mut State, pool_id: &str, input: &Value) -> Answer {
    let query = match users_query(input) {
        Ok(query) => query,
        Err(Refused(kind, message)) => return error(400, kind, &message),
    };
    if state.throttled > 0 {
        state.throttled -= 1;
        return error(400, "TooManyRequestsException", "Too many requests");
    }
    let users = state.users.get(pool_id).unwrap_or(&EMPTY);
    let mut page: Vec<Value> = Vec::new();
    let mut last = None;
    let mut more = false;
    for (username, user) in users
        .range::<str, _>((
            query
                .after
                .as_deref()
                .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
            std::ops::Bound::Unbounded,
        ))
        .filter(|(username, user)| matches_filter(&query, username, user))
    {
        if page.len() == query.limit.max(1) {
            more = true;
            break;
        }
        page.push(json!({
            "Username": username,
            "Attributes": [{"Name": "sub", "Value": user.sub}],
            "Enabled": user.enabled,
            "UserStatus": "EXTERNAL_PROVIDER",
            "UserCreateDate": 1.7e9,
            "UserLastModifiedDate": 1.7e9,
        }));
        last = Some(username.clone());
    }
    let mut output = json!({"Users": page});
    if let (true, Some(last)) = (more, last) {
        output["PaginationToken"] = json!(format!("after:{last}"));
    }
    answer(200, &output)
}

static EMPTY: BTreeMap<String, FakeUser> = BTreeMap::new();
