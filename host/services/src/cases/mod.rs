//! Cases (办件): application, acceptance (受理), handling (办理) and delivery.
//!
//! - [`stage`]: the state machine with the party each step needs.
//! - [`calendar`]: working days for due dates.
//! - This module: the store. Each transition is one transaction that
//!   compare-and-sets the case's revision and appends its timeline event; an
//!   event the app must see is written with `deliver = 1` in that same
//!   transaction (the transactional outbox), so no committed transition can
//!   lose its event, and a rolled-back one cannot leak it.
//! - [`outbox`]: claiming, delivering and retrying those events.

pub mod calendar;
pub mod outbox;
pub mod stage;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use tongban_registry::release::Role;
use tongban_store::now_ms;

use crate::Services;
use crate::error::{InputProblem, InputProblemKind, ServiceError, ServiceResult};
pub use stage::{Action, Party, Stage};

/// The longest reason or decision text, in bytes.
pub const MAX_REASON_BYTES: usize = 2048;
/// The largest form, in bytes of JSON.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// Who acts on a case, as established by authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseActor {
    pub user: String,
    pub role: Role,
    /// The staff member's org.
    pub org: Option<String>,
    /// The citizen's platform subject.
    pub subject: Option<String>,
}

impl CaseActor {
    /// The host acting on the app's rule, or on a payment's settlement.
    pub fn system(what: &str) -> CaseActor {
        CaseActor {
            user: what.into(),
            role: Role::System,
            org: None,
            subject: None,
        }
    }
}

/// A case as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    pub id: String,
    pub app: String,
    pub app_version: String,
    pub item: String,
    /// `instant` (即办件) or `commitment` (承诺件).
    pub item_mode: String,
    pub promised_days: Option<i64>,
    /// The applicant's platform subject.
    pub subject: String,
    pub region: String,
    /// `web`, `mobile`, `window`, `kiosk` or `hotline`.
    pub channel: String,
    /// The window clerk who acted for the applicant (代办).
    pub on_behalf_of: Option<String>,
    pub stage: Stage,
    pub accepting_org: String,
    pub handling_org: String,
    /// The form as JSON text.
    pub form: String,
    /// The case this one continues (接续服务).
    pub follow_on_of: Option<String>,
    pub submitted_at: i64,
    pub accepted_at: Option<i64>,
    pub due_at: Option<i64>,
    pub decided_at: Option<i64>,
    pub updated_at: i64,
    pub revision: i64,
}

impl Case {
    /// Whether a commitment item is past its due date and still undecided.
    pub fn overdue(&self, now: i64) -> bool {
        matches!(self.stage, Stage::Accepted | Stage::Handling) && self.due_at.is_some_and(|d| d < now)
    }
}

/// What a new case needs.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub app: String,
    pub app_version: String,
    pub item: String,
    pub item_mode: String,
    pub promised_days: Option<u32>,
    pub subject: String,
    pub region: String,
    pub channel: String,
    pub on_behalf_of: Option<String>,
    pub accepting_org: String,
    pub form: String,
    pub follow_on_of: Option<String>,
    /// Set by the form page: a second submission with the same key returns the
    /// first case instead of opening another.
    pub submission_key: Option<String>,
}

/// One entry of a case's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    pub seq: i64,
    pub at: i64,
    /// `submitted`, an action (`accept`, `hand-off`, ...), or `paid`.
    pub kind: String,
    pub detail: String,
    pub actor: String,
    pub actor_org: Option<String>,
    pub from_stage: Option<String>,
    pub to_stage: Option<String>,
    /// Whether the app's `on-event` hook gets this event, and whether it has.
    pub for_app: bool,
    pub delivered_at: Option<i64>,
}

const COLUMNS: &str = "id, app_id, app_version, item, item_mode, promised_days, subject_id, region, channel, \
                       on_behalf_of, stage, accepting_org, handling_org, form, follow_on_of, submitted_at, \
                       accepted_at, due_at, decided_at, updated_at, revision";

fn from_row(r: &AnyRow) -> Result<Case, sqlx::Error> {
    let stage: String = r.try_get(10)?;
    Ok(Case {
        id: r.try_get(0)?,
        app: r.try_get(1)?,
        app_version: r.try_get(2)?,
        item: r.try_get(3)?,
        item_mode: r.try_get(4)?,
        promised_days: r.try_get::<Option<i64>, _>(5)?,
        subject: r.try_get(6)?,
        region: r.try_get(7)?,
        channel: r.try_get(8)?,
        on_behalf_of: r.try_get(9)?,
        stage: Stage::parse(&stage).ok_or_else(|| sqlx::Error::Decode(format!("unknown stage {stage}").into()))?,
        accepting_org: r.try_get(11)?,
        handling_org: r.try_get(12)?,
        form: r.try_get(13)?,
        follow_on_of: r.try_get(14)?,
        submitted_at: r.try_get(15)?,
        accepted_at: r.try_get(16)?,
        due_at: r.try_get(17)?,
        decided_at: r.try_get(18)?,
        updated_at: r.try_get(19)?,
        revision: r.try_get(20)?,
    })
}

/// A case number (办件编号): the region, the date and eight random digits.
fn case_number(region: &str, now: i64) -> String {
    let date = calendar::WorkCalendar::date_of(now).format("%Y%m%d");
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    format!("{region}-{date}-{:08}", u32::from_le_bytes(bytes) % 100_000_000)
}

/// A repeated submission key returns the first case only to the same side:
/// the citizen online, or the clerk who applied for them at the window.
fn same_submitter(existing: Case, new: &NewCase) -> ServiceResult<Case> {
    if existing.on_behalf_of == new.on_behalf_of {
        Ok(existing)
    } else {
        Err(ServiceError::conflict(
            "this submission key was used for another application; start a new form",
        ))
    }
}

/// Whether an event of this kind goes to the app's `on-event` hook; the WIT
/// `event` variant has exactly these.
pub fn delivered_to_app(kind: &str) -> bool {
    matches!(
        kind,
        "accept"
            | "request-correction"
            | "hand-off"
            | "paid"
            | "approve"
            | "deny"
            | "rule-approve"
            | "rule-deny"
            | "withdraw"
    )
}

/// Append a timeline event inside `tx`; the caller has already changed (and
/// so locked) the case row in the same transaction, or this locks it.
pub async fn append_event(
    tx: &mut Transaction<'static, Any>,
    case: &str,
    kind: &str,
    detail: &str,
    actor: &CaseActor,
    stages: Option<(Stage, Stage)>,
) -> ServiceResult<i64> {
    let now = now_ms();
    let touched = sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(case)
        .execute(&mut **tx)
        .await?;
    if touched.rows_affected() != 1 {
        return Err(ServiceError::not_found(format!("case {case}")));
    }
    let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 FROM case_events WHERE case_id = $1")
        .bind(case)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    sqlx::query(
        "INSERT INTO case_events (case_id, seq, at, kind, detail, actor, actor_org, from_stage, to_stage, deliver,
                                  delivered_at, attempts, claimed_until, last_error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, 0, NULL, NULL)",
    )
    .bind(case)
    .bind(seq)
    .bind(now)
    .bind(kind)
    .bind(detail)
    .bind(&actor.user)
    .bind(&actor.org)
    .bind(stages.map(|(from, _)| from.as_str()))
    .bind(stages.map(|(_, to)| to.as_str()))
    .bind(if delivered_to_app(kind) { 1i32 } else { 0i32 })
    .execute(&mut **tx)
    .await?;
    Ok(seq)
}

/// What is wrong with a step's reason, if anything: over its bound, or
/// missing where the step needs one.
pub fn reason_problem(action: Action, reason: &str) -> Option<InputProblem> {
    if reason.len() > MAX_REASON_BYTES {
        return Some(InputProblem::new(
            "reason",
            InputProblemKind::TooLong,
            format!("the reason is {} bytes; at most {MAX_REASON_BYTES}", reason.len()),
        ));
    }
    if action.needs_reason() && reason.trim().is_empty() {
        return Some(InputProblem::new(
            "reason",
            InputProblemKind::Missing,
            format!("`{}` needs a reason", action.as_str()),
        ));
    }
    None
}

fn check_reason(action: Action, reason: &str) -> ServiceResult<()> {
    reason_problem(action, reason).map_or(Ok(()), |p| Err(p.into_error()))
}

/// Whether `actor` is `party` for `case`.
fn acts_as(actor: &CaseActor, party: Party, case: &Case) -> bool {
    let org_is = |org: &str| actor.org.as_deref() == Some(org);
    match party {
        Party::Applicant => match actor.role {
            Role::Citizen => actor.subject.as_deref() == Some(case.subject.as_str()),
            Role::WindowClerk => case.on_behalf_of.as_deref() == Some(actor.user.as_str()),
            _ => false,
        },
        Party::AcceptingClerk => actor.role == Role::WindowClerk && org_is(&case.accepting_org),
        Party::Handler => actor.role == Role::Handler && org_is(&case.handling_org),
        Party::Staff => {
            (actor.role == Role::WindowClerk && org_is(&case.accepting_org))
                || (actor.role == Role::Handler && org_is(&case.handling_org))
        }
        Party::Rule => actor.role == Role::System,
    }
}

/// Whether `actor` may take `action` on `case` as it stands: the step must
/// exist from the case's stage (else a conflict) and the actor must be the
/// party it is for (else forbidden). Answers the stage the step leads to.
/// `step_case` asks this again inside its compare-and-set, so a caller may
/// ask first to refuse early, before doing work the step would need.
pub fn may_take(actor: &CaseActor, case: &Case, action: Action) -> ServiceResult<Stage> {
    let Some((to, party)) = stage::step(case.stage, action) else {
        return Err(ServiceError::conflict(format!(
            "case {} is {}; `{}` is not possible from there",
            case.id,
            case.stage.as_str(),
            action.as_str()
        )));
    };
    if !acts_as(actor, party, case) {
        return Err(ServiceError::forbidden(format!(
            "`{}` on case {} is for {}",
            action.as_str(),
            case.id,
            party_text(party)
        )));
    }
    Ok(to)
}

fn party_text(party: Party) -> &'static str {
    match party {
        Party::Applicant => "the applicant (or the clerk who applied for them)",
        Party::AcceptingClerk => "a window clerk of the accepting org",
        Party::Handler => "a handler of the handling org",
        Party::Staff => "a window clerk of the accepting org or a handler of the handling org",
        Party::Rule => "the app's rule",
    }
}

/// A step to take.
#[derive(Debug, Clone)]
pub struct Step {
    pub action: Action,
    /// The reason, decision text or correction request.
    pub reason: String,
    /// For a hand-off: the org that handles the case from now on.
    pub to_org: Option<String>,
    /// For a resubmission: the corrected form.
    pub form: Option<String>,
}

impl Step {
    pub fn new(action: Action, reason: impl Into<String>) -> Step {
        Step {
            action,
            reason: reason.into(),
            to_org: None,
            form: None,
        }
    }
}

impl Services {
    /// Open a case for a submission that passed validation. A repeated
    /// submission key returns the first case and `false`.
    pub async fn open_case(&self, new: NewCase) -> ServiceResult<(Case, bool)> {
        if new.form.len() > MAX_FORM_BYTES {
            return Err(ServiceError::invalid(format!(
                "the form is {} bytes; at most {MAX_FORM_BYTES}",
                new.form.len()
            )));
        }
        if !matches!(new.item_mode.as_str(), "instant" | "commitment") {
            return Err(ServiceError::invalid(format!("item mode `{}`", new.item_mode)));
        }
        if let Some(key) = &new.submission_key {
            if key.is_empty() || key.len() > 128 {
                return Err(ServiceError::invalid("a submission key is 1 to 128 characters"));
            }
            if let Some(existing) = self.case_by_submission(&new.subject, key).await? {
                return same_submitter(existing, &new).map(|c| (c, false));
            }
        }
        // A case number is random within its region and day; on the rare
        // collision, draw again.
        for _ in 0..4 {
            match self.insert_case(&new).await {
                Ok(Some(case)) => return Ok((case, true)),
                Ok(None) => continue,
                Err(e) => {
                    // A concurrent double submit lost the race on the unique index.
                    if let Some(key) = &new.submission_key
                        && let Some(existing) = self.case_by_submission(&new.subject, key).await?
                    {
                        return same_submitter(existing, &new).map(|c| (c, false));
                    }
                    return Err(e);
                }
            }
        }
        Err(ServiceError::Unavailable("no free case number; try again".into()))
    }

    /// Insert a new case with a fresh number; `None` when the number was taken.
    async fn insert_case(&self, new: &NewCase) -> ServiceResult<Option<Case>> {
        let now = now_ms();
        let id = case_number(&new.region, now);
        if sqlx::query("SELECT 1 FROM cases WHERE id = $1")
            .bind(&id)
            .fetch_optional(self.db().pool())
            .await?
            .is_some()
        {
            return Ok(None);
        }
        let mut tx = self.db().pool().begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO cases ({COLUMNS}, submission_key, submit_answered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, NULL, NULL, NULL, $17, 1, $18,
                     $19)"
        ))
        .bind(&id)
        .bind(&new.app)
        .bind(&new.app_version)
        .bind(&new.item)
        .bind(&new.item_mode)
        .bind(new.promised_days.map(i64::from))
        .bind(&new.subject)
        .bind(&new.region)
        .bind(&new.channel)
        .bind(&new.on_behalf_of)
        .bind(Stage::Submitted.as_str())
        .bind(&new.accepting_org)
        .bind(&new.accepting_org)
        .bind(&new.form)
        .bind(&new.follow_on_of)
        .bind(now)
        .bind(now)
        .bind(&new.submission_key)
        // A follow-on case is opened by the app itself, in a hook; no
        // `submit` runs for it, so it is answered from the start.
        .bind(new.follow_on_of.is_some().then_some(now))
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return Err(e.into());
        }
        let actor = CaseActor {
            user: new.on_behalf_of.clone().unwrap_or_else(|| "applicant".into()),
            role: if new.on_behalf_of.is_some() {
                Role::WindowClerk
            } else {
                Role::Citizen
            },
            org: None,
            subject: Some(new.subject.clone()),
        };
        let detail = match &new.follow_on_of {
            Some(from) => format!("channel {}; continues case {from}", new.channel),
            None => format!("channel {}", new.channel),
        };
        append_event(&mut tx, &id, "submitted", &detail, &actor, None).await?;
        tx.commit().await?;
        Ok(Some(self.case(&id).await?))
    }

    /// Whether the app's `submit` answered for the case (see
    /// [`Services::record_submit_answered`]). A case it never answered for
    /// was opened by an application that failed before it was told anything:
    /// the node died between opening the case and the app taking it.
    pub async fn submit_answered(&self, id: &str) -> ServiceResult<bool> {
        let answered_at: Option<i64> = sqlx::query("SELECT submit_answered_at FROM cases WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db().pool())
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("case {id}")))?
            .try_get(0)?;
        Ok(answered_at.is_some())
    }

    /// Record that the app's `submit` answered for the case and what it
    /// decided was done; the application is answered only after this.
    pub async fn record_submit_answered(&self, id: &str) -> ServiceResult<()> {
        sqlx::query("UPDATE cases SET submit_answered_at = $1 WHERE id = $2 AND submit_answered_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    async fn case_by_submission(&self, subject: &str, key: &str) -> ServiceResult<Option<Case>> {
        Ok(sqlx::query(&format!(
            "SELECT {COLUMNS} FROM cases WHERE subject_id = $1 AND submission_key = $2"
        ))
        .bind(subject)
        .bind(key)
        .fetch_optional(self.db().pool())
        .await?
        .map(|r| from_row(&r))
        .transpose()?)
    }

    /// A case by id, for the host (callers check visibility).
    pub async fn case(&self, id: &str) -> ServiceResult<Case> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM cases WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db().pool())
            .await?
            .map(|r| from_row(&r))
            .transpose()?
            .ok_or_else(|| ServiceError::not_found(format!("case {id}")))
    }

    /// A case as `actor` may see it: the applicant, the clerk who applied for
    /// them, and the staff of its accepting and handling orgs. Anyone else
    /// gets `not-found`, so case numbers cannot be probed.
    pub async fn case_for(&self, actor: &CaseActor, id: &str) -> ServiceResult<Case> {
        let case = self.case(id).await?;
        let visible = acts_as(actor, Party::Applicant, &case)
            || acts_as(actor, Party::Staff, &case)
            || (actor.role == Role::Handler && actor.org.as_deref() == Some(case.accepting_org.as_str()));
        if visible {
            Ok(case)
        } else {
            Err(ServiceError::not_found(format!("case {id}")))
        }
    }

    /// A subject's cases, newest first.
    pub async fn cases_of_subject(&self, subject: &str) -> ServiceResult<Vec<Case>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM cases WHERE subject_id = $1 ORDER BY submitted_at DESC, id"
        ))
        .bind(subject)
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// An org's intake queue (submitted to it), oldest first, or handling
    /// queue (accepted or handling by it), nearest due date first and cases
    /// without one last (on both backends: SQLite sorts NULL first).
    pub async fn case_queue(&self, org: &str, intake: bool) -> ServiceResult<Vec<Case>> {
        let sql = if intake {
            format!(
                "SELECT {COLUMNS} FROM cases WHERE accepting_org = $1 AND stage = 'submitted' ORDER BY submitted_at, id"
            )
        } else {
            format!(
                "SELECT {COLUMNS} FROM cases WHERE handling_org = $1 AND stage IN ('accepted', 'handling')
                 ORDER BY due_at IS NULL, due_at, submitted_at, id"
            )
        };
        let rows = sqlx::query(&sql).bind(org).fetch_all(self.db().pool()).await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// A case's timeline, in order.
    pub async fn case_timeline(&self, id: &str) -> ServiceResult<Vec<TimelineEntry>> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, detail, actor, actor_org, from_stage, to_stage, deliver, delivered_at
             FROM case_events WHERE case_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(self.db().pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TimelineEntry {
                    seq: r.try_get(0)?,
                    at: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    detail: r.try_get(3)?,
                    actor: r.try_get(4)?,
                    actor_org: r.try_get(5)?,
                    from_stage: r.try_get(6)?,
                    to_stage: r.try_get(7)?,
                    for_app: r.try_get::<i32, _>(8)? != 0,
                    delivered_at: r.try_get(9)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// What is wrong with a hand-off's target, if anything: none named, the
    /// org that handles the case already, or an org that is not registered.
    pub async fn hand_off_problem(&self, case: &Case, to_org: Option<&str>) -> ServiceResult<Option<InputProblem>> {
        let Some(to_org) = to_org else {
            return Ok(Some(InputProblem::new(
                "to_org",
                InputProblemKind::Missing,
                "a hand-off names the org that takes the case",
            )));
        };
        if to_org == case.handling_org {
            return Ok(Some(InputProblem::new(
                "to_org",
                InputProblemKind::NotAllowed,
                format!("case {} is already handled by {to_org}", case.id),
            )));
        }
        let known = sqlx::query("SELECT 1 FROM orgs WHERE code = $1")
            .bind(to_org)
            .fetch_optional(self.db().pool())
            .await?;
        Ok(known.is_none().then(|| {
            InputProblem::new(
                "to_org",
                InputProblemKind::Unknown,
                format!("org {to_org} is not registered"),
            )
        }))
    }

    /// Take one step: check the table, the party, the reason, then
    /// compare-and-set the stage and append the event in one transaction.
    pub async fn step_case(&self, actor: &CaseActor, id: &str, step: Step) -> ServiceResult<Case> {
        let case = self.case_for_step(actor, id).await?;
        check_reason(step.action, &step.reason)?;
        let to = may_take(actor, &case, step.action)?;
        if matches!(step.action, Action::RuleApprove | Action::RuleDeny) && case.item_mode != "instant" {
            return Err(ServiceError::conflict(format!(
                "item {} is a commitment item (承诺件); only an instant item (即办件) is decided by the app's rule",
                case.item
            )));
        }
        let now = now_ms();
        let mut handling_org = case.handling_org.clone();
        let mut detail = step.reason.trim().to_owned();
        if step.action == Action::HandOff {
            if let Some(problem) = self.hand_off_problem(&case, step.to_org.as_deref()).await? {
                return Err(problem.into_error());
            }
            let to_org = step.to_org.clone().unwrap_or_default();
            // The event's detail is the org (what the app's `handed-off`
            // carries); the reason goes after it.
            detail = format!("{to_org}: {detail}");
            handling_org = to_org;
        }
        let mut form = case.form.clone();
        if step.action == Action::Resubmit {
            form = step
                .form
                .clone()
                .ok_or_else(|| ServiceError::invalid("a resubmission carries the corrected form"))?;
            if form.len() > MAX_FORM_BYTES {
                return Err(ServiceError::invalid(format!(
                    "the form is over {MAX_FORM_BYTES} bytes"
                )));
            }
        }
        let accepted_at = if step.action == Action::Accept {
            Some(now)
        } else {
            case.accepted_at
        };
        let due_at = match (step.action, case.promised_days) {
            (Action::Accept, Some(days)) if case.item_mode == "commitment" => {
                Some(self.config().calendar.due_at(now, days.max(0) as u32))
            }
            _ => case.due_at,
        };
        let decided_at = if matches!(to, Stage::Approved | Stage::Denied | Stage::Rejected) {
            Some(now)
        } else {
            case.decided_at
        };
        let mut tx = self.db().pool().begin().await?;
        let changed = sqlx::query(
            "UPDATE cases SET stage = $1, handling_org = $2, form = $3, accepted_at = $4, due_at = $5,
                              decided_at = $6, updated_at = $7, revision = revision + 1
             WHERE id = $8 AND revision = $9",
        )
        .bind(to.as_str())
        .bind(&handling_org)
        .bind(&form)
        .bind(accepted_at)
        .bind(due_at)
        .bind(decided_at)
        .bind(now)
        .bind(id)
        .bind(case.revision)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() != 1 {
            return Err(ServiceError::conflict(format!(
                "case {id} changed at the same time; look at it again"
            )));
        }
        append_event(
            &mut tx,
            id,
            step.action.as_str(),
            &detail,
            actor,
            Some((case.stage, to)),
        )
        .await?;
        tx.commit().await?;
        self.case(id).await
    }

    async fn case_for_step(&self, actor: &CaseActor, id: &str) -> ServiceResult<Case> {
        if actor.role == Role::System {
            self.case(id).await
        } else {
            self.case_for(actor, id).await
        }
    }

    /// Remove a case the app refused at submission, with its timeline, so a
    /// failed submission leaves nothing half-written. Only a case that is
    /// still `submitted` with no payment and no other event can go. The
    /// transaction reads before it writes, so it takes the write lock first
    /// (`begin_write`): on SQLite a deferred one fails with `SQLITE_BUSY`
    /// when another writer commits between its reads and its deletes, and
    /// the refused case would stay behind.
    pub async fn discard_case(&self, id: &str) -> ServiceResult<()> {
        let mut tx = self.db().begin_write().await?;
        let events: i64 = sqlx::query("SELECT COUNT(*) FROM case_events WHERE case_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let payments: i64 = sqlx::query("SELECT COUNT(*) FROM payments WHERE case_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if events > 1 || payments > 0 {
            return Err(ServiceError::conflict(format!(
                "case {id} has progressed (events or payments) and cannot be discarded"
            )));
        }
        sqlx::query("DELETE FROM case_events WHERE case_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM cases WHERE id = $1 AND stage = 'submitted'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// 接续服务: open the next case of a chain, for the same applicant,
    /// prefilled with `form`, through the same channel and accepting org.
    pub async fn open_follow_on(
        &self,
        from: &Case,
        item: &str,
        item_mode: &str,
        promised_days: Option<u32>,
        form: &str,
    ) -> ServiceResult<Case> {
        if serde_json::from_str::<serde_json::Value>(form).is_err() {
            return Err(ServiceError::invalid("the follow-on form is not JSON"));
        }
        let (case, _) = self
            .open_case(NewCase {
                app: from.app.clone(),
                app_version: from.app_version.clone(),
                item: item.into(),
                item_mode: item_mode.into(),
                promised_days,
                subject: from.subject.clone(),
                region: from.region.clone(),
                channel: from.channel.clone(),
                on_behalf_of: from.on_behalf_of.clone(),
                accepting_org: from.accepting_org.clone(),
                form: form.into(),
                follow_on_of: Some(from.id.clone()),
                submission_key: Some(format!("follow-on:{}:{item}", from.id)),
            })
            .await?;
        Ok(case)
    }
}
