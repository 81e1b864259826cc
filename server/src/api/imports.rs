//! Importing registers over HTTP, as `gridsync import` does, and the blank
//! registers to fill in: their headers are the schema's labels
//! (docs/OPERATIONS.md, "Importing existing registers").

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::schemas::ErrorBody;
use crate::auth::policy::Role;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::import::report::{Counts, Summary};
use crate::import::{template, ImportError, Input, Kind, Options};
use crate::state::AppState;

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

/// `POST /v1/imports` query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// The org node imported to: every row's grid must lie in it (default:
    /// the caller's node); at or under the caller's.
    node: Option<String>,
    /// A CSV's register: `household`, `place`, `resident` or its Chinese
    /// label (default: found from the headers).
    collection: Option<String>,
    /// `true`: check every row and answer what would become of it, writing
    /// nothing.
    #[serde(default)]
    dry_run: bool,
    /// The file's name, for the report and the audit log (default
    /// `upload.csv` or `upload.xlsx`).
    name: Option<String>,
}

/// A refused row: where and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefusalOut {
    /// The sheet (a CSV's is the file's name).
    sheet: String,
    /// The row's number as the spreadsheet shows it.
    row: usize,
    /// The column's letter and header, when one column is at fault.
    column: String,
    reason: String,
}

/// Rows of one register by what became of them (or would, in a dry run).
#[derive(Debug, Serialize, ToSchema)]
pub struct CountsOut {
    /// `household`, `place` or `resident`; `total` for the sum.
    collection: String,
    created: usize,
    updated: usize,
    unchanged: usize,
    refused: usize,
}

/// What an import did, or in a dry run would do.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOut {
    file: String,
    /// Nothing was written: the counts say what the import would do.
    dry_run: bool,
    /// A CSV's encoding (`UTF-8` or `GB18030`).
    encoding: Option<String>,
    /// Rows read.
    rows: usize,
    /// Per register, in the order applied, then `total`.
    counts: Vec<CountsOut>,
    /// The refused rows' reasons, by sheet and row (at most 1,000).
    refusals: Vec<RefusalOut>,
    /// Reasons past the first 1,000, not listed.
    more_refusals: usize,
    /// Sheets not read, and why.
    skipped: Vec<String>,
    millis: u64,
}

/// Most refusals an answer lists.
const LISTED: usize = 1_000;

impl From<Summary> for ImportOut {
    fn from(s: Summary) -> Self {
        let counts_out = |collection: &str, n: Counts| CountsOut {
            collection: collection.to_owned(),
            created: n.created,
            updated: n.updated,
            unchanged: n.unchanged,
            refused: n.refused,
        };
        let mut counts: Vec<CountsOut> = s.counts.iter().map(|(c, n)| counts_out(c, *n)).collect();
        counts.push(counts_out("total", s.total()));
        let more_refusals = s.refusals.len().saturating_sub(LISTED);
        ImportOut {
            file: s.file,
            dry_run: s.dry_run,
            encoding: s.encoding.map(str::to_owned),
            rows: s.rows,
            counts,
            refusals: s
                .refusals
                .into_iter()
                .take(LISTED)
                .map(|r| RefusalOut {
                    sheet: r.sheet,
                    row: r.row,
                    column: r.column,
                    reason: r.reason,
                })
                .collect(),
            more_refusals,
            skipped: s.skipped,
            millis: u64::try_from(s.millis).unwrap_or(u64::MAX),
        }
    }
}

/// Media types an upload may be sent as: a spreadsheet, a CSV, or bytes of
/// no declared type (the first bytes decide, [`crate::import::read::sniff`]).
const TAKEN: [&str; 8] = [
    "text/csv",
    "text/plain",
    "application/csv",
    "application/octet-stream",
    "application/vnd.ms-excel",
    SPREADSHEET,
    "application/vnd.ms-excel.sheet.macroenabled.12",
    "application/vnd.oasis.opendocument.spreadsheet",
];

const SPREADSHEET: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Why an upload sent as `media_type` is not read, if it is not.
fn not_taken(media_type: &str) -> Option<String> {
    (!TAKEN.contains(&media_type))
        .then(|| format!("`{media_type}` is not a register: send an .xlsx workbook or a .csv file"))
}

/// Why bytes of `kind` sent as `media_type` are not read, if they are not:
/// they are not what the type claims.
fn not_what_it_claims(media_type: &str, kind: Kind) -> Option<String> {
    let workbooks = [
        SPREADSHEET,
        "application/vnd.ms-excel.sheet.macroenabled.12",
        "application/vnd.oasis.opendocument.spreadsheet",
    ];
    (workbooks.contains(&media_type) && kind != Kind::Workbook)
        .then(|| format!("the bytes sent as `{media_type}` are not a spreadsheet"))
}

/// Real imports run one at a time in a process: each goes on from its
/// device's last sequence number.
fn importing() -> &'static tokio::sync::Mutex<()> {
    static ONE: std::sync::OnceLock<tokio::sync::Mutex<()>> = std::sync::OnceLock::new();
    ONE.get_or_init(|| tokio::sync::Mutex::new(()))
}

fn import_error(e: ImportError) -> ApiError {
    match e {
        ImportError::File(message) => ApiError::BadRequest {
            code: "invalid_file",
            message,
        },
        ImportError::Refused {
            code: code @ "unknown_node",
            message,
        } => ApiError::BadRequest { code, message },
        ImportError::Refused { code, message } => ApiError::Forbidden { code, message },
        ImportError::Store(e) => e.into(),
    }
}

/// Import a register file, as `gridsync import` does, as the caller: an
/// enabled supervisor (into a node at or under theirs) or an admin. The
/// body is the file's bytes (an .xlsx workbook or a CSV, UTF-8 or GBK);
/// with `dry_run=true` every row is checked and nothing is written, so the
/// report can be read before the rows go in (docs/OPERATIONS.md,
/// "Importing existing registers").
#[utoipa::path(
    post,
    path = "/v1/imports",
    tag = "records",
    params(ImportParams),
    request_body(content = Vec<u8>, description = "The file's bytes", content_type = "text/csv"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The row report: counts per register and every refused row", body = ImportOut),
        (status = 400, description = "`invalid_file` (not a register that can be read: nothing imported), \
            `empty_file`, `unknown_node`, `invalid_query`", body = ErrorBody),
        (status = 401, description = "A token refused (docs/ACCESS.md)", body = ErrorBody),
        (status = 403, description = "`forbidden`: supervisors and admins only; `out_of_scope`: the node is outside the caller's", body = ErrorBody),
        (status = 409, description = "`import_running`: another import is being written; try again when it ends", body = ErrorBody),
        (status = 413, description = "`import_too_large`: over `--max-import-bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_file`: neither a spreadsheet nor a CSV", body = ErrorBody),
    ),
)]
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ImportParams>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Supervisor, Role::Admin])?;
    let params = params.into_inner();
    let media_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| !v.is_empty());
    let unsupported = |message| ApiError::WrongMediaType {
        code: "unsupported_file",
        message,
    };
    if let Some(why) = media_type.as_deref().and_then(not_taken) {
        return Err(unsupported(why));
    }
    let bytes = read_body(&req, body, state.limits.max_import_bytes).await?;
    let kind = crate::import::read::sniff(&bytes);
    if let Some(why) = media_type
        .as_deref()
        .and_then(|m| not_what_it_claims(m, kind))
    {
        return Err(unsupported(why));
    }
    let name = params.name.clone().unwrap_or_else(|| {
        match kind {
            Kind::Csv => "upload.csv",
            Kind::Workbook => "upload.xlsx",
        }
        .to_owned()
    });
    let opts = Options {
        node: params.node.unwrap_or_else(|| caller.node.clone()),
        user: caller.username.clone(),
        file: Input::sent(&name, bytes),
        collection: params.collection,
        dry_run: params.dry_run,
    };
    let _one = if opts.dry_run {
        None
    } else {
        Some(importing().try_lock().map_err(|_| ApiError::Conflict {
            code: "import_running",
            message: "another import is being written; try again when it ends".into(),
        })?)
    };
    let store = state.store.clone();
    let summary = web::block(move || crate::import::run(&store, &opts, &mut |_, _| {}))
        .await?
        .map_err(import_error)?;
    Ok(HttpResponse::Ok().json(ImportOut::from(summary)))
}

/// The request body, at most `limit` bytes (`413 import_too_large`).
async fn read_body(
    req: &HttpRequest,
    mut body: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::TooLarge {
        code: "import_too_large",
        message: format!("a register file is at most {limit} bytes (--max-import-bytes)"),
    };
    let declared: Option<usize> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut data = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| {
            if crate::wire::timed_out(&e) {
                ApiError::BodyTimeout(e.to_string())
            } else {
                ApiError::bad("invalid_file", e.to_string())
            }
        })?;
        if data.len() + piece.len() > limit {
            return Err(too_large());
        }
        data.extend_from_slice(&piece);
    }
    if data.is_empty() {
        return Err(ApiError::bad(
            "empty_file",
            "the body is the file: it is empty",
        ));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_taken_by_media_type_and_bytes() {
        assert_eq!(not_taken("text/csv"), None);
        assert_eq!(not_taken(SPREADSHEET), None);
        assert!(not_taken("image/png").is_some());
        assert!(not_taken("application/pdf").is_some());
        assert_eq!(not_what_it_claims(SPREADSHEET, Kind::Workbook), None);
        assert!(not_what_it_claims(SPREADSHEET, Kind::Csv).is_some());
        // Windows names CSV files "application/vnd.ms-excel".
        assert_eq!(
            not_what_it_claims("application/vnd.ms-excel", Kind::Csv),
            None
        );
        assert_eq!(not_what_it_claims("text/csv", Kind::Csv), None);
    }
}
