//! The graph as a whole, walked by introspection over the demo data: every list resolves the
//! same through the one-pass resolver as through async-graphql's generic one (for every role,
//! with and without fragments), every list is a store list with counts, and every object with
//! an ID is a `Node`.

use crate::*;
use isp_api::fast::Generic;
use isp_core::config::GraphqlConfig;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The demo's staff, one per role (README: demo logins).
pub(crate) const ROLES: [&str; 6] = [
    "admin@demo-isp.com",
    "ops@demo-isp.com",
    "manager@demo-isp.com",
    "support@demo-isp.com",
    "engineer@demo-isp.com",
    "cashier@demo-isp.com",
];

static SEEDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Why demo data may be missing on PostgreSQL although the seed writes it.
pub(crate) const STALE: &str =
    "(the demo is seeded once per database: one seeded by an older build stays; use a fresh TEST_DATABASE_URL)";

/// A server with the demo data (seeded once per database: on PostgreSQL the tests share one).
pub(crate) async fn demo_app() -> TestApp {
    let app = spawn_app().await;
    let _one_at_a_time = SEEDING.lock().await;
    isp_core::seed::demo(&app.ctx).await.expect("seed the demo");
    app
}

const INTROSPECTION: &str = r#"{ __schema { types { name kind interfaces { name } enumValues { name }
  inputFields { name defaultValue type { ...T } }
  fields { name args { name defaultValue type { ...T } } type { ...T } } } } }
  fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name } } } } } } }"#;

/// The schema's types by name, from introspection.
pub(crate) struct Types(pub(crate) BTreeMap<String, Value>);

/// A field's named type (wrappers removed) and whether it is a list.
pub(crate) fn named(t: &Value) -> (&str, &str, bool) {
    let mut t = t;
    let mut list = false;
    while t["name"].is_null() {
        list |= t["kind"] == "LIST";
        t = &t["ofType"];
    }
    (t["kind"].as_str().unwrap(), t["name"].as_str().unwrap(), list)
}

impl Types {
    pub(crate) async fn of(app: &TestApp, token: &str) -> Self {
        let d = app.ok(token, INTROSPECTION, json!({})).await;
        let types = d["__schema"]["types"].as_array().unwrap();
        Self(types.iter().map(|t| (t["name"].as_str().unwrap().to_string(), t.clone())).collect())
    }

    pub(crate) fn fields<'a>(&'a self, ty: &str) -> impl Iterator<Item = &'a Value> {
        self.0[ty]["fields"].as_array().into_iter().flatten()
    }

    /// The root list fields: Query fields returning a `...Connection`, with their node type.
    pub(crate) fn connections(&self) -> Vec<(String, String, Vec<String>)> {
        self.fields("Query")
            .filter_map(|f| {
                let (_, conn, _) = named(&f["type"]);
                conn.ends_with("Connection").then(|| {
                    let edge = self.fields(conn).find(|g| g["name"] == "edges").unwrap();
                    let (_, edge, _) = named(&edge["type"]);
                    let node = self.fields(edge).find(|g| g["name"] == "node").unwrap();
                    let required = f["args"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|a| a["type"]["kind"] == "NON_NULL" && a["defaultValue"].is_null())
                        .map(|a| a["name"].as_str().unwrap().to_string())
                        .collect();
                    (f["name"].as_str().unwrap().to_string(), named(&node["type"]).1.to_string(), required)
                })
            })
            .collect()
    }

    /// Object types with an `id: ID!` field.
    pub(crate) fn with_ids(&self) -> BTreeSet<String> {
        self.0
            .iter()
            .filter(|(n, t)| t["kind"] == "OBJECT" && !n.starts_with("__"))
            .filter(|(n, _)| self.fields(n).any(|f| f["name"] == "id" && named(&f["type"]).1 == "ID"))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// A selection of `ty` down to `depth` levels of objects: every field without required
    /// arguments; nested lists of a connection take `first: 2`. With `fragments`, each level
    /// is a named fragment spread plus an inline fragment, and the first nested object is
    /// asked for twice (merged by the resolvers) — in both modes, so the answers compare.
    pub(crate) fn select(
        &self,
        ty: &str,
        depth: usize,
        fragments: bool,
        defs: &mut BTreeMap<String, String>,
    ) -> String {
        let mut scalars = Vec::new();
        let mut objects = Vec::new();
        for f in self.fields(ty) {
            let args = f["args"].as_array().unwrap();
            if args.iter().any(|a| a["type"]["kind"] == "NON_NULL" && a["defaultValue"].is_null()) {
                continue;
            }
            let name = f["name"].as_str().unwrap();
            let (kind, inner, _) = named(&f["type"]);
            match kind {
                "SCALAR" | "ENUM" => scalars.push(name.to_string()),
                "OBJECT" if depth > 0 => {
                    let a = if args.iter().any(|a| a["name"] == "first") { "(first: 2)" } else { "" };
                    objects.push((format!("{name}{a}"), self.select(inner, depth - 1, fragments, defs)));
                }
                _ => {}
            }
        }
        let twice = objects.first().map(|(f, _)| format!("{f} {{ __typename }}")).unwrap_or_default();
        // And one field under an alias as well as its name.
        let alias = scalars.first().map(|f| format!("also_{f}: {f}")).unwrap_or_default();
        let body = scalars
            .iter()
            .cloned()
            .chain(objects.iter().map(|(f, s)| format!("{f} {s}")))
            .collect::<Vec<_>>()
            .join(" ");
        if fragments {
            let name = format!("{ty}{depth}");
            defs.insert(name.clone(), format!("fragment {name} on {ty} {{ {body} }}"));
            format!("{{ ...{name} ... on {ty} {{ __typename {twice} {alias} }} }}")
        } else {
            format!("{{ {body} __typename {twice} {alias} }}")
        }
    }
}

/// `value` with object keys sorted and errors in a stable order, for comparing answers.
pub(crate) fn canon(value: &Value) -> Value {
    match value {
        Value::Object(m) => {
            let sorted: BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, canon(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect::<Map<_, _>>())
        }
        Value::Array(a) => Value::Array(a.iter().map(canon).collect()),
        v => v.clone(),
    }
}

/// `answer` without its errors' locations (in a stable order again).
fn without_locations(answer: &Value) -> Value {
    let mut v = answer.clone();
    if let Some(errors) = v.get_mut("errors").and_then(Value::as_array_mut) {
        for e in errors.iter_mut() {
            if let Some(e) = e.as_object_mut() {
                e.remove("locations");
            }
        }
        errors.sort_by_key(|e| e.to_string());
    }
    v
}

/// Runs `query` in-process as the caller `token`, through the one-pass resolver or (with
/// `generic`) async-graphql's own; the answer as JSON with its errors sorted.
async fn run(app: &TestApp, token: &str, query: &str, generic: bool) -> Value {
    let limits = GraphqlConfig { max_depth: 64, max_complexity: 1_000_000, ..app.ctx.config.graphql.clone() };
    let (schema, _) = isp_api::schema::build_pair(app.ctx.clone(), &limits);
    let mut req = async_graphql::Request::new(query);
    req.data = isp_api::caller_data(&app.ctx, Some(token), "127.0.0.1".into());
    if generic {
        req.data.insert(Generic);
    }
    let mut v = serde_json::to_value(schema.execute(req).await).unwrap();
    if let Some(errors) = v.get_mut("errors").and_then(Value::as_array_mut) {
        errors.sort_by_key(|e| e.to_string());
    }
    canon(&v)
}

#[tokio::test]
async fn every_list_resolves_like_the_generic_resolver_for_every_role_with_and_without_fragments() {
    let app = demo_app().await;
    let owner = app.login("demo-isp", ROLES[0], isp_core::seed::DEMO_PASSWORD).await;
    let types = Types::of(&app, &owner).await;
    // The demo subscriber with usage recorded.
    let sub = app
        .ok(&owner, r#"{ subscriptions(first: 1, filter: { search: "demo-capped" }) { nodes { id } } }"#, json!({}))
        .await;
    let sub_id = sub["subscriptions"]["nodes"][0]["id"].as_str().unwrap().to_string();
    let mut non_empty = BTreeSet::new();
    let mut compared = 0;
    let mut nested_checked = 0;
    for email in ROLES {
        let token = app.login("demo-isp", email, isp_core::seed::DEMO_PASSWORD).await;
        // Each list's node type, and whether this role may list it; then every answer's objects.
        let mut readable: BTreeMap<String, bool> = BTreeMap::new();
        let mut role_answers = Vec::new();
        for (field, node, required) in types.connections() {
            let args = match required.as_slice() {
                [] => "first: 5".to_string(),
                [r] if r == "subscriptionId" => format!("first: 5, subscriptionId: \"{sub_id}\""),
                _ => panic!("{field} needs arguments the test does not know: {required:?}"),
            };
            let mut answers = Vec::new();
            for fragments in [false, true] {
                let mut defs = BTreeMap::new();
                let sel = types.select(&node, 2, fragments, &mut defs);
                let list = format!(
                    "totalCount totalCountExact pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} \
                     edges {{ cursor node {sel} }} nodes {{ __typename }}"
                );
                let root = if fragments {
                    let conn = format!("{node}Connection");
                    format!("{{ {field}({args}) {{ ... on {conn} {{ {list} }} }} }}")
                } else {
                    format!("{{ {field}({args}) {{ {list} }} }}")
                };
                let query = format!("query List {root} {}", defs.into_values().collect::<Vec<_>>().join(" "));
                for generic in [false, true] {
                    answers.push((fragments, generic, run(&app, &token, &query, generic).await, query.clone()));
                }
            }
            let (_, _, first, query) = &answers[0];
            for (fragments, generic, answer, q) in &answers[1..] {
                // An error's locations point into the query's text, which fragments change.
                let (answer, first) = if *fragments {
                    (without_locations(answer), without_locations(first))
                } else {
                    (answer.clone(), first.clone())
                };
                assert_eq!(
                    answer, first,
                    "{email} {field} (fragments: {fragments}, generic: {generic}) differs\n{q}\nfrom\n{query}"
                );
            }
            // With fragments, both resolvers answer the same text: locations and all.
            assert_eq!(answers[3].2, answers[2].2, "{email} {field} with fragments differs\n{}", answers[2].3);
            compared += 1;
            let edges = first["data"][&field]["edges"].as_array().map_or(0, Vec::len);
            if edges > 0 {
                // Not vacuous: the nodes carry their fields.
                assert!(first["data"][&field]["edges"][0]["node"].as_object().unwrap().len() > 2, "{first}");
            }
            if email == ROLES[0] {
                assert!(first.get("errors").is_none(), "the owner reads {field} without errors: {first:#}");
                if edges > 0 {
                    non_empty.insert(field.clone());
                }
            }
            let refused = first["data"][&field].is_null();
            *readable.entry(node.clone()).or_insert(true) &= !refused;
            role_answers.push((field, first.clone()));
        }
        // A nested field shows an object only to a role that may list objects of its type
        // (`radiusSessions { nas }` is refused to whoever `nasDevices` is refused to).
        for (field, answer) in &role_answers {
            let mut found = Vec::new();
            objects(&answer["data"][field], field.clone(), &mut found);
            for (path, ty) in found {
                if let Some(may) = readable.get(ty) {
                    assert!(may, "{email} may not list {ty} but sees one at {path}: {answer:#}");
                    nested_checked += 1;
                }
            }
        }
        assert!(readable.values().any(|r| !r) || email == ROLES[0] || email == ROLES[1], "{email}: {readable:?}");
    }
    assert!(nested_checked > 100, "{nested_checked} objects checked");
    assert_eq!(compared, 6 * types.connections().len());
    // Every list was compared with rows in it: the demo fills them all for the owner.
    for (field, _, _) in types.connections() {
        assert!(non_empty.contains(&field), "{field} is empty in the demo: {non_empty:?} {STALE}");
    }
}

#[tokio::test]
async fn every_list_of_the_graph_is_a_store_list_with_counts() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let types = Types::of(&app, &t.token).await;
    let fields: BTreeSet<String> = types.connections().into_iter().map(|(f, _, _)| f).collect();
    let lists: BTreeSet<String> = isp_core::lists::FIELDS.iter().map(|f| f.to_string()).collect();
    assert_eq!(fields, lists, "every connection of Query is a list whose statements the plan test checks");
    // Every connection type, nested ones too, has the same count fields.
    for (name, ty) in &types.0 {
        if !name.ends_with("Connection") || ty["kind"] != "OBJECT" {
            continue;
        }
        let of = |f: &str| types.fields(name).find(|g| g["name"] == f).map(|g| named(&g["type"]).1.to_string());
        assert_eq!(of("totalCount").as_deref(), Some("Int"), "{name}.totalCount");
        assert_eq!(of("totalCountExact").as_deref(), Some("Boolean"), "{name}.totalCountExact");
    }
}

#[tokio::test]
async fn counts_are_exact_up_to_the_limit_then_capped_and_say_so() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let plan = app.plan(&t.token, "Counted", &["PPPOE"]).await;
    let q = "query($s: String) { customers(first: 1, filter: { search: $s }) { totalCount totalCountExact } \
             plans { totalCount totalCountExact } auditLog(first: 1) { totalCount totalCountExact } }";
    let d = app.ok(&t.token, q, json!({})).await;
    assert_eq!(d["customers"], json!({"totalCount": 0, "totalCountExact": true}));
    assert_eq!(d["plans"], json!({"totalCount": 1, "totalCountExact": true}));
    let audit = d["auditLog"]["totalCount"].as_i64().unwrap();
    assert!(audit >= 1 && d["auditLog"]["totalCountExact"] == true, "{d}");
    let _ = plan;
    // Past the limit the count stops at it and says it is not exact.
    let limit = isp_core::store::page::COUNT_LIMIT;
    let tenant_id = isp_core::store::tenants::by_slug(&app.ctx.db, &t.slug).await.unwrap().unwrap().id;
    let plan_id = app.ok(&t.token, "{ plans { nodes { id } } }", json!({})).await["plans"]["nodes"][0]["id"]
        .as_str()
        .map(|id| isp_api::ids::parse(id).unwrap().1)
        .unwrap();
    isp_core::seed::bulk(&app.ctx, tenant_id, plan_id, limit as usize + 5, "cnt").await.unwrap();
    let d = app.ok(&t.token, q, json!({})).await;
    assert_eq!(d["customers"], json!({"totalCount": limit, "totalCountExact": false}));
    let d = app.ok(&t.token, q, json!({"s": "cnt1000"})).await;
    assert_eq!(d["customers"], json!({"totalCount": 1, "totalCountExact": true}), "a filter counts what it selects");
}

#[tokio::test]
async fn every_object_with_an_id_is_a_node_found_by_its_id_and_only_in_its_tenant() {
    let app = demo_app().await;
    let owner = app.login("demo-isp", ROLES[0], isp_core::seed::DEMO_PASSWORD).await;
    let other = app.tenant().await;
    let types = Types::of(&app, &owner).await;
    // `Change` is an event naming another object by its ID, not an object of its own.
    let with_ids: BTreeSet<String> = types.with_ids().into_iter().filter(|t| t != "Change").collect();
    for ty in &with_ids {
        let interfaces = types.0[ty]["interfaces"].as_array().unwrap();
        assert!(interfaces.iter().any(|i| i["name"] == "Node"), "{ty} has an id but does not implement Node");
    }
    let found = demo_ids(&app, &owner, &types).await;
    let missing: Vec<&String> = with_ids.iter().filter(|t| !found.contains_key(*t)).collect();
    assert!(missing.is_empty(), "the demo holds no object of {missing:?} {STALE}");
    let q = "query($id: ID!) { node(id: $id) { __typename id } }";
    for (ty, id) in &found {
        if !with_ids.contains(ty) {
            continue;
        }
        let d = app.ok(&owner, q, json!({"id": id})).await;
        assert_eq!(d["node"], json!({"__typename": ty, "id": id}), "node({ty} {id})");
        // Another tenant's owner may read every type and still gets nothing.
        let d = app.ok(&other.token, q, json!({"id": id})).await;
        assert_eq!(d["node"], Value::Null, "{ty} {id} leaked to another tenant");
    }
    assert!(found.len() >= with_ids.len(), "{found:?}");
    // A role that may not read a type is told so, not handed null.
    let support = app.login("demo-isp", "support@demo-isp.com", isp_core::seed::DEMO_PASSWORD).await;
    let audit = &found["AuditEntry"];
    let r = app.gql(Some(&support), q, json!({"id": audit})).await;
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r}");
}

/// One ID of every type the demo data holds, by type name: every list two levels deep, the
/// tenant, the caller, and what hangs off each customer (as `owner`, who may read them all).
pub(crate) async fn demo_ids(app: &TestApp, owner: &str, types: &Types) -> BTreeMap<String, String> {
    // Collect the IDs the demo data holds: every list, two levels deep, the tenant, and what
    // hangs off each customer.
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    fn collect(v: &Value, found: &mut BTreeMap<String, String>) {
        match v {
            Value::Object(m) => {
                if let (Some(Value::String(t)), Some(Value::String(id))) = (m.get("__typename"), m.get("id")) {
                    found.entry(t.clone()).or_insert_with(|| id.clone());
                }
                m.values().for_each(|v| collect(v, found));
            }
            Value::Array(a) => a.iter().for_each(|v| collect(v, found)),
            _ => {}
        }
    }
    // The demo subscriber with usage recorded.
    let sub = app
        .ok(owner, r#"{ subscriptions(first: 1, filter: { search: "demo-capped" }) { nodes { id } } }"#, json!({}))
        .await;
    let sub_id = sub["subscriptions"]["nodes"][0]["id"].as_str().unwrap().to_string();
    for (field, node, required) in types.connections() {
        let args = if required.is_empty() { String::new() } else { format!("(subscriptionId: \"{sub_id}\")") };
        let mut defs = BTreeMap::new();
        let sel = types.select(&node, 2, false, &mut defs);
        let d = app.ok(owner, &format!("{{ {field}{args} {{ nodes {sel} }} }}"), json!({})).await;
        collect(&d, &mut found);
    }
    let d = app.ok(owner, "{ tenant { __typename id } me { __typename id } }", json!({})).await;
    collect(&d, &mut found);
    // Plain lists (not connections) whose objects have IDs.
    let d = app.ok(owner, "{ notificationTemplates { __typename id } }", json!({})).await;
    collect(&d, &mut found);
    // Ticket attachments hang off messages, deeper than the lists are walked.
    let d = app
        .ok(owner, "{ tickets(first: 100) { nodes { messages { attachments { __typename id } } } } }", json!({}))
        .await;
    collect(&d, &mut found);
    let d = app.ok(owner, "{ imports { __typename id } }", json!({})).await;
    collect(&d, &mut found);
    // What only a customer leads to (balances with their pending charges, statements): asked
    // of every customer.
    let d = app.ok(owner, "{ customers(first: 100) { nodes { id } } }", json!({})).await;
    let customers: Vec<&str> =
        d["customers"]["nodes"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    for f in types.fields("Query") {
        let required: Vec<&str> = f["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"]["kind"] == "NON_NULL" && a["defaultValue"].is_null())
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        if required != ["customerId"] {
            continue;
        }
        let (kind, inner, _) = named(&f["type"]);
        let sel = if kind == "OBJECT" { types.select(inner, 2, false, &mut BTreeMap::new()) } else { String::new() };
        let name = f["name"].as_str().unwrap();
        let fields: Vec<String> =
            customers.iter().enumerate().map(|(i, id)| format!("c{i}: {name}(customerId: \"{id}\") {sel}")).collect();
        let d = app.ok(owner, &format!("{{ {} }}", fields.join(" ")), json!({})).await;
        collect(&d, &mut found);
    }
    found
}

/// Every object with a `__typename` in answer `v`, with its path from `path`.
pub(crate) fn objects<'a>(v: &'a Value, path: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(t)) = m.get("__typename") {
                out.push((path.clone(), t));
            }
            m.iter().for_each(|(k, v)| objects(v, format!("{path}.{k}"), out));
        }
        Value::Array(a) => a.iter().for_each(|v| objects(v, path.clone(), out)),
        _ => {}
    }
}
