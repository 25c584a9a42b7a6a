//! Relay connections: keyset paging forward and backward, page limits, cursors, filters,
//! search and totalCount.

use crate::*;
use chrono::Duration;
use serde_json::{json, Value};

const PAGE: &str = r#"query($first: Int, $after: String, $last: Int, $before: String, $order: CustomerSort) {
  customers(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
  }
}"#;

/// 25 customers created in a shuffled name order, with pairs of equal names and groups of
/// equal creation instants, so both sort orders need their id tie-break. Returns the IDs in
/// creation order and their names.
async fn twenty_five(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in 0..25 {
        if i % 3 == 0 {
            app.clock.advance(Duration::milliseconds(1));
        }
        let name = format!("Cust {:02}", (i * 7 % 25) / 2);
        out.push((app.customer(token, &name).await, name));
    }
    out
}

fn ids_of(page: &Value) -> Vec<String> {
    page["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn paging_forward_and_backward_visits_every_customer_once_in_order() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let created = twenty_five(&app, &t.token).await;
    let mut by_name: Vec<usize> = (0..created.len()).collect();
    by_name.sort_by(|a, b| created[*a].1.cmp(&created[*b].1).then(a.cmp(b)));
    let expected_name: Vec<String> = by_name.iter().map(|i| created[*i].0.clone()).collect();
    let expected_newest: Vec<String> = created.iter().rev().map(|c| c.0.clone()).collect();

    for (order, expected) in [("NAME_ASC", &expected_name), ("CREATED_AT_DESC", &expected_newest)] {
        // Forward with first/after.
        let (mut seen, mut after, mut pages) = (Vec::new(), Value::Null, 0);
        loop {
            let d = app.ok(&t.token, PAGE, json!({"first": 10, "after": after, "order": order})).await;
            let c = &d["customers"];
            assert_eq!(c["totalCount"], 25);
            assert_eq!(c["pageInfo"]["hasPreviousPage"], pages > 0, "{order} page {pages}");
            let ids = ids_of(c);
            assert_eq!(c["pageInfo"]["endCursor"], c["edges"][ids.len() - 1]["cursor"]);
            seen.extend(ids);
            pages += 1;
            if c["pageInfo"]["hasNextPage"] == false {
                break;
            }
            assert!(pages < 5, "{order}: paging does not end");
            after = c["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(pages, 3, "{order}");
        assert_eq!(&seen, expected, "{order} forward");

        // Backward with last/before.
        let (mut seen, mut before, mut pages) = (Vec::new(), Value::Null, 0);
        loop {
            let d = app.ok(&t.token, PAGE, json!({"last": 10, "before": before, "order": order})).await;
            let c = &d["customers"];
            assert_eq!(c["pageInfo"]["hasNextPage"], pages > 0, "{order} backward page {pages}");
            let mut ids = ids_of(c);
            ids.append(&mut seen);
            seen = ids;
            pages += 1;
            if c["pageInfo"]["hasPreviousPage"] == false {
                break;
            }
            assert!(pages < 5, "{order}: backward paging does not end");
            before = c["pageInfo"]["startCursor"].clone();
        }
        assert_eq!(pages, 3, "{order}");
        assert_eq!(&seen, expected, "{order} backward");
    }

    // A page in the middle from both sides.
    let d = app.ok(&t.token, PAGE, json!({"first": 5})).await;
    let cursor = d["customers"]["pageInfo"]["endCursor"].clone();
    let d = app.ok(&t.token, PAGE, json!({"first": 5, "after": cursor})).await;
    assert_eq!(ids_of(&d["customers"]), expected_name[5..10]);
    let end = d["customers"]["pageInfo"]["endCursor"].clone();
    let d = app.ok(&t.token, PAGE, json!({"last": 3, "before": end})).await;
    assert_eq!(ids_of(&d["customers"]), expected_name[6..9]);
    assert_eq!(d["customers"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(d["customers"]["pageInfo"]["hasPreviousPage"], true);
    // Everything at once.
    let d = app.ok(&t.token, PAGE, json!({"first": 100})).await;
    assert_eq!(ids_of(&d["customers"]), expected_name);
    assert_eq!(d["customers"]["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn page_sizes_and_cursors_are_checked() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    for i in 0..3 {
        app.clock.advance(Duration::milliseconds(1));
        app.customer(&t.token, &format!("Pc {i}")).await;
    }
    let d = app.ok(&t.token, PAGE, json!({"first": 1, "order": "NAME_ASC"})).await;
    let name_cursor = d["customers"]["pageInfo"]["endCursor"].clone();
    let d = app.ok(&t.token, PAGE, json!({"first": 1, "order": "CREATED_AT_DESC"})).await;
    let created_cursor = d["customers"]["pageInfo"]["endCursor"].clone();
    let cases = [
        ("first over 100", json!({"first": 101}), "first"),
        ("last over 100", json!({"last": 101}), "last"),
        ("negative first", json!({"first": -1}), "first"),
        ("first and last", json!({"first": 1, "last": 1}), "last"),
        ("garbage cursor", json!({"after": "not-a-cursor"}), "after"),
        ("name cursor, created order", json!({"after": name_cursor, "order": "CREATED_AT_DESC"}), "after"),
        ("created cursor, name order", json!({"before": created_cursor, "order": "NAME_ASC"}), "before"),
        ("ascending cursor, descending order", json!({"after": name_cursor, "order": "NAME_DESC"}), "after"),
        ("name cursor, account number order", json!({"after": name_cursor, "order": "ACCOUNT_NUMBER_ASC"}), "after"),
        (
            "newest-first cursor, oldest-first order",
            json!({"after": created_cursor, "order": "CREATED_AT_ASC"}),
            "after",
        ),
    ];
    for (case, vars, want) in cases {
        let r = app.gql(Some(&t.token), PAGE, vars).await;
        assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some(want)), "{case}: {r:#}");
    }
    // The same checks guard the other connections.
    for q in [
        "{ plans(first: 101) { nodes { id } } }",
        "{ subscriptions(first: 101) { nodes { id } } }",
        "{ staffUsers(first: 101) { nodes { id } } }",
        "{ auditLog(first: 101) { nodes { id } } }",
    ] {
        let r = app.gql(Some(&t.token), q, json!({})).await;
        assert_eq!((code(&r), field(&r)), (Some("VALIDATION"), Some("first")), "{q}: {r:#}");
    }
    let d = app.ok(&t.token, PAGE, json!({"first": 100})).await;
    assert_eq!(d["customers"]["edges"].as_array().unwrap().len(), 3);
    // With no first/last, a default page.
    let d = app.ok(&t.token, PAGE, json!({})).await;
    assert_eq!(d["customers"]["edges"].as_array().unwrap().len(), 3);
}

const SEARCH: &str = r#"query($f: CustomerFilterInput) {
  customers(filter: $f, first: 100) { totalCount nodes { name } }
}"#;

fn names(d: &Value, conn: &str, key: &str) -> Vec<String> {
    d[conn]["nodes"].as_array().unwrap().iter().map(|n| n[key].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn customers_filter_by_text_subscription_login_and_status() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let plan = app.plan(&t.token, "F", &["PPPOE"]).await;
    let mk = |name: &str, email: &str, phone: &str| json!({"i": {"name": name, "email": email, "phone": phone}});
    const CREATE: &str = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { id } }";
    app.ok(&t.token, CREATE, mk("Alice Smith", "alice@example.com", "+1 555 0100")).await;
    app.ok(&t.token, CREATE, mk("Bob Jones", "bob@corp.test", "0044 20 7946 0000")).await;
    let carol = app.customer(&t.token, "Carol 100% Fibre").await;
    app.subscription(&t.token, &carol, &plan, "carol-ppp", "ACTIVE").await;
    let dave = app
        .ok(&t.token, "mutation { createCustomer(input: {name: \"Dave\", status: INACTIVE}) { id } }", json!({}))
        .await;
    assert!(dave["createCustomer"]["id"].is_string());
    let eve = app.customer(&t.token, "Eve Smith").await;
    app.ok(&t.token, "mutation($id: ID!) { archiveCustomer(id: $id) { id } }", json!({"id": eve})).await;

    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("default hides archived", json!({}), vec!["Alice Smith", "Bob Jones", "Carol 100% Fibre", "Dave"]),
        ("name, any case", json!({"search": "SMITH"}), vec!["Alice Smith"]),
        ("email", json!({"search": "corp.test"}), vec!["Bob Jones"]),
        ("phone", json!({"search": "7946"}), vec!["Bob Jones"]),
        ("subscription login", json!({"search": "carol-PPP"}), vec!["Carol 100% Fibre"]),
        ("account number", json!({"search": "c000002"}), vec!["Bob Jones"]),
        ("percent is literal", json!({"search": "100%"}), vec!["Carol 100% Fibre"]),
        // "e_s" would match "Alice Smith" ("e S") if the underscore were a wildcard.
        ("underscore is literal", json!({"search": "e_s"}), vec![]),
        ("every word must match", json!({"search": "alice smith"}), vec!["Alice Smith"]),
        ("accents are folded", json!({"search": "ÁLICE"}), vec!["Alice Smith"]),
        ("phone as typed elsewhere", json!({"search": "555-0100"}), vec!["Alice Smith"]),
        ("short words are ignored beside a long one", json!({"search": "al smith"}), vec!["Alice Smith"]),
        ("no match", json!({"search": "zzz"}), vec![]),
        ("inactive only", json!({"status": ["INACTIVE"]}), vec!["Dave"]),
        ("archived when asked", json!({"status": ["ARCHIVED"]}), vec!["Eve Smith"]),
        (
            "archived and search",
            json!({"status": ["ACTIVE", "ARCHIVED"], "search": "smith"}),
            vec!["Alice Smith", "Eve Smith"],
        ),
    ];
    for (case, filter, want) in cases {
        let d = app.ok(&t.token, SEARCH, json!({"f": filter})).await;
        assert_eq!(names(&d, "customers", "name"), want, "{case}");
        assert_eq!(d["customers"]["totalCount"], want.len(), "{case}");
    }
    // An index can only find words of three characters or more: a search without one says so.
    let r = app.gql(Some(&t.token), SEARCH, json!({"f": {"search": "ab"}})).await;
    assert_eq!(code(&r), Some("VALIDATION"), "{r:#}");
    assert_eq!(r["errors"][0]["extensions"]["field"], "filter.search", "{r:#}");
}

#[tokio::test]
async fn subscriptions_filter_by_status_plan_access_type_and_search() {
    let app = spawn_app().await;
    let t = app.tenant().await;
    let p1 = app.plan(&t.token, "P1", &["PPPOE", "STATIC_IP"]).await;
    let p2 = app.plan(&t.token, "P2", &["PPPOE", "HOTSPOT"]).await;
    let c1 = app.customer(&t.token, "C1").await;
    let c2 = app.customer(&t.token, "C2").await;
    const CREATE: &str = "mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }";
    const STATUS: &str =
        "mutation($id: ID!, $s: SubscriptionStatus!) { changeSubscriptionStatus(id: $id, status: $s) { id } }";
    app.subscription(&t.token, &c1, &p1, "s1-ppp", "ACTIVE").await;
    app.ok(&t.token, CREATE, json!({"i": {"customerId": c1, "planId": p1, "accessType": "STATIC_IP", "username": "s2-static", "staticIpv4": "192.0.2.44"}})).await;
    let s3 = app.ok(&t.token, CREATE, json!({"i": {"customerId": c2, "planId": p2, "accessType": "HOTSPOT", "username": "s3-hot", "password": "x", "status": "ACTIVE", "macAddress": "aa:bb:cc:00:11:22"}})).await;
    app.ok(&t.token, STATUS, json!({"id": s3["createSubscription"]["id"], "s": "SUSPENDED"})).await;
    let s4 = app.subscription(&t.token, &c2, &p2, "s4-ppp", "PENDING").await;
    app.ok(&t.token, STATUS, json!({"id": s4, "s": "CANCELLED"})).await;

    const LIST: &str = "query($f: SubscriptionFilterInput, $o: SubscriptionSort) { subscriptions(filter: $f, orderBy: $o) { totalCount nodes { username } } }";
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("all", json!({}), vec!["s1-ppp", "s2-static", "s3-hot", "s4-ppp"]),
        ("active", json!({"status": ["ACTIVE"]}), vec!["s1-ppp"]),
        ("active or suspended", json!({"status": ["ACTIVE", "SUSPENDED"]}), vec!["s1-ppp", "s3-hot"]),
        ("pending", json!({"status": ["PENDING"]}), vec!["s2-static"]),
        ("plan", json!({"planId": p1}), vec!["s1-ppp", "s2-static"]),
        ("access type", json!({"accessType": "PPPOE"}), vec!["s1-ppp", "s4-ppp"]),
        ("plan and status", json!({"planId": p2, "status": ["CANCELLED"]}), vec!["s4-ppp"]),
        ("customer", json!({"customerId": c2}), vec!["s3-hot", "s4-ppp"]),
        ("search IP", json!({"search": "192.0.2"}), vec!["s2-static"]),
        ("search MAC", json!({"search": "AA:BB:CC"}), vec!["s3-hot"]),
        ("search login", json!({"search": "PPP"}), vec!["s1-ppp", "s4-ppp"]),
        ("nothing", json!({"accessType": "GPON"}), vec![]),
    ];
    for (case, filter, want) in cases {
        let d = app.ok(&t.token, LIST, json!({"f": filter})).await;
        assert_eq!(names(&d, "subscriptions", "username"), want, "{case}");
        assert_eq!(d["subscriptions"]["totalCount"], want.len(), "{case}");
    }
    let d = app.ok(&t.token, LIST, json!({"o": "CREATED_AT_DESC"})).await;
    assert_eq!(names(&d, "subscriptions", "username"), ["s4-ppp", "s3-hot", "s2-static", "s1-ppp"]);
}
