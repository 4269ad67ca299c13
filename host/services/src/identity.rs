//! What apps may learn about who they serve. Apps never see a platform subject
//! id: they see a pairwise handle, stable for one (subject, app) pair and
//! unlinkable across apps, computed as HMAC-SHA256 under a platform secret.
//! ID numbers are only ever released masked.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The domain tag of pairwise handles (a version bump changes every handle).
const PAIRWISE_DOMAIN: &str = "tongban-pairwise-v1";

/// The platform secret behind pairwise handles.
#[derive(Clone)]
pub struct PairwiseKey([u8; 32]);

impl std::fmt::Debug for PairwiseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairwiseKey(..)")
    }
}

impl PairwiseKey {
    /// A fresh random secret.
    pub fn generate() -> PairwiseKey {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the operating system provides randomness");
        PairwiseKey(secret)
    }

    /// A secret from its 32 bytes (as stored by the platform).
    pub fn from_bytes(secret: [u8; 32]) -> PairwiseKey {
        PairwiseKey(secret)
    }

    /// The secret's bytes, for storing. Keep them secret.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The handle `app` sees for `subject`: `ph-` and 32 hex characters.
    pub fn handle(&self, subject: &str, app: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        // Lengths first, so ("ab", "c") and ("a", "bc") never collide.
        mac.update(format!("{PAIRWISE_DOMAIN}\n{}:{app}\n{}:{subject}", app.len(), subject.len()).as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("ph-{}", hex::encode(&tag[..16]))
    }
}

/// A resident ID number (GB 11643) as apps may see it: the first four and the
/// last four characters, the rest starred. Anything that is not 15 or 18
/// characters keeps only its last two, and one of two characters or fewer is
/// starred whole.
pub fn mask_id_number(id_number: &str) -> String {
    let chars: Vec<char> = id_number.chars().collect();
    let (head, tail) = match chars.len() {
        15 | 18 => (4, 4),
        n if n > 2 => (0, 2),
        _ => (0, 0),
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= chars.len() - tail { *c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_stable_per_app_and_unlinkable_across_apps() {
        let key = PairwiseKey::generate();
        let a = key.handle("citizen-330106-0001", "cn.gov.hz.amr.sole-proprietor");
        assert_eq!(a, key.handle("citizen-330106-0001", "cn.gov.hz.amr.sole-proprietor"));
        assert!(a.starts_with("ph-") && a.len() == 35, "{a}");
        assert_ne!(a, key.handle("citizen-330106-0001", "cn.gov.hz.hrss.pension"));
        assert_ne!(a, key.handle("citizen-330106-0002", "cn.gov.hz.amr.sole-proprietor"));
        // Another platform secret gives other handles.
        assert_ne!(
            a,
            PairwiseKey::generate().handle("citizen-330106-0001", "cn.gov.hz.amr.sole-proprietor")
        );
        // Boundaries are not ambiguous.
        assert_ne!(key.handle("ab", "c"), key.handle("a", "bc"));
        let again = PairwiseKey::from_bytes(key.to_bytes());
        assert_eq!(again.handle("s", "a"), key.handle("s", "a"));
    }

    #[test]
    fn id_numbers_are_masked() {
        assert_eq!(mask_id_number("330106199001011234"), "3301**********1234");
        assert_eq!(mask_id_number("33010690010112X"), "3301*******112X");
        assert_eq!(mask_id_number("P1234567"), "******67");
        assert_eq!(mask_id_number("7"), "*");
        assert_eq!(mask_id_number(""), "");
    }
}
