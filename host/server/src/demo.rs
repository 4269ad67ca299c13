//! `tongban serve --demo`: a province, two cities and their bureaus, one demo
//! account per role, the demo citizens with their identity certificates, and
//! the example apps published through the real path — built from source,
//! signed with the demo bureau's key, checked, reviewed with every added
//! capability acknowledged, approved and rolled out — never by writing rows.
//!
//! Every step is idempotent: a second start finds what the first made and
//! only prints fresh API tokens for the demo accounts.

use std::path::{Path, PathBuf};

use tongban_registry::Package;
use tongban_registry::market::deploy::ReleaseAction;
use tongban_registry::market::review::Decision;
use tongban_registry::market::{Actor, MarketError, accounts, keys, orgs};
use tongban_registry::release::Role;
use tongban_registry::signing::SigningKey;

use crate::error::CliError;
use crate::flows::marketplace;
use crate::state::AppState;

/// The demo's orgs: code, name, region.
pub const ORGS: &[(&str, &str, &str)] = &[
    ("113300000024899005", "浙江省大数据发展管理局", "330000"),
    ("113301000024891238", "杭州市市场监督管理局", "330100"),
    ("11330100002489920C", "杭州市数据资源管理局", "330100"),
    ("113301060024896013", "杭州市西湖区市场监督管理局", "330106"),
    ("11330200002489910G", "宁波市市场监督管理局", "330200"),
];

/// The password of every demo account (a demo only; never for real data).
pub const DEMO_PASSWORD: &str = "tongban-demo";

/// The bureau that publishes the example apps, and its namespace.
pub const PUBLISHER_ORG: &str = "113301000024891238";
pub const NAMESPACE: &str = "cn.gov.hz.amr";
/// Where the example apps are rolled out: 杭州市 (its districts follow).
pub const REGION: &str = "330100";

/// One demo account.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub id: &'static str,
    pub name: &'static str,
    pub role: Role,
    pub org: Option<&'static str>,
    pub region: Option<&'static str>,
    pub subject: Option<&'static str>,
}

/// One account per role.
pub fn accounts() -> Vec<DemoAccount> {
    let a = |id, name, role, org, region, subject| DemoAccount {
        id,
        name,
        role,
        org,
        region,
        subject,
    };
    vec![
        a("admin", "平台管理员", Role::PlatformAdmin, None, None, None),
        a("zhangsan", "张三", Role::Citizen, None, None, Some("citizen-zhang-san")),
        a("lisi", "李四", Role::Citizen, None, None, Some("citizen-li-si")),
        a(
            "clerk",
            "窗口人员 王芳",
            Role::WindowClerk,
            Some("113301000024891238"),
            None,
            None,
        ),
        a(
            "handler",
            "审批人员 刘强",
            Role::Handler,
            Some("113301060024896013"),
            None,
            None,
        ),
        a(
            "publisher",
            "发布人员 陈静",
            Role::Publisher,
            Some(PUBLISHER_ORG),
            None,
            None,
        ),
        a(
            "reviewer",
            "审核人员 赵敏",
            Role::Reviewer,
            Some("113300000024899005"),
            None,
            None,
        ),
        a(
            "region-admin",
            "区域管理员 孙伟",
            Role::RegionAdmin,
            Some("11330100002489920C"),
            Some(REGION),
            None,
        ),
        a(
            "security",
            "安全员 周杰",
            Role::SecurityOfficer,
            Some("113300000024899005"),
            None,
            None,
        ),
        a(
            "auditor",
            "审计员 吴昊",
            Role::Auditor,
            Some("113300000024899005"),
            None,
            None,
        ),
    ]
}

/// The example apps, by directory under `plugins/`.
pub const EXAMPLE_APPS: &[&str] = &["sole-proprietor"];

/// The example apps' source folder in this checkout.
pub fn plugins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins")
}

fn actor(account: &DemoAccount) -> Actor {
    Actor {
        user: account.id.into(),
        role: account.role,
        org: account.org.map(str::to_owned),
        region: account.region.map(str::to_owned),
    }
}

fn platform(e: impl std::fmt::Display) -> CliError {
    CliError::Platform(format!("demo: {e}"))
}

/// Whether an error only says the thing exists already or the step was done.
fn already(e: &MarketError) -> bool {
    matches!(e, MarketError::Conflict(_) | MarketError::Transition(_))
}

/// What the demo printed for people to log in with.
pub struct DemoLogins {
    /// Account id, name, role, API token.
    pub tokens: Vec<(String, String, Role, String)>,
}

/// Seed everything; `data_dir` keeps the demo publisher key.
pub async fn seed(state: &AppState, data_dir: &Path) -> Result<DemoLogins, CliError> {
    let db = state.market.db();
    let system = Actor::system();
    let people = accounts();
    let admin = actor(people.iter().find(|a| a.role == Role::PlatformAdmin).expect("an admin"));
    for (code, name, region) in ORGS {
        if orgs::get_org(db, code).await.is_err() {
            orgs::create_org(db, &admin, code, name, region)
                .await
                .map_err(platform)?;
        }
    }
    if let Err(e) = orgs::add_namespace(db, &admin, PUBLISHER_ORG, NAMESPACE).await
        && !already(&e)
    {
        return Err(platform(e));
    }
    state.services.seed_demo_citizens().await.map_err(platform)?;
    for account in &people {
        let user = accounts::User {
            id: account.id.into(),
            display_name: account.name.into(),
            role: account.role,
            org: account.org.map(str::to_owned),
            region: account.region.map(str::to_owned),
            subject: account.subject.map(str::to_owned),
        };
        match accounts::create_user(db, &system, &user).await {
            Ok(()) => tongban_registry::market::sessions::set_password(db, &system, account.id, DEMO_PASSWORD)
                .await
                .map_err(platform)?,
            Err(e) if already(&e) => {}
            Err(e) => return Err(platform(e)),
        }
    }

    let key = publisher_key(state, data_dir, &admin).await?;
    let by_role = |role: Role| people.iter().find(|a| a.role == role).expect("one account per role");
    let publisher = actor(by_role(Role::Publisher));
    let reviewer = actor(by_role(Role::Reviewer));
    let region_admin = actor(by_role(Role::RegionAdmin));
    for app in EXAMPLE_APPS {
        publish_example(state, app, &key, &publisher, &reviewer, &region_admin).await?;
    }

    let mut tokens = Vec::new();
    for account in &people {
        let token = accounts::issue_token(db, &system, account.id, "serve --demo")
            .await
            .map_err(platform)?;
        tokens.push((account.id.to_owned(), account.name.to_owned(), account.role, token));
    }
    Ok(DemoLogins { tokens })
}

/// The demo bureau's signing key: made once, kept in the data directory
/// (mode 0600), its public half registered with the bureau.
async fn publisher_key(state: &AppState, data_dir: &Path, admin: &Actor) -> Result<SigningKey, CliError> {
    let path = data_dir.join("demo").join("publisher.key");
    let key = match std::fs::read_to_string(&path) {
        Ok(text) => SigningKey::from_file_text(&text).map_err(platform)?,
        Err(_) => {
            let key = SigningKey::generate();
            std::fs::create_dir_all(path.parent().expect("a parent")).map_err(|e| CliError::io(&path, e))?;
            write_secret(&path, &key.to_file_text())?;
            key
        }
    };
    let db = state.market.db();
    let registered = keys::list_keys(db, PUBLISHER_ORG).await.map_err(platform)?;
    if !registered.iter().any(|k| k.public_key == key.public_key_hex()) {
        keys::register_key(db, admin, PUBLISHER_ORG, &key.public_key_hex())
            .await
            .map_err(platform)?;
    }
    Ok(key)
}

fn write_secret(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| CliError::io(path, e))?;
    file.write_all(text.as_bytes()).map_err(|e| CliError::io(path, e))
}

/// Build, sign, publish, review (acknowledging every added capability),
/// approve and roll out one example app; a step already done is skipped.
async fn publish_example(
    state: &AppState,
    app: &str,
    key: &SigningKey,
    publisher: &Actor,
    reviewer: &Actor,
    region_admin: &Actor,
) -> Result<(), CliError> {
    let dir = plugins_dir().join(app);
    eprintln!("演示 / demo: 构建 building {}", dir.display());
    let built = crate::cli::app_build::build(&dir, None)?;
    let mut package: Package = built.package;
    package.sign(key);
    let id = built.manifest.app.id.clone();
    let version = built.manifest.app.version.to_string();
    match marketplace::publish(state, publisher, package.to_bytes()).await {
        Ok(receipt) => {
            let acknowledged = receipt
                .diff
                .iter()
                .filter(|c| c.needs_acknowledgement())
                .map(|c| c.id.clone())
                .collect();
            marketplace::decide(state, reviewer, &id, &version, Decision::Approve { acknowledged })
                .await
                .map_err(platform)?;
        }
        Err(e) if already(&e) => {}
        Err(e) => return Err(platform(e)),
    }
    let rollout = ReleaseAction::Rollout {
        region: REGION.into(),
        percentage: 100,
    };
    match marketplace::release(state, region_admin, &id, &version, rollout).await {
        Ok(_) => {}
        Err(e) if already(&e) => {}
        Err(e) => return Err(platform(e)),
    }
    // The flow's refresh logs a failure; the demo needs the app served now.
    state.refresh_serving().await.map_err(platform)?;
    eprintln!("演示 / demo: {id}@{version} 已上线 / serving in {REGION}");
    Ok(())
}
