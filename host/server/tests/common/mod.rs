//! What the end-to-end tests share: where a server keeps its data (SQLite,
//! or PostgreSQL with S3-compatible blobs), starting `tongban serve`, and the
//! real `tongban` CLI as a user at a terminal runs it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tongban_registry::Package;
use tongban_testdb::{Backend, TestDb};
use tongban_tests::{S3Sandbox, ServerProcess, sole_proprietor_at};

pub const BUREAU: &str = "113301000024891238"; // 杭州市市场监督管理局 (publisher)
pub const REVIEW_ORG: &str = "11330106002489555Y"; // 杭州市西湖区数据资源局 (reviewers)
pub const APP: &str = "cn.gov.hz.amr.sole-proprietor";
pub const REGION: &str = "330106";

/// Where a server keeps its data: a data directory, optionally a PostgreSQL
/// URL, and optionally an S3-compatible blob store with its `AWS_*` settings.
#[derive(Clone)]
pub struct Store {
    pub backend: &'static str,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub blob_url: Option<String>,
    pub env: Vec<(String, String)>,
}

impl Store {
    pub fn args(&self) -> Vec<String> {
        self.args_in(&self.data_dir)
    }

    pub fn args_in(&self, data_dir: &Path) -> Vec<String> {
        let mut args = vec!["--data-dir".to_owned(), data_dir.display().to_string()];
        if let Some(url) = &self.database_url {
            args.push("--database-url".into());
            args.push(url.clone());
        }
        if let Some(url) = &self.blob_url {
            args.push("--blob-url".into());
            args.push(url.clone());
        }
        args
    }
}

/// A [`Store`] over a fresh database from the test database kit, which is
/// dropped with this value. It dereferences to the `Store`, so it is used
/// wherever one is.
pub struct ScratchStore {
    store: Store,
    _db: TestDb,
}

impl std::ops::Deref for ScratchStore {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

/// Every deployment shape this run tests, each on a fresh database of the
/// test database kit: SQLite with blobs in the data directory (the embedded
/// default), and PostgreSQL (required in CI) with blobs in an S3-compatible
/// store, where the nodes share nothing on disk. Each data directory is the
/// kit's scratch directory of its database, so for SQLite it holds the
/// database file; the callers' scratch root (`_root`) is therefore unused.
pub fn stores(_root: &Path, label: &str, s3: Option<&S3Sandbox>) -> Vec<ScratchStore> {
    TestDb::each(label)
        .into_iter()
        .map(|db| {
            let store = match db.backend() {
                Backend::Sqlite => Store {
                    backend: db.backend_name(),
                    data_dir: db.dir().to_owned(),
                    database_url: None,
                    blob_url: None,
                    env: Vec::new(),
                },
                Backend::Postgres => Store {
                    backend: db.backend_name(),
                    data_dir: db.dir().to_owned(),
                    database_url: Some(db.url().to_owned()),
                    blob_url: s3.map(|s3| s3.url(label)),
                    env: s3.map(S3Sandbox::settings).unwrap_or_default(),
                },
            };
            ScratchStore { store, _db: db }
        })
        .collect()
}

/// `tongban serve` on `store`, with extra flags. With an S3 blob store each
/// node gets its own data directory, as separate machines would.
pub fn start_server(store: &Store, node: &str, extra: &[&str]) -> ServerProcess {
    let mut args = match store.blob_url {
        Some(_) => store.args_in(&store.data_dir.join(node)),
        None => store.args(),
    };
    args.extend(extra.iter().map(|a| a.to_string()));
    ServerProcess::start(Path::new(env!("CARGO_BIN_EXE_tongban")), &args, &store.env)
}

/// The CLI, as a user at a terminal runs it.
pub struct Cli<'a> {
    pub server: String,
    pub store: &'a Store,
}

impl Cli<'_> {
    pub fn run(&self, token: Option<&str>, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tongban"));
        command
            .args(args)
            .env("TONGBAN_SERVER", &self.server)
            .env_remove("TONGBAN_TOKEN");
        if let Some(token) = token {
            command.env("TONGBAN_TOKEN", token);
        }
        command.output().expect("running tongban")
    }

    /// Run and expect success; return stdout.
    pub fn ok(&self, token: Option<&str>, args: &[&str]) -> String {
        let output = self.run(token, args);
        assert!(
            output.status.success(),
            "[{}] tongban {} failed: {}",
            self.store.backend,
            args.join(" "),
            text(&output)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Run and expect refusal; return everything printed.
    pub fn refused(&self, token: Option<&str>, args: &[&str]) -> String {
        let output = self.run(token, args);
        assert!(
            !output.status.success(),
            "[{}] tongban {} should have been refused: {}",
            self.store.backend,
            args.join(" "),
            text(&output)
        );
        text(&output)
    }

    /// `tongban admin create-user` against the store; returns the token.
    pub fn create_user(&self, id: &str, role: &str, org: Option<&str>, region: Option<&str>) -> String {
        let mut args = vec!["admin", "create-user", "--id", id, "--role", role];
        if let Some(org) = org {
            args.extend(["--org", org]);
        }
        if let Some(region) = region {
            args.extend(["--region", region]);
        }
        let store_args = self.store.args();
        args.extend(store_args.iter().map(String::as_str));
        self.ok(None, &args).trim().to_owned()
    }

    /// The version serving `subject`, or `None` when nothing serves.
    pub fn which(&self, token: &str, subject: &str) -> Option<String> {
        let output = self.run(
            Some(token),
            &["release", "which", APP, "--region", REGION, "--subject", subject],
        );
        if output.status.success() {
            let out = String::from_utf8_lossy(&output.stdout);
            Some(out.split_whitespace().next().unwrap().to_owned())
        } else {
            assert!(text(&output).contains("not_found"), "{}", text(&output));
            None
        }
    }

    /// Wait until `subject` is served `expected`. Each poll here starts a CLI
    /// process, and a newly served version is compiled before the swap on a
    /// machine that may be busy, so the bound is generous (ten seconds); the
    /// one-second target itself is measured by `benches/marketplace.rs`.
    pub fn served_soon(&self, token: &str, subject: &str, expected: Option<&str>) {
        let start = Instant::now();
        loop {
            let now = self.which(token, subject);
            if now.as_deref() == expected {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "[{}] {subject} is still served {now:?} after ten seconds, expected {expected:?}",
                self.store.backend
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Write a package to `dir/NAME.tbpkg` and return the path.
pub fn write_package(dir: &Path, name: &str, package: &Package) -> String {
    let path = dir.join(format!("{name}.tbpkg"));
    package.write(&path).unwrap();
    path.display().to_string()
}

pub fn package_file(dir: &Path, version: &str, extra_capability: Option<&str>) -> String {
    write_package(
        dir,
        &format!("sole-proprietor-{version}"),
        &sole_proprietor_at(version, extra_capability),
    )
}

/// `release rollout APP VERSION --region REGION --percent PERCENT`.
pub fn rollout<'a>(version: &'a str, percent: &'a str) -> [&'a str; 8] {
    [
        "release",
        "rollout",
        APP,
        version,
        "--region",
        REGION,
        "--percent",
        percent,
    ]
}

/// The `--ack` flags for every change `review show` marks as needing one.
pub fn acks_from_show(shown: &str) -> Vec<String> {
    shown
        .lines()
        .filter(|l| l.contains("[needs --ack]"))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
        .collect()
}

pub fn approve(cli: &Cli, reviewer: &str, version: &str) {
    let shown = cli.ok(Some(reviewer), &["review", "show", APP, version]);
    let mut args = vec!["review".to_owned(), "approve".into(), APP.into(), version.into()];
    for ack in acks_from_show(&shown) {
        args.push("--ack".into());
        args.push(ack);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cli.ok(Some(reviewer), &args);
    assert!(out.contains("is approved"), "{out}");
}
