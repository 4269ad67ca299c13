//! 个体工商户设立登记: register a sole proprietorship.
//!
//! - `validate` makes the checks a registration clerk makes: the operator's ID
//!   number (GB 11643 check character), the trade name (字号: length, script,
//!   forbidden words), premises inside the serving region, and a business scope.
//! - `submit` queues the case for the accepting org as a commitment item (承诺件)
//!   and keeps what the licence will need in app storage.
//! - `on-event` issues the electronic business licence when the case is approved.

pub mod rules;

use serde::{Deserialize, Serialize};
use tongban_sdk::{App, Context, Error, Event, FieldError, Outcome, certificates, identity, log, storage};

/// The certificate type this app issues.
pub const LICENCE_TYPE: &str = "BUSINESS-LICENCE";

/// The application form; mirrors `forms/apply.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Application {
    pub operator: Operator,
    pub business: Business,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Operator {
    pub name: String,
    pub id_number: String,
    pub phone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Business {
    pub trade_name: String,
    pub industry: String,
    pub scope: Vec<String>,
    pub address: String,
    #[serde(default)]
    pub capital_yuan: Option<u64>,
}

/// What `submit` keeps for `on-event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingLicence {
    pub applicant: String,
    pub registered_name: String,
    pub operator_name: String,
    pub address: String,
    pub scope: String,
}

/// The registered name: region, trade name, industry and 店 (e.g. 杭州市西湖区西湖小厨餐饮店).
pub fn registered_name(region: &str, business: &Business) -> String {
    let prefix = rules::region_names(region).map(|n| n.concat()).unwrap_or_default();
    format!("{prefix}{}{}店", business.trade_name.trim(), business.industry.trim())
}

pub struct SoleProprietor;

impl App for SoleProprietor {
    type Form = Application;

    fn validate(ctx: &Context, form: &Application) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(problem) = rules::id_number_problem(&form.operator.id_number) {
            errors.push(FieldError::new("operator/id-number", problem));
        }
        for problem in rules::trade_name_problems(&form.business.trade_name) {
            errors.push(FieldError::new("business/trade-name", problem));
        }
        if let Some(problem) = rules::address_problem(&form.business.address, &ctx.region) {
            errors.push(FieldError::new("business/address", problem));
        }
        if form.business.scope.iter().all(|s| s.trim().is_empty()) {
            errors.push(FieldError::new(
                "business/scope",
                "请至少填写一项经营范围 / enter at least one line of business scope",
            ));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn submit(ctx: &Context, case: &str, form: Application) -> Result<Outcome, Error> {
        let session = identity::current()?;
        let pending = PendingLicence {
            applicant: session.subject,
            registered_name: registered_name(&ctx.region, &form.business),
            operator_name: form.operator.name.trim().to_owned(),
            address: form.business.address.trim().to_owned(),
            scope: form
                .business
                .scope
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("；"),
        };
        storage::set_json(&format!("case/{case}"), &pending)?;
        log::info(&format!(
            "case {case} queued as a commitment item for {}",
            pending.registered_name
        ));
        Ok(Outcome::Queued)
    }

    fn on_event(_ctx: &Context, case: &str, event: Event) -> Result<(), Error> {
        match event {
            Event::Approved(_) => {
                let pending: PendingLicence = storage::get_json(&format!("case/{case}"))?
                    .ok_or_else(|| Error::NotFound(format!("no submission stored for case {case}")))?;
                let fields = vec![
                    ("名称".to_owned(), pending.registered_name.clone()),
                    ("经营者".to_owned(), pending.operator_name.clone()),
                    ("组成形式".to_owned(), "个人经营".to_owned()),
                    ("经营场所".to_owned(), pending.address.clone()),
                    ("经营范围".to_owned(), pending.scope.clone()),
                    ("holder-name".to_owned(), pending.operator_name.clone()),
                ];
                let licence = certificates::issue(case, LICENCE_TYPE, None, &fields)?;
                log::info(&format!("case {case}: business licence {} issued", licence.id));
                storage::delete(&format!("case/{case}"))?;
                Ok(())
            }
            Event::Denied(reason) | Event::CorrectionRequested(reason) => {
                log::info(&format!("case {case}: {reason}"));
                Ok(())
            }
            Event::Withdrawn => storage::delete(&format!("case/{case}")),
            _ => Ok(()),
        }
    }
}

tongban_sdk::export_app!(SoleProprietor);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tongban_sdk::testkit::{self, TestHost};

    const MANIFEST: &str = include_str!("../tongban.toml");

    fn good_form() -> serde_json::Value {
        json!({
            "operator": { "name": "张三", "id-number": "11010519491231002X", "phone": "13800138000" },
            "business": {
                "trade-name": "西湖小厨",
                "industry": "餐饮",
                "scope": ["餐饮服务", "预包装食品销售"],
                "address": "浙江省杭州市西湖区文三路90号"
            }
        })
    }

    #[test]
    fn a_good_application_validates() {
        let _host = TestHost::from_manifest(MANIFEST).install();
        assert_eq!(
            testkit::validate::<SoleProprietor>(&testkit::context("330106"), &good_form()),
            Ok(())
        );
    }

    #[test]
    fn every_problem_is_reported_against_its_field() {
        let _host = TestHost::from_manifest(MANIFEST).install();
        let mut form = good_form();
        form["operator"]["id-number"] = json!("110105194912310021");
        form["business"]["trade-name"] = json!("中华");
        form["business"]["address"] = json!("杭州市滨江区江南大道1号");
        form["business"]["scope"] = json!(["  "]);
        let errors = testkit::validate::<SoleProprietor>(&testkit::context("330106"), &form).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "operator/id-number",
                "business/trade-name",
                "business/address",
                "business/scope"
            ]
        );
        assert!(errors[1].message.contains("中华"));
    }

    #[test]
    fn a_form_of_the_wrong_shape_is_a_whole_form_error() {
        let _host = TestHost::from_manifest(MANIFEST).install();
        let errors =
            testkit::validate::<SoleProprietor>(&testkit::context("330106"), &json!({"operator": 1})).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "");
    }

    #[test]
    fn submit_queues_and_approval_issues_the_licence() {
        let host = TestHost::from_manifest(MANIFEST).install();
        let ctx = testkit::context("330106");
        let outcome = testkit::submit::<SoleProprietor>(&ctx, "C-1", &good_form()).unwrap();
        assert_eq!(outcome, Outcome::Queued);
        assert!(host.storage().contains_key("case/C-1"));

        testkit::on_event::<SoleProprietor>(&ctx, "C-1", Event::Approved("准予登记".into())).unwrap();
        let issued = host.issued();
        assert_eq!(issued.len(), 1);
        assert_eq!(issued[0].type_code, LICENCE_TYPE);
        assert_eq!(issued[0].field("名称"), Some("杭州市西湖区西湖小厨餐饮店"));
        assert_eq!(issued[0].field("经营者"), Some("张三"));
        assert_eq!(issued[0].field("经营范围"), Some("餐饮服务；预包装食品销售"));
        assert!(host.storage().is_empty(), "the pending licence is cleared once issued");
    }

    #[test]
    fn approval_without_a_submission_is_a_clear_error() {
        let _host = TestHost::from_manifest(MANIFEST).install();
        let err =
            testkit::on_event::<SoleProprietor>(&testkit::context("330106"), "C-404", Event::Approved(String::new()))
                .unwrap_err();
        assert!(matches!(err, Error::NotFound(ref m) if m.contains("C-404")), "{err}");
    }

    #[test]
    fn issuing_needs_the_grant() {
        let manifest = MANIFEST.replace("issue = [\"BUSINESS-LICENCE\"], ", "");
        let _host = TestHost::from_manifest(&manifest).install();
        let ctx = testkit::context("330106");
        testkit::submit::<SoleProprietor>(&ctx, "C-2", &good_form()).unwrap();
        let err = testkit::on_event::<SoleProprietor>(&ctx, "C-2", Event::Approved(String::new())).unwrap_err();
        assert!(
            matches!(err, Error::NotGranted(ref m) if m.contains(LICENCE_TYPE)),
            "{err}"
        );
    }
}
