//! The hash-chained audit log, sealed in signed batches.
//!
//! An entry is appended with one insert and gets its id (`seq`) at once. The
//! sealer later takes the pending entries in id order, gives each the next
//! position in the chain, links each to the one before by hash, and signs the
//! batch's head (its last position and hash) with the registry key, as a
//! Certificate Transparency log signs its tree heads. Editing, deleting or
//! reordering a sealed entry breaks the chain from there on; deleting the tail
//! is caught by the signed batch heads and the recorded head of the chain.
//! Pending entries are not yet protected, and verification says how many
//! there are.
//!
//! Entries written before the sealer existed were chained at append with
//! their id as their position; they form batch 0, which has no signature and
//! must come before every sealed batch.
//!
//! This module is pure: the store appends, seals and reads rows, and
//! [`verify_chain`] judges them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::signing::{SigningKey, verify_text_signature};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The domain tag of a batch head's signature.
pub const BATCH_DOMAIN: &str = "tongban-audit-batch-v1";

/// The fields of an entry that its hash covers, as appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The entry's id, given at append; provenance rows refer to it.
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    /// A digest of the subject's state before and after the action (empty
    /// when there was none).
    pub before: String,
    pub after: String,
}

/// Where the sealer put an entry in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// The entry's place in the chain, from 1 without gaps.
    pub position: i64,
    /// The batch that sealed it; 0 for the entries chained before the sealer.
    pub batch: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// A stored entry: the record and, once sealed, its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    #[serde(flatten)]
    pub record: AuditRecord,
    /// None while the entry waits for the sealer.
    pub seal: Option<Seal>,
}

/// A sealed batch's signed head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchHead {
    pub batch: i64,
    pub first_position: i64,
    pub last_position: i64,
    /// The hash of the entry at `last_position`.
    pub head_hash: String,
    /// When the oldest entry of the batch was appended, and when the batch
    /// was sealed (milliseconds since the Unix epoch): the worst delay from
    /// append to sealed in this batch is their difference.
    pub oldest_at: i64,
    pub sealed_at: i64,
    /// The signing key (hex public key) and its signature over [`BatchHead::signed_text`].
    pub signer: String,
    pub signature: String,
}

impl BatchHead {
    /// What the signature covers: the batch, its range, its head hash and
    /// when it was sealed, one per line.
    pub fn signed_text(batch: i64, first_position: i64, last_position: i64, head_hash: &str, sealed_at: i64) -> String {
        format!("{batch}\n{first_position}\n{last_position}\n{head_hash}\n{sealed_at}")
    }
}

fn hash_fields(fields: &[&str]) -> String {
    let mut h = Sha256::new();
    for field in fields {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The hash of a sealed entry at `position`, chained to `prev_hash`: SHA-256
/// over length-prefixed fields, so no two different entries encode alike.
pub fn entry_hash(prev_hash: &str, position: i64, r: &AuditRecord) -> String {
    let (position, seq, at) = (position.to_string(), r.seq.to_string(), r.at.to_string());
    hash_fields(&[
        prev_hash, &position, &seq, &at, &r.actor, &r.action, &r.subject, &r.before, &r.after,
    ])
}

/// The hash of an entry of batch 0, chained at append (its position is its id).
pub fn batch_zero_hash(prev_hash: &str, r: &AuditRecord) -> String {
    let (seq, at) = (r.seq.to_string(), r.at.to_string());
    hash_fields(&[
        prev_hash, &seq, &at, &r.actor, &r.action, &r.subject, &r.before, &r.after,
    ])
}

/// Seal `records` (pending entries, in id order) as batch `batch` after the
/// chain's head at `head_position` with `head_hash`: each record's seal, and
/// the batch's signed head. `records` must not be empty.
pub fn seal_batch(
    key: &SigningKey,
    batch: i64,
    head_position: i64,
    head_hash: &str,
    records: &[AuditRecord],
    sealed_at: i64,
) -> (Vec<Seal>, BatchHead) {
    assert!(!records.is_empty(), "a batch seals at least one entry");
    let mut prev = head_hash.to_owned();
    let mut seals = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let position = head_position + 1 + i as i64;
        let hash = entry_hash(&prev, position, record);
        seals.push(Seal {
            position,
            batch,
            prev_hash: std::mem::replace(&mut prev, hash.clone()),
            hash,
        });
    }
    let (first, last) = (head_position + 1, head_position + records.len() as i64);
    let signature = key.sign_text(
        BATCH_DOMAIN,
        &BatchHead::signed_text(batch, first, last, &prev, sealed_at),
    );
    let head = BatchHead {
        batch,
        first_position: first,
        last_position: last,
        head_hash: prev,
        oldest_at: records.iter().map(|r| r.at).min().unwrap_or(sealed_at),
        sealed_at,
        signer: key.public_key_hex(),
        signature,
    };
    (seals, head)
}

/// Where and why a chain is broken: the first position that fails, and the
/// entry there when it still exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at position {position}{}: {reason}", entry.map(|e| format!(" (entry {e})")).unwrap_or_default())]
pub struct BrokenChain {
    pub position: i64,
    pub entry: Option<i64>,
    pub reason: String,
}

/// What an intact chain holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    /// Sealed entries checked, batch 0 included.
    pub sealed: u64,
    /// Signed batches checked.
    pub batches: u64,
}

fn broken(position: i64, entry: Option<i64>, reason: impl Into<String>) -> BrokenChain {
    BrokenChain {
        position,
        entry,
        reason: reason.into(),
    }
}

/// Walk the sealed entries in position order and name the first broken one,
/// then check every batch head's range, hash and signature against
/// `registry_key` (a hex public key), and the recorded head of the chain
/// (`head`: the last sealed position and its hash).
pub fn verify_chain<I>(
    sealed: I,
    batches: &[BatchHead],
    head: Option<(i64, String)>,
    registry_key: &str,
) -> Result<ChainSummary, BrokenChain>
where
    I: IntoIterator<Item = AuditEntry>,
{
    let by_number: BTreeMap<i64, &BatchHead> = batches.iter().map(|b| (b.batch, b)).collect();
    let mut expected = 1i64;
    let mut prev = GENESIS.to_owned();
    let mut in_batches = false;
    let mut last_batch_zero = 0i64;
    // The hash at each batch's last position, to check against its head.
    let batch_ends: BTreeMap<i64, i64> = batches.iter().map(|b| (b.last_position, b.batch)).collect();
    let mut end_hashes: BTreeMap<i64, String> = BTreeMap::new();
    for entry in sealed {
        let seq = entry.record.seq;
        let Some(seal) = entry.seal else {
            continue;
        };
        let position = seal.position;
        if position != expected {
            return Err(if position > expected {
                broken(
                    expected,
                    None,
                    format!(
                        "the entries at positions {expected} to {} are missing (deleted)",
                        position - 1
                    ),
                )
            } else {
                broken(position, Some(seq), "the entry appears twice or out of order")
            });
        }
        if seal.prev_hash != prev {
            return Err(broken(
                position,
                Some(seq),
                "its link to the previous entry does not match (the entry before it was edited or replaced)",
            ));
        }
        let hash = if seal.batch == 0 {
            if in_batches {
                return Err(broken(
                    position,
                    Some(seq),
                    "an entry of batch 0 (chained before the sealer) appears after sealed batches",
                ));
            }
            if position != seq {
                return Err(broken(
                    position,
                    Some(seq),
                    "an entry of batch 0 must sit at its own id",
                ));
            }
            last_batch_zero = position;
            batch_zero_hash(&prev, &entry.record)
        } else {
            in_batches = true;
            let Some(batch) = by_number.get(&seal.batch) else {
                return Err(broken(
                    position,
                    Some(seq),
                    format!("it names batch {}, whose signed head is missing", seal.batch),
                ));
            };
            if position < batch.first_position || position > batch.last_position {
                return Err(broken(
                    position,
                    Some(seq),
                    format!("it lies outside batch {} that it names", seal.batch),
                ));
            }
            entry_hash(&prev, position, &entry.record)
        };
        if hash != seal.hash {
            return Err(broken(
                position,
                Some(seq),
                "its contents do not match its hash (the entry was edited)",
            ));
        }
        if batch_ends.contains_key(&position) {
            end_hashes.insert(position, seal.hash.clone());
        }
        prev = seal.hash;
        expected += 1;
    }
    let last = expected - 1;

    // The batches: numbered from 1 without gaps, each starting where the one
    // before ended, each head the hash of its last entry, each signed.
    let mut next_first = last_batch_zero + 1;
    for (i, batch) in batches.iter().enumerate() {
        let number = i as i64 + 1;
        if batch.batch != number {
            return Err(broken(
                next_first,
                None,
                format!("batch {number}'s signed head is missing"),
            ));
        }
        if batch.first_position != next_first || batch.last_position < batch.first_position {
            return Err(broken(
                next_first,
                None,
                format!("batch {number} does not start where the chain before it ends"),
            ));
        }
        if batch.last_position > last {
            return Err(broken(
                last + 1,
                None,
                format!(
                    "the entries at positions {} to {} of batch {number} are missing (deleted)",
                    last + 1,
                    batch.last_position
                ),
            ));
        }
        if end_hashes.get(&batch.last_position) != Some(&batch.head_hash) {
            return Err(broken(
                batch.last_position,
                None,
                format!("batch {number}'s signed head does not match its last entry (entries were rewritten)"),
            ));
        }
        let text = BatchHead::signed_text(
            batch.batch,
            batch.first_position,
            batch.last_position,
            &batch.head_hash,
            batch.sealed_at,
        );
        if batch.signer != registry_key
            || !crate::signing::parse_public_key(&batch.signer)
                .is_ok_and(|key| verify_text_signature(BATCH_DOMAIN, &text, &batch.signature, &key))
        {
            return Err(broken(
                batch.first_position,
                None,
                format!("batch {number}'s head is not signed by the registry key"),
            ));
        }
        next_first = batch.last_position + 1;
    }
    if let Some(batch) = batches.last()
        && batch.last_position != last
    {
        return Err(broken(
            batch.last_position + 1,
            None,
            format!("sealed entries after batch {}'s end have no signed head", batch.batch),
        ));
    }
    // The recorded head of the chain catches a deleted tail whose batch
    // heads were deleted with it.
    match head {
        Some((head_position, head_hash)) if head_position != last || (last > 0 && head_hash != prev) => Err(broken(
            last + 1,
            None,
            format!("the chain ends at position {last}, but the recorded head is position {head_position}"),
        )),
        None if last > 0 => Err(broken(last, None, "the chain head record is missing")),
        _ => Ok(ChainSummary {
            sealed: last as u64,
            batches: batches.len() as u64,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64) -> AuditRecord {
        AuditRecord {
            seq,
            at: 1_700_000_000_000 + seq,
            actor: "reviewer-1".into(),
            action: "approve".into(),
            subject: format!("cn.gov.a.b@1.0.{seq}"),
            before: "in-review".into(),
            after: "approved".into(),
        }
    }

    /// `legacy` entries chained at append (batch 0), then the ids in `batches`
    /// sealed one batch each, as the sealer would.
    struct Log {
        entries: Vec<AuditEntry>,
        batches: Vec<BatchHead>,
        key: SigningKey,
    }

    impl Log {
        fn new(legacy: i64, batches: &[&[i64]]) -> Log {
            let key = SigningKey::generate();
            let mut entries = Vec::new();
            let mut prev = GENESIS.to_owned();
            for seq in 1..=legacy {
                let r = record(seq);
                let hash = batch_zero_hash(&prev, &r);
                entries.push(AuditEntry {
                    record: r,
                    seal: Some(Seal {
                        position: seq,
                        batch: 0,
                        prev_hash: std::mem::replace(&mut prev, hash.clone()),
                        hash,
                    }),
                });
            }
            let mut heads = Vec::new();
            for (i, ids) in batches.iter().enumerate() {
                let records: Vec<AuditRecord> = ids.iter().map(|&seq| record(seq)).collect();
                let position = entries.len() as i64;
                let (seals, head) = seal_batch(&key, i as i64 + 1, position, &prev, &records, 1_800_000_000_000);
                prev = head.head_hash.clone();
                heads.push(head);
                for (record, seal) in records.into_iter().zip(seals) {
                    entries.push(AuditEntry {
                        record,
                        seal: Some(seal),
                    });
                }
            }
            Log {
                entries,
                batches: heads,
                key,
            }
        }

        fn head(&self) -> Option<(i64, String)> {
            self.entries
                .iter()
                .rev()
                .find_map(|e| e.seal.as_ref())
                .map(|s| (s.position, s.hash.clone()))
        }

        fn verify(&self) -> Result<ChainSummary, BrokenChain> {
            self.verify_with(self.head())
        }

        fn verify_with(&self, head: Option<(i64, String)>) -> Result<ChainSummary, BrokenChain> {
            verify_chain(self.entries.clone(), &self.batches, head, &self.key.public_key_hex())
        }
    }

    #[test]
    fn an_intact_chain_verifies_with_batch_zero_and_sealed_batches() {
        // Ids need not follow positions: 9 committed before 7 and 8.
        let log = Log::new(3, &[&[4, 5, 6], &[9], &[7, 8]]);
        assert_eq!(log.verify(), Ok(ChainSummary { sealed: 9, batches: 3 }));
        assert_eq!(Log::new(0, &[]).verify(), Ok(ChainSummary { sealed: 0, batches: 0 }));
        assert_eq!(
            Log::new(0, &[&[1, 2]]).verify(),
            Ok(ChainSummary { sealed: 2, batches: 1 })
        );
    }

    #[test]
    fn an_edit_is_caught_at_the_edited_entry_in_either_kind_of_batch() {
        for index in [1, 5] {
            let mut log = Log::new(3, &[&[4, 5, 6]]);
            log.entries[index].record.actor = "mallory".into();
            let err = log.verify().unwrap_err();
            assert_eq!(
                (err.position, err.entry),
                (index as i64 + 1, Some(index as i64 + 1)),
                "{err}"
            );
            assert!(err.reason.contains("edited"), "{err}");
        }
    }

    #[test]
    fn a_rehashed_edit_is_caught_at_the_next_link_and_a_rewritten_tail_at_the_signed_head() {
        let mut log = Log::new(0, &[&[1, 2, 3, 4]]);
        let entry = &mut log.entries[1];
        entry.record.action = "reject".into();
        let seal = entry.seal.as_mut().unwrap();
        seal.hash = entry_hash(&seal.prev_hash, 2, &entry.record);
        assert_eq!(log.verify().unwrap_err().position, 3);

        // Rewriting every link after the edit leaves the chain consistent,
        // but not the signed head.
        let mut prev = log.entries[1].seal.as_ref().unwrap().hash.clone();
        for entry in &mut log.entries[2..] {
            let seal = entry.seal.as_mut().unwrap();
            seal.prev_hash = prev.clone();
            seal.hash = entry_hash(&prev, seal.position, &entry.record);
            prev = seal.hash.clone();
        }
        let head = log.head();
        let err = log.verify_with(head).unwrap_err();
        assert!(err.reason.contains("signed head does not match"), "{err}");
    }

    #[test]
    fn deletions_are_caught_in_the_middle_and_at_the_tail() {
        let mut log = Log::new(2, &[&[3, 4], &[5, 6]]);
        log.entries.remove(2);
        let err = log.verify().unwrap_err();
        assert_eq!((err.position, err.entry), (3, None), "{err}");
        assert!(err.reason.contains("positions 3 to 3 are missing"), "{err}");

        let mut log = Log::new(2, &[&[3, 4], &[5, 6]]);
        let head = log.head();
        log.entries.pop();
        let err = log.verify_with(head).unwrap_err();
        assert_eq!(err.position, 6, "{err}");
        assert!(err.reason.contains("missing"), "{err}");

        // The last batch deleted with its entries: the recorded head says so.
        let mut log = Log::new(2, &[&[3, 4], &[5, 6]]);
        let head = log.head();
        log.entries.truncate(4);
        log.batches.pop();
        let err = log.verify_with(head).unwrap_err();
        assert!(err.reason.contains("recorded head is position 6"), "{err}");
    }

    #[test]
    fn a_batch_signed_by_another_key_or_missing_its_head_is_refused() {
        let mut log = Log::new(0, &[&[1, 2], &[3]]);
        let forger = SigningKey::generate();
        let b = &mut log.batches[1];
        b.signature = forger.sign_text(
            BATCH_DOMAIN,
            &BatchHead::signed_text(b.batch, b.first_position, b.last_position, &b.head_hash, b.sealed_at),
        );
        let err = log.verify().unwrap_err();
        assert!(err.reason.contains("not signed by the registry key"), "{err}");

        let mut log = Log::new(0, &[&[1, 2], &[3]]);
        log.batches.remove(0);
        let err = log.verify().unwrap_err();
        assert_eq!(err.position, 1, "{err}");
        assert!(err.reason.contains("batch 1, whose signed head is missing"), "{err}");
    }

    #[test]
    fn pending_entries_are_skipped_by_the_walk() {
        let mut log = Log::new(1, &[&[2]]);
        log.entries.push(AuditEntry {
            record: record(3),
            seal: None,
        });
        assert_eq!(log.verify(), Ok(ChainSummary { sealed: 2, batches: 1 }));
    }
}
