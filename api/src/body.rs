//! The body of `POST /graphql`: one GraphQL request or a batch of them as JSON, or a
//! multipart request carrying files (the GraphQL multipart request spec). A body that is none
//! of that is refused before GraphQL sees it, with an HTTP status that says what kind of
//! problem it is and a GraphQL error (`extensions.code` VALIDATION), so that a client reads
//! every refusal from `errors`, as it does for an invalid query.

use async_graphql::http::MultipartOptions;
use async_graphql::{BatchRequest, ParseRequestError, Request};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use isp_core::config::GraphqlConfig;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A request refused before GraphQL: the HTTP status and the message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    /// 400, 413 or 415.
    pub status: StatusCode,
    /// What is wrong, for people (no internals).
    pub message: String,
}

impl BodyError {
    /// A 400 Bad Request.
    pub fn bad(message: impl Into<String>) -> BodyError {
        BodyError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }

    fn too_large(limit: usize) -> BodyError {
        BodyError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("the request body is larger than {limit} bytes"),
        }
    }
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"errors": [{"message": self.message, "extensions": {"code": "VALIDATION"}}]});
        (self.status, axum::Json(body)).into_response()
    }
}

const SHAPE: &str = "send a JSON object such as {\"query\": \"{ me { email } }\"}, or an array of such objects";

/// The GraphQL request(s) in a `POST /graphql` body: JSON of at most `cfg.max_body_bytes`, or
/// (with an `Authorization` header) a `multipart/form-data` upload of at most
/// `cfg.max_upload_bytes` in all and `cfg.max_upload_files` files. Uploaded files are spooled
/// to anonymous temporary files, not held in memory.
pub async fn read(headers: &HeaderMap, body: Body, cfg: &GraphqlConfig) -> Result<BatchRequest, BodyError> {
    if let Some(ct) = multipart_type(headers) {
        return read_multipart(headers, ct, body, cfg).await;
    }
    check_content_type(headers)?;
    let limit = cfg.max_body_bytes;
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(BodyError::too_large(limit)),
        Err(_) => return Err(BodyError::bad("the request body could not be read")),
    };
    parse_json(&bytes)
}

/// The request(s) in a JSON body.
pub fn parse_json(bytes: &Bytes) -> Result<BatchRequest, BodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::bad(format!("the request body is empty: {SHAPE}")));
    }
    match serde_json::from_slice::<Strict>(bytes) {
        Ok(Strict(batch)) => Ok(batch),
        Err(e) => Err(explain(bytes, e)),
    }
}

/// The `Content-Type` if it is `multipart/form-data`.
fn multipart_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("multipart/form-data").then(|| ct.to_string())
}

/// A multipart request. A browser sends `multipart/form-data` to any site without asking it
/// first (no CORS preflight), so a request that could be a cross-site form is refused: it
/// must carry an `Authorization` header, which a browser sends only after a preflight (and
/// which every upload needs anyway: anonymous callers may not upload).
async fn read_multipart(
    headers: &HeaderMap,
    content_type: String,
    body: Body,
    cfg: &GraphqlConfig,
) -> Result<BatchRequest, BodyError> {
    if !headers.contains_key(header::AUTHORIZATION) {
        return Err(BodyError::bad(
            "a multipart request (file upload) must carry an Authorization header with a bearer token",
        ));
    }
    let limit = cfg.max_upload_bytes;
    // Counts what is read and stops at the limit; the flag tells the limit from other failures.
    let over = Arc::new(AtomicBool::new(false));
    let seen = over.clone();
    let mut total = 0usize;
    let stream = TryStreamExt::map_err(body.into_data_stream(), std::io::Error::other).and_then(move |chunk| {
        total += chunk.len();
        let result = if total > limit {
            seen.store(true, Ordering::Relaxed);
            Err(std::io::Error::other("upload over the limit"))
        } else {
            Ok(chunk)
        };
        std::future::ready(result)
    });
    let reader = stream.into_async_read();
    let opts = MultipartOptions::default().max_file_size(limit).max_num_files(cfg.max_upload_files);
    let parsed = async_graphql::http::receive_batch_body(Some(content_type), reader, opts).await;
    if over.load(Ordering::Relaxed) {
        return Err(BodyError::too_large(limit));
    }
    let batch = parsed.map_err(|e| multipart_error(e, cfg))?;
    let files = batch.iter().map(|r| r.uploads.len()).sum::<usize>();
    if files > cfg.max_upload_files {
        return Err(BodyError::bad(format!("at most {} files per request", cfg.max_upload_files)));
    }
    Ok(batch)
}

/// What a client needs to know of a multipart parse failure, without internals.
fn multipart_error(e: ParseRequestError, cfg: &GraphqlConfig) -> BodyError {
    let spec = "see the GraphQL multipart request spec: fields `operations` (JSON), `map` (JSON) and the files";
    match e {
        ParseRequestError::PayloadTooLarge => BodyError::too_large(cfg.max_upload_bytes),
        ParseRequestError::InvalidMultipart(m) => match m {
            multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
                BodyError::too_large(cfg.max_upload_bytes)
            }
            multer::Error::NoBoundary => BodyError::bad("the multipart Content-Type has no boundary"),
            _ => BodyError::bad(format!("the multipart body is malformed; {spec}")),
        },
        ParseRequestError::MissingOperatorsPart => BodyError::bad(format!("the `operations` field is missing; {spec}")),
        ParseRequestError::MissingMapPart => BodyError::bad(format!("the `map` field is missing; {spec}")),
        ParseRequestError::InvalidFilesMap(_) => {
            BodyError::bad(format!("the `map` field is not a JSON object of file name -> variable paths; {spec}"))
        }
        ParseRequestError::MissingFiles => BodyError::bad(format!("a file named in `map` was not sent; {spec}")),
        ParseRequestError::InvalidRequest(_) => {
            BodyError::bad(format!("the `operations` field is not a GraphQL request in JSON; {spec}"))
        }
        _ => BodyError::bad(format!("the multipart request could not be read; {spec}")),
    }
}

/// Only `application/json` (optionally `; charset=utf-8`) is GraphQL here, besides multipart
/// uploads ([`read_multipart`]). Other types are 415 rather than guessed at: a browser may send
/// `text/plain` or form bodies to any site without asking it first (no CORS preflight), JSON
/// it must ask for.
fn check_content_type(headers: &HeaderMap) -> Result<(), BodyError> {
    let given = headers.get(header::CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let json = given.as_deref().is_some_and(|ct| {
        let mut parts = ct.split(';').map(str::trim);
        let essence = parts.next().unwrap_or("");
        essence.eq_ignore_ascii_case("application/json")
            && parts.filter(|p| !p.is_empty()).all(|p| {
                p.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("charset") && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
                })
            })
    });
    if json {
        return Ok(());
    }
    let got = match given {
        Some(ct) => format!("`{}`", ct.chars().take(100).collect::<String>()),
        None => "none".into(),
    };
    Err(BodyError {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        message: format!("send the request with Content-Type: application/json (got {got})"),
    })
}

/// Why `bytes` is not a GraphQL request, given the error parsing it gave.
fn explain(bytes: &[u8], err: serde_json::Error) -> BodyError {
    if std::str::from_utf8(bytes).is_err() {
        return BodyError::bad("the request body is not valid UTF-8");
    }
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return BodyError::bad(format!("the request body is not valid JSON ({e}): {SHAPE}"));
    }
    let kind = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => return BodyError::bad(format!("the request is not a GraphQL request ({err})")),
        Some(b'[') => return BodyError::bad(format!("the batch is not a list of GraphQL requests ({err})")),
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        Some(b'"') => "a string",
        _ => "a number",
    };
    BodyError::bad(format!("the request body is {kind}: {SHAPE}"))
}

/// A GraphQL request body as JSON: one request object or a non-empty array of them. Stricter
/// than async-graphql's own `BatchRequest` deserializer, which also takes `null` (and `null`
/// in a batch) as a request with no query, and faster (no untagged-enum buffering).
struct Strict(BatchRequest);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(BodyVisitor).map(Strict)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = BatchRequest;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GraphQL request object or a non-empty array of them")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<BatchRequest, A::Error> {
        Request::deserialize(MapAccessDeserializer::new(map)).map(BatchRequest::Single)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BatchRequest, A::Error> {
        let mut all = Vec::new();
        while let Some(ObjectRequest(r)) = seq.next_element()? {
            all.push(r);
        }
        if all.is_empty() {
            return Err(A::Error::invalid_length(0, &"at least one operation"));
        }
        Ok(BatchRequest::Batch(all))
    }
}

/// One request of a batch: an object, nothing else.
struct ObjectRequest(Request);

impl<'de> Deserialize<'de> for ObjectRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ObjectRequest, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Request;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a GraphQL request object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Request, A::Error> {
                Request::deserialize(MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Object).map(ObjectRequest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(body: &[u8]) -> BodyError {
        parse_json(&Bytes::copy_from_slice(body)).expect_err("refused")
    }

    #[test]
    fn malformed_bodies_are_explained_without_internals() {
        for (body, says) in [
            (&b""[..], "is empty"),
            (b"  \n", "is empty"),
            (b"{\"query\": \"\xff\"}", "not valid UTF-8"),
            (b"query={ me }", "not valid JSON"),
            (b"null", "the request body is null"),
            (b"42", "is a number"),
            (b"\"{ me { email } }\"", "is a string"),
            (b"true", "is a boolean"),
            (b"[]", "not a list of GraphQL requests (invalid length 0, expected at least one operation"),
            (b"[1, 2]", "not a list of GraphQL requests (invalid type: integer `1`, expected a GraphQL request object"),
            (b"[{\"query\": \"{ a }\"}, null]", "(invalid type: null, expected a GraphQL request object"),
            (b"[[]]", "(invalid type: sequence, expected a GraphQL request object"),
            (b"{\"query\": 5}", "not a GraphQL request (invalid type: integer `5`, expected a string"),
        ] {
            let e = refused(body);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body:?}");
            assert!(e.message.contains(says), "{body:?}: {}", e.message);
            for internal in ["Error(", "ParseRequestError", "untagged", "BatchRequest", "InvalidRequest"] {
                assert!(!e.message.contains(internal), "{body:?}: {}", e.message);
            }
        }
        assert!(parse_json(&Bytes::from_static(b"{\"query\": \"{ a }\"}")).is_ok());
        assert!(parse_json(&Bytes::from_static(b"[{\"query\": \"{ a }\"}]")).is_ok());
    }

    #[test]
    fn only_json_content_is_read() {
        for ct in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            assert!(check_content_type(&h).is_ok(), "{ct}");
        }
        for ct in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/graphql"),
            Some("application/json; charset=latin1"),
            Some("application/jsonx"),
            None,
        ] {
            let mut h = HeaderMap::new();
            if let Some(ct) = ct {
                h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            }
            let e = check_content_type(&h).expect_err(ct.unwrap_or("none"));
            assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
            assert!(e.message.contains("application/json"), "{}", e.message);
        }
    }
}
