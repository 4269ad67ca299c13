//! Host bindings for `tongban:platform@0.1.0`, generated in this one place.
//!
//! Every import is async (capabilities reach the database) and trappable: a
//! capability returns `Ok(Err(error))` to deny, and `Err(trap)` only for a
//! limit breach such as the host-call budget.

wasmtime::component::bindgen!({
    world: "service-app",
    path: "../../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use exports::tongban::platform::app;
pub use tongban::platform::types;
