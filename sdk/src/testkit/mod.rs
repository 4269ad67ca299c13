//! The native test kit: the SDK's capability functions running against an
//! in-memory host, so app logic is unit-tested with plain `cargo test`.
//!
//! The test host enforces the same grants as the platform: it reads the app's
//! own `tongban.toml` with the marketplace's own manifest parser
//! (`tongban_registry::Manifest`), so a manifest the marketplace would refuse
//! as malformed fails the test too, and anything the manifest does not
//! declare is `not-granted`, just as on the real host. Personal data needs a
//! consent set with [`TestHost::with_consent`]. Each test thread has its own
//! host.
//!
//! Each capability has its half of the host in a module here, built from its
//! section of the manifest; [`TestHost`] holds one of each.
//!
//! ```ignore
//! let host = TestHost::from_manifest(include_str!("../tongban.toml")).install();
//! let result = testkit::validate::<MyApp>(&testkit::context("330100"), &json!({...}));
//! assert!(host.logs().is_empty());
//! ```

mod cases;
mod certificates;
mod exchange;
mod identity;
mod log;
mod notify;
mod payments;
mod served;
mod storage;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use tongban_registry::Manifest;

use crate::*;

use cases::TestCases;
use certificates::TestCertificates;
use exchange::TestExchange;
use identity::TestIdentity;
use log::TestLog;
use notify::TestNotify;
use payments::TestPayments;
use served::Served;
use storage::TestStorage;

pub use log::LogLine;
pub use notify::SentMessage;

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
    with_host(|h| h.cases.record_submitted(case, &ctx.item, &text, &h.served));
    crate::dispatch::submit::<A>(ctx, case, &text)
}

/// Call `on-event` the way the host does.
pub fn on_event<A: App>(ctx: &Context, case: &str, event: Event) -> Result<(), Error> {
    crate::dispatch::on_event::<A>(ctx, case, event)
}

/// The in-memory host: whom it serves, the manifest's first item, and each
/// capability's half of the host, built from the manifest's grant.
pub struct TestHost {
    pub(crate) served: Served,
    first_item: String,
    pub(crate) identity: TestIdentity,
    pub(crate) certificates: TestCertificates,
    pub(crate) payments: TestPayments,
    pub(crate) notify: TestNotify,
    pub(crate) cases: TestCases,
    pub(crate) storage: TestStorage,
    pub(crate) exchange: TestExchange,
    pub(crate) log: TestLog,
}

/// A handle on an installed test host, for assertions after the hook ran.
#[derive(Clone)]
pub struct Installed(Rc<RefCell<TestHost>>);

impl Installed {
    /// Lines the app logged, in order.
    pub fn logs(&self) -> Vec<LogLine> {
        self.0.borrow().log.lines.clone()
    }
    /// Certificates the app issued, in order.
    pub fn issued(&self) -> Vec<Certificate> {
        self.0.borrow().certificates.issued.clone()
    }
    /// Messages the app sent, in order.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.0.borrow().notify.sent.clone()
    }
    /// The app's storage.
    pub fn storage(&self) -> BTreeMap<String, Vec<u8>> {
        self.0.borrow().storage.rows.clone()
    }
    /// Payments the app created.
    pub fn payments(&self) -> Vec<Payment> {
        self.0.borrow().payments.all()
    }
    /// Follow-on cases the app opened: (from, item, form).
    pub fn follow_ons(&self) -> Vec<(String, String, String)> {
        self.0.borrow().cases.follow_ons.clone()
    }
    /// Mark a payment as paid, as the provider callback would.
    pub fn settle_payment(&self, id: &str) {
        self.0.borrow_mut().payments.settle(id);
    }
    /// Withdraw a consent mid-test; the next read is `consent-required`.
    pub fn revoke_consent(&self, scope: &str) {
        self.0.borrow_mut().served.consented.remove(scope);
    }
}

impl TestHost {
    /// A host granting exactly what this `tongban.toml` declares.
    ///
    /// # Panics
    ///
    /// When the manifest does not parse as the marketplace parses it (not
    /// TOML, a misspelt or unknown key, a wrong type); a test should fail
    /// loudly then.
    pub fn from_manifest(manifest: &str) -> TestHost {
        let manifest = Manifest::parse(manifest)
            .unwrap_or_else(|e| panic!("tongban.toml of the app under test does not parse: {e}"));
        TestHost {
            served: Served::new(),
            first_item: manifest.items.first().map(|i| i.code.clone()).unwrap_or_default(),
            identity: TestIdentity::new(&manifest),
            certificates: TestCertificates::new(&manifest),
            payments: TestPayments::new(&manifest),
            notify: TestNotify::new(&manifest),
            cases: TestCases::new(&manifest),
            storage: TestStorage::new(&manifest),
            exchange: TestExchange::new(&manifest),
            log: TestLog::default(),
        }
    }

    /// Serve this session.
    pub fn with_session(mut self, session: Session) -> TestHost {
        self.served.session = session;
        self
    }

    /// The subject has this attribute on record.
    pub fn with_attribute(mut self, name: &str, value: &str) -> TestHost {
        self.identity.attributes.insert(name.into(), value.into());
        self
    }

    /// The subject consented to this scope, spelt as on the host:
    /// `identity.attributes/NAME` for an attribute, `certificates/TYPE` for a
    /// certificate type.
    pub fn with_consent(mut self, scope: &str) -> TestHost {
        self.served.consented.insert(scope.into());
        self
    }

    /// The subject holds this certificate.
    pub fn with_certificate(mut self, certificate: Certificate) -> TestHost {
        self.certificates.held.push(certificate);
        self
    }

    /// The app has this case.
    pub fn with_case(mut self, case: CaseInfo) -> TestHost {
        self.cases.cases.insert(case.id.clone(), case);
        self
    }

    /// Answer exchange calls to this service with a function of (operation, request).
    pub fn with_exchange(
        mut self,
        service: &str,
        responder: impl Fn(&str, &[u8]) -> Result<Vec<u8>, Error> + 'static,
    ) -> TestHost {
        self.exchange.responders.insert(service.into(), Box::new(responder));
        self
    }

    /// Make this the host of the current thread.
    pub fn install(self) -> Installed {
        let host = Rc::new(RefCell::new(self));
        CURRENT.with(|c| *c.borrow_mut() = Some(host.clone()));
        Installed(host)
    }
}
