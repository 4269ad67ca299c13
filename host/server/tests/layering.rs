//! The layering rules of the architecture, held against the code:
//!
//! - `registry` (tongban-registry) knows nothing about wasmtime: no
//!   `wasmtime*` crate among its normal dependencies, direct or transitive;
//! - `runtime`, `services` and `store` know nothing about HTTP or pages: no
//!   `axum` or `maud` among their normal dependencies, direct or transitive;
//! - the flows (`src/flows/`), the application layer the API and the pages
//!   share, know neither: no code line there mentions `axum`, `maud`,
//!   `crate::api` or `crate::web` (comments may name them).
//!
//! The dependency rules walk the resolve graph of `cargo metadata` (normal
//! dependencies only: a dev-dependency or a build script's dependency never
//! reaches the built library), so a crate reached through any chain breaks
//! them, and the failure names the chain.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Crates that must not reach any crate whose name starts with one of the
/// prefixes.
const DEPENDENCY_RULES: &[(&str, &[&str], &str)] = &[
    (
        "tongban-registry",
        &["wasmtime"],
        "registry knows nothing about wasmtime",
    ),
    ("tongban-runtime", &["axum", "maud"], "runtime knows nothing about HTTP"),
    (
        "tongban-services",
        &["axum", "maud"],
        "services know nothing about HTTP",
    ),
    ("tongban-store", &["axum", "maud"], "the store knows nothing about HTTP"),
];

/// What no code line under `src/flows/` may mention.
const FLOW_FORBIDDEN: &[&str] = &["axum", "maud", "crate::api", "crate::web"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

/// The workspace's resolved dependency graph: package id to the ids of its
/// normal dependencies, and each package's id and name.
struct Graph {
    normal: BTreeMap<String, Vec<String>>,
    ids: BTreeMap<String, String>,
    names: BTreeMap<String, String>,
}

impl Graph {
    fn load() -> Graph {
        let output = Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1", "--offline"])
            .current_dir(workspace_root())
            .output()
            .expect("running cargo metadata");
        assert!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
        let mut ids = BTreeMap::new();
        let mut names = BTreeMap::new();
        for package in metadata["packages"].as_array().expect("packages") {
            let name = package["name"].as_str().expect("a package name");
            let id = package["id"].as_str().expect("a package id");
            ids.entry(name.to_owned()).or_insert_with(|| id.to_owned());
            names.insert(id.to_owned(), name.to_owned());
        }
        let mut normal = BTreeMap::new();
        for node in metadata["resolve"]["nodes"].as_array().expect("a resolve graph") {
            let id = node["id"].as_str().expect("a node id").to_owned();
            let deps = node["deps"]
                .as_array()
                .expect("a node's deps")
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .expect("dependency kinds")
                        .iter()
                        .any(|kind| kind["kind"].is_null())
                })
                .map(|dep| dep["pkg"].as_str().expect("a dependency id").to_owned())
                .collect();
            normal.insert(id, deps);
        }
        Graph { normal, ids, names }
    }

    /// The first chain of normal dependencies from `from` to a package whose
    /// name starts with one of `prefixes`, as package names.
    fn chain_to(&self, from: &str, prefixes: &[&str]) -> Option<Vec<String>> {
        let start = self
            .ids
            .get(from)
            .unwrap_or_else(|| panic!("{from} is not a package of the workspace"));
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut seen = BTreeSet::from([start.as_str()]);
        let mut queue = VecDeque::from([start.as_str()]);
        while let Some(id) = queue.pop_front() {
            if id != start && prefixes.iter().any(|p| self.name(id).starts_with(p)) {
                let mut chain = vec![self.name(id).to_owned()];
                let mut at = id;
                while let Some(up) = parent.get(at) {
                    chain.push(self.name(up).to_owned());
                    at = up;
                }
                chain.reverse();
                return Some(chain);
            }
            for dep in self.normal.get(id).into_iter().flatten() {
                if seen.insert(dep) {
                    parent.insert(dep, id);
                    queue.push_back(dep);
                }
            }
        }
        None
    }

    fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map(String::as_str).unwrap_or(id)
    }
}

#[test]
fn engines_do_not_depend_on_what_sits_above_them() {
    let graph = Graph::load();
    let mut broken = Vec::new();
    for (krate, prefixes, rule) in DEPENDENCY_RULES {
        if let Some(chain) = graph.chain_to(krate, prefixes) {
            broken.push(format!("{rule}, but {}", chain.join(" -> ")));
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn flows_know_neither_http_nor_pages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/flows");
    let mut files = Vec::new();
    collect_rust_files(&dir, &mut files);
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let shown = file
            .strip_prefix(workspace_root())
            .unwrap_or(file)
            .display()
            .to_string();
        for (number, line) in code_lines(&text) {
            for word in mentions(&line) {
                broken.push(format!("{shown}:{number}: mentions `{word}`: {}", line.trim()));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "the flows must know neither HTTP nor pages (no axum, maud, crate::api or crate::web):\n{}",
        broken.join("\n")
    );
}

/// Every `.rs` file under `dir`, recursively; none when `dir` does not exist.
fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
}

/// The code of each line (1-based), without its comments: `//` to the end of
/// the line (doc comments included) and `/* ... */`, which may span lines.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut in_block = false;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut code = String::new();
        let mut rest = line;
        loop {
            if in_block {
                match rest.find("*/") {
                    Some(end) => {
                        rest = &rest[end + 2..];
                        in_block = false;
                    }
                    None => break,
                }
            } else {
                let line_comment = rest.find("//");
                let block_comment = rest.find("/*");
                match (line_comment, block_comment) {
                    (Some(l), Some(b)) if b < l => {
                        code.push_str(&rest[..b]);
                        rest = &rest[b + 2..];
                        in_block = true;
                    }
                    (None, Some(b)) => {
                        code.push_str(&rest[..b]);
                        rest = &rest[b + 2..];
                        in_block = true;
                    }
                    (Some(l), _) => {
                        code.push_str(&rest[..l]);
                        break;
                    }
                    (None, None) => {
                        code.push_str(rest);
                        break;
                    }
                }
            }
        }
        lines.push((index + 1, code));
    }
    lines
}

/// What a line of code mentions of [`FLOW_FORBIDDEN`], also through a
/// grouped import (`use crate::{api, ...}`).
fn mentions(code: &str) -> Vec<String> {
    let mut found: Vec<String> = FLOW_FORBIDDEN
        .iter()
        .filter(|word| code.contains(*word))
        .map(|word| word.to_string())
        .collect();
    if let Some(group) = code.split_once("crate::{").map(|(_, group)| group) {
        let idents: BTreeSet<&str> = group
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|ident| !ident.is_empty())
            .collect();
        for module in ["api", "web"] {
            if idents.contains(module) {
                found.push(format!("crate::{{{module}}}"));
            }
        }
    }
    found
}

#[test]
fn comments_are_not_code_and_grouped_imports_are_seen() {
    let lines = code_lines("use x; // axum\n/* maud\n still maud */ let a = 1;\n//! crate::web\n");
    let code: Vec<&str> = lines.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(code, ["use x; ", "", " let a = 1;", ""]);
    assert_eq!(mentions("use crate::{api::AppState, flows};"), ["crate::{api}"]);
    assert_eq!(mentions("use axum::Router;"), ["axum"]);
    assert!(mentions("use crate::flows::apply;").is_empty());
}
