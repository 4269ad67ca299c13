//! Organisations are identified by their unified social credit code (统一社会信用代码,
//! GB 32100-2015): 18 characters from a 31-character alphabet, the last of which
//! is a check character over the first 17.

/// The code alphabet: digits and upper-case letters without I, O, S, V and Z.
pub const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Why a code is not a valid unified social credit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    #[error("a unified social credit code has 18 characters; `{code}` has {len}")]
    Length { code: String, len: usize },
    #[error("`{ch}` at position {position} of `{code}` is not allowed (use 0-9 and A-Y without I, O, S, V, Z)")]
    Character { code: String, ch: char, position: usize },
    #[error("the check character of `{code}` should be `{expected}`, not `{found}`")]
    Check { code: String, expected: char, found: char },
}

/// The check character for the first 17 characters, if they are all valid.
pub fn uscc_check_character(first17: &str) -> Option<char> {
    let mut sum = 0;
    for (c, weight) in first17.chars().zip(WEIGHTS) {
        sum += USCC_ALPHABET.find(c)? as u32 * weight;
    }
    if first17.chars().count() != 17 {
        return None;
    }
    let value = (31 - sum % 31) % 31;
    USCC_ALPHABET.chars().nth(value as usize)
}

/// Check a unified social credit code.
pub fn validate_uscc(code: &str) -> Result<(), UsccError> {
    let len = code.chars().count();
    if len != 18 {
        return Err(UsccError::Length { code: code.into(), len });
    }
    if let Some((i, ch)) = code.chars().enumerate().find(|(_, c)| !USCC_ALPHABET.contains(*c)) {
        return Err(UsccError::Character {
            code: code.into(),
            ch,
            position: i + 1,
        });
    }
    let expected = uscc_check_character(&code[..17]).expect("validated characters");
    let found = code.chars().last().expect("18 characters");
    if expected != found {
        return Err(UsccError::Check {
            code: code.into(),
            expected,
            found,
        });
    }
    Ok(())
}

/// The region code (characters 3 to 8) of a valid code.
pub fn uscc_region(code: &str) -> &str {
    &code[2..8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_check() {
        // A published sample code and the codes the demo and the examples use.
        validate_uscc("91350100M000100Y43").unwrap();
        validate_uscc("113301000024891238").unwrap();
    }

    #[test]
    fn each_kind_of_bad_code_is_named() {
        assert!(matches!(validate_uscc("9135"), Err(UsccError::Length { len: 4, .. })));
        let err = validate_uscc("91350100M000100I43").unwrap_err();
        assert!(
            matches!(
                err,
                UsccError::Character {
                    ch: 'I',
                    position: 16,
                    ..
                }
            ),
            "{err}"
        );
        let err = validate_uscc("91350100M000100Y44").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the check character of `91350100M000100Y44` should be `3`, not `4`"
        );
    }

    #[test]
    fn the_region_is_inside_the_code() {
        assert_eq!(uscc_region("113301000024891238"), "330100");
    }
}
