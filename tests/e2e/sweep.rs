//! Role × field sweep, generated from the schema by introspection (issue #16): every root
//! query field and every mutation, for every role, with arguments generated from their types,
//! compared with the access table (`isp_api::access::ROOT_FIELDS`) and the roles matrix;
//! another tenant's IDs through every field that takes an ID; and every nested object under
//! the single-object root fields, per role.

use crate::graph::{demo_app, demo_ids, named, objects, Types, ROLES, STALE};
use crate::*;
use async_graphql::{UploadValue, Variables};
use futures::StreamExt;
use isp_api::access::{Access, ROOT_FIELDS};
use isp_core::auth::{Action, Role};
use isp_core::config::GraphqlConfig;
use serde_json::{json, Value};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

/// An ID that no tenant holds, for any type.
const NOWHERE: i64 = 987_654_321;

/// The access rule of a root field (the unit test in `access.rs` checks the table is complete).
fn rule(field: &str) -> Access {
    ROOT_FIELDS.iter().find(|(_, f, _)| *f == field).map(|(_, _, a)| *a).unwrap_or_else(|| {
        panic!("root field {field} has no entry in isp_api::access::ROOT_FIELDS");
    })
}

/// Whether `role` may call `field`, by the table and the matrix.
fn allowed(field: &str, role: Role) -> bool {
    match rule(field) {
        Access::Requires(a) => role.can(a),
        Access::Public | Access::SignedIn | Access::PerObject => true,
    }
}

/// What the ID arguments named `prefix` + `Id` point to, where the name alone does not say.
const ID_NAMES: &[(&str, &str)] = &[
    ("assignee", "StaffUser"),
    ("lead", "StaffUser"),
    ("actor", "StaffUser"),
    ("createdBy", "StaffUser"),
    ("authorStaff", "StaffUser"),
    ("authorCustomer", "Customer"),
    ("team", "TicketTeam"),
    ("category", "TicketCategory"),
    ("target", "Ticket"),
    ("source", "Ticket"),
    ("mergedInto", "Ticket"),
    ("object", "Customer"),
    ("originalInvoice", "Invoice"),
    ("job", "DeviceJob"),
    // Billing runs have no object of their own: an ID of the type the filter expects.
    ("billingRun", "BillingRun"),
];

/// What the `id` argument of a root field points to, where no type's name is in the field's.
const ID_FIELDS: &[(&str, &str)] = &[
    ("node", "Customer"),
    ("disconnectSession", "RadiusSession"),
    ("rollbackImport", "ImportJob"),
    ("addTicketCustomerMessage", "Ticket"),
];

/// Builds calls of root fields with arguments generated from their types.
struct Gen<'a> {
    types: &'a Types,
    /// IDs to pass, by type name; a type without one gets an ID of its type that no tenant holds.
    ids: &'a BTreeMap<String, String>,
    with_ids: BTreeSet<String>,
    /// IDs to pass by argument name (`customerId`), before `ids`.
    by_name: BTreeMap<String, String>,
    /// Also fill this optional argument, and every ID in input objects (other-tenant sweep).
    only: Option<String>,
    /// Pass IDs no tenant holds instead of `ids`.
    nowhere: bool,
    /// Pass invalid values where the schema cannot tell (malformed IDs, empty strings, zeros):
    /// a refused call must be refused before its arguments are read.
    bad: bool,
    tag: String,
    n: Cell<usize>,
}

/// One call: its text (with an alias), the upload variables it uses.
#[derive(Clone)]
struct Call {
    text: String,
    uploads: Vec<String>,
    /// Whether any argument is an ID.
    has_id: bool,
}

impl<'a> Gen<'a> {
    fn new(types: &'a Types, ids: &'a BTreeMap<String, String>) -> Self {
        Gen {
            types,
            ids,
            with_ids: types.with_ids(),
            by_name: BTreeMap::new(),
            only: None,
            nowhere: false,
            bad: false,
            tag: unique(),
            n: Cell::new(0),
        }
    }

    fn next(&self) -> usize {
        self.n.set(self.n.get() + 1);
        self.n.get()
    }

    /// The type an ID argument named `name` of root field `field` points to.
    fn id_type(&self, name: &str, field: &str, ret: &str) -> String {
        let prefix = name.trim_end_matches("Ids").trim_end_matches("Id").trim_end_matches("ids");
        let prefix = if prefix == "id" { "" } else { prefix };
        if !prefix.is_empty() {
            if let Some((_, t)) = ID_NAMES.iter().find(|(p, _)| *p == prefix) {
                return t.to_string();
            }
            let mut c = prefix.chars();
            let ty: String = c.next().unwrap().to_uppercase().chain(c).collect();
            assert!(self.with_ids.contains(&ty), "{field}({name}:) points to no type with IDs: add it to ID_NAMES");
            return ty;
        }
        if let Some((_, t)) = ID_FIELDS.iter().find(|(f, _)| *f == field) {
            return t.to_string();
        }
        let lower = field.to_lowercase();
        let by_name = self.with_ids.iter().filter(|t| lower.contains(&t.to_lowercase())).max_by_key(|t| t.len());
        match by_name {
            Some(t) => t.clone(),
            None if self.with_ids.contains(ret) => ret.to_string(),
            None => panic!("{field}({name}:) points to an unknown type: add it to ID_FIELDS"),
        }
    }

    fn id(&self, ty: &str) -> String {
        match self.ids.get(ty) {
            Some(id) if !self.nowhere => id.clone(),
            _ => isp_api::ids::encode(ty, NOWHERE).to_string(),
        }
    }

    /// A valid-looking string for an argument or input field named `name`.
    fn string(&self, name: &str) -> String {
        let n = self.next();
        let tag = &self.tag;
        let l = name.to_lowercase();
        if l.contains("email") {
            format!("sweep-{tag}-{n}@sweep.test")
        } else if l.contains("password") {
            format!("Sweep-pass-{tag}")
        } else if l == "slug" || l == "tenant" {
            format!("sweep{tag}{n}")
        } else if l.contains("currency") {
            "USD".into()
        } else if l.contains("timezone") {
            "UTC".into()
        } else if l == "from" || l == "to" || l.ends_with("date") || l.ends_with("on") || l == "asof" {
            "2026-01-01".into()
        } else if l.contains("time") || l.contains("opens") || l.contains("closes") {
            "09:00".into()
        } else if l.contains("phone") {
            "+15550100".into()
        } else if l.contains("ip") || l.contains("host") || l.contains("address") && !l.contains("email") {
            // NAS addresses are unique across tenants (and runs on one PostgreSQL database).
            let u: u128 = unique().parse().unwrap();
            format!("10.{}.{}.{}", (u >> 16) % 256, (u >> 8) % 256, u % 254 + 1)
        } else if l.contains("mac") {
            "00:11:22:33:44:55".into()
        } else if l == "language" {
            "en".into()
        } else {
            // Fits logins, secrets, provider names and tax classes alike.
            format!("sweep-{tag}-{n}")
        }
    }

    /// A GraphQL literal of type `t` for `name` in root field `field`; uploads become variables.
    fn literal(&self, t: &Value, name: &str, field: &str, ret: &str, call: &mut Call) -> String {
        let (kind, ty) =
            (t["kind"].as_str().unwrap_or_else(|| panic!("{field}.{name}: {t}")), t["name"].as_str().unwrap_or(""));
        match kind {
            "NON_NULL" => self.literal(&t["ofType"], name, field, ret, call),
            // A week is seven days, Monday first.
            "LIST" if name == "week" => {
                let day = self.literal(&t["ofType"], name, field, ret, call);
                format!("[{}]", vec![day; 7].join(", "))
            }
            "LIST" => format!("[{}]", self.literal(&t["ofType"], name, field, ret, call)),
            // The least role: owners are protected from everyone but owners.
            "ENUM" if ty == "StaffRole" => "CASHIER".into(),
            "ENUM" => self.types.0[ty]["enumValues"][0]["name"].as_str().unwrap().to_string(),
            "INPUT_OBJECT" => {
                let fields = self.types.0[ty]["inputFields"].as_array().unwrap();
                let parts: Vec<String> = fields
                    .iter()
                    .filter(|f| self.wanted(f, false))
                    .map(|f| {
                        let n = f["name"].as_str().unwrap();
                        format!("{n}: {}", self.literal(&f["type"], n, field, ret, call))
                    })
                    .collect();
                format!("{{ {} }}", parts.join(", "))
            }
            "SCALAR" => match ty {
                "ID" if self.bad => "\"not-an-id\"".into(),
                "String" if self.bad => "\"\"".into(),
                // Zero: it still fits unsigned arguments, which async-graphql checks before any
                // resolver runs.
                "Int" | "Float" if self.bad => "0".into(),
                "ID" => {
                    call.has_id = true;
                    let ty = self.id_type(name, field, ret);
                    match self.by_name.get(name) {
                        Some(id) if !self.nowhere => json!(id).to_string(),
                        _ => json!(self.id(&ty)).to_string(),
                    }
                }
                "String" => json!(self.string(name)).to_string(),
                // An end after its start (working hours, ranges).
                "Int" if name.starts_with("end") => "1000".into(),
                "Int" => "1".into(),
                "Float" => "1.5".into(),
                "Boolean" => "true".into(),
                "DateTime" => "\"2026-01-01T00:00:00Z\"".into(),
                "JSON" => "{}".into(),
                "Upload" => {
                    // A CSV for the imports, a PDF for documents.
                    let kind = if field.to_lowercase().contains("import") { "csv" } else { "pdf" };
                    let v = format!("{kind}{}", self.next());
                    call.uploads.push(v.clone());
                    format!("${v}")
                }
                other => panic!("no value for scalar {other} ({field}.{name})"),
            },
            other => panic!("no value for {other} ({field}.{name})"),
        }
    }

    /// Whether an argument or input field is passed: the required ones, and (with `only`)
    /// that argument and every ID of input objects.
    fn wanted(&self, arg: &Value, top: bool) -> bool {
        let required = arg["type"]["kind"] == "NON_NULL" && arg["defaultValue"].is_null();
        required
            || match &self.only {
                Some(only) if top => arg["name"] == only.as_str(),
                Some(_) => self.has_id(&arg["type"], &mut BTreeSet::new()),
                None => false,
            }
    }

    /// Whether type `t` is or holds (in an input object) an ID.
    fn has_id(&self, t: &Value, seen: &mut BTreeSet<String>) -> bool {
        let (kind, ty, _) = named(t);
        match kind {
            "SCALAR" => ty == "ID",
            "INPUT_OBJECT" if seen.insert(ty.to_string()) => {
                let fields = self.types.0[ty]["inputFields"].as_array().unwrap();
                fields.iter().any(|f| self.has_id(&f["type"], seen))
            }
            _ => false,
        }
    }

    /// The call `alias: field(args) selection` of the root field `f` (introspected).
    fn call(&self, alias: &str, f: &Value, selection: &str) -> Call {
        let name = f["name"].as_str().unwrap();
        let ret = named(&f["type"]).1;
        let mut call = Call { text: String::new(), uploads: Vec::new(), has_id: false };
        let args: Vec<String> = f["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| self.wanted(a, true))
            .map(|a| {
                let n = a["name"].as_str().unwrap();
                format!("{n}: {}", self.literal(&a["type"], n, name, ret, &mut call))
            })
            .collect();
        let args = if args.is_empty() { String::new() } else { format!("({})", args.join(", ")) };
        call.text = format!("{alias}: {name}{args} {selection}");
        call
    }
}

/// `{ __typename }` for a field returning objects, nothing for scalars.
fn typename(types: &Types, f: &Value) -> String {
    let ty = named(&f["type"]).1;
    match types.0[ty]["kind"].as_str() {
        Some("OBJECT" | "INTERFACE" | "UNION") => "{ __typename }".into(),
        _ => String::new(),
    }
}

/// Runs the operation made of `calls` in-process (no depth or complexity limits, a client IP
/// of its own so that failed logins throttle nobody else) as `token`.
async fn exec(app: &TestApp, token: Option<&str>, mutation: bool, calls: &[Call]) -> Value {
    let uploads: Vec<&String> = calls.iter().flat_map(|c| &c.uploads).collect();
    let vars: Vec<String> = uploads.iter().map(|v| format!("${v}: Upload!")).collect();
    let head = match (mutation, vars.is_empty()) {
        (false, _) => "query Sweep".to_string(),
        (true, true) => "mutation Sweep".to_string(),
        (true, false) => format!("mutation Sweep({})", vars.join(", ")),
    };
    let body: Vec<&str> = calls.iter().map(|c| c.text.as_str()).collect();
    let doc = format!("{head} {{ {} }}", body.join(" "));
    let limits = GraphqlConfig { max_depth: 64, max_complexity: 10_000_000, ..app.ctx.config.graphql.clone() };
    let (schema, _) = isp_api::schema::build_pair(app.ctx.clone(), &limits);
    let vars: serde_json::Map<String, Value> = uploads.iter().map(|v| (v.to_string(), Value::Null)).collect();
    let mut req = async_graphql::Request::new(doc.clone()).variables(Variables::from_json(Value::Object(vars)));
    req.data = isp_api::caller_data(&app.ctx, token, unique_ip());
    for v in uploads {
        let (name, ct, bytes) = if v.starts_with("csv") {
            (
                "sweep.csv",
                "text/csv",
                format!("Name,Email,Username\nSweep Upload,upload-{0}@sweep.test,upload-{0}\n", unique()).into_bytes(),
            )
        } else {
            ("sweep.pdf", "application/pdf", isp_core::seed::sample_pdf("sweep"))
        };
        let path = app.data_dir().join(format!("sweep-{v}-{}", unique()));
        std::fs::write(&path, bytes).unwrap();
        let content = std::fs::File::open(&path).unwrap();
        req.set_upload(
            &format!("variables.{v}"),
            UploadValue { filename: name.into(), content_type: Some(ct.into()), content },
        );
    }
    let r = serde_json::to_value(schema.execute(req).await).unwrap();
    let stray: Vec<&Value> =
        r["errors"].as_array().into_iter().flatten().filter(|e| e["path"].as_array().is_none()).collect();
    assert!(stray.is_empty(), "the operation itself failed: {stray:#?}\n{doc}");
    r
}

/// The error codes of the response at `alias` (the root field itself, not below it).
fn codes<'r>(r: &'r Value, alias: &str) -> Vec<&'r str> {
    r["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["path"][0] == alias && e["path"].as_array().map_or(0, Vec::len) == 1)
        .map(|e| e["extensions"]["code"].as_str().unwrap_or("?"))
        .collect()
}

/// The errors of the response at `alias` (and below it), for messages.
fn errors(r: &Value, alias: &str) -> Value {
    Value::Array(r["errors"].as_array().into_iter().flatten().filter(|e| e["path"][0] == alias).cloned().collect())
}

/// The demo's logins with their roles (the demo has one user per role, in `Role::ALL`'s order).
async fn demo_staff(app: &TestApp) -> Vec<(Role, String)> {
    let mut out = Vec::new();
    for (role, email) in Role::ALL.into_iter().zip(ROLES) {
        let token = app.login("demo-isp", email, isp_core::seed::DEMO_PASSWORD).await;
        let me = app.ok(&token, "{ me { role } }", json!({})).await;
        assert_eq!(me["me"]["role"], role.as_str().to_uppercase(), "{email}");
        out.push((role, token));
    }
    out
}

/// What the tenant holds, as `token` sees it: every list that takes no required argument
/// (count and first rows, their scalars) but `skip`, and the tenant itself.
async fn fingerprint(app: &TestApp, token: &str, types: &Types, skip: &[&str]) -> Value {
    let mut parts = vec!["tenant { name currency timezone }".to_string()];
    for (field, node, required) in types.connections() {
        if required.is_empty() && !skip.contains(&field.as_str()) {
            let sel = types.select(&node, 0, false, &mut BTreeMap::new());
            parts.push(format!("{field}(first: 50) {{ totalCount nodes {sel} }}"));
        }
    }
    let d = app.ok(token, &format!("{{ {} }}", parts.join(" ")), json!({})).await;
    crate::graph::canon(&d)
}

/// One ID of each type the tenant holds (as its owner `token` sees it): every root query
/// field, with arguments generated from `known` IDs.
async fn tenant_ids(
    app: &TestApp,
    token: &str,
    types: &Types,
    known: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let gen = Gen::new(types, known);
    let calls: Vec<Call> = types
        .fields("Query")
        .enumerate()
        .map(|(i, f)| {
            let ret = named(&f["type"]).1;
            gen.call(&format!("q{i}"), f, &types.select(ret, 1, false, &mut BTreeMap::new()))
        })
        .collect();
    let r = exec(app, Some(token), false, &calls).await;
    let mut found = known.clone();
    collect_ids(&r["data"], &mut found);
    found
}

/// The first ID of each type in `v`: the `id` and `...Id` fields, by the type the ID names.
fn collect_ids(v: &Value, found: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (v, isp_api::ids::parse(v.as_str().unwrap_or(""))) {
                    (Value::String(id), Some((ty, _))) if k == "id" || k.ends_with("Id") => {
                        found.entry(ty).or_insert_with(|| id.clone());
                    }
                    _ => collect_ids(v, found),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_ids(v, found)),
        _ => {}
    }
}

/// The IDs of an object's own fields by the argument name that would filter by them:
/// `customerId` for `customerId` and for `customer { id }`.
fn row_ids(row: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in row.as_object().into_iter().flatten() {
        match v {
            Value::String(id) if k.ends_with("Id") && isp_api::ids::parse(id).is_some() => {
                out.insert(k.clone(), id.clone());
            }
            Value::Object(o) => {
                if let Some(Value::String(id)) = o.get("id") {
                    out.insert(format!("{k}Id"), id.clone());
                }
            }
            _ => {}
        }
    }
    out
}

/// Which action lets a role see objects of each type: the actions of the root fields that
/// list or return them.
fn type_actions(types: &Types) -> BTreeMap<String, Vec<Action>> {
    let mut out: BTreeMap<String, Vec<Action>> = BTreeMap::new();
    let connections: BTreeMap<String, String> = types.connections().into_iter().map(|(f, n, _)| (f, n)).collect();
    for f in types.fields("Query") {
        let name = f["name"].as_str().unwrap();
        if let Access::Requires(a) = rule(name) {
            let ty = connections.get(name).cloned().unwrap_or_else(|| named(&f["type"]).1.to_string());
            out.entry(ty).or_default().push(a);
        }
    }
    out
}

#[tokio::test]
async fn every_root_field_and_mutation_answers_every_role_as_the_access_table_says_and_leaks_nothing() {
    let app = demo_app().await;
    let staff = demo_staff(&app).await;
    let owner = staff[0].1.clone();
    let types = Types::of(&app, &owner).await;
    let demo = demo_ids(&app, &owner, &types).await;
    // (`Change` is the subscription's event, not stored.)
    let missing: Vec<String> =
        types.with_ids().into_iter().filter(|t| t != "Change" && !demo.contains_key(t)).collect();
    assert!(missing.is_empty(), "the demo holds no object of {missing:?} {STALE}");
    let queries: Vec<Value> = types.fields("Query").cloned().collect();
    let mutations: Vec<Value> = types.fields("Mutation").cloned().collect();
    assert!(queries.len() > 40 && mutations.len() > 70, "{} queries, {} mutations", queries.len(), mutations.len());

    // 1. Every root query field, for every role, on the demo: FORBIDDEN exactly where the
    // table and the matrix say so; the owner gets every answer without errors.
    let gen = Gen::new(&types, &demo);
    let mut query_checks = 0;
    for (role, token) in &staff {
        let calls: Vec<Call> =
            queries.iter().enumerate().map(|(i, f)| gen.call(&format!("q{i}"), f, &typename(&types, f))).collect();
        let r = exec(&app, Some(token), false, &calls).await;
        for (i, f) in queries.iter().enumerate() {
            let (name, alias) = (f["name"].as_str().unwrap(), format!("q{i}"));
            let got = codes(&r, &alias);
            if allowed(name, *role) {
                assert!(!got.contains(&"FORBIDDEN"), "{role:?} may call {name} but is refused: {r:#}");
                assert!(!got.contains(&"INTERNAL"), "{role:?} {name}: {r:#}");
                if *role == Role::Owner {
                    assert!(got.is_empty(), "the owner calls {name} on the demo without errors: {got:?} {r:#}");
                }
            } else {
                assert_eq!(got, ["FORBIDDEN"], "{role:?} may not call {name}: {r:#}");
                assert!(r["data"][&alias].is_null(), "{role:?} {name}: {r:#}");
            }
            query_checks += 1;
        }
    }
    assert_eq!(query_checks, 6 * queries.len());
    // Refused before the arguments are read: invalid ones change nothing.
    let bad = Gen { bad: true, ..Gen::new(&types, &demo) };
    let mut refused_bad = 0;
    for (role, token) in &staff {
        let refused: Vec<(&str, Call)> = queries
            .iter()
            .filter(|f| !allowed(f["name"].as_str().unwrap(), *role))
            .enumerate()
            .map(|(i, f)| (f["name"].as_str().unwrap(), bad.call(&format!("q{i}"), f, &typename(&types, f))))
            .collect();
        let calls: Vec<Call> = refused.iter().map(|(_, c)| c.clone()).collect();
        if calls.is_empty() {
            continue;
        }
        let r = exec(&app, Some(token), false, &calls).await;
        for (i, (name, _)) in refused.iter().enumerate() {
            let alias = format!("q{i}");
            assert_eq!(codes(&r, &alias), ["FORBIDDEN"], "{role:?} may not call {name}: {:#}", errors(&r, &alias));
            refused_bad += 1;
        }
    }

    // Without a token every root field but the public ones is UNAUTHENTICATED (the public
    // ones sign up and in: not called here, to create nothing).
    let mut anonymous = 0;
    for (fields, mutation) in [(&queries, false), (&mutations, true)] {
        let signed: Vec<&Value> =
            fields.iter().filter(|f| rule(f["name"].as_str().unwrap()) != Access::Public).collect();
        let calls: Vec<Call> =
            signed.iter().enumerate().map(|(i, f)| bad.call(&format!("a{i}"), f, &typename(&types, f))).collect();
        let r = exec(&app, None, mutation, &calls).await;
        for (i, f) in signed.iter().enumerate() {
            let alias = format!("a{i}");
            assert_eq!(codes(&r, &alias), ["UNAUTHENTICATED"], "{}: {:#}", f["name"], errors(&r, &alias));
            anonymous += 1;
        }
    }
    let public = ROOT_FIELDS.iter().filter(|(_, _, a)| *a == Access::Public).count();
    assert_eq!(anonymous + public, queries.len() + mutations.len());
    // The subscription: every role may listen (each change is filtered by its kind's read
    // action); without a token the stream ends at once with UNAUTHENTICATED.
    let subscriptions: Vec<&str> = types.fields("SubscriptionRoot").map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(subscriptions, ["changes"], "a new subscription field needs a case here");
    for token in staff.iter().map(|(_, t)| Some(t.as_str())).chain([None]) {
        let (schema, _) = isp_api::schema::build_pair(app.ctx.clone(), &app.ctx.config.graphql);
        let mut req = async_graphql::Request::new("subscription { changes { kind id } }");
        req.data = isp_api::caller_data(&app.ctx, token, unique_ip());
        let mut stream = schema.execute_stream(req);
        let first = tokio::time::timeout(std::time::Duration::from_millis(100), stream.next()).await;
        match (token, first) {
            (Some(_), Err(_elapsed)) => {}
            (None, Ok(Some(r))) => {
                let r = serde_json::to_value(r).unwrap();
                assert_eq!(code(&r), Some("UNAUTHENTICATED"), "{r:#}");
            }
            (_, other) => panic!("changes as {token:?}: {:?}", other.map(|r| r.map(|r| r.errors))),
        }
    }

    // 2. Every mutation, for every role, on a tenant of the sweep's own (one user per role,
    // a few objects): the refused calls first, which change nothing, then the allowed ones,
    // which are never FORBIDDEN; destructive ones run last within each role's operation.
    let t = app.tenant().await;
    let mut scratch_staff = vec![(Role::Owner, t.token.clone(), app.me_id(&t.token).await)];
    for role in &Role::ALL[1..] {
        let s = app.staff(&t, &role.as_str().to_uppercase()).await;
        scratch_staff.push((*role, s.token, s.id));
    }
    let plan = app.plan(&t.token, "Sweep plan", &["PPPOE"]).await;
    let customer = app.customer(&t.token, "Sweep customer").await;
    app.subscription(&t.token, &customer, &plan, &format!("sweep-{}", unique()), "ACTIVE").await;
    let destructive = |n: &str| {
        ["delete", "archive", "remove", "rollback", "void", "merge", "cancel", "disconnect", "logout"]
            .iter()
            .any(|p| n.starts_with(p))
    };
    let mut ordered: Vec<&Value> = mutations.iter().filter(|f| !destructive(f["name"].as_str().unwrap())).collect();
    ordered.extend(mutations.iter().filter(|f| destructive(f["name"].as_str().unwrap())));
    // The owner fills the tenant first: every mutation that creates or changes, none that
    // destroys; then the sweep acts on what the tenant holds.
    let mut scratch = tenant_ids(&app, &t.token, &types, &BTreeMap::new()).await;
    let creating: Vec<Call> = {
        let gen = Gen::new(&types, &scratch);
        let fill = ordered.iter().filter(|f| !destructive(f["name"].as_str().unwrap()));
        fill.enumerate().map(|(i, f)| gen.call(&format!("m{i}"), f, &typename(&types, f))).collect()
    };
    exec(&app, Some(&t.token), true, &creating).await;
    scratch = tenant_ids(&app, &t.token, &types, &scratch).await;
    // The cashier is the staff user acted on: every role may be refused an owner.
    scratch.insert("StaffUser".into(), scratch_staff[5].2.clone());
    let held: Vec<&String> = scratch.keys().collect();
    for k in ["Customer", "Plan", "Subscription", "StaffUser", "Nas", "Ticket", "Payment", "NotificationTemplate"] {
        assert!(scratch.contains_key(k), "the sweep's tenant has a {k}: {held:?}");
    }
    let gen = Gen::new(&types, &scratch);
    let before = fingerprint(&app, &t.token, &types, &[]).await;
    let mut refused = 0;
    let bad = Gen { bad: true, ..Gen::new(&types, &scratch) };
    for ((role, token, _), gen) in scratch_staff.iter().flat_map(|s| [(s, &gen), (s, &bad)]) {
        let forbidden: Vec<(&str, Call)> = ordered
            .iter()
            .filter(|f| !allowed(f["name"].as_str().unwrap(), *role))
            .enumerate()
            .map(|(i, f)| (f["name"].as_str().unwrap(), gen.call(&format!("m{i}"), f, &typename(&types, f))))
            .collect();
        if forbidden.is_empty() {
            continue;
        }
        let calls: Vec<Call> = forbidden.iter().map(|(_, c)| c.clone()).collect();
        let r = exec(&app, Some(token), true, &calls).await;
        for (i, (name, _)) in forbidden.iter().enumerate() {
            let alias = format!("m{i}");
            let bad = if gen.bad { " (invalid arguments)" } else { "" };
            assert_eq!(codes(&r, &alias), ["FORBIDDEN"], "{role:?} may not call {name}{bad}: {:#}", errors(&r, &alias));
            refused += 1;
        }
    }
    assert_eq!(fingerprint(&app, &t.token, &types, &[]).await, before, "a refused mutation changed something");
    let mut accepted = 0;
    let mut succeeded = BTreeSet::new();
    // The least role first: an owner's deletions leave the others nothing to act on.
    for (role, token, _) in scratch_staff.iter().rev() {
        let allowed_here: Vec<(&str, Call)> = ordered
            .iter()
            .filter(|f| allowed(f["name"].as_str().unwrap(), *role))
            .enumerate()
            .map(|(i, f)| (f["name"].as_str().unwrap(), gen.call(&format!("m{i}"), f, &typename(&types, f))))
            .collect();
        let calls: Vec<Call> = allowed_here.iter().map(|(_, c)| c.clone()).collect();
        let r = exec(&app, Some(token), true, &calls).await;
        for (i, (name, _)) in allowed_here.iter().enumerate() {
            let alias = format!("m{i}");
            let got = codes(&r, &alias);
            assert!(!got.contains(&"FORBIDDEN"), "{role:?} may call {name} but is refused: {:#}", errors(&r, &alias));
            assert!(!got.contains(&"INTERNAL"), "{role:?} {name}: {:#}", errors(&r, &alias));
            if got.is_empty() {
                succeeded.insert(name.to_string());
            }
            accepted += 1;
        }
    }
    let expected: usize =
        Role::ALL.iter().map(|r| mutations.iter().filter(|f| allowed(f["name"].as_str().unwrap(), *r)).count()).sum();
    assert_eq!(accepted, expected);
    // Each refused call twice: with generated arguments and with invalid ones.
    assert_eq!(accepted + refused / 2, 6 * mutations.len());
    eprintln!("sweep: {} mutations succeeded with generated arguments: {succeeded:?}", succeeded.len());

    // 3. Another tenant's IDs: every root field and mutation taking an ID, called by the owner
    // of tenant B with the demo's IDs, answers exactly as with IDs nobody holds, and the
    // demo is unchanged afterwards.
    let b = app.tenant().await;
    let skip = ["auditLog", "authLog", "staffUsers"];
    let demo_before = fingerprint(&app, &owner, &types, &skip).await;
    let capped = app
        .ok(&owner, r#"{ subscriptions(first: 1, filter: { search: "demo-capped" }) { nodes { id } } }"#, json!({}))
        .await;
    let capped = capped["subscriptions"]["nodes"][0]["id"].as_str().expect(STALE).to_string();
    let lists: BTreeMap<String, (String, Vec<String>)> =
        types.connections().into_iter().map(|(f, n, r)| (f, (n, r))).collect();
    let gen = Gen::new(&types, &demo);
    let demo_id_values: BTreeSet<&String> = demo.values().collect();
    let mut cross = (0, 0);
    let mut vacuous = Vec::new();
    for (fields, mutation) in [(&queries, false), (&mutations, true)] {
        for (i, f) in fields.iter().enumerate() {
            let name = f["name"].as_str().unwrap();
            let alias = format!("x{i}");
            let ret = named(&f["type"]).1;
            let sel = match types.0[ret]["kind"].as_str() {
                Some("OBJECT") => types.select(ret, 1, false, &mut BTreeMap::new()),
                _ => typename(&types, f),
            };
            // One call per argument that is or holds an ID.
            let id_args: Vec<&str> = f["args"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| gen.has_id(&a["type"], &mut BTreeSet::new()))
                .map(|a| a["name"].as_str().unwrap())
                .collect();
            if id_args.is_empty() {
                continue;
            }
            // A list is filtered by the IDs of its own rows (the row with most of them), an
            // object asked for by those of the demo's object of its type.
            let mut ids = demo.clone();
            let mut by_name = BTreeMap::new();
            let ret = named(&f["type"]).1;
            if let Some((node, required)) = lists.get(name) {
                let args = if required.is_empty() { String::new() } else { format!(", subscriptionId: \"{capped}\"") };
                let sel = types.select(node, 2, false, &mut BTreeMap::new());
                let d = app.ok(&owner, &format!("{{ {name}(first: 50{args}) {{ nodes {sel} }} }}"), json!({})).await;
                let rows = d[name]["nodes"].as_array().unwrap();
                if let Some(row) = rows.iter().max_by_key(|row| row_ids(row).len()) {
                    collect_ids(row, &mut ids);
                    by_name = row_ids(row);
                }
                if !required.is_empty() {
                    ids.insert("Subscription".into(), capped.clone());
                }
            } else if let Some(id) = demo.get(ret) {
                let sel = types.select(ret, 1, false, &mut BTreeMap::new());
                let d = app.ok(&owner, &format!("{{ node(id: \"{id}\") {{ ... on {ret} {sel} }} }}"), json!({})).await;
                by_name = row_ids(&d["node"]);
            }
            for arg in id_args {
                let only = Some(arg.to_string());
                let theirs = Gen { only: only.clone(), by_name: by_name.clone(), ..Gen::new(&types, &ids) };
                let nobody = Gen { only, nowhere: true, ..Gen::new(&types, &ids) };
                let what = format!("{name}({arg}:)");
                let r = exec(&app, Some(&b.token), mutation, &[theirs.call(&alias, f, &sel)]).await;
                let r0 = exec(&app, Some(&b.token), mutation, &[nobody.call(&alias, f, &sel)]).await;
                let data = &r["data"][&alias];
                let text = data.to_string();
                let leaked: Vec<&&String> = demo_id_values.iter().filter(|id| text.contains(id.as_str())).collect();
                assert!(leaked.is_empty(), "{what} hands tenant B the demo's {leaked:?}: {r:#}");
                assert_eq!(
                    codes(&r, &alias),
                    codes(&r0, &alias),
                    "{what}: the demo's IDs answer unlike IDs nobody holds\n{r:#}\n{r0:#}"
                );
                if mutation {
                    assert_eq!(data.is_null(), r0["data"][&alias].is_null(), "{what}: {r:#}\n{r0:#}");
                    cross.1 += 1;
                } else {
                    assert_eq!(data, &r0["data"][&alias], "{what}: the demo's IDs answer unlike IDs nobody holds");
                    // Not vacuous: the demo's owner gets something else for the same call.
                    let mine = exec(&app, Some(&owner), false, &[theirs.call(&alias, f, &sel)]).await;
                    if crate::graph::canon(&mine["data"][&alias]) == crate::graph::canon(&r0["data"][&alias]) {
                        vacuous.push(what);
                    }
                    cross.0 += 1;
                }
            }
        }
    }
    assert_eq!(fingerprint(&app, &owner, &types, &skip).await, demo_before, "tenant B changed the demo's data");

    // 4. Every nested object under the single-object root fields, for every role: an object
    // shows only to a role that may read its type.
    let readable = type_actions(&types);
    let connections: BTreeSet<String> = types.connections().into_iter().map(|(f, _, _)| f).collect();
    let singles: Vec<&Value> = queries
        .iter()
        .filter(|f| {
            let ret = named(&f["type"]).1;
            types.0[ret]["kind"] == "OBJECT" && !connections.contains(f["name"].as_str().unwrap())
        })
        .collect();
    let gen = Gen::new(&types, &demo);
    let mut nested = 0;
    let mut hidden_types = BTreeSet::new();
    for (role, token) in &staff {
        let calls: Vec<Call> = singles
            .iter()
            .enumerate()
            .map(|(i, f)| {
                gen.call(&format!("s{i}"), f, &types.select(named(&f["type"]).1, 3, false, &mut BTreeMap::new()))
            })
            .collect();
        let r = exec(&app, Some(token), false, &calls).await;
        for (i, f) in singles.iter().enumerate() {
            let name = f["name"].as_str().unwrap();
            let alias = format!("s{i}");
            let mut found = Vec::new();
            objects(&r["data"][&alias], name.to_string(), &mut found);
            for (path, ty) in found.into_iter().filter(|(p, _)| p.contains('.')) {
                if let Some(actions) = readable.get(ty) {
                    let may = actions.iter().any(|a| role.can(*a));
                    assert!(may, "{role:?} may not read {ty} but sees one at {path}: {:#}", r["data"][&alias]);
                    nested += 1;
                } else {
                    hidden_types.insert(ty.to_string());
                }
            }
            assert!(!codes(&r, &alias).contains(&"INTERNAL"), "{role:?} {name}: {r:#}");
        }
    }
    eprintln!(
        "sweep: {} root query fields and {} mutations for {} roles ({query_checks} query calls and {refused_bad} refused ones with invalid arguments, {refused} refused (half with invalid arguments) and \
         {accepted} allowed mutation calls, {} succeeded; {anonymous} calls without a token); other tenant's IDs through {} query field arguments and {} mutation arguments; {nested} nested objects under {} single-object root fields \
         checked (types without a root field of their own: {hidden_types:?})",
        queries.len(),
        mutations.len(),
        staff.len(),
        succeeded.len(),
        cross.0,
        cross.1,
        singles.len(),
    );
    assert!(cross.0 >= 15 && cross.1 >= 40, "{cross:?}");
    // Not vacuous: most mutations did their work for some role on the sweep's tenant.
    assert!(succeeded.len() >= 45, "{succeeded:?}");
    // Every call tells the demo's IDs apart for their owner, but the billing-run filter: runs
    // have no object in the graph, so the sweep knows no run's ID.
    assert_eq!(vacuous, ["invoices(billingRunId:)"], "answer the demo's owner as IDs nobody holds");
    assert!(nested > 100, "{nested}");
}
