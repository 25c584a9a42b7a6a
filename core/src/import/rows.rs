//! Row validation: each row becomes a customer patch and a subscription patch checked by the
//! same functions as `createCustomer` / `createSubscription` (`CustomerPatch::checked`,
//! `subscriptions::check_new`, `check_fields`, `check_plan`), plus what only a file can get
//! wrong: plans by name, dates, money, duplicates inside the file and against the database.

use super::mapping::{Defaults, Field};
use super::source::{Row, Table};
use super::RowError;
use crate::error::CoreError;
use crate::patch::Patch;
use crate::store::customers::CustomerFields;
use crate::store::imports::{ExistingLogin, OnDuplicate};
use crate::store::plans::Plan;
use crate::store::subscriptions::{AccessType, SubscriptionFields, SubscriptionStatus};
use crate::validate;
use crate::workflows::customers::CustomerPatch;
use crate::workflows::subscriptions::{check_fields, check_new, check_plan, SubscriptionPatch};
use std::collections::HashMap;

/// What the database already holds, looked up once per import.
#[derive(Default)]
pub struct Known {
    /// Plans by lower-case name.
    pub plans_by_name: HashMap<String, Plan>,
    /// Plans by id (the "code" a file may give).
    pub plans_by_id: HashMap<i64, Plan>,
    /// Subscriptions by login.
    pub logins: HashMap<String, ExistingLogin>,
    /// Subscription id by static IP.
    pub ips: HashMap<String, (i64, String)>,
    /// Customer id by account number.
    pub accounts: HashMap<String, i64>,
    /// Digits of the tenant currency's minor unit.
    pub exponent: u32,
}

/// A valid row to create.
#[derive(Debug, Clone)]
pub struct Create {
    /// Row number.
    pub line: usize,
    /// Account number from the file.
    pub account: Option<String>,
    /// Customer fields.
    pub customer: CustomerFields,
    /// Subscription fields (password encrypted).
    pub sub: SubscriptionFields,
    /// PENDING or ACTIVE.
    pub status: SubscriptionStatus,
    /// Start of the first billing cycle (the file's next billing date or start date).
    pub start_date: Option<String>,
    /// Opening balance in minor units.
    pub balance: Option<i64>,
}

/// A valid row that overwrites an existing customer and subscription.
#[derive(Debug, Clone)]
pub struct Update {
    /// Row number.
    pub line: usize,
    /// Customer.
    pub customer_id: i64,
    /// Subscription.
    pub subscription_id: i64,
    /// What the row sets on the customer (empty cells leave a field alone).
    pub customer: CustomerPatch,
    /// What the row sets on the subscription.
    pub sub: SubscriptionPatch,
}

/// A row judged.
pub enum Judged {
    /// To create.
    Create(Box<Create>),
    /// To update (its checks against the current records are done by the caller).
    Update(Box<Update>),
    /// A duplicate left alone.
    Skip(RowError),
    /// Bad.
    Bad(RowError),
}

/// Judges rows one by one, remembering what earlier rows claimed.
pub struct Judge<'a> {
    fields: &'a [Option<Field>],
    headers: &'a [String],
    known: &'a Known,
    defaults: &'a Defaults,
    on_duplicate: OnDuplicate,
    encrypt: &'a (dyn Fn(&str) -> String + Sync),
    seen_logins: HashMap<String, usize>,
    seen_ips: HashMap<String, usize>,
    seen_accounts: HashMap<String, usize>,
    /// Rows that repeat a login of an earlier row or of the database (whatever the policy).
    pub duplicates: usize,
}

impl<'a> Judge<'a> {
    /// A judge for `table`'s rows whose columns fill `fields`.
    pub fn new(
        table: &'a Table,
        fields: &'a [Option<Field>],
        known: &'a Known,
        defaults: &'a Defaults,
        on_duplicate: OnDuplicate,
        encrypt: &'a (dyn Fn(&str) -> String + Sync),
    ) -> Self {
        Self {
            fields,
            headers: &table.headers,
            known,
            defaults,
            on_duplicate,
            encrypt,
            seen_logins: HashMap::new(),
            seen_ips: HashMap::new(),
            seen_accounts: HashMap::new(),
            duplicates: 0,
        }
    }

    /// The header of the column that fills `f`, or the field's name.
    pub fn column(&self, f: Option<Field>) -> String {
        match f {
            Some(f) => match self.fields.iter().position(|x| *x == Some(f)) {
                Some(i) => self.headers[i].clone(),
                None => f.name().to_string(),
            },
            None => String::new(),
        }
    }

    fn bad(&self, line: usize, f: Option<Field>, reason: impl Into<String>) -> Judged {
        Judged::Bad(RowError { row: line, column: self.column(f), reason: reason.into() })
    }

    /// A core validation error as a row error on the column it is about.
    pub fn from_core(&self, line: usize, e: CoreError) -> RowError {
        match e {
            CoreError::Validation { field, message } | CoreError::Conflict { field, message } => {
                let f = Field::of_api(&field);
                let column = if f.is_some() { self.column(f) } else { field };
                RowError { row: line, column, reason: message }
            }
            other => RowError { row: line, column: String::new(), reason: other.to_string() },
        }
    }

    /// Judges one row.
    pub fn judge(&mut self, row: &Row) -> Judged {
        let line = row.line;
        if let Some((col, why)) = &row.problem {
            let column = col.and_then(|i| self.headers.get(i).cloned()).unwrap_or_default();
            return Judged::Bad(RowError { row: line, column, reason: why.clone() });
        }
        let get = |f: Field| -> Option<&str> {
            self.fields
                .iter()
                .position(|x| *x == Some(f))
                .and_then(|i| row.cells.get(i))
                .map(|s| s.as_str())
                .filter(|s| !s.is_empty())
        };
        let set = |f: Field| get(f).map_or(Patch::Unchanged, |v| Patch::Set(v.to_string()));
        let name = get(Field::Name).map(str::to_string).or_else(|| {
            let parts: Vec<&str> = [get(Field::FirstName), get(Field::LastName)].into_iter().flatten().collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        let customer = CustomerPatch {
            name,
            email: set(Field::Email),
            phone: set(Field::Phone),
            address: set(Field::Address),
            tax_id: set(Field::TaxId),
            notes: set(Field::Notes),
            status: None,
        };
        // The plan, by name or id, else the mapping's default.
        let plan_text = get(Field::Plan).or(self.defaults.plan.as_deref());
        let Some(plan_text) = plan_text else { return self.bad(line, Some(Field::Plan), "is required") };
        let plan = self
            .known
            .plans_by_name
            .get(&plan_text.to_lowercase())
            .or_else(|| plan_text.parse::<i64>().ok().and_then(|id| self.known.plans_by_id.get(&id)));
        let Some(plan) = plan else { return self.bad(line, Some(Field::Plan), format!("no plan named {plan_text:?}")) };
        let access_type = match get(Field::AccessType).or(self.defaults.access_type.as_deref()) {
            Some(t) => match parse_access_type(t) {
                Some(a) => a,
                None => {
                    return self.bad(
                        line,
                        Some(Field::AccessType),
                        format!("{t:?} is not PPPOE, HOTSPOT, STATIC_IP or GPON"),
                    )
                }
            },
            // A plan that allows one access type implies it; PPPoE otherwise.
            None => plan
                .access_types
                .split(',')
                .next()
                .filter(|_| !plan.access_types.contains(','))
                .and_then(parse_access_type)
                .unwrap_or(AccessType::Pppoe),
        };
        let status = match get(Field::Status).or(self.defaults.status.as_deref()) {
            None => SubscriptionStatus::Active,
            Some(s) => match s.to_ascii_lowercase().as_str() {
                "active" | "enabled" | "on" | "yes" | "1" | "true" => SubscriptionStatus::Active,
                "pending" | "new" => SubscriptionStatus::Pending,
                _ => return self.bad(line, Some(Field::Status), format!("{s:?} is not ACTIVE or PENDING")),
            },
        };
        let mut start_date = None;
        for f in [Field::StartDate, Field::NextBillingDate] {
            if let Some(d) = get(f) {
                match parse_date(d) {
                    Some(d) => start_date = Some(d),
                    None => return self.bad(line, Some(f), "must be a date YYYY-MM-DD"),
                }
            }
        }
        let simultaneous_use = match get(Field::SimultaneousUse) {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => return self.bad(line, Some(Field::SimultaneousUse), "must be a whole number"),
            },
        };
        let balance = match get(Field::Balance) {
            None => None,
            Some(v) => match parse_money(v, self.known.exponent) {
                Some(m) if validate::amount(m.abs().max(1), validate::Sign::Positive).is_ok() => {
                    Some(m).filter(|m| *m != 0)
                }
                _ => return self.bad(line, Some(Field::Balance), format!("{v:?} is not an amount such as 12.50")),
            },
        };
        let account = get(Field::Account).map(str::to_string);
        if let Some(a) = &account {
            if let Err(m) = validate::text(a, 32) {
                return self.bad(line, Some(Field::Account), m);
            }
        }
        let sub = SubscriptionPatch {
            customer_id: None,
            plan_id: Some(plan.id),
            access_type: Some(access_type),
            username: get(Field::Username).map(str::to_string),
            password: set(Field::Password),
            static_ipv4: set(Field::StaticIp),
            mac_address: set(Field::Mac),
            onu_serial: set(Field::OnuSerial),
            olt_port: set(Field::OltPort),
            start_date: start_date.clone(),
            status: Some(status),
            simultaneous_use,
            device_id: Patch::Unchanged,
        };
        // The checks createCustomer and createSubscription make.
        let checked = customer.checked(None).and_then(|c| {
            check_new(&sub)?;
            let f = check_fields(&sub, None, self.encrypt)?;
            check_plan(plan, f.access_type, true)?;
            Ok((c, f))
        });
        let (customer_fields, fields) = match checked {
            Ok(v) => v,
            Err(e) => return Judged::Bad(self.from_core(line, e)),
        };
        // Duplicates inside the file.
        let login = fields.username.clone();
        if let Some(first) = self.seen_logins.get(&login) {
            self.duplicates += 1;
            let err = RowError {
                row: line,
                column: self.column(Some(Field::Username)),
                reason: format!("login {login:?} is also on row {first}"),
            };
            return if self.on_duplicate == OnDuplicate::Skip { Judged::Skip(err) } else { Judged::Bad(err) };
        }
        if let Some(ip) = &fields.static_ipv4 {
            if let Some(first) = self.seen_ips.get(ip) {
                return self.bad(line, Some(Field::StaticIp), format!("{ip} is also on row {first}"));
            }
        }
        if let Some(a) = &account {
            if let Some(first) = self.seen_accounts.get(a) {
                return self.bad(line, Some(Field::Account), format!("account {a:?} is also on row {first}"));
            }
        }
        // Against the database.
        let existing = self.known.logins.get(&login);
        if let Some(ip) = &fields.static_ipv4 {
            if let Some((sub_id, owner)) = self.known.ips.get(ip) {
                if existing.map(|e| e.id) != Some(*sub_id) {
                    return self.bad(
                        line,
                        Some(Field::StaticIp),
                        format!("{ip} is already assigned to login {owner:?}"),
                    );
                }
            }
        }
        if let Some(a) = &account {
            if let Some(cid) = self.known.accounts.get(a) {
                if existing.map(|e| e.customer_id) != Some(*cid) {
                    return self.bad(line, Some(Field::Account), format!("account {a:?} belongs to another customer"));
                }
            }
        }
        self.seen_logins.insert(login.clone(), line);
        if let Some(ip) = &fields.static_ipv4 {
            self.seen_ips.insert(ip.clone(), line);
        }
        if let Some(a) = &account {
            self.seen_accounts.insert(a.clone(), line);
        }
        if let Some(e) = existing {
            self.duplicates += 1;
            let err = RowError {
                row: line,
                column: self.column(Some(Field::Username)),
                reason: format!("login {login:?} already exists"),
            };
            return match self.on_duplicate {
                OnDuplicate::Skip => Judged::Skip(err),
                OnDuplicate::Fail => Judged::Bad(err),
                OnDuplicate::Update => Judged::Update(Box::new(Update {
                    line,
                    customer_id: e.customer_id,
                    subscription_id: e.id,
                    customer,
                    sub: SubscriptionPatch { status: None, start_date: None, ..sub },
                })),
            };
        }
        Judged::Create(Box::new(Create {
            line,
            account,
            customer: customer_fields,
            sub: fields,
            status,
            start_date,
            balance,
        }))
    }
}

/// An access type as files write it (`PPPoE`, `Hotspot`, `static`, `FTTH` ...).
pub fn parse_access_type(s: &str) -> Option<AccessType> {
    match super::mapping::normalize(s).as_str() {
        "pppoe" | "ppp" => Some(AccessType::Pppoe),
        "hotspot" => Some(AccessType::Hotspot),
        "staticip" | "static" | "ipoe" => Some(AccessType::StaticIp),
        "gpon" | "ftth" | "fiber" | "fibre" => Some(AccessType::Gpon),
        _ => None,
    }
}

/// A date `YYYY-MM-DD`, also with a time after it (`2026-01-31 23:59:59`).
pub fn parse_date(s: &str) -> Option<String> {
    let d = s.get(..10)?;
    let rest = &s[10..];
    (validate::date(d).is_ok() && (rest.is_empty() || rest.starts_with(' ') || rest.starts_with('T')))
        .then(|| d.to_string())
}

/// An amount in major units (`-12.5`, `1234.50`, `1,234.50`) as minor units of a currency with
/// `exponent` decimals; None when it is not one (or has more decimals than the currency).
pub fn parse_money(s: &str, exponent: u32) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let s: String = s.chars().filter(|c| *c != ',' && *c != ' ').collect();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if frac.len() > exponent as usize || int.len() > 15 {
        return None;
    }
    let scale = 10i64.pow(exponent);
    let whole: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_v: i64 =
        if frac.is_empty() { 0 } else { format!("{frac:0<width$}", width = exponent as usize).parse().ok()? };
    let v = whole.checked_mul(scale)?.checked_add(frac_v)?;
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_dates_and_access_types_parse_as_files_write_them() {
        assert_eq!(parse_money("12.5", 2), Some(1250));
        assert_eq!(parse_money("-1,234.56", 2), Some(-123_456));
        assert_eq!(parse_money("100", 0), Some(100));
        assert_eq!(parse_money("1.234", 2), None);
        assert_eq!(parse_money("12a", 2), None);
        assert_eq!(parse_money("", 2), None);
        assert_eq!(parse_date("2026-01-31 23:59:59").as_deref(), Some("2026-01-31"));
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("31/01/2026"), None);
        assert_eq!(parse_access_type("PPPoE"), Some(AccessType::Pppoe));
        assert_eq!(parse_access_type("Static IP"), Some(AccessType::StaticIp));
        assert_eq!(parse_access_type("Others"), None);
    }
}
