//! Fees (LIFECYCLES.md §3), after GOV.UK Pay.
//!
//! A payment moves `created → started → submitted` and then to exactly one
//! final status, `success`, `failed`, `cancelled` or `error`:
//!
//! - `created`: the app asked for a fee on one of its cases
//!   ([`Services::create_payment`], idempotent per app and key);
//! - `started`: the citizen opened the hosted pay page
//!   ([`Services::start_payment`]);
//! - `submitted`: the citizen pressed pay or decline
//!   ([`Services::sandbox_settle`] for the sandbox bank);
//! - final: the provider's signed callback said so
//!   ([`Services::apply_callback`]).
//!
//! Callbacks may arrive twice, concurrently, or out of order. Each is recorded
//! once by its `(provider, event_id)` in `payment_callbacks`, and applied only
//! if it moves the payment forward, by a compare-and-set on the status in the
//! same transaction; a final status never changes. The move to `success`
//! appends the case's `paid` event in that transaction too, so the app's
//! `on-event` hook hears `paid(payment-id)` exactly once.
//!
//! Refunds ([`Services::refund_payment`]) apply to successful payments only,
//! are idempotent per payment and key, and can never together exceed the
//! amount: the bound is part of the `UPDATE` that adds them. Reconciliation
//! ([`Services::reconciliation`]) totals an org's settlements and refunds per
//! civil day in China Standard Time.
//!
//! - [`provider`]: the trait a provider implements.
//! - [`sandbox`]: the built-in sandbox bank.

pub mod provider;
pub mod sandbox;

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;
use tongban_store::now_ms;

use crate::Services;
use crate::cases::CaseActor;
use crate::cases::calendar::WorkCalendar;
use crate::error::{ServiceError, ServiceResult};
use provider::PaymentProvider;
use sandbox::SandboxBank;

/// The largest fee, in fen (分): about 42.9 million yuan, far above any
/// government fee, and small enough that sums of a day cannot overflow.
pub const MAX_AMOUNT_FEN: u64 = u32::MAX as u64;
/// The longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 256;
/// The longest idempotency key, in characters.
pub const MAX_KEY_CHARS: usize = 128;
/// The provider new payments go through.
pub const DEFAULT_PROVIDER: &str = sandbox::NAME;

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaymentStatus {
    Created,
    Started,
    Submitted,
    Success,
    Failed,
    Cancelled,
    Error,
}

impl PaymentStatus {
    /// Every status, in the order of the lifecycle.
    pub const ALL: [PaymentStatus; 7] = [
        PaymentStatus::Created,
        PaymentStatus::Started,
        PaymentStatus::Submitted,
        PaymentStatus::Success,
        PaymentStatus::Failed,
        PaymentStatus::Cancelled,
        PaymentStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Created => "created",
            PaymentStatus::Started => "started",
            PaymentStatus::Submitted => "submitted",
            PaymentStatus::Success => "success",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Cancelled => "cancelled",
            PaymentStatus::Error => "error",
        }
    }

    /// The status named `text`, if any.
    pub fn parse(text: &str) -> Option<PaymentStatus> {
        PaymentStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the payment is over; a final status never changes.
    pub fn is_final(self) -> bool {
        self.rank() == 3
    }

    /// How far along the lifecycle the status is: a callback is applied only
    /// if it raises the rank, so the four final statuses share the top one.
    pub fn rank(self) -> u8 {
        match self {
            PaymentStatus::Created => 0,
            PaymentStatus::Started => 1,
            PaymentStatus::Submitted => 2,
            PaymentStatus::Success | PaymentStatus::Failed | PaymentStatus::Cancelled | PaymentStatus::Error => 3,
        }
    }
}

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub id: String,
    pub app: String,
    /// The unified social credit code of the org the fee is paid to.
    pub org: String,
    pub case: String,
    pub amount_fen: u64,
    pub description: String,
    pub status: PaymentStatus,
    /// The sum of the refunds so far; never more than `amount_fen`.
    pub refunded_fen: u64,
    pub provider: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the payment reached its final status, by the platform's clock.
    pub settled_at: Option<i64>,
}

/// What creating a payment needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub app: String,
    pub org: String,
    pub case: String,
    pub amount_fen: u64,
    pub description: String,
    /// Chosen by the app: creating again with the same key and the same body
    /// returns the first payment instead of charging twice.
    pub idempotency_key: String,
}

/// What the citizen pressed on the sandbox bank's pay page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayDecision {
    Pay,
    Decline,
}

impl PayDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            PayDecision::Pay => "pay",
            PayDecision::Decline => "decline",
        }
    }

    /// The decision named `text`, if any.
    pub fn parse(text: &str) -> Option<PayDecision> {
        [PayDecision::Pay, PayDecision::Decline]
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

/// A callback as a provider POSTs it to `/api/v1/payments/callbacks/{provider}`:
/// the body, and the signature header value (hex HMAC-SHA256 of the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCallback {
    pub provider: String,
    pub body: Vec<u8>,
    pub signature: String,
}

/// What applying an authentic callback did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "payment", rename_all = "kebab-case")]
pub enum CallbackOutcome {
    /// The callback moved the payment forward; the payment as it is now.
    Applied(Payment),
    /// The callback was recorded but the payment was already as far along
    /// (it came late or out of order); the payment, unchanged.
    Stale(Payment),
    /// This event was received before; nothing changed.
    Duplicate(Payment),
}

impl CallbackOutcome {
    /// The payment, whatever the outcome.
    pub fn payment(&self) -> &Payment {
        match self {
            CallbackOutcome::Applied(p) | CallbackOutcome::Stale(p) | CallbackOutcome::Duplicate(p) => p,
        }
    }
}

/// One payment in a day's reconciliation: it settled successfully that day,
/// or was refunded that day, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconciliationLine {
    pub payment: String,
    pub case: String,
    /// The payment's whole amount.
    pub amount_fen: u64,
    /// The amount counted as paid on the day: the whole amount if the payment
    /// settled successfully that day, else 0.
    pub paid_fen: u64,
    /// The refunds made on the day.
    pub refunded_fen: u64,
    pub status: PaymentStatus,
    pub settled_at: Option<i64>,
}

/// An org's money for one civil day (UTC+8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub org: String,
    pub date: NaiveDate,
    /// Payments that reached `success` on the day, and their sum.
    pub paid_count: u64,
    pub paid_fen: u64,
    /// Refunds made on the day (of payments settled on any day), and their sum.
    pub refund_count: u64,
    pub refunded_fen: u64,
    /// `paid_fen - refunded_fen`; negative when refunds outweigh the day's takings.
    pub net_fen: i64,
    /// The day's payments, in the order they settled (refund-only lines last).
    pub lines: Vec<ReconciliationLine>,
}

const COLUMNS: &str = "id, app_id, org_code, case_id, amount_fen, description, status, refunded_fen, provider, \
                       created_at, updated_at, settled_at";

fn from_row(r: &AnyRow, offset: usize) -> Result<Payment, sqlx::Error> {
    let status: String = r.try_get(offset + 6)?;
    let fen = |i: usize| -> Result<u64, sqlx::Error> {
        let value: i64 = r.try_get(offset + i)?;
        u64::try_from(value).map_err(|_| sqlx::Error::Decode(format!("negative amount {value}").into()))
    };
    Ok(Payment {
        id: r.try_get(offset)?,
        app: r.try_get(offset + 1)?,
        org: r.try_get(offset + 2)?,
        case: r.try_get(offset + 3)?,
        amount_fen: fen(4)?,
        description: r.try_get(offset + 5)?,
        status: PaymentStatus::parse(&status)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown payment status {status}").into()))?,
        refunded_fen: fen(7)?,
        provider: r.try_get(offset + 8)?,
        created_at: r.try_get(offset + 9)?,
        updated_at: r.try_get(offset + 10)?,
        settled_at: r.try_get(offset + 11)?,
    })
}

/// The digest of what a creation asks for, beyond the app and key that name
/// it: a reused key is accepted only with the same digest.
fn request_digest(new: &NewPayment) -> String {
    let body = Value::from(vec![
        Value::from(new.org.as_str()),
        Value::from(new.case.as_str()),
        Value::from(new.amount_fen),
        Value::from(new.description.as_str()),
    ]);
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

fn check_key(key: &str) -> ServiceResult<()> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS {
        return Err(ServiceError::invalid(format!(
            "an idempotency key is 1 to {MAX_KEY_CHARS} characters, not {chars}"
        )));
    }
    Ok(())
}

fn check_new(new: &NewPayment) -> ServiceResult<()> {
    if new.amount_fen == 0 || new.amount_fen > MAX_AMOUNT_FEN {
        return Err(ServiceError::invalid(format!(
            "a payment amount is 1 to {MAX_AMOUNT_FEN} fen, not {}",
            new.amount_fen
        )));
    }
    let chars = new.description.chars().count();
    if new.description.trim().is_empty() || chars > MAX_DESCRIPTION_CHARS {
        return Err(ServiceError::invalid(format!(
            "a payment description is 1 to {MAX_DESCRIPTION_CHARS} characters and not blank; this one is {chars}"
        )));
    }
    check_key(&new.idempotency_key)
}

/// The first millisecond of `date` in China Standard Time, and the first of
/// the day after: the window [`WorkCalendar::date_of`] maps to `date`.
fn day_window(date: NaiveDate) -> (i64, i64) {
    const EIGHT_HOURS_MS: i64 = 8 * 3600 * 1000;
    const DAY_MS: i64 = 24 * 3600 * 1000;
    let start = date.and_time(NaiveTime::MIN).and_utc().timestamp_millis() - EIGHT_HOURS_MS;
    (start, start + DAY_MS)
}

impl Services {
    /// Create a payment of a fee on one of the app's cases, through the
    /// default provider. Creating again with the same app and key returns the
    /// first payment if the body is the same, and is a conflict otherwise.
    pub async fn create_payment(&self, new: NewPayment) -> ServiceResult<Payment> {
        check_new(&new)?;
        let digest = request_digest(&new);
        if let Some(existing) = self.replayed_payment(&new, &digest).await? {
            return Ok(existing);
        }
        let case_app: Option<String> = sqlx::query("SELECT app_id FROM cases WHERE id = $1")
            .bind(&new.case)
            .fetch_optional(self.db().pool())
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        // Another app's case is reported exactly like a missing one, so case
        // numbers cannot be probed.
        if case_app.as_deref() != Some(new.app.as_str()) {
            return Err(ServiceError::not_found(format!("case {}", new.case)));
        }
        let org_known = sqlx::query("SELECT 1 FROM orgs WHERE code = $1")
            .bind(&new.org)
            .fetch_optional(self.db().pool())
            .await?;
        if org_known.is_none() {
            return Err(ServiceError::not_found(format!("org {} is not registered", new.org)));
        }
        let now = now_ms();
        let id = crate::fresh_id("pay");
        let inserted = sqlx::query(&format!(
            "INSERT INTO payments ({COLUMNS}, idempotency_key, request_digest)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $9, NULL, $10, $11)
             ON CONFLICT (app_id, idempotency_key) DO NOTHING"
        ))
        .bind(&id)
        .bind(&new.app)
        .bind(&new.org)
        .bind(&new.case)
        .bind(new.amount_fen as i64)
        .bind(&new.description)
        .bind(PaymentStatus::Created.as_str())
        .bind(DEFAULT_PROVIDER)
        .bind(now)
        .bind(&new.idempotency_key)
        .bind(&digest)
        .execute(self.db().pool())
        .await?;
        if inserted.rows_affected() == 1 {
            return self.payment(&id).await;
        }
        // A concurrent creation with the same key won the unique index.
        self.replayed_payment(&new, &digest)
            .await?
            .ok_or_else(|| ServiceError::Unavailable("the payment could not be stored; try again".into()))
    }

    /// The payment an earlier creation with the same app and key made, if the
    /// body matches; a conflict naming the key if it does not.
    async fn replayed_payment(&self, new: &NewPayment, digest: &str) -> ServiceResult<Option<Payment>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, request_digest FROM payments WHERE app_id = $1 AND idempotency_key = $2"
        ))
        .bind(&new.app)
        .bind(&new.idempotency_key)
        .fetch_optional(self.db().pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stored: String = row.try_get(12)?;
        if stored != digest {
            return Err(ServiceError::conflict(format!(
                "idempotency key `{}` was already used for a different payment",
                new.idempotency_key
            )));
        }
        Ok(Some(from_row(&row, 0)?))
    }

    /// A payment by id, for the host (callers check visibility).
    pub async fn payment(&self, id: &str) -> ServiceResult<Payment> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM payments WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db().pool())
            .await?
            .map(|r| from_row(&r, 0))
            .transpose()?
            .ok_or_else(|| ServiceError::not_found(format!("payment {id}")))
    }

    /// A payment as `app` may see it: only its own; another app's payment is
    /// reported as missing.
    pub async fn payment_for_app(&self, app: &str, id: &str) -> ServiceResult<Payment> {
        let payment = self.payment(id).await?;
        if payment.app != app {
            return Err(ServiceError::not_found(format!("payment {id}")));
        }
        Ok(payment)
    }

    /// A case's payments, oldest first.
    pub async fn payments_of_case(&self, case: &str) -> ServiceResult<Vec<Payment>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payments WHERE case_id = $1 ORDER BY created_at, id"
        ))
        .bind(case)
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.iter().map(|r| from_row(r, 0)).collect::<Result<_, _>>()?)
    }

    /// The citizen opened the hosted pay page: `created → started`. Opening it
    /// again while started changes nothing; a payment already submitted or
    /// over cannot be started.
    pub async fn start_payment(&self, id: &str) -> ServiceResult<Payment> {
        sqlx::query("UPDATE payments SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
            .bind(PaymentStatus::Started.as_str())
            .bind(now_ms())
            .bind(id)
            .bind(PaymentStatus::Created.as_str())
            .execute(self.db().pool())
            .await?;
        let payment = self.payment(id).await?;
        if payment.status != PaymentStatus::Started {
            return Err(ServiceError::conflict(format!(
                "payment {id} is {}; only a created payment can be started",
                payment.status.as_str()
            )));
        }
        Ok(payment)
    }

    /// The citizen pressed pay or decline on the sandbox bank's page:
    /// `started → submitted`, with the bank's record of the decision in the
    /// same transaction, and the signed callbacks the bank POSTs in order
    /// (`submitted`, then `success` for pay or `failed` for decline). The
    /// payment reaches its final status only when those are applied; if they
    /// never are (the node died first), the bank sends them again
    /// ([`Services::sandbox_redeliver`]).
    pub async fn sandbox_settle(&self, id: &str, decision: PayDecision) -> ServiceResult<Vec<SignedCallback>> {
        let payment = self.payment(id).await?;
        if payment.provider != sandbox::NAME {
            return Err(ServiceError::conflict(format!(
                "payment {id} goes through provider `{}`, not the sandbox bank",
                payment.provider
            )));
        }
        let bank = SandboxBank::load(self.db()).await?;
        let now = now_ms();
        let mut tx = self.db().pool().begin().await?;
        // The bank's record first: it takes SQLite's write lock, and on
        // PostgreSQL a concurrent press on the same payment waits on the
        // primary key until this transaction ends, then records nothing. A
        // payment is decided (and charged) at most once.
        let recorded = sqlx::query(
            "INSERT INTO sandbox_bank_decisions (payment_id, decision, amount_fen, decided_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (payment_id) DO NOTHING",
        )
        .bind(id)
        .bind(decision.as_str())
        .bind(payment.amount_fen as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let moved = if recorded.rows_affected() == 1 {
            sqlx::query("UPDATE payments SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
                .bind(PaymentStatus::Submitted.as_str())
                .bind(now)
                .bind(id)
                .bind(PaymentStatus::Started.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected()
        } else {
            0
        };
        if moved != 1 {
            tx.rollback().await?;
            let now = self.payment(id).await?;
            return Err(ServiceError::conflict(format!(
                "payment {id} is {}; only a started payment (its pay page open) can be paid or declined",
                now.status.as_str()
            )));
        }
        tx.commit().await?;
        Ok(bank.decision_callbacks(id, decision))
    }

    /// The sandbox bank sends its callbacks again, as a real provider retries
    /// a notification until it is taken: for each payment the bank recorded
    /// a decision for at least `after_ms` ago that has not reached a final
    /// status (the node that took the decision died before applying them),
    /// the decision's callbacks, with the same event ids, so whatever was
    /// applied before is a duplicate. Answers how many payments it sent
    /// callbacks for. Every node may run this at once.
    pub async fn sandbox_redeliver(&self, after_ms: i64) -> ServiceResult<usize> {
        let undelivered = sqlx::query(
            "SELECT d.payment_id, d.decision FROM sandbox_bank_decisions d JOIN payments p ON p.id = d.payment_id
             WHERE d.decided_at <= $1 AND p.status IN ($2, $3, $4)
             ORDER BY d.decided_at, d.payment_id",
        )
        .bind(now_ms() - after_ms)
        .bind(PaymentStatus::Created.as_str())
        .bind(PaymentStatus::Started.as_str())
        .bind(PaymentStatus::Submitted.as_str())
        .fetch_all(self.db().pool())
        .await?;
        if undelivered.is_empty() {
            return Ok(0);
        }
        let bank = SandboxBank::load(self.db()).await?;
        for row in &undelivered {
            let id: String = row.try_get(0)?;
            let text: String = row.try_get(1)?;
            let decision = PayDecision::parse(&text)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown sandbox decision {text}").into()))?;
            for callback in bank.decision_callbacks(&id, decision) {
                self.apply_callback(&callback.provider, &callback.body, &callback.signature)
                    .await?;
            }
        }
        Ok(undelivered.len())
    }

    /// The provider called `name`, with its keys loaded.
    pub async fn payment_provider(&self, name: &str) -> ServiceResult<Box<dyn PaymentProvider>> {
        match name {
            sandbox::NAME => Ok(Box::new(SandboxBank::load(self.db()).await?)),
            _ => Err(ServiceError::not_found(format!("payment provider `{name}`"))),
        }
    }

    /// Apply a callback POSTed by `provider`: authenticate it (a forged or
    /// altered one is refused and nothing is written), record it once by its
    /// event id, and move the payment forward if it says the payment got
    /// further than it is. Reaching `success` appends the case's `paid`
    /// event in the same transaction.
    pub async fn apply_callback(&self, provider: &str, body: &[u8], signature: &str) -> ServiceResult<CallbackOutcome> {
        let verifier = self.payment_provider(provider).await?;
        let event = verifier.verify_callback(body, signature)?;
        let payment = self.payment(&event.payment_id).await?;
        if payment.provider != verifier.name() {
            return Err(ServiceError::forbidden(format!(
                "payment {} goes through provider `{}`, not `{}`",
                payment.id,
                payment.provider,
                verifier.name()
            )));
        }
        let now = now_ms();
        let mut tx = self.db().pool().begin().await?;
        // Writing first takes SQLite's write lock at once, and on PostgreSQL a
        // concurrent delivery of the same event waits on the primary key
        // until this transaction ends, then inserts nothing.
        let recorded = sqlx::query(
            "INSERT INTO payment_callbacks (provider, event_id, payment_id, status, applied, received_at)
             VALUES ($1, $2, $3, $4, 0, $5)
             ON CONFLICT (provider, event_id) DO NOTHING",
        )
        .bind(verifier.name())
        .bind(&event.event_id)
        .bind(&event.payment_id)
        .bind(event.status.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if recorded.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(CallbackOutcome::Duplicate(self.payment(&payment.id).await?));
        }
        // Compare-and-set: the move happens only from a status of lower rank,
        // so of two racing events only one can take the payment to a final
        // status, and a final status never changes.
        let earlier: Vec<PaymentStatus> = PaymentStatus::ALL
            .into_iter()
            .filter(|s| s.rank() < event.status.rank())
            .collect();
        let mut applied = false;
        if !earlier.is_empty() {
            let placeholders: Vec<String> = (0..earlier.len()).map(|i| format!("${}", i + 5)).collect();
            let sql = format!(
                "UPDATE payments SET status = $1, updated_at = $2, settled_at = $3
                 WHERE id = $4 AND status IN ({})",
                placeholders.join(", ")
            );
            let mut update = sqlx::query(&sql)
                .bind(event.status.as_str())
                .bind(now)
                .bind(event.status.is_final().then_some(now))
                .bind(&payment.id);
            for status in &earlier {
                update = update.bind(status.as_str());
            }
            applied = update.execute(&mut *tx).await?.rows_affected() == 1;
        }
        if applied {
            sqlx::query("UPDATE payment_callbacks SET applied = 1 WHERE provider = $1 AND event_id = $2")
                .bind(verifier.name())
                .bind(&event.event_id)
                .execute(&mut *tx)
                .await?;
            if event.status == PaymentStatus::Success {
                crate::cases::append_event(
                    &mut tx,
                    &payment.case,
                    "paid",
                    &payment.id,
                    &CaseActor::system("payments"),
                    None,
                )
                .await?;
            }
        }
        tx.commit().await?;
        let now = self.payment(&payment.id).await?;
        Ok(if applied {
            CallbackOutcome::Applied(now)
        } else {
            CallbackOutcome::Stale(now)
        })
    }

    /// Refund part or all of what remains of `app`'s successful payment.
    /// Refunding again with the same key and amount returns the payment as
    /// it is; the same key with another amount is a conflict.
    pub async fn refund_payment(
        &self,
        app: &str,
        id: &str,
        amount_fen: u64,
        idempotency_key: &str,
    ) -> ServiceResult<Payment> {
        check_key(idempotency_key)?;
        if amount_fen == 0 || amount_fen > MAX_AMOUNT_FEN {
            return Err(ServiceError::invalid(format!(
                "a refund amount is 1 to {MAX_AMOUNT_FEN} fen, not {amount_fen}"
            )));
        }
        let payment = self.payment_for_app(app, id).await?;
        if let Some(replayed) = self.replayed_refund(&payment, amount_fen, idempotency_key).await? {
            return Ok(replayed);
        }
        if payment.status != PaymentStatus::Success {
            return Err(ServiceError::conflict(format!(
                "payment {id} is {}; only a successful payment can be refunded",
                payment.status.as_str()
            )));
        }
        let now = now_ms();
        let mut tx = self.db().pool().begin().await?;
        // The refund row first: it takes SQLite's write lock, and on
        // PostgreSQL a concurrent refund with the same key waits on the unique
        // index until this transaction ends, then inserts nothing.
        let recorded = sqlx::query(
            "INSERT INTO payment_refunds (id, payment_id, amount_fen, idempotency_key, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (payment_id, idempotency_key) DO NOTHING",
        )
        .bind(crate::fresh_id("refund"))
        .bind(id)
        .bind(amount_fen as i64)
        .bind(idempotency_key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if recorded.rows_affected() != 1 {
            tx.rollback().await?;
            return self
                .replayed_refund(&payment, amount_fen, idempotency_key)
                .await?
                .ok_or_else(|| ServiceError::Unavailable("the refund could not be stored; try again".into()));
        }
        // The bound is in the statement, so concurrent refunds are checked
        // against each other's committed sums, never against a stale read.
        let added = sqlx::query(
            "UPDATE payments SET refunded_fen = refunded_fen + $1, updated_at = $2
             WHERE id = $3 AND status = $4 AND refunded_fen + $1 <= amount_fen",
        )
        .bind(amount_fen as i64)
        .bind(now)
        .bind(id)
        .bind(PaymentStatus::Success.as_str())
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() != 1 {
            tx.rollback().await?;
            let now = self.payment(id).await?;
            return Err(ServiceError::conflict(format!(
                "a refund of {amount_fen} fen is more than the {} fen that remains of payment {id}",
                now.amount_fen - now.refunded_fen
            )));
        }
        tx.commit().await?;
        self.payment(id).await
    }

    /// The payment if a refund with this key was already made, for this
    /// amount; a conflict naming the key if for another amount.
    async fn replayed_refund(&self, payment: &Payment, amount_fen: u64, key: &str) -> ServiceResult<Option<Payment>> {
        let earlier: Option<i64> =
            sqlx::query("SELECT amount_fen FROM payment_refunds WHERE payment_id = $1 AND idempotency_key = $2")
                .bind(&payment.id)
                .bind(key)
                .fetch_optional(self.db().pool())
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
        match earlier {
            None => Ok(None),
            Some(earlier) if earlier == amount_fen as i64 => Ok(Some(self.payment(&payment.id).await?)),
            Some(earlier) => Err(ServiceError::conflict(format!(
                "idempotency key `{key}` was already used for a refund of {earlier} fen on payment {}",
                payment.id
            ))),
        }
    }

    /// An org's money for one civil day in China Standard Time: the payments
    /// that reached `success` that day, the refunds made that day, and the net.
    pub async fn reconciliation(&self, org: &str, date: NaiveDate) -> ServiceResult<Reconciliation> {
        let known = sqlx::query("SELECT 1 FROM orgs WHERE code = $1")
            .bind(org)
            .fetch_optional(self.db().pool())
            .await?;
        if known.is_none() {
            return Err(ServiceError::not_found(format!("org {org} is not registered")));
        }
        let (start, end) = day_window(date);
        let settled = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payments
             WHERE org_code = $1 AND status = $2 AND settled_at >= $3 AND settled_at < $4
             ORDER BY settled_at, id"
        ))
        .bind(org)
        .bind(PaymentStatus::Success.as_str())
        .bind(start)
        .bind(end)
        .fetch_all(self.db().pool())
        .await?;
        let qualified: Vec<String> = COLUMNS.split(", ").map(|c| format!("p.{}", c.trim())).collect();
        let refunds = sqlx::query(&format!(
            "SELECT r.amount_fen, r.created_at, {} FROM payment_refunds r JOIN payments p ON p.id = r.payment_id
             WHERE p.org_code = $1 AND r.created_at >= $2 AND r.created_at < $3
             ORDER BY r.created_at, r.id",
            qualified.join(", ")
        ))
        .bind(org)
        .bind(start)
        .bind(end)
        .fetch_all(self.db().pool())
        .await?;

        let mut report = Reconciliation {
            org: org.to_owned(),
            date,
            paid_count: 0,
            paid_fen: 0,
            refund_count: 0,
            refunded_fen: 0,
            net_fen: 0,
            lines: Vec::new(),
        };
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        for row in &settled {
            let payment = from_row(row, 0)?;
            // The window and the calendar agree by construction; checking
            // keeps the report's day the calendar's day if either changes.
            if payment.settled_at.map(WorkCalendar::date_of) != Some(date) {
                continue;
            }
            report.paid_count += 1;
            report.paid_fen += payment.amount_fen;
            index.insert(payment.id.clone(), report.lines.len());
            report.lines.push(ReconciliationLine {
                payment: payment.id,
                case: payment.case,
                amount_fen: payment.amount_fen,
                paid_fen: payment.amount_fen,
                refunded_fen: 0,
                status: payment.status,
                settled_at: payment.settled_at,
            });
        }
        for row in &refunds {
            let amount: i64 = row.try_get(0)?;
            let at: i64 = row.try_get(1)?;
            if WorkCalendar::date_of(at) != date {
                continue;
            }
            let amount =
                u64::try_from(amount).map_err(|_| sqlx::Error::Decode(format!("negative refund {amount}").into()))?;
            let payment = from_row(row, 2)?;
            report.refund_count += 1;
            report.refunded_fen += amount;
            let line = match index.get(&payment.id) {
                Some(&i) => i,
                None => {
                    index.insert(payment.id.clone(), report.lines.len());
                    report.lines.push(ReconciliationLine {
                        payment: payment.id,
                        case: payment.case,
                        amount_fen: payment.amount_fen,
                        paid_fen: 0,
                        refunded_fen: 0,
                        status: payment.status,
                        settled_at: payment.settled_at,
                    });
                    report.lines.len() - 1
                }
            };
            report.lines[line].refunded_fen += amount;
        }
        report.net_fen = report.paid_fen as i64 - report.refunded_fen as i64;
        Ok(report)
    }
}
