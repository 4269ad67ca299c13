//! The developer commands, run as a user runs them: the real `tongban` binary
//! on the real example app.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use tongban_tests::repo_root;

fn tongban(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(args)
        .current_dir(cwd)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("running tongban")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `tongban app build plugins/sole-proprietor`, once per test process.
fn sole_proprietor_package() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = repo_root().join("target/wasm/cli-test-sole-proprietor.tbpkg");
        let output = tongban(
            &[
                "app",
                "build",
                "plugins/sole-proprietor",
                "--out",
                out.to_str().unwrap(),
            ],
            &repo_root(),
        );
        assert!(output.status.success(), "{}", text(&output));
        assert!(text(&output).contains("已构建 / built cn.gov.hz.amr.sole-proprietor 1.0.0"));
        out
    })
}

#[test]
fn the_built_first_app_passes_every_check() {
    let output = tongban(
        &["app", "check", sole_proprietor_package().to_str().unwrap()],
        &repo_root(),
    );
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    for check in [
        "manifest-schema",
        "app-id",
        "imports",
        "world",
        "platform",
        "limits",
        "forms",
    ] {
        assert!(
            shown.contains(&format!("✓ {check}")),
            "{check} ran and passed:\n{shown}"
        );
    }
}

#[test]
fn deleting_a_capability_makes_check_fail_naming_the_import() {
    let mut package = tongban_registry::Package::read(sole_proprietor_package()).unwrap();
    package.manifest_text = package
        .manifest_text
        .lines()
        .filter(|l| !l.starts_with("cases ="))
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-cases.tbpkg");
    package.write(&path).unwrap();
    let output = tongban(&["app", "check", path.to_str().unwrap()], &repo_root());
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("✗ imports"), "{shown}");
    assert!(shown.contains("tongban:platform/cases@0.1.0"), "{shown}");
    assert!(shown.contains("未通过 / failed: 1 problem(s)"), "{shown}");
}

#[test]
fn check_lists_every_problem_at_once() {
    let mut package = tongban_registry::Package::read(sole_proprietor_package()).unwrap();
    package.manifest_text = package
        .manifest_text
        .replace("cn.gov.hz.amr.sole-proprietor", "SoleProprietor")
        .replace("platform = \"^0.1\"", "platform = \"^0.9\"")
        .replace("memory-mib = 32", "memory-mib = 100000")
        .replace("cases = {}\n", "");
    package
        .files
        .insert("forms/apply.json".into(), br#"{"type": 12}"#.to_vec());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.tbpkg");
    package.write(&path).unwrap();
    let output = tongban(&["app", "check", path.to_str().unwrap(), "--json"], &repo_root());
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let checks: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["check"].as_str().unwrap())
        .collect();
    for expected in ["app-id", "platform", "limits", "forms", "imports"] {
        assert!(checks.contains(&expected), "{expected} missing from {checks:?}");
    }
}

#[test]
fn run_shows_field_errors_for_a_bad_form_and_success_for_a_good_one() {
    let data = tempfile::tempdir().unwrap();
    let package = sole_proprietor_package().to_str().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let examples = repo_root().join("plugins/sole-proprietor/examples");

    let bad = examples.join("bad-form.json");
    let output = tongban(
        &[
            "app",
            "run",
            package,
            "--hook",
            "validate",
            "--form",
            bad.to_str().unwrap(),
            "--region",
            "330106",
            "--data-dir",
            data_dir,
        ],
        &repo_root(),
    );
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("字段错误 / field errors"), "{shown}");
    for field in [
        "operator/id-number",
        "business/trade-name",
        "business/address",
        "business/scope",
    ] {
        assert!(shown.contains(field), "{field}:\n{shown}");
    }
    assert!(shown.contains("wall time"), "{shown}");
    assert!(shown.contains("peak memory"), "{shown}");

    let good = examples.join("good-form.json");
    let output = tongban(
        &[
            "app",
            "run",
            package,
            "--hook",
            "validate",
            "--form",
            good.to_str().unwrap(),
            "--region",
            "330106",
            "--data-dir",
            data_dir,
            "--fuel",
        ],
        &repo_root(),
    );
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(shown.contains("成功 / ok"), "{shown}");
    let fuel_line = shown.lines().find(|l| l.starts_with("fuel")).unwrap();
    let fuel: u64 = fuel_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(fuel > 0, "{fuel_line}");
}

#[test]
fn run_checks_the_form_schema_before_calling_the_app() {
    let data = tempfile::tempdir().unwrap();
    let form = data.path().join("form.json");
    std::fs::write(&form, r#"{"operator": {"name": "王"}}"#).unwrap();
    let output = tongban(
        &[
            "app",
            "run",
            sole_proprietor_package().to_str().unwrap(),
            "--hook",
            "submit",
            "--form",
            form.to_str().unwrap(),
            "--data-dir",
            data.path().to_str().unwrap(),
        ],
        &repo_root(),
    );
    let shown = text(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(shown.contains("not called: the form fails its schema"), "{shown}");
    assert!(shown.contains("business"), "the missing section is named:\n{shown}");
}

#[test]
fn a_new_skeleton_tests_builds_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let app_dir = dir.path().join("birth-registration");
    let output = tongban(
        &["app", "new", "birth-registration", "--dir", app_dir.to_str().unwrap()],
        &repo_root(),
    );
    assert!(output.status.success(), "{}", text(&output));

    // Share the wasm target directory so the skeleton reuses compiled dependencies.
    let target = repo_root().join("target/wasm");
    let test = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["test", "--quiet"])
        .current_dir(&app_dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(test.status.success(), "{}", text(&test));
    assert!(
        String::from_utf8_lossy(&test.stdout).contains("2 passed"),
        "{}",
        text(&test)
    );

    let package = dir.path().join("app.tbpkg");
    let build = Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args([
            "app",
            "build",
            app_dir.to_str().unwrap(),
            "--out",
            package.to_str().unwrap(),
        ])
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build));
    let check = tongban(&["app", "check", package.to_str().unwrap()], &repo_root());
    assert!(check.status.success(), "{}", text(&check));

    let again = tongban(
        &["app", "new", "birth-registration", "--dir", app_dir.to_str().unwrap()],
        &repo_root(),
    );
    assert_eq!(again.status.code(), Some(64));
    assert!(text(&again).contains("already exists"), "{}", text(&again));
}

#[test]
fn cert_verify_accepts_a_sealed_copy_and_refuses_one_changed_byte() {
    use tongban_services::certificates::SealKey;
    let dir = tempfile::tempdir().unwrap();
    let key = SealKey::generate();
    let sealed = key.seal(&serde_json::json!({
        "id": "BUSINESS-LICENCE.113301000024891238.00000042.01K",
        "holder": "张三",
        "purpose": "银行开户 / opening a bank account",
    }));
    let file = dir.path().join("copy.json");
    std::fs::write(&file, sealed.to_json_pretty()).unwrap();
    let public_key = key.public_key_hex();
    let args = ["cert", "verify", file.to_str().unwrap(), "--public-key", &public_key];
    let output = tongban(&args, dir.path());
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("seal valid: BUSINESS-LICENCE"),
        "{}",
        text(&output)
    );

    // One byte of the copy changed: 张三 becomes 张丁 (the last UTF-8 byte differs).
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.windows(6).position(|w| w == "张三".as_bytes()).unwrap() + 5;
    bytes[at] = "丁".as_bytes()[2];
    std::fs::write(&file, &bytes).unwrap();
    let output = tongban(&args, dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("changed after sealing"), "{}", text(&output));

    // Another platform's key does not vouch for this copy.
    std::fs::write(&file, sealed.to_json_pretty()).unwrap();
    let stranger = SealKey::generate().public_key_hex();
    let output = tongban(
        &["cert", "verify", file.to_str().unwrap(), "--public-key", &stranger],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("does not verify"), "{}", text(&output));
}
