//! The HTTP API under `/api/v1/`. Every route is listed here, in [`router`];
//! each handler is thin (extract, authorize via the marketplace, act,
//! respond). Errors use one envelope ([`error`]). The OpenAPI document is
//! generated from the handlers' annotations and served at
//! `/api/v1/openapi.json`.

pub mod apps;
pub mod audit;
pub mod auth;
pub mod case_events;
pub mod cases;
pub mod catalog;
pub mod certificates;
pub mod consents;
pub mod error;
pub mod inbox;
pub mod nodes;
pub mod orgs;
pub mod payments;
pub mod provenance;
pub mod reviews;
pub mod serving;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use utoipa::OpenApi;

pub use crate::state::AppState;

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tongban 通办 API",
        description = "The marketplace and serving API of the Tongban platform."
    ),
    paths(
        orgs::create,
        orgs::list,
        orgs::add_namespace,
        orgs::register_key,
        orgs::list_keys,
        orgs::rotate_key,
        orgs::revoke_key,
        apps::publish,
        apps::withdraw,
        apps::release,
        apps::deployments,
        nodes::list,
        reviews::queue,
        reviews::show,
        reviews::decide,
        audit::recent,
        audit::verify,
        catalog::list,
        serving::which,
        serving::validate,
        consents::request,
        consents::grant,
        consents::deny,
        consents::revoke,
        consents::mine,
        cases::apply,
        cases::show,
        cases::mine,
        cases::queue,
        cases::step,
        case_events::parked,
        case_events::requeue,
        certificates::mine,
        certificates::copy,
        certificates::seal_key,
        certificates::status,
        certificates::set_status,
        inbox::list,
        inbox::read,
        payments::callback,
        payments::reconciliation,
        provenance::list,
        openapi,
    ),
    components(schemas(
        error::ErrorEnvelope,
        error::ErrorBody,
        orgs::CreateOrg,
        orgs::AddNamespace,
        orgs::RegisterKey,
        orgs::KeyId,
        orgs::RevokeKey,
        orgs::Quarantined,
        apps::Outcome,
        nodes::NodesAnswer,
        audit::Verification,
        serving::ValidateRequest,
        consents::ConsentRequest,
        consents::Grant,
        cases::Application,
        cases::StepRequest,
        serving::ValidateResponse,
        case_events::ParkedAnswer,
        case_events::Requeued,
        certificates::StatusAnswer,
        certificates::SealKeyAnswer,
        certificates::StatusChange,
        provenance::ProvenanceAnswer
    ))
)]
pub struct ApiDoc;

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    responses(
        (status = 200, description = "this document; public", body = Object),
    )
)]
async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// `GET /metrics`: Prometheus text. Per-app figures only; no personal data.
async fn metrics(axum::extract::State(s): axum::extract::State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    let upload_limit = state.max_upload_bytes;
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/orgs", post(orgs::create).get(orgs::list))
        .route("/api/v1/orgs/{code}/namespaces", post(orgs::add_namespace))
        .route(
            "/api/v1/orgs/{code}/keys",
            post(orgs::register_key).get(orgs::list_keys),
        )
        .route("/api/v1/orgs/{code}/keys/{key_id}/rotate", post(orgs::rotate_key))
        .route("/api/v1/orgs/{code}/keys/{key_id}/revoke", post(orgs::revoke_key))
        .route("/api/v1/apps", post(apps::publish))
        .route("/api/v1/apps/{app}/versions/{version}/withdraw", post(apps::withdraw))
        .route("/api/v1/apps/{app}/versions/{version}/release", post(apps::release))
        .route("/api/v1/apps/{app}/deployments", get(apps::deployments))
        .route("/api/v1/nodes", get(nodes::list))
        .route("/api/v1/reviews", get(reviews::queue))
        .route("/api/v1/reviews/{app}/{version}", get(reviews::show))
        .route("/api/v1/reviews/{app}/{version}/decision", post(reviews::decide))
        .route("/api/v1/audit", get(audit::recent))
        .route("/api/v1/audit/verify", get(audit::verify))
        .route("/api/v1/catalog", get(catalog::list))
        .route("/api/v1/serving/{region}/{app}", get(serving::which))
        .route("/api/v1/serving/{region}/{app}/validate", post(serving::validate))
        .route("/api/v1/consents", post(consents::request))
        .route("/api/v1/consents/{id}/grant", post(consents::grant))
        .route("/api/v1/consents/{id}/deny", post(consents::deny))
        .route("/api/v1/consents/{id}/revoke", post(consents::revoke))
        .route("/api/v1/me/consents", get(consents::mine))
        .route("/api/v1/applications", post(cases::apply))
        .route("/api/v1/cases", get(cases::queue))
        .route("/api/v1/cases/{id}", get(cases::show))
        .route("/api/v1/cases/{id}/steps", post(cases::step))
        .route("/api/v1/me/cases", get(cases::mine))
        .route("/api/v1/case-events/parked", get(case_events::parked))
        .route("/api/v1/case-events/{case}/{seq}/requeue", post(case_events::requeue))
        .route("/api/v1/me/certificates", get(certificates::mine))
        .route("/api/v1/me/certificates/{id}/copy", get(certificates::copy))
        .route("/api/v1/certificates/seal-key", get(certificates::seal_key))
        .route(
            "/api/v1/certificates/{id}/status",
            get(certificates::status).post(certificates::set_status),
        )
        .route("/api/v1/me/inbox", get(inbox::list))
        .route("/api/v1/me/inbox/{id}/read", post(inbox::read))
        .route("/api/v1/payments/callbacks/{provider}", post(payments::callback))
        .route("/api/v1/payments/reconciliation", get(payments::reconciliation))
        .route("/api/v1/provenance", get(provenance::list))
        .route("/metrics", get(metrics))
        .merge(crate::web::router())
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(axum::middleware::map_response(error::envelope_rejections))
        .layer(axum::middleware::from_fn(crate::request_log::log_request))
        .with_state(state)
}
