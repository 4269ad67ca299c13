//! A platform in this process (the router and the workers, no socket) with
//! fixture apps published, approved and rolled out through the real
//! marketplace, for the tests where the host's own behaviour is the point.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tongban::api::{self, AppState};
use tongban::cli::StoreArgs;
use tongban_registry::market::deploy::ReleaseAction;
use tongban_registry::market::review::Decision;
use tongban_registry::market::{Actor, accounts, keys, orgs};
use tongban_registry::release::Role;
use tongban_registry::signing::SigningKey;
use tongban_services::cases::{Action, CaseActor, NewCase, Step};
use tongban_testdb::seed;
use tongban_tests::fixture;
use tower::ServiceExt;

/// The fixtures' publisher (`publisher` in their manifests) and namespace.
pub const FIXTURE_ORG: &str = "91330100MA27XL0X7F";
/// An org that reviews and rolls out, so duties stay separate.
pub const OPERATIONS_ORG: &str = "11330100002489920C";
pub const REGION: &str = "330100";
pub const CITIZEN: &str = "citizen-zhang-san";

fn actor(user: &str, role: Role, org: Option<&str>, region: Option<&str>) -> Actor {
    Actor {
        user: user.into(),
        role,
        org: org.map(Into::into),
        region: region.map(Into::into),
    }
}

/// A platform in this process with the given fixtures published, approved
/// and rolled out to everyone in [`REGION`], and the demo citizens.
pub struct Platform {
    pub state: AppState,
    pub admin_token: String,
    /// [`CITIZEN`]'s API token.
    pub citizen_token: String,
    _dir: tempfile::TempDir,
}

impl Platform {
    pub async fn with(fixtures: &[&str]) -> Platform {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreArgs {
            data_dir: dir.path().to_owned(),
            database_url: None,
            blob_url: None,
        };
        let state = tongban::cli::serve::open_state(&store, 32 * 1024 * 1024).await.unwrap();
        let db = state.market.db();
        let admin = actor("admin", Role::PlatformAdmin, None, None);
        seed::orgs(
            db,
            &[(FIXTURE_ORG, "测试局", REGION), (OPERATIONS_ORG, "数据局", REGION)],
        )
        .await;
        orgs::add_namespace(db, &admin, FIXTURE_ORG, "cn.gov.test")
            .await
            .unwrap();
        let key = SigningKey::generate();
        keys::register_key(db, &admin, FIXTURE_ORG, &key.public_key_hex())
            .await
            .unwrap();
        state.services.seed_demo_citizens().await.unwrap();
        let publisher = actor("pub", Role::Publisher, Some(FIXTURE_ORG), None);
        let reviewer = actor("rev", Role::Reviewer, Some(OPERATIONS_ORG), None);
        let region_admin = actor("ra", Role::RegionAdmin, Some(OPERATIONS_ORG), Some(REGION));
        for name in fixtures {
            let mut package = fixture(name);
            package.sign(&key);
            let receipt = state.market.publish(&publisher, package.to_bytes()).await.unwrap();
            let acknowledged = receipt
                .diff
                .iter()
                .filter(|c| c.needs_acknowledgement())
                .map(|c| c.id.clone())
                .collect();
            state
                .market
                .decide(
                    &reviewer,
                    &receipt.app,
                    &receipt.version,
                    Decision::Approve { acknowledged },
                )
                .await
                .unwrap();
            let rollout = ReleaseAction::Rollout {
                region: REGION.into(),
                percentage: 100,
            };
            state
                .market
                .release(&region_admin, &receipt.app, &receipt.version, rollout)
                .await
                .unwrap();
        }
        state.refresh_serving().await.unwrap();
        let user = accounts::User {
            id: "admin".into(),
            display_name: "admin".into(),
            role: Role::PlatformAdmin,
            org: None,
            region: None,
            subject: None,
        };
        accounts::create_user(db, &Actor::system(), &user).await.unwrap();
        let admin_token = accounts::issue_token(db, &Actor::system(), "admin", "test")
            .await
            .unwrap();
        let citizen = accounts::User {
            id: "zhangsan".into(),
            display_name: "张三".into(),
            role: Role::Citizen,
            org: None,
            region: None,
            subject: Some(CITIZEN.into()),
        };
        accounts::create_user(db, &Actor::system(), &citizen).await.unwrap();
        let citizen_token = accounts::issue_token(db, &Actor::system(), "zhangsan", "test")
            .await
            .unwrap();
        Platform {
            state,
            admin_token,
            citizen_token,
            _dir: dir,
        }
    }

    /// A case of `app`, with one event its `on-event` hook is to get: an
    /// instant item approved by the app's rule, or a commitment item
    /// accepted by a clerk of the fixtures' org.
    pub async fn case_with_event(&self, app: &str, item: &str, instant: bool) -> String {
        let services = &self.state.services;
        let (case, _) = services
            .open_case(NewCase {
                app: app.into(),
                app_version: "0.1.0".into(),
                item: item.into(),
                item_mode: if instant { "instant" } else { "commitment" }.into(),
                promised_days: (!instant).then_some(5),
                subject: CITIZEN.into(),
                region: REGION.into(),
                channel: "web".into(),
                on_behalf_of: None,
                accepting_org: FIXTURE_ORG.into(),
                form: "{}".into(),
                follow_on_of: None,
                submission_key: None,
            })
            .await
            .unwrap();
        let (who, step) = if instant {
            (CaseActor::system("rule"), Step::new(Action::RuleApprove, "ok"))
        } else {
            (
                CaseActor {
                    user: "clerk".into(),
                    role: Role::WindowClerk,
                    org: Some(FIXTURE_ORG.into()),
                    subject: None,
                },
                Step::new(Action::Accept, ""),
            )
        };
        services.step_case(&who, &case.id, step).await.unwrap();
        case.id
    }

    /// When the case's last event was delivered, waiting for it.
    pub async fn delivered(&self, case: &str, within: Duration) -> Instant {
        let started = Instant::now();
        loop {
            let timeline = self.state.services.case_timeline(case).await.unwrap();
            if timeline.last().is_some_and(|e| e.for_app && e.delivered_at.is_some()) {
                return Instant::now();
            }
            assert!(
                started.elapsed() < within,
                "the event of case {case} was not delivered within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Value) -> (StatusCode, axum::http::HeaderMap, Value) {
        self.call_as(&self.admin_token, method, path, body).await
    }

    /// A call with `token`'s authority.
    pub async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Value,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = api::router(self.state.clone()).oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), 1024 * 1024).await.unwrap();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}
