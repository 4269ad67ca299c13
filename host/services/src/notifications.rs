//! Template-only notifications: an in-app inbox, and email by SMTP when
//! configured.
//!
//! An app never sends free text. It names a template from its manifest and
//! passes parameters; [`render`] substitutes them into the template's text in
//! one pass, so a parameter value is inserted literally and can never add a
//! placeholder of its own. Every message lands in the subject's inbox (the
//! `notifications` table); when SMTP is configured and the subject has an
//! email address, the message is also marked `pending` for email, and
//! [`Services::deliver_pending_email`] sends it later, outside the app's call.
//!
//! Email state machine: `none` (inbox only) or `pending` → `sending` (claimed
//! by one node with a compare-and-set) → `sent` | `failed`. A claimed message
//! is sent at most once: a node that dies between the claim and the mark
//! leaves the message in `sending`, because whether the server accepted it is
//! unknown, and retrying could send it twice.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;
use tongban_store::now_ms;

pub use tongban_registry::manifest::NotifyQuota;

use crate::Services;
use crate::error::{ServiceError, ServiceResult};

/// The start (00:00, UTC+8) of the civil day of a timestamp, in ms: the
/// window the daily message bounds count in.
pub fn civil_day_start(ms: i64) -> i64 {
    const DAY_MS: i64 = 24 * 3_600_000;
    const OFFSET_MS: i64 = 8 * 3_600_000;
    (ms + OFFSET_MS).div_euclid(DAY_MS) * DAY_MS - OFFSET_MS
}

/// The most bytes one parameter value may have.
pub const MAX_PARAM_BYTES: usize = 1024;
/// The most bytes a rendered message body may have.
pub const MAX_BODY_BYTES: usize = 8 * 1024;
/// The most bytes a template name, an app id or a case id may have.
pub const MAX_NAME_BYTES: usize = 128;
/// The inbox lists at most this many messages, the newest.
pub const INBOX_LIMIT: i64 = 500;
/// How long connecting to the SMTP server may take. (lettre's async
/// transport applies its timeout to the connection only, not to each
/// command, hence [`SMTP_SEND_TIMEOUT`] as well.)
pub const SMTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long sending one email may take in all (connect, greeting, TLS and
/// every command), so that a dead, silent or trickling server cannot hang the
/// caller.
pub const SMTP_SEND_TIMEOUT: Duration = Duration::from_secs(20);
/// How many pending messages one round of delivery reads at a time.
const DELIVERY_BATCH: i64 = 50;

/// Where email is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// The SMTP server's host name or address.
    pub host: String,
    pub port: u16,
    /// The sender address, e.g. `通办 <noreply@tongban.example>`.
    pub from: String,
    /// Upgrade the connection with STARTTLS (required, never optional) and
    /// verify the server's certificate against the Web PKI roots. Without
    /// it, mail goes over plain SMTP, which suits a relay on the same host
    /// or private network.
    pub starttls: bool,
    /// The login, if the server wants one.
    pub credentials: Option<SmtpCredentials>,
}

/// An SMTP login. Its `Debug` output hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("starttls", &self.starttls)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl SmtpSettings {
    /// Plain SMTP to `host:port` without a login, sending as `from`.
    pub fn new(host: impl Into<String>, port: u16, from: impl Into<String>) -> SmtpSettings {
        SmtpSettings {
            host: host.into(),
            port,
            from: from.into(),
            starttls: false,
            credentials: None,
        }
    }

    /// Check the settings without connecting: a host, a port, a sender
    /// address that parses as a mailbox, and no password in clear text over
    /// the network (credentials need STARTTLS unless the server is on this
    /// host). Delivery calls this first; a server can call it at start-up.
    pub fn check(&self) -> ServiceResult<()> {
        self.sender().map(|_| ())?;
        if self.host.trim().is_empty() || self.port == 0 {
            return Err(ServiceError::invalid(
                "the SMTP settings need a host and a non-zero port",
            ));
        }
        if self.credentials.is_some() && !self.starttls && !is_loopback(&self.host) {
            return Err(ServiceError::invalid(format!(
                "the SMTP login for `{}` would cross the network in clear text: enable STARTTLS",
                self.host
            )));
        }
        Ok(())
    }

    fn sender(&self) -> ServiceResult<Mailbox> {
        self.from.parse::<Mailbox>().map_err(|e| {
            ServiceError::invalid(format!("the SMTP sender `{}` is not a mailbox address: {e}", self.from))
        })
    }

    fn transport(&self) -> ServiceResult<AsyncSmtpTransport<Tokio1Executor>> {
        let builder = if self.starttls {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&self.host).map_err(|e| {
                ServiceError::invalid(format!(
                    "cannot set up STARTTLS for `{}`: {}",
                    self.host,
                    error_chain(&e)
                ))
            })?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
        };
        let mut builder = builder.port(self.port).timeout(Some(SMTP_CONNECT_TIMEOUT));
        if let Some(c) = &self.credentials {
            builder = builder.credentials(Credentials::new(c.username.clone(), c.password.clone()));
        }
        Ok(builder.build())
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A message in a subject's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub id: String,
    /// The platform subject the message is for.
    pub subject: String,
    /// The app that sent it.
    pub app: String,
    /// The template's name in the app's manifest.
    pub template: String,
    /// The rendered text.
    pub body: String,
    pub case: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
    /// `none` (inbox only), `pending`, `sending` (claimed by a node right
    /// now), `sent` or `failed`.
    pub email_state: String,
}

const COLUMNS: &str = "id, subject_id, app_id, template, body, case_id, created_at, read_at, email_state";

fn from_row(r: &AnyRow) -> Result<Message, sqlx::Error> {
    Ok(Message {
        id: r.try_get(0)?,
        subject: r.try_get(1)?,
        app: r.try_get(2)?,
        template: r.try_get(3)?,
        body: r.try_get(4)?,
        case: r.try_get(5)?,
        created_at: r.try_get(6)?,
        read_at: r.try_get(7)?,
        email_state: r.try_get(8)?,
    })
}

/// Whether `name` may stand in a placeholder: ASCII letters, digits, `_`,
/// `-` and `.`.
fn is_placeholder_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A short, printable form of a name for an error message, so that a hostile
/// name can neither flood the message nor smuggle control characters into it.
fn shown(name: &str) -> String {
    let mut out: String = name.chars().take(40).flat_map(char::escape_debug).collect();
    if name.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// Render a template's text with its parameters.
///
/// Placeholders are `{{name}}` (spaces inside the braces are ignored); a name
/// is ASCII letters, digits, `_`, `-` and `.`. Substitution is a single pass,
/// so a value that itself contains `{{x}}` is inserted as is. Every
/// placeholder needs exactly one parameter and every parameter must be used.
/// A value has at most [`MAX_PARAM_BYTES`] bytes and no control characters
/// other than newline; the result has at most [`MAX_BODY_BYTES`] bytes and is
/// not blank. Each refusal is [`ServiceError::Invalid`] naming the parameter
/// or the problem.
pub fn render(template_text: &str, params: &[(String, String)]) -> Result<String, ServiceError> {
    let mut values: HashMap<&str, &str> = HashMap::with_capacity(params.len());
    for (name, value) in params {
        if values.insert(name.as_str(), value.as_str()).is_some() {
            return Err(ServiceError::invalid(format!(
                "parameter `{}` is given more than once",
                shown(name)
            )));
        }
        if value.len() > MAX_PARAM_BYTES {
            return Err(ServiceError::invalid(format!(
                "parameter `{}` is {} bytes long; a value may have at most {MAX_PARAM_BYTES}",
                shown(name),
                value.len()
            )));
        }
        if let Some(c) = value.chars().find(|c| c.is_control() && *c != '\n') {
            return Err(ServiceError::invalid(format!(
                "parameter `{}` contains the control character U+{:04X}; only newlines are allowed",
                shown(name),
                c as u32
            )));
        }
    }

    let mut body = String::with_capacity(template_text.len());
    let mut used: HashSet<&str> = HashSet::with_capacity(params.len());
    let mut rest = template_text;
    while let Some(open) = rest.find("{{") {
        body.push_str(&rest[..open]);
        let inside = &rest[open + 2..];
        let Some(close) = inside.find("}}") else {
            let at = template_text.len() - rest.len() + open;
            return Err(ServiceError::invalid(format!(
                "the template has an unterminated placeholder at byte {at}: `{{{{` without `}}}}`"
            )));
        };
        let name = inside[..close].trim();
        if !is_placeholder_name(name) {
            return Err(ServiceError::invalid(format!(
                "the template has a placeholder `{{{{{}}}}}` whose name is not ASCII letters, digits, `_`, `-` or `.`",
                shown(name)
            )));
        }
        let Some(value) = values.get(name) else {
            return Err(ServiceError::invalid(format!(
                "parameter `{name}` is missing: the template uses it"
            )));
        };
        body.push_str(value);
        used.insert(name);
        // Stop early, so a template that repeats a long value many times is
        // refused before it costs much memory.
        if body.len() > MAX_BODY_BYTES {
            return Err(body_too_long(body.len()));
        }
        rest = &inside[close + 2..];
    }
    body.push_str(rest);

    if let Some((name, _)) = params.iter().find(|(name, _)| !used.contains(name.as_str())) {
        return Err(ServiceError::invalid(format!(
            "parameter `{}` is unknown: the template does not use it",
            shown(name)
        )));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(body_too_long(body.len()));
    }
    if body.trim().is_empty() {
        return Err(ServiceError::invalid("the rendered message is empty"));
    }
    Ok(body)
}

fn body_too_long(len: usize) -> ServiceError {
    ServiceError::invalid(format!(
        "the rendered message is over {MAX_BODY_BYTES} bytes (at least {len}); a message may have at most \
         {MAX_BODY_BYTES}"
    ))
}

/// Check a short identifier (an app, a template name, a case).
fn check_name(what: &str, value: &str) -> ServiceResult<()> {
    if value.trim().is_empty() || value.len() > MAX_NAME_BYTES || value.chars().any(char::is_control) {
        return Err(ServiceError::invalid(format!(
            "the {what} `{}` must be 1 to {MAX_NAME_BYTES} bytes without control characters",
            shown(value)
        )));
    }
    Ok(())
}

/// The error text of an SMTP failure with its causes, as stored in
/// `email_error`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.chars().take(2000).collect()
}

/// Why one claimed message was not sent, and whether the next message may
/// still be tried in this round.
struct SendFailure {
    error: String,
    /// The server or the connection failed (not just this message), so the
    /// rest of the round is left pending rather than waiting out a timeout
    /// for each.
    server_down: bool,
}

impl Services {
    /// Render a template for `subject` and put the message in the subject's
    /// inbox; return its id. When SMTP is configured and the subject has an
    /// email address, the message also waits for email (`pending`), else it
    /// stays in the inbox only (`none`). An unknown subject is `NotFound`.
    pub async fn send_notification(
        &self,
        app: &str,
        subject: &str,
        template: &str,
        template_text: &str,
        params: &[(String, String)],
        case: Option<&str>,
    ) -> ServiceResult<String> {
        self.send_notification_once(None, app, subject, template, template_text, params, case)
            .await
    }

    /// [`Services::send_notification`], sent at most once per `once` key:
    /// a second send with the same key answers the first message's id and
    /// sends nothing. Without a key every send is a new message.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_notification_once(
        &self,
        once: Option<&str>,
        app: &str,
        subject: &str,
        template: &str,
        template_text: &str,
        params: &[(String, String)],
        case: Option<&str>,
    ) -> ServiceResult<String> {
        self.insert_message(once, app, subject, template, template_text, params, case, None)
            .await
    }

    /// An app's message, held to the app's daily bounds: at most
    /// `quota.per_subject_per_day` messages to one subject and
    /// `quota.per_app_per_day` in all per civil day (UTC+8). A send past a
    /// bound is `QuotaExceeded` and stores nothing; a redelivery with the
    /// same `once` key answers the first message and counts nothing. (The
    /// per-call bound is the capability's, which counts attempts.)
    #[allow(clippy::too_many_arguments)]
    pub async fn send_app_notification(
        &self,
        once: Option<&str>,
        app: &str,
        subject: &str,
        template: &str,
        template_text: &str,
        params: &[(String, String)],
        case: Option<&str>,
        quota: &NotifyQuota,
    ) -> ServiceResult<String> {
        self.insert_message(once, app, subject, template, template_text, params, case, Some(quota))
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_message(
        &self,
        once: Option<&str>,
        app: &str,
        subject: &str,
        template: &str,
        template_text: &str,
        params: &[(String, String)],
        case: Option<&str>,
        quota: Option<&NotifyQuota>,
    ) -> ServiceResult<String> {
        check_name("app", app)?;
        check_name("template name", template)?;
        if let Some(case) = case {
            check_name("case", case)?;
        }
        if let Some(key) = once
            && let Some(id) = self.message_with_key(key).await?
        {
            return Ok(id);
        }
        let body = render(template_text, params)?;
        let email: Option<String> = sqlx::query("SELECT email FROM subjects WHERE id = $1")
            .bind(subject)
            .fetch_optional(self.db().pool())
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("subject {}", shown(subject))))?
            .try_get(0)?;
        let has_email = email.is_some_and(|e| !e.trim().is_empty());
        let email_state = if self.config().smtp.is_some() && has_email {
            "pending"
        } else {
            "none"
        };
        let id = crate::fresh_id("msg");
        let now = now_ms();
        let (bounded, day_start, per_subject, per_app) = match quota {
            Some(q) => (
                1i32,
                civil_day_start(now),
                i64::from(q.per_subject_per_day),
                i64::from(q.per_app_per_day),
            ),
            None => (0i32, now, i64::MAX, i64::MAX),
        };
        // The counts and the insert are one statement; on PostgreSQL it runs
        // under a per-app advisory lock, so two concurrent sends cannot both
        // squeeze under a bound (SQLite serialises writers already).
        let mut tx = self.db().pool().begin().await?;
        if quota.is_some() && self.db().backend() == tongban_store::Backend::Postgres {
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS held")
                .bind(format!("notify:{app}"))
                .execute(&mut *tx)
                .await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO notifications (id, subject_id, app_id, template, body, case_id, created_at, read_at,
                                        email_state, email_error, once_key)
             SELECT $1, $2, $3, $4, $5, $6, $7, NULL, $8, NULL, $9
             WHERE $13 = 0
                OR ((SELECT COUNT(*) FROM notifications WHERE app_id = $3 AND subject_id = $2 AND created_at >= $10) < $11
                    AND (SELECT COUNT(*) FROM notifications WHERE app_id = $3 AND created_at >= $10) < $12)
             ON CONFLICT (once_key) DO NOTHING",
        )
        .bind(&id)
        .bind(subject)
        .bind(app)
        .bind(template)
        .bind(&body)
        .bind(case)
        .bind(now)
        .bind(email_state)
        .bind(once)
        .bind(day_start)
        .bind(per_subject)
        .bind(per_app)
        .bind(bounded)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if inserted.rows_affected() == 1 {
            return Ok(id);
        }
        if let Some(key) = once
            && let Some(id) = self.message_with_key(key).await?
        {
            return Ok(id);
        }
        let q = quota.expect("only a bounded send can be refused");
        Err(ServiceError::QuotaExceeded(format!(
            "app {app} may send one person at most {} and everyone at most {} messages a day; today's are used up",
            q.per_subject_per_day, q.per_app_per_day
        )))
    }

    /// The id of the message sent under a `once` key, if any.
    async fn message_with_key(&self, key: &str) -> ServiceResult<Option<String>> {
        Ok(sqlx::query("SELECT id FROM notifications WHERE once_key = $1")
            .bind(key)
            .fetch_optional(self.db().pool())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    /// A subject's inbox, newest first (messages of the same millisecond in
    /// a stable order), at most [`INBOX_LIMIT`] of them. An unknown subject
    /// is `NotFound`.
    pub async fn inbox(&self, subject: &str) -> ServiceResult<Vec<Message>> {
        let known = sqlx::query("SELECT 1 FROM subjects WHERE id = $1")
            .bind(subject)
            .fetch_optional(self.db().pool())
            .await?;
        if known.is_none() {
            return Err(ServiceError::not_found(format!("subject {}", shown(subject))));
        }
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM notifications WHERE subject_id = $1
             ORDER BY created_at DESC, {} DESC LIMIT $2",
            self.db().byte_order("id")
        ))
        .bind(subject)
        .bind(INBOX_LIMIT)
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Mark one of `subject`'s messages read; marking it again keeps the
    /// first time. Another subject's message, like an unknown one, is
    /// `NotFound`.
    pub async fn mark_read(&self, subject: &str, id: &str) -> ServiceResult<()> {
        let done =
            sqlx::query("UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND subject_id = $3")
                .bind(now_ms())
                .bind(id)
                .bind(subject)
                .execute(self.db().pool())
                .await?;
        if done.rows_affected() == 0 {
            return Err(ServiceError::not_found(format!("message {}", shown(id))));
        }
        Ok(())
    }

    /// Send every pending email and return how many were sent.
    ///
    /// Each message is first claimed with a compare-and-set from `pending` to
    /// `sending`, so two nodes calling this at once never send the same
    /// message twice; then it goes to the subject's current address with the
    /// subject line `通办 Tongban: <template>`, and is marked `sent`, or
    /// `failed` with the error in `email_error`. A failure of the server or
    /// the connection (refused, timed out, TLS, a temporary reply) fails that
    /// message and ends the round, leaving the rest `pending` for the next
    /// call, so a dead server costs one timeout, not one per message; a
    /// permanent refusal of one message (say, its recipient) does not.
    ///
    /// Without SMTP settings nothing is sent. Settings that fail
    /// [`SmtpSettings::check`] are `Invalid`, and nothing is claimed.
    pub async fn deliver_pending_email(&self) -> ServiceResult<usize> {
        let Some(settings) = &self.config().smtp else {
            return Ok(0);
        };
        settings.check()?;
        let sender = settings.sender()?;
        let transport = settings.transport()?;
        let mut sent = 0;
        loop {
            let rows = sqlx::query(&format!(
                "SELECT n.id, n.template, n.body, s.email
                 FROM notifications n JOIN subjects s ON s.id = n.subject_id
                 WHERE n.email_state = 'pending'
                 ORDER BY n.created_at, {} LIMIT $1",
                self.db().byte_order("n.id")
            ))
            .bind(DELIVERY_BATCH)
            .fetch_all(self.db().pool())
            .await?;
            if rows.is_empty() {
                return Ok(sent);
            }
            for r in &rows {
                let id: String = r.try_get(0)?;
                let claimed = sqlx::query(
                    "UPDATE notifications SET email_state = 'sending' WHERE id = $1 AND email_state = 'pending'",
                )
                .bind(&id)
                .execute(self.db().pool())
                .await?;
                if claimed.rows_affected() != 1 {
                    // Another node claimed it between the read and the claim.
                    continue;
                }
                let template: String = r.try_get(1)?;
                let body: String = r.try_get(2)?;
                let email: Option<String> = r.try_get(3)?;
                let outcome = send_one(&transport, &sender, &template, body, email.as_deref()).await;
                let (state, error) = match &outcome {
                    Ok(()) => ("sent", None),
                    Err(failure) => ("failed", Some(failure.error.as_str())),
                };
                sqlx::query(
                    "UPDATE notifications SET email_state = $1, email_error = $2
                     WHERE id = $3 AND email_state = 'sending'",
                )
                .bind(state)
                .bind(error)
                .bind(&id)
                .execute(self.db().pool())
                .await?;
                match outcome {
                    Ok(()) => sent += 1,
                    Err(failure) => {
                        tracing::warn!(message = %id, error = %failure.error, "notification email failed");
                        if failure.server_down {
                            return Ok(sent);
                        }
                    }
                }
            }
        }
    }
}

/// Send one message; the error says why not.
async fn send_one(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    sender: &Mailbox,
    template: &str,
    body: String,
    email: Option<&str>,
) -> Result<(), SendFailure> {
    let message_failure = |error: String| SendFailure {
        error,
        server_down: false,
    };
    let Some(email) = email.map(str::trim).filter(|e| !e.is_empty()) else {
        return Err(message_failure("the subject no longer has an email address".into()));
    };
    let to = email.parse::<Mailbox>().map_err(|e| {
        message_failure(format!(
            "the subject's email address `{}` is not valid: {e}",
            shown(email)
        ))
    })?;
    let message = lettre::Message::builder()
        .from(sender.clone())
        .to(to)
        .subject(format!("通办 Tongban: {template}"))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| message_failure(format!("cannot build the email: {}", error_chain(&e))))?;
    match tokio::time::timeout(SMTP_SEND_TIMEOUT, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(SendFailure {
            error: error_chain(&e),
            server_down: !e.is_permanent(),
        }),
        Err(_) => Err(SendFailure {
            error: format!(
                "the SMTP server did not finish within {} seconds",
                SMTP_SEND_TIMEOUT.as_secs()
            ),
            server_down: true,
        }),
    }
}
