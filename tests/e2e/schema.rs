//! The checked-in `schema.graphql` must be exactly what the code generates.

/// Regenerate with `cargo run -- schema > schema.graphql` (or `UPDATE_SCHEMA=1 cargo test --test e2e schema`).
#[test]
fn schema_graphql_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let generated = isp_api::schema::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(path).expect("schema.graphql exists");
    if on_disk != generated {
        let line = on_disk.lines().zip(generated.lines()).position(|(a, b)| a != b).map_or(0, |i| i + 1);
        panic!(
            "schema.graphql is out of date (first difference near line {line}); regenerate it with `cargo run -- schema > schema.graphql`"
        );
    }
}
