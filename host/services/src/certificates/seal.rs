//! The seal on certificates and annotated copies (加注件): an SM2 signature
//! (GM/T 0003) over the canonical encoding of the document, whose SM3 digest
//! (GM/T 0004) travels with it. The canonical encoding is JSON with object
//! keys sorted and no insignificant whitespace, so the same document always
//! has the same bytes.
//!
//! A sealed document verifies offline against the platform's public key: the
//! digest must match the document and the signature must match the digest's
//! input under that key. The public key inside the file is only a hint; trust
//! comes from the key the verifier already holds.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sm2::SecretKey;
use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm3::{Digest, Sm3};

/// The only algorithm: SM2 signatures with SM3.
pub const ALGORITHM: &str = "SM2-SM3";

/// The signer's distinguishing identifier: the GM/T 0009 default, which other
/// SM2 implementations (GmSSL, OpenSSL's `distid`) use unless told otherwise.
pub const DISTINGUISHING_ID: &str = "1234567812345678";

/// Why a seal does not hold, or a key or file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("not a sealed document: {0}")]
    Malformed(String),
    #[error("unsupported seal algorithm `{0}` (expected SM2-SM3)")]
    Algorithm(String),
    #[error("malformed {what}: {detail}")]
    Key { what: &'static str, detail: String },
    #[error("the document does not match its SM3 digest: it was changed after sealing")]
    DigestMismatch,
    #[error("the SM2 signature does not verify under the platform key: the seal is forged or from another key")]
    SignatureMismatch,
}

/// The platform's sealing key.
#[derive(Clone)]
pub struct SealKey {
    secret: SecretKey,
    signing: SigningKey,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKey")
            .field("public_key", &self.public_key_hex())
            .finish()
    }
}

impl SealKey {
    /// A fresh random key.
    pub fn generate() -> SealKey {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).expect("the operating system provides randomness");
            // A random 32-byte string is a valid scalar except with negligible
            // probability; draw again in that case.
            if let Ok(key) = SealKey::from_secret_bytes(&bytes) {
                return key;
            }
        }
    }

    fn from_secret_bytes(bytes: &[u8]) -> Result<SealKey, SealError> {
        let secret = SecretKey::from_slice(bytes).map_err(|e| SealError::Key {
            what: "SM2 secret key",
            detail: e.to_string(),
        })?;
        let signing = SigningKey::new(DISTINGUISHING_ID, &secret).map_err(|e| SealError::Key {
            what: "SM2 secret key",
            detail: e.to_string(),
        })?;
        Ok(SealKey { secret, signing })
    }

    /// Read a secret key written by [`SealKey::secret_hex`].
    pub fn from_secret_hex(text: &str) -> Result<SealKey, SealError> {
        let bytes = hex::decode(text.trim()).map_err(|e| SealError::Key {
            what: "SM2 secret key",
            detail: e.to_string(),
        })?;
        SealKey::from_secret_bytes(&bytes)
    }

    /// The secret key, hex-encoded. Keep it secret.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.secret.to_bytes())
    }

    /// The public key, SEC1 uncompressed, hex-encoded.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().to_sec1_bytes())
    }

    /// Seal a document.
    pub fn seal(&self, document: &Value) -> SealedDocument {
        let canonical = canonical_bytes(document);
        let signature: Signature = self.signing.sign(&canonical);
        SealedDocument {
            algorithm: ALGORITHM.into(),
            document: canonicalize(document),
            sm3: hex::encode(Sm3::digest(&canonical)),
            signature: hex::encode(signature.to_bytes()),
            public_key: self.public_key_hex(),
        }
    }
}

/// A sealed document as exported (the file `tongban cert verify` reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedDocument {
    pub algorithm: String,
    pub document: Value,
    /// SM3 of the canonical encoding of `document`, hex.
    pub sm3: String,
    /// The SM2 signature (r ‖ s, 64 bytes), hex.
    pub signature: String,
    /// The sealing key, as a hint; verification uses the verifier's own copy.
    pub public_key: String,
}

impl SealedDocument {
    /// Parse an exported file.
    pub fn from_json(text: &str) -> Result<SealedDocument, SealError> {
        serde_json::from_str(text).map_err(|e| SealError::Malformed(e.to_string()))
    }

    /// The exported file.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("sealed documents serialize")
    }

    /// Verify against the platform public key the verifier trusts.
    pub fn verify(&self, trusted_public_key_hex: &str) -> Result<(), SealError> {
        if self.algorithm != ALGORITHM {
            return Err(SealError::Algorithm(self.algorithm.clone()));
        }
        let canonical = canonical_bytes(&self.document);
        if hex::encode(Sm3::digest(&canonical)) != self.sm3.to_ascii_lowercase() {
            return Err(SealError::DigestMismatch);
        }
        let key_bytes = hex::decode(trusted_public_key_hex.trim()).map_err(|e| SealError::Key {
            what: "SM2 public key",
            detail: e.to_string(),
        })?;
        let key = VerifyingKey::from_sec1_bytes(DISTINGUISHING_ID, &key_bytes).map_err(|e| SealError::Key {
            what: "SM2 public key",
            detail: e.to_string(),
        })?;
        let signature_bytes = hex::decode(&self.signature).map_err(|_| SealError::SignatureMismatch)?;
        let signature = Signature::try_from(signature_bytes.as_slice()).map_err(|_| SealError::SignatureMismatch)?;
        key.verify(&canonical, &signature)
            .map_err(|_| SealError::SignatureMismatch)
    }
}

/// `value` with every object's keys in sorted order (whatever the map type
/// preserves, keys are inserted sorted).
fn canonicalize(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut sorted = Map::new();
            for key in keys {
                sorted.insert(key.clone(), canonicalize(&map[key]));
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonicalize).collect()),
        other => other.clone(),
    }
}

/// The canonical encoding: sorted keys, compact JSON, UTF-8.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(&canonicalize(value)).expect("JSON values serialize")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn licence() -> Value {
        json!({
            "id": "BUSINESS-LICENCE.113301000024891238.00000042.01K",
            "holder": {"name": "张三", "trade-name": "杭州西湖张记小吃店"},
            "valid-until": null,
            "status": "valid"
        })
    }

    #[test]
    fn a_sealed_document_verifies_offline_and_round_trips_as_a_file() {
        let key = SealKey::generate();
        let sealed = key.seal(&licence());
        assert_eq!(sealed.sm3.len(), 64);
        let file = sealed.to_json_pretty();
        let read = SealedDocument::from_json(&file).unwrap();
        read.verify(&key.public_key_hex()).unwrap();
        // Key order in the input does not change the seal's input.
        let reordered: Value = serde_json::from_str(
            r#"{"status":"valid","valid-until":null,"holder":{"trade-name":"杭州西湖张记小吃店","name":"张三"},"id":"BUSINESS-LICENCE.113301000024891238.00000042.01K"}"#,
        )
        .unwrap();
        assert_eq!(canonical_bytes(&reordered), canonical_bytes(&licence()));
    }

    #[test]
    fn a_changed_byte_or_another_key_fails() {
        let key = SealKey::generate();
        let file = key.seal(&licence()).to_json_pretty();
        // Change one byte of the holder's name inside the file.
        let tampered = file.replacen("张三", "张四", 1);
        assert_ne!(tampered, file);
        let err = SealedDocument::from_json(&tampered)
            .unwrap()
            .verify(&key.public_key_hex())
            .unwrap_err();
        assert_eq!(err, SealError::DigestMismatch);
        // A forger who recomputes the digest still lacks the key.
        let mut forged = SealedDocument::from_json(&tampered).unwrap();
        forged.sm3 = hex::encode(Sm3::digest(canonical_bytes(&forged.document)));
        assert_eq!(
            forged.verify(&key.public_key_hex()).unwrap_err(),
            SealError::SignatureMismatch
        );
        // A genuine seal under another key does not verify under ours.
        let other = SealKey::generate().seal(&licence());
        assert_eq!(
            other.verify(&key.public_key_hex()).unwrap_err(),
            SealError::SignatureMismatch
        );
        assert!(matches!(SealedDocument::from_json("{}"), Err(SealError::Malformed(_))));
    }

    #[test]
    fn the_secret_key_round_trips() {
        let key = SealKey::generate();
        let again = SealKey::from_secret_hex(&key.secret_hex()).unwrap();
        assert_eq!(again.public_key_hex(), key.public_key_hex());
        let sealed = again.seal(&licence());
        sealed.verify(&key.public_key_hex()).unwrap();
        assert!(SealKey::from_secret_hex("zz").is_err());
    }

    #[test]
    fn sm3_matches_the_standard_test_vector() {
        // GM/T 0004-2012 appendix A.1: SM3("abc").
        assert_eq!(
            hex::encode(Sm3::digest(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }
}
