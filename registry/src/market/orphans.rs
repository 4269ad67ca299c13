//! Blobs no version refers to: what a publish refused after its blob was
//! stored could leave (a crash between storing and the refusal's clean-up),
//! or what an older release left when refusals still kept their blobs.
//! Blobs written within a grace period are never orphans, so a publish in
//! flight (blob stored, row not yet committed) keeps its blob.

use std::time::Duration;

use serde::Serialize;
use tongban_store::now_ms;

use super::audit_log::{append, begin, state_digest};
use super::{Actor, MarketError, Marketplace};
use crate::release::Role;

/// How recent a blob may be and still never count as an orphan.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// A blob no version refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanBlob {
    pub digest: String,
    pub size: u64,
    pub written_at_ms: i64,
}

impl Marketplace {
    /// The blobs no version refers to, written more than `grace` ago.
    pub async fn orphan_blobs(&self, grace: Duration) -> Result<Vec<OrphanBlob>, MarketError> {
        let referenced: std::collections::BTreeSet<String> =
            sqlx::query_scalar::<_, String>("SELECT package_digest FROM versions")
                .fetch_all(self.db.pool())
                .await?
                .into_iter()
                .collect();
        let cutoff = now_ms() - grace.as_millis() as i64;
        Ok(self
            .blobs
            .list()
            .await?
            .into_iter()
            .filter(|b| !referenced.contains(&b.digest) && b.written_at_ms < cutoff)
            .map(|b| OrphanBlob {
                digest: b.digest,
                size: b.size,
                written_at_ms: b.written_at_ms,
            })
            .collect())
    }

    /// Remove the orphan blobs (platform admins); each removal is an entry
    /// in the audit chain. A blob a version came to refer to meanwhile is
    /// kept. Returns what was removed.
    pub async fn remove_orphan_blobs(&self, actor: &Actor, grace: Duration) -> Result<Vec<OrphanBlob>, MarketError> {
        actor.require(&[Role::PlatformAdmin, Role::System], "removing orphan blobs")?;
        let mut removed = Vec::new();
        for orphan in self.orphan_blobs(grace).await? {
            let mut tx = begin(&self.db).await?;
            let referenced = sqlx::query("SELECT 1 FROM versions WHERE package_digest = $1")
                .bind(&orphan.digest)
                .fetch_optional(&mut *tx)
                .await?;
            if referenced.is_some() {
                continue;
            }
            append(
                &mut tx,
                actor,
                "blob.remove-orphan",
                &format!("blob:{}", orphan.digest),
                &state_digest(&(&orphan.digest, orphan.size)),
                "",
            )
            .await?;
            // Removed under the chain's lock: a publish of the same bytes
            // checks, under the same lock, that its blob is still there.
            self.blobs.delete(&orphan.digest).await?;
            tx.commit().await?;
            removed.push(orphan);
        }
        Ok(removed)
    }
}
