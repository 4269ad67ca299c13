//! 个体工商户设立登记: register a sole proprietorship.
//!
//! - `validate` makes the checks a registration clerk makes: the operator's ID
//!   number (GB 11643 check character), the trade name (字号: length, script,
//!   forbidden words), premises inside the serving region, and a business scope.
//! - `submit` takes the operator's identity from the platform instead of an
//!   uploaded scan (免提交): the verified name and masked ID number, under the
//!   citizen's consent, must match the form, and a valid resident ID card
//!   certificate must be on record. It asks for the licence fee and queues the
//!   case for the accepting org as a commitment item (承诺件).
//! - `on-event` tells the applicant when the case is accepted, and issues the
//!   electronic business licence when it is approved. It reads the submitted
//!   form back from the platform (`cases.get`) rather than copying it into app
//!   storage, so the app keeps no per-case state and the number of open cases
//!   is not bounded by a storage quota.

pub mod rules;

use serde::{Deserialize, Serialize};
use tongban_sdk::{
    App, Certificate, CertificateStatus, Context, Error, Event, FieldError, Outcome, Purpose, cases, certificates,
    identity, log, notify, payments,
};

/// The certificate type this app issues.
pub const LICENCE_TYPE: &str = "BUSINESS-LICENCE";
/// The certificate that proves the operator's identity.
pub const ID_CARD_TYPE: &str = "ID-CARD";
/// The fee for the paper copy of the licence, in fen (¥10.00).
pub const LICENCE_FEE_FEN: u64 = 1000;

/// Why the app reads the operator's identity: the item being applied for.
pub fn purpose(ctx: &Context) -> Purpose {
    Purpose::new(
        ctx.item.clone(),
        "个体工商户设立登记：核验经营者身份 / sole proprietorship registration: verify the operator's identity",
    )
}

/// An ID number as the platform releases it: the first four and last four
/// characters, the rest starred.
pub fn masked(id_number: &str) -> String {
    let chars: Vec<char> = id_number.trim().chars().collect();
    if chars.len() != 18 {
        return String::new();
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if (4..14).contains(&i) {
                '*'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

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

/// The case as `on-event` reads it back: the applicant's handle and the form
/// the platform stored with the case.
struct SubmittedCase {
    applicant: String,
    form: Application,
}

fn submitted(case: &str) -> Result<SubmittedCase, Error> {
    let info = cases::get(case)?;
    let form = serde_json::from_str(&info.form)
        .map_err(|e| Error::Invalid(format!("the stored form of case {case} does not read: {e}")))?;
    Ok(SubmittedCase {
        applicant: info.applicant,
        form,
    })
}

/// The applicant's valid resident ID card, read under their consent for this item.
fn valid_id_card(ctx: &Context) -> Result<Certificate, Error> {
    certificates::held(&[ID_CARD_TYPE], &purpose(ctx))?
        .into_iter()
        .find(|c| c.status == CertificateStatus::Valid)
        .ok_or_else(|| Error::NotFound("没有有效的居民身份证电子证照 / no valid resident ID card on record".into()))
}

/// The business scope as printed on the licence.
fn printed_scope(business: &Business) -> String {
    business
        .scope
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("；")
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
        let why = purpose(ctx);
        let attributes = identity::attributes(&["name", "id-number-masked"], &why)?;
        let value = |name: &str| {
            attributes
                .iter()
                .find(|a| a.name == name)
                .map(|a| a.value.clone())
                .unwrap_or_default()
        };
        if value("name") != form.operator.name.trim() {
            return Err(Error::Invalid(
                "operator/name: 经营者姓名与实名信息不一致 / the operator's name differs from the verified identity"
                    .into(),
            ));
        }
        if value("id-number-masked") != masked(&form.operator.id_number) {
            return Err(Error::Invalid(
                "operator/id-number: 身份证号与实名信息不一致 / the ID number differs from the verified identity"
                    .into(),
            ));
        }
        valid_id_card(ctx)?;
        payments::create(
            case,
            LICENCE_FEE_FEN,
            "营业执照纸质副本工本费 / fee for the paper copy of the licence",
            &format!("licence-fee/{case}"),
        )?;
        log::info(&format!(
            "case {case} queued as a commitment item for {}",
            registered_name(&ctx.region, &form.business)
        ));
        Ok(Outcome::Queued)
    }

    fn on_event(ctx: &Context, case: &str, event: Event) -> Result<(), Error> {
        match event {
            Event::Accepted => {
                let submitted = submitted(case)?;
                let params = vec![
                    (
                        "trade-name".to_owned(),
                        submitted.form.business.trade_name.trim().to_owned(),
                    ),
                    ("case".to_owned(), case.to_owned()),
                ];
                notify::send(&submitted.applicant, "accepted", &params, Some(case))?;
                Ok(())
            }
            Event::Paid(payment) => {
                log::info(&format!("case {case}: fee paid ({payment})"));
                Ok(())
            }
            Event::HandedOff(org) => {
                log::info(&format!("case {case}: handed off to {org}"));
                Ok(())
            }
            Event::Approved(_) => {
                let SubmittedCase { form, .. } = submitted(case)?;
                // The ID card was verified when the case was submitted; if the
                // citizen's consent has ended since, the licence still
                // issues, saying so, rather than failing the approval.
                let verified = valid_id_card(ctx)
                    .map(|card| card.id)
                    .unwrap_or_else(|_| "申请时已核验 / verified at application".to_owned());
                let operator = form.operator.name.trim().to_owned();
                let fields = vec![
                    ("名称".to_owned(), registered_name(&ctx.region, &form.business)),
                    ("经营者".to_owned(), operator.clone()),
                    ("组成形式".to_owned(), "个人经营".to_owned()),
                    ("经营场所".to_owned(), form.business.address.trim().to_owned()),
                    ("经营范围".to_owned(), printed_scope(&form.business)),
                    ("身份核验".to_owned(), verified),
                    ("holder-name".to_owned(), operator),
                ];
                let licence = certificates::issue(case, LICENCE_TYPE, None, &fields)?;
                log::info(&format!("case {case}: business licence {} issued", licence.id));
                Ok(())
            }
            Event::Denied(reason) | Event::CorrectionRequested(reason) => {
                log::info(&format!("case {case}: {reason}"));
                Ok(())
            }
            Event::Withdrawn => Ok(()),
        }
    }
}

tongban_sdk::export_app!(SoleProprietor);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tongban_sdk::testkit::{self, TestHost};
    use tongban_sdk::{Certificate, CertificateStatus};

    const MANIFEST: &str = include_str!("../tongban.toml");

    fn id_card() -> Certificate {
        Certificate {
            id: "ID-CARD.113301000024897113.00000001.01X".into(),
            type_code: ID_CARD_TYPE.into(),
            type_name: "居民身份证".into(),
            issuer_code: "113301000024897113".into(),
            issuer_name: "杭州市公安局".into(),
            holder: "test-subject".into(),
            holder_name: "张三".into(),
            issued_at: 0,
            valid_from: 0,
            valid_until: None,
            status: CertificateStatus::Valid,
            fields: vec![],
        }
    }

    /// A host where 张三 is signed in, with a verified identity and ID card,
    /// and has consented to both reads.
    fn consenting(manifest: &str) -> TestHost {
        TestHost::from_manifest(manifest)
            .with_attribute("name", "张三")
            .with_attribute("id-number-masked", &masked("11010519491231002X"))
            .with_consent("identity.attributes/name")
            .with_consent("identity.attributes/id-number-masked")
            .with_consent("certificates/ID-CARD")
            .with_certificate(id_card())
    }

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
        let host = consenting(MANIFEST).install();
        let ctx = testkit::context("330106");
        let outcome = testkit::submit::<SoleProprietor>(&ctx, "C-1", &good_form()).unwrap();
        assert_eq!(outcome, Outcome::Queued);
        assert!(host.storage().is_empty(), "the app keeps no per-case state");
        let fees = host.payments();
        assert_eq!(fees.len(), 1);
        assert_eq!(fees[0].amount_fen, LICENCE_FEE_FEN);

        testkit::on_event::<SoleProprietor>(&ctx, "C-1", Event::Accepted).unwrap();
        let sent = host.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].template, "accepted");
        assert_eq!(sent[0].to, "test-subject");
        assert!(
            sent[0]
                .params
                .contains(&("trade-name".to_owned(), "西湖小厨".to_owned()))
        );

        testkit::on_event::<SoleProprietor>(&ctx, "C-1", Event::Approved("准予登记".into())).unwrap();
        let issued = host.issued();
        assert_eq!(issued.len(), 1);
        assert_eq!(issued[0].type_code, LICENCE_TYPE);
        assert_eq!(issued[0].field("名称"), Some("杭州市西湖区西湖小厨餐饮店"));
        assert_eq!(issued[0].field("经营者"), Some("张三"));
        assert_eq!(issued[0].field("经营范围"), Some("餐饮服务；预包装食品销售"));
        assert_eq!(issued[0].field("身份核验"), Some(id_card().id.as_str()));
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
        let _host = consenting(&manifest).install();
        let ctx = testkit::context("330106");
        testkit::submit::<SoleProprietor>(&ctx, "C-2", &good_form()).unwrap();
        let err = testkit::on_event::<SoleProprietor>(&ctx, "C-2", Event::Approved(String::new())).unwrap_err();
        assert!(
            matches!(err, Error::NotGranted(ref m) if m.contains(LICENCE_TYPE)),
            "{err}"
        );
    }

    #[test]
    fn without_consent_the_submission_is_refused_with_consent_required() {
        let _host = TestHost::from_manifest(MANIFEST)
            .with_attribute("name", "张三")
            .with_certificate(id_card())
            .install();
        let err = testkit::submit::<SoleProprietor>(&testkit::context("330106"), "C-3", &good_form()).unwrap_err();
        assert!(
            matches!(err, Error::ConsentRequired(ref s) if s == "identity.attributes/name"),
            "{err}"
        );
    }

    #[test]
    fn a_name_that_differs_from_the_verified_identity_is_refused() {
        let _host = consenting(MANIFEST).install();
        let mut form = good_form();
        form["operator"]["name"] = json!("李四");
        let err = testkit::submit::<SoleProprietor>(&testkit::context("330106"), "C-4", &form).unwrap_err();
        assert!(
            matches!(err, Error::Invalid(ref m) if m.starts_with("operator/name")),
            "{err}"
        );
    }

    #[test]
    fn without_an_id_card_on_record_the_submission_is_refused() {
        let _host = TestHost::from_manifest(MANIFEST)
            .with_attribute("name", "张三")
            .with_attribute("id-number-masked", &masked("11010519491231002X"))
            .with_consent("identity.attributes/name")
            .with_consent("identity.attributes/id-number-masked")
            .with_consent("certificates/ID-CARD")
            .install();
        let err = testkit::submit::<SoleProprietor>(&testkit::context("330106"), "C-5", &good_form()).unwrap_err();
        assert!(matches!(err, Error::NotFound(ref m) if m.contains("ID card")), "{err}");
    }

    #[test]
    fn masking_keeps_four_and_four() {
        assert_eq!(masked("11010519491231002x"), "1101**********002X");
        assert_eq!(masked("123"), "");
    }
}
