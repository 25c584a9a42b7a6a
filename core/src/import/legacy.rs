//! The exports of the two open systems ISPs move from, turned into the generic table.
//!
//! **phpNuxBill** — `tbl_customers` (username, password, pppoe_password, fullname, address,
//! city, district, state, zip, phonenumber, email, balance, service_type, ...), optionally
//! with `tbl_user_recharges` (username, namebp, expiration, status, type, ...): the plan is the
//! latest recharge's `namebp`, its `expiration` the next billing date while it is `on`; the
//! PPPoE password is `pppoe_password`, else `password`.
//!
//! **daloRADIUS / FreeRADIUS** — `radcheck` (username, attribute, op, value), one row per
//! attribute: `Cleartext-Password` is the password, `Framed-IP-Address` the static IP,
//! `Simultaneous-Use` and `Calling-Station-Id` (MAC) are kept; optionally `userinfo`
//! (username, firstname, lastname, email, mobilephone, address, city, zip, notes, ...) for the
//! customer and `radusergroup` (username, groupname, priority) for the plan (the group's name).

use super::mapping::normalize;
use super::source::{Row, Table};
use crate::error::{CoreError, CoreResult};
use std::collections::HashMap;

/// Column positions of a table by normalized header.
struct Cols(HashMap<String, usize>);

impl Cols {
    fn of(t: &Table) -> Self {
        Cols(t.headers.iter().enumerate().map(|(i, h)| (normalize(h), i)).collect())
    }
    fn has(&self, h: &str) -> bool {
        self.0.contains_key(h)
    }
    fn get<'r>(&self, row: &'r Row, h: &str) -> &'r str {
        self.0.get(h).and_then(|&i| row.cells.get(i)).map_or("", |s| s.as_str())
    }
    fn require(&self, what: &str, headers: &[&str]) -> CoreResult<()> {
        match headers.iter().find(|h| !self.has(h)) {
            Some(h) => Err(CoreError::validation("file", format!("is not a {what} export: no column {h:?}"))),
            None => Ok(()),
        }
    }
}

fn table(headers: &[&str], rows: Vec<Row>) -> Table {
    Table { headers: headers.iter().map(|s| s.to_string()).collect(), rows }
}

fn join(parts: &[&str], sep: &str) -> String {
    parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(sep)
}

/// phpNuxBill's customers (and recharges) as the generic table.
pub fn phpnuxbill(customers: Table, extra: Vec<Table>) -> CoreResult<Table> {
    let c = Cols::of(&customers);
    c.require("phpNuxBill tbl_customers", &["username", "fullname"])?;
    // The latest recharge of each login: (plan, expiration while on, type).
    let mut plan_of: HashMap<String, (i64, String, String, String)> = HashMap::new();
    for t in &extra {
        let r = Cols::of(t);
        r.require("phpNuxBill tbl_user_recharges", &["username", "namebp"])?;
        for (n, row) in t.rows.iter().enumerate() {
            let order = r.get(row, "id").parse::<i64>().unwrap_or(n as i64);
            let user = r.get(row, "username").to_string();
            if plan_of.get(&user).is_some_and(|p| p.0 > order) {
                continue;
            }
            let on = r.get(row, "status").eq_ignore_ascii_case("on");
            let expiration = if on { r.get(row, "expiration").to_string() } else { String::new() };
            plan_of.insert(user, (order, r.get(row, "namebp").to_string(), expiration, r.get(row, "type").to_string()));
        }
    }
    let headers = [
        "Name",
        "Login",
        "Password",
        "Email",
        "Phone",
        "Address",
        "Balance",
        "Access type",
        "Plan",
        "Next billing date",
    ];
    let rows = customers
        .rows
        .into_iter()
        .map(|row| {
            if row.problem.is_some() {
                return row;
            }
            let user = c.get(&row, "username");
            let pppoe = c.get(&row, "pppoepassword");
            let password = if pppoe.is_empty() { c.get(&row, "password") } else { pppoe };
            let address = join(
                &[
                    c.get(&row, "address"),
                    c.get(&row, "city"),
                    c.get(&row, "district"),
                    c.get(&row, "state"),
                    c.get(&row, "zip"),
                ],
                ", ",
            );
            let recharge = plan_of.get(user);
            let service = c.get(&row, "servicetype");
            let access = match (service.to_ascii_lowercase().as_str(), recharge) {
                ("pppoe" | "hotspot", _) => service,
                (_, Some(r)) => r.3.as_str(),
                _ => "",
            };
            let cells = vec![
                c.get(&row, "fullname").to_string(),
                user.to_string(),
                password.to_string(),
                c.get(&row, "email").to_string(),
                c.get(&row, "phonenumber").to_string(),
                address,
                c.get(&row, "balance").to_string(),
                access.to_string(),
                recharge.map_or(String::new(), |r| r.1.clone()),
                recharge.map_or(String::new(), |r| r.2.clone()),
            ];
            Row { line: row.line, cells, problem: None }
        })
        .collect();
    Ok(table(&headers, rows))
}

/// daloRADIUS / FreeRADIUS `radcheck` (with `userinfo`, `radusergroup`) as the generic table.
pub fn radius(radcheck: Table, extra: Vec<Table>) -> CoreResult<Table> {
    let c = Cols::of(&radcheck);
    c.require("FreeRADIUS radcheck", &["username", "attribute", "value"])?;
    let mut info: HashMap<String, Vec<String>> = HashMap::new();
    let mut group: HashMap<String, (i64, String)> = HashMap::new();
    for t in &extra {
        let x = Cols::of(t);
        if x.has("groupname") {
            for row in &t.rows {
                let prio = x.get(row, "priority").parse::<i64>().unwrap_or(0);
                let user = x.get(row, "username").to_string();
                if group.get(&user).is_none_or(|g| prio < g.0) {
                    group.insert(user, (prio, x.get(row, "groupname").to_string()));
                }
            }
        } else if x.has("firstname") || x.has("lastname") {
            for row in &t.rows {
                let phone = [x.get(row, "mobilephone"), x.get(row, "homephone"), x.get(row, "workphone")]
                    .into_iter()
                    .find(|p| !p.is_empty())
                    .unwrap_or("");
                let address =
                    join(&[x.get(row, "address"), x.get(row, "city"), x.get(row, "state"), x.get(row, "zip")], ", ");
                let name = join(&[x.get(row, "firstname"), x.get(row, "lastname")], " ");
                let name = if name.is_empty() { x.get(row, "company").to_string() } else { name };
                info.insert(
                    x.get(row, "username").to_string(),
                    vec![
                        name,
                        x.get(row, "email").to_string(),
                        phone.to_string(),
                        address,
                        x.get(row, "notes").to_string(),
                    ],
                );
            }
        } else {
            return Err(CoreError::validation("file", "an extra file is neither daloRADIUS userinfo nor radusergroup"));
        }
    }
    // One subscriber per login, in the order the logins first appear.
    let mut order: Vec<String> = Vec::new();
    let mut attrs: HashMap<String, (usize, HashMap<String, String>)> = HashMap::new();
    let mut bad = Vec::new();
    for row in radcheck.rows {
        if row.problem.is_some() {
            bad.push(row);
            continue;
        }
        let user = c.get(&row, "username").to_string();
        let entry = attrs.entry(user.clone()).or_insert_with(|| {
            order.push(user.clone());
            (row.line, HashMap::new())
        });
        entry.1.insert(normalize(c.get(&row, "attribute")), c.get(&row, "value").to_string());
    }
    let headers = [
        "Name",
        "Login",
        "Password",
        "Email",
        "Phone",
        "Address",
        "Notes",
        "Plan",
        "Static IP",
        "MAC",
        "Simultaneous use",
    ];
    let mut rows: Vec<Row> = order
        .into_iter()
        .map(|user| {
            let (line, a) = attrs.remove(&user).unwrap_or_default();
            let at = |k: &str| a.get(k).cloned().unwrap_or_default();
            let password = a.get("cleartextpassword").or_else(|| a.get("userpassword")).cloned().unwrap_or_default();
            let i = info.get(&user);
            let ii = |k: usize| i.map_or(String::new(), |v| v[k].clone());
            let name = Some(ii(0)).filter(|n| !n.is_empty()).unwrap_or_else(|| user.clone());
            let cells = vec![
                name,
                user.clone(),
                password,
                ii(1),
                ii(2),
                ii(3),
                ii(4),
                group.get(&user).map_or(String::new(), |g| g.1.clone()),
                at("framedipaddress"),
                at("callingstationid"),
                at("simultaneoususe"),
            ];
            Row { line, cells, problem: None }
        })
        .collect();
    rows.extend(bad);
    rows.sort_by_key(|r| r.line);
    Ok(table(&headers, rows))
}
