//! The route table: every route of the API, written once. [`mount`] mounts
//! them and [`ROUTES`] lists them (method and path), so what is mounted and
//! what a test checks against the OpenAPI document (`tests/openapi.rs`)
//! cannot drift apart. The one thing mounted outside the table is the
//! document's viewer at `/docs/` ([`super::openapi::viewer`]).

use actix_web::web;

use super::{
    admin, attachments, auth, cases, desk, duplicates, edits, handover, health, imports, inbox,
    insight, openapi, records, reports, session, sync, webhooks,
};

/// A mounted route: the HTTP method (lowercase, as OpenAPI names it) and
/// the path pattern (actix's `{name}` segments, as OpenAPI writes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
}

macro_rules! routes {
    ($($method:ident $path:literal => $handler:path,)*) => {
        /// Every route [`mount`] mounts, in order.
        pub const ROUTES: &[Route] = &[$(Route { method: stringify!($method), path: $path }),*];

        /// Mount every route of [`ROUTES`].
        pub fn mount(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, web::$method().to($handler));)*
        }
    };
}

routes! {
    get "/healthz" => health::healthz,
    get "/readyz" => health::readyz,
    get "/metrics" => health::metrics,
    get "/openapi.json" => openapi::document,
    get "/v1/schema" => health::schema,
    post "/v1/sync" => sync::sync,
    post "/v1/attachments" => attachments::begin,
    patch "/v1/attachments/uploads/{id}" => attachments::chunk,
    get "/v1/attachments/{sha256}" => attachments::download,
    get "/v1/attachments/{sha256}/thumbnail" => attachments::thumbnail,
    get "/v1/grids/{grid}/records" => records::grid_records,
    get "/v1/grids/{grid}/conflicts" => records::grid_conflicts,
    get "/v1/records/{id}" => records::record,
    post "/v1/records/{id}/edits" => edits::edit,
    get "/v1/quarantine" => records::quarantine,
    post "/v1/quarantine/{id}/accept" => sync::accept_quarantined,
    post "/v1/quarantine/{id}/reject" => sync::reject_quarantined,
    post "/v1/auth/login" => auth::login,
    post "/v1/auth/refresh" => auth::refresh,
    post "/v1/auth/session" => session::sign_in,
    get "/v1/auth/session" => session::current,
    delete "/v1/auth/session" => session::sign_out,
    post "/v1/devices" => auth::register_device,
    get "/v1/devices" => auth::list_devices,
    post "/v1/devices/{id}/revoke" => auth::revoke_device,
    post "/v1/devices/{id}/handover" => handover::hand_over,
    get "/v1/org/nodes" => admin::list_nodes,
    post "/v1/org/nodes" => admin::create_node,
    patch "/v1/org/nodes/{code}" => admin::update_node,
    get "/v1/users" => admin::list_users,
    post "/v1/users" => admin::create_user,
    patch "/v1/users/{id}" => admin::update_user,
    get "/v1/audit" => admin::audit_log,
    get "/v1/nodes/{code}/cases" => cases::node_cases,
    get "/v1/nodes/{code}/duplicates" => duplicates::node_duplicates,
    get "/v1/inbox" => inbox::my_inbox,
    post "/v1/nodes/{code}/webhooks" => webhooks::create,
    get "/v1/nodes/{code}/webhooks" => webhooks::list,
    delete "/v1/webhooks/{id}" => webhooks::stop,
    get "/v1/webhooks/{id}/deliveries" => webhooks::deliveries,
    post "/v1/deliveries/{id}/retry" => webhooks::retry,
    post "/v1/duplicates/{id_number}/dismiss" => duplicates::dismiss,
    post "/v1/duplicates/{id_number}/merge" => duplicates::merge,
    get "/v1/import/templates/{file}" => imports::template,
    post "/v1/imports" => imports::import,
    post "/v1/admin/sweep" => cases::sweep,
    get "/v1/rules" => cases::rules,
    get "/v1/reports/summary" => reports::summary,
    get "/v1/reports/patrol" => reports::patrol_coverage,
    get "/v1/reports/overdue" => reports::overdue_lists,
    get "/v1/reports/ranking" => reports::rankings,
    get "/v1/reports/brief" => reports::daily_brief,
    get "/v1/reports/trend" => insight::trend_report,
    get "/v1/reports/chart.svg" => insight::chart_svg,
    get "/v1/reports/map" => insight::map,
    get "/v1/search" => insight::search,
    get "/desk" => desk::page,
    get "/desk/{asset}" => desk::asset,
    get "/dashboard" => desk::dashboard,
    get "/favicon.ico" => desk::favicon,
    get "/app" => desk::app_redirect,
    get "/app/" => desk::app_page,
    get "/app/{asset}" => desk::app_asset,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_route_is_mounted_twice() {
        for (i, a) in ROUTES.iter().enumerate() {
            assert!(!ROUTES[..i].contains(a), "{a:?} twice");
            assert!(
                ["get", "post", "patch", "delete"].contains(&a.method),
                "{a:?}"
            );
        }
    }
}
