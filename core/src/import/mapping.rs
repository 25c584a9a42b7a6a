//! Which column holds which field: headers matched automatically (case, spaces and
//! punctuation ignored, common synonyms), overridable by an explicit TOML mapping.
//!
//! ```toml
//! encoding = "windows-1252"   # optional: declared encoding of a CSV file
//! delimiter = ";"             # optional: declared CSV delimiter
//! sheet = "Customers"         # optional: the sheet of a spreadsheet
//! [columns]                   # file header = field (or "ignore")
//! "Nome completo" = "name"
//! "Old id" = "ignore"
//! [defaults]                  # values for rows (or files) without them
//! plan = "Home 50"
//! access_type = "PPPOE"
//! status = "ACTIVE"
//! ```

use crate::error::{CoreError, CoreResult};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A field an import fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Customer name.
    Name,
    /// First name (joined with the last name when there is no name column).
    FirstName,
    /// Last name.
    LastName,
    /// Contact email.
    Email,
    /// Contact phone.
    Phone,
    /// Service address.
    Address,
    /// Tax id.
    TaxId,
    /// Staff notes.
    Notes,
    /// Account number (kept; a new one is given when absent).
    Account,
    /// PPPoE / hotspot login.
    Username,
    /// PPPoE / hotspot password.
    Password,
    /// Plan, by name or id.
    Plan,
    /// PPPOE, HOTSPOT, STATIC_IP or GPON.
    AccessType,
    /// Fixed IPv4.
    StaticIp,
    /// MAC binding.
    Mac,
    /// ONU serial.
    OnuSerial,
    /// OLT port.
    OltPort,
    /// Subscription status: ACTIVE or PENDING.
    Status,
    /// Service start date.
    StartDate,
    /// Date of the next invoice.
    NextBillingDate,
    /// Opening balance in the tenant's currency (positive: the customer owes).
    Balance,
    /// Sessions allowed at once.
    SimultaneousUse,
}

/// Every field with its name in mappings and reports, and the headers that mean it (compared
/// with case, spaces and punctuation removed).
pub const FIELDS: &[(Field, &str, &[&str])] = &[
    (
        Field::Name,
        "name",
        &["name", "fullname", "customername", "customer", "client", "clientname", "contactname", "nome", "nombre"],
    ),
    (Field::FirstName, "first_name", &["firstname", "givenname", "forename"]),
    (Field::LastName, "last_name", &["lastname", "surname", "familyname"]),
    (Field::Email, "email", &["email", "emailaddress", "mail", "correo"]),
    (
        Field::Phone,
        "phone",
        &[
            "phone",
            "phonenumber",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "telephone",
            "tel",
            "cell",
            "cellphone",
            "contactnumber",
            "telefono",
        ],
    ),
    (
        Field::Address,
        "address",
        &["address", "serviceaddress", "street", "streetaddress", "installationaddress", "direccion"],
    ),
    (Field::TaxId, "tax_id", &["taxid", "vat", "vatnumber", "taxnumber", "nif", "cpf", "rfc"]),
    (Field::Notes, "notes", &["notes", "note", "comment", "comments", "remarks"]),
    (
        Field::Account,
        "account",
        &["account", "accountnumber", "accountno", "customernumber", "customerno", "accountid"],
    ),
    (
        Field::Username,
        "username",
        &["username", "login", "user", "userid", "pppoeuser", "pppoelogin", "pppoeusername", "loginname"],
    ),
    (Field::Password, "password", &["password", "pass", "passwd", "pppoepassword", "secret", "cleartextpassword"]),
    (
        Field::Plan,
        "plan",
        &[
            "plan",
            "planname",
            "plancode",
            "package",
            "packagename",
            "profile",
            "tariff",
            "internetplan",
            "bandwidthplan",
        ],
    ),
    (Field::AccessType, "access_type", &["accesstype", "servicetype", "connectiontype", "connection", "type"]),
    (
        Field::StaticIp,
        "static_ip",
        &["staticip", "staticipv4", "ip", "ipaddress", "ipv4", "framedipaddress", "fixedip"],
    ),
    (Field::Mac, "mac", &["mac", "macaddress", "callingstationid"]),
    (Field::OnuSerial, "onu_serial", &["onuserial", "onu", "onusn", "gponsn", "serialnumber", "onuserialnumber"]),
    (Field::OltPort, "olt_port", &["oltport", "ponport", "olt"]),
    (Field::Status, "status", &["status", "state", "subscriptionstatus"]),
    (Field::StartDate, "start_date", &["startdate", "activationdate", "activated", "since", "servicestart"]),
    (
        Field::NextBillingDate,
        "next_billing_date",
        &[
            "nextbillingdate",
            "nextbilling",
            "nextinvoicedate",
            "billingdate",
            "nextdue",
            "duedate",
            "expiration",
            "expirationdate",
            "expires",
            "expiry",
        ],
    ),
    (Field::Balance, "balance", &["balance", "openingbalance", "amountdue", "outstanding"]),
    (Field::SimultaneousUse, "simultaneous_use", &["simultaneoususe", "sessions", "maxsessions"]),
];

impl Field {
    /// The field's name in mappings and reports.
    pub fn name(self) -> &'static str {
        FIELDS.iter().find(|(f, _, _)| *f == self).map_or("?", |(_, n, _)| n)
    }

    /// The field named `name` in a mapping file.
    pub fn parse(name: &str) -> Option<Field> {
        let n = normalize(name);
        FIELDS.iter().find(|(_, fname, _)| normalize(fname) == n).map(|(f, _, _)| *f)
    }

    /// The field of an API validation error's field name (`staticIpv4` -> StaticIp).
    pub fn of_api(field: &str) -> Option<Field> {
        Some(match field {
            "name" => Field::Name,
            "email" => Field::Email,
            "phone" => Field::Phone,
            "address" => Field::Address,
            "taxId" => Field::TaxId,
            "notes" => Field::Notes,
            "username" => Field::Username,
            "password" => Field::Password,
            "planId" => Field::Plan,
            "accessType" => Field::AccessType,
            "staticIpv4" => Field::StaticIp,
            "macAddress" => Field::Mac,
            "onuSerial" => Field::OnuSerial,
            "oltPort" => Field::OltPort,
            "status" => Field::Status,
            "startDate" => Field::StartDate,
            "simultaneousUse" => Field::SimultaneousUse,
            _ => return None,
        })
    }
}

/// A header with case, spaces and punctuation removed (`E-mail` and `e mail` are `email`).
pub fn normalize(header: &str) -> String {
    header.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The field a header means by itself, if any.
pub fn auto_field(header: &str) -> Option<Field> {
    let n = normalize(header);
    FIELDS.iter().find(|(_, _, syn)| syn.contains(&n.as_str())).map(|(f, _, _)| *f)
}

/// Values for rows that lack them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Plan name or id.
    pub plan: Option<String>,
    /// Access type.
    pub access_type: Option<String>,
    /// Subscription status (ACTIVE by default).
    pub status: Option<String>,
}

/// An explicit mapping (see the module doc for the file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Declared CSV encoding.
    pub encoding: Option<String>,
    /// Declared CSV delimiter (one character; `\t` or "tab" for TAB).
    pub delimiter: Option<String>,
    /// Sheet of a spreadsheet.
    pub sheet: Option<String>,
    /// Header -> field name or `ignore`.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Values for rows without them.
    #[serde(default)]
    pub defaults: Defaults,
}

impl Mapping {
    /// Parses a TOML mapping.
    pub fn from_toml(text: &str) -> CoreResult<Mapping> {
        let m: Mapping = toml::from_str(text).map_err(|e| CoreError::validation("mapping", e.message()))?;
        for (header, field) in &m.columns {
            if !field.eq_ignore_ascii_case("ignore") && Field::parse(field).is_none() {
                let known: Vec<&str> = FIELDS.iter().map(|(_, n, _)| *n).collect();
                return Err(CoreError::validation(
                    "mapping",
                    format!("column {header:?}: unknown field {field:?} (known: {}, ignore)", known.join(", ")),
                ));
            }
        }
        m.delimiter_byte()?;
        Ok(m)
    }

    /// The declared delimiter as a byte.
    pub fn delimiter_byte(&self) -> CoreResult<Option<u8>> {
        match self.delimiter.as_deref() {
            None => Ok(None),
            Some("\\t") | Some("\t") | Some("tab") | Some("TAB") => Ok(Some(b'\t')),
            Some(d) if d.len() == 1 && d.is_ascii() => Ok(Some(d.as_bytes()[0])),
            Some(d) => Err(CoreError::validation("mapping", format!("delimiter {d:?} must be one ASCII character"))),
        }
    }

    /// Which field each header fills (None: ignored), by the explicit mapping first and the
    /// automatic match otherwise. Two headers for one field is an error.
    pub fn resolve(&self, headers: &[String]) -> CoreResult<Vec<Option<Field>>> {
        let explicit: BTreeMap<String, &String> = self.columns.iter().map(|(h, f)| (normalize(h), f)).collect();
        let mut out = Vec::with_capacity(headers.len());
        let mut seen: BTreeMap<Field, &str> = BTreeMap::new();
        for h in headers {
            let field = match explicit.get(&normalize(h)) {
                Some(f) if f.eq_ignore_ascii_case("ignore") => None,
                Some(f) => Field::parse(f),
                None => auto_field(h),
            };
            if let Some(f) = field {
                if let Some(first) = seen.insert(f, h) {
                    return Err(CoreError::validation(
                        "file",
                        format!("columns {first:?} and {h:?} both map to {}; map one of them to \"ignore\"", f.name()),
                    ));
                }
            }
            out.push(field);
        }
        let has = |f: Field| out.contains(&Some(f));
        if !has(Field::Name) && !has(Field::FirstName) && !has(Field::LastName) {
            return Err(CoreError::validation(
                "file",
                "no column for the customer's name (such as \"Name\" or \"Full name\")",
            ));
        }
        if !has(Field::Username) {
            return Err(CoreError::validation("file", "no column for the login (such as \"Username\" or \"Login\")"));
        }
        if !has(Field::Plan) && self.defaults.plan.is_none() {
            return Err(CoreError::validation("file", "no column for the plan and no default plan in the mapping"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headers_match_synonyms_whatever_the_case_and_punctuation() {
        let m = Mapping::default();
        let got = m
            .resolve(&h(&[
                "Full name",
                "E-mail",
                "LOGIN",
                "Plan",
                "Phone #",
                "Static IP",
                "ONU serial",
                "Next billing date",
                "Balance",
                "Whatever",
            ]))
            .unwrap();
        assert_eq!(
            got,
            vec![
                Some(Field::Name),
                Some(Field::Email),
                Some(Field::Username),
                Some(Field::Plan),
                Some(Field::Phone),
                Some(Field::StaticIp),
                Some(Field::OnuSerial),
                Some(Field::NextBillingDate),
                Some(Field::Balance),
                None
            ]
        );
    }

    #[test]
    fn an_explicit_mapping_overrides_and_is_checked() {
        let m = Mapping::from_toml("[columns]\n\"Nome completo\" = \"name\"\n\"Email\" = \"ignore\"\n\"Conta\" = \"username\"\n[defaults]\nplan = \"Basic\"\n").unwrap();
        let got = m.resolve(&h(&["Nome completo", "Email", "Conta"])).unwrap();
        assert_eq!(got, vec![Some(Field::Name), None, Some(Field::Username)]);
        let e = Mapping::from_toml("[columns]\nX = \"nmae\"\n").unwrap_err().to_string();
        assert!(e.contains("unknown field \"nmae\""), "{e}");
        assert!(Mapping::from_toml("colums = 1").is_err());
        let e = Mapping::default().resolve(&h(&["Name", "Full name", "Login", "Plan"])).unwrap_err().to_string();
        assert!(e.contains("both map to name"), "{e}");
        let e = Mapping::default().resolve(&h(&["Name", "Plan"])).unwrap_err().to_string();
        assert!(e.contains("login"), "{e}");
    }
}
