//! The hooks as the host calls them: JSON in, typed app code, values out. The
//! wasm export adapter and the test kit both go through these functions, so a
//! unit test exercises exactly the parsing a deployed app does.

use crate::{App, Context, Error, Event, FieldError, Outcome};

/// The field name used for problems with the form as a whole.
pub const WHOLE_FORM: &str = "";

fn parse<A: App>(form: &str) -> Result<A::Form, String> {
    serde_json::from_str(form).map_err(|e| format!("表单无法解析 / the form does not match this app: {e}"))
}

/// `validate`: parse the form, then run the app's checks.
pub fn validate<A: App>(ctx: &Context, form: &str) -> Result<(), Vec<FieldError>> {
    let form = parse::<A>(form).map_err(|m| vec![FieldError::new(WHOLE_FORM, m)])?;
    A::validate(ctx, &form)
}

/// `submit`: parse the form and hand it to the app.
pub fn submit<A: App>(ctx: &Context, case: &str, form: &str) -> Result<Outcome, Error> {
    let form = parse::<A>(form).map_err(Error::Invalid)?;
    A::submit(ctx, case, form)
}

/// `on-event`: hand the event to the app.
pub fn on_event<A: App>(ctx: &Context, case: &str, event: Event) -> Result<(), Error> {
    A::on_event(ctx, case, event)
}
