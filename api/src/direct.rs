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
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::Positioned;
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
    /// A field of this type the writer knows, compiled from the query (see [`Shape`]).
    type Key;
    /// The key for field `f` of this type, once per page; checks what does not depend on the
    /// row (the caller's permissions, nested selections).
    fn compile(d: &Dcx<'_>, f: &Field) -> Result<Self::Key, NotCovered>;
    /// Writes the JSON value of the field compiled as `k`.
    fn write(&self, d: &Dcx<'_>, k: &Self::Key, out: &mut Vec<u8>) -> W;
}

/// A selection set compiled for one object type, once per page: the text before each value
/// (`{"key":` or `,"key":`, escaped once) and what to write there, so each row is written
/// without looking at the query again.
pub struct Shape<K> {
    fields: Vec<(Box<[u8]>, Slot<K>)>,
}

enum Slot<K> {
    /// Fixed text (`__typename`).
    Text(Box<[u8]>),
    /// A field whose value comes from the row.
    Value(K),
}

impl<K> Shape<K> {
    /// Compiles the plain fields of `set` (see [`plain_fields`]) on `type_name`;
    /// `key` compiles each field other than `__typename`. Arguments are not covered.
    pub fn compile(
        set: &SelectionSet,
        type_name: &str,
        mut key: impl FnMut(&Field) -> Result<K, NotCovered>,
    ) -> Result<Self, NotCovered> {
        let plain = plain_fields(set).ok_or(NotCovered)?;
        let mut fields = Vec::with_capacity(plain.len());
        for (i, f) in plain.iter().enumerate() {
            let f = &f.node;
            if !f.arguments.is_empty() {
                return Err(NotCovered);
            }
            let mut prefix = Vec::with_capacity(f.response_key().node.len() + 4);
            prefix.push(if i == 0 { b'{' } else { b',' });
            string(&mut prefix, f.response_key().node.as_str());
            prefix.push(b':');
            let slot = if f.name.node == "__typename" {
                let mut t = Vec::new();
                string(&mut t, type_name);
                Slot::Text(t.into())
            } else {
                Slot::Value(key(f)?)
            };
            fields.push((prefix.into(), slot));
        }
        Ok(Self { fields })
    }

    /// Writes `{"key":value,...}`; `value` writes each row value.
    pub fn write(&self, out: &mut Vec<u8>, mut value: impl FnMut(&K, &mut Vec<u8>) -> W) -> W {
        if self.fields.is_empty() {
            out.push(b'{');
        }
        for (prefix, slot) in &self.fields {
            out.extend_from_slice(prefix);
            match slot {
                Slot::Text(t) => out.extend_from_slice(t),
                Slot::Value(k) => value(k, out)?,
            }
        }
        out.push(b'}');
        Ok(())
    }
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

/// Customer fields the writer covers. One variant per GraphQL field, named alike.
#[allow(missing_docs)]
pub enum CustomerKey {
    Id,
    AccountNumber,
    Name,
    Email,
    Phone,
    Address,
    TaxId,
    Notes,
    Status,
    CreatedAt,
    UpdatedAt,
    Subscriptions(Shape<SubscriptionKey>),
}

impl Direct for crate::schema::types::Customer {
    type Key = CustomerKey;

    fn compile(d: &Dcx<'_>, f: &Field) -> Result<CustomerKey, NotCovered> {
        use CustomerKey as K;
        Ok(match f.name.node.as_str() {
            "id" => K::Id,
            "accountNumber" => K::AccountNumber,
            "name" => K::Name,
            "email" => K::Email,
            "phone" => K::Phone,
            "address" => K::Address,
            "taxId" => K::TaxId,
            "notes" => K::Notes,
            "status" => K::Status,
            "createdAt" => K::CreatedAt,
            "updatedAt" => K::UpdatedAt,
            "subscriptions" => {
                allowed(d, Action::SubscriptionRead)?;
                K::Subscriptions(Shape::compile(&f.selection_set.node, "Subscription", |g| subscription_key(d, g))?)
            }
            _ => return Err(NotCovered),
        })
    }

    fn write(&self, d: &Dcx<'_>, k: &CustomerKey, out: &mut Vec<u8>) -> W {
        use CustomerKey as K;
        let c: &CustomerRow = &self.0;
        match k {
            K::Id => id(out, "Customer", c.id),
            K::AccountNumber => string(out, &c.account_number),
            K::Name => string(out, &c.name),
            K::Email => opt_string(out, c.email.as_deref()),
            K::Phone => opt_string(out, c.phone.as_deref()),
            K::Address => opt_string(out, c.address.as_deref()),
            K::TaxId => opt_string(out, c.tax_id.as_deref()),
            K::Notes => opt_string(out, c.notes.as_deref()),
            K::Status => string(out, c.status.as_str()),
            K::CreatedAt => time(out, c.created_at),
            K::UpdatedAt => time(out, c.updated_at),
            K::Subscriptions(shape) => {
                let subs = d.subscriptions.get(&c.id).ok_or(NotCovered)?;
                return list(out, subs, |s, out| shape.write(out, |k, out| subscription(d, s, k, out)));
            }
        }
        Ok(())
    }
}

/// Subscription fields the writer covers. One variant per GraphQL field, named alike.
#[allow(missing_docs)]
pub enum SubscriptionKey {
    Id,
    AccessType,
    Username,
    HasPassword,
    StaticIpv4,
    MacAddress,
    OnuSerial,
    OltPort,
    Status,
    StatusReason,
    SimultaneousUse,
    StartDate,
    CreatedAt,
    UpdatedAt,
    Device,
    Plan(Shape<PlanKey>),
}

fn subscription_key(d: &Dcx<'_>, f: &Field) -> Result<SubscriptionKey, NotCovered> {
    use SubscriptionKey as K;
    Ok(match f.name.node.as_str() {
        "id" => K::Id,
        "accessType" => K::AccessType,
        "username" => K::Username,
        "hasPassword" => K::HasPassword,
        "staticIpv4" => K::StaticIpv4,
        "macAddress" => K::MacAddress,
        "onuSerial" => K::OnuSerial,
        "oltPort" => K::OltPort,
        "status" => K::Status,
        "statusReason" => K::StatusReason,
        "simultaneousUse" => K::SimultaneousUse,
        "startDate" => K::StartDate,
        "createdAt" => K::CreatedAt,
        "updatedAt" => K::UpdatedAt,
        "device" => K::Device,
        "plan" => {
            allowed(d, Action::PlanRead)?;
            K::Plan(Shape::compile(&f.selection_set.node, "Plan", |g| plan_key(d, g))?)
        }
        _ => return Err(NotCovered),
    })
}

fn subscription(d: &Dcx<'_>, s: &SubscriptionRow, k: &SubscriptionKey, out: &mut Vec<u8>) -> W {
    use SubscriptionKey as K;
    match k {
        K::Id => id(out, "Subscription", s.id),
        K::AccessType => string(out, s.access_type.as_str()),
        K::Username => string(out, &s.username),
        K::HasPassword => boolean(out, s.password_enc.is_some()),
        K::StaticIpv4 => opt_string(out, s.static_ipv4.as_deref()),
        K::MacAddress => opt_string(out, s.mac_address.as_deref()),
        K::OnuSerial => opt_string(out, s.onu_serial.as_deref()),
        K::OltPort => opt_string(out, s.olt_port.as_deref()),
        K::Status => string(out, s.status.as_str()),
        K::StatusReason => opt_string(out, s.status_reason.as_deref()),
        K::SimultaneousUse => int(out, s.simultaneous_use),
        K::StartDate => string(out, &s.start_date),
        K::CreatedAt => time(out, s.created_at),
        K::UpdatedAt => time(out, s.updated_at),
        // Null without a device (the resolver answers before checking anything else).
        K::Device if s.device_id.is_none() => out.extend_from_slice(b"null"),
        K::Device => return Err(NotCovered),
        K::Plan(shape) => {
            let p = d.plans.get(&s.plan_id).ok_or(NotCovered)?;
            return shape.write(out, |k, out| plan(d, p, k, out));
        }
    }
    Ok(())
}

/// Plan fields the writer covers. One variant per GraphQL field, named alike.
#[allow(missing_docs)]
pub enum PlanKey {
    Id,
    Name,
    Description,
    Price(Shape<MoneyKey>),
    BillingPeriod,
    DownloadKbps,
    UploadKbps,
    Burst(Shape<BurstKey>),
    DataQuota(Shape<QuotaKey>),
    TimeQuotaSecs,
    AccessTypes,
    IpPool,
    Active,
    MikrotikRateLimit,
    CreatedAt,
}

/// Money fields. One variant per GraphQL field, named alike.
#[allow(missing_docs)]
pub enum MoneyKey {
    AmountMinor,
    Currency,
    Formatted,
}

/// PlanBurst fields. One variant per GraphQL field, named alike.
#[allow(missing_docs)]
pub enum BurstKey {
    DownloadKbps,
    UploadKbps,
    ThresholdDownloadKbps,
    ThresholdUploadKbps,
    TimeSecs,
}

/// PlanDataQuota fields. One variant per GraphQL field, named alike.
#[allow(missing_docs)]
pub enum QuotaKey {
    Bytes,
    Action,
    FupDownloadKbps,
    FupUploadKbps,
}

fn plan_key(d: &Dcx<'_>, f: &Field) -> Result<PlanKey, NotCovered> {
    use PlanKey as K;
    let set = &f.selection_set.node;
    Ok(match f.name.node.as_str() {
        "id" => K::Id,
        "name" => K::Name,
        "description" => K::Description,
        "price" => {
            d.currency.ok_or(NotCovered)?;
            K::Price(Shape::compile(set, "Money", |g| {
                Ok(match g.name.node.as_str() {
                    "amountMinor" => MoneyKey::AmountMinor,
                    "currency" => MoneyKey::Currency,
                    "formatted" => MoneyKey::Formatted,
                    _ => return Err(NotCovered),
                })
            })?)
        }
        "billingPeriod" => K::BillingPeriod,
        "downloadKbps" => K::DownloadKbps,
        "uploadKbps" => K::UploadKbps,
        "burst" => K::Burst(Shape::compile(set, "PlanBurst", |g| {
            Ok(match g.name.node.as_str() {
                "downloadKbps" => BurstKey::DownloadKbps,
                "uploadKbps" => BurstKey::UploadKbps,
                "thresholdDownloadKbps" => BurstKey::ThresholdDownloadKbps,
                "thresholdUploadKbps" => BurstKey::ThresholdUploadKbps,
                "timeSecs" => BurstKey::TimeSecs,
                _ => return Err(NotCovered),
            })
        })?),
        "dataQuota" => K::DataQuota(Shape::compile(set, "PlanDataQuota", |g| {
            Ok(match g.name.node.as_str() {
                "bytes" => QuotaKey::Bytes,
                "action" => QuotaKey::Action,
                "fupDownloadKbps" => QuotaKey::FupDownloadKbps,
                "fupUploadKbps" => QuotaKey::FupUploadKbps,
                _ => return Err(NotCovered),
            })
        })?),
        "timeQuotaSecs" => K::TimeQuotaSecs,
        "accessTypes" => K::AccessTypes,
        "ipPool" => K::IpPool,
        "active" => K::Active,
        "mikrotikRateLimit" => K::MikrotikRateLimit,
        "createdAt" => K::CreatedAt,
        _ => return Err(NotCovered),
    })
}

fn plan(d: &Dcx<'_>, p: &PlanRow, k: &PlanKey, out: &mut Vec<u8>) -> W {
    use PlanKey as K;
    match k {
        K::Id => id(out, "Plan", p.id),
        K::Name => string(out, &p.name),
        K::Description => opt_string(out, p.description.as_deref()),
        K::Price(shape) => {
            let currency = d.currency.ok_or(NotCovered)?;
            return shape.write(out, |k, out| {
                match k {
                    MoneyKey::AmountMinor => int(out, p.price_minor),
                    MoneyKey::Currency => string(out, currency),
                    MoneyKey::Formatted => string(out, &Money::new(p.price_minor, currency).formatted),
                }
                Ok(())
            });
        }
        K::BillingPeriod => string(out, p.billing_period.as_str()),
        K::DownloadKbps => int(out, p.download_kbps),
        K::UploadKbps => int(out, p.upload_kbps),
        K::Burst(shape) => match crate::schema::types::PlanBurst::of(p) {
            None => out.extend_from_slice(b"null"),
            Some(b) => {
                return shape.write(out, |k, out| {
                    int(
                        out,
                        match k {
                            BurstKey::DownloadKbps => b.download_kbps,
                            BurstKey::UploadKbps => b.upload_kbps,
                            BurstKey::ThresholdDownloadKbps => b.threshold_download_kbps,
                            BurstKey::ThresholdUploadKbps => b.threshold_upload_kbps,
                            BurstKey::TimeSecs => b.time_secs,
                        },
                    );
                    Ok(())
                })
            }
        },
        K::DataQuota(shape) => match crate::schema::types::PlanDataQuota::of(p) {
            None => out.extend_from_slice(b"null"),
            Some(q) => {
                return shape.write(out, |k, out| {
                    match k {
                        QuotaKey::Bytes => int(out, q.bytes),
                        QuotaKey::Action => string(out, q.action.as_str()),
                        QuotaKey::FupDownloadKbps => opt_int(out, q.fup_download_kbps),
                        QuotaKey::FupUploadKbps => opt_int(out, q.fup_upload_kbps),
                    }
                    Ok(())
                })
            }
        },
        K::TimeQuotaSecs => opt_int(out, p.time_quota_secs),
        K::AccessTypes => {
            return list(out, &p.access_types(), |a, out| {
                string(out, a.as_str());
                Ok(())
            })
        }
        K::IpPool => opt_string(out, p.ip_pool.as_deref()),
        K::Active => boolean(out, p.is_active()),
        K::MikrotikRateLimit => string(out, &p.mikrotik_rate_limit()),
        K::CreatedAt => time(out, p.created_at),
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

/// Whether a selection set is plain fields, each with its own response key and no
/// directives (what the one-pass resolvers and this writer handle themselves).
pub(crate) fn plain_fields(set: &SelectionSet) -> Option<Vec<&Positioned<Field>>> {
    let mut fields = Vec::with_capacity(set.items.len());
    for s in &set.items {
        match &s.node {
            Selection::Field(f) if f.node.directives.is_empty() => {
                let key = f.node.response_key();
                if fields.iter().any(|g: &&Positioned<Field>| g.node.response_key().node == key.node) {
                    return None;
                }
                fields.push(f);
            }
            _ => return None,
        }
    }
    Some(fields)
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
