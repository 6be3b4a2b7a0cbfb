//! The probe's HTTP: a pooled client for ordinary requests, raw TCP for uploads that
//! trickle, and HTTP/2 for OTLP/gRPC exports that trickle.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An answer: status, headers, body.
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

#[derive(Clone)]
pub struct Http {
    base: String,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Http {
    pub fn new(base: &str) -> Http {
        Http {
            base: base.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(64)
                .build_http(),
        }
    }

    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Sends a request; `headers` as pairs.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> anyhow::Result<Answer> {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = tokio::time::timeout(
            Duration::from_secs(60),
            self.client.request(req.body(Full::new(body.into()))?),
        )
        .await
        .context("no answer within 60 s")?
        .context("sending")?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A form post authenticated by a bearer credential (or none).
    pub async fn form(
        &self,
        path: &str,
        body: &str,
        bearer: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let auth = bearer.map(|b| format!("Bearer {b}"));
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        self.send("POST", path, &headers, body.to_owned()).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> anyhow::Result<Answer> {
        let auth = bearer.map(|b| format!("Bearer {b}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        self.send("GET", path, &headers, Bytes::new()).await
    }

    /// An upload that declares `declared` bytes and sends one a second: the status the server
    /// answers with and after how long (or `None` when it said nothing within `patience`).
    pub async fn trickle(
        &self,
        path: &str,
        key: &str,
        declared: usize,
        patience: Duration,
    ) -> anyhow::Result<(Option<u16>, Duration)> {
        let started = std::time::Instant::now();
        let mut stream = tokio::net::TcpStream::connect(self.addr()).await?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-protobuf\r\n\
             X-API-Key: {key}\r\nContent-Length: {declared}\r\n\r\n",
            self.addr()
        );
        stream.write_all(head.as_bytes()).await?;
        let (mut read, mut write) = stream.into_split();
        let writer = tokio::spawn(async move {
            for _ in 0..declared {
                if write.write_all(&[0x0a]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let mut buf = vec![0u8; 512];
        let answer = tokio::time::timeout(patience, read.read(&mut buf)).await;
        writer.abort();
        let status = match answer {
            Ok(Ok(n)) if n >= 12 => std::str::from_utf8(&buf[9..12])
                .ok()
                .and_then(|s| s.parse().ok()),
            _ => None,
        };
        Ok((status, started.elapsed()))
    }
}

/// `n` OTLP/gRPC trace exports on one HTTP/2 connection to `grpc_addr`, each announcing a
/// `declared`-byte message and sending one byte of it a second: each one's `grpc-status` (or
/// `None` when none came within `patience`) and after how long it came.
pub async fn grpc_trickles(
    grpc_addr: &str,
    key: &str,
    n: usize,
    declared: u32,
    patience: Duration,
) -> anyhow::Result<Vec<(Option<u32>, Duration)>> {
    use bytes::{BufMut, BytesMut};
    use futures::StreamExt;
    use http_body::Frame;
    use http_body_util::combinators::UnsyncBoxBody;
    use http_body_util::StreamBody;

    type Trickle = UnsyncBoxBody<Bytes, std::convert::Infallible>;
    let client: Client<_, Trickle> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let mut prefix = BytesMut::new();
        prefix.put_u8(0); // not compressed
        prefix.put_u32(declared);
        let bytes = futures::stream::once(async move { prefix.freeze() }).chain(
            futures::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Some((Bytes::from_static(&[0x0a]), ()))
            }),
        );
        let body = StreamBody::new(bytes.map(|b| Ok(Frame::data(b)))).boxed_unsync();
        let req = http::Request::post(format!(
            "http://{grpc_addr}/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("x-api-key", key)
        .body(body)?;
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let started = std::time::Instant::now();
            let status = tokio::time::timeout(patience, async {
                let res = client.request(req).await.ok()?;
                if let Some(code) = res.headers().get("grpc-status") {
                    return code.to_str().ok()?.parse().ok();
                }
                let trailers = res.into_body().collect().await.ok()?.trailers()?.clone();
                trailers.get("grpc-status")?.to_str().ok()?.parse().ok()
            })
            .await
            .ok()
            .flatten();
            (status, started.elapsed())
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await?);
    }
    Ok(answers)
}
