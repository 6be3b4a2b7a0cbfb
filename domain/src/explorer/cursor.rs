//! Opaque, tamper-checked keyset cursors for the traces and scores lists.
//!
//! A cursor is `base64url(JSON position) "." base64url(HMAC-SHA256 tag, 16 bytes)`. The
//! position is the sort, the direction, and the sort key and trace id of the row to continue
//! from. The tag is keyed by a secret derived from the session-signing secret, so a client
//! can neither forge a position nor alter one; anything that does not verify is a 400
//! `INVALID_FORMAT`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{Error, Result};

/// The list's orders, each with its own keyset (and index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Newest first: `(start_time, trace_id)`.
    Time,
    /// Slowest first: `(latency_us, trace_id)`.
    Latency,
    /// Most expensive first: `(cost_nanos, trace_id)`.
    Cost,
}

impl Sort {
    pub const ALL: [Sort; 3] = [Sort::Time, Sort::Latency, Sort::Cost];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Time => "time",
            Sort::Latency => "latency",
            Sort::Cost => "cost",
        }
    }

    pub fn parse(s: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Which side of the row a page lies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// The rows after it in the sort order (the next page).
    #[serde(rename = "a")]
    After,
    /// The rows before it (the previous page).
    #[serde(rename = "b")]
    Before,
}

/// A decoded cursor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    #[serde(rename = "s")]
    pub sort: Sort,
    #[serde(rename = "d")]
    pub direction: Direction,
    /// The sort key as text: microseconds since the epoch (time), microseconds (latency) or
    /// nano-USD (cost).
    #[serde(rename = "k")]
    pub key: String,
    /// The id of the row to continue from (a trace id, or a score id).
    #[serde(rename = "t")]
    pub id: String,
}

/// Signs and verifies cursors.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

const TAG_LEN: usize = 16;

impl CursorKey {
    pub fn new(secret: [u8; 32]) -> CursorKey {
        CursorKey(secret)
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(b"argus-cursor-v1\0");
        mac.update(payload);
        mac
    }

    pub fn encode(&self, position: &Position) -> String {
        let payload = serde_json::to_vec(position).expect("a position serializes");
        let tag = self.mac(&payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(&tag[..TAG_LEN])
        )
    }

    /// The position in `cursor`, if it is one this server signed.
    pub fn decode(&self, cursor: &str) -> Result<Position> {
        let bad = || Error::InvalidFormat {
            message: "invalid cursor: use a next_cursor or prev_cursor as given".into(),
            location: Some("cursor".into()),
        };
        let (payload, tag) = cursor.trim().split_once('.').ok_or_else(bad)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        if tag.len() != TAG_LEN {
            return Err(bad());
        }
        // Constant time.
        self.mac(&payload)
            .verify_truncated_left(&tag)
            .map_err(|_| bad())?;
        serde_json::from_slice(&payload).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position() -> Position {
        Position {
            sort: Sort::Cost,
            direction: Direction::After,
            key: "1250000".into(),
            id: "0af7651916cd43dd8448eb211c80319c".into(),
        }
    }

    #[test]
    fn a_cursor_round_trips() {
        let key = CursorKey::new([7; 32]);
        let c = key.encode(&position());
        assert_eq!(key.decode(&c).unwrap(), position());
        assert!(!c.contains('=') && !c.contains('+') && !c.contains('/'));
    }

    #[test]
    fn tampered_or_foreign_cursors_are_refused() {
        let key = CursorKey::new([7; 32]);
        let c = key.encode(&position());
        let (payload, tag) = c.split_once('.').unwrap();
        let mut forged = position();
        forged.key = "9".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        for bad in [
            format!("{forged_payload}.{tag}"),
            format!("{payload}.{}", &tag[1..]),
            format!("{payload}."),
            payload.to_owned(),
            String::new(),
            "..".into(),
            "not base64!.x".into(),
            CursorKey::new([8; 32]).encode(&position()),
        ] {
            let err = key.decode(&bad).unwrap_err();
            assert_eq!(err.code(), argus_types::ErrorCode::InvalidFormat, "{bad}");
        }
    }
}
