//! Decoding OTLP/HTTP request bodies: `application/x-protobuf` or `application/json`,
//! optionally `Content-Encoding: gzip`. Every failure is a client error (400, never retried by
//! exporters) or 413/415; nothing panics on any input.

use std::borrow::Cow;
use std::io::Read;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::gate::Admission;
use crate::{Error, Result};

/// The two encodings OTLP/HTTP defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// From a `Content-Type` header; parameters (`; charset=utf-8`) are ignored.
    pub fn from_content_type(content_type: Option<&str>) -> Result<Encoding> {
        let essence = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|ct| ct.trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/x-protobuf") | Some("application/protobuf") => Ok(Encoding::Protobuf),
            Some("application/json") => Ok(Encoding::Json),
            other => Err(Error::UnsupportedMediaType(format!(
                "Content-Type must be application/x-protobuf or application/json, not {}",
                other.unwrap_or("(none)")
            ))),
        }
    }

    /// An OTLP export response in this encoding.
    pub fn encode<M: Message + serde::Serialize>(self, response: &M) -> Result<Vec<u8>> {
        match self {
            Encoding::Protobuf => Ok(response.encode_to_vec()),
            Encoding::Json => serde_json::to_vec(response)
                .map_err(|e| Error::Internal(format!("encoding the OTLP response: {e}"))),
        }
    }

    /// The `Content-Type` of a response in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Undoes `Content-Encoding` (identity or gzip), never producing more than `limit` bytes: a
/// small gzip body may not inflate past the body limit. Every inflated byte is charged to
/// `admission` as it is produced, so a request cannot hold more than the gate allows.
pub fn decompress<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    limit: u64,
    admission: &mut Admission,
) -> Result<Cow<'a, [u8]>> {
    match content_encoding
        .map(|e| e.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("identity") => Ok(Cow::Borrowed(body)),
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::new();
            let mut reader = flate2::read::GzDecoder::new(body);
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                let n = reader.read(&mut chunk).map_err(|e| Error::InvalidFormat {
                    message: format!("the body is not valid gzip: {e}"),
                    location: None,
                })?;
                if n == 0 {
                    break;
                }
                if (out.len() + n) as u64 > limit {
                    return Err(Error::PayloadTooLarge { limit_bytes: limit });
                }
                admission.charge(n as u64)?;
                out.extend_from_slice(&chunk[..n]);
            }
            Ok(Cow::Owned(out))
        }
        Some(other) => Err(Error::UnsupportedMediaType(format!(
            "Content-Encoding {other} is not supported (use gzip or none)"
        ))),
    }
}

/// Decodes an `ExportTraceServiceRequest`.
pub fn decode_traces(body: &[u8], encoding: Encoding) -> Result<ExportTraceServiceRequest> {
    match encoding {
        Encoding::Protobuf => {
            ExportTraceServiceRequest::decode(body).map_err(|e| Error::InvalidFormat {
                message: format!(
                    "the body is not a valid OTLP protobuf ExportTraceServiceRequest: {e}"
                ),
                location: None,
            })
        }
        Encoding::Json => serde_json::from_slice(body).map_err(|e| Error::InvalidFormat {
            message: format!("the body is not a valid OTLP/JSON ExportTraceServiceRequest: {e}"),
            location: Some(format!("line {}, column {}", e.line(), e.column())),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn content_types() {
        assert_eq!(
            Encoding::from_content_type(Some("application/x-protobuf")).unwrap(),
            Encoding::Protobuf
        );
        assert_eq!(
            Encoding::from_content_type(Some("Application/JSON; charset=utf-8")).unwrap(),
            Encoding::Json
        );
        for bad in [None, Some("text/plain"), Some("")] {
            let err = Encoding::from_content_type(bad).unwrap_err();
            assert_eq!(err.code(), argus_types::ErrorCode::UnsupportedMediaType);
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn admission(bytes: u64) -> Admission {
        std::sync::Arc::new(super::super::gate::IngestGate::new(bytes, 4, 100))
            .admit(crate::tenancy::WorkspaceId(uuid::Uuid::nil()))
    }

    #[test]
    fn gzip_is_inflated_within_the_limit_and_charged() {
        let data = vec![b'a'; 10_000];
        let mut a = admission(1 << 20);
        assert_eq!(
            &decompress(&gzip(&data), Some("gzip"), 20_000, &mut a).unwrap()[..],
            &data[..]
        );
        assert_eq!(a.charged(), 10_000);
        // A bomb: 10 kB of zeros inflating past a 1 kB limit.
        let err = decompress(&gzip(&data), Some("gzip"), 1_000, &mut a).unwrap_err();
        assert!(matches!(err, Error::PayloadTooLarge { limit_bytes: 1_000 }));
        assert!(matches!(
            decompress(b"not gzip", Some("gzip"), 1_000, &mut a),
            Err(Error::InvalidFormat { .. })
        ));
        assert!(decompress(b"x", Some("br"), 10, &mut a).is_err());
        assert_eq!(&decompress(b"x", None, 10, &mut a).unwrap()[..], b"x");
        // Within the body limit but over what the gate holds: refused while inflating.
        let big = vec![0u8; 4 << 20];
        let mut small = admission(1 << 20);
        let err = decompress(&gzip(&big), Some("gzip"), 20 << 20, &mut small).unwrap_err();
        assert_eq!(err.code(), argus_types::ErrorCode::PayloadTooLarge);
    }

    #[test]
    fn garbage_is_a_clear_error() {
        for enc in [Encoding::Protobuf, Encoding::Json] {
            let err = decode_traces(b"\xff\xfe\x00garbage{", enc).unwrap_err();
            assert_eq!(err.code(), argus_types::ErrorCode::InvalidFormat);
        }
        // An empty protobuf body is a valid, empty request.
        assert!(decode_traces(b"", Encoding::Protobuf)
            .unwrap()
            .resource_spans
            .is_empty());
    }
}
