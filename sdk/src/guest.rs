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
use bindings::tongban::platform::types as wit_types;

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
