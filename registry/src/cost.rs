//! What a component costs to compile and to instantiate, read with wasmparser
//! without compiling anything, against the platform's bounds
//! (`platform::MAX_FUNCTIONS` and the rest). Compiling is the expensive step a
//! hostile package aims at: a million tiny functions, or one straight-line
//! function of megabytes, costs Cranelift minutes and gigabytes. The bounds
//! also mirror the runtime's pooling allocator, so a component that passes
//! here is not refused when it is loaded.

use wasmparser::{Encoding, Parser, Payload, TypeRef};

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
    /// Core module instances the component creates.
    pub core_instances: u32,
    /// Linear memories defined, over all core modules.
    pub memories: u32,
    /// Tables defined, over all core modules.
    pub tables: u32,
    /// The sum of the memories' initial sizes, in bytes.
    pub initial_memory_bytes: u64,
}

/// The cost of a component and the bounds it breaks, each problem naming the
/// bound. `memory_cap_mib` is the manifest's memory cap: the memories a
/// component starts with must fit in it.
pub fn component_cost(bytes: &[u8], memory_cap_mib: u32) -> (ComponentCost, Vec<String>) {
    let mut cost = ComponentCost::default();
    let mut problems = Vec::new();
    // The core module being read, by its number (1-based, in the order the
    // modules appear), and the kinds of nesting open around it.
    let mut module = 0u32;
    let mut stack: Vec<Encoding> = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = match payload {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("the component cannot be read: {e}"));
                break;
            }
        };
        let result = (|| -> wasmparser::Result<()> {
            match payload {
                Payload::Version { encoding, .. } => {
                    if encoding == Encoding::Module {
                        module += 1;
                    }
                    stack.push(encoding);
                }
                Payload::End(_) => {
                    stack.pop();
                }
                Payload::InstanceSection(reader) => {
                    // Only instantiations of modules take an instance slot;
                    // a bag of exports (`FromExports`) is bookkeeping.
                    for instance in reader {
                        if matches!(instance?, wasmparser::Instance::Instantiate { .. }) {
                            cost.core_instances = cost.core_instances.saturating_add(1);
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    let mut imports = 0u64;
                    for import in reader.into_imports() {
                        let import = import?;
                        imports += 1;
                        match import.ty {
                            TypeRef::Memory(m) => {
                                memory_problems(module, m.initial, m.shared, &mut cost, &mut problems, false)
                            }
                            TypeRef::Table(t) => table_problems(module, t.initial, &mut problems),
                            _ => {}
                        }
                    }
                    if imports > MAX_IMPORTS_PER_MODULE {
                        problems.push(format!(
                            "core module {module} has {imports} imports; a module may have at most {MAX_IMPORTS_PER_MODULE}"
                        ));
                    }
                }
                Payload::FunctionSection(reader) => {
                    cost.functions += u64::from(reader.count());
                }
                Payload::MemorySection(reader) => {
                    let defined = reader.count();
                    if defined > MAX_MEMORIES_PER_MODULE {
                        problems.push(format!(
                            "core module {module} defines {defined} linear memories; a module may define at most {MAX_MEMORIES_PER_MODULE}"
                        ));
                    }
                    cost.memories = cost.memories.saturating_add(defined);
                    for memory in reader {
                        let memory = memory?;
                        memory_problems(module, memory.initial, memory.shared, &mut cost, &mut problems, true);
                    }
                }
                Payload::TableSection(reader) => {
                    let defined = reader.count();
                    if defined > MAX_TABLES_PER_MODULE {
                        problems.push(format!(
                            "core module {module} defines {defined} tables; a module may define at most {MAX_TABLES_PER_MODULE}"
                        ));
                    }
                    cost.tables = cost.tables.saturating_add(defined);
                    for table in reader {
                        table_problems(module, table?.ty.initial, &mut problems);
                    }
                }
                Payload::GlobalSection(reader) => {
                    let defined = u64::from(reader.count());
                    if defined > MAX_GLOBALS_PER_MODULE {
                        problems.push(format!(
                            "core module {module} defines {defined} globals; a module may define at most {MAX_GLOBALS_PER_MODULE}"
                        ));
                    }
                }
                Payload::CodeSectionStart { size, .. } => {
                    cost.code_bytes += u64::from(size);
                }
                Payload::CodeSectionEntry(body) => {
                    let range = body.range();
                    let size = range.end - range.start;
                    cost.largest_body = cost.largest_body.max(size);
                    let mut locals = 0u64;
                    for local in body.get_locals_reader()? {
                        locals = locals.saturating_add(u64::from(local?.0));
                    }
                    cost.most_locals = cost.most_locals.max(locals);
                }
                _ => {}
            }
            Ok(())
        })();
        if let Err(e) = result {
            problems.push(format!("the component cannot be read: {e}"));
            break;
        }
    }
    let bounds: [(u64, u64, &str); 7] = [
        (cost.functions, MAX_FUNCTIONS, "functions defined"),
        (cost.code_bytes, MAX_CODE_BYTES, "bytes of function code"),
        (
            cost.largest_body,
            MAX_FUNCTION_BODY_BYTES,
            "bytes in the largest function body",
        ),
        (cost.most_locals, MAX_LOCALS_PER_FUNCTION, "locals in one function"),
        (
            u64::from(cost.core_instances),
            u64::from(MAX_CORE_INSTANCES),
            "core module instances",
        ),
        (
            u64::from(cost.memories),
            u64::from(MAX_MEMORIES_PER_COMPONENT),
            "linear memories defined",
        ),
        (
            u64::from(cost.tables),
            u64::from(MAX_TABLES_PER_COMPONENT),
            "tables defined",
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
    if cost.initial_memory_bytes > cap {
        problems.push(format!(
            "the component's memories start at {} MiB in all; the manifest's memory cap is {} MiB (limits.memory-mib)",
            cost.initial_memory_bytes.div_ceil(1024 * 1024),
            cap / (1024 * 1024)
        ));
    }
    (cost, problems)
}

fn memory_problems(
    module: u32,
    initial_pages: u64,
    shared: bool,
    cost: &mut ComponentCost,
    problems: &mut Vec<String>,
    defined: bool,
) {
    if shared {
        problems.push(format!(
            "core module {module} has a shared memory, which the sandbox does not run"
        ));
    }
    if defined {
        cost.initial_memory_bytes = cost
            .initial_memory_bytes
            .saturating_add(initial_pages.saturating_mul(64 * 1024));
    }
}

fn table_problems(module: u32, initial: u64, problems: &mut Vec<String>) {
    if initial > MAX_TABLE_ELEMENTS {
        problems.push(format!(
            "core module {module} has a table of {initial} elements to start with; a table may hold at most {MAX_TABLE_ELEMENTS}"
        ));
    }
}
