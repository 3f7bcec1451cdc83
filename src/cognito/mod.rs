//! The Cognito user pools edge: the people of the pool whose trigger this is, by `sub`, for
//! the sweep. I/O (the `cognito-idp` API; `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` is
//! honoured). Nothing here reads app clients: describing one returns its secret, and no
//! function that parses Cognito events may read secrets (`make pool-check` does that check with
//! the operator's credentials).

pub mod users;
