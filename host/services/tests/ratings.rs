//! Evaluation (好差评) on real databases: the applicant rates a finished case
//! once, with the level and comment checked; a dissatisfied rating opens a
//! remediation item for the accepting org, due 15 working days later on the
//! case calendar; staff of that org, and only they, resolve it with a note.
//! Every scenario runs on each database the test database kit provides
//! (`tongban-testdb`: SQLite, and PostgreSQL when configured), each test in a
//! fresh database.

mod common;

use std::time::Duration;

use chrono::{Datelike, Duration as Days, FixedOffset, NaiveDate, TimeZone, Weekday};
use tongban_registry::release::Role;
use tongban_services::cases::calendar::WorkCalendar;
use tongban_services::cases::{Action, Case, CaseActor, NewCase, Stage, Step};
use tongban_services::ratings::{MAX_COMMENT_CHARS, RatingLevel, Remediation};
use tongban_services::{ServiceError, Services, ServicesConfig, now_ms};
use tongban_testdb::{TestDb, seed};

const APP: &str = "cn.gov.hz.amr.sole-proprietor";
/// The accepting org (受理单位), region 330100.
const ACCEPTING: &str = "113301000024891238";
/// The handling org (办理单位) a case is handed off to, region 330106.
const HANDLING: &str = "113301060024896013";
/// An org with no part in the cases.
const OTHER: &str = "11330106002489555Y";
const REGION: &str = "330100";
const CITIZEN_A: &str = "citizen-a";
const CITIZEN_B: &str = "citizen-b";

// ---------------------------------------------------------------------------
// Backends

struct Backend {
    name: &'static str,
    services: Services,
    _db: TestDb,
}

/// The backends to run on, each seeded with two citizens and three orgs.
async fn backends(label: &str) -> Vec<Backend> {
    let mut out = Vec::new();
    for db in TestDb::each(&format!("ratings_{label}")) {
        let services = Services::with_config(
            db.open().await,
            ServicesConfig {
                calendar: calendar(),
                smtp: None,
            },
        );
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
            _db: db,
        });
    }
    out
}

// ---------------------------------------------------------------------------
// The calendar: the six days after today are holidays, so a remediation due
// date that ignored the configured calendar would come out six days early.

fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap()
}

fn holidays(today: NaiveDate) -> Vec<NaiveDate> {
    (1..=6).map(|n| today + Days::days(n)).collect()
}

fn calendar() -> WorkCalendar {
    let quoted: Vec<String> = holidays(WorkCalendar::date_of(now_ms()))
        .iter()
        .map(|d| format!("\"{d}\""))
        .collect();
    WorkCalendar::from_toml(&format!("holidays = [{}]\n", quoted.join(", "))).unwrap()
}

/// 24:00 (China time) of the 15th working day after `start`, counted by hand:
/// weekdays that are not among the holidays.
fn fifteen_working_days_after(start: i64) -> i64 {
    let today = WorkCalendar::date_of(start);
    let off = holidays(today);
    let mut day = today;
    let mut left = 15;
    while left > 0 {
        day += Days::days(1);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !off.contains(&day) {
            left -= 1;
        }
    }
    china()
        .from_local_datetime(&(day + Days::days(1)).and_hms_opt(0, 0, 0).unwrap())
        .single()
        .unwrap()
        .timestamp_millis()
}

// ---------------------------------------------------------------------------
// Actors and cases

fn staff(role: Role, org: &str, user: &str) -> CaseActor {
    CaseActor {
        user: user.into(),
        role,
        org: Some(org.into()),
        subject: None,
    }
}

fn clerk(org: &str) -> CaseActor {
    staff(Role::WindowClerk, org, &format!("clerk-{org}"))
}

fn handler(org: &str) -> CaseActor {
    staff(Role::Handler, org, &format!("handler-{org}"))
}

fn citizen(subject: &str) -> CaseActor {
    CaseActor {
        user: format!("user-{subject}"),
        role: Role::Citizen,
        org: None,
        subject: Some(subject.into()),
    }
}

async fn submitted(b: &Backend) -> Case {
    let (case, fresh) = b
        .services
        .open_case(NewCase {
            app: APP.into(),
            app_version: "1.0.0".into(),
            item: "330100-XK-00012-001".into(),
            item_mode: "commitment".into(),
            promised_days: Some(5),
            subject: CITIZEN_A.into(),
            region: REGION.into(),
            channel: "web".into(),
            on_behalf_of: None,
            accepting_org: ACCEPTING.into(),
            form: r#"{"trade-name":"西湖小厨"}"#.into(),
            follow_on_of: None,
            submission_key: None,
        })
        .await
        .unwrap();
    assert!(fresh, "{}", b.name);
    case
}

async fn take(b: &Backend, actor: &CaseActor, case: &str, step: Step) -> Case {
    b.services
        .step_case(actor, case, step)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", b.name))
}

/// A case accepted by the accepting org, handed off to the handling org (受办
/// 分离), approved there and delivered.
async fn delivered(b: &Backend) -> Case {
    let case = submitted(b).await;
    take(b, &clerk(ACCEPTING), &case.id, Step::new(Action::Accept, "")).await;
    let hand_off = Step {
        to_org: Some(HANDLING.into()),
        ..Step::new(Action::HandOff, "属地办理")
    };
    take(b, &clerk(ACCEPTING), &case.id, hand_off).await;
    take(b, &handler(HANDLING), &case.id, Step::new(Action::Approve, "准予登记")).await;
    let case = take(b, &handler(HANDLING), &case.id, Step::new(Action::Deliver, "")).await;
    assert_eq!(case.stage, Stage::Delivered, "{}", b.name);
    case
}

/// A delivered case rated `level` by its applicant, and the item it opened.
async fn remediation_for(b: &Backend, level: &str, comment: &str) -> Remediation {
    let case = delivered(b).await;
    b.services.rate_case(CITIZEN_A, &case.id, level, comment).await.unwrap();
    b.services
        .remediation_of_case(&case.id)
        .await
        .unwrap()
        .expect("a remediation item")
}

fn expect(result: Result<impl std::fmt::Debug, ServiceError>, code: &str, naming: &[&str], backend: &str) {
    match result {
        Err(e) if e.code() == code => {
            let message = e.to_string();
            for part in naming {
                assert!(message.contains(part), "{backend}: `{message}` names `{part}`");
            }
        }
        other => panic!("{backend}: expected {code} naming {naming:?}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Rating

#[tokio::test]
async fn the_applicant_rates_a_finished_case_once() {
    for b in backends("rate_once").await {
        let case = delivered(&b).await;
        assert_eq!(b.services.case_rating(&case.id).await.unwrap(), None, "{}", b.name);

        // Someone else cannot rate it, and is not told the case exists.
        expect(
            b.services.rate_case(CITIZEN_B, &case.id, "very-dissatisfied", "").await,
            "not_found",
            &[&case.id],
            b.name,
        );

        let rating = b
            .services
            .rate_case(CITIZEN_A, &case.id, "satisfied", "  办得很快 ")
            .await
            .unwrap();
        assert_eq!(rating.level, RatingLevel::Satisfied, "{}", b.name);
        assert_eq!(rating.comment.as_deref(), Some("办得很快"), "{}", b.name);
        assert_eq!(
            b.services.case_rating(&case.id).await.unwrap(),
            Some(rating.clone()),
            "{}",
            b.name
        );
        // A good rating opens nothing.
        assert_eq!(
            b.services.remediation_of_case(&case.id).await.unwrap(),
            None,
            "{}",
            b.name
        );
        assert!(
            b.services
                .remediations_of_org(ACCEPTING, false)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            b.name
        );

        // Twice is a conflict, and the first rating stands.
        expect(
            b.services.rate_case(CITIZEN_A, &case.id, "very-dissatisfied", "").await,
            "conflict",
            &["already been rated"],
            b.name,
        );
        assert_eq!(
            b.services.case_rating(&case.id).await.unwrap(),
            Some(rating),
            "{}",
            b.name
        );

        // Closing does not reopen the rating, and a blank comment is none.
        take(&b, &clerk(ACCEPTING), &case.id, Step::new(Action::Close, "")).await;
        expect(
            b.services.rate_case(CITIZEN_A, &case.id, "satisfied", "").await,
            "conflict",
            &["already been rated"],
            b.name,
        );

        // A refusal at intake is an outcome the citizen can rate too.
        let rejected = submitted(&b).await;
        take(
            &b,
            &clerk(ACCEPTING),
            &rejected.id,
            Step::new(Action::Reject, "不属于本机关管辖"),
        )
        .await;
        let rated = b
            .services
            .rate_case(CITIZEN_A, &rejected.id, "basically-satisfied", "   ")
            .await
            .unwrap();
        assert_eq!(rated.comment, None, "{}", b.name);

        // Two ratings at once: exactly one wins.
        let raced = delivered(&b).await;
        let (one, two) = tokio::join!(
            b.services.rate_case(CITIZEN_A, &raced.id, "satisfied", ""),
            b.services.rate_case(CITIZEN_A, &raced.id, "very-dissatisfied", ""),
        );
        assert_eq!(
            [one.is_ok(), two.is_ok()].iter().filter(|ok| **ok).count(),
            1,
            "{}: {one:?} {two:?}",
            b.name
        );
        let loser = if one.is_ok() { two } else { one };
        expect(loser, "conflict", &["already been rated"], b.name);
        let opened = b.services.remediation_of_case(&raced.id).await.unwrap();
        let stored = b.services.case_rating(&raced.id).await.unwrap().unwrap();
        assert_eq!(
            opened.is_some(),
            stored.level.needs_remediation(),
            "{}: a remediation item exactly when the winning rating was bad",
            b.name
        );
    }
}

#[tokio::test]
async fn an_unfinished_case_cannot_be_rated() {
    for b in backends("unfinished").await {
        let case = submitted(&b).await;
        expect(
            b.services.rate_case(CITIZEN_A, &case.id, "satisfied", "").await,
            "conflict",
            &[&case.id, "submitted", "delivered, denied, rejected or closed"],
            b.name,
        );
        take(&b, &clerk(ACCEPTING), &case.id, Step::new(Action::Accept, "")).await;
        take(
            &b,
            &handler(ACCEPTING),
            &case.id,
            Step::new(Action::Approve, "准予登记"),
        )
        .await;
        expect(
            b.services.rate_case(CITIZEN_A, &case.id, "satisfied", "").await,
            "conflict",
            &["approved"],
            b.name,
        );
        // A withdrawn case ended before any outcome.
        let withdrawn = submitted(&b).await;
        take(&b, &citizen(CITIZEN_A), &withdrawn.id, Step::new(Action::Withdraw, "")).await;
        expect(
            b.services.rate_case(CITIZEN_A, &withdrawn.id, "dissatisfied", "").await,
            "conflict",
            &["withdrawn"],
            b.name,
        );
        assert_eq!(b.services.case_rating(&case.id).await.unwrap(), None, "{}", b.name);
        assert_eq!(b.services.case_rating(&withdrawn.id).await.unwrap(), None, "{}", b.name);
        expect(
            b.services
                .rate_case(CITIZEN_A, "330100-20260101-00000000", "satisfied", "")
                .await,
            "not_found",
            &["330100-20260101-00000000"],
            b.name,
        );
    }
}

#[tokio::test]
async fn a_bad_level_or_an_over_long_comment_is_invalid_naming_the_field() {
    for b in backends("invalid").await {
        let case = delivered(&b).await;
        expect(
            b.services.rate_case(CITIZEN_A, &case.id, "great", "").await,
            "invalid",
            &["level `great`", "very-satisfied"],
            b.name,
        );
        expect(
            b.services.rate_case(CITIZEN_A, &case.id, "", "").await,
            "invalid",
            &["level is required"],
            b.name,
        );
        let too_long = "慢".repeat(MAX_COMMENT_CHARS + 1);
        expect(
            b.services
                .rate_case(CITIZEN_A, &case.id, "dissatisfied", &too_long)
                .await,
            "invalid",
            &["comment", "501 characters", "at most 500"],
            b.name,
        );
        // Nothing was stored by the refusals: the case can still be rated,
        // with a comment of exactly the limit.
        assert_eq!(b.services.case_rating(&case.id).await.unwrap(), None, "{}", b.name);
        assert_eq!(
            b.services.remediation_of_case(&case.id).await.unwrap(),
            None,
            "{}",
            b.name
        );
        let longest = "慢".repeat(MAX_COMMENT_CHARS);
        let rating = b
            .services
            .rate_case(CITIZEN_A, &case.id, "very-satisfied", &longest)
            .await
            .unwrap();
        assert_eq!(rating.comment.as_deref(), Some(longest.as_str()), "{}", b.name);
    }
}

// ---------------------------------------------------------------------------
// Remediation

#[tokio::test]
async fn a_dissatisfied_rating_opens_a_remediation_item_due_in_15_working_days() {
    common::away_from_midnight(Duration::from_secs(30)).await;
    for b in backends("remediation_due").await {
        let case = delivered(&b).await;
        let rating = b
            .services
            .rate_case(CITIZEN_A, &case.id, "dissatisfied", "窗口等了两个小时")
            .await
            .unwrap();
        let item = b.services.remediation_of_case(&case.id).await.unwrap().unwrap();
        assert_eq!(item.case, case.id, "{}", b.name);
        assert_eq!(item.org, ACCEPTING, "{}: the accepting org answers for it", b.name);
        assert_eq!(item.level, RatingLevel::Dissatisfied, "{}", b.name);
        assert_eq!(item.comment.as_deref(), Some("窗口等了两个小时"), "{}", b.name);
        assert_eq!(item.opened_at, rating.rated_at, "{}", b.name);
        assert_eq!(
            item.due_at,
            fifteen_working_days_after(rating.rated_at),
            "{}: 15 working days on the case calendar, holidays skipped",
            b.name
        );
        assert!(item.due_at - rating.rated_at > 21 * 86_400_000, "{}", b.name);
        assert_eq!(item.resolved_at, None, "{}", b.name);
        assert!(!item.overdue(now_ms()), "{}", b.name);

        // It is on the accepting org's list, not on the handling org's.
        let listed = b.services.remediations_of_org(ACCEPTING, true).await.unwrap();
        assert_eq!(listed, std::slice::from_ref(&item), "{}", b.name);
        assert!(
            b.services
                .remediations_of_org(HANDLING, false)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            b.name
        );

        // Very dissatisfied opens one too; once past due, it is marked overdue.
        let worse = remediation_for(&b, "very-dissatisfied", "").await;
        assert_eq!(worse.comment, None, "{}", b.name);
        sqlx::query("UPDATE remediations SET due_at = $1 WHERE id = $2")
            .bind(now_ms() - 1)
            .bind(&worse.id)
            .execute(b.services.db().pool())
            .await
            .unwrap();
        let listed = b.services.remediations_of_org(ACCEPTING, true).await.unwrap();
        assert_eq!(listed.len(), 2, "{}", b.name);
        assert_eq!(listed[0].id, worse.id, "{}: nearest due date first", b.name);
        assert!(listed[0].overdue(now_ms()), "{}", b.name);
        assert!(!listed[1].overdue(now_ms()), "{}", b.name);
    }
}

#[tokio::test]
async fn staff_of_the_owning_org_resolve_an_item_with_a_note() {
    for b in backends("resolve").await {
        let item = remediation_for(&b, "dissatisfied", "材料被要求重复提交").await;

        // The handling org, another org and the citizen are refused.
        for outsider in [handler(HANDLING), clerk(OTHER), citizen(CITIZEN_A)] {
            expect(
                b.services.resolve_remediation(&outsider, &item.id, "已整改").await,
                "forbidden",
                &[&item.id, ACCEPTING],
                b.name,
            );
        }
        // A note is required, and capped.
        expect(
            b.services.resolve_remediation(&clerk(ACCEPTING), &item.id, "  ").await,
            "invalid",
            &["note is required"],
            b.name,
        );
        expect(
            b.services
                .resolve_remediation(&clerk(ACCEPTING), &item.id, &"改".repeat(2001))
                .await,
            "invalid",
            &["note is 2001 characters"],
            b.name,
        );
        assert_eq!(
            b.services.remediation(&item.id).await.unwrap().resolved_at,
            None,
            "{}: refusals change nothing",
            b.name
        );

        let resolved = b
            .services
            .resolve_remediation(&clerk(ACCEPTING), &item.id, " 已电话回访，改为一次告知 ")
            .await
            .unwrap();
        assert!(resolved.resolved_at.is_some(), "{}", b.name);
        assert_eq!(
            resolved.resolved_by.as_deref(),
            Some(format!("clerk-{ACCEPTING}").as_str()),
            "{}",
            b.name
        );
        assert_eq!(
            resolved.resolution.as_deref(),
            Some("已电话回访，改为一次告知"),
            "{}",
            b.name
        );
        assert!(
            !resolved.overdue(i64::MAX),
            "{}: a resolved item is never overdue",
            b.name
        );
        assert!(
            b.services
                .remediations_of_org(ACCEPTING, true)
                .await
                .unwrap()
                .is_empty(),
            "{}",
            b.name
        );
        assert_eq!(
            b.services.remediations_of_org(ACCEPTING, false).await.unwrap(),
            [resolved],
            "{}",
            b.name
        );
        expect(
            b.services
                .resolve_remediation(&clerk(ACCEPTING), &item.id, "再次整改")
                .await,
            "conflict",
            &["already resolved"],
            b.name,
        );

        // A handler of the owning org may resolve too; an unknown item is not found.
        let second = remediation_for(&b, "very-dissatisfied", "").await;
        b.services
            .resolve_remediation(&handler(ACCEPTING), &second.id, "已整改")
            .await
            .unwrap();
        expect(
            b.services
                .resolve_remediation(&clerk(ACCEPTING), "remediation-0", "已整改")
                .await,
            "not_found",
            &["remediation-0"],
            b.name,
        );
    }
}
