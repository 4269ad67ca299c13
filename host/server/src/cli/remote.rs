//! The API client behind the commands that talk to a running server
//! (`tongban org|key|review|release`, `tongban app publish`). Every such
//! command takes the same [`RemoteArgs`]; requests carry the API token as a
//! bearer token; the server's error envelope becomes [`CliError::Api`] with
//! its stable code and message.

use std::io::Read;
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::CliError;

/// Which server to talk to, and as whom.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// The server's base address.
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:8080",
        env = "TONGBAN_SERVER"
    )]
    pub server: String,
    /// The API token (from `tongban admin create-user` or `issue-token`).
    /// Prefer the environment variable: a flag shows in the process list.
    #[arg(long, value_name = "TOKEN", env = "TONGBAN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// A client for one server and token.
pub struct ApiClient {
    agent: ureq::Agent,
    base: String,
    token: String,
}

/// The error envelope, as received.
#[derive(serde::Deserialize)]
struct Envelope {
    error: EnvelopeBody,
}

#[derive(serde::Deserialize)]
struct EnvelopeBody {
    code: String,
    message: String,
}

impl ApiClient {
    pub fn new(args: &RemoteArgs) -> Result<ApiClient, CliError> {
        let token = args
            .token
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| CliError::usage("an API token is required: set TONGBAN_TOKEN (or pass --token)"))?;
        let base = args.server.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CliError::usage(format!(
                "--server must start with http:// or https://, got `{base}`"
            )));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            // Uploads of large packages over slow links take a while; the
            // server bounds their size.
            .timeout_global(Some(Duration::from_secs(600)))
            // An upload asks first (`Expect: 100-continue`) and waits for
            // the server's go-ahead or its refusal, however busy it is.
            .timeout_await_100(Some(Duration::from_secs(120)))
            .build()
            .into();
        Ok(ApiClient {
            agent,
            base,
            token: token.trim().to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// `GET path` (relative to `/api/v1`) with query pairs.
    pub fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, CliError> {
        let mut request = self.agent.get(self.url(path)).header("Authorization", self.bearer());
        for (key, value) in query {
            request = request.query(*key, *value);
        }
        self.answer(request.call())
    }

    /// `POST path` with a JSON body.
    pub fn post_json<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, CliError> {
        let response = self
            .agent
            .post(self.url(path))
            .header("Authorization", self.bearer())
            .send_json(body);
        self.answer(response)
    }

    /// `POST path` with a binary body streamed from `reader`, `length` bytes.
    pub fn post_stream<T: DeserializeOwned>(
        &self,
        path: &str,
        reader: &mut dyn Read,
        length: u64,
    ) -> Result<T, CliError> {
        // `Expect: 100-continue`: the server looks at the headers (the token,
        // the declared length) and either says go on or refuses (413 over
        // its upload limit) before a byte of the package is sent, so a
        // refusal always arrives as the server's answer, never as a
        // connection closed in the middle of the upload.
        let response = self
            .agent
            .post(self.url(path))
            .header("Authorization", self.bearer())
            .header("Content-Length", length.to_string())
            .header("Expect", "100-continue")
            .content_type("application/octet-stream")
            .send(ureq::SendBody::from_reader(reader));
        match response {
            Err(ureq::Error::Io(e)) => Err(CliError::Unreachable(format!(
                "{}: the upload of {length} bytes broke off ({e})",
                self.base
            ))),
            response => self.answer(response),
        }
    }

    /// A failure below HTTP, named for what it is.
    fn transport_error(&self, e: ureq::Error) -> CliError {
        match e {
            ureq::Error::Io(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Timeout(_) => CliError::Unreachable(format!("{}: {e}", self.base)),
            other => CliError::Platform(format!("the request to {} failed: {other}", self.base)),
        }
    }

    fn answer<T: DeserializeOwned>(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, CliError> {
        let mut response = response.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| CliError::Unreachable(format!("{}: reading the answer failed: {e}", self.base)))?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                CliError::Platform(format!(
                    "the server's answer is not what this CLI expects ({e}); is the server the same version?"
                ))
            });
        }
        match serde_json::from_str::<Envelope>(&text) {
            Ok(envelope) => Err(CliError::Api {
                status: status.as_u16(),
                code: envelope.error.code,
                message: envelope.error.message,
            }),
            Err(_) => Err(CliError::Api {
                status: status.as_u16(),
                code: "http".into(),
                message: format!("{} {}", status, text.trim()),
            }),
        }
    }
}

/// Print a value as pretty JSON (for `--json`).
pub fn print_json(value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Platform(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// One URL path segment, percent-encoded, so an argument can never change
/// which route is called.
pub fn seg(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

/// Everything but unreserved characters (RFC 3986) is encoded.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The latest time shown or accepted: the end of year 9999 (RFC 3339's range).
const MAX_TIME_MS: i64 = 253_402_300_799_999;

/// A time in ms since the epoch as RFC 3339 (UTC, seconds); out-of-range
/// values are shown as raw milliseconds.
pub fn show_time(ms: i64) -> String {
    if !(0..=MAX_TIME_MS).contains(&ms) {
        return format!("{ms} ms since the epoch");
    }
    let time = std::time::UNIX_EPOCH + Duration::from_millis(ms as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Parse `now`, an RFC 3339 time, or ms since the epoch.
pub fn parse_time(text: &str) -> Result<i64, CliError> {
    if text == "now" {
        return Ok(tongban_store::now_ms());
    }
    if let Ok(ms) = text.parse::<i64>() {
        if !(0..=MAX_TIME_MS).contains(&ms) {
            return Err(CliError::usage(format!("`{text}` ms is outside 1970 to 9999")));
        }
        return Ok(ms);
    }
    let time = humantime::parse_rfc3339_weak(text).map_err(|e| {
        CliError::usage(format!(
            "`{text}` is not a time: use `now`, RFC 3339 (2026-11-27T08:00:00Z) or ms since the epoch ({e})"
        ))
    })?;
    let ms = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| CliError::usage(format!("`{text}` is before 1970")))?
        .as_millis();
    Ok(ms as i64)
}
