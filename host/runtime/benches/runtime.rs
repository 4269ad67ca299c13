//! Runtime benchmarks (criterion). Results and the machine they ran on are in
//! BENCHMARKS.md.
//!
//! - `bare/instantiate_call`: a bare wasmtime instantiate-and-call of an empty
//!   component on the same engine, the floor everything else is compared to;
//! - `hook/trivial_validate`: a fresh isolated instance of a real Rust app plus
//!   its trivial `validate`, through `Runtime::call` (WASI, capabilities, limits
//!   and report included). Target: at most 4x the bare call;
//! - `hook/sole_proprietor_validate`: the first app's real `validate`, and
//!   `hook/sole_proprietor_validate_fuel` the same with fuel metered, as
//!   `tongban serve` runs it by default (what the fuel figure in `/metrics`
//!   costs);
//! - `load/compile` vs `load/cache`: compiling a component vs loading its
//!   cached artifact. Target: the cache at least 10x faster.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tongban_runtime::{Assurance, CallEnv, Channel, Database, Hook, Runtime, RuntimeSettings, Session, SubjectKind};
use wasmtime::Store;
use wasmtime::component::{Component, Linker};

const EMPTY_COMPONENT: &str = r#"
(component
  (core module $m (func (export "run")))
  (core instance $i (instantiate $m))
  (func (export "run") (canon lift (core func $i "run")))
)
"#;

fn env() -> CallEnv {
    CallEnv {
        session: Session {
            subject: "bench-subject".into(),
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
    }
}

const GOOD_FORM: &str = r#"{
  "operator": { "name": "张三", "id-number": "11010519491231002X", "phone": "13800138000" },
  "business": { "trade-name": "西湖小厨", "industry": "餐饮", "scope": ["餐饮服务"], "address": "浙江省杭州市西湖区文三路90号" }
}"#;

/// A runtime keeping its data under `dir`, metering fuel or not. For tuning
/// experiments, TONGBAN_BENCH_KEEP_RESIDENT=BYTES overrides the default
/// keep-resident size, and TONGBAN_BENCH_PAGEMAP_SCAN=0 turns the dirty-page
/// scan off. (TONGBAN_GUEST_RUSTFLAGS replaces the guest's link flags, such
/// as its shadow stack size, when the fixtures are built.)
fn runtime_in(tokio: &tokio::runtime::Runtime, dir: &std::path::Path, fuel: bool) -> Runtime {
    let db = tokio.block_on(Database::open_data_dir(dir)).unwrap();
    let mut settings = RuntimeSettings::in_data_dir(dir);
    settings.engine.fuel = fuel;
    if let Some(bytes) = std::env::var("TONGBAN_BENCH_KEEP_RESIDENT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        settings.engine.memory_keep_resident = bytes;
    }
    if std::env::var("TONGBAN_BENCH_PAGEMAP_SCAN").as_deref() == Ok("0") {
        settings.engine.pagemap_scan = false;
    }
    Runtime::new(settings, db).unwrap()
}

fn benches(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime_in(&tokio, dir.path(), false);

    // The floor: a bare wasmtime call of an empty component on the same engine.
    let engine = runtime.engine().clone();
    let empty = Component::new(&engine, EMPTY_COMPONENT).unwrap();
    let linker = Linker::<()>::new(&engine);
    let pre = linker.instantiate_pre(&empty).unwrap();
    c.bench_function("bare/instantiate_call", |b| {
        b.to_async(&tokio).iter(|| async {
            let mut store = Store::new(&engine, ());
            store.set_epoch_deadline(1_000);
            let instance = pre.instantiate_async(&mut store).await.unwrap();
            let run = instance.get_typed_func::<(), ()>(&mut store, "run").unwrap();
            run.call_async(&mut store, ()).await.unwrap();
        })
    });

    let trivial = runtime.load(&tongban_tests::fixture("trivial")).unwrap();
    let env = env();
    c.bench_function("hook/trivial_validate", |b| {
        b.to_async(&tokio).iter(|| async {
            let outcome = runtime.call(&trivial, &env, Hook::Validate { form: "{}".into() }).await;
            assert!(outcome.result.is_ok());
        })
    });

    let sole = runtime.load(&tongban_tests::plugin("sole-proprietor")).unwrap();
    c.bench_function("hook/sole_proprietor_validate", |b| {
        b.to_async(&tokio).iter(|| async {
            let outcome = runtime
                .call(&sole, &env, Hook::Validate { form: GOOD_FORM.into() })
                .await;
            assert!(outcome.result.is_ok());
        })
    });

    // The same call on an engine that meters fuel, as `tongban serve` runs.
    let fuel_dir = tempfile::tempdir().unwrap();
    let fuel_runtime = runtime_in(&tokio, fuel_dir.path(), true);
    let fuel_sole = fuel_runtime.load(&tongban_tests::plugin("sole-proprietor")).unwrap();
    c.bench_function("hook/sole_proprietor_validate_fuel", |b| {
        b.to_async(&tokio).iter(|| async {
            let outcome = fuel_runtime
                .call(&fuel_sole, &env, Hook::Validate { form: GOOD_FORM.into() })
                .await;
            assert!(outcome.result.is_ok() && outcome.report.fuel_used.is_some_and(|f| f > 0));
        })
    });

    let package = tongban_tests::plugin("sole-proprietor");
    let digest = package.component_digest();
    let mut group = c.benchmark_group("load");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("compile", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                runtime.forget_compiled(&digest);
                let started = Instant::now();
                runtime.load(&package).unwrap();
                total += started.elapsed();
            }
            total
        })
    });
    runtime.load(&package).unwrap();
    group.bench_function("cache", |b| b.iter(|| runtime.load(&package).unwrap()));
    group.finish();
}

criterion_group!(runtime_benches, benches);
criterion_main!(runtime_benches);
