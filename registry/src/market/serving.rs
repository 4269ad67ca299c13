//! The serving table: for each (app, region), which version serves which
//! subject. It is rebuilt from the database whenever the deployment log's
//! sequence moves (`deployment_events.rs`) and swapped in whole by the
//! server, so in-flight calls finish on the table (and versions) they started
//! with.
//!
//! Resolution for a subject: a revoked, quarantined or otherwise unservable
//! version never serves. A piloting version serves its pilot group; a rolling
//! out version serves subjects whose bucket is under its percentage; everyone
//! else gets the region's active (or deprecated) version. A region without
//! deployments of the app falls back to its city, then its province.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use tongban_store::Database;

use super::MarketError;
use super::deployment_events::latest_seq;
use super::deployments::deployment_from_row;
use super::versions::parse_version_state;
use crate::release::{DeploymentState, rollout_bucket};

/// One servable version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    pub version: String,
    pub package_digest: String,
    /// Why this version: `active`, `pilot`, `rollout`, or `deprecated`.
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
struct RegionServing {
    active: Option<(Served, i64)>,
    candidates: Vec<Candidate>,
}

#[derive(Debug, Clone)]
struct Candidate {
    served: Served,
    state: DeploymentState,
    percentage: u8,
    group: Vec<String>,
}

/// The whole table, built at one sequence of the deployment log.
#[derive(Debug, Clone, Default)]
pub struct ServingTable {
    /// The log's sequence, read before the rows: the rows are at least this
    /// new (a change committed in between is in the rows and not yet in
    /// `seq`, so the next look at the log builds the table again), never
    /// older.
    pub seq: i64,
    entries: HashMap<(String, String), RegionServing>,
}

impl ServingTable {
    /// Build the table from the database.
    pub async fn load(db: &Database) -> Result<ServingTable, MarketError> {
        let seq = latest_seq(db).await?;
        let rows = sqlx::query(
            "SELECT d.app_id, d.region, d.version, d.state, d.percentage, d.pilot_group, d.message, d.sunset_at,
                    v.state, v.package_digest, d.updated_at
             FROM deployments d JOIN versions v ON v.app_id = d.app_id AND v.version = d.version
             ORDER BY d.app_id, d.region, d.updated_at DESC, d.version",
        )
        .fetch_all(db.pool())
        .await?;
        let mut entries: HashMap<(String, String), RegionServing> = HashMap::new();
        for row in rows {
            let deployment = deployment_from_row(&row)?;
            let version_state = parse_version_state(&row.try_get::<String, _>(8)?)?;
            if !version_state.may_serve() {
                continue;
            }
            let updated_at: i64 = row.try_get(10)?;
            let served = |reason: &str| Served {
                version: deployment.version.clone(),
                package_digest: row.try_get::<String, _>(9).unwrap_or_default(),
                reason: reason.into(),
            };
            let slot = entries
                .entry((deployment.app.clone(), deployment.region.clone()))
                .or_default();
            match deployment.state {
                DeploymentState::Active | DeploymentState::Deprecated => {
                    let reason = if deployment.state == DeploymentState::Active {
                        "active"
                    } else {
                        "deprecated"
                    };
                    if slot.active.as_ref().is_none_or(|(_, at)| *at < updated_at) {
                        slot.active = Some((served(reason), updated_at));
                    }
                }
                DeploymentState::Piloting | DeploymentState::RollingOut => slot.candidates.push(Candidate {
                    served: served(if deployment.state == DeploymentState::Piloting {
                        "pilot"
                    } else {
                        "rollout"
                    }),
                    state: deployment.state,
                    percentage: deployment.percentage,
                    group: deployment.pilot_group.clone(),
                }),
                DeploymentState::Halted | DeploymentState::RolledBack | DeploymentState::Superseded => {}
            }
        }
        Ok(ServingTable { seq, entries })
    }

    /// The version that serves `subject` for `app` in `region`, if any.
    pub fn resolve(&self, app: &str, region: &str, subject: &str) -> Option<Served> {
        for candidate_region in region_chain(region) {
            let Some(slot) = self.entries.get(&(app.to_owned(), candidate_region)) else {
                continue;
            };
            for c in &slot.candidates {
                let chosen = match c.state {
                    DeploymentState::Piloting => c.group.iter().any(|s| s == subject),
                    _ => rollout_bucket(subject, app) < c.percentage,
                };
                if chosen {
                    return Some(c.served.clone());
                }
            }
            if let Some((served, _)) = &slot.active {
                return Some(served.clone());
            }
        }
        None
    }

    /// The apps with a deployment that may serve someone in `region` (its
    /// own, its city's or its province's), by id. Whether one serves a given
    /// subject is [`ServingTable::resolve`]'s answer.
    pub fn apps_in(&self, region: &str) -> Vec<String> {
        let chain = region_chain(region);
        let mut apps: Vec<String> = self
            .entries
            .keys()
            .filter(|(_, r)| chain.contains(r))
            .map(|(app, _)| app.clone())
            .collect();
        apps.sort();
        apps.dedup();
        apps
    }

    /// Every package digest the table may serve, to preload.
    pub fn digests(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for ((app, _), slot) in &self.entries {
            for s in slot
                .active
                .iter()
                .map(|(s, _)| s)
                .chain(slot.candidates.iter().map(|c| &c.served))
            {
                out.push((app.clone(), s.version.clone(), s.package_digest.clone()));
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A region, then its city, then its province (GB/T 2260 codes).
pub fn region_chain(region: &str) -> Vec<String> {
    let mut chain = vec![region.to_owned()];
    if region.len() == 6 {
        let city = format!("{}00", &region[..4]);
        let province = format!("{}0000", &region[..2]);
        for r in [city, province] {
            if !chain.contains(&r) {
                chain.push(r);
            }
        }
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::region_chain;

    #[test]
    fn regions_fall_back_to_city_and_province() {
        assert_eq!(region_chain("330106"), ["330106", "330100", "330000"]);
        assert_eq!(region_chain("330100"), ["330100", "330000"]);
        assert_eq!(region_chain("330000"), ["330000"]);
    }
}
