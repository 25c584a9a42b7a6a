//! The layering of this crate, checked: which top-level modules each may import from, and
//! that the module graph of every library crate of the workspace has no cycle.
//!
//! ```text
//! foundation   error clock config validate password jwt metrics events secrets auth patch blobs
//!      ^
//! db           SQL builder, executor (SQLite direct / PostgreSQL sqlx), rows, migrations
//!      ^
//! store        SQL and rows per aggregate            ctx (handles: db, clock, secrets, events)
//!      ^                                                  ^
//! effects      audit + outbox jobs + events, written in the use case's transaction
//! netjobs      which device jobs a status change implies (reads through store)
//! notify       which notifications an event queues, and their templates
//!      ^
//! billing      billing rules and tables: proration, tax, numbering, settlement, runs
//! helpdesk     SLA clock arithmetic, due times, the ticket report
//! reports      the business reports over per-day aggregates (acquisition, MRR, collection ...)
//!      ^       lists (every list statement, for the plan test)
//!      ^       export (lists and reports as CSV / XLSX, read in chunks through the list statements)
//! workflows    use cases, one transaction each; they never call one another
//!      ^
//! scheduler, seed   drivers (like the API, RADIUS and netctl above this crate)
//! import            bulk import of customers: reads files, checks rows with the workflows' rules
//! relay             publishes other processes' events on this process's bus
//! delivery          the notification worker and its SMTP / HTTP transports
//! report_histories  the reports' randomized test, driving the workflows
//! report_figures    the business reports against hand-computed figures, driving the workflows
//! ```

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// Top-level module -> the modules it may import from.
    const ALLOWED: &[(&str, &[&str])] = &[
        ("error", &[]),
        ("clock", &["error"]),
        ("config", &["error"]),
        ("validate", &["error"]),
        ("password", &["error"]),
        ("jwt", &["error"]),
        ("metrics", &["error"]),
        ("events", &["error"]),
        ("secrets", &["config", "error"]),
        ("auth", &["error"]),
        ("patch", &[]),
        ("blobs", &["error"]),
        ("db", &["error"]),
        ("ctx", &["clock", "config", "db", "error", "events", "metrics", "password", "secrets"]),
        ("store", &["auth", "clock", "db", "error", "secrets", "validate"]),
        ("effects", &["auth", "ctx", "db", "error", "events", "store"]),
        ("netjobs", &["db", "error", "store"]),
        ("notify", &["ctx", "db", "error", "store"]),
        (
            "billing",
            &["auth", "clock", "ctx", "db", "effects", "error", "events", "netjobs", "notify", "store", "validate"],
        ),
        ("helpdesk", &["clock", "db", "error", "store"]),
        ("reports", &["auth", "billing", "db", "error", "store"]),
        (
            "workflows",
            &[
                "auth", "billing", "blobs", "clock", "config", "ctx", "db", "effects", "error", "events", "helpdesk",
                "jwt", "netjobs", "notify", "password", "patch", "secrets", "store", "validate",
            ],
        ),
        ("lists", &["billing", "db", "error", "reports", "store"]),
        ("export", &["auth", "billing", "ctx", "db", "error", "reports", "store", "validate"]),
        ("delivery", &["clock", "ctx", "error", "notify", "store", "workflows"]),
        ("scheduler", &["auth", "billing", "clock", "ctx", "db", "error", "store", "workflows"]),
        (
            "import",
            &["auth", "billing", "ctx", "db", "effects", "error", "events", "patch", "store", "validate", "workflows"],
        ),
        ("relay", &["ctx", "db", "error", "events", "store"]),
        (
            "seed",
            &[
                "auth",
                "billing",
                "blobs",
                "clock",
                "config",
                "ctx",
                "db",
                "delivery",
                "error",
                "import",
                "patch",
                "store",
                "validate",
                "workflows",
            ],
        ),
        (
            "report_figures",
            &[
                "auth",
                "billing",
                "clock",
                "config",
                "ctx",
                "db",
                "error",
                "patch",
                "report_histories",
                "reports",
                "store",
                "workflows",
            ],
        ),
        (
            "report_histories",
            &["auth", "billing", "clock", "config", "ctx", "db", "error", "patch", "store", "workflows"],
        ),
        ("layers", &[]),
    ];

    /// Items re-exported at the crate root, by the module that defines them.
    const ROOT_ITEMS: &[(&str, &str)] =
        &[("Ctx", "ctx"), ("CoreError", "error"), ("CoreResult", "error"), ("text_enum", "db"), ("lite_row", "db")];

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// The source without comments (doc links name modules without depending on them) and
    /// without the text of string literals.
    fn code(src: &str) -> String {
        let mut out = String::with_capacity(src.len());
        let mut chars = src.chars().peekable();
        let (mut in_str, mut in_comment) = (false, false);
        while let Some(c) = chars.next() {
            match c {
                '\n' => {
                    in_comment = false;
                    out.push(c);
                }
                _ if in_comment => {}
                '\\' if in_str => {
                    chars.next();
                }
                '"' => {
                    in_str = !in_str;
                    out.push(c);
                }
                _ if in_str => {}
                '/' if chars.peek() == Some(&'/') => in_comment = true,
                // A char literal such as '"' does not open a string.
                '\'' if chars.clone().nth(1) == Some('\'') => {
                    out.push(c);
                    out.push(chars.next().unwrap_or(' '));
                    out.push(chars.next().unwrap_or(' '));
                }
                _ => out.push(c),
            }
        }
        out
    }

    /// Each top-level module of the crate in `src` -> (module it imports -> a file that does).
    fn graph(src: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut tops = BTreeSet::new();
        for e in std::fs::read_dir(src).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_stem().unwrap().to_string_lossy().to_string();
            if name != "lib" && name != "main" && (p.is_dir() || p.extension().is_some_and(|x| x == "rs")) {
                tops.insert(name);
            }
        }
        let mut files = Vec::new();
        rust_files(src, &mut files);
        let mut g: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for f in files {
            let rel = f.strip_prefix(src).unwrap().to_string_lossy().to_string();
            let top = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
            if !tops.contains(&top) {
                continue;
            }
            let text = code(&std::fs::read_to_string(&f).unwrap());
            let deps = g.entry(top.clone()).or_default();
            for (i, _) in text.match_indices("crate::") {
                let word: String =
                    text[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let module = ROOT_ITEMS.iter().find(|(item, _)| *item == word).map_or(word.as_str(), |(_, m)| m);
                if module != top && tops.contains(module) {
                    deps.entry(module.to_string()).or_insert_with(|| rel.clone());
                }
            }
        }
        g
    }

    /// A cycle in `g`, if there is one.
    fn cycle(g: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
        fn visit(
            n: &str,
            g: &BTreeMap<String, BTreeMap<String, String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(i) = path.iter().position(|p| p == n) {
                let mut c = path[i..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            if !done.insert(n.to_string()) {
                return None;
            }
            path.push(n.to_string());
            for d in g.get(n).into_iter().flat_map(|m| m.keys()) {
                if let Some(c) = visit(d, g, path, done) {
                    return Some(c);
                }
            }
            path.pop();
            None
        }
        let mut done = BTreeSet::new();
        g.keys().find_map(|n| visit(n, g, &mut Vec::new(), &mut done))
    }

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
    }

    #[test]
    fn core_modules_import_only_the_layers_below_them() {
        let g = graph(&workspace().join("core/src"));
        let mut bad = Vec::new();
        for (module, deps) in &g {
            let Some((_, allowed)) = ALLOWED.iter().find(|(m, _)| m == module) else {
                bad.push(format!("{module}: a new top-level module; give it a place in ALLOWED (layers.rs)"));
                continue;
            };
            for (dep, file) in deps {
                if !allowed.contains(&dep.as_str()) {
                    bad.push(format!("{module} may not import {dep} (core/src/{file})"));
                }
            }
        }
        assert!(bad.is_empty(), "layering violations:\n{}", bad.join("\n"));
        assert_eq!(cycle(&g), None);
    }

    /// A workflow may share a domain rule with another (billing::settlement), never call it.
    #[test]
    fn workflows_do_not_call_one_another() {
        let dir = workspace().join("core/src/workflows");
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        let modules: BTreeSet<String> = files
            .iter()
            .map(|f| {
                f.strip_prefix(&dir)
                    .unwrap()
                    .to_string_lossy()
                    .split('/')
                    .next()
                    .unwrap()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .collect();
        let mut bad = Vec::new();
        for f in files {
            let rel = f.strip_prefix(&dir).unwrap().to_string_lossy().to_string();
            let own = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
            let text = code(&std::fs::read_to_string(&f).unwrap());
            for (i, _) in text.match_indices("workflows::") {
                let word: String =
                    text[i + 11..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if word != own {
                    bad.push(format!("workflows/{rel} uses workflows::{word}"));
                }
            }
            for (i, _) in text.match_indices("super::") {
                let word: String =
                    text[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !rel.contains('/') && modules.contains(&word) {
                    bad.push(format!("workflows/{rel} uses its sibling {word} through super::"));
                }
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    #[test]
    fn no_library_crate_has_a_module_cycle() {
        for krate in ["core", "radiusd", "netctl", "api"] {
            let g = graph(&workspace().join(krate).join("src"));
            assert_eq!(cycle(&g), None, "module cycle in {krate}");
        }
    }

    #[test]
    fn the_checker_finds_cycles_and_reads_past_comments() {
        let mut g: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        g.entry("a".into()).or_default().insert("b".into(), "a.rs".into());
        g.entry("b".into()).or_default().insert("c".into(), "b.rs".into());
        assert_eq!(cycle(&g), None);
        g.entry("c".into()).or_default().insert("a".into(), "c.rs".into());
        assert_eq!(cycle(&g), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
        assert_eq!(code("use crate::db; // see crate::workflows"), "use crate::db; ");
        assert_eq!(
            code(r#"let s = "crate::x \" crate::y"; let q = '"'; crate::z"#),
            r#"let s = ""; let q = '"'; crate::z"#
        );
    }
}
