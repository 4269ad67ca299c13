//! The one integration test binary: real components, built from source, run in
//! the real runtime against a real SQLite database.

mod blobs;
mod capabilities;
mod contract;
mod hostile;
mod market;
mod personal_data;
mod sole_proprietor;
mod support;
