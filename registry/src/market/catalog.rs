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
    /// The catalog entries of the apps `ids` whose id or names contain
    /// `query` (case-insensitive), by id: a region's services, which the
    /// serving table names, searched. Asked in chunks, so any number of ids
    /// stays within every backend's bound on parameters.
    pub async fn catalog_of(&self, ids: &[String], query: Option<&str>) -> Result<Vec<CatalogEntry>, MarketError> {
        const CHUNK: usize = 500;
        let pattern = query.map(str::trim).filter(|q| !q.is_empty()).map(like_pattern);
        let mut found = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let filter = match pattern {
                Some(_) => format!("AND search_text LIKE ${} ESCAPE '\\'", chunk.len() + 1),
                None => String::new(),
            };
            let sql = format!(
                "SELECT id, org_code, name_zh, name_en, latest_version FROM apps
                 WHERE latest_version IS NOT NULL AND id IN ({}) {filter}",
                placeholders.join(", ")
            );
            let mut statement = sqlx::query(&sql);
            for id in chunk {
                statement = statement.bind(id);
            }
            if let Some(pattern) = &pattern {
                statement = statement.bind(pattern.clone());
            }
            for row in statement.fetch_all(self.db.pool()).await? {
                found.push(entry_of(&row)?);
            }
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }

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
        let query = query.map(str::trim).filter(|q| !q.is_empty());
        // Without search text the filter is left out, so a plain listing walks
        // the primary key instead of matching every row against `%%`.
        // `search_text` is stored lower-cased and the query is lower-cased
        // here, so a plain LIKE matches case-insensitively on both backends
        // (PostgreSQL's ILIKE would lower every row again, four times slower).
        let filter = match query {
            Some(_) => "AND search_text LIKE $3 ESCAPE '\\'",
            None => "",
        };
        let sql = format!(
            "SELECT id, org_code, name_zh, name_en, latest_version FROM apps
             WHERE latest_version IS NOT NULL {filter}
             ORDER BY id LIMIT $1 OFFSET $2"
        );
        let mut statement = sqlx::query(&sql).bind(per_page).bind((page - 1) * per_page);
        if let Some(query) = query {
            statement = statement.bind(like_pattern(query));
        }
        let rows = statement.fetch_all(self.db.pool()).await?;
        rows.iter().map(entry_of).collect()
    }
}

/// The LIKE pattern that finds `query` anywhere in the lower-cased search
/// text, with `%`, `_` and the escape character taken literally.
fn like_pattern(query: &str) -> String {
    format!(
        "%{}%",
        query
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

fn entry_of(r: &sqlx::any::AnyRow) -> Result<CatalogEntry, MarketError> {
    Ok(CatalogEntry {
        id: r.try_get(0)?,
        org: r.try_get(1)?,
        name_zh: r.try_get(2)?,
        name_en: r.try_get(3)?,
        latest_version: r.try_get(4)?,
    })
}
