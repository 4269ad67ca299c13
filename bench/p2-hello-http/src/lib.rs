//! A wasi:http proxy component that answers every request with a small,
//! fixed JSON body, shaped like the answer of Tongban's
//! `POST /api/v1/serving/{region}/{app}/validate` (the version that ran, why
//! it serves, and a hook result with no problems). It reads neither the
//! request's headers nor its body: it is the floor a wasi:http host sets for
//! one fresh instance per request, against which the validate route is
//! measured.

use wasip2::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

wasip2::http::proxy::export!(Hello);

/// The answer, about the size of the validate route's for the first demo app.
const ANSWER: &[u8] = br#"{"version":"1.0.0","reason":"active","result":{"hook":"validate","result":{"Ok":null}}}"#;

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
        let headers = Fields::from_list(&[("content-type".to_owned(), b"application/json".to_vec())])
            .expect("content-type is an allowed header");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("a new response's body is taken once");
        ResponseOutparam::set(response_out, Ok(response));
        let out = body.write().expect("a new body's stream is taken once");
        out.blocking_write_and_flush(ANSWER)
            .expect("the host accepts a body this small in one write");
        drop(out);
        OutgoingBody::finish(body, None).expect("the body has no declared length to miss");
    }
}
