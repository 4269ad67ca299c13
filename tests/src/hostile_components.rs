//! Components built to hurt, for the tests that show the platform refuses
//! them before it spends minutes and gigabytes compiling them: a real
//! fixture component with one more core module appended, and instantiated
//! as many times as asked, whose shape (a million tiny functions, one
//! straight-line function of megabytes, a memory or a huge table) is what
//! the red team used.

use wasm_encoder::{
    CodeSection, ComponentSection, Function, FunctionSection, InstanceSection, Instruction, MemorySection, MemoryType,
    Module, ModuleArg, RefType, TableSection, TableType, TypeSection, ValType,
};

/// `component` with `module` appended as one more core module section and
/// instantiated `instances` times (the module takes no imports).
pub fn with_extra_module(component: &[u8], module: &Module, instances: u32) -> Vec<u8> {
    let index = top_level_modules(component);
    let module = module.as_slice();
    let mut bytes = component.to_vec();
    // A component's core module section: id 1, the size, the module.
    bytes.push(1);
    leb128(&mut bytes, module.len() as u64);
    bytes.extend_from_slice(module);
    if instances > 0 {
        let mut section = InstanceSection::new();
        for _ in 0..instances {
            section.instantiate(index, Vec::<(&str, ModuleArg)>::new());
        }
        section.append_to_component(&mut bytes);
    }
    bytes
}

/// How many core modules a component defines at its top level: the index
/// the next one gets.
fn top_level_modules(component: &[u8]) -> u32 {
    let mut depth = 0u32;
    let mut modules = 0;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload.expect("a valid component") {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::ModuleSection { .. } if depth == 1 => modules += 1,
            _ => {}
        }
    }
    modules
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A module of these functions, each of type `[] -> []`.
fn module_of(bodies: impl IntoIterator<Item = Function>) -> Module {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    let mut code = CodeSection::new();
    for body in bodies {
        functions.function(0);
        code.function(&body);
    }
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    module
}

/// A module of `count` functions that do nothing.
pub fn tiny_functions(count: u32) -> Module {
    module_of((0..count).map(|_| {
        let mut body = Function::new([]);
        body.instruction(&Instruction::End);
        body
    }))
}

/// A module of one function whose body is about `body_bytes` of
/// straight-line code (`i32.const 1; drop`, repeated).
pub fn straight_line_function(body_bytes: usize) -> Module {
    let mut body = Function::new([]);
    for _ in 0..body_bytes / 3 {
        body.instruction(&Instruction::I32Const(1));
        body.instruction(&Instruction::Drop);
    }
    body.instruction(&Instruction::End);
    module_of([body])
}

/// A module with one function declaring `locals` locals.
pub fn many_locals(locals: u32) -> Module {
    let mut body = Function::new([(locals, ValType::I64)]);
    body.instruction(&Instruction::End);
    module_of([body])
}

/// A module that defines `count` linear memories of one page each.
pub fn memories(count: u32) -> Module {
    let mut memories = MemorySection::new();
    for _ in 0..count {
        memories.memory(MemoryType {
            minimum: 1,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
    }
    let mut module = Module::new();
    module.section(&memories);
    module
}

/// A module that defines one table of `elements` function references.
pub fn table(elements: u64) -> Module {
    let mut tables = TableSection::new();
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: elements,
        maximum: None,
        shared: false,
    });
    let mut module = Module::new();
    module.section(&tables);
    module
}
