//! The OpenAPI 3.1 document of the API, generated from the handlers'
//! `#[utoipa::path]` annotations and their request and response types;
//! served at `GET /openapi.json` (no login), and shown by Swagger UI at
//! `/docs/` (shipped inside the binary: the page loads nothing from outside).
//!
//! Every route of [`super::routes::ROUTES`] must be listed in `paths(...)`
//! below: `tests/openapi.rs` fails on a route mounted and not documented, or
//! documented and not mounted.

use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    admin, attachments, auth, cases, desk, duplicates, edits, handover, health, imports, inbox,
    insight, records, reports, session, sync, webhooks,
};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "gridsync",
        description = "An offline-first sync service for grid-based community safety work. \
            This document is generated from the server's handlers and types. The protocol \
            (changes, merging, cursors) is explained in docs/PROTOCOL.md; roles, scopes and \
            token errors in docs/ACCESS.md; reports in docs/REPORTS.md. Every error answer \
            is an `ErrorBody` with a stable `code`; every answer carries `X-Request-Id`. \
            Besides the answers listed per route, any route may answer `429 too_many_requests` \
            (too many requests in flight from one address; wait `Retry-After` seconds) and \
            `503 store_unavailable` (retry with backoff), and any JSON body `408 body_timeout`, \
            `413 payload_too_large` or `415 unsupported_media_type`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        health::healthz,
        health::readyz,
        health::metrics,
        document,
        health::schema,
        sync::sync,
        attachments::begin,
        attachments::chunk,
        attachments::download,
        attachments::thumbnail,
        records::grid_records,
        records::grid_conflicts,
        records::record,
        edits::edit,
        records::quarantine,
        sync::accept_quarantined,
        sync::reject_quarantined,
        auth::login,
        auth::refresh,
        session::sign_in,
        session::current,
        session::sign_out,
        auth::register_device,
        auth::list_devices,
        auth::revoke_device,
        handover::hand_over,
        admin::list_nodes,
        admin::create_node,
        admin::update_node,
        admin::list_users,
        admin::create_user,
        admin::update_user,
        admin::audit_log,
        cases::node_cases,
        duplicates::node_duplicates,
        duplicates::dismiss,
        duplicates::merge,
        inbox::my_inbox,
        webhooks::create,
        webhooks::list,
        webhooks::stop,
        webhooks::deliveries,
        webhooks::retry,
        imports::template,
        imports::import,
        cases::sweep,
        cases::rules,
        reports::summary,
        reports::patrol_coverage,
        reports::overdue_lists,
        reports::rankings,
        reports::daily_brief,
        insight::trend_report,
        insight::chart_svg,
        insight::map,
        insight::search,
        desk::page,
        desk::asset,
        desk::dashboard,
        desk::favicon,
        desk::app_page,
        desk::app_redirect,
        desk::app_asset,
    ),
    components(schemas(super::schemas::ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "service", description = "Health, readiness, metrics, this document"),
        (name = "sync", description = "The sync exchange (docs/PROTOCOL.md, \"The sync exchange\")"),
        (name = "attachments", description = "Photos and scans (docs/PROTOCOL.md, \"Attachments\")"),
        (name = "records", description = "Reading the merged state, conflicts, the quarantine"),
        (name = "auth", description = "Login, tokens and devices (docs/ACCESS.md)"),
        (name = "admin", description = "The org tree, users, the audit log, the sweep"),
        (name = "cases", description = "Cases beyond one grid, deadline rules (docs/WORKFLOWS.md)"),
        (name = "reports", description = "Supervisor reports (docs/REPORTS.md)"),
        (name = "desk", description = "The desk's pages (docs/REPORTS.md)"),
    ),
)]
pub struct ApiDoc;

/// The security schemes the paths name.
#[derive(Debug)]
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        bearer.description = Some(
            "An access token from `POST /v1/auth/login`, `/v1/auth/refresh` or \
             `/v1/devices` (15 minutes). `POST /v1/sync` takes only a device's token. \
             Refused tokens answer 401 with a code (docs/ACCESS.md)."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let mut metrics = Http::new(HttpAuthScheme::Bearer);
        metrics.description = Some(
            "The server's `--metrics-token`, when one is set; without it `/metrics` is open."
                .into(),
        );
        components.add_security_scheme("metrics_token", SecurityScheme::Http(metrics));
    }
}

/// The document as JSON, made once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("plain data");
        name_the_aliases(&mut doc);
        doc.to_string()
    })
}

/// The core's `Actor` and `Seq` are aliases of `u32` and `u64`, which the
/// derives refer to by the primitive's name (`#/components/schemas/u32`):
/// give those schemas the protocol's names (docs/PROTOCOL.md, "Vocabulary").
/// No other field refers to a bare integer by name.
fn name_the_aliases(doc: &mut serde_json::Value) {
    use serde_json::json;
    const RENAMES: [(&str, &str); 2] = [("u32", "Actor"), ("u64", "Seq")];
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(r)) = map.get_mut("$ref") {
                    for (from, to) in RENAMES {
                        if r.strip_prefix("#/components/schemas/") == Some(from) {
                            *r = format!("#/components/schemas/{to}");
                        }
                    }
                }
                map.values_mut().for_each(walk);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(doc);
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(|s| s.as_object_mut())
    else {
        return;
    };
    for (from, _) in RENAMES {
        schemas.remove(from);
    }
    schemas.insert(
        "Actor".into(),
        json!({
            "type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX,
            "description": "An app install's id, assigned by the server (`POST /v1/devices`) \
                and never reused; 0 is never assigned.",
        }),
    );
    schemas.insert(
        "Seq".into(),
        json!({
            "type": "integer", "format": "int64", "minimum": 0,
            "description": "An actor's change counter, gap-free from 1. A change's seq is at \
                most 2^53 - 1 (docs/PROTOCOL.md, \"Bounds\"); a result echoes what was sent.",
        }),
    );
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((
        status = 200,
        description = "The OpenAPI 3.1 document of this API",
        content_type = "application/json",
        body = Object,
    )),
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json())
}

/// Swagger UI over [`document`] at `/docs/` (and `/docs` sends there). Its
/// files are inside the binary (`utoipa-swagger-ui`'s `vendored` build:
/// nothing downloaded when building), the page loads only them and
/// `/openapi.json`, and the online validator badge is off: it works
/// without internet.
pub fn viewer(cfg: &mut web::ServiceConfig) {
    let config = utoipa_swagger_ui::Config::new(["/openapi.json"]).validator_url("none");
    cfg.service(web::redirect("/docs", "/docs/"))
        .service(utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").config(config));
}
