//! The API router, driven with `tower::ServiceExt::oneshot` (no socket): the
//! error envelope, authentication, the upload limit, and a release change
//! taking effect in the serving path without a restart.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tongban::api::{self, AppState};
use tongban::cli::StoreArgs;
use tongban_registry::Package;
use tongban_registry::market::{Actor, accounts};
use tongban_registry::release::Role;
use tongban_registry::signing::SigningKey;
use tower::ServiceExt;

const BUREAU: &str = "113301000024891238";
const DATA_BUREAU: &str = "11330106002489555Y";

struct Api {
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn new(max_upload_bytes: usize) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let store = StoreArgs {
            data_dir: dir.path().to_owned(),
            database_url: None,
            blob_url: None,
        };
        let state = tongban::cli::serve::open_state(&store, max_upload_bytes).await.unwrap();
        Api { state, _dir: dir }
    }

    async fn token(&self, id: &str, role: Role, org: Option<&str>, region: Option<&str>) -> String {
        let db = self.state.market.db();
        let user = accounts::User {
            id: id.into(),
            display_name: id.into(),
            role,
            org: org.map(Into::into),
            region: region.map(Into::into),
            subject: None,
        };
        accounts::create_user(db, &Actor::system(), &user).await.unwrap();
        accounts::issue_token(db, &Actor::system(), id, "test").await.unwrap()
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Body, json: bool) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        if json {
            request = request.header("content-type", "application/json");
        }
        let response = api::router(self.state.clone())
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(token), Body::from(body.to_string()), true)
            .await
    }
}

#[tokio::test]
async fn errors_use_one_envelope_with_a_stable_code() {
    let api = Api::new(1024).await;
    let (status, body) = api.call("GET", "/api/v1/orgs", None, Body::empty(), false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");

    let admin = api.token("admin", Role::PlatformAdmin, None, None).await;
    let (status, body) = api
        .post(
            "/api/v1/orgs",
            &admin,
            json!({"code": "123", "name": "x", "region": "330100"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("18 characters"),
        "{body}"
    );

    let (status, body) = api
        .call("POST", "/api/v1/apps", Some(&admin), Body::from(vec![7u8; 4096]), false)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");

    let (status, body) = api
        .call("GET", "/api/v1/openapi.json", None, Body::empty(), false)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["paths"]["/api/v1/apps/{app}/versions/{version}/release"].is_object());
}

#[tokio::test]
async fn a_revoke_takes_effect_without_a_restart() {
    let api = Api::new(32 * 1024 * 1024).await;
    let admin = api.token("admin", Role::PlatformAdmin, None, None).await;
    api.post(
        "/api/v1/orgs",
        &admin,
        json!({"code": BUREAU, "name": "市场监管局", "region": "330100"}),
    )
    .await;
    api.post(
        "/api/v1/orgs",
        &admin,
        json!({"code": DATA_BUREAU, "name": "数据局", "region": "330106"}),
    )
    .await;
    let (status, _) = api
        .post(
            &format!("/api/v1/orgs/{BUREAU}/namespaces"),
            &admin,
            json!({"prefix": "cn.gov.hz.amr"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let publisher = api.token("pub", Role::Publisher, Some(BUREAU), None).await;
    let reviewer = api.token("rev", Role::Reviewer, Some(DATA_BUREAU), None).await;
    let region_admin = api
        .token("ra", Role::RegionAdmin, Some(DATA_BUREAU), Some("330106"))
        .await;
    let security = api.token("sec", Role::SecurityOfficer, None, None).await;

    let key = SigningKey::generate();
    let (status, _) = api
        .post(
            &format!("/api/v1/orgs/{BUREAU}/keys"),
            &publisher,
            json!({"public_key": key.public_key_hex()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let mut package: Package = tongban_tests::plugin("sole-proprietor");
    package.sign(&key);
    let (status, receipt) = api
        .call(
            "POST",
            "/api/v1/apps",
            Some(&publisher),
            Body::from(package.to_bytes()),
            false,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    let app = "cn.gov.hz.amr.sole-proprietor";

    let (_, submission) = api
        .call(
            "GET",
            &format!("/api/v1/reviews/{app}/1.0.0"),
            Some(&reviewer),
            Body::empty(),
            false,
        )
        .await;
    let acknowledged = submission["needs_acknowledgement"].clone();
    let (status, body) = api
        .post(
            &format!("/api/v1/reviews/{app}/1.0.0/decision"),
            &reviewer,
            json!({"decision": "approve", "acknowledged": acknowledged}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .post(
            &format!("/api/v1/apps/{app}/versions/1.0.0/release"),
            &region_admin,
            json!({"action": "rollout", "region": "330106", "percentage": 100}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let form = json!({
        "operator": { "name": "张三", "id-number": "11010519491231002X", "phone": "13800138000" },
        "business": { "trade-name": "西湖小厨", "industry": "餐饮", "scope": ["餐饮服务"], "address": "杭州市西湖区文三路90号" }
    });
    let validate = |subject: &str| json!({"subject": subject, "form": form.clone()});
    let (status, body) = api
        .post(
            &format!("/api/v1/serving/330106/{app}/validate"),
            &admin,
            validate("citizen-1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], "1.0.0");
    assert_eq!(body["result"]["hook"], "validate");

    // Revoke: the very next call is refused, with no restart in between.
    let (status, body) = api
        .post(
            &format!("/api/v1/apps/{app}/versions/1.0.0/release"),
            &security,
            json!({"action": "revoke", "reason": "供应链投毒 / a poisoned dependency"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .post(
            &format!("/api/v1/serving/330106/{app}/validate"),
            &admin,
            validate("citizen-1"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("revoked"), "{body}");

    // A region admin of another region may not act here; the audit chain holds.
    let other_admin = api
        .token("ra2", Role::RegionAdmin, Some(DATA_BUREAU), Some("330108"))
        .await;
    let (status, body) = api
        .post(
            &format!("/api/v1/apps/{app}/versions/1.0.0/release"),
            &other_admin,
            json!({"action": "halt", "region": "330106"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, verify) = api
        .call("GET", "/api/v1/audit/verify", Some(&admin), Body::empty(), false)
        .await;
    assert_eq!(verify["intact"], true, "{verify}");
}
