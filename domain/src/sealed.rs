//! Secrets kept at rest (a judge's API key): sealed with AES-256-GCM under the server's key,
//! bound to their workspace (the workspace id is the associated data, so a sealed value copied
//! into another workspace's row does not open), never returned once stored.

use aes_gcm::aead::{Aead, AeadCore, OsRng, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};

use crate::tenancy::WorkspaceId;

const NONCE: usize = 12;

/// A 32-byte key from an operator's secret string (its SHA-256).
pub fn key_from(secret: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"argus sealed secrets\0");
    h.update(secret.as_bytes());
    h.finalize().into()
}

/// Seals and opens secrets with the server's key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// `nonce ‖ ciphertext ‖ tag`.
    pub fn seal(&self, workspace: WorkspaceId, secret: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = workspace.0.as_bytes();
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad,
                },
            )
            .expect("AES-GCM encryption of a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    /// The secret, or `None` when it was sealed under another key (the server's key changed)
    /// or for another workspace.
    pub fn open(&self, workspace: WorkspaceId, sealed: &[u8]) -> Option<String> {
        if sealed.len() <= NONCE {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE);
        let plain = self
            .cipher
            .decrypt(
                nonce.into(),
                Payload {
                    msg: body,
                    aad: workspace.0.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_workspace() {
        let a = WorkspaceId(Uuid::new_v4());
        let b = WorkspaceId(Uuid::new_v4());
        let sealer = Sealer::new(&[7; 32]);
        let sealed = sealer.seal(a, "sk-test-1234");
        assert!(!sealed.windows(4).any(|w| w == b"1234"));
        assert_eq!(sealer.open(a, &sealed).as_deref(), Some("sk-test-1234"));
        assert_eq!(sealer.open(b, &sealed), None);
        assert_eq!(Sealer::new(&[8; 32]).open(a, &sealed), None);
        assert_eq!(sealer.open(a, &sealed[..5]), None);
        // A fresh nonce each time.
        assert_ne!(sealer.seal(a, "x"), sealer.seal(a, "x"));
    }
}
