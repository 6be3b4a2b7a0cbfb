//! Session tokens: JWTs per RFC 8725, signed with HS256 only.
//!
//! The header's `kid` names the secret: the current one signs, previous ones still verify (so a
//! secret can be rotated without logging everyone out), a removed one is rejected. `alg` is
//! pinned: `none`, other HMAC sizes and asymmetric algorithms are all refused. `typ`, `iss`,
//! `aud`, `exp`, `nbf` and `iat` are checked, with at most 60 s of clock leeway.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Error, Result};

pub const ISSUER: &str = "argus";
pub const AUDIENCE: &str = "argus-api";
pub const TYP: &str = "JWT";
pub const LEEWAY_SECS: u64 = 60;

/// What a session token says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: Uuid,
    pub workspace_id: Uuid,
    /// `owner`, `admin`, `member` or `viewer` at the time of issue; re-checked per request.
    pub role: String,
    /// The session (`user_sessions`): revoking it ends the token before it expires.
    pub sid: Uuid,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl Key {
    fn new(secret: &SecretString) -> Key {
        let bytes = secret.expose_secret().as_bytes();
        // The kid names a secret without revealing it: the first 8 bytes of its SHA-256.
        let digest = Sha256::digest(bytes);
        let kid = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Key {
            kid,
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
        }
    }
}

/// Issues and verifies session tokens.
pub struct TokenKeys {
    current: Key,
    /// Keys for other purposes (the traces list's cursors) are derived from this.
    derivation_base: [u8; 32],
    previous: Vec<Key>,
    ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("current_kid", &self.current.kid)
            .field("previous", &self.previous.len())
            .field("ttl", &self.ttl)
            .finish()
    }
}

fn now() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

impl TokenKeys {
    pub fn new(current: &SecretString, previous: &[SecretString], ttl: Duration) -> TokenKeys {
        TokenKeys {
            derivation_base: Sha256::digest(current.expose_secret().as_bytes()).into(),
            current: Key::new(current),
            previous: previous.iter().map(Key::new).collect(),
            ttl,
        }
    }

    /// A key for `purpose` derived from the current secret (never the secret itself): the same
    /// on every replica sharing the secret, another for every purpose.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut derived = Sha256::new();
        derived.update(purpose.as_bytes());
        derived.update(b"\0");
        derived.update(self.derivation_base);
        derived.finalize().into()
    }

    /// How long an issued token lives.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The kid of the signing secret.
    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    /// Signs a token of session `sid` for `user` in `workspace` with `role`, valid for the
    /// configured time.
    pub fn issue(&self, user: Uuid, workspace: Uuid, role: &str, sid: Uuid) -> Result<String> {
        let iat = now();
        let claims = Claims {
            sub: user,
            workspace_id: workspace,
            role: role.to_owned(),
            sid,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat,
            nbf: iat,
            exp: iat + self.ttl.as_secs(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TYP.into());
        header.kid = Some(self.current.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.current.encoding)
            .map_err(|e| Error::Internal(format!("signing a token: {e}")))
    }

    /// Verifies a token. Expired → [`Error::ExpiredToken`]; any other defect →
    /// [`Error::InvalidCredentials`].
    pub fn verify(&self, token: &str) -> Result<Claims> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Error::InvalidCredentials)?;
        if header.alg != Algorithm::HS256 || header.typ.as_deref() != Some(TYP) {
            return Err(Error::InvalidCredentials);
        }
        let kid = header.kid.ok_or(Error::InvalidCredentials)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.kid == kid)
            .ok_or(Error::InvalidCredentials)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => Error::ExpiredToken,
                _ => Error::InvalidCredentials,
            },
        )?;
        let claims = data.claims;
        // iat in the future (beyond the leeway) is a forged or mis-clocked token.
        if claims.iat > now() + LEEWAY_SECS {
            return Err(Error::InvalidCredentials);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    const A: &str = "secret-a-0123456789-0123456789-0123456789";
    const B: &str = "secret-b-0123456789-0123456789-0123456789";

    fn keys() -> TokenKeys {
        TokenKeys::new(&secret(A), &[], Duration::from_secs(3600))
    }

    /// Signs arbitrary claims/header with a raw secret, as an attacker or a buggy client might.
    fn forge(header: Header, claims: &serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn claims_json(exp_offset: i64) -> serde_json::Value {
        let t = now() as i64;
        serde_json::json!({
            "sub": Uuid::nil(), "workspace_id": Uuid::nil(), "role": "owner", "sid": Uuid::nil(),
            "iss": ISSUER, "aud": AUDIENCE, "iat": t, "nbf": t, "exp": t + exp_offset,
        })
    }

    fn header(alg: Algorithm, kid: &str) -> Header {
        let mut h = Header::new(alg);
        h.typ = Some(TYP.into());
        h.kid = Some(kid.into());
        h
    }

    #[test]
    fn issued_token_verifies_with_its_claims() {
        let k = keys();
        let (user, ws) = (Uuid::new_v4(), Uuid::new_v4());
        let claims = k
            .verify(&k.issue(user, ws, "admin", Uuid::nil()).unwrap())
            .unwrap();
        assert_eq!(
            (claims.sub, claims.workspace_id, claims.role.as_str()),
            (user, ws, "admin")
        );
    }

    #[test]
    fn expired_token_is_expired_token() {
        let k = keys();
        let t = forge(
            header(Algorithm::HS256, k.current_kid()),
            &claims_json(-(LEEWAY_SECS as i64) - 10),
            A,
        );
        assert!(matches!(k.verify(&t), Err(Error::ExpiredToken)));
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let k = keys();
        let kid = k.current_kid().to_owned();
        // alg: none, hand-built (the library will not sign one).
        use base64::Engine;
        let b64 = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let none = format!(
            "{}.{}.",
            b64(serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string()),
            b64(claims_json(600).to_string())
        );
        assert!(matches!(k.verify(&none), Err(Error::InvalidCredentials)));
        // The same secret under HS512: alg confusion.
        let hs512 = forge(header(Algorithm::HS512, &kid), &claims_json(600), A);
        assert!(matches!(k.verify(&hs512), Err(Error::InvalidCredentials)));
    }

    #[test]
    fn wrong_issuer_audience_typ_kid_or_signature_is_refused() {
        let k = keys();
        let kid = k.current_kid().to_owned();
        let mut c = claims_json(600);
        c["iss"] = "someone-else".into();
        assert!(k
            .verify(&forge(header(Algorithm::HS256, &kid), &c, A))
            .is_err());
        let mut c = claims_json(600);
        c["aud"] = "other-api".into();
        assert!(k
            .verify(&forge(header(Algorithm::HS256, &kid), &c, A))
            .is_err());
        let mut h = header(Algorithm::HS256, &kid);
        h.typ = Some("at+jwt".into());
        assert!(k.verify(&forge(h, &claims_json(600), A)).is_err());
        assert!(k
            .verify(&forge(
                header(Algorithm::HS256, "unknown"),
                &claims_json(600),
                A
            ))
            .is_err());
        // Right kid, wrong secret: a bad signature.
        assert!(matches!(
            k.verify(&forge(header(Algorithm::HS256, &kid), &claims_json(600), B)),
            Err(Error::InvalidCredentials)
        ));
        let mut missing_nbf = claims_json(600);
        missing_nbf.as_object_mut().unwrap().remove("nbf");
        assert!(k
            .verify(&forge(header(Algorithm::HS256, &kid), &missing_nbf, A))
            .is_err());
    }

    #[test]
    fn not_yet_valid_token_is_refused_beyond_the_leeway() {
        let k = keys();
        let mut c = claims_json(3600);
        c["nbf"] = (now() + LEEWAY_SECS + 120).into();
        assert!(k
            .verify(&forge(header(Algorithm::HS256, k.current_kid()), &c, A))
            .is_err());
    }

    #[test]
    fn rotation_keeps_previous_secrets_valid_until_removed() {
        let old = keys();
        let token = old
            .issue(Uuid::new_v4(), Uuid::new_v4(), "viewer", Uuid::new_v4())
            .unwrap();
        let rotated = TokenKeys::new(&secret(B), &[secret(A)], Duration::from_secs(3600));
        assert!(
            rotated.verify(&token).is_ok(),
            "previous secret still verifies"
        );
        assert_ne!(rotated.current_kid(), old.current_kid());
        let fresh = rotated
            .issue(Uuid::new_v4(), Uuid::new_v4(), "viewer", Uuid::new_v4())
            .unwrap();
        assert!(rotated.verify(&fresh).is_ok());
        let removed = TokenKeys::new(&secret(B), &[], Duration::from_secs(3600));
        assert!(matches!(
            removed.verify(&token),
            Err(Error::InvalidCredentials)
        ));
    }

    #[test]
    fn debug_never_shows_secrets() {
        assert!(!format!("{:?}", keys()).contains("secret-a"));
    }
}
