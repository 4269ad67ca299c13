//! The migrations are embedded by `sqlx::migrate!` at compile time; this makes
//! cargo rebuild the crate when a migration file is added or changed.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
