//! Evaluation (好差评, GB/T 39734; LIFECYCLES.md §6): the applicant rates a
//! finished case once, at one of five levels, with an optional comment; a
//! dissatisfied or very dissatisfied rating opens a remediation item (整改)
//! for the org that must fix it, due in 15 working days and tracked until its
//! staff resolve it with a note.
//!
//! Decisions this module makes:
//!
//! - A case can be rated once it is *finished* for the citizen: delivered
//!   (出件), denied (不予批准), rejected at intake (不予受理) or closed
//!   (办结). A refusal is a service outcome the citizen must be able to rate
//!   (a bad rating of a refusal is exactly what remediation is for), so the
//!   denied and rejected stages count as well as LIFECYCLES §2's "delivered
//!   or closed". A withdrawn case does not count (the applicant ended it
//!   before any outcome), nor does an approved one (the result is not yet in
//!   the citizen's hands).
//! - Only the case's applicant (the platform subject, signed in as a
//!   citizen) rates; a clerk who applied for them at a window does not rate
//!   in their place. Anyone else is told the case is not found, as
//!   [`Services::case_for`] does, so case numbers cannot be probed.
//! - The remediation item belongs to the case's accepting org (受理单位), the
//!   citizen's point of contact, which answers for the service even when
//!   another org handled it; window clerks and handlers of that org resolve
//!   it.
//! - Apps have no capability for ratings, and none may be added that exposes
//!   a rating together with its case or applicant: apps cannot submit,
//!   change or read identifiable ratings. Ratings are kept out of the case
//!   timeline for the same reason.
//! - Like a consent decision (the comparable citizen action), a rating is not
//!   an audit-chain entry, and neither is a resolution (like a case step,
//!   it is recorded with who and when in its own row). A rating reads no
//!   personal data, so it has no provenance record.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use tongban_registry::release::Role;
use tongban_store::now_ms;

use crate::Services;
use crate::cases::{CaseActor, Stage};
use crate::error::{InputProblem, InputProblemKind, ServiceError, ServiceResult};

/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;
/// The longest resolution note, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;
/// How long the org has to remediate, in working days on the case calendar.
pub const REMEDIATION_WORKING_DAYS: u32 = 15;

/// The five levels of GB/T 39734, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RatingLevel {
    VerySatisfied,
    Satisfied,
    BasicallySatisfied,
    Dissatisfied,
    VeryDissatisfied,
}

impl RatingLevel {
    /// Every level, best first (the order a rating form offers them in).
    pub const ALL: [RatingLevel; 5] = [
        RatingLevel::VerySatisfied,
        RatingLevel::Satisfied,
        RatingLevel::BasicallySatisfied,
        RatingLevel::Dissatisfied,
        RatingLevel::VeryDissatisfied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RatingLevel::VerySatisfied => "very-satisfied",
            RatingLevel::Satisfied => "satisfied",
            RatingLevel::BasicallySatisfied => "basically-satisfied",
            RatingLevel::Dissatisfied => "dissatisfied",
            RatingLevel::VeryDissatisfied => "very-dissatisfied",
        }
    }

    /// A level from its name; the error names the field and the choices.
    pub fn parse(text: &str) -> ServiceResult<RatingLevel> {
        RatingLevel::parse_input(text).map_err(InputProblem::into_error)
    }

    /// A level from its name, or what is wrong with the `level` input.
    pub fn parse_input(text: &str) -> Result<RatingLevel, InputProblem> {
        let text = text.trim();
        let choices = RatingLevel::ALL.map(RatingLevel::as_str).join(", ");
        if text.is_empty() {
            return Err(InputProblem::new(
                "level",
                InputProblemKind::Missing,
                format!("level is required: one of {choices}"),
            ));
        }
        RatingLevel::ALL
            .into_iter()
            .find(|l| l.as_str() == text)
            .ok_or_else(|| {
                InputProblem::new(
                    "level",
                    InputProblemKind::NotAllowed,
                    format!("level `{text}` is not one of {choices}"),
                )
            })
    }

    /// Whether a rating at this level opens a remediation item (差评).
    pub fn needs_remediation(self) -> bool {
        matches!(self, RatingLevel::Dissatisfied | RatingLevel::VeryDissatisfied)
    }
}

/// Whether a case at `stage` can be rated (see the module documentation).
pub fn open_for_rating(stage: Stage) -> bool {
    matches!(
        stage,
        Stage::Delivered | Stage::Denied | Stage::Rejected | Stage::Closed
    )
}

/// A case's rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rating {
    pub case: String,
    pub level: RatingLevel,
    pub comment: Option<String>,
    pub rated_at: i64,
}

/// A remediation item opened by a bad rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remediation {
    pub id: String,
    pub case: String,
    /// The org that must fix it: the case's accepting org.
    pub org: String,
    pub level: RatingLevel,
    pub comment: Option<String>,
    pub opened_at: i64,
    /// The end of the 15th working day after the rating.
    pub due_at: i64,
    pub resolved_at: Option<i64>,
    /// The staff member who resolved it.
    pub resolved_by: Option<String>,
    /// What was done, in the resolver's words.
    pub resolution: Option<String>,
}

impl Remediation {
    /// Whether the item is still open past its due date.
    pub fn overdue(&self, now: i64) -> bool {
        self.resolved_at.is_none() && self.due_at < now
    }
}

fn level_from(text: String) -> Result<RatingLevel, sqlx::Error> {
    RatingLevel::parse(&text).map_err(|_| sqlx::Error::Decode(format!("unknown rating level {text}").into()))
}

fn rating_from_row(r: &AnyRow) -> Result<Rating, sqlx::Error> {
    Ok(Rating {
        case: r.try_get(0)?,
        level: level_from(r.try_get(1)?)?,
        comment: r.try_get(2)?,
        rated_at: r.try_get(3)?,
    })
}

const REMEDIATION_COLUMNS: &str = "m.id, m.case_id, m.org, r.level, r.comment, m.opened_at, m.due_at, \
                                   m.resolved_at, m.resolved_by, m.resolution";

fn remediation_from_row(r: &AnyRow) -> Result<Remediation, sqlx::Error> {
    Ok(Remediation {
        id: r.try_get(0)?,
        case: r.try_get(1)?,
        org: r.try_get(2)?,
        level: level_from(r.try_get(3)?)?,
        comment: r.try_get(4)?,
        opened_at: r.try_get(5)?,
        due_at: r.try_get(6)?,
        resolved_at: r.try_get(7)?,
        resolved_by: r.try_get(8)?,
        resolution: r.try_get(9)?,
    })
}

/// The trimmed comment, none when blank; the error names the field.
fn checked_comment(comment: &str) -> Result<Option<String>, InputProblem> {
    let comment = comment.trim();
    let chars = comment.chars().count();
    if chars > MAX_COMMENT_CHARS {
        return Err(InputProblem::new(
            "comment",
            InputProblemKind::TooLong,
            format!("comment is {chars} characters; at most {MAX_COMMENT_CHARS}"),
        ));
    }
    Ok((!comment.is_empty()).then(|| comment.to_owned()))
}

/// What is wrong with a rating's inputs, if anything: the level first,
/// then the comment, in the order the service checks them.
pub fn rating_problem(level: &str, comment: &str) -> Option<InputProblem> {
    RatingLevel::parse_input(level)
        .err()
        .or_else(|| checked_comment(comment).err())
}

/// What is wrong with a remediation's note, if anything: missing, or over
/// its bound.
pub fn note_problem(note: &str) -> Option<InputProblem> {
    let note = note.trim();
    if note.is_empty() {
        return Some(InputProblem::new(
            "note",
            InputProblemKind::Missing,
            "note is required: say what was done",
        ));
    }
    let chars = note.chars().count();
    (chars > MAX_NOTE_CHARS).then(|| {
        InputProblem::new(
            "note",
            InputProblemKind::TooLong,
            format!("note is {chars} characters; at most {MAX_NOTE_CHARS}"),
        )
    })
}

/// Whether `actor` may resolve `item`: a window clerk or handler of the
/// org the item is for. `resolve_remediation` asks this itself; a caller may
/// ask first to check the note only for those who may resolve.
pub fn may_resolve(actor: &CaseActor, item: &Remediation) -> ServiceResult<()> {
    let staff = matches!(actor.role, Role::WindowClerk | Role::Handler);
    if !staff || actor.org.as_deref() != Some(item.org.as_str()) {
        return Err(ServiceError::forbidden(format!(
            "remediation {} is resolved by a window clerk or handler of org {}",
            item.id, item.org
        )));
    }
    Ok(())
}

impl Services {
    /// The applicant `subject` rates case `case` at `level` (one of
    /// [`RatingLevel::ALL`] by name) with an optional comment. A bad rating
    /// opens its remediation item in the same transaction. Refusals: another
    /// subject's case is not found; an unfinished case or a second rating is
    /// a conflict; a bad level or an over-long comment is invalid, naming the
    /// field.
    pub async fn rate_case(&self, subject: &str, case: &str, level: &str, comment: &str) -> ServiceResult<Rating> {
        let level = RatingLevel::parse(level)?;
        let comment = checked_comment(comment).map_err(InputProblem::into_error)?;
        let found = self.case(case).await?;
        if found.subject != subject {
            return Err(ServiceError::not_found(format!("case {case}")));
        }
        if !open_for_rating(found.stage) {
            return Err(ServiceError::conflict(format!(
                "case {case} is {}; it can be rated once it is delivered, denied, rejected or closed",
                found.stage.as_str()
            )));
        }
        if self.case_rating(case).await?.is_some() {
            return Err(already_rated(case));
        }
        let now = now_ms();
        let mut tx = self.db().pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO case_ratings (case_id, level, comment, rated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(case)
        .bind(level.as_str())
        .bind(&comment)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() != 1 {
            // A concurrent rating of the same case committed first.
            return Err(already_rated(case));
        }
        if level.needs_remediation() {
            sqlx::query(
                "INSERT INTO remediations (id, case_id, org, opened_at, due_at, resolved_at, resolved_by, resolution)
                 VALUES ($1, $2, $3, $4, $5, NULL, NULL, NULL)",
            )
            .bind(crate::fresh_id("remediation"))
            .bind(case)
            .bind(&found.accepting_org)
            .bind(now)
            .bind(self.config().calendar.due_at(now, REMEDIATION_WORKING_DAYS))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Rating {
            case: case.to_owned(),
            level,
            comment,
            rated_at: now,
        })
    }

    /// A case's rating, if it has one, for the host (callers check that the
    /// reader is the applicant; apps never reach this).
    pub async fn case_rating(&self, case: &str) -> ServiceResult<Option<Rating>> {
        Ok(
            sqlx::query("SELECT case_id, level, comment, rated_at FROM case_ratings WHERE case_id = $1")
                .bind(case)
                .fetch_optional(self.db().pool())
                .await?
                .map(|r| rating_from_row(&r))
                .transpose()?,
        )
    }

    /// The remediation item a case's rating opened, if any.
    pub async fn remediation_of_case(&self, case: &str) -> ServiceResult<Option<Remediation>> {
        Ok(sqlx::query(&format!(
            "SELECT {REMEDIATION_COLUMNS} FROM remediations m JOIN case_ratings r ON r.case_id = m.case_id
             WHERE m.case_id = $1"
        ))
        .bind(case)
        .fetch_optional(self.db().pool())
        .await?
        .map(|r| remediation_from_row(&r))
        .transpose()?)
    }

    /// An org's remediation items, the open ones only or all: open items
    /// first, nearest due date first, then by when they were opened.
    pub async fn remediations_of_org(&self, org: &str, open_only: bool) -> ServiceResult<Vec<Remediation>> {
        let open = if open_only { "AND m.resolved_at IS NULL" } else { "" };
        let rows = sqlx::query(&format!(
            "SELECT {REMEDIATION_COLUMNS} FROM remediations m JOIN case_ratings r ON r.case_id = m.case_id
             WHERE m.org = $1 {open}
             ORDER BY m.resolved_at IS NOT NULL, m.due_at, m.opened_at, m.id"
        ))
        .bind(org)
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.iter().map(remediation_from_row).collect::<Result<_, _>>()?)
    }

    /// A window clerk or handler of the owning org resolves an open item with
    /// a note of what was done. Staff of another org are refused; a resolved
    /// item is a conflict; a blank or over-long note is invalid.
    pub async fn resolve_remediation(&self, actor: &CaseActor, id: &str, note: &str) -> ServiceResult<Remediation> {
        let item = self.remediation(id).await?;
        may_resolve(actor, &item)?;
        if let Some(problem) = note_problem(note) {
            return Err(problem.into_error());
        }
        let note = note.trim();
        let done = sqlx::query(
            "UPDATE remediations SET resolved_at = $1, resolved_by = $2, resolution = $3
             WHERE id = $4 AND resolved_at IS NULL",
        )
        .bind(now_ms())
        .bind(&actor.user)
        .bind(note)
        .bind(id)
        .execute(self.db().pool())
        .await?;
        if done.rows_affected() != 1 {
            return Err(ServiceError::conflict(format!("remediation {id} is already resolved")));
        }
        self.remediation(id).await
    }

    /// One remediation item, for the host (callers check the org).
    pub async fn remediation(&self, id: &str) -> ServiceResult<Remediation> {
        sqlx::query(&format!(
            "SELECT {REMEDIATION_COLUMNS} FROM remediations m JOIN case_ratings r ON r.case_id = m.case_id
             WHERE m.id = $1"
        ))
        .bind(id)
        .fetch_optional(self.db().pool())
        .await?
        .map(|r| remediation_from_row(&r))
        .transpose()?
        .ok_or_else(|| ServiceError::not_found(format!("remediation {id}")))
    }
}

fn already_rated(case: &str) -> ServiceError {
    ServiceError::conflict(format!("case {case} has already been rated; a case is rated once"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_by_name_and_bad_ones_name_the_field() {
        for level in RatingLevel::ALL {
            assert_eq!(RatingLevel::parse(level.as_str()).unwrap(), level);
        }
        let bad = RatingLevel::parse("great").unwrap_err().to_string();
        assert!(
            bad.contains("level `great`") && bad.contains("very-dissatisfied"),
            "{bad}"
        );
        let missing = RatingLevel::parse(" ").unwrap_err().to_string();
        assert!(missing.contains("level is required"), "{missing}");
        let bad_ones: Vec<_> = RatingLevel::ALL.into_iter().filter(|l| l.needs_remediation()).collect();
        assert_eq!(bad_ones, [RatingLevel::Dissatisfied, RatingLevel::VeryDissatisfied]);
    }

    #[test]
    fn comments_are_capped_in_characters_not_bytes() {
        assert_eq!(checked_comment("  ").unwrap(), None);
        assert_eq!(
            checked_comment(&"慢".repeat(MAX_COMMENT_CHARS))
                .unwrap()
                .unwrap()
                .chars()
                .count(),
            MAX_COMMENT_CHARS
        );
        let long = checked_comment(&"慢".repeat(MAX_COMMENT_CHARS + 1))
            .unwrap_err()
            .to_string();
        assert!(long.contains("comment is 501 characters"), "{long}");
    }

    #[test]
    fn finished_means_an_outcome_reached_the_citizen() {
        for stage in [Stage::Delivered, Stage::Denied, Stage::Rejected, Stage::Closed] {
            assert!(open_for_rating(stage), "{stage:?}");
        }
        for stage in [
            Stage::Submitted,
            Stage::Accepted,
            Stage::CorrectionRequested,
            Stage::Handling,
            Stage::Approved,
            Stage::Withdrawn,
        ] {
            assert!(!open_for_rating(stage), "{stage:?}");
        }
    }
}
