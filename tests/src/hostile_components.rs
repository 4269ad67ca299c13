//! Components built to hurt, for the tests that show the platform refuses
//! them before it spends minutes and gigabytes compiling them: a real
//! fixture component with one more core module appended, whose shape (a
//! million tiny functions, one straight-line function of megabytes, a second
//! memory, a huge table) is what the red team used. The extra module is
//! never instantiated; compiling it is the cost.

use wasm_encoder::{
    CodeSection, Function, FunctionSection, Instruction, MemorySection, MemoryType, Module, RefType, TableSection,
    TableType, TypeSection, ValType,
};

/// `component` with `module` appended as one more core module section.
pub fn with_extra_module(component: &[u8], module: &Module) -> Vec<u8> {
    let module = module.as_slice();
    let mut bytes = component.to_vec();
    // A component's core module section: id 1, the size, the module.
    bytes.push(1);
    leb128(&mut bytes, module.len() as u64);
    bytes.extend_from_slice(module);
    bytes
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

/// A module of `count` functions that do nothing.
pub fn tiny_functions(count: u32) -> Module {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    let mut code = CodeSection::new();
    for _ in 0..count {
        functions.function(0);
        let mut body = Function::new([]);
        body.instruction(&Instruction::End);
        code.function(&body);
    }
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    module
}

/// A module of one function whose body is about `body_bytes` of
/// straight-line code (`i32.const 1; drop`, repeated).
pub fn straight_line_function(body_bytes: usize) -> Module {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut body = Function::new([]);
    for _ in 0..body_bytes / 3 {
        body.instruction(&Instruction::I32Const(1));
        body.instruction(&Instruction::Drop);
    }
    body.instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&body);
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    module
}

/// A module with one function declaring `locals` locals.
pub fn many_locals(locals: u32) -> Module {
    let mut types = TypeSection::new();
    types.ty().function([], []);
    let mut functions = FunctionSection::new();
    functions.function(0);
    let mut body = Function::new([(locals, ValType::I64)]);
    body.instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&body);
    let mut module = Module::new();
    module.section(&types).section(&functions).section(&code);
    module
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
