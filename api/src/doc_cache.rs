//! The validation cache: parsed documents and the variable shapes they passed validation with.
//!
//! A frontend sends the same few dozen documents all day. Parsing and running the spec's
//! validation rules on each costs more than many of the pages they ask for, so the server
//! keeps each document parsed and, per document, the variable shapes that passed: a request
//! with a known document and shape runs on a schema that checks only the limits (depth,
//! complexity, on its own variables; `ValidationMode::Fast`). This rests on two properties of
//! async-graphql's validation that the tests below pin: the outcome does not depend on the
//! value of a string given for a `String` or `ID` variable, and the fast mode still enforces
//! the limits. A version pin makes an upgrade re-check them.

use async_graphql::parser::types::ExecutableDocument;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Parsed documents of the queries clients send again and again (a frontend has a fixed set),
/// with the variable shapes (see [`variable_shape`]) each has passed the spec's validation
/// with. A request whose document and variable shape passed before skips the parser and the
/// validation rules; the depth and complexity limits are still checked, on its own variables.
/// Anything else is parsed and validated in full.
#[derive(Default)]
pub(crate) struct DocCache {
    docs: Mutex<HashMap<String, Arc<CachedDoc>>>,
}

pub(crate) struct CachedDoc {
    doc: ExecutableDocument,
    /// Variable shapes of requests that ran without errors.
    passed: Mutex<HashSet<String>>,
}

/// What the cache knows about one request's document.
pub(crate) struct Known {
    doc: Arc<CachedDoc>,
    /// None when the request names no operation of the document (validation reports it), or
    /// its shape is too long to keep.
    shape: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Known {
    /// Whether a request of this shape has passed validation before.
    pub(crate) fn passed(&self) -> bool {
        self.shape.as_ref().is_some_and(|s| lock(&self.doc.passed).contains(s))
    }

    /// Records that this request passed validation (it ran without errors).
    pub(crate) fn mark_passed(&self) {
        if let Some(s) = &self.shape {
            let mut passed = lock(&self.doc.passed);
            if passed.len() >= DocCache::MAX_SHAPES {
                passed.clear();
            }
            passed.insert(s.clone());
        }
    }
}

impl DocCache {
    /// Distinct documents kept; when full the cache starts over, so a client sending ever-new
    /// queries costs memory once, not without bound.
    const MAX_DOCS: usize = 512;
    /// Variable shapes kept per document, likewise.
    const MAX_SHAPES: usize = 64;
    /// Longer shapes (large input values) are validated every time: with the limits above the
    /// cache holds at most 512 × 64 × 512 bytes of shapes.
    const MAX_SHAPE_BYTES: usize = 512;
    /// Longer queries are not kept.
    const MAX_QUERY_BYTES: usize = 16 * 1024;

    /// Sets `r`'s parsed document from the cache, or parses it and keeps it. A query that does
    /// not parse is left for the executor, which reports the syntax error.
    pub(crate) fn apply(&self, r: &mut async_graphql::Request) -> Option<Arc<CachedDoc>> {
        if r.query.len() > Self::MAX_QUERY_BYTES {
            return None;
        }
        let cached = lock(&self.docs).get(&r.query).cloned();
        let doc = match cached {
            Some(d) => d,
            None => {
                let d = Arc::new(CachedDoc {
                    doc: async_graphql::parser::parse_query(&r.query).ok()?,
                    passed: Mutex::default(),
                });
                let mut docs = lock(&self.docs);
                if docs.len() >= Self::MAX_DOCS {
                    docs.clear();
                }
                docs.insert(r.query.clone(), d.clone());
                d
            }
        };
        r.set_parsed_query(doc.doc.clone());
        Some(doc)
    }

    /// [`DocCache::apply`], and what the cache knows of the request's variable shape.
    pub(crate) fn known(&self, r: &mut async_graphql::Request) -> Option<Known> {
        let doc = self.apply(r)?;
        let shape = variable_shape(&doc.doc, r).filter(|s| s.len() <= Self::MAX_SHAPE_BYTES);
        Some(Known { doc, shape })
    }
}

/// The request's operation name and variables as text, except that a string given for a
/// variable declared `String` or `ID` is written `*`: validation gives the same answer for any
/// string there (a value is checked against the type of the argument it is used for, which
/// is the variable's type, and those types take every string). Every other value is written
/// as it is, so an enum, a number or an input object is validated again when it changes.
fn variable_shape(doc: &ExecutableDocument, r: &async_graphql::Request) -> Option<String> {
    use async_graphql::parser::types::{BaseType, DocumentOperations};
    let op = match (&doc.operations, r.operation_name.as_deref()) {
        (DocumentOperations::Single(op), None) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        _ => return None,
    };
    let any_string = |name: &str| {
        op.node.variable_definitions.iter().any(|d| {
            d.node.name.node == name
                && matches!(&d.node.var_type.node.base, BaseType::Named(t) if t == "String" || t == "ID")
        })
    };
    let mut shape = serde_json::to_string(&r.operation_name).ok()?;
    for (name, value) in r.variables.iter() {
        shape.push(',');
        shape.push_str(&serde_json::to_string(name.as_str()).ok()?);
        shape.push(':');
        if matches!(value, async_graphql::Value::String(_)) && any_string(name) {
            shape.push('*');
        } else {
            shape.push_str(&serde_json::to_string(value).ok()?);
        }
    }
    Some(shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Request, Variables};
    use serde_json::json;

    fn shape(query: &str, op: Option<&str>, vars: serde_json::Value) -> Option<String> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let mut r = Request::new(query).variables(Variables::from_json(vars));
        if let Some(op) = op {
            r = r.operation_name(op);
        }
        variable_shape(&doc, &r)
    }

    #[test]
    fn only_strings_of_string_and_id_variables_are_generalised() {
        let q = "query Q($a: String, $i: ID!, $n: Int, $s: [String!], $e: CustomerStatus) { x }";
        let same = |v1, v2| assert_eq!(shape(q, None, v1), shape(q, None, v2));
        let differ = |v1, v2| assert_ne!(shape(q, None, v1), shape(q, None, v2));
        same(json!({"a": "x", "i": "1"}), json!({"a": "other \"y\"", "i": "2"}));
        differ(json!({"a": "x"}), json!({"a": null}));
        differ(json!({"a": "x"}), json!({"a": 5}));
        differ(json!({"a": "x"}), json!({}));
        differ(json!({"i": "1"}), json!({"i": 1}));
        differ(json!({"n": 1}), json!({"n": 2}));
        differ(json!({"s": ["a"]}), json!({"s": ["b"]}));
        differ(json!({"e": "ACTIVE"}), json!({"e": "NOPE"}));
        // A variable the document does not declare is kept as it is.
        differ(json!({"zzz": "a"}), json!({"zzz": "b"}));
        assert_eq!(shape(q, None, json!({"a": "x", "n": 3})).unwrap(), r#"null,"a":*,"n":3"#);
    }

    #[test]
    fn the_operation_is_part_of_the_shape() {
        let q = "query A($a: String) { x } query B($a: Int) { x }";
        assert_eq!(shape(q, None, json!({"a": "x"})), None, "two operations and no name");
        assert_eq!(shape(q, Some("C"), json!({})), None, "no such operation");
        assert_eq!(shape(q, Some("A"), json!({"a": "x"})).unwrap(), r#""A","a":*"#);
        assert_eq!(shape(q, Some("B"), json!({"a": "x"})).unwrap(), r#""B","a":"x""#);
        assert_eq!(shape("{ x }", Some("A"), json!({})), None, "a name for an anonymous operation");
    }

    /// The async-graphql whose validation rules (`validation::check_rules`) the cache was
    /// checked against. Upgrading it means re-checking the two properties in the module docs
    /// (that file's Strict and Fast rule lists), running the tests below, and moving this pin.
    const CHECKED_AGAINST: &str = "7.2.1";

    #[test]
    fn async_graphql_is_the_version_the_cache_was_checked_against() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"async-graphql\"\n"))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
            .map(|v| v.trim_end_matches('"'));
        assert_eq!(
            version,
            Some(CHECKED_AGAINST),
            "async-graphql changed: re-check the validation cache (doc_cache.rs)"
        );
    }

    /// A server context on a scratch SQLite database.
    async fn ctx() -> isp_core::Ctx {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("isp-doc-cache-{}-{n}", std::process::id()));
        let cfg = isp_core::config::Config { data_dir: dir, ..Default::default() };
        #[allow(clippy::disallowed_methods)] // any instant will do
        let clock = isp_core::clock::ManualClock::new(chrono::Utc::now());
        isp_core::Ctx::open(cfg, Arc::new(clock)).await.unwrap()
    }

    /// Documents with `String` and `ID` variables in every kind of place: arguments, input
    /// objects, lists, a mutation, a place of another type, a document that fails validation
    /// for other reasons, fragments and directives.
    const DOCS: &[&str] = &[
        "query($s: String) { customers(first: 2, filter: { search: $s }) { totalCount edges { node { id } } } }",
        "query($id: ID!) { customer(id: $id) { name subscriptions { username } } }",
        "query($id: ID!) { node(id: $id) { id ... on Invoice { number } } }",
        "query($id: ID!, $s: String) { a: subscriptions(filter: { customerId: $id, search: $s }) { totalCount } }",
        "mutation($n: String!, $e: String) { createCustomer(input: { name: $n, email: $e }) { id } }",
        "mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) { accessToken } }",
        "query($d: String) { billingReport(from: $d, to: $d) { mrr { formatted } } }",
        "query($s: String!) { customer(id: $s) { id } }",
        "query($s: String!) { customers(first: $s) { totalCount } }",
        "query($s: String) { customers(filter: { search: $s }) { nope } }",
        "query($s: String, $skip: Boolean!) { customers(filter: { search: $s }) { totalCount @skip(if: $skip) ...F } } \
         fragment F on CustomerConnection { pageInfo { hasNextPage } }",
        "query($s: String) { customers { totalCount } }",
    ];

    /// Strings of every kind, all of one shape.
    fn strings() -> Vec<String> {
        let mut v: Vec<String> =
            ["", "x", "0", "123", "-1", "true", "null", "{\"a\":1}", "[]", "ü€ 🙂", "$s", "Q3VzdG9tZXI6MQ"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        v.push("y".repeat(20_000));
        v
    }

    /// The request's errors that are not a field's (validation reports them without a path).
    fn validation_errors(r: &async_graphql::Response) -> Vec<String> {
        r.errors.iter().filter(|e| e.path.is_empty()).map(|e| e.message.clone()).collect()
    }

    #[tokio::test]
    async fn validation_does_not_depend_on_the_strings_given_for_string_and_id_variables() {
        let ctx = ctx().await;
        let (strict, _) = crate::schema::build_pair(ctx.clone(), &ctx.config.graphql);
        let mut outcomes = Vec::new();
        for doc in DOCS {
            let parsed = async_graphql::parser::parse_query(doc).unwrap();
            // Every variable the document declares (and only those).
            let vars = |s: &str| {
                let mut v = serde_json::Map::new();
                for name in ["s", "id", "n", "e", "t", "p", "d"] {
                    if doc.contains(&format!("${name}:")) {
                        v.insert(name.into(), json!(s));
                    }
                }
                if doc.contains("$skip:") {
                    v.insert("skip".into(), json!(false));
                }
                serde_json::Value::Object(v)
            };
            let mut seen: Option<(usize, Option<String>)> = None;
            for s in strings() {
                let r = Request::new(*doc).variables(Variables::from_json(vars(&s)));
                let shape = variable_shape(&parsed, &r);
                let r = r.data(crate::caller_data(&ctx, None, "127.0.0.1".into()));
                // Whether it passes is what the cache keeps (a message may quote the value).
                let errors = validation_errors(&strict.execute(r).await).len();
                match &seen {
                    None => seen = Some((errors, shape)),
                    Some((first, first_shape)) => {
                        assert_eq!(&shape, first_shape, "{doc}: one shape for every string");
                        assert_eq!(
                            &errors,
                            first,
                            "{doc} with {:?}: validation depends on the string",
                            &s[..s.len().min(20)]
                        );
                    }
                }
            }
            outcomes.push(seen.unwrap().0 == 0);
        }
        // Not vacuous: some documents pass, some fail, whatever the strings.
        // A string for an Int, an unknown field, an unused variable (async-graphql lets a
        // String variable stand where an ID is expected).
        assert_eq!(outcomes, [true, true, true, true, true, true, true, true, false, false, true, false]);
    }

    #[tokio::test]
    async fn the_prevalidated_schema_still_enforces_the_limits_on_each_requests_own_variables() {
        let ctx = ctx().await;
        let limits =
            isp_core::config::GraphqlConfig { max_depth: 6, max_complexity: 500, ..ctx.config.graphql.clone() };
        let (strict, fast) = crate::schema::build_pair(ctx.clone(), &limits);
        let data = || crate::caller_data(&ctx, None, "127.0.0.1".into());
        let deep = "{ customers(first: 1) { edges { node { subscriptions { plan { price { formatted } } } } } } }";
        let wide = "query($n: Int) { customers(first: $n) { edges { node { id name email phone } } } }";
        for schema in [&strict, &fast] {
            let r = schema.execute(Request::new(deep).data(data())).await;
            assert_eq!(validation_errors(&r), ["Query is nested too deep."]);
            let r =
                schema.execute(Request::new(wide).variables(Variables::from_json(json!({"n": 10}))).data(data())).await;
            assert!(validation_errors(&r).is_empty(), "{:?}", r.errors);
            let r = schema
                .execute(Request::new(wide).variables(Variables::from_json(json!({"n": 1000}))).data(data()))
                .await;
            assert_eq!(validation_errors(&r), ["Query is too complex."]);
        }
        // And the fast schema really skips the spec's rules (otherwise the cache buys nothing).
        let bad = "query($unused: String) { customers { totalCount } }";
        assert!(!validation_errors(&strict.execute(Request::new(bad).data(data())).await).is_empty());
        assert!(validation_errors(&fast.execute(Request::new(bad).data(data())).await).is_empty());
    }
}
