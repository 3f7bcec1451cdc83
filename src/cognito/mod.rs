//! The Cognito user pools edge: the app clients of the pool whose trigger this is (for the
//! doctor), and one user by name (for the sweep). I/O (the `cognito-idp` API;
//! `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` is honoured).

pub mod app_clients;
pub mod users;
