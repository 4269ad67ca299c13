//! The catalog: apps with an approved version, listed and searched.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{MarketError, Marketplace};

/// The largest page.
pub const MAX_PAGE_SIZE: i64 = 100;

/// One catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub id: String,
    pub org: String,
    pub name_zh: String,
    pub name_en: String,
    pub latest_version: String,
}

impl Marketplace {
    /// Apps with an approved version whose id or names contain `query`
    /// (case-insensitive), by id, one page at a time.
    pub async fn catalog(
        &self,
        query: Option<&str>,
        page: i64,
        per_page: i64,
    ) -> Result<Vec<CatalogEntry>, MarketError> {
        if !(1..=MAX_PAGE_SIZE).contains(&per_page) || page < 1 {
            return Err(MarketError::invalid(format!(
                "page starts at 1 and per-page is 1 to {MAX_PAGE_SIZE}"
            )));
        }
        let pattern = format!(
            "%{}%",
            query
                .unwrap_or("")
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(&format!(
            "SELECT id, org_code, name_zh, name_en, latest_version FROM apps
             WHERE latest_version IS NOT NULL AND search_text {} $1 ESCAPE '\\'
             ORDER BY id LIMIT $2 OFFSET $3",
            self.db.ilike()
        ))
        .bind(pattern)
        .bind(per_page)
        .bind((page - 1) * per_page)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CatalogEntry {
                    id: r.try_get(0)?,
                    org: r.try_get(1)?,
                    name_zh: r.try_get(2)?,
                    name_en: r.try_get(3)?,
                    latest_version: r.try_get(4)?,
                })
            })
            .collect()
    }
}
