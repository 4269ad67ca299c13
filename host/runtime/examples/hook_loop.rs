//! Calls the trivial fixture's `validate` in a loop, for profilers
//! (`valgrind --tool=callgrind`, `perf record`), which need a plain program
//! rather than criterion's harness:
//!
//! `cargo run --release -p tongban-runtime --example hook_loop -- 20000`

use tongban_runtime::{Assurance, CallEnv, Channel, Database, Hook, Runtime, RuntimeSettings, Session, SubjectKind};

fn main() {
    let calls: u32 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = tokio.block_on(Database::open_data_dir(dir.path())).unwrap();
    let mut settings = RuntimeSettings::in_data_dir(dir.path());
    if let Some(bytes) = std::env::var("TONGBAN_BENCH_KEEP_RESIDENT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        settings.engine.memory_keep_resident = bytes;
    }
    if std::env::var("TONGBAN_BENCH_PAGEMAP_SCAN").as_deref() == Ok("0") {
        settings.engine.pagemap_scan = false;
    }
    let runtime = Runtime::new(settings, db).unwrap();
    let app = runtime.load(&tongban_tests::fixture("trivial")).unwrap();
    let env = CallEnv {
        session: Session {
            subject: "profile-subject".into(),
            kind: SubjectKind::Person,
            assurance: Assurance::Substantial,
            channel: Channel::Web,
            on_behalf_of: None,
            locale: "zh-CN".into(),
        },
        item: "330100-XK-00012-001".into(),
        region: "330106".into(),
        subject: None,
        case: None,
        event: None,
    };
    let started = std::time::Instant::now();
    let cpu_started = thread_cpu_time();
    tokio.block_on(async {
        for _ in 0..calls {
            let outcome = runtime.call(&app, &env, Hook::Validate { form: "{}".into() }).await;
            assert!(outcome.result.is_ok());
        }
    });
    let elapsed = started.elapsed();
    let cpu = thread_cpu_time() - cpu_started;
    println!(
        "{calls} calls in {elapsed:?}: {:?} per call; this thread's CPU time {:?} per call",
        elapsed / calls,
        cpu / calls
    );
}

/// The CPU time (user and system) this thread has used, which a busy
/// machine disturbs less than the wall clock.
fn thread_cpu_time() -> std::time::Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole `rusage` into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr());
        usage.assume_init()
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    std::time::Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}
