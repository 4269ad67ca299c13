//! Certificate identifiers in the style of GB/T 36904 (电子证照标识): the
//! certificate type code, the issuing org's unified social credit code, a
//! serial number, a two-digit version and a check character, written
//! `TYPE.ISSUER.SERIAL.VERSION` followed by the check character, for example
//! `BUSINESS-LICENCE.113301000024891238.00000042.01K`.
//!
//! The check character is ISO 7064 MOD 37,36 over the identifier's letters and
//! digits (separators and hyphens left out), so a mistyped character is
//! caught before any lookup.

use std::fmt;
use std::str::FromStr;

use tongban_registry::org::validate_uscc;

/// The ISO 7064 MOD 37,36 alphabet.
const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A certificate identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificateId {
    pub type_code: String,
    pub issuer: String,
    pub serial: u64,
    pub version: u8,
}

/// Why a text is not a certificate identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error("a certificate identifier is TYPE.ISSUER.SERIAL.VERSION plus a check character; `{0}` is not")]
    Shape(String),
    #[error("certificate type code `{0}` must be 2 to 32 of A-Z, 0-9 and inner hyphens")]
    TypeCode(String),
    #[error("issuer of `{id}`: {reason}")]
    Issuer { id: String, reason: String },
    #[error("serial `{0}` must be 1 to 12 digits")]
    Serial(String),
    #[error("version `{0}` must be two digits, 01 to 99")]
    Version(String),
    #[error("the check character of `{id}` should be `{expected}`, not `{found}`")]
    Check { id: String, expected: char, found: char },
}

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The ISO 7064 MOD 37,36 (hybrid) check character of `text`'s letters and
/// digits; other characters are skipped.
pub fn check_character(text: &str) -> char {
    let mut product = 36u32;
    for v in text.bytes().filter_map(|b| value(b.to_ascii_uppercase())) {
        let mut sum = (v + product) % 36;
        if sum == 0 {
            sum = 36;
        }
        product = (2 * sum) % 37;
    }
    ALPHABET[((37 - product) % 36) as usize] as char
}

fn valid_type_code(code: &str) -> bool {
    (2..=32).contains(&code.len())
        && !code.starts_with('-')
        && !code.ends_with('-')
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

impl CertificateId {
    /// A new identifier, checked part by part.
    pub fn new(type_code: &str, issuer: &str, serial: u64, version: u8) -> Result<CertificateId, IdentifierError> {
        if !valid_type_code(type_code) {
            return Err(IdentifierError::TypeCode(type_code.into()));
        }
        validate_uscc(issuer).map_err(|e| IdentifierError::Issuer {
            id: format!("{type_code}.{issuer}"),
            reason: e.to_string(),
        })?;
        if serial == 0 || serial > 999_999_999_999 {
            return Err(IdentifierError::Serial(serial.to_string()));
        }
        if version == 0 || version > 99 {
            return Err(IdentifierError::Version(version.to_string()));
        }
        Ok(CertificateId {
            type_code: type_code.into(),
            issuer: issuer.into(),
            serial,
            version,
        })
    }

    /// The identifier without its check character.
    fn body(&self) -> String {
        format!(
            "{}.{}.{:08}.{:02}",
            self.type_code, self.issuer, self.serial, self.version
        )
    }
}

impl fmt::Display for CertificateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body();
        write!(f, "{body}{}", check_character(&body))
    }
}

impl FromStr for CertificateId {
    type Err = IdentifierError;

    fn from_str(text: &str) -> Result<CertificateId, IdentifierError> {
        let shape = || IdentifierError::Shape(text.into());
        let parts: Vec<&str> = text.split('.').collect();
        let [type_code, issuer, serial, version_and_check] = parts[..] else {
            return Err(shape());
        };
        if version_and_check.len() != 3 || !version_and_check.is_ascii() {
            return Err(shape());
        }
        let (version, check) = version_and_check.split_at(2);
        if serial.is_empty() || serial.len() > 12 || !serial.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentifierError::Serial(serial.into()));
        }
        if !version.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentifierError::Version(version.into()));
        }
        let id = CertificateId::new(
            type_code,
            issuer,
            serial.parse().map_err(|_| IdentifierError::Serial(serial.into()))?,
            version.parse().map_err(|_| IdentifierError::Version(version.into()))?,
        )?;
        let body = &text[..text.len() - 1];
        let expected = check_character(body);
        let found = check.chars().next().ok_or_else(shape)?;
        if found != expected {
            return Err(IdentifierError::Check {
                id: text.into(),
                expected,
                found,
            });
        }
        // The canonical form pads the serial to at least eight digits.
        if id.body() != body {
            return Err(shape());
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "113301000024891238";

    #[test]
    fn the_check_character_makes_the_mod_37_36_sum_come_out_right() {
        // Property of ISO 7064 hybrid systems: running the checksum over the
        // text plus its check character ends with product 2*1 = 2 (sum 1).
        for body in [
            "BUSINESS-LICENCE.113301000024891238.00000042.01",
            "A1",
            "ZZZZ9",
            "ID-CARD.9135",
        ] {
            let with_check = format!("{body}{}", check_character(body));
            let mut product = 36u32;
            let mut last_sum = 0;
            for v in with_check.bytes().filter_map(|b| value(b.to_ascii_uppercase())) {
                let mut sum = (v + product) % 36;
                if sum == 0 {
                    sum = 36;
                }
                last_sum = sum;
                product = (2 * sum) % 37;
            }
            assert_eq!(last_sum, 1, "{with_check}");
        }
    }

    #[test]
    fn an_identifier_round_trips_and_catches_a_mistyped_character() {
        let id = CertificateId::new("BUSINESS-LICENCE", ISSUER, 42, 1).unwrap();
        let text = id.to_string();
        assert!(text.starts_with("BUSINESS-LICENCE.113301000024891238.00000042.01"));
        assert_eq!(text.parse::<CertificateId>().unwrap(), id);
        // One changed digit in the serial: the check character catches it.
        let typo = text.replace(".00000042.", ".00000043.");
        assert!(
            matches!(typo.parse::<CertificateId>(), Err(IdentifierError::Check { .. })),
            "{typo}"
        );
        // Two adjacent characters swapped: caught too.
        let swapped = text.replace("891238", "892138");
        assert!(swapped.parse::<CertificateId>().is_err(), "{swapped}");
    }

    #[test]
    fn bad_parts_are_named() {
        let err = CertificateId::new("business licence", ISSUER, 1, 1).unwrap_err();
        assert!(err.to_string().contains("type code"), "{err}");
        let err = CertificateId::new("ID-CARD", "11330100002489123X", 1, 1).unwrap_err();
        assert!(err.to_string().contains("check character"), "{err}");
        assert!(matches!(
            CertificateId::new("ID-CARD", ISSUER, 0, 1),
            Err(IdentifierError::Serial(_))
        ));
        assert!(matches!(
            CertificateId::new("ID-CARD", ISSUER, 1, 100),
            Err(IdentifierError::Version(_))
        ));
        assert!(matches!(
            "nonsense".parse::<CertificateId>(),
            Err(IdentifierError::Shape(_))
        ));
    }
}
