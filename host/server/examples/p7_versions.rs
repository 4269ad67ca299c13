//! P7 (issue 13) set-up and check: many distinct app versions published
//! through a running `tongban serve` by the real path, and one hook call to
//! each. `bench/p7-many-versions.sh` drives it; see there and `BENCHMARKS.md`.
//!
//! ```text
//! p7_versions publish URL PACKAGE KEY_FILE COUNT
//! p7_versions call URL COUNT
//! ```
//!
//! `publish` takes the first app's package (as `tongban app build` wrote it)
//! and makes `COUNT` distinct apps of it, `cn.gov.hz.amr.p7-0001` and on:
//! each gets its own app id in the manifest and its own component bytes (a
//! custom section naming the copy is appended to the component, which is
//! valid at the end of any component binary, so no two share a digest and
//! each is compiled and cached on its own). Each is signed with the demo
//! bureau's key, uploaded (`POST /api/v1/apps`: every check, the signature
//! and a compile in the server's compiler child), approved by the reviewer
//! with every capability acknowledged, and rolled out to 100 % of the demo
//! region by its region admin. A step that is already done (a conflict) is
//! skipped, so an interrupted set-up can be run again. The tokens come from
//! `TONGBAN_PUBLISHER_TOKEN`, `TONGBAN_REVIEWER_TOKEN` and
//! `TONGBAN_REGION_ADMIN_TOKEN`; `TONGBAN_P7_THREADS` uploads at once
//! (default 2, the server's package workers).
//!
//! `call` runs `validate` once on each copy and on the first app through
//! `POST /api/v1/serving/{region}/{app}/validate` with `TONGBAN_TOKEN` (a
//! platform admin's), and fails unless every answer is 200 from the
//! expected version with a `validate` result.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tongban_registry::Package;
use tongban_registry::signing::SigningKey;

/// The demo region the copies are rolled out to.
const REGION: &str = "330100";
/// The first app, which `serve --demo` publishes itself.
const FIRST_APP: &str = "cn.gov.hz.amr.sole-proprietor";
/// The name of the custom section that makes each copy's component distinct.
const SECTION: &str = "tongban-p7-copy";

/// The app id of copy `n` (from 1).
fn copy_id(n: usize) -> String {
    format!("cn.gov.hz.amr.p7-{n:04}")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["publish", url, package, key, count] => publish(url, package, key, parse_count(count)),
        ["call", url, count] => call_each(url, parse_count(count)),
        _ => Err("usage: p7_versions publish URL PACKAGE KEY_FILE COUNT | call URL COUNT".into()),
    };
    if let Err(e) = result {
        eprintln!("p7_versions: {e}");
        std::process::exit(1);
    }
}

fn parse_count(text: &str) -> usize {
    text.parse().unwrap_or_else(|_| {
        eprintln!("p7_versions: COUNT `{text}` is not a number");
        std::process::exit(2)
    })
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

/// The component with a custom section appended: section id 0, the
/// section's size, then the name (length-prefixed) and the payload.
fn with_custom_section(component: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    leb128(&mut body, name.len() as u64);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = component.to_vec();
    out.push(0);
    leb128(&mut out, body.len() as u64);
    out.extend_from_slice(&body);
    out
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Copy `n` of the first app's package, signed.
fn copy_of(first: &Package, key: &SigningKey, n: usize) -> Package {
    let mut package = first.clone();
    package.manifest_text = first
        .manifest_text
        .replace(&format!("id = \"{FIRST_APP}\""), &format!("id = \"{}\"", copy_id(n)));
    package.component = with_custom_section(&first.component, SECTION, format!("copy {n}").as_bytes());
    package.signature = None;
    package.sign(key);
    package
}

fn publish(url: &str, package: &str, key: &str, count: usize) -> Result<(), String> {
    let first = Package::read(std::path::Path::new(package)).map_err(|e| format!("{package}: {e}"))?;
    if !first.manifest_text.contains(&format!("id = \"{FIRST_APP}\"")) {
        return Err(format!("{package} is not the package of {FIRST_APP}"));
    }
    let key_text = std::fs::read_to_string(key).map_err(|e| format!("{key}: {e}"))?;
    let key = SigningKey::from_file_text(&key_text).map_err(|e| format!("{key}: {e}"))?;
    let tokens = [
        env("TONGBAN_PUBLISHER_TOKEN")?,
        env("TONGBAN_REVIEWER_TOKEN")?,
        env("TONGBAN_REGION_ADMIN_TOKEN")?,
    ];
    let threads: usize = std::env::var("TONGBAN_P7_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let next = AtomicUsize::new(1);
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<(), String> {
                    let client = Client::new(url);
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n > count {
                            return Ok(());
                        }
                        let package = copy_of(&first, &key, n);
                        release_copy(&client, &tokens, &copy_id(n), package)?;
                        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if finished.is_multiple_of(50) || finished == count {
                            eprintln!(
                                "p7_versions: {finished}/{count} published, approved and rolled out ({:.0} s)",
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a publishing thread panicked"))
            .collect::<Result<Vec<()>, String>>()
    })?;
    Ok(())
}

/// Publish, approve and roll out one copy; each step already done is skipped.
fn release_copy(client: &Client, tokens: &[String; 3], app: &str, package: Package) -> Result<(), String> {
    let [publisher, reviewer, region_admin] = tokens;
    let version = package.manifest().map_err(|e| e.to_string())?.app.version.to_string();
    let (status, receipt) = client.retrying(|| client.post_bytes("/apps", package.to_bytes(), publisher))?;
    if status == 200 || status == 201 {
        let acknowledged: Vec<Value> = receipt["diff"]
            .as_array()
            .ok_or_else(|| format!("{app}: a publish receipt without a diff: {receipt}"))?
            .iter()
            .filter(|c| c["kind"] == "added" || c["kind"] == "raised")
            .map(|c| c["id"].clone())
            .collect();
        let (status, body) = client.retrying(|| {
            client.post_json(
                &format!("/reviews/{app}/{version}/decision"),
                json!({"decision": "approve", "acknowledged": acknowledged}),
                reviewer,
            )
        })?;
        expect(status, &body, &format!("approving {app}"))?;
    } else if status != 409 {
        return Err(format!("publishing {app}: {status} {receipt}"));
    }
    let (status, body) = client.retrying(|| {
        client.post_json(
            &format!("/apps/{app}/versions/{version}/release"),
            json!({"action": "rollout", "region": REGION, "percentage": 100}),
            region_admin,
        )
    })?;
    expect(status, &body, &format!("rolling out {app}"))
}

/// A 2xx, or a conflict (the step was done before).
fn expect(status: u16, body: &Value, what: &str) -> Result<(), String> {
    if (200..300).contains(&status) || status == 409 {
        Ok(())
    } else {
        Err(format!("{what}: {status} {body}"))
    }
}

fn call_each(url: &str, count: usize) -> Result<(), String> {
    let token = env("TONGBAN_TOKEN")?;
    let client = Client::new(url);
    let form = json!({
        "operator": { "name": "张三", "id-number": "11010519491231002X", "phone": "13800138000" },
        "business": { "trade-name": "西湖小厨", "industry": "餐饮", "scope": ["餐饮服务"], "address": "杭州市西湖区文三路90号" }
    });
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for app in std::iter::once(FIRST_APP.to_owned()).chain((1..=count).map(copy_id)) {
        let call_started = Instant::now();
        let (status, body) = client.retrying(|| {
            client.post_json(
                &format!("/serving/{REGION}/{app}/validate"),
                json!({"subject": "citizen-p7", "form": form}),
                &token,
            )
        })?;
        slowest = slowest.max(call_started.elapsed());
        if status != 200 || body["version"] != "1.0.0" || body["result"]["hook"] != "validate" {
            return Err(format!("validate on {app}: {status} {body}"));
        }
    }
    eprintln!(
        "p7_versions: validate answered by all {} apps in {:.1} s (slowest call {:.0} ms)",
        count + 1,
        started.elapsed().as_secs_f64(),
        slowest.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// A keep-alive HTTP client for the server's `/api/v1`.
struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    fn new(base: &str) -> Client {
        Client {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(120)))
                .build()
                .into(),
            base: format!("{base}/api/v1"),
        }
    }

    /// Send until the answer is not a 503 (the server's package workers or
    /// an app's instance slots were busy), waiting a fifth of what
    /// `Retry-After` asks: it is whole seconds, and the work it waits for
    /// (one compile) is shorter.
    fn retrying(
        &self,
        send: impl Fn() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, Value), String> {
        for _ in 0..600 {
            let mut response = send().map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            if status == 503 {
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(1);
                std::thread::sleep(Duration::from_millis(wait.clamp(1, 5) * 200));
                continue;
            }
            let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
            return Ok((status, body));
        }
        Err("the server answered 503 for two minutes".into())
    }

    fn post_json(&self, path: &str, body: Value, token: &str) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        self.agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .send_json(body)
    }

    fn post_bytes(
        &self,
        path: &str,
        body: Vec<u8>,
        token: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        self.agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .content_type("application/octet-stream")
            .send(&body[..])
    }
}
