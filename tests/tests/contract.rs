//! Compatibility of the platform contract: every `tongban:platform` version
//! the host lists as served has a frozen copy under `wit/released/`, and an
//! app built against that frozen copy (referencing every imported function)
//! loads and runs on the current host. A host change that breaks an older
//! contract fails here at link time, naming the function.

use tongban_registry::ComponentInfo;
use tongban_registry::platform::{SERVED_WIT_VERSIONS, WIT_PACKAGE, newest_wit_version};
use tongban_runtime::{HookResult, Outcome};
use tongban_tests::{fixture, repo_root};

use crate::support::{env, runtime, submit, validate};

#[tokio::test]
async fn every_served_contract_still_runs_on_this_host() {
    let rt = runtime().await;
    for version in SERVED_WIT_VERSIONS {
        let line = format!("{}.{}", version.major, version.minor);
        let frozen = repo_root().join(format!("wit/released/{line}/platform.wit"));
        let text = std::fs::read_to_string(&frozen).unwrap_or_else(|e| {
            panic!(
                "served contract {version} has no frozen copy at {}: {e}",
                frozen.display()
            )
        });
        assert!(
            text.contains(&format!("package {WIT_PACKAGE}@{version};")),
            "{} must declare {WIT_PACKAGE}@{version}",
            frozen.display()
        );

        let package = fixture(&format!("contract-{}-{}", version.major, version.minor));
        let info = ComponentInfo::inspect(&package.component).unwrap();
        assert_eq!(info.platform_versions(), vec![version.clone()]);
        for interface in [
            "identity",
            "certificates",
            "payments",
            "notify",
            "cases",
            "storage",
            "exchange",
            "log",
        ] {
            let name = format!("{WIT_PACKAGE}/{interface}@{version}");
            assert!(info.imports.contains(&name), "the {line} app must import {name}");
        }

        let app = rt
            .runtime
            .load(&package)
            .unwrap_or_else(|e| panic!("an app built for contract {version} no longer loads: {e}"));
        let ok = rt.runtime.call(&app, &env("330106"), validate("{}")).await;
        assert_eq!(ok.result.unwrap(), HookResult::Validate(Ok(())));
        assert_eq!(ok.report.log.len(), 1, "the log import works");
        let bad = rt.runtime.call(&app, &env("330106"), validate("\"bad\"")).await;
        let HookResult::Validate(Err(errors)) = bad.result.unwrap() else {
            panic!("the {line} app reports field errors")
        };
        assert_eq!(errors[0].field, "name");
        let submitted = rt.runtime.call(&app, &env("330106"), submit("C-1", "{\"a\":1}")).await;
        assert_eq!(
            submitted.result.unwrap(),
            HookResult::Submit(Ok(Outcome::Approved("{\"a\":1}".into()))),
            "the storage import round-trips"
        );
    }
}

/// The SHA-256 of each frozen contract file. A released contract never
/// changes; a new version gets a new folder and a new line here.
const FROZEN: &[(&str, &str)] = &[("0.1", FROZEN_0_1)];
const FROZEN_0_1: &str = "267e8315d2a3ec930ba4877251c8ad016df7535961f7b33c9becf49b5a527d53";

#[test]
fn released_contracts_never_change() {
    use sha2::Digest;
    for (line, digest) in FROZEN {
        let path = repo_root().join(format!("wit/released/{line}/platform.wit"));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            hex::encode(sha2::Sha256::digest(&bytes)),
            *digest,
            "{} changed; a released contract is frozen (bump the version in wit/platform.wit instead)",
            path.display()
        );
    }
    let served: Vec<String> = SERVED_WIT_VERSIONS
        .iter()
        .map(|v| format!("{}.{}", v.major, v.minor))
        .collect();
    let frozen: Vec<String> = FROZEN.iter().map(|(line, _)| line.to_string()).collect();
    assert_eq!(
        served, frozen,
        "every served version, and only those, has a frozen digest"
    );
}

#[test]
fn the_current_contract_is_the_newest_served_version() {
    let current = std::fs::read_to_string(repo_root().join("wit/platform.wit")).unwrap();
    let newest = newest_wit_version();
    assert!(
        current.contains(&format!("package {WIT_PACKAGE}@{newest};")),
        "wit/platform.wit must declare the newest served version {newest}"
    );
}
