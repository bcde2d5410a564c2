//! `GET /v1/reports/timeliness` (PROCESS.md): the report of `app::reports::timeliness`, as JSON
//! or, with `?format=csv`, as CSV.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::extract::Params;
pub(crate) use crate::app::reports::Filters;
use crate::app::reports::{self as app, Format};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;

pub(crate) async fn timeliness(
    principal: Principal,
    State(state): State<AppState>,
    Params(f): Params<Filters>,
) -> Result<Response, ApiError> {
    let answer = app::timeliness(&state, &principal, &f).await?;
    Ok(match answer.format {
        Format::Csv => csv(answer.csv()),
        Format::Json => Json(answer.report).into_response(),
    })
}

/// The report's CSV as a download.
fn csv(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"timeliness.csv\"",
            ),
        ],
        body,
    )
        .into_response()
}
