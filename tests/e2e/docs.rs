//! The README's promises that can drift from the code are checked here.

use isp_core::auth::{Role, MATRIX};

/// The roles table in the README must say exactly what the permission matrix enforces.
#[test]
fn readme_roles_table_matches_the_matrix() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let header = "| action | what it covers | owner | admin | manager | support | engineer | cashier |";
    let Some(start) = readme.find(header) else { panic!("README lost its roles table header") };
    let table = readme[start..].lines().take_while(|l| l.starts_with('|'));
    let mut seen = 0;
    for line in table.filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let name = cells[0].trim_matches('`');
        let Some((action, roles)) = MATRIX.iter().find(|(a, _)| format!("{a:?}") == name) else {
            panic!("README names an unknown action {name}");
        };
        for (i, role) in Role::ALL.iter().enumerate() {
            let documented = cells[2 + i] == "✓";
            assert_eq!(
                documented,
                roles.contains(role),
                "README says {role} {} {action:?}",
                if documented { "may" } else { "may not" }
            );
        }
        seen += 1;
    }
    assert_eq!(seen, MATRIX.len(), "README's roles table must list every action once");
}
