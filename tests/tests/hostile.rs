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
    // The fixture's manifest says timeout-ms = 100.
    let bound = Duration::from_millis(100 + 50);
    assert!(
        outcome.report.wall_time <= bound,
        "stopped after {:?}, over timeout-ms + 50 ms",
        outcome.report.wall_time
    );
    assert!(
        outcome.report.wall_time >= Duration::from_millis(100),
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
