//! The one wasmtime engine: pooling allocator, epoch interruption with a
//! ticker thread, optional fuel, and bounds matching the platform's limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tongban_registry::platform;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

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
    /// How many of them one app may hold at once (its share).
    pub max_instances_per_app: u32,
    /// Bytes of each linear memory slot kept resident (reset with memset, or
    /// with a dirty-page scan where the kernel has one) instead of returned
    /// to the kernel after a call.
    pub memory_keep_resident: usize,
    /// Find the pages a call dirtied with Linux's `PAGEMAP_SCAN` (kernel 6.7
    /// or later; elsewhere wasmtime falls back by itself) and reset only
    /// those, instead of zeroing the lowest `memory_keep_resident` bytes of
    /// every slot after every call whether the guest touched them or not.
    pub pagemap_scan: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            fuel: false,
            max_concurrent_instances: 128,
            max_instances_per_app: 32,
            memory_keep_resident: 4 * 1024 * 1024,
            pagemap_scan: true,
        }
    }
}

/// Build the engine that serves calls: the pooling allocator, sized by
/// `settings` and bounded per component by the same constants the
/// marketplace's cost check enforces (`platform::MAX_CORE_INSTANCES` and the
/// rest), so a component that passed the check also loads.
pub fn build_engine(settings: &EngineSettings) -> wasmtime::Result<Engine> {
    let instances = settings.max_concurrent_instances;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(instances * platform::MAX_CORE_INSTANCES)
        .total_memories(instances * platform::MAX_MEMORIES_PER_COMPONENT)
        .total_tables(instances * platform::MAX_TABLES_PER_COMPONENT)
        .total_stacks(instances)
        .max_memory_size(platform::MAX_MEMORY_MIB as usize * 1024 * 1024)
        .max_memories_per_module(platform::MAX_MEMORIES_PER_MODULE)
        .max_memories_per_component(platform::MAX_MEMORIES_PER_COMPONENT)
        .max_tables_per_module(platform::MAX_TABLES_PER_MODULE)
        .max_tables_per_component(platform::MAX_TABLES_PER_COMPONENT)
        .table_elements(platform::MAX_TABLE_ELEMENTS as usize)
        .max_core_instances_per_component(platform::MAX_CORE_INSTANCES)
        .max_core_instance_size(platform::MAX_CORE_INSTANCE_BYTES)
        .max_component_instance_size(platform::MAX_CORE_INSTANCE_BYTES)
        // Keeping a slot's pages resident (and zeroing them with memset) avoids
        // the first-touch page faults that otherwise dominate a short call.
        .linear_memory_keep_resident(settings.memory_keep_resident)
        .table_keep_resident(64 * 1024)
        .async_stack_keep_resident(128 * 1024)
        .pagemap_scan(if settings.pagemap_scan {
            Enabled::Auto
        } else {
            Enabled::No
        });
    let mut config = compile_config(settings);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

/// An engine that only compiles, for the compiler child process: the same
/// compilation settings as [`build_engine`] (so its artifacts load there;
/// the allocator is not part of the compatibility hash), and the on-demand
/// allocator, which reserves no address space up front, so the child can
/// run under a tight address-space limit.
pub fn build_compile_engine(settings: &EngineSettings) -> wasmtime::Result<Engine> {
    let mut config = compile_config(settings);
    config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
    Engine::new(&config)
}

/// The settings that decide what compiled code looks like.
fn compile_config(settings: &EngineSettings) -> Config {
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .consume_fuel(settings.fuel)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(MAX_WASM_STACK + 1024 * 1024)
        .wasm_component_model(true);
    config
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
                // One tick per sleep, never more: a sleep that overran on a
                // busy machine makes deadlines late, never early, so an app
                // always gets at least its timeout.
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
