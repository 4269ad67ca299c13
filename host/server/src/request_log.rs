//! One structured log line per HTTP request, and a request id.
//!
//! Each request gets an id (the caller's `x-request-id` when it is a short
//! token, else a fresh one), returned in the `x-request-id` response header
//! and carried by the request's span, so a citizen's support ticket can be
//! matched to the log. The line names the method, the route template (for
//! example `/my/cases/{id}`), the status and the latency. It never carries
//! the path's values or the query string: those can hold case numbers or a
//! resident ID number typed at the counter, and logs are not a place for
//! personal data.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header that carries the request id both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The log target of request lines; `TONGBAN_LOG=tongban::request=info`.
pub const TARGET: &str = "tongban::request";

fn accepted_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let fits = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    fits.then(|| text.to_owned())
}

fn fresh_id() -> String {
    let mut bytes = [0u8; 8];
    // Without an entropy source the id is still unique enough per process.
    if getrandom::fill(&mut bytes).is_err() {
        bytes = tongban_store::now_ms().to_be_bytes();
    }
    hex::encode(bytes)
}

/// The middleware: run the request inside a span, then log one line.
pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(accepted_id)
        .unwrap_or_else(fresh_id);
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(no route)".to_owned());
    let span = tracing::info_span!(target: TARGET, "request", request_id = %id, %method, route = %route);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(target: TARGET, status, latency_ms, "request failed");
        } else {
            tracing::info!(target: TARGET, status, latency_ms, "request");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_id_is_kept_only_when_it_is_a_short_token() {
        assert_eq!(
            accepted_id(&HeaderValue::from_static("abc-123_X")).as_deref(),
            Some("abc-123_X")
        );
        assert_eq!(accepted_id(&HeaderValue::from_static("has space")), None);
        assert_eq!(accepted_id(&HeaderValue::from_static("")), None);
        let long = "a".repeat(65);
        assert_eq!(accepted_id(&HeaderValue::from_str(&long).unwrap()), None);
        assert_eq!(fresh_id().len(), 16);
    }
}
