//! Inspecting a component without running it: is it a component, what does it
//! import, what does it export.

use wit_parser::{Resolve, WorldItem, WorldKey};

use crate::error::ComponentError;

/// The imports and exports of a component, as fully qualified interface names
/// such as `tongban:platform/storage@0.1.0`, or plain names for functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl ComponentInfo {
    /// Validate and decode component bytes.
    pub fn inspect(bytes: &[u8]) -> Result<ComponentInfo, ComponentError> {
        if !wasmparser::Parser::is_component(bytes) {
            return Err(ComponentError::NotAComponent);
        }
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(bytes)
            .map_err(|e| ComponentError::Invalid(e.to_string()))?;
        let decoded = wit_component::decode(bytes).map_err(|e| ComponentError::Undecodable(format!("{e:#}")))?;
        let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
            return Err(ComponentError::NotAComponent);
        };
        let world = &resolve.worlds[world];
        Ok(ComponentInfo {
            imports: world
                .imports
                .iter()
                .filter_map(|(k, v)| item_name(&resolve, k, v))
                .collect(),
            exports: world
                .exports
                .iter()
                .filter_map(|(k, v)| item_name(&resolve, k, v))
                .collect(),
        })
    }

    /// The version of `tongban:platform` the component uses, from its imports
    /// and exports of that package; `None` if it uses none.
    pub fn platform_versions(&self) -> Vec<semver::Version> {
        let mut versions: Vec<semver::Version> = self
            .imports
            .iter()
            .chain(&self.exports)
            .filter(|name| name.starts_with(crate::platform::WIT_PACKAGE))
            .filter_map(|name| name.split_once('@'))
            .filter_map(|(_, v)| semver::Version::parse(v).ok())
            .collect();
        versions.sort();
        versions.dedup();
        versions
    }
}

fn item_name(resolve: &Resolve, key: &WorldKey, item: &WorldItem) -> Option<String> {
    match (key, item) {
        (_, WorldItem::Type { .. }) => None,
        (WorldKey::Interface(id), _) => resolve.id_of(*id),
        (WorldKey::Name(name), _) => Some(name.clone()),
    }
}
