//! What a component costs to compile and to instantiate, read with wasmparser
//! without compiling anything, against the platform's bounds
//! (`platform::MAX_FUNCTIONS` and the rest). Compiling is the expensive step a
//! hostile package aims at: a million tiny functions, or one straight-line
//! function of megabytes, costs Cranelift minutes and gigabytes.
//!
//! The instance bounds mirror what the runtime's pooling allocator checks
//! when it loads a component: it counts the core instances, memories and
//! tables of every module *instantiation* (one module instantiated three
//! times is three memories), so this walk does too, through nested
//! components. A module or component it cannot account for (imported or
//! aliased from outside) is refused rather than guessed at, so a component
//! that passes here is not refused when it is loaded.

use wasmparser::{
    ComponentAlias, ComponentInstance, ComponentOuterAliasKind, ComponentTypeRef, Encoding, Instance, Parser, Payload,
    TypeRef,
};

use crate::platform::*;

/// What the walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentCost {
    /// Functions defined, over all core modules.
    pub functions: u64,
    /// Function body bytes, over all core modules.
    pub code_bytes: u64,
    /// The largest function body, in bytes.
    pub largest_body: u64,
    /// The most locals one function declares.
    pub most_locals: u64,
    /// Canonical functions (lifts, lowers and the like), which each compile
    /// to a trampoline.
    pub canonical_functions: u64,
    /// What instantiating the component creates.
    pub instances: Instantiated,
}

/// What instantiating a module or component creates, as the pooling
/// allocator counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Instantiated {
    pub core_instances: u64,
    pub memories: u64,
    pub tables: u64,
    /// The sum of the memories' initial sizes, in bytes.
    pub initial_memory_bytes: u64,
}

impl Instantiated {
    fn add(&mut self, other: Instantiated) {
        self.core_instances = self.core_instances.saturating_add(other.core_instances);
        self.memories = self.memories.saturating_add(other.memories);
        self.tables = self.tables.saturating_add(other.tables);
        self.initial_memory_bytes = self.initial_memory_bytes.saturating_add(other.initial_memory_bytes);
    }
}

/// One component's index spaces of modules and components, as far as they
/// matter here: what instantiating each one creates, or `None` for one the
/// walk cannot account for.
#[derive(Default)]
struct Scope {
    modules: Vec<Option<Instantiated>>,
    components: Vec<Option<Instantiated>>,
    instantiated: Instantiated,
}

/// What one open nesting level is.
enum Level {
    Component(Scope),
    Module { number: u32, defined: Instantiated },
}

/// The cost of a component and the bounds it breaks, each problem naming the
/// bound. `memory_cap_mib` is the manifest's memory cap: the memories a
/// component starts with must fit in it.
pub fn component_cost(bytes: &[u8], memory_cap_mib: u32) -> (ComponentCost, Vec<String>) {
    let mut cost = ComponentCost::default();
    let mut problems = Vec::new();
    let mut modules_seen = 0u32;
    let mut stack: Vec<Level> = Vec::new();
    let mut top: Option<Instantiated> = None;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = match payload {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("the component cannot be read: {e}"));
                break;
            }
        };
        if let Err(e) = walk(
            payload,
            &mut stack,
            &mut top,
            &mut modules_seen,
            &mut cost,
            &mut problems,
        ) {
            problems.push(format!("the component cannot be read: {e}"));
            break;
        }
    }
    let instances = top.unwrap_or_default();
    cost.instances = instances;
    let bounds: [(u64, u64, &str); 8] = [
        (cost.functions, MAX_FUNCTIONS, "functions defined"),
        (cost.code_bytes, MAX_CODE_BYTES, "bytes of function code"),
        (
            cost.largest_body,
            MAX_FUNCTION_BODY_BYTES,
            "bytes in the largest function body",
        ),
        (cost.most_locals, MAX_LOCALS_PER_FUNCTION, "locals in one function"),
        (cost.canonical_functions, MAX_CANONICAL_FUNCTIONS, "canonical functions"),
        (
            instances.core_instances,
            u64::from(MAX_CORE_INSTANCES),
            "core module instances",
        ),
        (
            instances.memories,
            u64::from(MAX_MEMORIES_PER_COMPONENT),
            "linear memories instantiated",
        ),
        (
            instances.tables,
            u64::from(MAX_TABLES_PER_COMPONENT),
            "tables instantiated",
        ),
    ];
    for (found, max, what) in bounds {
        if found > max {
            problems.push(format!(
                "the component has {found} {what}; the platform allows at most {max}"
            ));
        }
    }
    let cap = u64::from(memory_cap_mib.min(MAX_MEMORY_MIB)) * 1024 * 1024;
    if instances.initial_memory_bytes > cap {
        problems.push(format!(
            "the component's memories start at {} MiB in all; the manifest's memory cap is {} MiB (limits.memory-mib)",
            instances.initial_memory_bytes.div_ceil(1024 * 1024),
            cap / (1024 * 1024)
        ));
    }
    (cost, problems)
}

fn walk(
    payload: Payload<'_>,
    stack: &mut Vec<Level>,
    top: &mut Option<Instantiated>,
    modules_seen: &mut u32,
    cost: &mut ComponentCost,
    problems: &mut Vec<String>,
) -> wasmparser::Result<()> {
    match payload {
        Payload::Version { encoding, .. } => match encoding {
            Encoding::Module => {
                *modules_seen += 1;
                stack.push(Level::Module {
                    number: *modules_seen,
                    defined: Instantiated {
                        core_instances: 1,
                        ..Instantiated::default()
                    },
                });
            }
            Encoding::Component => stack.push(Level::Component(Scope::default())),
        },
        Payload::End(_) => match stack.pop() {
            Some(Level::Module { defined, .. }) => match stack.last_mut() {
                Some(Level::Component(scope)) => scope.modules.push(Some(defined)),
                // A bare core module (not a component): what it defines.
                _ => *top = Some(defined),
            },
            Some(Level::Component(scope)) => match stack.last_mut() {
                Some(Level::Component(parent)) => parent.components.push(Some(scope.instantiated)),
                _ => *top = Some(scope.instantiated),
            },
            None => {}
        },
        Payload::InstanceSection(reader) => {
            for instance in reader {
                if let Instance::Instantiate { module_index, .. } = instance? {
                    let Some(Level::Component(scope)) = stack.last_mut() else {
                        continue;
                    };
                    match scope.modules.get(module_index as usize).copied().flatten() {
                        Some(created) => scope.instantiated.add(created),
                        None => problems.push(format!(
                            "the component instantiates core module {module_index}, which it does not define itself"
                        )),
                    }
                }
            }
        }
        Payload::ComponentInstanceSection(reader) => {
            for instance in reader {
                if let ComponentInstance::Instantiate { component_index, .. } = instance? {
                    let Some(Level::Component(scope)) = stack.last_mut() else {
                        continue;
                    };
                    match scope.components.get(component_index as usize).copied().flatten() {
                        Some(created) => scope.instantiated.add(created),
                        None => problems.push(format!(
                            "the component instantiates component {component_index}, which it does not define itself"
                        )),
                    }
                }
            }
        }
        Payload::ComponentImportSection(reader) => {
            for import in reader {
                let unknown = match import?.ty {
                    ComponentTypeRef::Module(_) => Some(true),
                    ComponentTypeRef::Component(_) => Some(false),
                    _ => None,
                };
                if let (Some(is_module), Some(Level::Component(scope))) = (unknown, stack.last_mut()) {
                    if is_module {
                        scope.modules.push(None);
                    } else {
                        scope.components.push(None);
                    }
                }
            }
        }
        Payload::ComponentAliasSection(reader) => {
            for alias in reader {
                let unknown = match alias? {
                    ComponentAlias::Outer {
                        kind: ComponentOuterAliasKind::CoreModule,
                        ..
                    } => Some(true),
                    ComponentAlias::Outer {
                        kind: ComponentOuterAliasKind::Component,
                        ..
                    } => Some(false),
                    ComponentAlias::InstanceExport {
                        kind: wasmparser::ComponentExternalKind::Module,
                        ..
                    } => Some(true),
                    ComponentAlias::InstanceExport {
                        kind: wasmparser::ComponentExternalKind::Component,
                        ..
                    } => Some(false),
                    _ => None,
                };
                if let (Some(is_module), Some(Level::Component(scope))) = (unknown, stack.last_mut()) {
                    if is_module {
                        scope.modules.push(None);
                    } else {
                        scope.components.push(None);
                    }
                }
            }
        }
        Payload::ComponentCanonicalSection(reader) => {
            cost.canonical_functions = cost.canonical_functions.saturating_add(u64::from(reader.count()));
        }
        Payload::ImportSection(reader) => {
            let Some(Level::Module { number, .. }) = stack.last() else {
                return Ok(());
            };
            let number = *number;
            let mut imports = 0u64;
            for import in reader.into_imports() {
                let import = import?;
                imports += 1;
                match import.ty {
                    TypeRef::Memory(m) if m.shared => problems.push(format!(
                        "core module {number} imports a shared memory, which the sandbox does not run"
                    )),
                    TypeRef::Table(t) if t.initial > MAX_TABLE_ELEMENTS => problems.push(format!(
                        "core module {number} imports a table of {} elements; a table may hold at most {MAX_TABLE_ELEMENTS}",
                        t.initial
                    )),
                    _ => {}
                }
            }
            if imports > MAX_IMPORTS_PER_MODULE {
                problems.push(format!(
                    "core module {number} has {imports} imports; a module may have at most {MAX_IMPORTS_PER_MODULE}"
                ));
            }
        }
        Payload::FunctionSection(reader) => {
            cost.functions += u64::from(reader.count());
        }
        Payload::MemorySection(reader) => {
            let Some(Level::Module { number, defined }) = stack.last_mut() else {
                return Ok(());
            };
            let count = reader.count();
            if count > MAX_MEMORIES_PER_MODULE {
                problems.push(format!(
                    "core module {number} defines {count} linear memories; a module may define at most {MAX_MEMORIES_PER_MODULE}"
                ));
            }
            for memory in reader {
                let memory = memory?;
                if memory.shared {
                    problems.push(format!(
                        "core module {number} has a shared memory, which the sandbox does not run"
                    ));
                }
                defined.memories += 1;
                defined.initial_memory_bytes = defined
                    .initial_memory_bytes
                    .saturating_add(memory.initial.saturating_mul(64 * 1024));
            }
        }
        Payload::TableSection(reader) => {
            let Some(Level::Module { number, defined }) = stack.last_mut() else {
                return Ok(());
            };
            let count = reader.count();
            if count > MAX_TABLES_PER_MODULE {
                problems.push(format!(
                    "core module {number} defines {count} tables; a module may define at most {MAX_TABLES_PER_MODULE}"
                ));
            }
            for table in reader {
                let initial = table?.ty.initial;
                if initial > MAX_TABLE_ELEMENTS {
                    problems.push(format!(
                        "core module {number} has a table of {initial} elements to start with; a table may hold at most {MAX_TABLE_ELEMENTS}"
                    ));
                }
                defined.tables += 1;
            }
        }
        Payload::GlobalSection(reader) => {
            let Some(Level::Module { number, .. }) = stack.last() else {
                return Ok(());
            };
            let count = u64::from(reader.count());
            if count > MAX_GLOBALS_PER_MODULE {
                problems.push(format!(
                    "core module {number} defines {count} globals; a module may define at most {MAX_GLOBALS_PER_MODULE}"
                ));
            }
        }
        Payload::CodeSectionStart { size, .. } => {
            cost.code_bytes += u64::from(size);
        }
        Payload::CodeSectionEntry(body) => {
            let range = body.range();
            cost.largest_body = cost.largest_body.max(range.end - range.start);
            let mut locals = 0u64;
            for local in body.get_locals_reader()? {
                locals = locals.saturating_add(u64::from(local?.0));
            }
            cost.most_locals = cost.most_locals.max(locals);
        }
        _ => {}
    }
    Ok(())
}
