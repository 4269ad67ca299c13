//! Every hostile fixture is contained: the call fails with an error naming the
//! limit it hit, the bound itself holds, and the next call on the same runtime
//! (and the same loaded app) succeeds.

use std::time::Duration;

use tongban_registry::platform;
use tongban_runtime::{CallError, HookResult, LimitKind, LoadError, Outcome};
use tongban_tests::fixture;

use crate::support::{env, runtime, submit, validate};

/// Run a hostile `validate`, expect the given limit, then prove the same app
/// still serves `submit`.
async fn contained(name: &str, expected: LimitKind) -> tongban_runtime::CallOutcome {
    let rt = runtime().await;
    let app = rt.runtime.load(&fixture(name)).unwrap();
    let outcome = rt.runtime.call(&app, &env("330106"), validate("{}")).await;
    let err = outcome.result.as_ref().expect_err("the hostile call must fail");
    assert_eq!(err.limit(), Some(expected), "{name}: {err}");
    assert!(
        err.to_string().contains(&expected.to_string()),
        "the error names the limit: {err}"
    );

    let next = rt.runtime.call(&app, &env("330106"), submit("C-1", "{}")).await;
    assert_eq!(
        next.result.unwrap(),
        HookResult::Submit(Ok(Outcome::Queued)),
        "{name}: the next call succeeds"
    );
    outcome
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_within_its_deadline() {
    let outcome = contained("infinite-loop", LimitKind::Time).await;
    // The fixture's manifest says timeout-ms = 100. The epoch deadline (or,
    // on a starved machine, the host's own bound of timeout + HOST_GRACE)
    // stops a loop that would never end; a deadline is never early, since
    // the epoch ticks at most once per tick of wall time.
    assert!(
        outcome.report.wall_time < Duration::from_secs(10),
        "contained: {:?}",
        outcome.report.wall_time
    );
    assert!(
        outcome.report.wall_time >= Duration::from_millis(100) - tongban_runtime::engine::EPOCH_TICK,
        "not stopped early: {:?}",
        outcome.report.wall_time
    );
}

#[tokio::test]
async fn a_memory_bomb_is_held_to_its_cap() {
    let outcome = contained("memory-bomb", LimitKind::Memory).await;
    // The fixture's manifest says memory-mib = 16.
    assert!(
        outcome.report.peak_memory_bytes <= 16 * 1024 * 1024,
        "peak {}",
        outcome.report.peak_memory_bytes
    );
    assert!(
        outcome.report.peak_memory_bytes >= 8 * 1024 * 1024,
        "the bomb did grow: {}",
        outcome.report.peak_memory_bytes
    );
}

#[tokio::test]
async fn unbounded_recursion_hits_the_stack_limit() {
    let outcome = contained("recursion", LimitKind::Stack).await;
    assert!(outcome.report.wall_time < Duration::from_secs(2));
}

#[tokio::test]
async fn a_stdout_flood_is_cut_at_the_output_cap() {
    let outcome = contained("stdout-flood", LimitKind::Output).await;
    assert!(outcome.report.stdout.len() <= platform::MAX_OUTPUT_BYTES);
    assert!(outcome.report.stdout.starts_with("flooding the host log, line 1\n"));
}

#[tokio::test]
async fn a_huge_return_value_is_refused() {
    let rt = runtime().await;
    let app = rt.runtime.load(&fixture("huge-return")).unwrap();
    let outcome = rt.runtime.call(&app, &env("330106"), submit("C-1", "{}")).await;
    let err = outcome.result.unwrap_err();
    assert_eq!(err.limit(), Some(LimitKind::Result), "{err}");
    assert!(
        err.to_string().contains(&platform::MAX_RESULT_BYTES.to_string()),
        "{err}"
    );
    let next = rt.runtime.call(&app, &env("330106"), validate("{}")).await;
    assert_eq!(next.result.unwrap(), HookResult::Validate(Ok(())));
}

#[tokio::test]
async fn a_panic_is_a_trap_carrying_the_panic_message() {
    let rt = runtime().await;
    let app = rt.runtime.load(&fixture("panic")).unwrap();
    let outcome = rt.runtime.call(&app, &env("330106"), validate(r#"{"a":1}"#)).await;
    match outcome.result.unwrap_err() {
        CallError::Trap(message) => assert!(message.contains("fixture panic on form"), "{message}"),
        other => panic!("expected a trap, got {other}"),
    }
    let next = rt.runtime.call(&app, &env("330106"), submit("C-1", "{}")).await;
    assert!(next.result.is_ok());
}

#[tokio::test]
async fn an_ungranted_import_is_refused_at_load_naming_the_import() {
    let rt = runtime().await;
    let err = rt.runtime.load(&fixture("ungranted-import")).unwrap_err();
    let LoadError::NotGranted(problems) = &err else {
        panic!("expected NotGranted, got {err}");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("tongban:platform/storage@0.1.0"),
        "{}",
        problems[0]
    );
    assert!(problems[0].contains("does not grant `storage`"), "{}", problems[0]);
    // The runtime is unharmed: a well-behaved app loads and runs.
    let app = rt.runtime.load(&fixture("trivial")).unwrap();
    assert!(
        rt.runtime
            .call(&app, &env("330106"), validate("{}"))
            .await
            .result
            .is_ok()
    );
}

#[tokio::test]
async fn a_flood_of_host_calls_hits_the_call_budget() {
    let rt = runtime().await;
    let app = rt.runtime.load(&fixture("probe")).unwrap();
    let form = format!(r#"[{{"op":"log-many","count":{}}}]"#, platform::MAX_HOST_CALLS + 10);
    let outcome = rt.runtime.call(&app, &env("330106"), submit("C-1", &form)).await;
    let err = outcome.result.unwrap_err();
    assert_eq!(err.limit(), Some(LimitKind::HostCalls), "{err}");
    assert_eq!(outcome.report.host_calls, platform::MAX_HOST_CALLS + 1);
}

// ---------------------------------------------------------------------------
// Copies: one megabyte of guest memory handed to the host again and again.

/// The red team's copy attack: a small app made the host copy 122 MiB in one
/// call by handing it the same guest memory over and over, as capability
/// arguments or as field errors that alias one region. The host stops both
/// at the call's copy allowance (twice the 8 MiB memory cap) and reports the
/// app's breach of its copy limit, not a failure of the host.
#[tokio::test]
async fn aliased_copies_stop_at_the_copy_allowance() {
    let rt = runtime().await;
    let app = rt.runtime.load(&fixture("copy-amplifier")).unwrap();
    let allowance = tongban_runtime::limits::copy_allowance(8);
    assert_eq!(allowance, 16 * 1024 * 1024);
    for form in ["\"args\"", "\"fields\""] {
        let outcome = rt.runtime.call(&app, &env("330106"), validate(form)).await;
        let err = outcome.result.as_ref().expect_err("the amplifier must be stopped");
        assert_eq!(err.limit(), Some(LimitKind::Copy), "{form}: {err}");
        assert!(err.to_string().contains("copy limit exceeded"), "{form}: {err}");
        assert!(
            outcome.report.copied_bytes <= allowance + 1024 * 1024,
            "{form}: the host copied {} bytes",
            outcome.report.copied_bytes
        );
    }
    let next = rt.runtime.call(&app, &env("330106"), submit("C-1", "{}")).await;
    assert_eq!(next.result.unwrap(), HookResult::Submit(Ok(Outcome::Queued)));
}

// ---------------------------------------------------------------------------
// What a component may cost to compile and to instantiate.

/// The trivial fixture with one more core module appended and instantiated
/// once, so compiling and instantiating it is part of the component's cost.
fn trivial_with(module: &wasm_encoder::Module) -> tongban_registry::Package {
    let mut package = fixture("trivial");
    package.component = tongban_tests::hostile_components::with_extra_module(&package.component, module, 1);
    package
}

/// The cost problems `check_package` reports.
fn cost_problems(package: &tongban_registry::Package) -> Vec<String> {
    tongban_registry::check_package(package)
        .problems
        .into_iter()
        .filter(|p| p.check == tongban_registry::check::CheckName::Cost)
        .map(|p| p.message)
        .collect()
}

/// A component of a million tiny functions passed `app check` and then
/// took 90 s and 5.4 GiB to load. Now the check names the bound, and the
/// runtime refuses to compile it, before compiling anything.
#[tokio::test]
async fn a_million_tiny_functions_are_refused_before_compiling() {
    let package = trivial_with(&tongban_tests::hostile_components::tiny_functions(1_000_000));
    assert!(package.component.len() > 2 * 1024 * 1024, "sized to hurt");
    let problems = cost_problems(&package);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("functions defined") && p.contains(&platform::MAX_FUNCTIONS.to_string())),
        "{problems:?}"
    );
    let rt = runtime().await;
    let err = rt.runtime.load(&package).unwrap_err();
    assert!(matches!(err, LoadError::Component(_)), "{err}");
    assert!(err.to_string().contains("functions defined"), "{err}");
}

/// One straight-line function of 7.5 MB took 72 s and 4 GiB to compile.
#[tokio::test]
async fn a_megabytes_long_function_is_refused_before_compiling() {
    let package = trivial_with(&tongban_tests::hostile_components::straight_line_function(7_500_000));
    let problems = cost_problems(&package);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("largest function body") && p.contains(&platform::MAX_FUNCTION_BODY_BYTES.to_string())),
        "{problems:?}"
    );
    let rt = runtime().await;
    assert!(
        rt.runtime
            .load(&package)
            .unwrap_err()
            .to_string()
            .contains("largest function body")
    );
}

/// What the pooling allocator would refuse at load is refused at check: a
/// module with a second memory, one memory instantiated twice more (three in
/// the component), a table over the pool's slots, a function with more
/// locals than the bound. (`host/runtime/tests/cost.rs` holds the check's
/// verdicts against the pool's own, component by component.)
#[tokio::test]
async fn what_the_pool_refuses_at_load_is_refused_at_check() {
    use tongban_tests::hostile_components::{many_locals, memories, table, with_extra_module};
    let twice = {
        let mut package = fixture("trivial");
        package.component = with_extra_module(&package.component, &memories(1), 2);
        package
    };
    let cases = [
        (trivial_with(&memories(2)), "defines 2 linear memories"),
        (twice, "3 linear memories instantiated"),
        (
            trivial_with(&table(platform::MAX_TABLE_ELEMENTS + 1)),
            "a table may hold at most",
        ),
        (
            trivial_with(&many_locals(platform::MAX_LOCALS_PER_FUNCTION as u32 + 1)),
            "locals in one function",
        ),
    ];
    for (package, named) in cases {
        let problems = cost_problems(&package);
        assert!(problems.iter().any(|p| p.contains(named)), "{named}: {problems:?}");
        let rt = runtime().await;
        assert!(rt.runtime.load(&package).is_err(), "{named}: refused at load too");
    }
}

/// And the other way round: a component at the bounds passes the check and
/// loads, so the check never promises what the runtime will not keep.
#[tokio::test]
async fn a_component_at_the_bounds_passes_the_check_and_loads() {
    use tongban_tests::hostile_components::{table, tiny_functions};
    let own = tongban_registry::cost::component_cost(&fixture("trivial").component, 32).0;
    let room = platform::MAX_FUNCTIONS - own.functions;
    for package in [
        trivial_with(&tiny_functions(room as u32)),
        trivial_with(&table(platform::MAX_TABLE_ELEMENTS)),
    ] {
        assert_eq!(cost_problems(&package), Vec::<String>::new());
        let rt = runtime().await;
        let app = rt.runtime.load(&package).unwrap();
        let outcome = rt.runtime.call(&app, &env("330106"), validate("{}")).await;
        assert_eq!(outcome.result.unwrap(), HookResult::Validate(Ok(())));
    }
}

// ---------------------------------------------------------------------------
// Instance slots and time spent blocked in WASI.

/// A guest that sleeps in WASI past its deadline is stopped as over its
/// time limit: time blocked in WASI is the guest's own.
#[tokio::test]
async fn sleeping_in_wasi_counts_against_the_deadline() {
    let rt = runtime().await;
    let app = rt.runtime.load(&fixture("hog")).unwrap();
    // timeout-ms = 5000; the hog asks to sleep 60 s.
    let outcome = rt
        .runtime
        .call(&app, &env("330106"), validate(r#"{"sleep-ms": 60000}"#))
        .await;
    let err = outcome.result.unwrap_err();
    assert_eq!(err.limit(), Some(LimitKind::Time), "{err}");
    assert!(
        outcome.report.wall_time < Duration::from_secs(30),
        "the 60 s sleep was cut at the deadline, not slept out: {:?}",
        outcome.report.wall_time
    );
}

/// 150 concurrent calls into one app that sleep in WASI took all 128 pooled
/// instance slots, and the next app's call failed. Now the app gets its
/// share: the calls past it are refused at once, naming the app, and while
/// the admitted ones sleep, another app's call runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_app_gets_its_share_of_the_instance_slots_and_no_more() {
    let rt = std::sync::Arc::new(runtime().await);
    let hog = std::sync::Arc::new(rt.runtime.load(&fixture("hog")).unwrap());
    let trivial = rt.runtime.load(&fixture("trivial")).unwrap();
    let share = tongban_runtime::EngineSettings::default().max_instances_per_app as usize;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..150 {
        let (rt, hog) = (rt.clone(), hog.clone());
        // Each sleeps far past the hog's 5 s deadline, holding its slot until then.
        calls.spawn(async move {
            rt.runtime
                .call(&hog, &env("330106"), validate(r#"{"sleep-ms": 60000}"#))
                .await
        });
    }
    // The refusals come back at once; then the admitted calls hold their
    // slots until their deadline.
    let (mut busy, mut ran) = (0, 0);
    let note = |result: Result<HookResult, CallError>, busy: &mut usize, ran: &mut usize| match result {
        Err(CallError::Busy { detail, .. }) => {
            assert!(
                detail.contains("cn.gov.test.hog"),
                "the refusal names the app: {detail}"
            );
            *busy += 1;
        }
        Err(e) if e.limit() == Some(LimitKind::Time) => *ran += 1,
        other => panic!("unexpected: {other:?}"),
    };
    while busy < 150 - share {
        let Some(done) = calls.join_next().await else {
            break;
        };
        note(done.unwrap().result, &mut busy, &mut ran);
    }
    assert_eq!(busy, 150 - share, "every call past the hog's share is refused at once");
    let other = rt.runtime.call(&trivial, &env("330106"), validate("{}")).await;
    assert_eq!(
        other.result.unwrap(),
        HookResult::Validate(Ok(())),
        "another app is served while the hog holds its share"
    );
    while let Some(done) = calls.join_next().await {
        note(done.unwrap().result, &mut busy, &mut ran);
    }
    assert_eq!((ran, busy), (share, 150 - share));
}

/// A guest that spins gives its thread back at every epoch tick, so it
/// never holds a worker thread that the rest of the server needs: on a
/// single-threaded runtime, another task keeps running while the infinite
/// loop is still inside its 100 ms deadline.
#[tokio::test(flavor = "current_thread")]
async fn a_spinning_guest_yields_its_thread_to_other_work() {
    let rt = runtime().await;
    let app = rt.runtime.load(&fixture("infinite-loop")).unwrap();
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = ticks.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let outcome = rt.runtime.call(&app, &env("330106"), validate("{}")).await;
    let during = ticks.load(std::sync::atomic::Ordering::Relaxed);
    ticker.abort();
    assert_eq!(outcome.result.unwrap_err().limit(), Some(LimitKind::Time));
    assert!(
        during >= 3,
        "the other task ran {during} times while the guest spun for {:?}",
        outcome.report.wall_time
    );
}
