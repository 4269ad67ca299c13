//! The platform's shared services, the domain logic behind the capabilities
//! apps import and the pages people use. Nothing here knows wasmtime or HTTP.
//!
//! - [`certificates`]: e-certificate (电子证照) identifiers in the GB/T 36904
//!   style and the SM2-over-SM3 seal on certificates and annotated copies.
//! - [`identity`]: pairwise subject handles and masked ID numbers.
//! - [`consent`]: the consent artefact and its state machine.

pub mod certificates;
pub mod consent;
pub mod identity;
