//! The authorization matrix: every route of the API and the pages, against
//! every role and an anonymous caller, over real HTTP against
//! `tongban serve --demo`.
//!
//! The routes are read from the routers' source (`src/api/mod.rs` and
//! `src/web/mod.rs`), so a route added without an entry in [`MATRIX`] fails
//! this test, and so does an entry whose route is gone.
//!
//! A request counts as *denied* when the answer is 401 or 403, or, for a page,
//! the redirect to sign in (`/login?next=...`). Anything else below 500 counts as *allowed*: the
//! caller got past authorization, even if the probe's input is then refused
//! as invalid or unknown. A 5xx fails the test whoever asks. Probes use
//! well-formed bodies (so the role check is reached rather than stopped by a
//! parse error) that name versions, cases or ids that do not exist, so an
//! allowed probe changes nothing.

mod page_client;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use page_client::{Browser, hidden, sign_in};
use tongban_tests::ServerProcess;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anonymous,
    Citizen,
    WindowClerk,
    Handler,
    Publisher,
    Reviewer,
    RegionAdmin,
    SecurityOfficer,
    Auditor,
    PlatformAdmin,
}

use Who::*;

const EVERYONE: &[Who] = &[
    Anonymous,
    Citizen,
    WindowClerk,
    Handler,
    Publisher,
    Reviewer,
    RegionAdmin,
    SecurityOfficer,
    Auditor,
    PlatformAdmin,
];
const SIGNED_IN: &[Who] = &[
    Citizen,
    WindowClerk,
    Handler,
    Publisher,
    Reviewer,
    RegionAdmin,
    SecurityOfficer,
    Auditor,
    PlatformAdmin,
];

impl Who {
    /// The demo account of this role.
    fn account(self) -> Option<&'static str> {
        Some(match self {
            Anonymous => return None,
            Citizen => "zhangsan",
            WindowClerk => "clerk",
            Handler => "handler",
            Publisher => "publisher",
            Reviewer => "reviewer",
            RegionAdmin => "region-admin",
            SecurityOfficer => "security",
            Auditor => "auditor",
            PlatformAdmin => "admin",
        })
    }
}

/// What a probe sends.
#[derive(Debug, Clone, Copy)]
enum Probe {
    /// No body.
    Empty,
    /// A JSON body, with the caller's API token.
    Json(&'static str),
    /// Raw bytes (a package upload), with the caller's API token.
    Bytes(&'static [u8]),
    /// A page form, with the caller's session cookie and CSRF token.
    Form(&'static [(&'static str, &'static str)]),
    /// A page's file upload (`multipart/form-data`): the CSRF token and one
    /// file field with these contents.
    Upload(&'static str, &'static [u8]),
}

/// One route: who may use it, and the probe that asks.
struct Rule {
    method: &'static str,
    path: &'static str,
    probe: Probe,
    allowed: &'static [Who],
}

const fn rule(method: &'static str, path: &'static str, probe: Probe, allowed: &'static [Who]) -> Rule {
    Rule {
        method,
        path,
        probe,
        allowed,
    }
}

const APP: &str = "cn.gov.hz.amr.sole-proprietor";

/// Every route. Path parameters are filled by [`concrete`].
const MATRIX: &[Rule] = &[
    // Public: the API description, the catalogue, certificate checks anyone
    // holding a certificate may make, the sandbox bank's hosted page and its
    // signed callbacks, the metrics scrape, and the sign-in page.
    rule("GET", "/api/v1/openapi.json", Probe::Empty, EVERYONE),
    rule("GET", "/api/v1/catalog", Probe::Empty, EVERYONE),
    rule("GET", "/api/v1/certificates/seal-key", Probe::Empty, EVERYONE),
    rule("GET", "/api/v1/certificates/{id}/status", Probe::Empty, EVERYONE),
    rule("GET", "/pay/{id}", Probe::Empty, EVERYONE),
    rule("POST", "/pay/{id}", Probe::Form(&[("decision", "pay")]), EVERYONE),
    rule(
        "POST",
        "/api/v1/payments/callbacks/{provider}",
        Probe::Json("{}"),
        EVERYONE,
    ),
    rule("GET", "/metrics", Probe::Empty, EVERYONE),
    rule("GET", "/", Probe::Empty, EVERYONE),
    rule("GET", "/login", Probe::Empty, EVERYONE),
    // The stylesheet, and the public pages for whoever is shown a
    // certificate: its status (where its QR code points) and the check of a
    // sealed copy, which changes nothing.
    rule("GET", "/assets/{file}", Probe::Empty, EVERYONE),
    rule("GET", "/check/{id}", Probe::Empty, EVERYONE),
    rule("GET", "/verify", Probe::Empty, EVERYONE),
    rule("POST", "/verify", Probe::Upload("copy", b"not a sealed copy"), EVERYONE),
    rule(
        "POST",
        "/login",
        Probe::Form(&[("user", ""), ("password", "")]),
        EVERYONE,
    ),
    // Marketplace administration.
    rule(
        "POST",
        "/api/v1/orgs",
        Probe::Json(r#"{"code":"x","name":"x","region":"330100"}"#),
        &[PlatformAdmin],
    ),
    rule("GET", "/api/v1/orgs", Probe::Empty, SIGNED_IN),
    rule(
        "POST",
        "/api/v1/orgs/{code}/namespaces",
        Probe::Json(r#"{"prefix":"cn.gov.hz.amr.x"}"#),
        &[PlatformAdmin],
    ),
    rule(
        "POST",
        "/api/v1/orgs/{code}/keys",
        Probe::Json(r#"{"public_key":"00"}"#),
        &[PlatformAdmin, Publisher],
    ),
    rule("GET", "/api/v1/orgs/{code}/keys", Probe::Empty, SIGNED_IN),
    rule(
        "POST",
        "/api/v1/orgs/{code}/keys/{key_id}/rotate",
        Probe::Json(r#"{"public_key":"00"}"#),
        &[PlatformAdmin, Publisher],
    ),
    rule(
        "POST",
        "/api/v1/orgs/{code}/keys/{key_id}/revoke",
        Probe::Json(r#"{"compromised_at":0}"#),
        &[PlatformAdmin, SecurityOfficer, Publisher],
    ),
    rule("POST", "/api/v1/apps", Probe::Bytes(b"not a package"), &[Publisher]),
    rule(
        "POST",
        "/api/v1/apps/{app}/versions/{version}/withdraw",
        Probe::Empty,
        &[Publisher],
    ),
    rule(
        "POST",
        "/api/v1/apps/{app}/versions/{version}/release",
        Probe::Json(r#"{"action":"halt","region":"330100"}"#),
        &[RegionAdmin, PlatformAdmin, Publisher, SecurityOfficer],
    ),
    rule("GET", "/api/v1/apps/{app}/deployments", Probe::Empty, SIGNED_IN),
    rule(
        "GET",
        "/api/v1/nodes",
        Probe::Empty,
        &[PlatformAdmin, RegionAdmin, SecurityOfficer],
    ),
    rule("GET", "/api/v1/reviews", Probe::Empty, &[Reviewer, PlatformAdmin]),
    rule(
        "GET",
        "/api/v1/reviews/{app}/{version}",
        Probe::Empty,
        &[Reviewer, PlatformAdmin, Publisher],
    ),
    rule(
        "POST",
        "/api/v1/reviews/{app}/{version}/decision",
        Probe::Json(r#"{"decision":"reject","reason":"x"}"#),
        &[Reviewer],
    ),
    rule(
        "GET",
        "/api/v1/audit",
        Probe::Empty,
        &[SecurityOfficer, Auditor, PlatformAdmin],
    ),
    rule(
        "GET",
        "/api/v1/audit/verify",
        Probe::Empty,
        &[SecurityOfficer, Auditor, PlatformAdmin],
    ),
    rule("GET", "/api/v1/serving/{region}/{app}", Probe::Empty, SIGNED_IN),
    rule(
        "POST",
        "/api/v1/serving/{region}/{app}/validate",
        Probe::Json(r#"{"subject":"x","form":{}}"#),
        &[RegionAdmin, PlatformAdmin],
    ),
    // A citizen's own records.
    rule(
        "POST",
        "/api/v1/consents",
        Probe::Json(r#"{"region":"330100","app":"cn.gov.hz.amr.sole-proprietor"}"#),
        &[Citizen],
    ),
    rule("POST", "/api/v1/consents/{id}/grant", Probe::Empty, &[Citizen]),
    rule("POST", "/api/v1/consents/{id}/deny", Probe::Empty, &[Citizen]),
    rule("POST", "/api/v1/consents/{id}/revoke", Probe::Empty, &[Citizen]),
    rule("GET", "/api/v1/me/consents", Probe::Empty, &[Citizen]),
    rule("GET", "/api/v1/me/cases", Probe::Empty, &[Citizen]),
    rule("GET", "/api/v1/me/certificates", Probe::Empty, &[Citizen]),
    rule("GET", "/api/v1/me/certificates/{id}/copy", Probe::Empty, &[Citizen]),
    rule("GET", "/api/v1/me/inbox", Probe::Empty, &[Citizen]),
    rule("POST", "/api/v1/me/inbox/{id}/read", Probe::Empty, &[Citizen]),
    // Cases: citizens apply for themselves and window clerks for a citizen at
    // the counter; staff work their org's queues.
    rule(
        "POST",
        "/api/v1/applications",
        Probe::Json(r#"{"region":"330100","app":"cn.gov.hz.amr.sole-proprietor","form":{}}"#),
        &[Citizen, WindowClerk],
    ),
    rule("GET", "/api/v1/cases", Probe::Empty, &[WindowClerk, Handler]),
    rule(
        "GET",
        "/api/v1/cases/{id}",
        Probe::Empty,
        &[Citizen, WindowClerk, Handler],
    ),
    rule(
        "POST",
        "/api/v1/cases/{id}/steps",
        Probe::Json(r#"{"action":"accept"}"#),
        &[Citizen, WindowClerk, Handler],
    ),
    rule(
        "POST",
        "/api/v1/certificates/{id}/status",
        Probe::Json(r#"{"status":"suspended","reason":"x"}"#),
        &[WindowClerk, Handler],
    ),
    rule(
        "GET",
        "/api/v1/payments/reconciliation",
        Probe::Empty,
        &[Auditor, PlatformAdmin],
    ),
    rule("GET", "/api/v1/case-events/parked", Probe::Empty, &[PlatformAdmin]),
    rule(
        "POST",
        "/api/v1/case-events/{case}/{seq}/requeue",
        Probe::Empty,
        &[PlatformAdmin],
    ),
    rule(
        "GET",
        "/api/v1/provenance",
        Probe::Empty,
        &[SecurityOfficer, Auditor, PlatformAdmin],
    ),
    // Pages.
    rule("POST", "/logout", Probe::Form(&[]), SIGNED_IN),
    rule("GET", "/services/{app}", Probe::Empty, &[Citizen]),
    rule(
        "POST",
        "/services/{app}/consent",
        Probe::Form(&[("decision", "deny")]),
        &[Citizen],
    ),
    rule("POST", "/services/{app}/apply", Probe::Form(&[]), &[Citizen]),
    rule("GET", "/my/cases", Probe::Empty, &[Citizen]),
    rule("GET", "/my/cases/{id}", Probe::Empty, &[Citizen]),
    rule("GET", "/my/wallet", Probe::Empty, &[Citizen]),
    rule("GET", "/my/wallet/{id}", Probe::Empty, &[Citizen]),
    rule("GET", "/my/wallet/{id}/copy", Probe::Empty, &[Citizen]),
    rule("GET", "/my/consents", Probe::Empty, &[Citizen]),
    rule("POST", "/my/consents/{id}/revoke", Probe::Form(&[]), &[Citizen]),
    rule("GET", "/my/inbox", Probe::Empty, &[Citizen]),
    rule("GET", "/work", Probe::Empty, &[WindowClerk, Handler]),
    rule("GET", "/work/cases/{id}", Probe::Empty, &[WindowClerk, Handler]),
    rule(
        "POST",
        "/work/cases/{id}",
        Probe::Form(&[("action", "accept")]),
        &[WindowClerk, Handler],
    ),
    rule(
        "POST",
        "/my/cases/{id}/rating",
        Probe::Form(&[("level", "satisfied")]),
        &[Citizen],
    ),
    rule(
        "POST",
        "/my/cases/{id}/correction",
        Probe::Form(&[("business/trade-name", "x")]),
        &[Citizen],
    ),
    rule(
        "POST",
        "/work/remediation/{id}",
        Probe::Form(&[("note", "x")]),
        &[WindowClerk, Handler],
    ),
    rule("GET", "/work/counter", Probe::Empty, &[WindowClerk]),
    rule(
        "POST",
        "/work/counter",
        Probe::Form(&[("app", APP), ("id_number", "x")]),
        &[WindowClerk],
    ),
    rule(
        "POST",
        "/work/counter/{app}",
        Probe::Form(&[("id_number", "x")]),
        &[WindowClerk],
    ),
    rule("GET", "/publish", Probe::Empty, &[Publisher]),
    rule(
        "POST",
        "/publish",
        Probe::Upload("package", b"not a package"),
        &[Publisher],
    ),
    rule(
        "POST",
        "/publish/{app}/{version}/withdraw",
        Probe::Form(&[]),
        &[Publisher],
    ),
    rule("GET", "/reviews", Probe::Empty, &[Reviewer]),
    rule("GET", "/reviews/{app}/{version}", Probe::Empty, &[Reviewer]),
    rule(
        "POST",
        "/reviews/{app}/{version}",
        Probe::Form(&[("decision", "reject"), ("reason", "x")]),
        &[Reviewer],
    ),
    rule("GET", "/region", Probe::Empty, &[RegionAdmin]),
    rule(
        "POST",
        "/region/{app}/{version}",
        Probe::Form(&[("action", "halt"), ("region", "330100")]),
        &[RegionAdmin],
    ),
    rule("GET", "/security", Probe::Empty, &[SecurityOfficer]),
    rule(
        "POST",
        "/security/{app}/{version}/revoke",
        Probe::Form(&[("action", "revoke"), ("reason", "x")]),
        &[SecurityOfficer],
    ),
    rule(
        "GET",
        "/audit",
        Probe::Empty,
        &[SecurityOfficer, Auditor, PlatformAdmin],
    ),
    rule(
        "POST",
        "/audit/verify",
        Probe::Form(&[]),
        &[SecurityOfficer, Auditor, PlatformAdmin],
    ),
];

/// Whose hook a route may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hooks {
    /// The caller's own application: a citizen applying or correcting their
    /// own case, or a window clerk applying for a citizen at the counter.
    OwnApplication,
    /// Any app's hook for a subject the caller names: operators only.
    Operator,
}

/// Every route that may run an app's `validate` or `submit` hook on the
/// request path. Any other route that runs one fails the matrix, and so does
/// a route of [`Hooks::Operator`] that a citizen may use: a citizen reaches
/// app code only through their own application.
const HOOK_ROUTES: &[(&str, &str, Hooks)] = &[
    ("POST", "/api/v1/applications", Hooks::OwnApplication),
    ("POST", "/api/v1/cases/{id}/steps", Hooks::OwnApplication),
    ("POST", "/services/{app}/apply", Hooks::OwnApplication),
    ("POST", "/my/cases/{id}/correction", Hooks::OwnApplication),
    ("POST", "/work/counter/{app}", Hooks::OwnApplication),
    ("POST", "/api/v1/serving/{region}/{app}/validate", Hooks::Operator),
];

fn hooks_of(rule: &Rule) -> Option<Hooks> {
    HOOK_ROUTES
        .iter()
        .find(|(method, path, _)| *method == rule.method && *path == rule.path)
        .map(|(_, _, hooks)| *hooks)
}

/// The request-path hook calls (`validate` and `submit`) the server has made,
/// summed over every app from `/metrics`. Case events run `on-event` in the
/// background and are not counted, so the figure moves only with requests.
fn request_hook_calls(agent: &ureq::Agent, base: &str) -> u64 {
    let text = agent
        .get(format!("{base}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    text.lines()
        .filter(|line| line.starts_with("tongban_app_calls_total{"))
        .filter(|line| line.contains("hook=\"validate\"") || line.contains("hook=\"submit\""))
        .map(|line| {
            line.rsplit(' ')
                .next()
                .and_then(|n| n.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("a metrics line without a number: {line}")) as u64
        })
        .sum()
}

/// A route template with its parameters filled by values that exist where
/// reading is harmless (the demo app, its version, its region, the demo
/// publisher org) and by unknown ids where acting would change something.
fn concrete(path: &str) -> String {
    path.replace("{app}", APP)
        .replace("{version}", "9.9.9")
        .replace("{region}", "330100")
        .replace("{code}", "113301000024891238")
        .replace("{key_id}", "no-such-key")
        .replace("{provider}", "sandbox")
        .replace("{id}", "no-such-id")
        .replace("{case}", "no-such-case")
        .replace("{seq}", "1")
        + probe_query(path)
}

/// The query a route needs before it reaches its authorization check. The
/// reconciliation probe names an org no demo staff member belongs to.
fn probe_query(path: &str) -> &'static str {
    match path {
        "/api/v1/cases" => "?queue=intake",
        "/api/v1/me/certificates/{id}/copy" => "?purpose=matrix",
        "/api/v1/payments/reconciliation" => "?org=11330200002489910G&date=2026-11-27",
        _ => "",
    }
}

/// `(method, path)` of every `.route(...)` in a router's source.
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
        // A method router this reader cannot expand would hide its methods.
        for opaque in ["any(", "on(", "_service(", "MethodRouter"] {
            assert!(
                !call.contains(opaque),
                "the route {path} uses `{opaque}`, which this reader cannot expand; list its methods with get/post/put/patch/delete"
            );
        }
        let before_count = found.len();
        for method in ["get", "post", "put", "patch", "delete"] {
            let bytes = call.as_bytes();
            let mut from = 0;
            while let Some(i) = call[from..].find(&format!("{method}(")) {
                let i = from + i;
                let before = if i == 0 { b' ' } else { bytes[i - 1] };
                // `get(`, `.post(` (chained) and `routing::get(` count;
                // `get_thing(` does not. Handlers are named, never called, in
                // a route, so any other `get(` would be a method router too.
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

fn issue_token(data_dir: &Path, user: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(["admin", "issue-token", "--id", user, "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Status and `Location` of one probe.
fn ask(
    agent: &ureq::Agent,
    base: &str,
    rule: &Rule,
    token: Option<&str>,
    session: Option<&(String, String)>,
) -> (u16, Option<String>) {
    let url = format!("{base}{}", concrete(rule.path));
    let mut request = ureq::http::Request::builder().method(rule.method).uri(&url);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    if let Some((cookie, _)) = session {
        request = request.header("Cookie", cookie.as_str());
    }
    let result = match rule.probe {
        Probe::Empty => agent.run(request.body(Vec::new()).unwrap()),
        Probe::Json(text) => agent.run(
            request
                .header("Content-Type", "application/json")
                .body(text.as_bytes().to_vec())
                .unwrap(),
        ),
        Probe::Bytes(bytes) => agent.run(
            request
                .header("Content-Type", "application/octet-stream")
                .body(bytes.to_vec())
                .unwrap(),
        ),
        Probe::Form(fields) => {
            let mut pairs: Vec<(&str, &str)> = fields.to_vec();
            if let Some((_, csrf)) = session {
                pairs.push(("csrf", csrf.as_str()));
            }
            let body = pairs
                .iter()
                .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
                .collect::<Vec<_>>()
                .join("&");
            agent.run(
                request
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body.into_bytes())
                    .unwrap(),
            )
        }
        Probe::Upload(field, contents) => {
            const BOUNDARY: &str = "tongban-matrix-boundary";
            let mut body = Vec::new();
            if let Some((_, csrf)) = session {
                body.extend_from_slice(
                    format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
                        .as_bytes(),
                );
            }
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"probe.tbpkg\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(contents);
            body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
            agent.run(
                request
                    .header("Content-Type", format!("multipart/form-data; boundary={BOUNDARY}"))
                    .body(body)
                    .unwrap(),
            )
        }
    };
    let response = result.unwrap_or_else(|e| panic!("{} {url}: {e}", rule.method));
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), location)
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// 401 or 403, or the redirect to sign in that a page gives an anonymous
/// visitor (`/login?next=...`; signing out also lands on `/login`, without
/// `next`, and is not a denial).
fn denied(status: u16, location: Option<&str>) -> bool {
    status == 401
        || status == 403
        || (matches!(status, 302 | 303 | 307) && location.is_some_and(|l| l.starts_with("/login?next=")))
}

/// Every `.rs` file under `dir`, with its text.
fn sources_under(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(sources_under(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            found.push((path, text));
        }
    }
    found
}

/// A function of the server's source: its file's stem (the module), its
/// name and its body.
struct Function {
    module: String,
    name: String,
    body: String,
}

/// Every function of the server's source with its body.
fn functions_in(sources: &[(std::path::PathBuf, String)]) -> Vec<Function> {
    let mut found = Vec::new();
    for (path, text) in sources {
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("fn ") {
            let before = rest[..at].chars().last();
            rest = &rest[at + 3..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            // The body opens at the first brace after the parameter list
            // closes: a parameter may destructure with braces of its own
            // (`Citizen { user, .. }: Citizen`).
            let params_end = rest.find('(').and_then(|start| {
                let mut depth = 0;
                rest[start..].char_indices().find_map(|(i, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(start + i)
                })
            });
            let open = params_end.and_then(|end| rest[end..].find('{').map(|i| end + i));
            let (Some(open), false) = (open, name.is_empty()) else {
                continue;
            };
            if rest[..open].contains(';') {
                continue; // a declaration without a body
            }
            let mut depth = 0;
            let mut end = open;
            for (i, c) in rest[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = open + i;
                    break;
                }
            }
            found.push(Function {
                module: module.clone(),
                name,
                body: rest[open..=end].to_owned(),
            });
            rest = &rest[end..];
        }
    }
    found
}

/// The places in `body` that call `name`: `(what precedes the call)`, such
/// as `.` for a method, `m::` for a path, or nothing for a bare call.
fn call_sites<'a>(body: &'a str, name: &str) -> Vec<&'a str> {
    let needle = format!("{name}(");
    body.match_indices(&needle)
        .filter_map(|(at, _)| {
            let head = &body[..at];
            match head.chars().last() {
                Some(c) if c.is_alphanumeric() || c == '_' => None,
                _ => Some(head),
            }
        })
        .collect()
}

/// Statically, every route whose handler reaches an app's hook (calls
/// `AppState::call_app`, directly or through the server's own functions) is
/// in `HOOK_ROUTES`, and every entry there does reach one: a route added
/// later that drives a hook is caught before any probe runs. Calls are
/// resolved by module: `m::f(` is `f` of module `m`; a bare `f(` is `f` of
/// the same module, or the only `f` there is.
#[test]
fn every_route_that_reaches_a_hook_is_listed() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let functions = functions_in(&sources_under(&src));
    let unique = |name: &str| functions.iter().filter(|f| f.name == name).count() == 1;
    let mut reaching: BTreeSet<(String, String)> = BTreeSet::new();
    loop {
        let before = reaching.len();
        for f in &functions {
            let key = (f.module.clone(), f.name.clone());
            if reaching.contains(&key) {
                continue;
            }
            let seeds = call_sites(&f.body, "call_app").iter().any(|head| head.ends_with('.'));
            let through = reaching.iter().any(|(module, name)| {
                call_sites(&f.body, name).iter().any(|head| {
                    head.ends_with(&format!("{module}::"))
                        || (!head.ends_with("::") && !head.ends_with('.') && (*module == f.module || unique(name)))
                })
            });
            if seeds || through {
                reaching.insert(key);
            }
        }
        if reaching.len() == before {
            break;
        }
    }
    for expected in ["submit", "check_form", "resubmit"] {
        assert!(
            reaching.contains(&("apply".to_owned(), expected.to_owned())),
            "the call graph reader found too little: {reaching:?}"
        );
    }
    let mut unlisted = Vec::new();
    let mut listed_without_hook = Vec::new();
    for (file, text) in [
        ("api/mod.rs", include_str!("../src/api/mod.rs")),
        ("web/mod.rs", include_str!("../src/web/mod.rs")),
    ] {
        for (method, path, handler) in route_handlers(text) {
            let (module, name) = handler.rsplit_once("::").unwrap_or(("", handler.as_str()));
            let module = module.rsplit("::").next().unwrap_or(module);
            let reaches = reaching.contains(&(module.to_owned(), name.to_owned()));
            let listed = HOOK_ROUTES.iter().any(|(m, p, _)| *m == method && *p == path);
            if reaches && !listed {
                unlisted.push(format!("{method} {path} ({file}: {handler})"));
            }
            if listed && !reaches {
                listed_without_hook.push(format!("{method} {path} ({handler})"));
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "routes that reach an app's hook but are not in HOOK_ROUTES: {unlisted:?}"
    );
    assert!(
        listed_without_hook.is_empty(),
        "HOOK_ROUTES entries whose handlers reach no hook: {listed_without_hook:?}"
    );
}

/// `(method, path, handler)` of every `.route(...)` in a router's source.
fn route_handlers(source: &str) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let path = rest
            .split('"')
            .nth(1)
            .expect("a route's path is a string literal")
            .to_owned();
        let end = rest.find("))").map(|i| i + 2).unwrap_or(rest.len());
        let call = &rest[..end];
        for method in ["get", "post", "put", "patch", "delete"] {
            let needle = format!("{method}(");
            for (i, _) in call.match_indices(&needle) {
                let before = call[..i].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let handler: String = call[i + needle.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                found.push((method.to_uppercase(), path.clone(), handler));
            }
        }
        rest = &rest[end.min(rest.len())..];
    }
    found
}

#[test]
fn routes_are_added_only_where_the_matrix_reads_them() {
    // The matrix reads `api/mod.rs` and `web/mod.rs`; a router built or
    // extended anywhere else, or one nested or merged in some other way,
    // would escape it.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut escaped = Vec::new();
    for (path, text) in sources_under(&src) {
        let relative = path.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        let reads_routes = relative == "api/mod.rs" || relative == "web/mod.rs";
        for construct in [
            ".route(",
            "Router::new(",
            ".nest(",
            ".nest_service(",
            ".route_service(",
            ".fallback",
        ] {
            if text.contains(construct) && !reads_routes {
                escaped.push(format!("{relative} uses {construct}"));
            }
        }
        for construct in [".nest(", ".nest_service(", ".route_service(", ".fallback"] {
            if text.contains(construct) && reads_routes {
                escaped.push(format!(
                    "{relative} uses {construct}, which the route reader does not follow"
                ));
            }
        }
        let merges = text.matches(".merge(").count();
        let known = text.matches(".merge(crate::web::router())").count();
        if merges != known {
            escaped.push(format!("{relative} merges a router other than the pages'"));
        }
    }
    assert!(escaped.is_empty(), "routes outside the matrix's reach: {escaped:?}");
}

#[test]
fn every_route_allows_exactly_the_roles_in_the_matrix() {
    // The matrix and the routers name the same routes.
    let api = routes_in(include_str!("../src/api/mod.rs"));
    let pages = routes_in(include_str!("../src/web/mod.rs"));
    let routed: BTreeSet<(String, String)> = api.union(&pages).cloned().collect();
    assert!(routed.len() > 40, "the route parser found too few routes: {routed:?}");
    let listed: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(listed.len(), MATRIX.len(), "a route is listed twice in the matrix");
    let missing: Vec<_> = routed.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&routed).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "routes without a matrix entry: {missing:?}; matrix entries without a route: {stale:?}"
    );

    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let args = vec!["--demo".to_owned(), "--data-dir".to_owned(), data.display().to_string()];
    let server = ServerProcess::start(Path::new(env!("CARGO_BIN_EXE_tongban")), &args, &[]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();

    // Each role's API token and page session (cookie header and CSRF token).
    let mut tokens = BTreeMap::new();
    let mut sessions = BTreeMap::new();
    for &who in SIGNED_IN {
        let account = who.account().unwrap();
        tokens.insert(who, issue_token(&data, account));
        let mut browser = Browser::new(&server.url);
        sign_in(&mut browser, account);
        // Every page's sign-out form carries the session's CSRF token; the
        // home page may send staff on to their own start page.
        let mut home = browser.get("/");
        for _ in 0..3 {
            match home.location.clone() {
                Some(next) => home = browser.get(&next),
                None => break,
            }
        }
        let csrf = hidden(&home.body, "csrf");
        sessions.insert(who, (browser.cookie_header(), csrf));
    }

    // Every page form refuses a post without the session's CSRF token, even
    // from a role it allows: the post another site could forge. Sign-in and
    // the sandbox bank's pay page have no session yet and check a pre-session
    // token instead (`tests/web.rs`, `tests/first_app.rs`); checking a
    // sealed copy (`/verify`) changes nothing and needs no session.
    let mut unguarded = Vec::new();
    for rule in MATRIX {
        let is_page = !(rule.path.starts_with("/api/") || rule.path == "/metrics");
        let is_form = matches!(rule.probe, Probe::Form(_) | Probe::Upload(..));
        if !is_page || !is_form || rule.path == "/login" || rule.path == "/pay/{id}" || rule.path == "/verify" {
            continue;
        }
        let who = *rule
            .allowed
            .iter()
            .find(|w| **w != Anonymous)
            .unwrap_or_else(|| panic!("{} {} allows no signed-in role", rule.method, rule.path));
        let (cookie, _) = &sessions[&who];
        let forged = (cookie.clone(), String::new());
        let (status, location) = ask(&agent, &server.url, rule, None, Some(&forged));
        if status != 403 {
            unguarded.push(format!(
                "{} {} as {who:?} without the CSRF token: {status}{}",
                rule.method,
                rule.path,
                location.map(|l| format!(" → {l}")).unwrap_or_default()
            ));
        }
    }
    assert!(
        unguarded.is_empty(),
        "page forms that do not refuse a forged post:\n{}",
        unguarded.join("\n")
    );

    // Bad input to every posting route, from a role it allows: a body of an
    // unexpected content type gets a clear 4xx, and a form with one
    // over-long field never gets a 5xx.
    let mut crashed = Vec::new();
    let huge_field: &'static str = Box::leak("長".repeat(300_000).into_boxed_str());
    for rule in MATRIX.iter().filter(|r| r.method != "GET" && r.path != "/logout") {
        let is_page = !(rule.path.starts_with("/api/") || rule.path == "/metrics");
        let who = rule
            .allowed
            .iter()
            .copied()
            .find(|w| *w != Anonymous)
            .unwrap_or(Anonymous);
        let (token, session) = if is_page {
            (None, sessions.get(&who))
        } else {
            (tokens.get(&who).map(String::as_str), None)
        };
        let url = format!("{}{}", server.url, concrete(rule.path));
        let mut request = ureq::http::Request::builder()
            .method(rule.method)
            .uri(&url)
            .header("Content-Type", "text/plain");
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some((cookie, _)) = session {
            request = request.header("Cookie", cookie.as_str());
        }
        let status = agent
            .run(request.body(b"plain text".to_vec()).unwrap())
            .unwrap_or_else(|e| panic!("{} {url}: {e}", rule.method))
            .status()
            .as_u16();
        if !(400..500).contains(&status) {
            crashed.push(format!(
                "{} {} as {who:?} with a text/plain body: {status}",
                rule.method, rule.path
            ));
        }
        if let Probe::Form(fields) = rule.probe {
            let mut longer: Vec<(&'static str, &'static str)> = fields.to_vec();
            match longer.first_mut() {
                Some((_, value)) => *value = huge_field,
                None => longer.push(("reason", huge_field)),
            }
            let longer: &'static [(&'static str, &'static str)] = Box::leak(longer.into_boxed_slice());
            let probe = Rule {
                probe: Probe::Form(longer),
                ..*rule
            };
            let (status, _) = ask(&agent, &server.url, &probe, token, session);
            if status >= 500 {
                crashed.push(format!(
                    "{} {} as {who:?} with an over-long field: {status}",
                    rule.method, rule.path
                ));
            }
        }
    }
    assert!(crashed.is_empty(), "bad input answered badly:\n{}", crashed.join("\n"));

    // A route that runs any app's hook for a named subject is never open to
    // citizens.
    for rule in MATRIX {
        assert!(
            !(hooks_of(rule) == Some(Hooks::Operator) && rule.allowed.contains(&Citizen)),
            "{} {} runs an app's hook for a subject the caller names, yet citizens may use it",
            rule.method,
            rule.path
        );
    }
    for (method, path, _) in HOOK_ROUTES {
        assert!(
            MATRIX.iter().any(|r| r.method == *method && r.path == *path),
            "HOOK_ROUTES names {method} {path}, which is not a route"
        );
    }

    let mut wrong = Vec::new();
    let mut ran_hooks = Vec::new();
    // Sign-out ends the session, so it goes last.
    let ordered = MATRIX
        .iter()
        .filter(|r| r.path != "/logout")
        .chain(MATRIX.iter().filter(|r| r.path == "/logout"));
    for rule in ordered {
        let is_page = !(rule.path.starts_with("/api/") || rule.path == "/metrics");
        for &who in EVERYONE {
            let (token, session) = if is_page {
                (None, sessions.get(&who))
            } else {
                (tokens.get(&who).map(String::as_str), None)
            };
            let hooks_before = (who == Citizen).then(|| request_hook_calls(&agent, &server.url));
            let (status, location) = ask(&agent, &server.url, rule, token, session);
            if let Some(before) = hooks_before {
                let ran = request_hook_calls(&agent, &server.url) - before;
                if ran > 0 && hooks_of(rule) != Some(Hooks::OwnApplication) {
                    ran_hooks.push(format!(
                        "{} {} as a citizen ran {ran} app hook call(s) that were not the citizen's own application ({status})",
                        rule.method, rule.path
                    ));
                }
            }
            let expected = rule.allowed.contains(&who);
            let was_denied = denied(status, location.as_deref());
            if status >= 500 || expected == was_denied {
                wrong.push(format!(
                    "{} {} as {who:?}: {status}{} (expected {})",
                    rule.method,
                    rule.path,
                    location.map(|l| format!(" → {l}")).unwrap_or_default(),
                    if expected { "allowed" } else { "denied" }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{} wrong answers:\n{}", wrong.len(), wrong.join("\n"));
    assert!(ran_hooks.is_empty(), "{}", ran_hooks.join("\n"));
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
        .route("/d", axum::routing::delete(z::gone))
    "#;
    let routes = routes_in(source);
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/a"),
        ("POST", "/a"),
        ("POST", "/b/{id}"),
        ("GET", "/c"),
        ("DELETE", "/d"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(routes, expected);
}

#[test]
#[should_panic(expected = "cannot expand")]
fn the_route_reader_refuses_a_method_router_it_cannot_expand() {
    routes_in(r#".route("/any", any(x::everything))"#);
}
