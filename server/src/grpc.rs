//! OTLP/gRPC: `TraceService`, `MetricsService` and `LogsService` `Export`, as an OpenTelemetry
//! Collector or an SDK's gRPC exporter sends them (HTTP/2 without TLS, port 4317 by convention).
//!
//! tonic frames, decompresses (gzip) and answers with gRPC status trailers; the message itself
//! travels as bytes into the very same path as OTLP/HTTP protobuf (`otlp::store`): the same
//! API keys (`x-api-key` or `authorization: Bearer` metadata), limits, admission, partial
//! success and idempotency.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use argus_domain::access::Access;
use argus_domain::ingest::gate::Admission;
use argus_types::ErrorCode;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use bytes::{Buf, BufMut, Bytes};
use futures::future::BoxFuture;
use futures::Future;
use http_body::{Frame, SizeHint};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, UnaryService};
use tonic::{Code, Status};

use crate::otlp::{Incoming, Signal};
use crate::state::AppState;

/// The conventional OTLP/gRPC address (`ARGUS_GRPC_LISTEN`).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4317";

/// The three services' `Export` methods.
const METHODS: [(&str, Signal); 3] = [
    (
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        Signal::Traces,
    ),
    (
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        Signal::Metrics,
    ),
    (
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        Signal::Logs,
    ),
];

/// Messages as bytes: decoding is the domain's (with its limits), as for OTLP/HTTP.
#[derive(Clone, Copy, Debug, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut message = vec![0; src.remaining()];
        src.copy_to_slice(&mut message);
        Ok(Some(message))
    }
}

/// The gRPC status of an error, as OTLP's exporters read it: `UNAVAILABLE` (and
/// `DEADLINE_EXCEEDED`) are retried, the others are not.
fn status(code: ErrorCode, message: String) -> Status {
    let code = match code {
        ErrorCode::InvalidCredentials | ErrorCode::ExpiredToken | ErrorCode::InvalidApiKey => {
            Code::Unauthenticated
        }
        ErrorCode::InsufficientPermissions => Code::PermissionDenied,
        ErrorCode::InvalidInput
        | ErrorCode::MissingRequiredField
        | ErrorCode::InvalidFormat
        | ErrorCode::UnsupportedMediaType
        | ErrorCode::MethodNotAllowed => Code::InvalidArgument,
        ErrorCode::PayloadTooLarge => Code::ResourceExhausted,
        ErrorCode::RequestTimeout | ErrorCode::GatewayTimeout => Code::DeadlineExceeded,
        // Backpressure (the server's or the workspace's share) and a database restarting:
        // the exporter retries with backoff.
        ErrorCode::RateLimitExceeded
        | ErrorCode::QuotaExceeded
        | ErrorCode::ServiceUnavailable
        | ErrorCode::CacheError => Code::Unavailable,
        ErrorCode::ResourceNotFound => Code::NotFound,
        ErrorCode::ResourceAlreadyExists | ErrorCode::ResourceConflict => Code::AlreadyExists,
        ErrorCode::DatabaseError | ErrorCode::InternalError => Code::Internal,
    };
    Status::new(code, message)
}

fn domain_status(err: argus_domain::Error) -> Status {
    let envelope = err.to_envelope();
    status(envelope.error.code, envelope.error.message)
}

/// An export's admission, shared by its body (which charges it as frames arrive) and the
/// export (which takes it once the message is whole).
type Shared = Arc<Mutex<Option<Admission>>>;

/// The request's body, charging the export's admission for every frame as it arrives, as
/// OTLP/HTTP does: over the workspace's share or the server's budget the stream fails with
/// `UNAVAILABLE` (the exporter retries later) before the rest of the message is buffered.
/// The whole message must arrive within the body-read timeout (`ARGUS_BODY_READ_TIMEOUT_SECS`,
/// as an OTLP/HTTP body must), or the stream fails with `DEADLINE_EXCEEDED`: a client that
/// trickles its bytes cannot hold what they were charged until the request times out.
struct Charged {
    inner: Body,
    admission: Shared,
    deadline: Pin<Box<tokio::time::Sleep>>,
    read_timeout: Duration,
}

impl http_body::Body for Charged {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {
                ready!(this.deadline.as_mut().poll(cx));
                tracing::info!("gRPC message not received in time");
                return Poll::Ready(Some(Err(Box::new(Status::deadline_exceeded(format!(
                    "the message did not arrive within {} s",
                    this.read_timeout.as_secs()
                ))))));
            }
        };
        if let Some(data) = frame.data_ref() {
            let mut slot = self.admission.lock().expect("admission lock");
            if let Some(admission) = slot.as_mut() {
                if let Err(e) = admission.charge(data.len() as u64) {
                    return Poll::Ready(Some(Err(Box::new(domain_status(e)))));
                }
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One admitted export.
struct Export {
    state: AppState,
    access: Access,
    signal: Signal,
    admission: Shared,
    /// The message came compressed: its inflated bytes are charged too (the frames were
    /// charged as they arrived).
    inflated: bool,
}

impl UnaryService<Vec<u8>> for Export {
    type Response = Vec<u8>;
    type Future = BoxFuture<'static, Result<tonic::Response<Vec<u8>>, Status>>;

    fn call(&mut self, request: tonic::Request<Vec<u8>>) -> Self::Future {
        let state = self.state.clone();
        let access = self.access.clone();
        let signal = self.signal;
        let inflated = self.inflated;
        let admission = self.admission.lock().expect("admission lock").take();
        Box::pin(async move {
            let body = request.into_inner();
            let services = &state.services;
            let mut admission = admission
                .ok_or_else(|| Status::internal("the export's admission was taken twice"))?;
            // The frames were charged as they arrived; an inflated message is charged again,
            // as OTLP/HTTP charges the gunzipped body.
            if inflated {
                admission.charge(body.len() as u64).map_err(domain_status)?;
            }
            admission.take_slot().map_err(domain_status)?;
            let incoming = Incoming {
                signal,
                body: &body,
                content_type: Some("application/x-protobuf"),
                encoding: None,
                limit: state.gateway.body_limit_bytes,
            };
            let (_, answer) = crate::otlp::store(services, &access, &mut admission, incoming)
                .await
                .map_err(domain_status)?;
            Ok(tonic::Response::new(answer))
        })
    }
}

/// The caller's access, from its API key in the request's metadata; it must hold the ingest
/// scope.
async fn access(state: &AppState, key: Option<String>) -> Result<Access, Status> {
    let Some(key) = key else {
        return Err(Status::unauthenticated(
            "an API key with the ingest scope is required: send it as `x-api-key` metadata \
             (or `authorization: Bearer <key>`)",
        ));
    };
    let access = argus_domain::access::from_api_key(&state.services, &key)
        .await
        .map_err(domain_status)?;
    access.require_ingest().map_err(domain_status)?;
    Ok(access)
}

async fn export(state: AppState, signal: Signal, req: Request) -> Response {
    let key = crate::auth::api_key(req.headers());
    let access = match access(&state, key).await {
        Ok(access) => access,
        Err(status) => return status.into_http(),
    };
    let limit = usize::try_from(state.gateway.body_limit_bytes).unwrap_or(usize::MAX);
    let mut grpc = Grpc::new(Raw)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    let inflated = req
        .headers()
        .get("grpc-encoding")
        .is_some_and(|e| e.as_bytes() != b"identity");
    let admission: Shared = Arc::new(Mutex::new(Some(
        state.services.ingest_gate.admit(access.workspace),
    )));
    let read_timeout = state.gateway.body_read_timeout;
    let req = req.map(|inner| {
        Body::new(Charged {
            inner,
            admission: admission.clone(),
            deadline: Box::pin(tokio::time::sleep(read_timeout)),
            read_timeout,
        })
    });
    let service = Export {
        state,
        access,
        signal,
        admission,
        inflated,
    };
    let mut res = grpc.unary(service, req).await.map(Body::new);
    // tonic refuses a message over the limit (also once inflated) with OUT_OF_RANGE, which
    // OTLP exporters retry; the export can never fit, so say RESOURCE_EXHAUSTED (not retried
    // without retry info). The export service itself never answers OUT_OF_RANGE.
    let status = axum::http::HeaderName::from_static("grpc-status");
    if res.headers().get(&status).map(|v| v.as_bytes()) == Some(b"11") {
        let exhausted = (Code::ResourceExhausted as i32).to_string();
        res.headers_mut()
            .insert(status, exhausted.parse().expect("a status number"));
    }
    res
}

/// The gRPC router: the three `Export` methods; anything else is `UNIMPLEMENTED`.
pub fn router(state: AppState) -> Router {
    let timeout = state.gateway.request_timeout;
    METHODS
        .iter()
        .fold(Router::new(), |router, (path, signal)| {
            let signal = *signal;
            router.route(
                path,
                post(
                    move |State(state): State<AppState>, req: Request| async move {
                        match tokio::time::timeout(timeout, export(state, signal, req)).await {
                            Ok(res) => res,
                            Err(_) => Status::deadline_exceeded(format!(
                                "the export took longer than {} s and was cancelled",
                                timeout.as_secs()
                            ))
                            .into_http(),
                        }
                    },
                ),
            )
        })
        .fallback(|req: Request| async move {
            Status::unimplemented(format!("no gRPC method {}", req.uri().path()))
                .into_http::<Body>()
        })
        .layer(axum::middleware::from_fn_with_state(
            state.services.meters.clone(),
            crate::gateway::measure,
        ))
        .with_state(state)
}

/// Where OTLP/gRPC listens (`ARGUS_GRPC_LISTEN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen {
    /// Not served.
    Off,
    /// The default, [`DEFAULT_LISTEN`]: when the port is taken (a local Collector, often),
    /// Argus starts without it and says so.
    Default,
    /// An address the operator chose: Argus does not start without it.
    At(SocketAddr),
}

impl std::str::FromStr for Listen {
    type Err = String;

    fn from_str(s: &str) -> Result<Listen, String> {
        match s.trim() {
            "off" | "false" | "0" | "" => Ok(Listen::Off),
            "default" => Ok(Listen::Default),
            addr => addr
                .parse()
                .map(Listen::At)
                .map_err(|e| format!("{e}: expected an address such as 0.0.0.0:4317, or `off`")),
        }
    }
}

/// Binds the gRPC listener; `None` when it is off, or when the default port is taken.
pub async fn bind(listen: Listen) -> Result<Option<tokio::net::TcpListener>, String> {
    let at = match listen {
        Listen::Off => return Ok(None),
        Listen::Default => DEFAULT_LISTEN.parse().expect("a valid default address"),
        Listen::At(at) => at,
    };
    match tokio::net::TcpListener::bind(at).await {
        Ok(listener) => Ok(Some(listener)),
        Err(e) if listen == Listen::Default => {
            tracing::warn!(
                error = %e,
                "OTLP/gRPC not served: {at} is taken (set ARGUS_GRPC_LISTEN to another address, \
                 or `off`); OTLP/HTTP is unaffected"
            );
            Ok(None)
        }
        Err(e) => Err(format!("cannot listen for OTLP/gRPC on {at}: {e}")),
    }
}

/// Serves [`router`] on `listener` (HTTP/2 without TLS, as gRPC's `insecure` channels speak)
/// for as long as the process lives.
pub fn spawn(listener: tokio::net::TcpListener, state: AppState) {
    let addr = listener.local_addr().ok();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(state)).await {
            tracing::error!(error = %e, ?addr, "the OTLP/gRPC listener stopped");
        }
    });
}
