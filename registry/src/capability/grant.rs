//! What one capability is in the registry: the [`Grant`] trait that each
//! capability's manifest section implements. The capability modules import
//! this module, and the registration table in `capability/mod.rs` imports
//! them, so the imports go one way.

/// The registry half of one capability, implemented by its manifest section
/// (the `[capabilities]` key of the same name in `tongban.toml`): what the
/// marketplace checks of it at publish, and what a reviewer sees of it in
/// the capability diff. Every method has a default for a capability that
/// has nothing of that kind.
pub trait Grant {
    /// Numbers of the section outside the platform's bounds, each as a
    /// sentence naming the key (reported under the `limits` check).
    fn limit_problems(&self) -> Vec<String> {
        Vec::new()
    }

    /// Anything else wrong with the section, against the package's files
    /// (reported under the `capabilities` check).
    fn problems(&self, files: &dyn PackageFiles) -> Vec<String> {
        let _ = files;
        Vec::new()
    }

    /// The scopes the section grants, as the stable ids a reviewer
    /// acknowledges (for example `identity.attributes/phone`).
    fn scopes(&self) -> Vec<String> {
        Vec::new()
    }

    /// The section's limits as `(id, value)` for the capability diff, for a
    /// granted section (`Some`) or an absent one (`None`, where every limit
    /// is 0). The ids must not depend on the grant, so two manifests' limits
    /// pair up.
    fn limits(grant: Option<&Self>) -> Vec<(&'static str, u64)>
    where
        Self: Sized,
    {
        let _ = grant;
        Vec::new()
    }

    /// The package files the section refers to, package-relative.
    fn files(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The files of a package, as far as a grant's checks read them. The
/// package format implements it; the capability modules need nothing else
/// of it, so the manifest and its checks build without the package format.
pub trait PackageFiles {
    /// The bytes of a package file, if the package has it.
    fn file(&self, path: &str) -> Option<&[u8]>;
}
