//! The certificate store. A certificate is sealed when it is issued (the seal
//! covers what the certificate says, not its status, which changes); an
//! annotated copy is sealed when it is made. Issuance and every status change
//! are entries in the audit chain.
//!
//! Status machine (LIFECYCLES.md §5): `valid ⇄ suspended`, and `valid` or
//! `suspended` → `revoked` | `cancelled`; `expired` is derived from
//! `valid-until`. Only the issuing org changes a status, always with a reason.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;
use tongban_registry::market::audit_log::{append_entry, state_digest};
use tongban_store::now_ms;

use super::identifier::CertificateId;
use super::seal::SealedDocument;
use crate::Services;
use crate::error::{ServiceError, ServiceResult};

/// The certificate types the platform knows by name.
pub const KNOWN_TYPES: &[(&str, &str)] = &[
    ("ID-CARD", "居民身份证"),
    ("HOUSEHOLD-REGISTER", "居民户口簿"),
    ("BUSINESS-LICENCE", "营业执照"),
];

/// The display name of a type code (the code itself for unknown types).
pub fn type_name(code: &str) -> String {
    KNOWN_TYPES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| (*n).to_owned())
        .unwrap_or_else(|| code.to_owned())
}

/// Where a certificate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateStatus {
    Valid,
    Suspended,
    Revoked,
    Cancelled,
    Expired,
}

impl CertificateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Valid => "valid",
            CertificateStatus::Suspended => "suspended",
            CertificateStatus::Revoked => "revoked",
            CertificateStatus::Cancelled => "cancelled",
            CertificateStatus::Expired => "expired",
        }
    }

    fn parse(text: &str) -> Result<CertificateStatus, sqlx::Error> {
        serde_json::from_value(Value::String(text.into())).map_err(|e| sqlx::Error::Decode(e.into()))
    }

    /// Whether the issuer may move a certificate from `self` to `to`.
    pub fn may_become(self, to: CertificateStatus) -> bool {
        use CertificateStatus::*;
        matches!(
            (self, to),
            (Valid, Suspended) | (Suspended, Valid) | (Valid | Suspended, Revoked | Cancelled)
        )
    }
}

/// A certificate as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Certificate {
    pub id: String,
    pub type_code: String,
    pub type_name: String,
    pub issuer_code: String,
    pub issuer_name: String,
    /// The platform subject; apps see a handle instead.
    pub holder: String,
    pub holder_name: String,
    pub issued_at: i64,
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    /// The status now (a valid certificate past its validity is expired).
    pub status: CertificateStatus,
    pub fields: Vec<(String, String)>,
    pub app: Option<String>,
    pub case: Option<String>,
}

/// Surface fields that hold a resident ID number; apps see them masked.
pub const ID_NUMBER_FIELDS: &[&str] = &["公民身份号码", "身份证号码", "id-number"];

impl Certificate {
    /// The certificate as an app may see it: ID numbers masked (the holder's
    /// own copy keeps them whole).
    pub fn masked_for_apps(mut self) -> Certificate {
        for (name, value) in &mut self.fields {
            if ID_NUMBER_FIELDS.contains(&name.as_str()) {
                *value = crate::identity::mask_id_number(value);
            }
        }
        self
    }

    /// What the seal covers: what the certificate says, without the holder's
    /// platform id and without the (changing) status.
    pub fn document(&self) -> Value {
        json!({
            "kind": "certificate",
            "id": self.id,
            "type-code": self.type_code,
            "type-name": self.type_name,
            "issuer-code": self.issuer_code,
            "issuer-name": self.issuer_name,
            "holder-name": self.holder_name,
            "issued-at": self.issued_at,
            "valid-from": self.valid_from,
            "valid-until": self.valid_until,
            "fields": self.fields,
        })
    }
}

/// A sealed annotated copy (加注件).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnnotatedCopy {
    pub certificate: Certificate,
    pub purpose: String,
    pub purpose_text: String,
    pub expires_at: i64,
    pub sealed: SealedDocument,
}

/// What issuing needs.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    pub type_code: String,
    /// The issuing org's unified social credit code.
    pub issuer_code: String,
    pub holder: String,
    pub holder_name: String,
    pub valid_from: i64,
    pub valid_until: Option<i64>,
    pub fields: Vec<(String, String)>,
    /// The issuing app and its case, when issued through the capability; a
    /// case issues at most one certificate of each type.
    pub app: Option<String>,
    pub case: Option<String>,
    /// Who issues, for the audit chain.
    pub actor: String,
}

/// The most surface fields a certificate carries, and their bounds.
pub const MAX_FIELDS: usize = 64;
pub const MAX_FIELD_BYTES: usize = 4096;

const COLUMNS: &str = "id, type_code, type_name, issuer_code, issuer_name, holder_id, holder_name, issued_at, \
                       valid_from, valid_until, status, fields, app_id, case_id";

fn from_row(r: &AnyRow, now: i64) -> Result<Certificate, sqlx::Error> {
    let fields: String = r.try_get(11)?;
    let valid_until: Option<i64> = r.try_get(9)?;
    let mut status = CertificateStatus::parse(&r.try_get::<String, _>(10)?)?;
    if status == CertificateStatus::Valid && valid_until.is_some_and(|u| u <= now) {
        status = CertificateStatus::Expired;
    }
    Ok(Certificate {
        id: r.try_get(0)?,
        type_code: r.try_get(1)?,
        type_name: r.try_get(2)?,
        issuer_code: r.try_get(3)?,
        issuer_name: r.try_get(4)?,
        holder: r.try_get(5)?,
        holder_name: r.try_get(6)?,
        issued_at: r.try_get(7)?,
        valid_from: r.try_get(8)?,
        valid_until,
        status,
        fields: serde_json::from_str(&fields).map_err(|e| sqlx::Error::Decode(e.into()))?,
        app: r.try_get(12)?,
        case: r.try_get(13)?,
    })
}

fn check_fields(fields: &[(String, String)]) -> ServiceResult<()> {
    if fields.len() > MAX_FIELDS {
        return Err(ServiceError::invalid(format!(
            "a certificate has at most {MAX_FIELDS} fields, not {}",
            fields.len()
        )));
    }
    for (name, value) in fields {
        if name.trim().is_empty() || name.len() > 256 || value.len() > MAX_FIELD_BYTES {
            return Err(ServiceError::invalid(format!(
                "certificate field `{}` needs a name of 1 to 256 bytes and a value of at most {MAX_FIELD_BYTES} bytes",
                name.chars().take(40).collect::<String>()
            )));
        }
    }
    Ok(())
}

impl Services {
    /// Issue a certificate; for a case, a second issue of the same type
    /// returns the first certificate (so a redelivered event issues once).
    pub async fn issue_certificate(&self, req: IssueRequest) -> ServiceResult<Certificate> {
        check_fields(&req.fields)?;
        if req.holder_name.trim().is_empty() {
            return Err(ServiceError::invalid("a certificate needs the holder's name"));
        }
        if req.valid_until.is_some_and(|u| u <= req.valid_from) {
            return Err(ServiceError::invalid("valid-until must be after valid-from"));
        }
        if let Some(case) = &req.case
            && let Some(existing) = self.certificate_of_case(case, &req.type_code).await?
        {
            return Ok(existing);
        }
        // Check the identifier's parts before taking any lock.
        CertificateId::new(&req.type_code, &req.issuer_code, 1, 1).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let seal = self.keys().await?.seal.clone();
        let now = now_ms();
        let mut tx = self.db().begin_write().await?;
        let issuer_name: String = sqlx::query("SELECT name FROM orgs WHERE code = $1")
            .bind(&req.issuer_code)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .ok_or_else(|| ServiceError::not_found(format!("issuing org {} is not registered", req.issuer_code)))?;
        sqlx::query(
            "INSERT INTO certificate_serials (issuer_code, type_code, next_serial) VALUES ($1, $2, 1)
             ON CONFLICT (issuer_code, type_code) DO NOTHING",
        )
        .bind(&req.issuer_code)
        .bind(&req.type_code)
        .execute(&mut *tx)
        .await?;
        // Take the serial by incrementing first: the update locks the row, so
        // two issues at once by the same issuer never read the same serial.
        sqlx::query(
            "UPDATE certificate_serials SET next_serial = next_serial + 1 WHERE issuer_code = $1 AND type_code = $2",
        )
        .bind(&req.issuer_code)
        .bind(&req.type_code)
        .execute(&mut *tx)
        .await?;
        let serial: i64 =
            sqlx::query("SELECT next_serial - 1 FROM certificate_serials WHERE issuer_code = $1 AND type_code = $2")
                .bind(&req.issuer_code)
                .bind(&req.type_code)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        let id = CertificateId::new(&req.type_code, &req.issuer_code, serial as u64, 1)
            .map_err(|e| ServiceError::invalid(e.to_string()))?
            .to_string();
        let certificate = Certificate {
            id: id.clone(),
            type_code: req.type_code.clone(),
            type_name: type_name(&req.type_code),
            issuer_code: req.issuer_code.clone(),
            issuer_name,
            holder: req.holder.clone(),
            holder_name: req.holder_name.trim().to_owned(),
            issued_at: now,
            valid_from: req.valid_from,
            valid_until: req.valid_until,
            status: CertificateStatus::Valid,
            fields: req.fields.clone(),
            app: req.app.clone(),
            case: req.case.clone(),
        };
        let sealed = seal.seal(&certificate.document());
        sqlx::query(&format!(
            "INSERT INTO certificates ({COLUMNS}, sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(&certificate.id)
        .bind(&certificate.type_code)
        .bind(&certificate.type_name)
        .bind(&certificate.issuer_code)
        .bind(&certificate.issuer_name)
        .bind(&certificate.holder)
        .bind(&certificate.holder_name)
        .bind(certificate.issued_at)
        .bind(certificate.valid_from)
        .bind(certificate.valid_until)
        .bind(certificate.status.as_str())
        .bind(serde_json::to_string(&certificate.fields).expect("fields serialize"))
        .bind(&certificate.app)
        .bind(&certificate.case)
        .bind(sealed.to_json_pretty())
        .execute(&mut *tx)
        .await?;
        append_entry(
            &mut tx,
            &req.actor,
            "certificate.issue",
            &format!("certificate:{id}"),
            "",
            &sealed.sm3,
        )
        .await?;
        tx.commit().await?;
        Ok(certificate)
    }

    async fn certificate_of_case(&self, case: &str, type_code: &str) -> ServiceResult<Option<Certificate>> {
        let now = now_ms();
        Ok(sqlx::query(&format!(
            "SELECT {COLUMNS} FROM certificates WHERE case_id = $1 AND type_code = $2"
        ))
        .bind(case)
        .bind(type_code)
        .fetch_optional(self.db().pool())
        .await?
        .map(|r| from_row(&r, now))
        .transpose()?)
    }

    /// One certificate by id (for the holder's own pages and the capability;
    /// callers check who may see it).
    pub async fn certificate(&self, id: &str) -> ServiceResult<Certificate> {
        let now = now_ms();
        sqlx::query(&format!("SELECT {COLUMNS} FROM certificates WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db().pool())
            .await?
            .map(|r| from_row(&r, now))
            .transpose()?
            .ok_or_else(|| ServiceError::not_found(format!("certificate {id}")))
    }

    /// The status of a certificate, and nothing else (the public verify).
    pub async fn certificate_status(&self, id: &str) -> ServiceResult<CertificateStatus> {
        let parsed: CertificateId = id
            .parse()
            .map_err(|e: super::IdentifierError| ServiceError::invalid(e.to_string()))?;
        Ok(self.certificate(&parsed.to_string()).await?.status)
    }

    /// A holder's certificates, optionally only of some types, newest first.
    pub async fn certificates_held(
        &self,
        holder: &str,
        type_codes: Option<&[String]>,
    ) -> ServiceResult<Vec<Certificate>> {
        let now = now_ms();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM certificates WHERE holder_id = $1 ORDER BY issued_at DESC, id"
        ))
        .bind(holder)
        .fetch_all(self.db().pool())
        .await?;
        let all: Vec<Certificate> = rows.iter().map(|r| from_row(r, now)).collect::<Result<_, _>>()?;
        Ok(match type_codes {
            Some(codes) => all.into_iter().filter(|c| codes.contains(&c.type_code)).collect(),
            None => all,
        })
    }

    /// The sealed document of a certificate as issued.
    pub async fn sealed_certificate(&self, id: &str) -> ServiceResult<SealedDocument> {
        let text: String = sqlx::query("SELECT sealed FROM certificates WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db().pool())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .ok_or_else(|| ServiceError::not_found(format!("certificate {id}")))?;
        SealedDocument::from_json(&text).map_err(|e| ServiceError::Unavailable(format!("stored seal of {id}: {e}")))
    }

    /// An annotated copy of one of `holder`'s certificates, for a purpose,
    /// valid until `expires_at` (at most a year). Only a valid certificate is
    /// copied.
    pub async fn annotated_copy(
        &self,
        holder: &str,
        id: &str,
        purpose: &str,
        purpose_text: &str,
        expires_at: i64,
    ) -> ServiceResult<AnnotatedCopy> {
        self.copy_of(holder, id, purpose, purpose_text, expires_at, false).await
    }

    /// An annotated copy made for an app: ID numbers are masked before
    /// sealing, so the seal the app receives covers exactly what it sees and
    /// reveals nothing it does not.
    pub async fn annotated_copy_for_app(
        &self,
        holder: &str,
        id: &str,
        purpose: &str,
        purpose_text: &str,
        expires_at: i64,
    ) -> ServiceResult<AnnotatedCopy> {
        self.copy_of(holder, id, purpose, purpose_text, expires_at, true).await
    }

    async fn copy_of(
        &self,
        holder: &str,
        id: &str,
        purpose: &str,
        purpose_text: &str,
        expires_at: i64,
        masked: bool,
    ) -> ServiceResult<AnnotatedCopy> {
        let certificate = self.certificate(id).await?;
        let certificate = if masked {
            certificate.masked_for_apps()
        } else {
            certificate
        };
        if certificate.holder != holder {
            return Err(ServiceError::not_found(format!("certificate {id}")));
        }
        if certificate.status != CertificateStatus::Valid {
            return Err(ServiceError::conflict(format!(
                "certificate {id} is {}; only a valid certificate can be copied",
                certificate.status.as_str()
            )));
        }
        let now = now_ms();
        if purpose.trim().is_empty() || expires_at <= now || expires_at > now + crate::consent::MAX_CONSENT_MS {
            return Err(ServiceError::invalid(
                "an annotated copy needs a purpose and an expiry within the next year",
            ));
        }
        let seal = &self.keys().await?.seal;
        let document = json!({
            "kind": "annotated-copy",
            "certificate": certificate.document(),
            "purpose": { "code": purpose, "text": purpose_text },
            "copied-at": now,
            "expires-at": expires_at,
            "trust-level": "platform-sealed",
        });
        Ok(AnnotatedCopy {
            sealed: seal.seal(&document),
            certificate,
            purpose: purpose.into(),
            purpose_text: purpose_text.into(),
            expires_at,
        })
    }

    /// Change a certificate's status: only the issuing org, always with a reason.
    pub async fn set_certificate_status(
        &self,
        id: &str,
        to: CertificateStatus,
        reason: &str,
        actor: &str,
        actor_org: &str,
    ) -> ServiceResult<Certificate> {
        let certificate = self.certificate(id).await?;
        if certificate.issuer_code != actor_org {
            return Err(ServiceError::forbidden(format!(
                "only the issuing org {} may change the status of certificate {id}",
                certificate.issuer_code
            )));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > 1024 {
            return Err(ServiceError::invalid(
                "a status change needs a reason of 1 to 1024 bytes",
            ));
        }
        if !certificate.status.may_become(to) {
            return Err(ServiceError::conflict(format!(
                "certificate {id} is {} and cannot become {}",
                certificate.status.as_str(),
                to.as_str()
            )));
        }
        let now = now_ms();
        let mut tx = self.db().begin_write().await?;
        let changed = sqlx::query("UPDATE certificates SET status = $1 WHERE id = $2 AND status = $3")
            .bind(to.as_str())
            .bind(id)
            .bind(certificate.status.as_str())
            .execute(&mut *tx)
            .await?;
        if changed.rows_affected() != 1 {
            return Err(ServiceError::conflict(format!(
                "certificate {id} changed at the same time; look at it again"
            )));
        }
        sqlx::query(
            "INSERT INTO certificate_status_changes (certificate_id, at, from_status, to_status, reason, actor, actor_org)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(now)
        .bind(certificate.status.as_str())
        .bind(to.as_str())
        .bind(reason)
        .bind(actor)
        .bind(actor_org)
        .execute(&mut *tx)
        .await?;
        append_entry(
            &mut tx,
            actor,
            &format!("certificate.{}", to.as_str()),
            &format!("certificate:{id}"),
            &state_digest(&certificate.status),
            &state_digest(&json!({ "status": to, "reason": reason })),
        )
        .await?;
        tx.commit().await?;
        self.certificate(id).await
    }
}
