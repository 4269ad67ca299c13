//! The OpenAPI document against the router: every route under `/api/v1/` has
//! its operation (method and path) in the document, and every operation in
//! the document is a route; each operation declares its path parameters and
//! answers its errors with the one envelope. The document and the envelope
//! are held to committed `insta` snapshots, and the document passes the
//! `openapi-spec-validator` tool from PyPI.
//!
//! The routes are read from the router's source (`src/api/mod.rs`) the way
//! `tests/authorization.rs` reads them, so a route added without a
//! `#[utoipa::path]` on its handler and an entry in `ApiDoc`'s `paths(...)`
//! fails here, named. Routes outside `/api/v1/` (the pay page, `/metrics`,
//! the web pages) are not part of the machine API and not in the document.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use utoipa::OpenApi;

/// The prefix of the routes the document covers.
const API_PREFIX: &str = "/api/v1/";

/// The methods a route may use; `routes_in` refuses any other method router.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `(method, path)` of every `.route(...)` in a router's source, the method
/// upper case and the path as written (axum's `{param}` syntax). The same
/// reader as `tests/authorization.rs`: a method router it cannot expand
/// (`any`, `on`, a service) fails it rather than hiding a route.
fn routes_in(source: &str) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("a .route( call closes");
        let call = &rest[..end];
        let path = call.split('"').nth(1).expect("a route's path is a string literal");
        for opaque in ["any(", "on(", "_service(", "MethodRouter"] {
            assert!(
                !call.contains(opaque),
                "the route {path} uses `{opaque}`, which this reader cannot expand; list its methods with get/post/put/patch/delete"
            );
        }
        let before_count = found.len();
        for method in METHODS {
            let bytes = call.as_bytes();
            let mut from = 0;
            while let Some(i) = call[from..].find(&format!("{method}(")) {
                let i = from + i;
                let before = if i == 0 { b' ' } else { bytes[i - 1] };
                // `get(`, `.post(` (chained) and `routing::get(` count;
                // `get_thing(` does not. Handlers are named, never called, in
                // a route, so any other `get(` is a method router too.
                if !(before.is_ascii_alphanumeric() || before == b'_') {
                    found.insert((method.to_uppercase(), path.to_owned()));
                }
                from = i + 1;
            }
        }
        assert!(
            found.len() > before_count,
            "no method found in the route {path}: {call}"
        );
        rest = &rest[end..];
    }
    found
}

/// An axum path template in OpenAPI's syntax. Both write a parameter as
/// `{name}`; axum's catch-all `{*name}` is OpenAPI's `{name}`.
fn openapi_path(axum_path: &str) -> String {
    axum_path.replace("{*", "{")
}

/// The names of a path template's parameters, in order.
fn path_parameters(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// The document as JSON, the way `/api/v1/openapi.json` serves it.
fn document() -> Value {
    serde_json::to_value(tongban::api::ApiDoc::openapi()).expect("the document serializes")
}

/// `(method, path)` of every operation in the document, the method upper case.
fn operations_in(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("the document has paths");
    let mut found = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for method in item.keys().filter(|key| METHODS.contains(&key.as_str())) {
            found.insert((method.to_uppercase(), path.clone()));
        }
    }
    found
}

/// The routes under [`API_PREFIX`], in OpenAPI's path syntax.
fn api_routes() -> BTreeSet<(String, String)> {
    let routes = routes_in(include_str!("../src/api/mod.rs"));
    assert!(routes.len() > 40, "the route reader found too few routes: {routes:?}");
    routes
        .into_iter()
        .filter(|(_, path)| path.starts_with(API_PREFIX))
        .map(|(method, path)| (method, openapi_path(&path)))
        .collect()
}

fn listed(routes: &[&(String, String)]) -> String {
    if routes.is_empty() {
        return "  (none)".into();
    }
    routes
        .iter()
        .map(|(method, path)| format!("  {method} {path}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_api_route_is_in_the_document_and_nothing_else() {
    let routes = api_routes();
    let documented = operations_in(&document());
    let missing: Vec<_> = routes.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&routes).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the OpenAPI document and the router disagree.\n\
         Routes without an operation in the document (give the handler a #[utoipa::path] and list it in ApiDoc's paths(...)):\n{}\n\
         Operations in the document without a route:\n{}",
        listed(&missing),
        listed(&stale),
    );
}

#[test]
fn every_operation_declares_its_path_parameters_and_its_errors() {
    let document = document();
    let envelope = "#/components/schemas/ErrorEnvelope";
    let mut problems = Vec::new();
    let mut operation_ids = BTreeMap::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            // Clients name their calls by operation id, so each is unique.
            let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
            if let Some(other) = operation_ids.insert(id.clone(), format!("{method} {path}")) {
                problems.push(format!("{method} {path}: the operation id `{id}` is {other}'s too"));
            }
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            for name in path_parameters(path) {
                if !declared.contains(name.as_str()) {
                    problems.push(format!("{method} {path}: the path parameter `{name}` is not declared"));
                }
            }
            let responses = operation["responses"].as_object().unwrap();
            // Every error an operation declares carries a body: the envelope,
            // or for a rejected form the envelope with its fields.
            for (status, response) in responses {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                if response["content"]["application/json"]["schema"].is_null() {
                    problems.push(format!("{method} {path}: the {status} answer has no JSON body"));
                }
            }
            // The document itself is the one operation that answers no error
            // of its own; every other one can at least be refused.
            let errors_in_envelope = responses.iter().any(|(status, response)| {
                (status.starts_with('4') || status.starts_with('5'))
                    && response["content"]["application/json"]["schema"]["$ref"] == envelope
            });
            if !errors_in_envelope && path != "/api/v1/openapi.json" {
                problems.push(format!("{method} {path}: no 4xx or 5xx answer in the error envelope"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_route_reader_sees_chained_and_wrapped_routes() {
    let source = r#"
        .route("/a", get(x::a).post(x::b))
        .route(
            "/b/{id}",
            post(y::c),
        )
        .route("/c", get(targets::get_thing))
        .route("/d/{*rest}", axum::routing::delete(z::gone))
    "#;
    let routes: BTreeSet<(String, String)> = routes_in(source)
        .into_iter()
        .map(|(method, path)| (method, openapi_path(&path)))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/a"),
        ("POST", "/a"),
        ("POST", "/b/{id}"),
        ("GET", "/c"),
        ("DELETE", "/d/{rest}"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(routes, expected);
    assert_eq!(path_parameters("/x/{app}/y/{version}"), ["app", "version"]);
}

/// The document with its version, which follows the workspace's, replaced, so
/// a release does not change the snapshot.
fn snapshot_document() -> Value {
    let mut document = document();
    document["info"]["version"] = Value::String("[version]".into());
    document
}

#[test]
fn the_document_is_stable_and_matches_its_snapshot() {
    // Paths, schemas and responses are ordered maps, so two builds of the
    // document serialize alike; the snapshot depends on it.
    let first = serde_json::to_string(&tongban::api::ApiDoc::openapi()).unwrap();
    let second = serde_json::to_string(&tongban::api::ApiDoc::openapi()).unwrap();
    assert_eq!(first, second, "the document is not built deterministically");
    insta::assert_json_snapshot!("openapi_document", snapshot_document());
}

#[test]
fn the_document_passes_openapi_spec_validator() {
    // Run as a module of the machine's Python, which `cargo xtask test`
    // installs it into, so the check does not depend on where pip put the
    // script.
    let tool = "openapi-spec-validator";
    let present = Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--help"])
        .output();
    if !present.as_ref().is_ok_and(|o| o.status.success()) {
        // CI must run the check; elsewhere it is skipped with a warning,
        // like the other checks that need a tool from PyPI.
        let install = "python3 -m pip install openapi-spec-validator";
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs {tool} to validate the OpenAPI document: {install}"
        );
        eprintln!("warning: {tool} is not installed, so the document is not validated; {install}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&document()).unwrap()).unwrap();
    let output = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{tool} refuses the document:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One request to the real router, in this process: its method, address,
/// headers and body.
struct Ask<'a> {
    method: &'a str,
    uri: String,
    headers: &'a [(&'a str, &'a str)],
    body: &'a str,
}

/// Ask the router and read its answer, which must be JSON.
async fn ask(router: axum::Router, ask: Ask<'_>) -> (StatusCode, Value) {
    let Ask {
        method,
        uri,
        headers,
        body,
    } = ask;
    let mut request = Request::builder().method(method).uri(&uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::from(body.to_owned())).unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024).await.unwrap();
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "{method} {uri} answered {status} without JSON: {}",
        String::from_utf8_lossy(&bytes)
    );
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn the_error_envelope_matches_its_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let store = tongban::cli::StoreArgs {
        data_dir: dir.path().to_owned(),
        database_url: None,
        blob_url: None,
    };
    let state = tongban::cli::serve::open_state(&store, 1024 * 1024).await.unwrap();
    let router = tongban::api::router(state);

    // Each answer is snapshotted with its status; none carries a value that
    // differs between requests (no ids, times or paths of this machine).
    let get = |uri: &str| Ask {
        method: "GET",
        uri: uri.to_owned(),
        headers: &[],
        body: "",
    };
    let mut answers = BTreeMap::new();
    for (name, request) in [
        // A callback from a provider the platform does not know: the
        // services' `not_found`. The routes that answer it without a token
        // are the public ones, so the callback is the one to ask.
        (
            "not_found",
            Ask {
                method: "POST",
                uri: "/api/v1/payments/callbacks/no-such-provider".into(),
                headers: &[("x-tongban-signature", "00"), ("content-type", "application/json")],
                body: "{}",
            },
        ),
        // No route at all: the router's 404, put in the envelope.
        ("no_such_route", get("/api/v1/no-such-route")),
        // Search text over 100 characters: the handler's `invalid_input`.
        ("invalid_input", get(&format!("/api/v1/catalog?q={}", "x".repeat(101)))),
        // A malformed certificate id: the services' `invalid`, a 422.
        ("invalid", get("/api/v1/certificates/no-such-certificate/status")),
        // No API token.
        ("unauthorized", get("/api/v1/orgs")),
        // A route that does not take the method.
        (
            "method_not_allowed",
            Ask {
                method: "DELETE",
                ..get("/api/v1/orgs")
            },
        ),
    ] {
        let (status, body) = ask(router.clone(), request).await;
        answers.insert(name, serde_json::json!({ "status": status.as_u16(), "body": body }));
    }
    insta::assert_json_snapshot!("error_envelopes", answers);
}
