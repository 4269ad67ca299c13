//! Cases on real databases: the state machine with its roles, working-day due
//! dates, double submits, concurrent steps, follow-on cases and the outbox.
//! Every scenario runs on each database the test database kit provides
//! (`tongban-testdb`: SQLite, and PostgreSQL when configured), each test in a
//! fresh database.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Datelike, FixedOffset, NaiveDate, TimeZone, Weekday};
use sqlx::Row;
use tongban_registry::release::Role;
use tongban_services::cases::calendar::WorkCalendar;
use tongban_services::cases::outbox::{MAX_ATTEMPTS, PendingEvent};
use tongban_services::cases::{
    Action, Case, CaseActor, MAX_FORM_BYTES, MAX_REASON_BYTES, NewCase, Stage, Step, TimelineEntry, delivered_to_app,
};
use tongban_services::{ServiceError, Services, ServicesConfig, now_ms};
use tongban_testdb::{TestDb, seed};

const APP: &str = "cn.gov.hz.amr.sole-proprietor";
/// The accepting org (受理单位), region 330100.
const ACCEPTING: &str = "113301000024891238";
/// The handling org (办理单位) a case is handed off to, region 330106.
const HANDLING: &str = "113301060024896013";
/// An org with no part in the cases.
const OTHER: &str = "11330106002489555Y";
/// A code no org is registered under.
const UNREGISTERED: &str = "113301000024891300";
const REGION: &str = "330100";
const CITIZEN_A: &str = "citizen-a";
const CITIZEN_B: &str = "citizen-b";

// ---------------------------------------------------------------------------
// Backends

struct Backend {
    name: &'static str,
    services: Services,
    db: TestDb,
}

impl Backend {
    /// Another node: its own pool over the same database, same configuration.
    async fn second_node(&self) -> Services {
        Services::with_config(self.db.open().await, config())
    }
}

/// The backends to run on, each seeded with two citizens and three orgs.
async fn backends(label: &str) -> Vec<Backend> {
    let mut out = Vec::new();
    for db in TestDb::each(&format!("cases_{label}")) {
        let services = Services::with_config(db.open().await, config());
        seed::citizens(&services, REGION, &[(CITIZEN_A, "张三"), (CITIZEN_B, "李四")]).await;
        seed::orgs(
            services.db(),
            &[
                (ACCEPTING, "杭州市市场监督管理局", "330100"),
                (HANDLING, "杭州市西湖区市场监督管理局", "330106"),
                (OTHER, "杭州市西湖区人力资源和社会保障局", "330106"),
            ],
        )
        .await;
        out.push(Backend {
            name: db.backend_name(),
            services,
            db,
        });
    }
    out
}

// ---------------------------------------------------------------------------
// The calendar: every day of the coming week is a holiday, and the two days
// after it are working days even if they fall on a weekend (调休).

fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap()
}

fn china_today() -> NaiveDate {
    WorkCalendar::date_of(now_ms())
}

/// 00:00 of `day` in China Standard Time, in milliseconds.
fn china_midnight(day: NaiveDate) -> i64 {
    china()
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .single()
        .unwrap()
        .timestamp_millis()
}

fn calendar_toml(today: NaiveDate) -> String {
    let quoted = |days: Vec<NaiveDate>| days.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(", ");
    let holidays: Vec<NaiveDate> = (1..=6).map(|n| today + chrono::Duration::days(n)).collect();
    let working_weekends: Vec<NaiveDate> = (7..=8)
        .map(|n| today + chrono::Duration::days(n))
        .filter(|d| matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect();
    format!(
        "holidays = [{}]\nworking-weekends = [{}]\n",
        quoted(holidays),
        quoted(working_weekends)
    )
}

fn calendar() -> WorkCalendar {
    WorkCalendar::from_toml(&calendar_toml(china_today())).unwrap()
}

fn config() -> ServicesConfig {
    ServicesConfig {
        calendar: calendar(),
        smtp: None,
    }
}

// ---------------------------------------------------------------------------
// Actors, cases and steps

fn citizen(subject: &str) -> CaseActor {
    CaseActor {
        user: format!("user-{subject}"),
        role: Role::Citizen,
        org: None,
        subject: Some(subject.into()),
    }
}

fn clerk(org: &str, user: &str) -> CaseActor {
    CaseActor {
        user: user.into(),
        role: Role::WindowClerk,
        org: Some(org.into()),
        subject: None,
    }
}

fn handler(org: &str, user: &str) -> CaseActor {
    CaseActor {
        user: user.into(),
        role: Role::Handler,
        org: Some(org.into()),
        subject: None,
    }
}

fn rule() -> CaseActor {
    CaseActor::system("rule")
}

fn new_case(subject: &str, mode: &str, promised_days: Option<u32>) -> NewCase {
    NewCase {
        app: APP.into(),
        app_version: "1.2.0".into(),
        item: "个体工商户设立登记".into(),
        item_mode: mode.into(),
        promised_days,
        subject: subject.into(),
        region: REGION.into(),
        channel: "web".into(),
        on_behalf_of: None,
        accepting_org: ACCEPTING.into(),
        form: r#"{"trade-name":"杭州西湖张记小吃店"}"#.into(),
        follow_on_of: None,
        submission_key: None,
    }
}

async fn open(b: &Backend, new: NewCase) -> Case {
    let (case, fresh) = b.services.open_case(new).await.unwrap();
    assert!(fresh, "{}", b.name);
    case
}

async fn commitment(b: &Backend) -> Case {
    open(b, new_case(CITIZEN_A, "commitment", Some(2))).await
}

async fn instant(b: &Backend) -> Case {
    open(b, new_case(CITIZEN_A, "instant", None)).await
}

fn step(action: Action) -> Step {
    Step::new(action, "")
}

fn because(action: Action, reason: &str) -> Step {
    Step::new(action, reason)
}

fn hand_off(to: &str, reason: &str) -> Step {
    Step {
        to_org: Some(to.into()),
        ..Step::new(Action::HandOff, reason)
    }
}

fn resubmit(form: &str) -> Step {
    Step {
        form: Some(form.into()),
        ..Step::new(Action::Resubmit, "")
    }
}

/// An accepted commitment case of another app, with its `accept` event pending.
async fn accepted_of_app(b: &Backend, app: &str) -> Case {
    let case = open(
        b,
        NewCase {
            app: app.into(),
            ..new_case(CITIZEN_A, "commitment", Some(2))
        },
    )
    .await;
    b.services
        .step_case(&clerk(ACCEPTING, "clerk-1"), &case.id, step(Action::Accept))
        .await
        .unwrap()
}

async fn accepted(b: &Backend) -> Case {
    let case = commitment(b).await;
    b.services
        .step_case(&clerk(ACCEPTING, "clerk-1"), &case.id, step(Action::Accept))
        .await
        .unwrap()
}

/// An event's actor, actor org, stages and whether the app gets it.
type EventSummary<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>, bool);

fn kinds(timeline: &[TimelineEntry]) -> Vec<&str> {
    timeline.iter().map(|e| e.kind.as_str()).collect()
}

/// The events of one case among those claimed.
fn of_case<'a>(claimed: &'a [PendingEvent], case: &str) -> Vec<&'a PendingEvent> {
    claimed.iter().filter(|e| e.case == case).collect()
}

async fn event_row(services: &Services, case: &str, seq: i64) -> (i32, i32, Option<i64>, Option<String>) {
    let row = sqlx::query(
        "SELECT deliver, attempts, claimed_until, last_error FROM case_events WHERE case_id = $1 AND seq = $2",
    )
    .bind(case)
    .bind(seq)
    .fetch_one(services.db().pool())
    .await
    .unwrap();
    (
        row.try_get(0).unwrap(),
        row.try_get(1).unwrap(),
        row.try_get(2).unwrap(),
        row.try_get(3).unwrap(),
    )
}

/// As if the lease or the backoff of every event of `case` had run out.
async fn expire_claims(services: &Services, case: &str) {
    sqlx::query("UPDATE case_events SET claimed_until = 0 WHERE case_id = $1 AND claimed_until IS NOT NULL")
        .bind(case)
        .execute(services.db().pool())
        .await
        .unwrap();
}

fn expect_conflict(result: Result<impl std::fmt::Debug, ServiceError>, naming: &[&str]) {
    match result {
        Err(ServiceError::Conflict(message)) => {
            for part in naming {
                assert!(message.contains(part), "`{message}` names `{part}`");
            }
        }
        other => panic!("expected a conflict naming {naming:?}, got {other:?}"),
    }
}

fn expect_invalid(result: Result<impl std::fmt::Debug, ServiceError>, naming: &str) {
    match result {
        Err(ServiceError::Invalid(message)) => assert!(message.contains(naming), "`{message}` names `{naming}`"),
        other => panic!("expected invalid naming `{naming}`, got {other:?}"),
    }
}

fn expect_not_found(result: Result<impl std::fmt::Debug, ServiceError>, naming: &str) {
    match result {
        Err(ServiceError::NotFound(message)) => assert!(message.contains(naming), "`{message}` names `{naming}`"),
        other => panic!("expected not-found naming `{naming}`, got {other:?}"),
    }
}

fn expect_forbidden(result: Result<impl std::fmt::Debug, ServiceError>, naming: &str) {
    match result {
        Err(ServiceError::Forbidden(message)) => assert!(message.contains(naming), "`{message}` names `{naming}`"),
        other => panic!("expected forbidden naming `{naming}`, got {other:?}"),
    }
}

const ACCEPTING_CLERK: &str = "a window clerk of the accepting org";
const HANDLING_HANDLER: &str = "a handler of the handling org";
const APPLICANT: &str = "the applicant (or the clerk who applied for them)";

// ---------------------------------------------------------------------------
// The commitment path

#[test]
fn the_test_calendar_puts_a_week_of_holidays_ahead() {
    let today = NaiveDate::from_ymd_opt(2026, 11, 13).unwrap(); // a Friday
    let text = calendar_toml(today);
    assert_eq!(
        text,
        "holidays = [\"2026-11-14\", \"2026-11-15\", \"2026-11-16\", \"2026-11-17\", \"2026-11-18\", \
         \"2026-11-19\"]\nworking-weekends = [\"2026-11-21\"]\n"
    );
    let calendar = WorkCalendar::from_toml(&text).unwrap();
    let start = china_midnight(today) + 10 * 3_600_000;
    // Friday 20 is the first working day, Saturday 21 (调休) the second.
    assert_eq!(
        calendar.due_at(start, 2),
        china_midnight(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commitment_accept_sets_the_due_moment_from_the_calendar() {
    common::away_from_midnight(Duration::from_secs(30)).await;
    for b in backends("due_moment").await {
        let today = china_today();
        let case = commitment(&b).await;
        assert_eq!(case.stage, Stage::Submitted, "{}", b.name);
        assert!(
            case.id.starts_with(&format!("{REGION}-{}-", today.format("%Y%m%d"))),
            "{}",
            case.id
        );
        assert_eq!(case.id.len(), REGION.len() + 1 + 8 + 1 + 8, "{}", case.id);
        assert_eq!(case.item_mode, "commitment");
        assert_eq!(case.promised_days, Some(2));
        assert_eq!(case.subject, CITIZEN_A);
        assert_eq!(case.accepting_org, ACCEPTING);
        assert_eq!(
            case.handling_org, ACCEPTING,
            "{}: the accepting org handles until a hand-off",
            b.name
        );
        assert_eq!((case.accepted_at, case.due_at, case.decided_at), (None, None, None));
        assert_eq!(case.revision, 1);
        let intake: Vec<String> = b
            .services
            .case_queue(ACCEPTING, true)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(intake, vec![case.id.clone()], "{}", b.name);
        assert!(b.services.case_queue(ACCEPTING, false).await.unwrap().is_empty());

        let before = now_ms();
        let accepted = b
            .services
            .step_case(&clerk(ACCEPTING, "clerk-1"), &case.id, step(Action::Accept))
            .await
            .unwrap();
        let after = now_ms();
        assert_eq!(accepted.stage, Stage::Accepted, "{}", b.name);
        let accepted_at = accepted.accepted_at.unwrap();
        assert!((before..=after).contains(&accepted_at), "{}", b.name);
        assert_eq!(WorkCalendar::date_of(accepted_at), today);
        // Six holidays, then two working days (a weekend among them made a
        // working day): due at the end of the eighth day after today.
        let due = china_midnight(today + chrono::Duration::days(9));
        assert_eq!(accepted.due_at, Some(due), "{}", b.name);
        assert_eq!(accepted.due_at, Some(calendar().due_at(accepted_at, 2)));
        assert_ne!(
            Some(WorkCalendar::from_toml("").unwrap().due_at(accepted_at, 2)),
            accepted.due_at,
            "{}: the configured calendar, not a plain one, decides",
            b.name
        );
        assert_eq!(accepted.revision, 2);
        assert_eq!(accepted.decided_at, None);
        assert!(!accepted.overdue(now_ms()));
        assert!(!accepted.overdue(due - 1));
        assert!(accepted.overdue(due + 1));
        assert_eq!(b.services.case(&case.id).await.unwrap(), accepted);
        assert!(b.services.case_queue(ACCEPTING, true).await.unwrap().is_empty());
        assert_eq!(
            b.services.case_queue(ACCEPTING, false).await.unwrap(),
            vec![accepted.clone()]
        );

        // An instant item accepted by a clerk has no due date.
        let quick = instant(&b).await;
        let quick = b
            .services
            .step_case(&clerk(ACCEPTING, "clerk-1"), &quick.id, step(Action::Accept))
            .await
            .unwrap();
        assert_eq!(quick.stage, Stage::Accepted);
        assert!(quick.accepted_at.is_some());
        assert_eq!(quick.due_at, None, "{}", b.name);
        assert!(!quick.overdue(i64::MAX));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queues_list_intake_oldest_first_and_handling_by_due_date() {
    for b in backends("queues").await {
        let mut opened = Vec::new();
        for (mode, days) in [("commitment", Some(5)), ("commitment", Some(2)), ("instant", None)] {
            opened.push(open(&b, new_case(CITIZEN_A, mode, days)).await);
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        let ids = |cases: Vec<Case>| cases.into_iter().map(|c| c.id).collect::<Vec<_>>();
        let [later, sooner, undated] = [opened[0].id.clone(), opened[1].id.clone(), opened[2].id.clone()];
        assert_eq!(
            ids(b.services.case_queue(ACCEPTING, true).await.unwrap()),
            [later.clone(), sooner.clone(), undated.clone()],
            "{}: intake is oldest first",
            b.name
        );
        assert!(b.services.case_queue(HANDLING, true).await.unwrap().is_empty());
        for id in [&undated, &later, &sooner] {
            b.services
                .step_case(&clerk(ACCEPTING, "clerk-1"), id, step(Action::Accept))
                .await
                .unwrap();
        }
        assert!(b.services.case_queue(ACCEPTING, true).await.unwrap().is_empty());
        // The nearest due date first; a case without one (an instant item a
        // clerk accepted) last, on every backend.
        assert_eq!(
            ids(b.services.case_queue(ACCEPTING, false).await.unwrap()),
            [sooner.clone(), later.clone(), undated.clone()],
            "{}: handling is by due date",
            b.name
        );
        assert!(b.services.case_queue(HANDLING, false).await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_accepting_clerk_accepts_and_only_the_applicant_withdraws() {
    for b in backends("accept_withdraw").await {
        let case = commitment(&b).await;
        // A handler of the accepting org sees the case but may not accept it.
        expect_forbidden(
            b.services
                .step_case(&handler(ACCEPTING, "handler-1"), &case.id, step(Action::Accept))
                .await,
            ACCEPTING_CLERK,
        );
        // So does the applicant.
        expect_forbidden(
            b.services
                .step_case(&citizen(CITIZEN_A), &case.id, step(Action::Accept))
                .await,
            ACCEPTING_CLERK,
        );
        // A clerk of another org does not even see it: case numbers cannot be
        // probed, so the refusal is not-found, not forbidden.
        expect_not_found(
            b.services
                .step_case(&clerk(OTHER, "clerk-9"), &case.id, step(Action::Accept))
                .await,
            &case.id,
        );
        expect_not_found(b.services.case_for(&clerk(OTHER, "clerk-9"), &case.id).await, &case.id);
        // A window clerk of the accepting org who is not a staff member of it.
        let unattached = CaseActor {
            org: None,
            ..clerk(ACCEPTING, "clerk-0")
        };
        expect_not_found(b.services.case_for(&unattached, &case.id).await, &case.id);
        assert_eq!(
            b.services.case(&case.id).await.unwrap(),
            case,
            "{}: nothing changed",
            b.name
        );
        assert_eq!(kinds(&b.services.case_timeline(&case.id).await.unwrap()), ["submitted"]);

        // Who sees the case.
        assert_eq!(b.services.case_for(&citizen(CITIZEN_A), &case.id).await.unwrap(), case);
        assert_eq!(
            b.services
                .case_for(&clerk(ACCEPTING, "clerk-2"), &case.id)
                .await
                .unwrap(),
            case
        );
        assert_eq!(
            b.services
                .case_for(&handler(ACCEPTING, "handler-1"), &case.id)
                .await
                .unwrap(),
            case
        );
        expect_not_found(b.services.case_for(&citizen(CITIZEN_B), &case.id).await, &case.id);
        let no_subject = CaseActor {
            subject: None,
            ..citizen(CITIZEN_A)
        };
        expect_not_found(b.services.case_for(&no_subject, &case.id).await, &case.id);
        expect_not_found(
            b.services
                .case_for(&citizen(CITIZEN_A), "330100-20260101-00000000")
                .await,
            "330100",
        );

        let accepted = b
            .services
            .step_case(&clerk(ACCEPTING, "clerk-1"), &case.id, step(Action::Accept))
            .await
            .unwrap();
        assert_eq!(accepted.stage, Stage::Accepted);

        // Another citizen can neither see nor withdraw it; a clerk is not the
        // applicant of a case they did not apply for.
        expect_not_found(
            b.services
                .step_case(&citizen(CITIZEN_B), &case.id, step(Action::Withdraw))
                .await,
            &case.id,
        );
        expect_forbidden(
            b.services
                .step_case(&clerk(ACCEPTING, "clerk-1"), &case.id, step(Action::Withdraw))
                .await,
            APPLICANT,
        );
        let withdrawn = b
            .services
            .step_case(&citizen(CITIZEN_A), &case.id, because(Action::Withdraw, "  不再需要  "))
            .await
            .unwrap();
        assert_eq!(withdrawn.stage, Stage::Withdrawn, "{}", b.name);
        assert!(withdrawn.stage.is_final());
        assert_eq!(withdrawn.decided_at, None, "{}: a withdrawal is not a decision", b.name);
        assert_eq!(withdrawn.accepted_at, accepted.accepted_at);
        assert_eq!(withdrawn.due_at, accepted.due_at);
        assert_eq!(withdrawn.revision, 3);
        let timeline = b.services.case_timeline(&case.id).await.unwrap();
        assert_eq!(kinds(&timeline), ["submitted", "accept", "withdraw"], "{}", b.name);
        let last = &timeline[2];
        assert_eq!(last.detail, "不再需要", "{}: the reason is kept trimmed", b.name);
        assert_eq!(last.actor, "user-citizen-a");
        assert_eq!(last.actor_org, None);
        assert_eq!(last.from_stage.as_deref(), Some("accepted"));
        assert_eq!(last.to_stage.as_deref(), Some("withdrawn"));
        assert!(last.for_app);
        assert!(b.services.case_queue(ACCEPTING, false).await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hand_off_moves_the_case_to_another_registered_org() {
    for b in backends("hand_off").await {
        let case = accepted(&b).await;
        let accepting_clerk = clerk(ACCEPTING, "clerk-1");
        expect_invalid(
            b.services
                .step_case(&accepting_clerk, &case.id, hand_off(ACCEPTING, "移交"))
                .await,
            "already handled by",
        );
        expect_not_found(
            b.services
                .step_case(&accepting_clerk, &case.id, hand_off(UNREGISTERED, "移交"))
                .await,
            UNREGISTERED,
        );
        expect_invalid(
            b.services
                .step_case(&accepting_clerk, &case.id, hand_off(HANDLING, "   "))
                .await,
            "`hand-off` needs a reason",
        );
        expect_invalid(
            b.services
                .step_case(&accepting_clerk, &case.id, because(Action::HandOff, "移交"))
                .await,
            "names the org",
        );
        // Nobody outside the staff hands off.
        expect_forbidden(
            b.services
                .step_case(&citizen(CITIZEN_A), &case.id, hand_off(HANDLING, "移交"))
                .await,
            "a window clerk of the accepting org or a handler of the handling org",
        );
        assert_eq!(
            b.services.case(&case.id).await.unwrap(),
            case,
            "{}: refusals change nothing",
            b.name
        );

        let handed = b
            .services
            .step_case(&accepting_clerk, &case.id, hand_off(HANDLING, "属地管辖，移交区局办理"))
            .await
            .unwrap();
        assert_eq!(handed.stage, Stage::Handling, "{}", b.name);
        assert_eq!(handed.handling_org, HANDLING);
        assert_eq!(handed.accepting_org, ACCEPTING);
        assert_eq!(handed.due_at, case.due_at, "{}: a hand-off keeps the due date", b.name);
        assert!(b.services.case_queue(ACCEPTING, false).await.unwrap().is_empty());
        assert_eq!(
            b.services.case_queue(HANDLING, false).await.unwrap(),
            vec![handed.clone()],
            "{}",
            b.name
        );
        // The accepting clerk still sees it; so does a handler of the new org.
        assert_eq!(b.services.case_for(&accepting_clerk, &case.id).await.unwrap(), handed);
        assert_eq!(
            b.services
                .case_for(&handler(HANDLING, "handler-2"), &case.id)
                .await
                .unwrap(),
            handed
        );
        // A clerk of the handling org is not a party to the case.
        expect_not_found(
            b.services.case_for(&clerk(HANDLING, "clerk-3"), &case.id).await,
            &case.id,
        );

        // Only a handler of the new handling org approves.
        expect_forbidden(
            b.services
                .step_case(&handler(ACCEPTING, "handler-1"), &case.id, step(Action::Approve))
                .await,
            HANDLING_HANDLER,
        );
        expect_forbidden(
            b.services
                .step_case(&accepting_clerk, &case.id, step(Action::Approve))
                .await,
            HANDLING_HANDLER,
        );
        let before = now_ms();
        let approved = b
            .services
            .step_case(
                &handler(HANDLING, "handler-2"),
                &case.id,
                because(Action::Approve, "准予登记"),
            )
            .await
            .unwrap();
        assert_eq!(approved.stage, Stage::Approved, "{}", b.name);
        assert!(approved.decided_at.is_some_and(|d| d >= before));
        assert_eq!(approved.revision, 4);

        let timeline = b.services.case_timeline(&case.id).await.unwrap();
        assert_eq!(
            kinds(&timeline),
            ["submitted", "accept", "hand-off", "approve"],
            "{}",
            b.name
        );
        let seqs: Vec<i64> = timeline.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        assert!(timeline.windows(2).all(|w| w[0].at <= w[1].at));
        let rows: Vec<EventSummary> = timeline
            .iter()
            .map(|e| {
                (
                    e.actor.as_str(),
                    e.actor_org.as_deref(),
                    e.from_stage.as_deref(),
                    e.to_stage.as_deref(),
                    e.for_app,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("applicant", None, None, None, false),
                ("clerk-1", Some(ACCEPTING), Some("submitted"), Some("accepted"), true),
                ("clerk-1", Some(ACCEPTING), Some("accepted"), Some("handling"), true),
                ("handler-2", Some(HANDLING), Some("handling"), Some("approved"), true),
            ],
            "{}",
            b.name
        );
        assert_eq!(timeline[0].detail, "channel web");
        assert!(timeline[2].detail.starts_with(HANDLING), "{}", timeline[2].detail);
        assert_eq!(timeline[2].detail, format!("{HANDLING}: 属地管辖，移交区局办理"));
        assert_eq!(timeline[3].detail, "准予登记");
        assert!(timeline.iter().all(|e| e.delivered_at.is_none()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn illegal_transitions_are_conflicts_naming_stage_and_action() {
    for b in backends("illegal").await {
        let accepting_clerk = clerk(ACCEPTING, "clerk-1");
        let accepting_handler = handler(ACCEPTING, "handler-1");

        // Approving a case nobody accepted.
        let submitted = commitment(&b).await;
        for action in [Action::Approve, Action::StartHandling, Action::Deliver, Action::Close] {
            expect_conflict(
                b.services
                    .step_case(&accepting_handler, &submitted.id, step(action))
                    .await,
                &[&submitted.id, "is submitted", &format!("`{}`", action.as_str())],
            );
        }
        expect_conflict(
            b.services
                .step_case(&citizen(CITIZEN_A), &submitted.id, resubmit("{}"))
                .await,
            &["is submitted", "`resubmit`"],
        );
        expect_conflict(
            b.services
                .step_case(&accepting_clerk, &submitted.id, hand_off(HANDLING, "移交"))
                .await,
            &["is submitted", "`hand-off`"],
        );
        assert_eq!(b.services.case(&submitted.id).await.unwrap(), submitted);

        // Nothing after a withdrawal.
        let withdrawn = b
            .services
            .step_case(&citizen(CITIZEN_A), &submitted.id, step(Action::Withdraw))
            .await
            .unwrap();
        assert_eq!(withdrawn.stage, Stage::Withdrawn);
        expect_conflict(
            b.services
                .step_case(&accepting_clerk, &submitted.id, step(Action::Accept))
                .await,
            &["is withdrawn", "`accept`"],
        );
        expect_conflict(
            b.services
                .step_case(&citizen(CITIZEN_A), &submitted.id, step(Action::Withdraw))
                .await,
            &["is withdrawn", "`withdraw`"],
        );
        expect_conflict(
            b.services
                .step_case(&rule(), &submitted.id, step(Action::RuleApprove))
                .await,
            &["is withdrawn", "`rule-approve`"],
        );

        // Nothing after a rejection.
        let rejected = commitment(&b).await;
        expect_invalid(
            b.services
                .step_case(&accepting_clerk, &rejected.id, step(Action::Reject))
                .await,
            "`reject` needs a reason",
        );
        let done = b
            .services
            .step_case(
                &accepting_clerk,
                &rejected.id,
                because(Action::Reject, "不属于本部门受理范围"),
            )
            .await
            .unwrap();
        assert_eq!(done.stage, Stage::Rejected);
        assert!(done.decided_at.is_some(), "{}: a rejection is a decision", b.name);
        for (actor, action) in [
            (&accepting_clerk, Action::Accept),
            (&accepting_clerk, Action::Close),
            (&citizen(CITIZEN_A), Action::Withdraw),
        ] {
            expect_conflict(
                b.services.step_case(actor, &rejected.id, step(action)).await,
                &["is rejected", &format!("`{}`", action.as_str())],
            );
        }

        // The whole way to closed, then nothing.
        let case = accepted(&b).await;
        expect_conflict(
            b.services
                .step_case(&accepting_clerk, &case.id, step(Action::Accept))
                .await,
            &["is accepted", "`accept`"],
        );
        let handling = b
            .services
            .step_case(&accepting_handler, &case.id, step(Action::StartHandling))
            .await
            .unwrap();
        assert_eq!(handling.stage, Stage::Handling);
        expect_conflict(
            b.services
                .step_case(&accepting_handler, &case.id, step(Action::StartHandling))
                .await,
            &["is handling", "`start-handling`"],
        );
        let approved = b
            .services
            .step_case(&accepting_handler, &case.id, step(Action::Approve))
            .await
            .unwrap();
        assert_eq!(approved.stage, Stage::Approved);
        expect_conflict(
            b.services
                .step_case(&citizen(CITIZEN_A), &case.id, step(Action::Withdraw))
                .await,
            &["is approved", "`withdraw`"],
        );
        expect_conflict(
            b.services
                .step_case(&accepting_handler, &case.id, step(Action::Close))
                .await,
            &["is approved", "`close`"],
        );
        let delivered = b
            .services
            .step_case(&accepting_clerk, &case.id, step(Action::Deliver))
            .await
            .unwrap();
        assert_eq!(delivered.stage, Stage::Delivered);
        assert_eq!(
            delivered.decided_at, approved.decided_at,
            "{}: delivery keeps the decision time",
            b.name
        );
        let closed = b
            .services
            .step_case(&accepting_handler, &case.id, step(Action::Close))
            .await
            .unwrap();
        assert_eq!(closed.stage, Stage::Closed);
        assert_eq!(closed.revision, 6);
        for (actor, action) in [
            (&accepting_clerk, Action::Close),
            (&accepting_clerk, Action::Deliver),
            (&accepting_handler, Action::Approve),
            (&citizen(CITIZEN_A), Action::Withdraw),
        ] {
            expect_conflict(
                b.services.step_case(actor, &case.id, step(action)).await,
                &["is closed", &format!("`{}`", action.as_str())],
            );
        }
        assert_eq!(
            kinds(&b.services.case_timeline(&case.id).await.unwrap()),
            ["submitted", "accept", "start-handling", "approve", "deliver", "close"],
            "{}",
            b.name
        );

        // A denial closes without delivery.
        let denied = accepted(&b).await;
        expect_invalid(
            b.services
                .step_case(&accepting_handler, &denied.id, step(Action::Deny))
                .await,
            "`deny` needs a reason",
        );
        let denied = b
            .services
            .step_case(
                &accepting_handler,
                &denied.id,
                because(Action::Deny, "材料不符合法定形式"),
            )
            .await
            .unwrap();
        assert_eq!(denied.stage, Stage::Denied);
        expect_conflict(
            b.services
                .step_case(&accepting_clerk, &denied.id, step(Action::Deliver))
                .await,
            &["is denied", "`deliver`"],
        );
        let closed = b
            .services
            .step_case(&accepting_clerk, &denied.id, step(Action::Close))
            .await
            .unwrap();
        assert_eq!(closed.stage, Stage::Closed, "{}", b.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rule_actions_decide_only_instant_items_and_only_for_the_system() {
    for b in backends("rule_actions").await {
        let quick = instant(&b).await;
        for actor in [
            citizen(CITIZEN_A),
            clerk(ACCEPTING, "clerk-1"),
            handler(ACCEPTING, "handler-1"),
        ] {
            expect_forbidden(
                b.services.step_case(&actor, &quick.id, step(Action::RuleApprove)).await,
                "the app's rule",
            );
            expect_forbidden(
                b.services
                    .step_case(&actor, &quick.id, because(Action::RuleDeny, "不符合条件"))
                    .await,
                "the app's rule",
            );
        }
        assert_eq!(b.services.case(&quick.id).await.unwrap().stage, Stage::Submitted);

        let approved = b
            .services
            .step_case(&rule(), &quick.id, because(Action::RuleApprove, "符合即办条件"))
            .await
            .unwrap();
        assert_eq!(approved.stage, Stage::Approved, "{}", b.name);
        assert!(approved.decided_at.is_some());
        assert_eq!(
            approved.accepted_at, None,
            "{}: a rule decision skips acceptance",
            b.name
        );
        let timeline = b.services.case_timeline(&quick.id).await.unwrap();
        assert_eq!(kinds(&timeline), ["submitted", "rule-approve"]);
        assert_eq!(timeline[1].actor, "rule");
        assert_eq!(timeline[1].actor_org, None);
        assert_eq!(timeline[1].detail, "符合即办条件");
        assert!(timeline[1].for_app);

        let denied = instant(&b).await;
        expect_invalid(
            b.services.step_case(&rule(), &denied.id, step(Action::RuleDeny)).await,
            "`rule-deny` needs a reason",
        );
        let denied = b
            .services
            .step_case(&rule(), &denied.id, because(Action::RuleDeny, "年龄不满十八周岁"))
            .await
            .unwrap();
        assert_eq!(denied.stage, Stage::Denied, "{}", b.name);

        // A commitment item is decided by people, not by the app's rule.
        let slow = commitment(&b).await;
        expect_conflict(
            b.services.step_case(&rule(), &slow.id, step(Action::RuleApprove)).await,
            &["commitment item", "个体工商户设立登记"],
        );
        expect_conflict(
            b.services
                .step_case(&rule(), &slow.id, because(Action::RuleDeny, "不符合条件"))
                .await,
            &["commitment item"],
        );
        assert_eq!(b.services.case(&slow.id).await.unwrap(), slow, "{}", b.name);
        // And the rule decides only at submission.
        let later = accepted(&b).await;
        expect_conflict(
            b.services
                .step_case(&rule(), &later.id, step(Action::RuleApprove))
                .await,
            &["is accepted", "`rule-approve`"],
        );
        // The system actor is the rule, not staff.
        let quick = instant(&b).await;
        expect_forbidden(
            b.services.step_case(&rule(), &quick.id, step(Action::Accept)).await,
            ACCEPTING_CLERK,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn correction_and_resubmission_replace_the_form() {
    for b in backends("correction").await {
        let case = commitment(&b).await;
        let accepting_clerk = clerk(ACCEPTING, "clerk-1");
        expect_invalid(
            b.services
                .step_case(&accepting_clerk, &case.id, because(Action::RequestCorrection, " \n "))
                .await,
            "`request-correction` needs a reason",
        );
        let asked = b
            .services
            .step_case(
                &accepting_clerk,
                &case.id,
                because(Action::RequestCorrection, "请补充经营场所证明"),
            )
            .await
            .unwrap();
        assert_eq!(asked.stage, Stage::CorrectionRequested, "{}", b.name);
        assert_eq!(asked.accepted_at, None);
        expect_conflict(
            b.services
                .step_case(&accepting_clerk, &case.id, step(Action::Accept))
                .await,
            &["is correction-requested", "`accept`"],
        );

        let corrected = r#"{"trade-name":"杭州西湖张记小吃店","premises":"文三路90号"}"#;
        expect_invalid(
            b.services
                .step_case(&citizen(CITIZEN_A), &case.id, step(Action::Resubmit))
                .await,
            "corrected form",
        );
        expect_invalid(
            b.services
                .step_case(&citizen(CITIZEN_A), &case.id, resubmit(&"x".repeat(MAX_FORM_BYTES + 1)))
                .await,
            &MAX_FORM_BYTES.to_string(),
        );
        expect_not_found(
            b.services
                .step_case(&citizen(CITIZEN_B), &case.id, resubmit(corrected))
                .await,
            &case.id,
        );
        expect_forbidden(
            b.services
                .step_case(&accepting_clerk, &case.id, resubmit(corrected))
                .await,
            APPLICANT,
        );
        assert_eq!(b.services.case(&case.id).await.unwrap().form, case.form);

        let again = b
            .services
            .step_case(&citizen(CITIZEN_A), &case.id, resubmit(corrected))
            .await
            .unwrap();
        assert_eq!(again.stage, Stage::Submitted, "{}", b.name);
        assert_eq!(again.form, corrected, "{}: the form is replaced", b.name);
        assert_eq!(again.revision, 3);
        assert_eq!(again.submitted_at, case.submitted_at);
        let intake: Vec<String> = b
            .services
            .case_queue(ACCEPTING, true)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(intake, vec![case.id.clone()], "{}: back in the intake queue", b.name);

        let timeline = b.services.case_timeline(&case.id).await.unwrap();
        assert_eq!(kinds(&timeline), ["submitted", "request-correction", "resubmit"]);
        assert_eq!(timeline[1].detail, "请补充经营场所证明");
        assert_eq!(timeline[1].to_stage.as_deref(), Some("correction-requested"));
        assert!(timeline[1].for_app);
        assert_eq!(timeline[2].actor, "user-citizen-a");
        assert_eq!(timeline[2].from_stage.as_deref(), Some("correction-requested"));
        assert_eq!(timeline[2].to_stage.as_deref(), Some("submitted"));
        assert!(
            !timeline[2].for_app,
            "{}: the app is not told of a resubmission",
            b.name
        );

        let accepted = b
            .services
            .step_case(&accepting_clerk, &case.id, step(Action::Accept))
            .await
            .unwrap();
        assert_eq!(accepted.stage, Stage::Accepted);
        assert_eq!(accepted.form, corrected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_window_clerk_applying_for_a_citizen_acts_as_the_applicant() {
    for b in backends("window_channel").await {
        let counter = clerk(ACCEPTING, "clerk-7");
        let colleague = clerk(ACCEPTING, "clerk-8");
        let case = open(
            &b,
            NewCase {
                channel: "window".into(),
                on_behalf_of: Some("clerk-7".into()),
                ..new_case(CITIZEN_A, "commitment", Some(5))
            },
        )
        .await;
        assert_eq!(case.channel, "window");
        assert_eq!(case.on_behalf_of.as_deref(), Some("clerk-7"));
        let timeline = b.services.case_timeline(&case.id).await.unwrap();
        assert_eq!(timeline[0].kind, "submitted");
        assert_eq!(timeline[0].actor, "clerk-7", "{}: the clerk submitted it", b.name);
        assert_eq!(timeline[0].detail, "channel window");

        // The citizen sees the case among theirs, and on its own.
        let mine: Vec<String> = b
            .services
            .cases_of_subject(CITIZEN_A)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(mine, vec![case.id.clone()], "{}", b.name);
        assert!(b.services.cases_of_subject(CITIZEN_B).await.unwrap().is_empty());
        assert_eq!(b.services.case_for(&citizen(CITIZEN_A), &case.id).await.unwrap(), case);
        // The clerk who applied sees it even from another org.
        let elsewhere = clerk(OTHER, "clerk-7");
        assert_eq!(b.services.case_for(&elsewhere, &case.id).await.unwrap(), case);

        b.services
            .step_case(
                &colleague,
                &case.id,
                because(Action::RequestCorrection, "身份证复印件不清晰"),
            )
            .await
            .unwrap();
        // A colleague at the same counter is staff, not the applicant's side.
        expect_forbidden(
            b.services.step_case(&colleague, &case.id, resubmit("{}")).await,
            APPLICANT,
        );
        let again = b
            .services
            .step_case(&counter, &case.id, resubmit(r#"{"copy":"clear"}"#))
            .await
            .unwrap();
        assert_eq!(again.stage, Stage::Submitted, "{}", b.name);
        assert_eq!(again.form, r#"{"copy":"clear"}"#);
        expect_forbidden(
            b.services.step_case(&colleague, &case.id, step(Action::Withdraw)).await,
            APPLICANT,
        );
        let withdrawn = b
            .services
            .step_case(&elsewhere, &case.id, step(Action::Withdraw))
            .await
            .unwrap();
        assert_eq!(withdrawn.stage, Stage::Withdrawn, "{}", b.name);
        let timeline = b.services.case_timeline(&case.id).await.unwrap();
        assert_eq!(
            kinds(&timeline),
            ["submitted", "request-correction", "resubmit", "withdraw"]
        );
        assert_eq!(timeline[2].actor, "clerk-7");
        assert_eq!(timeline[3].actor_org.as_deref(), Some(OTHER));
        // The citizen can still read it, and it still counts as theirs.
        assert_eq!(
            b.services.cases_of_subject(CITIZEN_A).await.unwrap(),
            vec![withdrawn.clone()]
        );
    }
}

// ---------------------------------------------------------------------------
// Double submits and concurrent steps

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repeated_submission_key_returns_the_first_case() {
    for b in backends("submission_key").await {
        let keyed = |subject: &str, key: &str| NewCase {
            submission_key: Some(key.into()),
            ..new_case(subject, "instant", None)
        };
        let (first, fresh) = b.services.open_case(keyed(CITIZEN_A, "form-1")).await.unwrap();
        assert!(fresh);
        let (again, fresh) = b
            .services
            .open_case(NewCase {
                form: r#"{"changed":true}"#.into(),
                ..keyed(CITIZEN_A, "form-1")
            })
            .await
            .unwrap();
        assert!(!fresh, "{}", b.name);
        assert_eq!(again, first, "{}: the first case, its form unchanged", b.name);
        assert_eq!(
            kinds(&b.services.case_timeline(&first.id).await.unwrap()),
            ["submitted"]
        );
        // The key is per subject.
        let (other, fresh) = b.services.open_case(keyed(CITIZEN_B, "form-1")).await.unwrap();
        assert!(fresh);
        assert_ne!(other.id, first.id);
        // A clerk at the window who sends the citizen's key does not get the
        // citizen's online case.
        let at_window = b
            .services
            .open_case(NewCase {
                on_behalf_of: Some("clerk-1".into()),
                ..keyed(CITIZEN_A, "form-1")
            })
            .await;
        assert!(
            matches!(at_window, Err(ServiceError::Conflict(ref m)) if m.contains("submission key")),
            "{}: {at_window:?}",
            b.name
        );
        // After the case moves on, the key still finds it.
        b.services
            .step_case(&rule(), &first.id, step(Action::RuleApprove))
            .await
            .unwrap();
        let (later, fresh) = b.services.open_case(keyed(CITIZEN_A, "form-1")).await.unwrap();
        assert!(!fresh);
        assert_eq!(later.id, first.id);
        assert_eq!(later.stage, Stage::Approved);
        assert_eq!(
            b.services.cases_of_subject(CITIZEN_A).await.unwrap().len(),
            1,
            "{}",
            b.name
        );
        // Without a key every submission is a case.
        open(&b, new_case(CITIZEN_A, "instant", None)).await;
        open(&b, new_case(CITIZEN_A, "instant", None)).await;
        assert_eq!(b.services.cases_of_subject(CITIZEN_A).await.unwrap().len(), 3);

        expect_invalid(b.services.open_case(keyed(CITIZEN_A, "")).await, "submission key");
        expect_invalid(
            b.services.open_case(keyed(CITIZEN_A, &"k".repeat(129))).await,
            "submission key",
        );
        let (long, fresh) = b.services.open_case(keyed(CITIZEN_A, &"k".repeat(128))).await.unwrap();
        assert!(fresh && long.id != first.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_double_submits_open_one_case() {
    for b in backends("double_submit").await {
        let second = b.second_node().await;
        for round in 0..3 {
            let key = format!("race-{round}");
            let mut tasks = Vec::new();
            for i in 0..6 {
                let services = if i % 2 == 0 { b.services.clone() } else { second.clone() };
                let new = NewCase {
                    submission_key: Some(key.clone()),
                    ..new_case(CITIZEN_A, "commitment", Some(3))
                };
                tasks.push(tokio::spawn(async move { services.open_case(new).await }));
            }
            let mut ids = BTreeSet::new();
            let mut fresh = 0;
            for task in tasks {
                let (case, opened) = task.await.unwrap().unwrap();
                ids.insert(case.id);
                fresh += usize::from(opened);
            }
            assert_eq!(ids.len(), 1, "{} round {round}: {ids:?}", b.name);
            assert_eq!(
                fresh, 1,
                "{} round {round}: exactly one submission opened the case",
                b.name
            );
            let id = ids.into_iter().next().unwrap();
            assert_eq!(
                kinds(&b.services.case_timeline(&id).await.unwrap()),
                ["submitted"],
                "{}",
                b.name
            );
        }
        assert_eq!(
            b.services.cases_of_subject(CITIZEN_A).await.unwrap().len(),
            3,
            "{}",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_accepts_have_exactly_one_winner() {
    for b in backends("concurrent_accept").await {
        let second = b.second_node().await;
        for round in 0..4 {
            let case = commitment(&b).await;
            let mut tasks = Vec::new();
            for (services, user) in [(b.services.clone(), "clerk-1"), (second.clone(), "clerk-2")] {
                let id = case.id.clone();
                tasks.push(tokio::spawn(async move {
                    let result = services
                        .step_case(&clerk(ACCEPTING, user), &id, step(Action::Accept))
                        .await;
                    (user, result)
                }));
            }
            let mut won = Vec::new();
            for task in tasks {
                match task.await.unwrap() {
                    (user, Ok(case)) => won.push((user, case)),
                    (_, Err(ServiceError::Conflict(message))) => assert!(
                        message.contains("changed at the same time") || message.contains("is accepted; `accept`"),
                        "{message}"
                    ),
                    (_, Err(other)) => panic!("{} round {round}: {other:?}", b.name),
                }
            }
            assert_eq!(won.len(), 1, "{} round {round}: exactly one accept wins", b.name);
            let stored = b.services.case(&case.id).await.unwrap();
            assert_eq!(stored.stage, Stage::Accepted);
            assert_eq!(stored.revision, 2, "{} round {round}", b.name);
            let timeline = b.services.case_timeline(&case.id).await.unwrap();
            assert_eq!(kinds(&timeline), ["submitted", "accept"], "{} round {round}", b.name);
            let (winner, case) = &won[0];
            assert_eq!(
                timeline[1].actor, *winner,
                "{} round {round}: the winner's event",
                b.name
            );
            assert_eq!(stored, *case);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn discard_removes_only_a_fresh_case() {
    for b in backends("discard").await {
        let fresh = commitment(&b).await;
        b.services.discard_case(&fresh.id).await.unwrap();
        expect_not_found(b.services.case(&fresh.id).await, &fresh.id);
        assert!(
            b.services.case_timeline(&fresh.id).await.unwrap().is_empty(),
            "{}",
            b.name
        );
        assert!(b.services.cases_of_subject(CITIZEN_A).await.unwrap().is_empty());

        let moved = accepted(&b).await;
        expect_conflict(
            b.services.discard_case(&moved.id).await,
            &[&moved.id, "cannot be discarded"],
        );
        assert_eq!(b.services.case(&moved.id).await.unwrap(), moved, "{}", b.name);
        assert_eq!(
            kinds(&b.services.case_timeline(&moved.id).await.unwrap()),
            ["submitted", "accept"]
        );

        // A settled payment is progress too, even before any stage change.
        let paid = commitment(&b).await;
        b.services
            .record_case_event(&paid.id, "paid", "pay-1", &CaseActor::system("payments"))
            .await
            .unwrap();
        expect_conflict(b.services.discard_case(&paid.id).await, &["cannot be discarded"]);
        assert_eq!(b.services.case(&paid.id).await.unwrap().stage, Stage::Submitted);

        // A withdrawn case has progressed.
        let gone = commitment(&b).await;
        b.services
            .step_case(&citizen(CITIZEN_A), &gone.id, step(Action::Withdraw))
            .await
            .unwrap();
        expect_conflict(b.services.discard_case(&gone.id).await, &["cannot be discarded"]);
        assert_eq!(
            b.services.cases_of_subject(CITIZEN_A).await.unwrap().len(),
            3,
            "{}",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn follow_on_opens_one_case_for_the_same_subject() {
    for b in backends("follow_on").await {
        let first = open(
            &b,
            NewCase {
                channel: "mobile".into(),
                ..new_case(CITIZEN_A, "instant", None)
            },
        )
        .await;
        let first = b
            .services
            .step_case(&rule(), &first.id, step(Action::RuleApprove))
            .await
            .unwrap();
        let form = r#"{"trade-name":"杭州西湖张记小吃店","tax":"prefilled"}"#;
        let next = b
            .services
            .open_follow_on(&first, "税务登记", "commitment", Some(3), form)
            .await
            .unwrap();
        assert_ne!(next.id, first.id);
        assert_eq!(next.follow_on_of.as_deref(), Some(first.id.as_str()), "{}", b.name);
        assert_eq!(next.subject, CITIZEN_A);
        assert_eq!(next.app, APP);
        assert_eq!(next.app_version, "1.2.0");
        assert_eq!(next.item, "税务登记");
        assert_eq!(next.item_mode, "commitment");
        assert_eq!(next.promised_days, Some(3));
        assert_eq!(next.channel, "mobile");
        assert_eq!(next.accepting_org, ACCEPTING);
        assert_eq!(next.region, REGION);
        assert_eq!(next.form, form);
        assert_eq!(next.stage, Stage::Submitted);
        let timeline = b.services.case_timeline(&next.id).await.unwrap();
        assert_eq!(kinds(&timeline), ["submitted"]);
        assert_eq!(
            timeline[0].detail,
            format!("channel mobile; continues case {}", first.id)
        );

        // Twice is once: the submission key is derived from the case and item.
        let again = b
            .services
            .open_follow_on(&first, "税务登记", "commitment", Some(3), r#"{"other":1}"#)
            .await
            .unwrap();
        assert_eq!(again, next, "{}", b.name);
        // Another item is another case.
        let other = b
            .services
            .open_follow_on(&first, "社保登记", "instant", None, "{}")
            .await
            .unwrap();
        assert_ne!(other.id, next.id);
        assert_eq!(other.follow_on_of.as_deref(), Some(first.id.as_str()));
        expect_invalid(
            b.services
                .open_follow_on(&first, "公积金登记", "instant", None, "not json")
                .await,
            "not JSON",
        );
        expect_invalid(
            b.services
                .open_follow_on(&first, "公积金登记", "sometime", None, "{}")
                .await,
            "item mode",
        );
        assert_eq!(
            b.services.cases_of_subject(CITIZEN_A).await.unwrap().len(),
            3,
            "{}",
            b.name
        );
        assert!(b.services.cases_of_subject(CITIZEN_B).await.unwrap().is_empty());
    }
}

// ---------------------------------------------------------------------------
// The outbox

#[test]
fn exactly_the_app_facing_kinds_are_delivered() {
    for kind in [
        "accept",
        "request-correction",
        "hand-off",
        "paid",
        "approve",
        "deny",
        "rule-approve",
        "rule-deny",
        "withdraw",
    ] {
        assert!(delivered_to_app(kind), "{kind}");
    }
    for kind in [
        "submitted",
        "resubmit",
        "start-handling",
        "deliver",
        "close",
        "reject",
        "",
    ] {
        assert!(!delivered_to_app(kind), "{kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outbox_claims_app_events_oldest_first_per_case() {
    for b in backends("outbox_order").await {
        let case = commitment(&b).await;
        assert!(
            b.services.claim_case_events(10, 60_000).await.unwrap().is_empty(),
            "{}",
            b.name
        );
        assert_eq!(
            b.services.pending_case_events().await.unwrap(),
            0,
            "{}: `submitted` is not for the app",
            b.name
        );

        let accepting_clerk = clerk(ACCEPTING, "clerk-1");
        b.services
            .step_case(&accepting_clerk, &case.id, step(Action::Accept))
            .await
            .unwrap();
        b.services
            .step_case(&accepting_clerk, &case.id, hand_off(HANDLING, "属地管辖"))
            .await
            .unwrap();
        // A step the app is not told of does not block the outbox.
        b.services
            .step_case(
                &handler(HANDLING, "handler-2"),
                &case.id,
                because(Action::Approve, "准予"),
            )
            .await
            .unwrap();
        assert_eq!(b.services.pending_case_events().await.unwrap(), 3, "{}", b.name);

        // Another case's events go independently.
        let other = instant(&b).await;
        b.services
            .record_case_event(&other.id, "paid", "pay-42", &CaseActor::system("payments"))
            .await
            .unwrap();
        assert_eq!(b.services.pending_case_events().await.unwrap(), 4);

        let claimed = b.services.claim_case_events(10, 60_000).await.unwrap();
        assert_eq!(claimed.len(), 2, "{}: one event per case: {claimed:?}", b.name);
        let first = of_case(&claimed, &case.id)[0].clone();
        assert_eq!(
            first,
            PendingEvent {
                case: case.id.clone(),
                seq: 2,
                kind: "accept".into(),
                detail: String::new(),
                attempts: 1,
                app: APP.into(),
                app_version: "1.2.0".into(),
                item: "个体工商户设立登记".into(),
                region: REGION.into(),
                subject: CITIZEN_A.into(),
                channel: "web".into(),
                on_behalf_of: None,
            },
            "{}",
            b.name
        );
        let paid = of_case(&claimed, &other.id)[0].clone();
        assert_eq!(
            (paid.seq, paid.kind.as_str(), paid.payload().as_str()),
            (2, "paid", "pay-42")
        );

        // Claimed but not marked: nothing more of either case until the lease
        // runs out or the event is marked.
        assert!(
            b.services.claim_case_events(10, 60_000).await.unwrap().is_empty(),
            "{}",
            b.name
        );

        b.services.mark_event_delivered(&case.id, first.seq).await.unwrap();
        let timeline = b.services.case_timeline(&case.id).await.unwrap();
        let delivered_at = timeline[1].delivered_at;
        assert!(delivered_at.is_some(), "{}", b.name);
        // Marking twice changes nothing.
        tokio::time::sleep(Duration::from_millis(5)).await;
        b.services.mark_event_delivered(&case.id, first.seq).await.unwrap();
        assert_eq!(
            b.services.case_timeline(&case.id).await.unwrap()[1].delivered_at,
            delivered_at
        );
        assert_eq!(
            event_row(&b.services, &case.id, 2).await.2,
            None,
            "{}: the claim is released",
            b.name
        );
        assert_eq!(b.services.pending_case_events().await.unwrap(), 3);

        let claimed = b.services.claim_case_events(10, 60_000).await.unwrap();
        assert_eq!(claimed.len(), 1, "{}: {claimed:?}", b.name);
        let handed = &claimed[0];
        assert_eq!(
            (handed.case.as_str(), handed.seq, handed.kind.as_str()),
            (case.id.as_str(), 3, "hand-off")
        );
        assert_eq!(handed.detail, format!("{HANDLING}: 属地管辖"));
        assert_eq!(
            handed.payload(),
            HANDLING,
            "{}: the app's hand-off carries only the org",
            b.name
        );
        b.services.mark_event_delivered(&case.id, 3).await.unwrap();

        let claimed = b.services.claim_case_events(10, 60_000).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!((claimed[0].seq, claimed[0].kind.as_str()), (4, "approve"));
        assert_eq!(claimed[0].payload(), "准予");
        b.services.mark_event_delivered(&case.id, 4).await.unwrap();
        b.services.mark_event_delivered(&other.id, 2).await.unwrap();
        assert_eq!(b.services.pending_case_events().await.unwrap(), 0, "{}", b.name);
        assert!(b.services.claim_case_events(10, 60_000).await.unwrap().is_empty());
        let delivered: Vec<bool> = b
            .services
            .case_timeline(&case.id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.delivered_at.is_some())
            .collect();
        assert_eq!(delivered, [false, true, true, true], "{}", b.name);

        // The limit bounds a claim.
        for _ in 0..3 {
            let c = commitment(&b).await;
            b.services
                .step_case(&accepting_clerk, &c.id, step(Action::Accept))
                .await
                .unwrap();
        }
        assert_eq!(
            b.services.claim_case_events(2, 60_000).await.unwrap().len(),
            2,
            "{}",
            b.name
        );
        assert_eq!(b.services.claim_case_events(2, 60_000).await.unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claim_is_a_lease_that_other_nodes_respect() {
    for b in backends("outbox_lease").await {
        let node_two = b.second_node().await;
        let case = accepted(&b).await;

        // A long lease: the checks below run within it however busy the
        // machine; its running out is simulated, not waited for.
        let lease = 60_000;
        let claimed = b.services.claim_case_events(10, lease).await.unwrap();
        assert_eq!(claimed.len(), 1, "{}", b.name);
        assert_eq!((claimed[0].seq, claimed[0].attempts), (2, 1));
        assert!(
            node_two.claim_case_events(10, lease).await.unwrap().is_empty(),
            "{}: leased",
            b.name
        );
        assert!(b.services.claim_case_events(10, lease).await.unwrap().is_empty());
        assert_eq!(
            b.services.pending_case_events().await.unwrap(),
            1,
            "{}: claimed is still pending",
            b.name
        );

        // The first node dies; after the lease another takes the event over.
        expire_claims(&b.services, &case.id).await;
        let again = node_two.claim_case_events(10, 60_000).await.unwrap();
        assert_eq!(again.len(), 1, "{}", b.name);
        assert_eq!((again[0].case.as_str(), again[0].seq), (case.id.as_str(), 2));
        assert_eq!(again[0].attempts, 2, "{}: a retaken claim counts as an attempt", b.name);
        assert_eq!(event_row(&b.services, &case.id, 2).await.1, 2);
        assert!(b.services.claim_case_events(10, 60_000).await.unwrap().is_empty());
        node_two.mark_event_delivered(&case.id, 2).await.unwrap();
        // The late first node marks it too: still delivered once.
        b.services.mark_event_delivered(&case.id, 2).await.unwrap();
        assert_eq!(b.services.pending_case_events().await.unwrap(), 0);

        // Two nodes claiming at the same moment never both get an event.
        let mut cases = BTreeSet::new();
        for _ in 0..4 {
            let c = accepted(&b).await;
            cases.insert(c.id);
        }
        let one = {
            let s = b.services.clone();
            tokio::spawn(async move { s.claim_case_events(10, 60_000).await })
        };
        let two = {
            let s = node_two.clone();
            tokio::spawn(async move { s.claim_case_events(10, 60_000).await })
        };
        let (one, two) = (one.await.unwrap().unwrap(), two.await.unwrap().unwrap());
        let mut seen: Vec<(String, i64)> = one.iter().chain(two.iter()).map(|e| (e.case.clone(), e.seq)).collect();
        seen.sort();
        let expected: Vec<(String, i64)> = cases.iter().map(|c| (c.clone(), 2)).collect();
        assert_eq!(seen, expected, "{}: each event claimed exactly once", b.name);
        assert!(one.iter().chain(two.iter()).all(|e| e.attempts == 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_deliveries_back_off_and_are_parked_after_max_attempts() {
    for b in backends("outbox_failures").await {
        let case = accepted(&b).await;
        let healthy = accepted(&b).await;
        assert_eq!(b.services.pending_case_events().await.unwrap(), 2);

        let claimed = b.services.claim_case_events(10, 60_000).await.unwrap();
        assert_eq!(claimed.len(), 2, "{}", b.name);
        let event = of_case(&claimed, &case.id)[0].clone();
        let before = now_ms();
        b.services.mark_event_failed(&event, "on-event trapped").await.unwrap();
        let after = now_ms();
        let (deliver, attempts, claimed_until, last_error) = event_row(&b.services, &case.id, 2).await;
        assert_eq!((deliver, attempts), (1, 1), "{}", b.name);
        let until = claimed_until.unwrap();
        assert!(
            (before + 2_000..=after + 2_000).contains(&until),
            "{}: the first retry waits 2 s, not {} ms",
            b.name,
            until - before
        );
        assert_eq!(last_error.as_deref(), Some("on-event trapped"));
        // Backing off: not claimable now.
        let now = b.services.claim_case_events(10, 60_000).await.unwrap();
        assert!(of_case(&now, &case.id).is_empty(), "{}", b.name);
        b.services.mark_event_delivered(&healthy.id, 2).await.unwrap();

        // A later event of the same case waits behind the failing one.
        b.services
            .step_case(&clerk(ACCEPTING, "clerk-1"), &case.id, hand_off(HANDLING, "移交"))
            .await
            .unwrap();

        // Each retry doubles the wait, up to five minutes.
        let mut waits = Vec::new();
        for attempt in 2..=MAX_ATTEMPTS {
            expire_claims(&b.services, &case.id).await;
            let claimed = b.services.claim_case_events(10, 60_000).await.unwrap();
            assert_eq!(claimed.len(), 1, "{} attempt {attempt}: {claimed:?}", b.name);
            assert_eq!((claimed[0].seq, claimed[0].attempts), (2, attempt), "{}", b.name);
            // The wait is measured against the clock before and after the
            // mark, so a slow database cannot blur it.
            let before = now_ms();
            b.services
                .mark_event_failed(&claimed[0], &format!("on-event trapped ({attempt})"))
                .await
                .unwrap();
            let after = now_ms();
            let until = event_row(&b.services, &case.id, 2).await.2.unwrap();
            waits.push((until - after, until - before));
        }
        let expected: [i64; 7] = [4, 8, 16, 32, 64, 128, 256];
        for ((low, high), seconds) in waits.iter().zip(expected) {
            assert!(
                (*low..=*high).contains(&(seconds * 1000)),
                "{}: a backoff of {seconds} s after attempts 2..={MAX_ATTEMPTS}: {waits:?}",
                b.name
            );
        }
        let (deliver, attempts, _, last_error) = event_row(&b.services, &case.id, 2).await;
        assert_eq!((deliver, attempts), (2, MAX_ATTEMPTS), "{}: parked", b.name);
        assert_eq!(last_error, Some(format!("on-event trapped ({MAX_ATTEMPTS})")));
        // Parked: no longer pending, never claimed again; the hand-off after it
        // stays behind it, so the case's events keep their order.
        assert_eq!(b.services.pending_case_events().await.unwrap(), 1, "{}", b.name);
        expire_claims(&b.services, &case.id).await;
        assert!(
            b.services.claim_case_events(10, 60_000).await.unwrap().is_empty(),
            "{}",
            b.name
        );
        let timeline = b.services.case_timeline(&case.id).await.unwrap();
        assert!(timeline[1].for_app && timeline[1].delivered_at.is_none());
        // Other cases are not held up.
        b.services
            .step_case(&clerk(ACCEPTING, "clerk-1"), &healthy.id, hand_off(HANDLING, "移交"))
            .await
            .unwrap();
        let claimed = b.services.claim_case_events(10, 60_000).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!((claimed[0].case.as_str(), claimed[0].seq), (healthy.id.as_str(), 3));

        // A long error is kept to its first 2000 characters.
        b.services
            .mark_event_failed(&claimed[0], &"错".repeat(3000))
            .await
            .unwrap();
        let stored = event_row(&b.services, &healthy.id, 3).await.3.unwrap();
        assert_eq!(stored.chars().count(), 2000, "{}", b.name);

        // An operator lists the parked event and puts it back: it is claimed
        // again with its attempts reset, and the audit chain records who did.
        let parked = b.services.parked_case_events(100).await.unwrap();
        assert_eq!(parked.len(), 1, "{}: {parked:?}", b.name);
        assert_eq!((parked[0].case.as_str(), parked[0].seq), (case.id.as_str(), 2));
        assert_eq!(parked[0].attempts, MAX_ATTEMPTS);
        assert_eq!(parked[0].last_error, Some(format!("on-event trapped ({MAX_ATTEMPTS})")));
        b.services.requeue_case_event("ops-1", &case.id, 2).await.unwrap();
        assert!(b.services.parked_case_events(100).await.unwrap().is_empty());
        let again = b.services.requeue_case_event("ops-1", &case.id, 2).await.unwrap_err();
        assert!(again.to_string().contains("no parked event"), "{again}");
        let claimed = b.services.claim_case_events(10, 60_000).await.unwrap();
        let requeued = of_case(&claimed, &case.id);
        assert_eq!(requeued.len(), 1, "{}: {claimed:?}", b.name);
        assert_eq!((requeued[0].seq, requeued[0].attempts), (2, 1), "{}", b.name);
        let audit: String = sqlx::query_scalar(
            "SELECT actor FROM audit_log WHERE action = 'case-event.requeue' ORDER BY seq DESC LIMIT 1",
        )
        .fetch_one(b.services.db().pool())
        .await
        .unwrap();
        assert_eq!(audit, "ops-1");
    }
}

/// One app's backlog never crowds another app's events out of a claim: apps
/// take turns, and a claim takes no more of an app than its room.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apps_take_turns_in_the_outbox() {
    for b in backends("outbox_turns").await {
        let mut flooded = Vec::new();
        for _ in 0..20 {
            flooded.push(accepted(&b).await);
        }
        let other = accepted_of_app(&b, "cn.gov.test.other").await;
        let claimed = b
            .services
            .claim_case_events_within(3, 60_000, |app| if app == APP { 2 } else { usize::MAX })
            .await
            .unwrap();
        let apps: Vec<&str> = claimed.iter().map(|e| e.app.as_str()).collect();
        assert_eq!(apps.len(), 3, "{}: {claimed:?}", b.name);
        assert_eq!(
            apps.iter().filter(|a| **a == APP).count(),
            2,
            "{}: the flooding app gets its room, no more: {apps:?}",
            b.name
        );
        assert!(
            claimed.iter().any(|e| e.case == other.id),
            "{}: the other app's event is claimed despite the backlog before it: {apps:?}",
            b.name
        );
        assert!(
            claimed
                .iter()
                .filter(|e| e.app == APP)
                .all(|e| flooded.iter().any(|c| c.id == e.case)),
            "{claimed:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Bounds

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_reasons_and_forms_and_bad_modes_are_invalid() {
    for b in backends("bounds").await {
        expect_invalid(
            b.services
                .open_case(NewCase {
                    form: "x".repeat(MAX_FORM_BYTES + 1),
                    ..new_case(CITIZEN_A, "instant", None)
                })
                .await,
            &format!("at most {MAX_FORM_BYTES}"),
        );
        for mode in ["", "urgent", "Instant", "commitment "] {
            expect_invalid(
                b.services.open_case(new_case(CITIZEN_A, mode, None)).await,
                &format!("item mode `{mode}`"),
            );
        }
        assert!(
            b.services.cases_of_subject(CITIZEN_A).await.unwrap().is_empty(),
            "{}",
            b.name
        );
        // A form of exactly the limit is taken.
        let big = open(
            &b,
            NewCase {
                form: "x".repeat(MAX_FORM_BYTES),
                ..new_case(CITIZEN_A, "commitment", Some(1))
            },
        )
        .await;
        assert_eq!(big.form.len(), MAX_FORM_BYTES);

        let accepting_clerk = clerk(ACCEPTING, "clerk-1");
        // 683 three-byte characters: 2049 bytes.
        let long = "驳".repeat(MAX_REASON_BYTES / 3 + 1);
        assert!(long.len() > MAX_REASON_BYTES);
        expect_invalid(
            b.services
                .step_case(&accepting_clerk, &big.id, because(Action::Reject, &long))
                .await,
            &format!("at most {MAX_REASON_BYTES}"),
        );
        expect_invalid(
            b.services
                .step_case(
                    &accepting_clerk,
                    &big.id,
                    because(Action::Accept, &"a".repeat(MAX_REASON_BYTES + 1)),
                )
                .await,
            "reason",
        );
        assert_eq!(b.services.case(&big.id).await.unwrap().stage, Stage::Submitted);
        let taken = b
            .services
            .step_case(
                &accepting_clerk,
                &big.id,
                because(Action::Accept, &"a".repeat(MAX_REASON_BYTES)),
            )
            .await
            .unwrap();
        assert_eq!(taken.stage, Stage::Accepted, "{}", b.name);
        assert_eq!(
            b.services.case_timeline(&big.id).await.unwrap()[1].detail.len(),
            MAX_REASON_BYTES
        );
    }
}
