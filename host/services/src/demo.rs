//! Demo data for the embedded platform and the tests: the public security
//! bureau that issues resident ID cards and household registers, and demo
//! citizens who hold both. Idempotent: running it again changes nothing.
//!
//! The people are fictitious; their ID numbers carry valid GB 11643 check
//! characters so that apps' checks accept them.

use tongban_registry::market::{Actor, orgs};

use crate::Services;
use crate::certificates::IssueRequest;
use crate::error::{ServiceError, ServiceResult};
use crate::subjects::Subject;

/// The issuer of the demo identity certificates: 杭州市公安局.
pub const PUBLIC_SECURITY_ORG: &str = "113301000024897113";
pub const PUBLIC_SECURITY_NAME: &str = "杭州市公安局";
pub const PUBLIC_SECURITY_REGION: &str = "330100";

/// One demo citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCitizen {
    pub subject: &'static str,
    pub name: &'static str,
    pub id_number: &'static str,
    pub birth_date: &'static str,
    pub gender: &'static str,
    pub phone: &'static str,
    pub email: &'static str,
    pub address: &'static str,
    pub region: &'static str,
}

/// The demo citizens.
pub const CITIZENS: &[DemoCitizen] = &[
    DemoCitizen {
        subject: "citizen-zhang-san",
        name: "张三",
        id_number: "330106199003070014",
        birth_date: "1990-03-07",
        gender: "男",
        phone: "13800138000",
        email: "zhangsan@example.cn",
        address: "浙江省杭州市西湖区文三路90号",
        region: "330106",
    },
    DemoCitizen {
        subject: "citizen-li-si",
        name: "李四",
        id_number: "330102198512120024",
        birth_date: "1985-12-12",
        gender: "女",
        phone: "13900139000",
        email: "lisi@example.cn",
        address: "浙江省杭州市上城区解放路1号",
        region: "330102",
    },
];

/// What seeding made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeded {
    pub subjects: usize,
    pub certificates: usize,
}

impl Services {
    /// Seed the public security bureau, the demo citizens, and their
    /// resident ID card and household register certificates.
    pub async fn seed_demo_citizens(&self) -> ServiceResult<Seeded> {
        // Registering an org is a platform administrator's act.
        let system = Actor {
            role: tongban_registry::release::Role::PlatformAdmin,
            ..Actor::system()
        };
        if orgs::get_org(self.db(), PUBLIC_SECURITY_ORG).await.is_err() {
            orgs::create_org(
                self.db(),
                &system,
                PUBLIC_SECURITY_ORG,
                PUBLIC_SECURITY_NAME,
                PUBLIC_SECURITY_REGION,
            )
            .await
            .map_err(|e| ServiceError::Unavailable(format!("creating the demo issuer: {e}")))?;
        }
        let mut seeded = Seeded::default();
        let now = tongban_store::now_ms();
        for c in CITIZENS {
            self.upsert_subject(&Subject {
                id: c.subject.into(),
                kind: "person".into(),
                name: c.name.into(),
                id_number: Some(c.id_number.into()),
                birth_date: Some(c.birth_date.into()),
                gender: Some(c.gender.into()),
                phone: Some(c.phone.into()),
                email: Some(c.email.into()),
                address: Some(c.address.into()),
                region: c.region.into(),
                assurance: "substantial".into(),
                source: "公安人口库 / public security population register (demo)".into(),
                verified_at: now,
            })
            .await?;
            seeded.subjects += 1;
            let held = self.certificates_held(c.subject, None).await?;
            let fields_id = vec![
                ("姓名".to_owned(), c.name.to_owned()),
                ("性别".to_owned(), c.gender.to_owned()),
                ("出生".to_owned(), c.birth_date.to_owned()),
                ("住址".to_owned(), c.address.to_owned()),
                ("公民身份号码".to_owned(), c.id_number.to_owned()),
            ];
            let fields_household = vec![
                ("户主姓名".to_owned(), c.name.to_owned()),
                ("户别".to_owned(), "家庭户".to_owned()),
                ("住址".to_owned(), c.address.to_owned()),
            ];
            for (type_code, fields, years) in [("ID-CARD", fields_id, 20), ("HOUSEHOLD-REGISTER", fields_household, 0)]
            {
                if held.iter().any(|h| h.type_code == type_code) {
                    continue;
                }
                let valid_from = now - 365 * 86_400_000;
                self.issue_certificate(IssueRequest {
                    type_code: type_code.into(),
                    issuer_code: PUBLIC_SECURITY_ORG.into(),
                    holder: c.subject.into(),
                    holder_name: c.name.into(),
                    valid_from,
                    valid_until: (years > 0).then(|| valid_from + years * 366 * 86_400_000),
                    fields,
                    app: None,
                    case: None,
                    actor: "system:demo".into(),
                })
                .await?;
                seeded.certificates += 1;
            }
        }
        Ok(seeded)
    }
}
