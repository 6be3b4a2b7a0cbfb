//! How a resource's value travels from the server-rendered page to the browser.
//!
//! Leptos's default resource codec reads the value with `serde_json::from_str`, while a server
//! function's answer is read with `serde_json::from_slice`: two readers, so the browser bundle
//! held two copies of every type's JSON deserializer. [`Json`] reads with `from_slice` too, so
//! one copy serves both (the main WASM: 1,592,660 → 1,517,046 B, brotli 403,376 → 396,940 B).

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON, read by the same `serde_json` reader as server function answers.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(val)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &str) -> Result<T, serde_json::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A resource (see [`Resource::new`]) whose value is carried by [`Json`].
#[track_caller]
pub fn resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, Json>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: PartialEq + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_like_the_default_codec() {
        let value = (String::from("party 🎉"), 42_u64, Some(vec![1.5_f64]));
        let encoded = <Json as Encoder<_>>::encode(&value).unwrap();
        let decoded: (String, u64, Option<Vec<f64>>) =
            <Json as Decoder<_>>::decode(&encoded).unwrap();
        assert_eq!(decoded, value);
        assert!(<Json as Decoder<u8>>::decode("{").is_err());
    }
}
