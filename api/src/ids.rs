//! Opaque global IDs (`base64url("Type:id")`) for the Node interface, and Relay cursors.

use crate::error::invalid;
use async_graphql::connection::CursorType;
use async_graphql::ID;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use isp_core::store::page::{self, PageArgs};

/// The global ID of object `id` of GraphQL type `ty`.
pub fn encode(ty: &str, id: i64) -> ID {
    let mut out = Vec::new();
    encode_into(&mut out, ty, id);
    ID(String::from_utf8(out).expect("base64 is ASCII"))
}

/// [`encode`], appended to `out` (base64url needs no JSON escaping).
fn encode_into(out: &mut Vec<u8>, ty: &str, id: i64) {
    let mut raw = Vec::with_capacity(ty.len() + 21);
    raw.extend_from_slice(ty.as_bytes());
    raw.push(b':');
    raw.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
    b64_into(out, &raw);
}

/// Appends the base64url text of `raw` to `out`.
fn b64_into(out: &mut Vec<u8>, raw: &[u8]) {
    let start = out.len();
    let n = base64::encoded_len(raw.len(), false).expect("short input");
    out.resize(start + n, 0);
    B64.encode_slice(raw, &mut out[start..]).expect("room for the encoding");
}

/// The Relay cursor of `c`, appended to `out` (what [`CursorType::encode_cursor`] gives).
fn cursor_into(out: &mut Vec<u8>, c: &page::Cursor) {
    b64_into(out, &serde_json::to_vec(c).expect("cursor serializes"));
}

/// Splits a global ID into its type name and row id.
pub fn parse(id: &str) -> Option<(String, i64)> {
    let raw = String::from_utf8(B64.decode(id).ok()?).ok()?;
    let (ty, n) = raw.split_once(':')?;
    Some((ty.to_string(), n.parse().ok()?))
}

/// The row id of a global ID that must be of type `ty`; VALIDATION on `field` otherwise.
pub fn decode(id: &ID, ty: &str, field: &str) -> async_graphql::Result<i64> {
    match parse(id) {
        Some((t, n)) if t == ty => Ok(n),
        Some((t, _)) => Err(invalid(field, &format!("is the ID of a {t}, not of a {ty}"))),
        None => Err(invalid(field, "is not a valid ID")),
    }
}

/// Like [`decode`] for an optional argument.
pub fn decode_opt(id: &Option<ID>, ty: &str, field: &str) -> async_graphql::Result<Option<i64>> {
    id.as_ref().map(|i| decode(i, ty, field)).transpose()
}

/// An opaque Relay cursor wrapping a keyset position.
#[derive(Debug, Clone)]
pub struct Cursor(pub page::Cursor);

impl CursorType for Cursor {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        B64.decode(s)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .map(Cursor)
            .ok_or_else(|| "is not a valid cursor".to_string())
    }

    fn encode_cursor(&self) -> String {
        let mut out = Vec::new();
        cursor_into(&mut out, &self.0);
        String::from_utf8(out).expect("base64 is ASCII")
    }
}

/// Decodes the four Relay arguments, with VALIDATION errors naming the bad one.
pub fn page_args(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> async_graphql::Result<PageArgs> {
    let count = |v: Option<i32>, f: &str| -> async_graphql::Result<Option<usize>> {
        match v {
            Some(n) if n < 0 => Err(invalid(f, "must not be negative")),
            Some(n) => Ok(Some(n as usize)),
            None => Ok(None),
        }
    };
    let cursor = |v: Option<String>, f: &str| -> async_graphql::Result<Option<page::Cursor>> {
        v.map(|s| Cursor::decode_cursor(&s).map(|c| c.0).map_err(|m| invalid(f, &m))).transpose()
    };
    Ok(PageArgs {
        first: count(first, "first")?,
        last: count(last, "last")?,
        after: cursor(after, "after")?,
        before: cursor(before, "before")?,
        bulk: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_check_type() {
        let id = encode("Customer", 42);
        assert_eq!(parse(&id), Some(("Customer".into(), 42)));
        assert_eq!(decode(&id, "Customer", "id").unwrap(), 42);
        assert!(decode(&id, "Plan", "id").is_err());
        assert!(decode(&ID("garbage!".into()), "Plan", "id").is_err());
        let c = Cursor(page::Cursor { key: page::SortKey::T("Ana".into()), id: 3, order: None });
        let back = Cursor::decode_cursor(&c.encode_cursor()).unwrap();
        assert_eq!(back.0, c.0);
        // What `cursor_into` appends is the same text.
        assert_eq!(c.encode_cursor(), B64.encode(serde_json::to_vec(&c.0).unwrap()));
        assert_eq!(encode("Customer", -42).0, B64.encode("Customer:-42"));
        let mut out = b"x".to_vec();
        encode_into(&mut out, "Plan", i64::MAX);
        assert_eq!(out, [b"x".as_slice(), B64.encode(format!("Plan:{}", i64::MAX)).as_bytes()].concat());
    }
}
