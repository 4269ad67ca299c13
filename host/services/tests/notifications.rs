//! Notifications with real parts: `render` on its own; the inbox on each
//! database the test database kit provides (`tongban-testdb`: SQLite, and
//! PostgreSQL when configured), each test in a fresh database; and email
//! through a real SMTP server (mailin-embedded) listening on a free port of
//! 127.0.0.1, whose received messages are parsed as MIME so that encoded
//! subjects and bodies are checked decoded.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailin_embedded::{Handler, Response, Server, SslConfig, response};
use sqlx::Row;
use tongban_services::notifications::{
    MAX_BODY_BYTES, MAX_PARAM_BYTES, SMTP_SEND_TIMEOUT, SmtpCredentials, SmtpSettings, render,
};
use tongban_services::subjects::Subject;
use tongban_services::{Database, ServiceError, Services, ServicesConfig};
use tongban_testdb::{TestDb, seed};

// ---------------------------------------------------------------------------
// render

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The message of an `Invalid` refusal; any other outcome fails the test.
fn invalid(result: Result<String, ServiceError>) -> String {
    match result {
        Err(ServiceError::Invalid(message)) => message,
        other => panic!("expected an invalid refusal, got {other:?}"),
    }
}

#[test]
fn render_fills_placeholders_with_chinese_text() {
    let body = render(
        "{{name}}，您好！您的{{item}}申请（{{ case }}）已受理。\n请于{{date}}前补正材料。",
        &params(&[
            ("name", "张三"),
            ("item", "个体工商户设立登记"),
            ("case", "330106-2026-000123"),
            ("date", "2026年12月1日"),
        ]),
    )
    .unwrap();
    assert_eq!(
        body,
        "张三，您好！您的个体工商户设立登记申请（330106-2026-000123）已受理。\n请于2026年12月1日前补正材料。"
    );
    // A placeholder may be used twice; a value with a newline is kept.
    assert_eq!(
        render("{{a}}-{{a}}", &params(&[("a", "第一行\n第二行")])).unwrap(),
        "第一行\n第二行-第一行\n第二行"
    );
    // Text without placeholders needs no parameters; single braces are text.
    assert_eq!(render("办结 {x} }}", &[]).unwrap(), "办结 {x} }}");
}

#[test]
fn render_inserts_values_literally() {
    // A value that looks like a placeholder is not expanded again.
    let body = render("尊敬的{{name}}", &params(&[("name", "{{secret}}")])).unwrap();
    assert_eq!(body, "尊敬的{{secret}}");
}

#[test]
fn render_refuses_a_missing_parameter() {
    let message = invalid(render("{{name}}，您好，案件{{case}}", &params(&[("name", "张三")])));
    assert!(message.contains("`case`") && message.contains("missing"), "{message}");
}

#[test]
fn render_refuses_an_unknown_parameter() {
    let message = invalid(render("{{name}}，您好", &params(&[("name", "张三"), ("phone", "138")])));
    assert!(message.contains("`phone`") && message.contains("unknown"), "{message}");
}

#[test]
fn render_refuses_a_duplicate_parameter() {
    let message = invalid(render("{{name}}", &params(&[("name", "张三"), ("name", "李四")])));
    assert!(
        message.contains("`name`") && message.contains("more than once"),
        "{message}"
    );
}

#[test]
fn render_refuses_an_unterminated_placeholder() {
    let message = invalid(render("您好 {{name", &params(&[("name", "张三")])));
    assert!(message.contains("unterminated placeholder"), "{message}");
    let message = invalid(render(
        "{{name}} 与 {{case}",
        &params(&[("name", "张三"), ("case", "1")]),
    ));
    assert!(message.contains("unterminated placeholder"), "{message}");
}

#[test]
fn render_refuses_a_placeholder_name_that_is_not_a_name() {
    let message = invalid(render("{{}}", &[]));
    assert!(message.contains("placeholder"), "{message}");
    let message = invalid(render("{{姓名}}", &params(&[("姓名", "张三")])));
    assert!(message.contains("placeholder `{{姓名}}`"), "{message}");
}

#[test]
fn render_refuses_a_value_over_1_kib() {
    // 1 KiB is measured in bytes: 341 Chinese characters are 1023 bytes.
    let fits = "办".repeat(341) + "x";
    assert_eq!(fits.len(), MAX_PARAM_BYTES);
    assert_eq!(render("{{v}}", &params(&[("v", &fits)])).unwrap(), fits);
    let over = fits + "x";
    let message = invalid(render("{{v}}", &params(&[("v", &over)])));
    assert!(message.contains("`v`") && message.contains("1025 bytes"), "{message}");
}

#[test]
fn render_refuses_control_characters_other_than_newline() {
    for bad in ["a\rb", "a\tb", "a\u{0}b", "a\u{1b}[31mb", "a\u{7f}b", "a\u{85}b"] {
        let message = invalid(render("{{note}}", &params(&[("note", bad)])));
        assert!(
            message.contains("`note`") && message.contains("control character"),
            "{bad:?}: {message}"
        );
    }
    assert!(render("{{note}}", &params(&[("note", "第一行\n第二行")])).is_ok());
}

#[test]
fn render_refuses_a_body_over_8_kib() {
    let value = "办".repeat(300); // 900 bytes
    let template = "{{v}}".repeat(MAX_BODY_BYTES / 900 + 1);
    let message = invalid(render(&template, &params(&[("v", &value)])));
    assert!(message.contains("over 8192 bytes"), "{message}");
    // The template's own text counts too.
    let message = invalid(render(&"通".repeat(3000), &[]));
    assert!(message.contains("over 8192 bytes"), "{message}");
    // Exactly 8 KiB is fine.
    assert!(render(&"x".repeat(MAX_BODY_BYTES), &[]).is_ok());
}

#[test]
fn render_refuses_an_empty_message() {
    let message = invalid(render("{{v}}", &params(&[("v", " \n ")])));
    assert!(message.contains("empty"), "{message}");
}

// ---------------------------------------------------------------------------
// Databases

/// One database of each backend the test database kit provides, open, with
/// the kit's value that opens it again (as a second node would) and drops it.
struct Backend {
    name: &'static str,
    db: Database,
    test_db: TestDb,
}

async fn backends(label: &str) -> Vec<Backend> {
    let mut out = Vec::new();
    for test_db in TestDb::each(label) {
        out.push(Backend {
            name: test_db.backend_name(),
            db: test_db.open().await,
            test_db,
        });
    }
    out
}

fn person(id: &str, email: Option<&str>) -> Subject {
    Subject {
        email: email.map(Into::into),
        ..seed::person(id, "张三", "330106")
    }
}

const TEMPLATE_TEXT: &str = "{{name}}，您好！您的申请（{{case}}）已受理，请留意后续通知。";

fn accepted_params(case: &str) -> Vec<(String, String)> {
    params(&[("name", "张三"), ("case", case)])
}

/// The email state and error of a message, straight from the table.
async fn email_row(services: &Services, id: &str) -> (String, Option<String>) {
    let row = sqlx::query("SELECT email_state, email_error FROM notifications WHERE id = $1")
        .bind(id)
        .fetch_one(services.db().pool())
        .await
        .unwrap();
    (row.try_get(0).unwrap(), row.try_get(1).unwrap())
}

async fn count_messages(services: &Services) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM notifications")
        .fetch_one(services.db().pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

// ---------------------------------------------------------------------------
// The inbox

#[tokio::test]
async fn a_keyed_message_is_sent_once_however_often_it_is_sent() {
    for backend in backends("notify_once").await {
        let services = Services::new(backend.db.clone());
        services
            .upsert_subject(&person("p-1", Some("zhangsan@example.cn")))
            .await
            .unwrap();
        let send = |once: Option<&'static str>| {
            let services = services.clone();
            async move {
                services
                    .send_notification_once(
                        once,
                        "app.hz",
                        "p-1",
                        "case-accepted",
                        TEMPLATE_TEXT,
                        &accepted_params("C-1"),
                        Some("C-1"),
                    )
                    .await
                    .unwrap()
            }
        };
        // The same key (a redelivered case event) answers the first message.
        let first = send(Some("C-1#3#1#case-accepted")).await;
        let again = send(Some("C-1#3#1#case-accepted")).await;
        assert_eq!(first, again, "{}", backend.name);
        assert_eq!(services.inbox("p-1").await.unwrap().len(), 1, "{}", backend.name);
        // Another key, or none, is another message.
        let other = send(Some("C-1#4#1#case-accepted")).await;
        let plain = send(None).await;
        let plain_again = send(None).await;
        assert!(other != first && plain != plain_again);
        assert_eq!(services.inbox("p-1").await.unwrap().len(), 4, "{}", backend.name);
    }
}

#[tokio::test]
async fn inbox_lists_sent_messages_newest_first() {
    for backend in backends("notify_inbox").await {
        let services = Services::new(backend.db.clone());
        services
            .upsert_subject(&person("p-1", Some("zhangsan@example.cn")))
            .await
            .unwrap();
        services.upsert_subject(&person("p-2", None)).await.unwrap();

        let first = services
            .send_notification(
                "app.hz",
                "p-1",
                "case-accepted",
                TEMPLATE_TEXT,
                &accepted_params("C-1"),
                Some("C-1"),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = services
            .send_notification(
                "app.hz",
                "p-1",
                "reminder",
                "请于{{date}}前补正。",
                &params(&[("date", "12月1日")]),
                None,
            )
            .await
            .unwrap();
        services
            .send_notification(
                "app.hz",
                "p-2",
                "reminder",
                "请于{{date}}前补正。",
                &params(&[("date", "12月2日")]),
                None,
            )
            .await
            .unwrap();

        let inbox = services.inbox("p-1").await.unwrap();
        assert_eq!(
            inbox.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            [second.as_str(), first.as_str()],
            "{}",
            backend.name
        );
        let m = &inbox[1];
        assert_eq!(m.subject, "p-1");
        assert_eq!(m.app, "app.hz");
        assert_eq!(m.template, "case-accepted");
        assert_eq!(m.body, "张三，您好！您的申请（C-1）已受理，请留意后续通知。");
        assert_eq!(m.case.as_deref(), Some("C-1"));
        assert!(m.created_at > 0 && m.created_at < inbox[0].created_at);
        assert_eq!(m.read_at, None);
        // Without SMTP settings nothing waits for email, address or not.
        assert_eq!(m.email_state, "none", "{}", backend.name);
        assert_eq!(inbox[0].case, None);

        let other = services.inbox("p-2").await.unwrap();
        assert_eq!(other.len(), 1);
        assert_eq!(other[0].body, "请于12月2日前补正。");
    }
}

#[tokio::test]
async fn mark_read_is_for_the_owner_only() {
    for backend in backends("notify_read").await {
        let services = Services::new(backend.db.clone());
        services.upsert_subject(&person("p-1", None)).await.unwrap();
        services.upsert_subject(&person("p-2", None)).await.unwrap();
        let id = services
            .send_notification(
                "app.hz",
                "p-1",
                "case-accepted",
                TEMPLATE_TEXT,
                &accepted_params("C-1"),
                None,
            )
            .await
            .unwrap();

        let err = services.mark_read("p-2", &id).await.unwrap_err();
        assert!(matches!(err, ServiceError::NotFound(_)), "{}: {err:?}", backend.name);
        assert_eq!(services.inbox("p-1").await.unwrap()[0].read_at, None);
        let err = services.mark_read("p-1", "msg-unknown").await.unwrap_err();
        assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");

        services.mark_read("p-1", &id).await.unwrap();
        let read_at = services.inbox("p-1").await.unwrap()[0].read_at.expect("read");
        tokio::time::sleep(Duration::from_millis(5)).await;
        // Marking again is fine and keeps the first time.
        services.mark_read("p-1", &id).await.unwrap();
        assert_eq!(
            services.inbox("p-1").await.unwrap()[0].read_at,
            Some(read_at),
            "{}",
            backend.name
        );
    }
}

#[tokio::test]
async fn an_unknown_subject_is_not_found() {
    for backend in backends("notify_unknown").await {
        let services = Services::new(backend.db.clone());
        let err = services
            .send_notification(
                "app.hz",
                "nobody",
                "case-accepted",
                TEMPLATE_TEXT,
                &accepted_params("C-1"),
                None,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ServiceError::NotFound(m) if m.contains("nobody")),
            "{}: {err:?}",
            backend.name
        );
        let err = services.inbox("nobody").await.unwrap_err();
        assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
        assert_eq!(count_messages(&services).await, 0);
    }
}

#[tokio::test]
async fn send_refuses_bad_input_and_stores_nothing() {
    for backend in backends("notify_refuse").await {
        let services = Services::new(backend.db.clone());
        services.upsert_subject(&person("p-1", None)).await.unwrap();
        // (app, template name, template text, parameters, case, what the refusal names)
        let cases = [
            (
                "app.hz",
                "case-accepted",
                TEMPLATE_TEXT,
                accepted_params("C-1").split_off(1),
                None,
                "`name`",
            ),
            ("", "case-accepted", TEMPLATE_TEXT, accepted_params("C-1"), None, "app"),
            (
                "app.hz",
                "",
                TEMPLATE_TEXT,
                accepted_params("C-1"),
                None,
                "template name",
            ),
            (
                "app.hz",
                "bad\r\nBcc: x@y",
                TEMPLATE_TEXT,
                accepted_params("C-1"),
                None,
                "template name",
            ),
            (
                "app.hz",
                "case-accepted",
                TEMPLATE_TEXT,
                accepted_params("C-1"),
                Some(""),
                "case",
            ),
        ];
        for (app, template, text, params, case, named) in cases {
            let err = services
                .send_notification(app, "p-1", template, text, &params, case)
                .await
                .unwrap_err();
            assert!(
                matches!(&err, ServiceError::Invalid(m) if m.contains(named)),
                "{}: {template:?}: {err:?}",
                backend.name
            );
        }
        assert_eq!(count_messages(&services).await, 0);
    }
}

#[tokio::test]
async fn email_waits_only_with_smtp_settings_and_an_address() {
    for backend in backends("notify_pending").await {
        let config = ServicesConfig {
            smtp: Some(SmtpSettings::new("127.0.0.1", 2525, "通办 <noreply@tongban.example>")),
            ..Default::default()
        };
        let services = Services::with_config(backend.db.clone(), config);
        services
            .upsert_subject(&person("p-mail", Some("zhangsan@example.cn")))
            .await
            .unwrap();
        services.upsert_subject(&person("p-none", None)).await.unwrap();
        services.upsert_subject(&person("p-blank", Some("  "))).await.unwrap();
        for subject in ["p-mail", "p-none", "p-blank"] {
            services
                .send_notification(
                    "app.hz",
                    subject,
                    "case-accepted",
                    TEMPLATE_TEXT,
                    &accepted_params("C"),
                    None,
                )
                .await
                .unwrap();
        }
        assert_eq!(
            services.inbox("p-mail").await.unwrap()[0].email_state,
            "pending",
            "{}",
            backend.name
        );
        assert_eq!(services.inbox("p-none").await.unwrap()[0].email_state, "none");
        assert_eq!(services.inbox("p-blank").await.unwrap()[0].email_state, "none");
    }
}

// ---------------------------------------------------------------------------
// A real SMTP server

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
struct Received {
    to: Vec<String>,
    data: Vec<u8>,
}

impl Received {
    fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.data).expect("the received message is MIME")
    }

    fn subject(&self) -> String {
        self.parsed()
            .headers
            .iter()
            .find(|h| h.get_key() == "Subject")
            .expect("a subject")
            .get_value()
    }

    fn body(&self) -> String {
        self.parsed().get_body().expect("a decodable body")
    }
}

/// Records every message it accepts; refuses the recipient `refused@…`
/// permanently (550), as a real server refuses an unknown mailbox.
#[derive(Clone)]
struct Recorder {
    inbox: Arc<Mutex<Vec<Received>>>,
    current: Option<Received>,
}

impl Handler for Recorder {
    fn rcpt(&mut self, to: &str) -> Response {
        if to.starts_with("refused@") {
            response::NO_MAILBOX
        } else {
            response::OK
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(Received {
            to: to.to_vec(),
            data: Vec::new(),
        });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(current) = &mut self.current {
            current.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(done) = self.current.take() {
            self.inbox.lock().unwrap().push(done);
        }
        response::OK
    }
}

/// An SMTP server on a free port of 127.0.0.1, serving on its own thread
/// until the test process ends.
struct SmtpServer {
    port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let mut server = Server::new(Recorder {
            inbox: inbox.clone(),
            current: None,
        });
        server.with_name("mail.test").with_tcp_listener(listener);
        server.with_ssl(SslConfig::None).unwrap();
        std::thread::spawn(move || {
            // `serve` returns only if the listener fails, which ends the test
            // server; the test then sees no message and says so.
            if let Err(e) = server.serve() {
                eprintln!("the test SMTP server stopped: {e}");
            }
        });
        SmtpServer { port, inbox }
    }

    fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    fn settings(&self) -> SmtpSettings {
        SmtpSettings::new("127.0.0.1", self.port, "通办 <noreply@tongban.example>")
    }
}

fn with_smtp(db: &Database, settings: SmtpSettings) -> Services {
    Services::with_config(
        db.clone(),
        ServicesConfig {
            smtp: Some(settings),
            ..Default::default()
        },
    )
}

/// A port on 127.0.0.1 that nothing listens on, held (bound, never
/// listening) for as long as the socket lives, so no other process can start
/// listening on it meanwhile: a connection is refused every time.
fn closed_port() -> (u16, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (port, socket)
}

#[tokio::test]
async fn smtp_delivers_a_pending_message_exactly_once() {
    for backend in backends("notify_smtp").await {
        let server = SmtpServer::start();
        let services = with_smtp(&backend.db, server.settings());
        services
            .upsert_subject(&person("p-1", Some("zhangsan@example.cn")))
            .await
            .unwrap();
        services.upsert_subject(&person("p-2", None)).await.unwrap();
        let id = services
            .send_notification(
                "app.hz",
                "p-1",
                "受理通知",
                TEMPLATE_TEXT,
                &accepted_params("C-7"),
                Some("C-7"),
            )
            .await
            .unwrap();
        let inbox_only = services
            .send_notification(
                "app.hz",
                "p-2",
                "受理通知",
                TEMPLATE_TEXT,
                &accepted_params("C-8"),
                None,
            )
            .await
            .unwrap();

        assert_eq!(services.deliver_pending_email().await.unwrap(), 1, "{}", backend.name);
        let received = server.received();
        assert_eq!(received.len(), 1, "{}", backend.name);
        let mail = &received[0];
        assert_eq!(
            mail.to.iter().map(|t| t.trim_matches(['<', '>'])).collect::<Vec<_>>(),
            ["zhangsan@example.cn"]
        );
        assert_eq!(mail.subject(), "通办 Tongban: 受理通知");
        assert!(
            mail.body()
                .contains("张三，您好！您的申请（C-7）已受理，请留意后续通知。"),
            "{}",
            mail.body()
        );
        let from = mail
            .parsed()
            .headers
            .iter()
            .find(|h| h.get_key() == "From")
            .unwrap()
            .get_value();
        assert!(
            from.contains("noreply@tongban.example") && from.contains("通办"),
            "{from}"
        );

        assert_eq!(email_row(&services, &id).await, ("sent".to_owned(), None));
        assert_eq!(services.inbox("p-1").await.unwrap()[0].email_state, "sent");
        assert_eq!(email_row(&services, &inbox_only).await.0, "none");

        // Nothing is pending any more: a second round sends nothing.
        assert_eq!(services.deliver_pending_email().await.unwrap(), 0);
        assert_eq!(server.received().len(), 1);
    }
}

#[tokio::test]
async fn two_nodes_delivering_at_once_send_each_message_once() {
    for backend in backends("notify_race").await {
        let server = SmtpServer::start();
        let node_a = with_smtp(&backend.db, server.settings());
        // The second node has its own connection pool on the same database.
        let node_b = with_smtp(&backend.test_db.open().await, server.settings());
        node_a
            .upsert_subject(&person("p-1", Some("zhangsan@example.cn")))
            .await
            .unwrap();
        for n in 0..12 {
            node_a
                .send_notification(
                    "app.hz",
                    "p-1",
                    "受理通知",
                    TEMPLATE_TEXT,
                    &accepted_params(&format!("C-{n}")),
                    None,
                )
                .await
                .unwrap();
        }

        let (a, b) = tokio::join!(node_a.deliver_pending_email(), node_b.deliver_pending_email());
        let (a, b) = (a.unwrap(), b.unwrap());
        eprintln!("{}: node a sent {a}, node b sent {b}", backend.name);
        assert_eq!(a + b, 12, "{}: {a} + {b}", backend.name);
        let mut bodies: Vec<String> = server.received().iter().map(Received::body).collect();
        assert_eq!(bodies.len(), 12, "{}", backend.name);
        bodies.sort();
        bodies.dedup();
        assert_eq!(bodies.len(), 12, "a message was sent twice on {}", backend.name);
        assert!(
            node_a
                .inbox("p-1")
                .await
                .unwrap()
                .iter()
                .all(|m| m.email_state == "sent")
        );
    }
}

#[tokio::test]
async fn delivery_to_a_closed_port_fails_promptly() {
    for backend in backends("notify_closed").await {
        let (port, _held) = closed_port();
        let settings = SmtpSettings::new("127.0.0.1", port, "noreply@tongban.example");
        let services = with_smtp(&backend.db, settings);
        services
            .upsert_subject(&person("p-1", Some("zhangsan@example.cn")))
            .await
            .unwrap();
        let id = services
            .send_notification(
                "app.hz",
                "p-1",
                "受理通知",
                TEMPLATE_TEXT,
                &accepted_params("C-1"),
                None,
            )
            .await
            .unwrap();

        let started = Instant::now();
        assert_eq!(services.deliver_pending_email().await.unwrap(), 0);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        let (state, error) = email_row(&services, &id).await;
        assert_eq!(state, "failed", "{}", backend.name);
        let error = error.expect("the error is recorded");
        assert!(error.to_lowercase().contains("connect"), "{error}");
        assert_eq!(services.inbox("p-1").await.unwrap()[0].email_state, "failed");

        // A failed message is not tried again.
        assert_eq!(services.deliver_pending_email().await.unwrap(), 0);
        assert_eq!(email_row(&services, &id).await.0, "failed");
    }
}

#[tokio::test]
async fn a_silent_server_costs_one_timeout_and_leaves_the_rest_pending() {
    // A listener that never accepts: the kernel completes the handshake, and
    // then no greeting ever comes. The logic is the same on both backends, so
    // this waits out the timeout once, on SQLite.
    let backend = backends("notify_silent").await.remove(0);
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let services = with_smtp(
        &backend.db,
        SmtpSettings::new("127.0.0.1", port, "noreply@tongban.example"),
    );
    services
        .upsert_subject(&person("p-1", Some("zhangsan@example.cn")))
        .await
        .unwrap();
    let first = services
        .send_notification(
            "app.hz",
            "p-1",
            "受理通知",
            TEMPLATE_TEXT,
            &accepted_params("C-1"),
            None,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = services
        .send_notification(
            "app.hz",
            "p-1",
            "受理通知",
            TEMPLATE_TEXT,
            &accepted_params("C-2"),
            None,
        )
        .await
        .unwrap();

    let started = Instant::now();
    assert_eq!(services.deliver_pending_email().await.unwrap(), 0);
    let took = started.elapsed();
    assert!(took < SMTP_SEND_TIMEOUT + Duration::from_secs(5), "took {took:?}");
    let (state, error) = email_row(&services, &first).await;
    assert_eq!(state, "failed");
    assert!(
        error.as_deref().is_some_and(|e| e.contains("did not finish within")),
        "{error:?}"
    );
    assert_eq!(email_row(&services, &second).await, ("pending".to_owned(), None));
    drop(silent);
}

#[tokio::test]
async fn a_refused_recipient_fails_only_its_own_message() {
    for backend in backends("notify_refused").await {
        let server = SmtpServer::start();
        let services = with_smtp(&backend.db, server.settings());
        services
            .upsert_subject(&person("p-refused", Some("refused@example.cn")))
            .await
            .unwrap();
        services
            .upsert_subject(&person("p-ok", Some("lisi@example.cn")))
            .await
            .unwrap();
        let refused = services
            .send_notification(
                "app.hz",
                "p-refused",
                "受理通知",
                TEMPLATE_TEXT,
                &accepted_params("C-1"),
                None,
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let ok = services
            .send_notification(
                "app.hz",
                "p-ok",
                "受理通知",
                TEMPLATE_TEXT,
                &accepted_params("C-2"),
                None,
            )
            .await
            .unwrap();

        assert_eq!(services.deliver_pending_email().await.unwrap(), 1, "{}", backend.name);
        let (state, error) = email_row(&services, &refused).await;
        assert_eq!(state, "failed");
        assert!(error.as_deref().is_some_and(|e| e.contains("550")), "{error:?}");
        assert_eq!(email_row(&services, &ok).await, ("sent".to_owned(), None));
        let received = server.received();
        assert_eq!(received.len(), 1);
        assert!(received[0].body().contains("C-2"));
    }
}

#[tokio::test]
async fn starttls_is_required_when_configured() {
    let backend = backends("notify_starttls").await.remove(0);
    let server = SmtpServer::start();
    let settings = SmtpSettings {
        starttls: true,
        ..server.settings()
    };
    let services = with_smtp(&backend.db, settings);
    services
        .upsert_subject(&person("p-1", Some("zhangsan@example.cn")))
        .await
        .unwrap();
    let id = services
        .send_notification(
            "app.hz",
            "p-1",
            "受理通知",
            TEMPLATE_TEXT,
            &accepted_params("C-1"),
            None,
        )
        .await
        .unwrap();
    // The test server offers no STARTTLS, so nothing may go out in clear.
    assert_eq!(services.deliver_pending_email().await.unwrap(), 0);
    let (state, error) = email_row(&services, &id).await;
    assert_eq!(state, "failed");
    assert!(error.is_some_and(|e| !e.is_empty()));
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn bad_settings_are_refused_before_anything_is_claimed() {
    let backend = backends("notify_settings").await.remove(0);
    let (port, _held) = closed_port();
    let bad_sender = SmtpSettings::new("127.0.0.1", port, "not an address");
    let services = with_smtp(&backend.db, bad_sender.clone());
    services
        .upsert_subject(&person("p-1", Some("zhangsan@example.cn")))
        .await
        .unwrap();
    let id = services
        .send_notification(
            "app.hz",
            "p-1",
            "受理通知",
            TEMPLATE_TEXT,
            &accepted_params("C-1"),
            None,
        )
        .await
        .unwrap();
    let err = services.deliver_pending_email().await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::Invalid(m) if m.contains("sender")),
        "{err:?}"
    );
    assert_eq!(email_row(&services, &id).await, ("pending".to_owned(), None));

    // A password never crosses the network in clear text, and never shows in
    // debug output.
    let login = SmtpCredentials {
        username: "tongban".into(),
        password: "s3cret-口令".into(),
    };
    let clear = SmtpSettings {
        credentials: Some(login.clone()),
        ..SmtpSettings::new("smtp.example.cn", 25, "noreply@tongban.example")
    };
    let err = clear.check().unwrap_err();
    assert!(
        matches!(&err, ServiceError::Invalid(m) if m.contains("STARTTLS")),
        "{err:?}"
    );
    assert!(
        SmtpSettings {
            starttls: true,
            ..clear.clone()
        }
        .check()
        .is_ok()
    );
    assert!(
        SmtpSettings {
            credentials: Some(login),
            ..SmtpSettings::new("localhost", 25, "noreply@tongban.example")
        }
        .check()
        .is_ok()
    );
    assert!(!format!("{clear:?}").contains("s3cret"));
    assert!(SmtpSettings::new("", 25, "noreply@tongban.example").check().is_err());
}
