//! Subjects (people and legal persons) as the identity source knows them, the
//! pairwise handles apps see, and attribute release.
//!
//! A handle is computed (HMAC) and remembered with the app it was made for, so
//! the host can resolve a handle an app passes back (a notification's
//! recipient) — but only for that same app: another app's handle is
//! `not-found`, never another person.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use tongban_store::now_ms;

use crate::Services;
use crate::error::{ServiceError, ServiceResult};
use crate::identity::mask_id_number;

/// The attributes an app may declare in `capabilities.identity.attributes`.
pub const ATTRIBUTES: &[&str] = &[
    "name",
    "id-number-masked",
    "birth-date",
    "gender",
    "phone",
    "email",
    "address",
];

/// A subject as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The platform subject id; never shown to an app.
    pub id: String,
    /// `person` or `legal-person`.
    pub kind: String,
    pub name: String,
    pub id_number: Option<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    /// The 6-digit GB/T 2260 code of the region the subject lives in.
    pub region: String,
    /// `low`, `substantial` or `high`.
    pub assurance: String,
    /// The authoritative source of the attributes.
    pub source: String,
    pub verified_at: i64,
}

/// One released attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleasedAttribute {
    pub name: String,
    pub value: String,
    pub source: String,
    pub verified_at: i64,
}

const COLUMNS: &str =
    "id, kind, name, id_number, birth_date, gender, phone, email, address, region, assurance, source, verified_at";

fn from_row(r: &AnyRow) -> Result<Subject, sqlx::Error> {
    Ok(Subject {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        name: r.try_get(2)?,
        id_number: r.try_get(3)?,
        birth_date: r.try_get(4)?,
        gender: r.try_get(5)?,
        phone: r.try_get(6)?,
        email: r.try_get(7)?,
        address: r.try_get(8)?,
        region: r.try_get(9)?,
        assurance: r.try_get(10)?,
        source: r.try_get(11)?,
        verified_at: r.try_get(12)?,
    })
}

impl Subject {
    /// The value of one attribute, if the subject has it. ID numbers only
    /// ever leave masked.
    pub fn attribute(&self, name: &str) -> Option<String> {
        match name {
            "name" => Some(self.name.clone()),
            "id-number-masked" => self.id_number.as_deref().map(mask_id_number),
            "birth-date" => self.birth_date.clone(),
            "gender" => self.gender.clone(),
            "phone" => self.phone.clone(),
            "email" => self.email.clone(),
            "address" => self.address.clone(),
            _ => None,
        }
    }
}

impl Services {
    /// Create or update a subject (the identity source's record).
    pub async fn upsert_subject(&self, s: &Subject) -> ServiceResult<()> {
        if s.id.is_empty() || s.id.len() > 64 || s.name.trim().is_empty() {
            return Err(ServiceError::invalid(
                "a subject needs an id of 1 to 64 characters and a name",
            ));
        }
        if !matches!(s.kind.as_str(), "person" | "legal-person") {
            return Err(ServiceError::invalid(format!(
                "subject kind `{}` is neither `person` nor `legal-person`",
                s.kind
            )));
        }
        if !matches!(s.assurance.as_str(), "low" | "substantial" | "high") {
            return Err(ServiceError::invalid(format!(
                "assurance `{}` is not low, substantial or high",
                s.assurance
            )));
        }
        sqlx::query(
            "INSERT INTO subjects (id, kind, name, id_number, birth_date, gender, phone, email, address, region,
                                   assurance, source, verified_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name,
                 id_number = excluded.id_number, birth_date = excluded.birth_date, gender = excluded.gender,
                 phone = excluded.phone, email = excluded.email, address = excluded.address,
                 region = excluded.region, assurance = excluded.assurance, source = excluded.source,
                 verified_at = excluded.verified_at",
        )
        .bind(&s.id)
        .bind(&s.kind)
        .bind(&s.name)
        .bind(&s.id_number)
        .bind(&s.birth_date)
        .bind(&s.gender)
        .bind(&s.phone)
        .bind(&s.email)
        .bind(&s.address)
        .bind(&s.region)
        .bind(&s.assurance)
        .bind(&s.source)
        .bind(s.verified_at)
        .bind(now_ms())
        .execute(self.db().pool())
        .await?;
        Ok(())
    }

    /// One subject.
    pub async fn subject(&self, id: &str) -> ServiceResult<Subject> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM subjects WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db().pool())
            .await?
            .ok_or_else(|| ServiceError::not_found(format!("subject {id}")))?;
        Ok(from_row(&row)?)
    }

    /// The person with this resident ID number (a window clerk finds the
    /// citizen at the counter by their ID card). The final check character X
    /// matches in either case, however the identity source stored it.
    pub async fn subject_by_id_number(&self, id_number: &str) -> ServiceResult<Subject> {
        // Two people on record with one ID number would be a data error; the
        // counter must not pick one of them at random.
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM subjects WHERE UPPER(id_number) = $1 ORDER BY id LIMIT 2"
        ))
        .bind(id_number.trim().to_uppercase())
        .fetch_all(self.db().pool())
        .await?;
        match rows.as_slice() {
            [] => Err(ServiceError::not_found("no person with this ID number is registered")),
            [row] => Ok(from_row(row)?),
            _ => Err(ServiceError::conflict(
                "more than one person is registered with this ID number; the identity records need correcting",
            )),
        }
    }

    /// The handle `app` sees for `subject_id`, remembered so that the same app
    /// can pass it back.
    pub async fn handle_for(&self, subject_id: &str, app: &str) -> ServiceResult<String> {
        let handle = self.keys().await?.pairwise.handle(subject_id, app);
        sqlx::query(
            "INSERT INTO subject_handles (handle, subject_id, app_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(&handle)
        .bind(subject_id)
        .bind(app)
        .execute(self.db().pool())
        .await?;
        Ok(handle)
    }

    /// The subject behind a handle `app` holds. A handle made for another app
    /// does not resolve.
    pub async fn resolve_handle(&self, handle: &str, app: &str) -> ServiceResult<String> {
        sqlx::query("SELECT subject_id FROM subject_handles WHERE handle = $1 AND app_id = $2")
            .bind(handle)
            .bind(app)
            .fetch_optional(self.db().pool())
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
            .ok_or_else(|| ServiceError::not_found(format!("no subject `{handle}` is known to this app")))
    }
}

/// Release `names` of a subject (the caller has checked grant and consent).
pub fn release(subject: &Subject, names: &[String]) -> Vec<ReleasedAttribute> {
    names
        .iter()
        .filter_map(|name| {
            subject.attribute(name).map(|value| ReleasedAttribute {
                name: name.clone(),
                value,
                source: subject.source.clone(),
                verified_at: subject.verified_at,
            })
        })
        .collect()
}
