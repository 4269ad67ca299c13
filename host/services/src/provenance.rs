//! Provenance: one record per call that touches personal data — who (app and
//! version) read what (operation and scopes) of whom (subject handle), why
//! (purpose), under which consent, for which case, and what came of it.
//!
//! Each record is appended to the audit chain in the same transaction as its
//! row; the chain entry's after-digest is the digest of the record, so
//! [`Services::verify_provenance`] catches a changed or removed row. Apps have
//! no way to read provenance; auditors do (`tongban audit provenance`).

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;
use tongban_registry::market::audit_log::{append_entry, state_digest};
use tongban_store::now_ms;

use crate::Services;
use crate::error::ServiceResult;

/// One personal-data access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvenanceRecord {
    pub at: i64,
    pub app: String,
    pub app_version: String,
    /// The platform subject; auditors filter by it, apps never see it.
    pub subject: String,
    /// The handle the app used for the subject.
    pub subject_handle: String,
    /// The capability call, e.g. `identity.attributes`.
    pub operation: String,
    pub scopes: Vec<String>,
    /// The purpose code the app declared.
    pub purpose: String,
    pub consent: Option<String>,
    pub case: Option<String>,
    /// `released`, or the error code of the refusal (e.g. `consent-required`).
    pub outcome: String,
}

/// A stored record with its place in the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredProvenance {
    pub audit_seq: i64,
    #[serde(flatten)]
    pub record: ProvenanceRecord,
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct ProvenanceFilter {
    pub subject: Option<String>,
    pub case: Option<String>,
}

const COLUMNS: &str = "audit_seq, at, app_id, app_version, subject_id, subject_handle, operation, scopes, purpose, \
                       consent_id, case_id, outcome";

fn from_row(r: &AnyRow) -> Result<StoredProvenance, sqlx::Error> {
    let scopes: String = r.try_get(7)?;
    Ok(StoredProvenance {
        audit_seq: r.try_get(0)?,
        record: ProvenanceRecord {
            at: r.try_get(1)?,
            app: r.try_get(2)?,
            app_version: r.try_get(3)?,
            subject: r.try_get(4)?,
            subject_handle: r.try_get(5)?,
            operation: r.try_get(6)?,
            scopes: serde_json::from_str(&scopes).map_err(|e| sqlx::Error::Decode(e.into()))?,
            purpose: r.try_get(8)?,
            consent: r.try_get(9)?,
            case: r.try_get(10)?,
            outcome: r.try_get(11)?,
        },
    })
}

impl Services {
    /// Append a record to the chain and the provenance table, atomically.
    pub async fn record_provenance(&self, mut record: ProvenanceRecord) -> ServiceResult<i64> {
        if record.at == 0 {
            record.at = now_ms();
        }
        let mut tx = self.db().begin_write().await?;
        let seq = append_entry(
            &mut tx,
            &format!("app:{}@{}", record.app, record.app_version),
            &format!("provenance.{}", record.operation),
            &format!("subject:{}", record.subject_handle),
            "",
            &state_digest(&record),
        )
        .await?;
        sqlx::query(&format!(
            "INSERT INTO provenance ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(seq)
        .bind(record.at)
        .bind(&record.app)
        .bind(&record.app_version)
        .bind(&record.subject)
        .bind(&record.subject_handle)
        .bind(&record.operation)
        .bind(serde_json::to_string(&record.scopes).expect("scopes serialize"))
        .bind(&record.purpose)
        .bind(&record.consent)
        .bind(&record.case)
        .bind(&record.outcome)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Records for a subject or a case (or both), oldest first.
    pub async fn provenance(&self, filter: &ProvenanceFilter) -> ServiceResult<Vec<StoredProvenance>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM provenance
             WHERE ($1 = '' OR subject_id = $1) AND ($2 = '' OR case_id = $2)
             ORDER BY audit_seq"
        ))
        .bind(filter.subject.clone().unwrap_or_default())
        .bind(filter.case.clone().unwrap_or_default())
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
    }

    /// Check every provenance row against its audit entry: `Ok(n)` when all
    /// `n` match, otherwise the first sequence number that does not (a changed
    /// row, or a chain entry whose row is gone).
    pub async fn verify_provenance(&self) -> ServiceResult<Result<u64, String>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM provenance ORDER BY audit_seq"))
            .fetch_all(self.db().pool())
            .await?;
        let mut by_seq = std::collections::BTreeMap::new();
        for row in &rows {
            let stored = from_row(row)?;
            by_seq.insert(stored.audit_seq, stored.record);
        }
        let entries =
            sqlx::query("SELECT seq, after_digest FROM audit_log WHERE action LIKE 'provenance.%' ORDER BY seq")
                .fetch_all(self.db().pool())
                .await?;
        let mut checked = 0;
        for entry in &entries {
            let seq: i64 = entry.try_get(0)?;
            let digest: String = entry.try_get(1)?;
            match by_seq.remove(&seq) {
                None => {
                    return Ok(Err(format!(
                        "audit entry {seq} records an access whose provenance row is gone"
                    )));
                }
                Some(record) if state_digest(&record) != digest => {
                    return Ok(Err(format!("the provenance row of audit entry {seq} was changed")));
                }
                Some(_) => checked += 1,
            }
        }
        if let Some(seq) = by_seq.keys().next() {
            return Ok(Err(format!("provenance row {seq} has no audit entry")));
        }
        Ok(Ok(checked))
    }
}
