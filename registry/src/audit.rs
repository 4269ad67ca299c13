//! The hash-chained audit log. Each entry's hash covers its own fields and the
//! previous entry's hash, so editing, deleting or reordering any entry breaks
//! the chain from there on. A separate head record (sequence and hash of the
//! last entry) catches truncation of the tail.
//!
//! This module is pure: the store appends and reads rows, and [`verify_chain`]
//! judges them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of an entry that the hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
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

/// A stored entry: the record plus its chain links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    #[serde(flatten)]
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

/// The hash of a record chained to `prev_hash`: SHA-256 over length-prefixed
/// fields, so no two different records encode alike.
pub fn entry_hash(prev_hash: &str, r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    let seq = r.seq.to_string();
    let at = r.at.to_string();
    for field in [
        prev_hash, &seq, &at, &r.actor, &r.action, &r.subject, &r.before, &r.after,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Chain a new record after the entry with `prev_hash`.
pub fn chain(prev_hash: &str, record: AuditRecord) -> AuditEntry {
    let hash = entry_hash(prev_hash, &record);
    AuditEntry {
        record,
        prev_hash: prev_hash.to_owned(),
        hash,
    }
}

/// Where and why a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at entry {seq}: {reason}")]
pub struct BrokenChain {
    pub seq: i64,
    pub reason: String,
}

/// Walk the entries in sequence order and name the first broken one. `head`
/// is the recorded (seq, hash) of the last entry, if any was recorded.
pub fn verify_chain<I>(entries: I, head: Option<(i64, String)>) -> Result<u64, BrokenChain>
where
    I: IntoIterator<Item = AuditEntry>,
{
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_owned();
    let mut count = 0u64;
    for entry in entries {
        let seq = entry.record.seq;
        if seq != expected_seq {
            return Err(BrokenChain {
                seq: expected_seq,
                reason: if seq > expected_seq {
                    format!("entries {expected_seq} to {} are missing", seq - 1)
                } else {
                    format!("entry {seq} appears out of order")
                },
            });
        }
        if entry.prev_hash != prev {
            return Err(BrokenChain {
                seq,
                reason: "its link to the previous entry does not match".into(),
            });
        }
        if entry_hash(&prev, &entry.record) != entry.hash {
            return Err(BrokenChain {
                seq,
                reason: "its contents do not match its hash (the entry was edited)".into(),
            });
        }
        prev = entry.hash;
        expected_seq += 1;
        count += 1;
    }
    let last = expected_seq - 1;
    match head {
        Some((head_seq, head_hash)) if head_seq != last || (last > 0 && head_hash != prev) => Err(BrokenChain {
            seq: last + 1,
            reason: format!("the log ends at entry {last}, but the recorded head is entry {head_seq}"),
        }),
        None if last > 0 => Err(BrokenChain {
            seq: last,
            reason: "the chain head record is missing".into(),
        }),
        _ => Ok(count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let entry = chain(
                    &prev,
                    AuditRecord {
                        seq,
                        at: 1_700_000_000_000 + seq,
                        actor: "reviewer-1".into(),
                        action: "approve".into(),
                        subject: format!("cn.gov.a.b@1.0.{seq}"),
                        before: "in-review".into(),
                        after: "approved".into(),
                    },
                );
                prev = entry.hash.clone();
                entry
            })
            .collect()
    }

    fn head(entries: &[AuditEntry]) -> Option<(i64, String)> {
        entries.last().map(|e| (e.record.seq, e.hash.clone()))
    }

    #[test]
    fn an_intact_chain_verifies() {
        let entries = log(5);
        assert_eq!(verify_chain(entries.clone(), head(&entries)), Ok(5));
        assert_eq!(verify_chain(vec![], None), Ok(0));
    }

    #[test]
    fn an_edit_is_caught_at_the_edited_entry() {
        let mut entries = log(5);
        let h = head(&entries);
        entries[2].record.actor = "mallory".into();
        let err = verify_chain(entries, h).unwrap_err();
        assert_eq!(err.seq, 3);
        assert!(err.reason.contains("edited"));
    }

    #[test]
    fn a_rehashed_edit_is_caught_at_the_next_link() {
        let mut entries = log(5);
        let h = head(&entries);
        entries[2].record.action = "reject".into();
        entries[2].hash = entry_hash(&entries[2].prev_hash, &entries[2].record);
        assert_eq!(verify_chain(entries, h).unwrap_err().seq, 4);
    }

    #[test]
    fn deletions_are_caught_in_the_middle_and_at_the_tail() {
        let mut entries = log(5);
        let h = head(&entries);
        entries.remove(1);
        let err = verify_chain(entries, h.clone()).unwrap_err();
        assert_eq!((err.seq, err.reason.as_str()), (2, "entries 2 to 2 are missing"));

        let mut entries = log(5);
        entries.pop();
        assert_eq!(verify_chain(entries, h).unwrap_err().seq, 5);
    }
}
