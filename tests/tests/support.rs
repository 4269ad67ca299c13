//! Shared set-up: a runtime over a fresh SQLite database from the test
//! database kit, and call environments.

use tongban_runtime::{Assurance, CallEnv, Channel, Hook, Runtime, RuntimeSettings, Session, SubjectKind};
use tongban_testdb::TestDb;

/// A runtime whose files and database live in the kit's scratch directory,
/// which goes when this value does.
pub struct TestRuntime {
    pub runtime: Runtime,
    _db: TestDb,
}

impl TestRuntime {
    /// The runtime's database, to open another connection to it.
    pub fn db(&self) -> &TestDb {
        &self._db
    }
}

pub async fn runtime() -> TestRuntime {
    runtime_with_bounds(tongban_store::WaitBounds::default()).await
}

/// [`runtime`] with the host's waits on its database bounded by `bounds`.
pub async fn runtime_with_bounds(bounds: tongban_store::WaitBounds) -> TestRuntime {
    let db = TestDb::sqlite("runtime");
    let runtime = Runtime::new(RuntimeSettings::in_data_dir(db.dir()), db.open_bounded(bounds).await).unwrap();
    TestRuntime { runtime, _db: db }
}

pub fn env(region: &str) -> CallEnv {
    CallEnv {
        session: Session {
            subject: "sub-7f3a".into(),
            kind: SubjectKind::Person,
            assurance: Assurance::Substantial,
            channel: Channel::Web,
            on_behalf_of: None,
            locale: "zh-CN".into(),
        },
        item: "TEST".into(),
        region: region.into(),
        subject: None,
        case: None,
        event: None,
    }
}

pub fn validate(form: &str) -> Hook {
    Hook::Validate { form: form.into() }
}

pub fn submit(case: &str, form: &str) -> Hook {
    Hook::Submit {
        case: case.into(),
        form: form.into(),
    }
}

/// Wait until a civil day (UTC+8) has at least `margin` left, so a test of
/// daily bounds never straddles midnight.
pub async fn away_from_midnight(margin: std::time::Duration) {
    let now = tongban_services::now_ms();
    let left = tongban_services::notifications::civil_day_start(now) + 86_400_000 - now;
    if left < margin.as_millis() as i64 {
        tokio::time::sleep(std::time::Duration::from_millis(left as u64 + 200)).await;
    }
}
