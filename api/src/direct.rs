//! List pages written straight to JSON.
//!
//! The generic executor turns every field into an async-graphql `Value` (a `String` per
//! value, an `IndexMap` per object) and serialises that tree afterwards. For the list pages
//! frontends poll all day (a customers page with subscriptions and plans) that tree costs
//! more than the rows. Here the page's edges are written as JSON text directly from the rows
//! the list resolver read ahead, field by field, in the query's order and under its response
//! keys.
//!
//! It is all or nothing and has no side effects: the writer knows a fixed set of plain fields
//! per type (below); anything else in the selection (a fragment, a directive, an argument, a
//! field it does not know, a row that was not read ahead, a role that may not see a nested
//! object) makes it give up, and the page resolves through [`crate::fast`] and the generic
//! executor as before, with their errors. Only the HTTP handler asks for it ([`DirectJson`]);
//! it splices the text into the response ([`write_response`]). A test compares both paths
//! field by field.

use crate::ids;
use crate::schema::types::Money;
use async_graphql::parser::types::{Field, SelectionSet};
use async_graphql::Value;
use isp_core::auth::{Action, Actor};
use isp_core::clock::from_ms;
use isp_core::store::customers::Customer as CustomerRow;
use isp_core::store::plans::Plan as PlanRow;
use isp_core::store::subscriptions::Subscription as SubscriptionRow;
use std::collections::HashMap;

/// Request data set by the HTTP handler: objects may be written as JSON text, spliced into
/// the response as `Value::Binary` (which no field of the schema produces otherwise).
pub struct DirectJson;

/// The selection asks for something the direct writer does not cover.
#[derive(Debug)]
pub struct NotCovered;

type W = Result<(), NotCovered>;

/// What the writer reads: the caller and the rows read ahead for the page.
pub struct Dcx<'a> {
    /// The caller (nested objects need their own permissions).
    pub actor: &'a Actor,
    /// Subscriptions of each customer of the page.
    pub subscriptions: &'a HashMap<i64, Vec<SubscriptionRow>>,
    /// Plans of those subscriptions.
    pub plans: &'a HashMap<i64, PlanRow>,
    /// The tenant's currency, when the selection asks for a price.
    pub currency: Option<&'a str>,
}

/// An object type the direct writer covers.
pub trait Direct {
    /// Writes the JSON value of field `f` of this object.
    fn write_field(&self, d: &Dcx<'_>, f: &Field, out: &mut Vec<u8>) -> W;
}

/// Writes `{"key":value,...}` for the plain fields of `set`; `field` writes each value.
pub fn object(
    out: &mut Vec<u8>,
    set: &SelectionSet,
    type_name: &str,
    mut field: impl FnMut(&Field, &mut Vec<u8>) -> W,
) -> W {
    let fields = crate::fast::plain_fields(set).ok_or(NotCovered)?;
    out.push(b'{');
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let f = &f.node;
        if !f.arguments.is_empty() {
            return Err(NotCovered);
        }
        string(out, f.response_key().node.as_str());
        out.push(b':');
        if f.name.node == "__typename" {
            string(out, type_name);
        } else {
            field(f, out)?;
        }
    }
    out.push(b'}');
    Ok(())
}

/// Writes `[item,...]`.
pub fn list<T>(out: &mut Vec<u8>, items: &[T], mut item: impl FnMut(&T, &mut Vec<u8>) -> W) -> W {
    out.push(b'[');
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(it, out)?;
    }
    out.push(b']');
    Ok(())
}

/// Whether a field called `name` is selected anywhere under `set`.
pub fn mentions(set: &SelectionSet, name: &str) -> bool {
    set.items.iter().any(|s| match &s.node {
        async_graphql::parser::types::Selection::Field(f) => {
            f.node.name.node == name || mentions(&f.node.selection_set.node, name)
        }
        _ => false,
    })
}

/// Bytes a JSON string cannot hold as they are: control characters, `"` and `\\`.
const ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// A JSON string, escaped as serde_json escapes it.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !ESCAPED[b as usize] {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn int(out: &mut Vec<u8>, n: i64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(n).as_bytes());
}

fn opt_int(out: &mut Vec<u8>, n: Option<i64>) {
    match n {
        Some(n) => int(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// A `DateTime` scalar, as async-graphql writes it (RFC 3339).
fn time(out: &mut Vec<u8>, ms: i64) {
    string(out, &from_ms(ms).to_rfc3339());
}

fn id(out: &mut Vec<u8>, type_name: &str, n: i64) {
    out.push(b'"');
    ids::encode_into(out, type_name, n);
    out.push(b'"');
}

fn allowed(d: &Dcx<'_>, action: Action) -> W {
    d.actor.require(action).map_err(|_| NotCovered)
}

impl Direct for crate::schema::types::Customer {
    fn write_field(&self, d: &Dcx<'_>, f: &Field, out: &mut Vec<u8>) -> W {
        let c: &CustomerRow = &self.0;
        match f.name.node.as_str() {
            "id" => id(out, "Customer", c.id),
            "accountNumber" => string(out, &c.account_number),
            "name" => string(out, &c.name),
            "email" => opt_string(out, c.email.as_deref()),
            "phone" => opt_string(out, c.phone.as_deref()),
            "address" => opt_string(out, c.address.as_deref()),
            "taxId" => opt_string(out, c.tax_id.as_deref()),
            "notes" => opt_string(out, c.notes.as_deref()),
            "status" => string(out, c.status.as_str()),
            "createdAt" => time(out, c.created_at),
            "updatedAt" => time(out, c.updated_at),
            "subscriptions" => {
                allowed(d, Action::SubscriptionRead)?;
                let subs = d.subscriptions.get(&c.id).ok_or(NotCovered)?;
                let set = &f.selection_set.node;
                return list(out, subs, |s, out| object(out, set, "Subscription", |g, out| subscription(d, s, g, out)));
            }
            _ => return Err(NotCovered),
        }
        Ok(())
    }
}

fn subscription(d: &Dcx<'_>, s: &SubscriptionRow, f: &Field, out: &mut Vec<u8>) -> W {
    match f.name.node.as_str() {
        "id" => id(out, "Subscription", s.id),
        "accessType" => string(out, s.access_type.as_str()),
        "username" => string(out, &s.username),
        "hasPassword" => boolean(out, s.password_enc.is_some()),
        "staticIpv4" => opt_string(out, s.static_ipv4.as_deref()),
        "macAddress" => opt_string(out, s.mac_address.as_deref()),
        "onuSerial" => opt_string(out, s.onu_serial.as_deref()),
        "oltPort" => opt_string(out, s.olt_port.as_deref()),
        "status" => string(out, s.status.as_str()),
        "statusReason" => opt_string(out, s.status_reason.as_deref()),
        "simultaneousUse" => int(out, s.simultaneous_use),
        "startDate" => string(out, &s.start_date),
        "createdAt" => time(out, s.created_at),
        "updatedAt" => time(out, s.updated_at),
        // Null without a device (the resolver answers before checking anything else).
        "device" if s.device_id.is_none() => out.extend_from_slice(b"null"),
        "plan" => {
            allowed(d, Action::PlanRead)?;
            let p = d.plans.get(&s.plan_id).ok_or(NotCovered)?;
            return object(out, &f.selection_set.node, "Plan", |g, out| plan(d, p, g, out));
        }
        _ => return Err(NotCovered),
    }
    Ok(())
}

fn plan(d: &Dcx<'_>, p: &PlanRow, f: &Field, out: &mut Vec<u8>) -> W {
    let set = &f.selection_set.node;
    match f.name.node.as_str() {
        "id" => id(out, "Plan", p.id),
        "name" => string(out, &p.name),
        "description" => opt_string(out, p.description.as_deref()),
        "price" => {
            let m = Money::new(p.price_minor, d.currency.ok_or(NotCovered)?);
            return object(out, set, "Money", |g, out| {
                match g.name.node.as_str() {
                    "amountMinor" => int(out, m.amount_minor),
                    "currency" => string(out, &m.currency),
                    "formatted" => string(out, &m.formatted),
                    _ => return Err(NotCovered),
                }
                Ok(())
            });
        }
        "billingPeriod" => string(out, p.billing_period.as_str()),
        "downloadKbps" => int(out, p.download_kbps),
        "uploadKbps" => int(out, p.upload_kbps),
        "burst" => match crate::schema::types::PlanBurst::of(p) {
            None => out.extend_from_slice(b"null"),
            Some(b) => {
                return object(out, set, "PlanBurst", |g, out| {
                    match g.name.node.as_str() {
                        "downloadKbps" => int(out, b.download_kbps),
                        "uploadKbps" => int(out, b.upload_kbps),
                        "thresholdDownloadKbps" => int(out, b.threshold_download_kbps),
                        "thresholdUploadKbps" => int(out, b.threshold_upload_kbps),
                        "timeSecs" => int(out, b.time_secs),
                        _ => return Err(NotCovered),
                    }
                    Ok(())
                })
            }
        },
        "dataQuota" => match crate::schema::types::PlanDataQuota::of(p) {
            None => out.extend_from_slice(b"null"),
            Some(q) => {
                return object(out, set, "PlanDataQuota", |g, out| {
                    match g.name.node.as_str() {
                        "bytes" => int(out, q.bytes),
                        "action" => string(out, q.action.as_str()),
                        "fupDownloadKbps" => opt_int(out, q.fup_download_kbps),
                        "fupUploadKbps" => opt_int(out, q.fup_upload_kbps),
                        _ => return Err(NotCovered),
                    }
                    Ok(())
                })
            }
        },
        "timeQuotaSecs" => opt_int(out, p.time_quota_secs),
        "accessTypes" => {
            return list(out, &p.access_types(), |a, out| {
                string(out, a.as_str());
                Ok(())
            })
        }
        "ipPool" => opt_string(out, p.ip_pool.as_deref()),
        "active" => boolean(out, p.is_active()),
        "mikrotikRateLimit" => string(out, &p.mikrotik_rate_limit()),
        "createdAt" => time(out, p.created_at),
        _ => return Err(NotCovered),
    }
    Ok(())
}

/// Writes a value the way serde_json writes async-graphql's, except that `Binary` holds JSON
/// text written by this module and goes in as it is.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => string(out, s),
        Value::Boolean(b) => boolean(out, *b),
        Value::Binary(json) => out.extend_from_slice(json),
        Value::Enum(n) => string(out, n.as_str()),
        Value::List(items) => {
            out.push(b'[');
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, it);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(out, k.as_str());
                out.push(b':');
                write_value(out, v);
            }
            out.push(b'}');
        }
    }
}

/// Writes a response as async-graphql serialises it (`data`, then `extensions` and `errors`
/// when there are any), splicing the text of directly written objects.
pub fn write_response(out: &mut Vec<u8>, r: &async_graphql::Response) {
    out.extend_from_slice(b"{\"data\":");
    write_value(out, &r.data);
    if !r.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":");
        serde_json::to_writer(&mut *out, &r.extensions).expect("extensions serialise");
    }
    if !r.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut *out, &r.errors).expect("errors serialise");
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_serde_json() {
        for s in ["plain", "quote \" and \\ slash", "tab\tnew\nline\r", "\u{1}\u{1f}\u{8}\u{c}", "ünï €", ""] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn values_are_written_like_serde_json_with_binary_spliced() {
        let v = async_graphql::value!({
            "a": [1, -2, 3.5, null, true, "x\"y"],
            "b": { "c": "d" },
        });
        let mut out = Vec::new();
        write_value(&mut out, &v);
        assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&v).unwrap());
        let mut out = Vec::new();
        write_value(&mut out, &Value::List(vec![Value::Binary(br#"{"k":[1]}"#.to_vec().into()), Value::Null]));
        assert_eq!(String::from_utf8(out).unwrap(), r#"[{"k":[1]},null]"#);
    }
}
