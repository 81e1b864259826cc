//! The web pages gridsync serves itself, from files built into the binary:
//! the desk of the 综治中心 (supervisors, departments, admins) at `/desk`,
//! and the field app (grid workers, patrols, mediators, police: an
//! installable, offline-first web app) at `/app/`. Nothing is loaded from
//! anywhere else (the Content-Security-Policy says so to the browser); the
//! desk signs in with a desk session (docs/ACCESS.md, "Desk sessions"), the
//! app as a device (docs/DEVICE.md), and both call the same API as everyone.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::schemas::ErrorBody;
use crate::error::ApiError;

/// A file of the desk or the app: its name under `/desk/` or `/app/`,
/// media type and bytes.
struct Asset {
    name: &'static str,
    kind: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($table:ident, $dir:literal, $($name:literal => $kind:literal,)*) => {
        /// Every file of one page set (`server/assets/<dir>/`).
        const $table: &[Asset] = &[$(Asset {
            name: $name,
            kind: $kind,
            body: include_bytes!(concat!("../../assets/", $dir, "/", $name)),
        }),*];
    };
}

assets! {
    ASSETS, "desk",
    "index.html" => "text/html; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "cases.js" => "text/javascript; charset=utf-8",
    "decide.js" => "text/javascript; charset=utf-8",
    "dashboard.js" => "text/javascript; charset=utf-8",
    "admin.js" => "text/javascript; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "dashboard.css" => "text/css; charset=utf-8",
    "admin.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
}

assets! {
    APP, "app",
    "index.html" => "text/html; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "store.js" => "text/javascript; charset=utf-8",
    "protocol.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "sw.js" => "text/javascript; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "icon.svg" => "image/svg+xml",
    "manifest.webmanifest" => "application/manifest+json",
}

/// What the desk's pages may load: this server only. Inline styles are
/// allowed (charts and maps are drawn with them); scripts are not.
const POLICY: &str = "default-src 'self'; img-src 'self' blob: data:; \
    style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn serve(asset: &Asset) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(asset.kind)
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        // Always asked again (cheaply: the ETag), so a new server version's
        // desk is the one shown.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag(asset)))
        .body(asset.body)
}

/// The asset's version tag: the build's version and the file's length and
/// a hash of its bytes.
fn etag(asset: &Asset) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(asset.body);
    format!("\"{}-{}\"", env!("CARGO_PKG_VERSION"), hex::encode(&h[..8]))
}

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The desk (it signs in itself).
#[utoipa::path(
    get,
    path = "/desk",
    tag = "desk",
    responses((status = 200, description = "The desk's page", content_type = "text/html", body = String)),
)]
pub async fn page() -> HttpResponse {
    serve(find("index.html").expect("index.html is an asset"))
}

/// A file of the desk: its scripts, style sheets and icon.
#[utoipa::path(
    get,
    path = "/desk/{asset}",
    tag = "desk",
    params(("asset" = String, Path, description = "e.g. `app.js`, `style.css`, `favicon.svg`")),
    responses(
        (status = 200, description = "The file",
            content((String = "text/javascript"), (String = "text/css"), (String = "image/svg+xml"))),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn asset(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    find(&name).map(serve).ok_or_else(|| ApiError::NotFound {
        what: format!("desk file `{name}`"),
    })
}

/// The field app (`/app/`; its service worker's scope is `/app/`).
#[utoipa::path(
    get,
    path = "/app/",
    tag = "desk",
    responses((status = 200, description = "The field app's page", content_type = "text/html", body = String)),
)]
pub async fn app_page() -> HttpResponse {
    serve(
        APP.iter()
            .find(|a| a.name == "index.html")
            .expect("index.html is an asset"),
    )
}

/// `/app` without its slash: to `/app/`, the service worker's scope.
#[utoipa::path(
    get,
    path = "/app",
    tag = "desk",
    responses((status = 308, description = "To `/app/`")),
)]
pub async fn app_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/app/"))
        .finish()
}

/// A file of the field app: its scripts, service worker, manifest, icon.
#[utoipa::path(
    get,
    path = "/app/{asset}",
    tag = "desk",
    params(("asset" = String, Path, description = "e.g. `app.js`, `sw.js`, `manifest.webmanifest`")),
    responses(
        (status = 200, description = "The file",
            content((String = "text/javascript"), (String = "text/css"), (String = "application/manifest+json"))),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
pub async fn app_asset(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    APP.iter()
        .find(|a| a.name == name.as_str())
        .map(serve)
        .ok_or_else(|| ApiError::NotFound {
            what: format!("app file `{name}`"),
        })
}

/// The first dashboard's address: the desk, opening on its dashboard.
#[utoipa::path(
    get,
    path = "/dashboard",
    tag = "desk",
    responses((status = 200, description = "The desk's page", content_type = "text/html", body = String)),
)]
pub async fn dashboard() -> HttpResponse {
    page().await
}

/// The site's icon (browsers ask for it on every page).
#[utoipa::path(
    get,
    path = "/favicon.ico",
    tag = "desk",
    responses((status = 200, description = "The icon", content_type = "image/svg+xml", body = String)),
)]
pub async fn favicon() -> HttpResponse {
    serve(find("favicon.svg").expect("favicon.svg is an asset"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_there_and_typed_by_its_extension() {
        for a in ASSETS.iter().chain(APP) {
            assert!(!a.body.is_empty(), "{} is empty", a.name);
            let ext = a.name.rsplit('.').next().unwrap();
            let want = match ext {
                "html" => "text/html",
                "js" => "text/javascript",
                "css" => "text/css",
                "svg" => "image/svg+xml",
                "webmanifest" => "application/manifest+json",
                other => panic!("{}: extension {other}", a.name),
            };
            assert!(a.kind.starts_with(want), "{}: {}", a.name, a.kind);
        }
    }
}
