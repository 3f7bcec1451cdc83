//! Reports a start-up failure to the Lambda Runtime API (`/runtime/init/error`), so a bad
//! configuration shows as an init error naming the variable. I/O.

use http::{Method, Request};
use lambda_runtime_api_client::PooledClient;
use lambda_runtime_api_client::body::Body;
use serde_json::json;

/// Posts `message` as an init error of type `error_type`; failures to report are printed.
pub async fn report_init_error(error_type: &str, message: &str) {
    let body = json!({"errorType": error_type, "errorMessage": message}).to_string();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", error_type)
        .header("content-type", "application/json")
        .body(Body::from(body));
    let result = match request {
        Ok(request) => PooledClient::builder()
            .build()
            .call(request)
            .await
            .map(drop),
        Err(e) => Err(e.into()),
    };
    if let Err(e) = result {
        eprintln!("could not report the init error to the Runtime API: {e}");
    }
}
