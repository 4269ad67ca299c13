//! The native test kit: the SDK's capability functions running against an
//! in-memory host, so app logic is unit-tested with plain `cargo test`.
//!
//! The test host enforces the same grants as the platform: it reads the app's
//! own `tongban.toml`, and anything the manifest does not declare is
//! `not-granted`, just as on the real host. Personal data needs a consent set
//! with [`TestHost::with_consent`]. Each test thread has its own host.
//!
//! ```ignore
//! let host = TestHost::from_manifest(include_str!("../tongban.toml")).install();
//! let result = testkit::validate::<MyApp>(&testkit::context("330100"), &json!({...}));
//! assert!(host.logs().is_empty());
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::*;

thread_local! {
    static CURRENT: RefCell<Option<Rc<RefCell<TestHost>>>> = const { RefCell::new(None) };
}

/// Run `f` on this thread's installed test host.
///
/// # Panics
///
/// When no host is installed: call [`TestHost::install`] first.
pub fn with_host<R>(f: impl FnOnce(&mut TestHost) -> R) -> R {
    let host = CURRENT
        .with(|c| c.borrow().clone())
        .expect("no test host is installed on this thread: call TestHost::from_manifest(..).install() first");
    let mut host = host.borrow_mut();
    f(&mut host)
}

/// A context for hook calls in tests: web channel, `zh-CN`, the given region,
/// and the manifest's first item.
pub fn context(region: &str) -> Context {
    let item = with_host(|h| h.first_item.clone());
    Context {
        item,
        locale: "zh-CN".into(),
        channel: Channel::Web,
        region: region.into(),
    }
}

/// Call `validate` the way the host does: the form as JSON text.
pub fn validate<A: App>(ctx: &Context, form: &serde_json::Value) -> Result<(), Vec<FieldError>> {
    crate::dispatch::validate::<A>(ctx, &form.to_string())
}

/// Call `submit` the way the host does. As on the host, the case exists
/// when `submit` runs: unless the test added it with [`TestHost::with_case`],
/// it is recorded here (submitted by the session's subject, with this form),
/// so `cases::get` answers it in later hooks.
pub fn submit<A: App>(ctx: &Context, case: &str, form: &serde_json::Value) -> Result<Outcome, Error> {
    let text = form.to_string();
    with_host(|h| {
        if !h.cases.contains_key(case) {
            let applicant = h.session.subject.clone();
            let channel = h.session.channel;
            h.cases.insert(
                case.to_owned(),
                CaseInfo {
                    id: case.to_owned(),
                    item: ctx.item.clone(),
                    applicant,
                    channel,
                    stage: Stage::Submitted,
                    accepting_org: String::new(),
                    handling_org: String::new(),
                    submitted_at: h.now,
                    due_at: None,
                    form: text.clone(),
                },
            );
        }
    });
    crate::dispatch::submit::<A>(ctx, case, &text)
}

/// Call `on-event` the way the host does.
pub fn on_event<A: App>(ctx: &Context, case: &str, event: Event) -> Result<(), Error> {
    crate::dispatch::on_event::<A>(ctx, case, event)
}

/// What the app asked for in its manifest, as far as the test host enforces it.
#[derive(Debug, Clone, Default)]
struct Grants {
    identity: Option<BTreeSet<String>>,
    certificates_read: Option<BTreeSet<String>>,
    certificates_issue: BTreeSet<String>,
    payments_max_fen: Option<u64>,
    notify_templates: Option<BTreeSet<String>>,
    cases_follow_on: Option<BTreeSet<String>>,
    storage_quota_bytes: Option<usize>,
    exchange_services: Option<BTreeSet<String>>,
}

/// A line the app logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    pub message: String,
}

/// A message the app sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub to: String,
    pub template: String,
    pub params: Vec<(String, String)>,
    pub case: Option<String>,
}

type Responder = Box<dyn Fn(&str, &[u8]) -> Result<Vec<u8>, Error>>;

/// The in-memory host.
pub struct TestHost {
    grants: Grants,
    first_item: String,
    session: Session,
    attributes: BTreeMap<String, String>,
    consented: BTreeSet<String>,
    storage: BTreeMap<String, Vec<u8>>,
    logs: Vec<LogLine>,
    certificates: Vec<Certificate>,
    issued: Vec<Certificate>,
    sent: Vec<SentMessage>,
    payments: BTreeMap<String, (Payment, String)>,
    cases: BTreeMap<String, CaseInfo>,
    follow_ons: Vec<(String, String, String)>,
    responders: BTreeMap<String, Responder>,
    now: Timestamp,
}

/// A handle on an installed test host, for assertions after the hook ran.
#[derive(Clone)]
pub struct Installed(Rc<RefCell<TestHost>>);

impl Installed {
    /// Lines the app logged, in order.
    pub fn logs(&self) -> Vec<LogLine> {
        self.0.borrow().logs.clone()
    }
    /// Certificates the app issued, in order.
    pub fn issued(&self) -> Vec<Certificate> {
        self.0.borrow().issued.clone()
    }
    /// Messages the app sent, in order.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.0.borrow().sent.clone()
    }
    /// The app's storage.
    pub fn storage(&self) -> BTreeMap<String, Vec<u8>> {
        self.0.borrow().storage.clone()
    }
    /// Payments the app created.
    pub fn payments(&self) -> Vec<Payment> {
        self.0.borrow().payments.values().map(|(p, _)| p.clone()).collect()
    }
    /// Follow-on cases the app opened: (from, item, form).
    pub fn follow_ons(&self) -> Vec<(String, String, String)> {
        self.0.borrow().follow_ons.clone()
    }
    /// Mark a payment as paid, as the provider callback would.
    pub fn settle_payment(&self, id: &str) {
        if let Some((p, _)) = self.0.borrow_mut().payments.get_mut(id) {
            p.status = PaymentStatus::Success;
        }
    }
    /// Withdraw a consent mid-test; the next read is `consent-required`.
    pub fn revoke_consent(&self, scope: &str) {
        self.0.borrow_mut().consented.remove(scope);
    }
}

impl TestHost {
    /// A host granting exactly what this `tongban.toml` declares.
    ///
    /// # Panics
    ///
    /// When the manifest is not valid TOML; a test should fail loudly then.
    pub fn from_manifest(manifest: &str) -> TestHost {
        let doc: toml::Table = manifest
            .parse()
            .expect("tongban.toml of the app under test is not valid TOML");
        let caps = doc
            .get("capabilities")
            .and_then(|c| c.as_table())
            .cloned()
            .unwrap_or_default();
        let strings = |v: Option<&toml::Value>| -> BTreeSet<String> {
            v.and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        let section = |name: &str| caps.get(name).and_then(|v| v.as_table());
        let grants = Grants {
            identity: section("identity").map(|t| strings(t.get("attributes"))),
            certificates_read: section("certificates").map(|t| strings(t.get("read"))),
            certificates_issue: section("certificates")
                .map(|t| strings(t.get("issue")))
                .unwrap_or_default(),
            payments_max_fen: section("payments")
                .map(|t| t.get("max-amount-fen").and_then(|v| v.as_integer()).unwrap_or(0).max(0) as u64),
            notify_templates: section("notify").map(|t| {
                t.get("templates")
                    .and_then(|v| v.as_table())
                    .map(|t| t.keys().cloned().collect())
                    .unwrap_or_default()
            }),
            cases_follow_on: section("cases").map(|t| strings(t.get("follow-on"))),
            storage_quota_bytes: section("storage")
                .map(|t| t.get("quota-kib").and_then(|v| v.as_integer()).unwrap_or(0).max(0) as usize * 1024),
            exchange_services: section("exchange").map(|t| strings(t.get("services"))),
        };
        let first_item = doc
            .get("items")
            .and_then(|i| i.as_array())
            .and_then(|a| a.first())
            .and_then(|i| i.get("code"))
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_owned();
        TestHost {
            grants,
            first_item,
            session: Session {
                subject: "test-subject".into(),
                kind: SubjectKind::Person,
                assurance: Assurance::Substantial,
                channel: Channel::Web,
                on_behalf_of: None,
                locale: "zh-CN".into(),
            },
            attributes: BTreeMap::new(),
            consented: BTreeSet::new(),
            storage: BTreeMap::new(),
            logs: Vec::new(),
            certificates: Vec::new(),
            issued: Vec::new(),
            sent: Vec::new(),
            payments: BTreeMap::new(),
            cases: BTreeMap::new(),
            follow_ons: Vec::new(),
            responders: BTreeMap::new(),
            now: 1_767_225_600_000,
        }
    }

    /// Serve this session.
    pub fn with_session(mut self, session: Session) -> TestHost {
        self.session = session;
        self
    }

    /// The subject has this attribute on record.
    pub fn with_attribute(mut self, name: &str, value: &str) -> TestHost {
        self.attributes.insert(name.into(), value.into());
        self
    }

    /// The subject consented to this scope, spelt as on the host:
    /// `identity.attributes/NAME` for an attribute, `certificates/TYPE` for a
    /// certificate type.
    pub fn with_consent(mut self, scope: &str) -> TestHost {
        self.consented.insert(scope.into());
        self
    }

    /// The subject holds this certificate.
    pub fn with_certificate(mut self, certificate: Certificate) -> TestHost {
        self.certificates.push(certificate);
        self
    }

    /// The app has this case.
    pub fn with_case(mut self, case: CaseInfo) -> TestHost {
        self.cases.insert(case.id.clone(), case);
        self
    }

    /// Answer exchange calls to this service with a function of (operation, request).
    pub fn with_exchange(
        mut self,
        service: &str,
        responder: impl Fn(&str, &[u8]) -> Result<Vec<u8>, Error> + 'static,
    ) -> TestHost {
        self.responders.insert(service.into(), Box::new(responder));
        self
    }

    /// Make this the host of the current thread.
    pub fn install(self) -> Installed {
        let host = Rc::new(RefCell::new(self));
        CURRENT.with(|c| *c.borrow_mut() = Some(host.clone()));
        Installed(host)
    }

    pub(crate) fn log(&mut self, level: Level, message: &str) {
        self.logs.push(LogLine {
            level,
            message: message.into(),
        });
    }

    pub(crate) fn identity_current(&mut self) -> Result<Session, Error> {
        if self.grants.identity.is_none() {
            return Err(Error::NotGranted("identity".into()));
        }
        Ok(self.session.clone())
    }

    pub(crate) fn identity_attributes(&mut self, names: &[&str], why: &Purpose) -> Result<Vec<Attribute>, Error> {
        let declared = self
            .grants
            .identity
            .as_ref()
            .ok_or_else(|| Error::NotGranted("identity".into()))?;
        if why.code.trim().is_empty() {
            return Err(Error::Invalid("a purpose code is required".into()));
        }
        names
            .iter()
            .map(|name| {
                if !declared.contains(*name) {
                    return Err(Error::NotGranted(format!("identity attribute `{name}`")));
                }
                let scope = format!("identity.attributes/{name}");
                if !self.consented.contains(&scope) {
                    return Err(Error::ConsentRequired(scope));
                }
                let value = self
                    .attributes
                    .get(*name)
                    .ok_or_else(|| Error::NotFound(format!("attribute `{name}`")))?;
                Ok(Attribute {
                    name: (*name).into(),
                    value: value.clone(),
                    source: "testkit".into(),
                    verified_at: self.now,
                })
            })
            .collect()
    }

    pub(crate) fn storage_get(&mut self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        self.storage_quota()?;
        Ok(self.storage.get(key).cloned())
    }

    pub(crate) fn storage_set(&mut self, key: &str, value: &[u8]) -> Result<(), Error> {
        let quota = self.storage_quota()?;
        if key.is_empty() || key.len() > 256 {
            return Err(Error::Invalid("storage keys are 1 to 256 bytes".into()));
        }
        let used: usize = self
            .storage
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if used + key.len() + value.len() > quota {
            return Err(Error::QuotaExceeded(format!("storage quota of {} KiB", quota / 1024)));
        }
        self.storage.insert(key.into(), value.into());
        Ok(())
    }

    pub(crate) fn storage_delete(&mut self, key: &str) -> Result<(), Error> {
        self.storage_quota()?;
        self.storage.remove(key);
        Ok(())
    }

    pub(crate) fn storage_keys(&mut self, prefix: &str) -> Result<Vec<String>, Error> {
        self.storage_quota()?;
        Ok(self
            .storage
            .keys()
            .filter(|k| k.starts_with(prefix))
            .take(1000)
            .cloned()
            .collect())
    }

    fn storage_quota(&self) -> Result<usize, Error> {
        self.grants
            .storage_quota_bytes
            .ok_or_else(|| Error::NotGranted("storage".into()))
    }

    pub(crate) fn certificates_held(&mut self, type_codes: &[&str], _why: &Purpose) -> Result<Vec<Certificate>, Error> {
        let readable = self
            .grants
            .certificates_read
            .as_ref()
            .ok_or_else(|| Error::NotGranted("certificates".into()))?;
        for code in type_codes {
            if !readable.contains(*code) {
                return Err(Error::NotGranted(format!("reading certificates of type `{code}`")));
            }
            let scope = format!("certificates/{code}");
            if !self.consented.contains(&scope) {
                return Err(Error::ConsentRequired(scope));
            }
        }
        Ok(self
            .certificates
            .iter()
            .filter(|c| type_codes.contains(&c.type_code.as_str()))
            .cloned()
            .collect())
    }

    pub(crate) fn certificates_copy(&mut self, id: &str, why: &Purpose) -> Result<AnnotatedCopy, Error> {
        let certificate = self
            .certificates
            .iter()
            .find(|c| c.id == id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("certificate `{id}`")))?;
        self.certificates_held(&[certificate.type_code.as_str()], why)?;
        Ok(AnnotatedCopy {
            certificate,
            why: why.clone(),
            expires_at: self.now + 86_400_000,
            signature: "testkit-unsigned".into(),
        })
    }

    pub(crate) fn certificates_verify(&mut self, id: &str) -> Result<CertificateStatus, Error> {
        if self.grants.certificates_read.is_none() {
            return Err(Error::NotGranted("certificates".into()));
        }
        self.certificates
            .iter()
            .chain(&self.issued)
            .find(|c| c.id == id)
            .map(|c| c.status)
            .ok_or_else(|| Error::NotFound(format!("certificate `{id}`")))
    }

    pub(crate) fn certificates_issue(
        &mut self,
        case: &str,
        type_code: &str,
        valid_until: Option<Timestamp>,
        fields: &[(String, String)],
    ) -> Result<Certificate, Error> {
        if self.grants.certificates_read.is_none() {
            return Err(Error::NotGranted("certificates".into()));
        }
        if !self.grants.certificates_issue.contains(type_code) {
            return Err(Error::NotGranted(format!("issuing certificates of type `{type_code}`")));
        }
        let holder_name = fields
            .iter()
            .find(|(k, _)| k == "holder-name")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let certificate = Certificate {
            id: format!("TEST-{type_code}-{:04}", self.issued.len() + 1),
            type_code: type_code.into(),
            type_name: type_code.into(),
            issuer_code: "TESTKIT".into(),
            issuer_name: "测试发证机关 / test issuer".into(),
            holder: self.session.subject.clone(),
            holder_name,
            issued_at: self.now,
            valid_from: self.now,
            valid_until,
            status: CertificateStatus::Valid,
            fields: fields.to_vec(),
        };
        let _ = case;
        self.issued.push(certificate.clone());
        Ok(certificate)
    }

    pub(crate) fn certificates_set_status(
        &mut self,
        id: &str,
        status: CertificateStatus,
        reason: &str,
    ) -> Result<(), Error> {
        if reason.trim().is_empty() {
            return Err(Error::Invalid("a status change needs a reason".into()));
        }
        let certificate = self
            .issued
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or_else(|| Error::NotFound(format!("certificate `{id}` issued by this app")))?;
        certificate.status = status;
        Ok(())
    }

    pub(crate) fn payments_create(
        &mut self,
        case: &str,
        amount_fen: u64,
        description: &str,
        key: &str,
    ) -> Result<Payment, Error> {
        let max = self
            .grants
            .payments_max_fen
            .ok_or_else(|| Error::NotGranted("payments".into()))?;
        if amount_fen == 0 || amount_fen > max {
            return Err(Error::Invalid(format!("amount must be 1..={max} fen")));
        }
        let body = format!("{case}\n{amount_fen}\n{description}");
        if let Some((payment, existing)) = self.payments.values().find(|(p, _)| p.id == format!("PAY-{key}")) {
            return if *existing == body {
                Ok(payment.clone())
            } else {
                Err(Error::Conflict(format!(
                    "idempotency key `{key}` was used with a different body"
                )))
            };
        }
        let payment = Payment {
            id: format!("PAY-{key}"),
            case: case.into(),
            amount_fen,
            description: description.into(),
            status: PaymentStatus::Created,
            refunded_fen: 0,
        };
        self.payments.insert(payment.id.clone(), (payment.clone(), body));
        Ok(payment)
    }

    pub(crate) fn payments_get(&mut self, id: &str) -> Result<Payment, Error> {
        self.grants
            .payments_max_fen
            .ok_or_else(|| Error::NotGranted("payments".into()))?;
        self.payments
            .get(id)
            .map(|(p, _)| p.clone())
            .ok_or_else(|| Error::NotFound(format!("payment `{id}`")))
    }

    pub(crate) fn payments_refund(&mut self, id: &str, amount_fen: u64, _key: &str) -> Result<Payment, Error> {
        self.grants
            .payments_max_fen
            .ok_or_else(|| Error::NotGranted("payments".into()))?;
        let (payment, _) = self
            .payments
            .get_mut(id)
            .ok_or_else(|| Error::NotFound(format!("payment `{id}`")))?;
        if payment.status != PaymentStatus::Success {
            return Err(Error::Conflict("only a successful payment can be refunded".into()));
        }
        let remaining = payment.amount_fen - payment.refunded_fen;
        if amount_fen == 0 || amount_fen > remaining {
            return Err(Error::Invalid(format!("refund must be 1..={remaining} fen")));
        }
        payment.refunded_fen += amount_fen;
        Ok(payment.clone())
    }

    pub(crate) fn notify_send(
        &mut self,
        to: &str,
        template: &str,
        params: &[(String, String)],
        case: Option<&str>,
    ) -> Result<String, Error> {
        let templates = self
            .grants
            .notify_templates
            .as_ref()
            .ok_or_else(|| Error::NotGranted("notify".into()))?;
        if !templates.contains(template) {
            return Err(Error::NotGranted(format!("notify template `{template}`")));
        }
        self.sent.push(SentMessage {
            to: to.into(),
            template: template.into(),
            params: params.to_vec(),
            case: case.map(str::to_owned),
        });
        Ok(format!("MSG-{}", self.sent.len()))
    }

    pub(crate) fn cases_get(&mut self, id: &str) -> Result<CaseInfo, Error> {
        self.grants
            .cases_follow_on
            .as_ref()
            .ok_or_else(|| Error::NotGranted("cases".into()))?;
        self.cases
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("case `{id}`")))
    }

    pub(crate) fn cases_start_follow_on(&mut self, from: &str, item: &str, form: &str) -> Result<String, Error> {
        let allowed = self
            .grants
            .cases_follow_on
            .as_ref()
            .ok_or_else(|| Error::NotGranted("cases".into()))?;
        if !allowed.contains(item) {
            return Err(Error::NotGranted(format!("follow-on item `{item}`")));
        }
        if !self.cases.contains_key(from) {
            return Err(Error::NotFound(format!("case `{from}`")));
        }
        self.follow_ons.push((from.into(), item.into(), form.into()));
        Ok(format!("{from}-F{}", self.follow_ons.len()))
    }

    pub(crate) fn exchange_call(
        &mut self,
        service: &str,
        operation: &str,
        request: &[u8],
        _why: &Purpose,
        _case: Option<&str>,
    ) -> Result<Vec<u8>, Error> {
        let services = self
            .grants
            .exchange_services
            .as_ref()
            .ok_or_else(|| Error::NotGranted("exchange".into()))?;
        if !services.contains(service) {
            return Err(Error::NotGranted(format!("exchange service `{service}`")));
        }
        let responder = self.responders.get(service).ok_or_else(|| {
            Error::Unavailable(format!(
                "no test responder for `{service}`: use TestHost::with_exchange"
            ))
        })?;
        responder(operation, request)
    }
}
