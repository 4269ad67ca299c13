//! The wasm side: bindings generated from `wit/platform.wit`, conversions between
//! them and the SDK's types, and the export adapter behind [`crate::export_app!`].

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// Bindings for the `service-app` world.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "service-app",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_service_app",
        default_bindings_module: "tongban_sdk::guest::bindings",
        runtime_path: "tongban_sdk::guest::__wit_bindgen::rt",
    });
}

use std::marker::PhantomData;

use bindings::exports::tongban::platform::app as wit_app;
use bindings::tongban::platform::{cases as wit_cases, log as wit_log, payments as wit_payments, types as wit_types};
use bindings::tongban::platform::{certificates as wit_certs, identity as wit_identity};

use crate::*;

/// The export adapter: implements the generated `Guest` trait for any [`App`].
pub struct AppExport<A>(PhantomData<A>);

impl<A: App> wit_app::Guest for AppExport<A> {
    fn validate(ctx: wit_app::Context, form: String) -> Result<(), Vec<wit_app::FieldError>> {
        crate::dispatch::validate::<A>(&ctx.into(), &form).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| wit_app::FieldError {
                    field: e.field,
                    message: e.message,
                })
                .collect()
        })
    }

    fn submit(ctx: wit_app::Context, case: String, form: String) -> Result<wit_app::Outcome, wit_types::Error> {
        crate::dispatch::submit::<A>(&ctx.into(), &case, &form)
            .map(|o| match o {
                Outcome::Queued => wit_app::Outcome::Queued,
                Outcome::Approved(s) => wit_app::Outcome::Approved(s),
                Outcome::Denied(s) => wit_app::Outcome::Denied(s),
            })
            .map_err(Into::into)
    }

    fn on_event(ctx: wit_app::Context, case: String, event: wit_app::Event) -> Result<(), wit_types::Error> {
        let event = match event {
            wit_app::Event::Accepted => Event::Accepted,
            wit_app::Event::CorrectionRequested(s) => Event::CorrectionRequested(s),
            wit_app::Event::HandedOff(s) => Event::HandedOff(s),
            wit_app::Event::Paid(s) => Event::Paid(s),
            wit_app::Event::Approved(s) => Event::Approved(s),
            wit_app::Event::Denied(s) => Event::Denied(s),
            wit_app::Event::Withdrawn => Event::Withdrawn,
        };
        crate::dispatch::on_event::<A>(&ctx.into(), &case, event).map_err(Into::into)
    }
}

impl From<wit_app::Context> for Context {
    fn from(c: wit_app::Context) -> Context {
        Context {
            item: c.item,
            locale: c.locale,
            channel: c.channel.into(),
            region: c.region,
        }
    }
}

impl From<wit_types::Channel> for Channel {
    fn from(c: wit_types::Channel) -> Channel {
        match c {
            wit_types::Channel::Web => Channel::Web,
            wit_types::Channel::Mobile => Channel::Mobile,
            wit_types::Channel::Window => Channel::Window,
            wit_types::Channel::Kiosk => Channel::Kiosk,
            wit_types::Channel::Hotline => Channel::Hotline,
        }
    }
}

impl From<wit_types::Assurance> for Assurance {
    fn from(a: wit_types::Assurance) -> Assurance {
        match a {
            wit_types::Assurance::Low => Assurance::Low,
            wit_types::Assurance::Substantial => Assurance::Substantial,
            wit_types::Assurance::High => Assurance::High,
        }
    }
}

impl From<Assurance> for wit_types::Assurance {
    fn from(a: Assurance) -> wit_types::Assurance {
        match a {
            Assurance::Low => wit_types::Assurance::Low,
            Assurance::Substantial => wit_types::Assurance::Substantial,
            Assurance::High => wit_types::Assurance::High,
        }
    }
}

impl From<wit_types::Error> for Error {
    fn from(e: wit_types::Error) -> Error {
        match e {
            wit_types::Error::NotGranted(s) => Error::NotGranted(s),
            wit_types::Error::ConsentRequired(s) => Error::ConsentRequired(s),
            wit_types::Error::AssuranceTooLow(a) => Error::AssuranceTooLow(a.into()),
            wit_types::Error::NotFound(s) => Error::NotFound(s),
            wit_types::Error::Invalid(s) => Error::Invalid(s),
            wit_types::Error::Conflict(s) => Error::Conflict(s),
            wit_types::Error::QuotaExceeded(s) => Error::QuotaExceeded(s),
            wit_types::Error::Unavailable(s) => Error::Unavailable(s),
        }
    }
}

impl From<Error> for wit_types::Error {
    fn from(e: Error) -> wit_types::Error {
        match e {
            Error::NotGranted(s) => wit_types::Error::NotGranted(s),
            Error::ConsentRequired(s) => wit_types::Error::ConsentRequired(s),
            Error::AssuranceTooLow(a) => wit_types::Error::AssuranceTooLow(a.into()),
            Error::NotFound(s) => wit_types::Error::NotFound(s),
            Error::Invalid(s) => wit_types::Error::Invalid(s),
            Error::Conflict(s) => wit_types::Error::Conflict(s),
            Error::QuotaExceeded(s) => wit_types::Error::QuotaExceeded(s),
            Error::Unavailable(s) => wit_types::Error::Unavailable(s),
        }
    }
}

impl From<&Purpose> for wit_types::Purpose {
    fn from(p: &Purpose) -> wit_types::Purpose {
        wit_types::Purpose {
            code: p.code.clone(),
            text: p.text.clone(),
        }
    }
}

impl From<wit_types::Purpose> for Purpose {
    fn from(p: wit_types::Purpose) -> Purpose {
        Purpose {
            code: p.code,
            text: p.text,
        }
    }
}

impl From<wit_identity::Session> for Session {
    fn from(s: wit_identity::Session) -> Session {
        Session {
            subject: s.subject,
            kind: match s.kind {
                wit_identity::SubjectKind::Person => SubjectKind::Person,
                wit_identity::SubjectKind::LegalPerson => SubjectKind::LegalPerson,
            },
            assurance: s.assurance.into(),
            channel: s.channel.into(),
            on_behalf_of: s.on_behalf_of,
            locale: s.locale,
        }
    }
}

impl From<wit_identity::Attribute> for Attribute {
    fn from(a: wit_identity::Attribute) -> Attribute {
        Attribute {
            name: a.name,
            value: a.value,
            source: a.source,
            verified_at: a.verified_at,
        }
    }
}

impl From<wit_certs::Status> for CertificateStatus {
    fn from(s: wit_certs::Status) -> CertificateStatus {
        match s {
            wit_certs::Status::Valid => CertificateStatus::Valid,
            wit_certs::Status::Suspended => CertificateStatus::Suspended,
            wit_certs::Status::Revoked => CertificateStatus::Revoked,
            wit_certs::Status::Cancelled => CertificateStatus::Cancelled,
            wit_certs::Status::Expired => CertificateStatus::Expired,
        }
    }
}

impl From<CertificateStatus> for wit_certs::Status {
    fn from(s: CertificateStatus) -> wit_certs::Status {
        match s {
            CertificateStatus::Valid => wit_certs::Status::Valid,
            CertificateStatus::Suspended => wit_certs::Status::Suspended,
            CertificateStatus::Revoked => wit_certs::Status::Revoked,
            CertificateStatus::Cancelled => wit_certs::Status::Cancelled,
            CertificateStatus::Expired => wit_certs::Status::Expired,
        }
    }
}

impl From<wit_certs::Certificate> for Certificate {
    fn from(c: wit_certs::Certificate) -> Certificate {
        Certificate {
            id: c.id,
            type_code: c.type_code,
            type_name: c.type_name,
            issuer_code: c.issuer_code,
            issuer_name: c.issuer_name,
            holder: c.holder,
            holder_name: c.holder_name,
            issued_at: c.issued_at,
            valid_from: c.valid_from,
            valid_until: c.valid_until,
            status: c.status.into(),
            fields: c.fields,
        }
    }
}

impl From<wit_certs::AnnotatedCopy> for AnnotatedCopy {
    fn from(c: wit_certs::AnnotatedCopy) -> AnnotatedCopy {
        AnnotatedCopy {
            certificate: c.certificate.into(),
            why: c.why.into(),
            expires_at: c.expires_at,
            signature: c.signature,
        }
    }
}

impl From<wit_payments::Payment> for Payment {
    fn from(p: wit_payments::Payment) -> Payment {
        Payment {
            id: p.id,
            case: p.case,
            amount_fen: p.amount_fen,
            description: p.description,
            status: match p.status {
                wit_payments::Status::Created => PaymentStatus::Created,
                wit_payments::Status::Started => PaymentStatus::Started,
                wit_payments::Status::Submitted => PaymentStatus::Submitted,
                wit_payments::Status::Success => PaymentStatus::Success,
                wit_payments::Status::Failed => PaymentStatus::Failed,
                wit_payments::Status::Cancelled => PaymentStatus::Cancelled,
                wit_payments::Status::Error => PaymentStatus::Error,
            },
            refunded_fen: p.refunded_fen,
        }
    }
}

impl From<wit_cases::CaseInfo> for CaseInfo {
    fn from(c: wit_cases::CaseInfo) -> CaseInfo {
        CaseInfo {
            id: c.id,
            item: c.item,
            applicant: c.applicant,
            channel: c.channel.into(),
            stage: match c.stage {
                wit_cases::Stage::Submitted => Stage::Submitted,
                wit_cases::Stage::Accepted => Stage::Accepted,
                wit_cases::Stage::CorrectionRequested => Stage::CorrectionRequested,
                wit_cases::Stage::Rejected => Stage::Rejected,
                wit_cases::Stage::Handling => Stage::Handling,
                wit_cases::Stage::Approved => Stage::Approved,
                wit_cases::Stage::Denied => Stage::Denied,
                wit_cases::Stage::Delivered => Stage::Delivered,
                wit_cases::Stage::Closed => Stage::Closed,
                wit_cases::Stage::Withdrawn => Stage::Withdrawn,
            },
            accepting_org: c.accepting_org,
            handling_org: c.handling_org,
            submitted_at: c.submitted_at,
            due_at: c.due_at,
            form: c.form,
        }
    }
}

impl From<Level> for wit_log::Level {
    fn from(l: Level) -> wit_log::Level {
        match l {
            Level::Debug => wit_log::Level::Debug,
            Level::Info => wit_log::Level::Info,
            Level::Warn => wit_log::Level::Warn,
            Level::Error => wit_log::Level::Error,
        }
    }
}
