//! Publisher signatures. A package is signed with Ed25519 over its canonical
//! digest ([`crate::Package::digest`], which excludes the signature itself);
//! the signature travels in the package as `signature.json`. The registry
//! countersigns approvals with its own key the same way.

use ed25519_dalek::{Signer, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The only algorithm in use.
pub const ALGORITHM: &str = "ed25519";

/// What is signed for a package: a domain tag and the package digest, so a
/// package signature can never be replayed as another kind of signature.
fn package_message(digest: &str) -> Vec<u8> {
    format!("tongban-package-v1\n{digest}").into_bytes()
}

/// A detached signature as carried in a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PackageSignature {
    pub algorithm: String,
    /// The fingerprint of the signing key ([`key_id`]).
    pub key_id: String,
    /// The signature, hex-encoded.
    pub signature: String,
}

/// Why a signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the package is not signed")]
    Unsigned,
    #[error("unsupported signature algorithm `{0}` (use ed25519)")]
    Algorithm(String),
    #[error("the package is signed with key {0}, which is not registered to this org")]
    UnknownKey(String),
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error(
        "the signature does not match the package (it was signed with another key, or the package changed after signing)"
    )]
    Mismatch,
}

/// The fingerprint of a public key: the first 16 bytes of its SHA-256, hex.
pub fn key_id(public_key: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public_key)[..16])
}

/// A secret signing key, as kept by a publisher or the registry.
#[derive(Clone)]
pub struct SigningKey(ed25519_dalek::SigningKey);

/// The file format of a secret key.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct KeyFile {
    algorithm: String,
    key_id: String,
    public_key: String,
    secret_key: String,
}

impl SigningKey {
    /// A fresh random key.
    pub fn generate() -> SigningKey {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system provides randomness");
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The public key bytes.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The public key, hex-encoded.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key())
    }

    /// The key's fingerprint.
    pub fn key_id(&self) -> String {
        key_id(&self.public_key())
    }

    /// Serialize as a key file (JSON). Keep it secret.
    pub fn to_file_text(&self) -> String {
        serde_json::to_string_pretty(&KeyFile {
            algorithm: ALGORITHM.into(),
            key_id: self.key_id(),
            public_key: self.public_key_hex(),
            secret_key: hex::encode(self.0.to_bytes()),
        })
        .expect("key files serialize")
    }

    /// Read a key file.
    pub fn from_file_text(text: &str) -> Result<SigningKey, SignatureError> {
        let file: KeyFile = serde_json::from_str(text).map_err(|e| SignatureError::Malformed {
            what: "key file",
            detail: e.to_string(),
        })?;
        if file.algorithm != ALGORITHM {
            return Err(SignatureError::Algorithm(file.algorithm));
        }
        let bytes: [u8; 32] = hex::decode(&file.secret_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SignatureError::Malformed {
                what: "key file",
                detail: "secret-key is not 32 hex-encoded bytes".into(),
            })?;
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&bytes)))
    }

    /// Sign a package digest.
    pub fn sign_package_digest(&self, digest: &str) -> PackageSignature {
        PackageSignature {
            algorithm: ALGORITHM.into(),
            key_id: self.key_id(),
            signature: hex::encode(self.0.sign(&package_message(digest)).to_bytes()),
        }
    }

    /// Sign arbitrary text under a domain tag (for countersignatures).
    pub fn sign_text(&self, domain: &str, text: &str) -> String {
        hex::encode(self.0.sign(format!("{domain}\n{text}").as_bytes()).to_bytes())
    }
}

/// Parse a hex public key.
pub fn parse_public_key(hex_key: &str) -> Result<[u8; 32], SignatureError> {
    let bytes: [u8; 32] =
        hex::decode(hex_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(SignatureError::Malformed {
                what: "public key",
                detail: "expected 32 hex-encoded bytes".into(),
            })?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|e| SignatureError::Malformed {
        what: "public key",
        detail: e.to_string(),
    })?;
    Ok(bytes)
}

/// Check a package signature against a public key.
pub fn verify_package_signature(
    digest: &str,
    signature: &PackageSignature,
    public_key: &[u8; 32],
) -> Result<(), SignatureError> {
    if signature.algorithm != ALGORITHM {
        return Err(SignatureError::Algorithm(signature.algorithm.clone()));
    }
    let key = ed25519_dalek::VerifyingKey::from_bytes(public_key).map_err(|e| SignatureError::Malformed {
        what: "public key",
        detail: e.to_string(),
    })?;
    let bytes: [u8; 64] = hex::decode(&signature.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SignatureError::Malformed {
            what: "signature",
            detail: "expected 64 hex-encoded bytes".into(),
        })?;
    key.verify(&package_message(digest), &ed25519_dalek::Signature::from_bytes(&bytes))
        .map_err(|_| SignatureError::Mismatch)
}

/// Check a countersignature made with [`SigningKey::sign_text`].
pub fn verify_text_signature(domain: &str, text: &str, signature_hex: &str, public_key: &[u8; 32]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let Some(bytes) = hex::decode(signature_hex)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
    else {
        return false;
    };
    key.verify(
        format!("{domain}\n{text}").as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&bytes),
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_digest_and_key() {
        let key = SigningKey::generate();
        let other = SigningKey::generate();
        let sig = key.sign_package_digest("abc");
        verify_package_signature("abc", &sig, &key.public_key()).unwrap();
        assert_eq!(
            verify_package_signature("abd", &sig, &key.public_key()),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_package_signature("abc", &sig, &other.public_key()),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn key_files_round_trip() {
        let key = SigningKey::generate();
        let back = SigningKey::from_file_text(&key.to_file_text()).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(back.key_id().len(), 32);
        assert!(SigningKey::from_file_text("{}").is_err());
    }

    #[test]
    fn countersignatures_are_domain_separated() {
        let key = SigningKey::generate();
        let sig = key.sign_text("tongban-approval-v1", "cn.gov.a.b@1.0.0");
        assert!(verify_text_signature(
            "tongban-approval-v1",
            "cn.gov.a.b@1.0.0",
            &sig,
            &key.public_key()
        ));
        assert!(!verify_text_signature(
            "tongban-other",
            "cn.gov.a.b@1.0.0",
            &sig,
            &key.public_key()
        ));
    }
}
