//! The Cognito user pools edge: the app clients of the pool whose trigger this is, for the
//! doctor. I/O (the `cognito-idp` API; `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` is honoured).

pub mod app_clients;
