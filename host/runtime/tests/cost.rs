//! The marketplace's cost check against the pooling allocator's own verdict:
//! for each component shape near the bounds, a component the check passes
//! loads in the serving engine, and one the serving engine refuses the check
//! refuses too (it may be stricter, never looser). The shapes are a real
//! fixture with one more core module, instantiated some number of times.

use tongban_registry::cost::component_cost;
use tongban_registry::platform;
use tongban_runtime::EngineSettings;
use tongban_runtime::engine::build_engine;
use tongban_tests::fixture;
use tongban_tests::hostile_components::{memories, table, tiny_functions, with_extra_module};
use wasmtime::component::Component;

#[test]
fn the_cost_check_is_never_looser_than_the_pool() {
    let engine = build_engine(&EngineSettings::default()).unwrap();
    let base = fixture("trivial").component;
    let shapes = [
        ("one more memory", with_extra_module(&base, &memories(1), 1)),
        ("one more memory, twice", with_extra_module(&base, &memories(1), 2)),
        ("two memories in one module", with_extra_module(&base, &memories(2), 1)),
        (
            "a table at the bound",
            with_extra_module(&base, &table(platform::MAX_TABLE_ELEMENTS), 1),
        ),
        (
            "a table over the bound",
            with_extra_module(&base, &table(platform::MAX_TABLE_ELEMENTS + 1), 1),
        ),
        ("small tables, three times", with_extra_module(&base, &table(10), 3)),
        ("five more instances", with_extra_module(&base, &tiny_functions(1), 5)),
        ("six more instances", with_extra_module(&base, &tiny_functions(1), 6)),
    ];
    let mut passed = 0;
    let mut refused = 0;
    for (shape, bytes) in shapes {
        let (_, problems) = component_cost(&bytes, platform::MAX_MEMORY_MIB);
        let loads = Component::new(&engine, &bytes);
        match (problems.is_empty(), &loads) {
            (true, Ok(_)) => passed += 1,
            (false, Err(_)) => refused += 1,
            (false, Ok(_)) => {}
            (true, Err(e)) => panic!("{shape}: the check passes it, the pool refuses it: {e:#}"),
        }
    }
    // The shapes straddle the bounds: some load, some are refused by both.
    assert!(passed >= 3 && refused >= 4, "passed {passed}, refused {refused}");
}
