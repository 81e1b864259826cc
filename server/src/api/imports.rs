//! Blank registers for `gridsync import` to read back: the headers are the
//! schema's labels (docs/OPERATIONS.md, "Importing existing registers").

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::api::schemas::ErrorBody;
use crate::error::ApiError;
use crate::import::template;

/// A template to fill in: `household.csv`, `place.csv`, `resident.csv`
/// (UTF-8 with a byte-order mark), `household.xlsx`, `place.xlsx`,
/// `resident.xlsx` (one sheet), or `registers.xlsx` (a sheet per register
/// and a sheet `说明` saying what each column takes). No login: it holds
/// nothing but the schema's labels, as `GET /v1/schema` does.
#[utoipa::path(
    get,
    path = "/v1/import/templates/{file}",
    tag = "records",
    params(("file" = String, Path, description = "`{collection}.csv`, `{collection}.xlsx` (collection: `household`, `place`, `resident`) or `registers.xlsx`")),
    responses(
        (status = 200, description = "The template: a header row of `中文标签 field_name` cells",
            content(
                (String = "text/csv"),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = 404, description = "`not_found`: no template by that name", body = ErrorBody),
    ),
)]
pub async fn template(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let file = file.into_inner();
    let name = file.clone();
    let made = web::block(move || template::named(&name))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Internal)?;
    let Some((bytes, media_type)) = made else {
        return Err(ApiError::NotFound {
            what: format!(
                "template `{file}` (there are {})",
                template::names().join(", ")
            ),
        });
    };
    Ok(HttpResponse::Ok()
        .content_type(media_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .body(bytes))
}
