//! The two migration trees, `host/store/migrations/sqlite` and
//! `host/store/migrations/postgres`, must define the same tables with the
//! same columns: queries are written once for both backends, so a column
//! added on one side only breaks the other at run time. This test migrates a
//! fresh database of each backend and compares what their catalogs say,
//! naming every difference. Types are not compared: the two backends spell
//! them differently by design. sqlx's own `_sqlx_migrations` is left out.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row;
use tongban_store::{Backend, Database};
use tongban_testdb::TestDb;

/// Table name to the names of its columns.
type Schema = BTreeMap<String, BTreeSet<String>>;

#[tokio::test]
async fn both_migration_trees_define_the_same_tables_and_columns() {
    let mut schemas = Vec::new();
    for test_db in TestDb::each("migration_trees") {
        let db = test_db.open().await;
        schemas.push((test_db.backend_name(), schema(&db).await));
        db.close().await;
    }
    let [(_, sqlite), (_, postgres)] = &schemas[..] else {
        eprintln!("only SQLite is available here: there is nothing to compare its schema with");
        return;
    };
    assert!(!sqlite.is_empty(), "the SQLite catalog lists no tables");
    let differences = differences(sqlite, postgres);
    assert!(
        differences.is_empty(),
        "the SQLite and PostgreSQL migration trees differ:\n  {}",
        differences.join("\n  ")
    );
}

/// Every table (but sqlx's own) and its columns, from the catalog.
async fn schema(db: &Database) -> Schema {
    let query = match db.backend() {
        Backend::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'"
        }
    };
    let mut schema = Schema::new();
    for row in sqlx::query(query).fetch_all(db.pool()).await.unwrap() {
        let table: String = row.try_get(0).unwrap();
        let column: String = row.try_get(1).unwrap();
        schema.entry(table).or_default().insert(column);
    }
    schema
}

/// Each table or column one schema has and the other lacks, one line each.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let tables: BTreeSet<&String> = sqlite.keys().chain(postgres.keys()).collect();
    for table in tables {
        match (sqlite.get(table), postgres.get(table)) {
            (Some(_), None) => out.push(format!("table `{table}` exists only in the SQLite tree")),
            (None, Some(_)) => out.push(format!("table `{table}` exists only in the PostgreSQL tree")),
            (Some(left), Some(right)) => {
                for column in left.difference(right) {
                    out.push(format!("column `{table}.{column}` exists only in the SQLite tree"));
                }
                for column in right.difference(left) {
                    out.push(format!("column `{table}.{column}` exists only in the PostgreSQL tree"));
                }
            }
            (None, None) => unreachable!("every table comes from one of the two schemas"),
        }
    }
    out
}
