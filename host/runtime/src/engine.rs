//! The one wasmtime engine: pooling allocator, epoch interruption with a
//! ticker thread, optional fuel, and bounds matching the platform's limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tongban_registry::platform;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. Deadlines are whole ticks, so a call overruns
/// its `timeout-ms` by at most one tick plus scheduling delay.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// The wasm stack per call. Deep recursion beyond it traps as a stack overflow.
pub const MAX_WASM_STACK: usize = 1024 * 1024;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Meter fuel in every call. Costs some speed; reports fuel used per call.
    pub fuel: bool,
    /// How many component instances may be live at once across all calls.
    pub max_concurrent_instances: u32,
    /// Bytes of each linear memory slot kept resident (reset with memset, or
    /// with a dirty-page scan where the kernel has one) instead of returned
    /// to the kernel after a call.
    pub memory_keep_resident: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            fuel: false,
            max_concurrent_instances: 128,
            memory_keep_resident: 4 * 1024 * 1024,
        }
    }
}

/// Build the engine.
pub fn build_engine(settings: &EngineSettings) -> wasmtime::Result<Engine> {
    let instances = settings.max_concurrent_instances;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances * 4)
        .total_memories(instances * 2)
        .total_tables(instances * 4)
        .total_stacks(instances)
        .max_memory_size(platform::MAX_MEMORY_MIB as usize * 1024 * 1024)
        .max_memories_per_component(4)
        // Keeping a slot's pages resident (and zeroing them with memset) avoids
        // the first-touch page faults that otherwise dominate a short call.
        .linear_memory_keep_resident(settings.memory_keep_resident)
        .table_keep_resident(64 * 1024)
        .async_stack_keep_resident(128 * 1024);

    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .epoch_interruption(true)
        .consume_fuel(settings.fuel)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(MAX_WASM_STACK + 1024 * 1024)
        .wasm_component_model(true);
    Engine::new(&config)
}

/// Advances an engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.weak();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("tongban-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Epoch ticks for a deadline of `timeout_ms`, rounded up.
pub fn deadline_ticks(timeout_ms: u32) -> u64 {
    let tick = EPOCH_TICK.as_millis() as u64;
    (timeout_ms as u64).div_ceil(tick).max(1)
}
