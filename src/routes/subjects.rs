//! Children and the facts the rules need about them: registration, the child read, the recorded
//! school and its changes, competence assessments, staff designations: the HTTP side of
//! `app::subjects` and `app::child`. Consents are `consents`, MAPPA status and forum decisions
//! `mappa`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Body, Path};
pub(crate) use crate::app::child::ChildView;
pub(crate) use crate::app::places::{NewResidence, ResidenceSet};
pub use crate::app::subjects::subject_school;
pub(crate) use crate::app::subjects::{
    NewCompetence, NewDesignation, NewSchool, NewSubject, SchoolChanged,
};
use crate::app::views::Created;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::SubjectId;
use crate::state::AppState;

/// `POST /v1/subjects`.
pub(crate) async fn register(
    principal: Principal,
    State(state): State<AppState>,
    Body(body): Body<NewSubject>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let created = crate::app::subjects::register(&state, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /v1/subjects/{id}`: the child as the caller may read it (anyone else 404).
pub(crate) async fn read(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
) -> Result<Json<ChildView>, ApiError> {
    crate::app::child::view(&state, &principal, subject)
        .await
        .map(Json)
}

/// `PUT /v1/subjects/{id}/school`.
pub(crate) async fn school(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    Body(body): Body<NewSchool>,
) -> Result<Json<SchoolChanged>, ApiError> {
    crate::app::subjects::change_school(&state, &principal, subject, body)
        .await
        .map(Json)
}

/// `PUT /v1/subjects/{id}/residence`.
pub(crate) async fn residence(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    Body(body): Body<NewResidence>,
) -> Result<Json<ResidenceSet>, ApiError> {
    crate::app::places::set_residence(&state, &principal, subject, body)
        .await
        .map(Json)
}

/// `POST /v1/subjects/{id}/competence`.
pub(crate) async fn competence(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    Body(body): Body<NewCompetence>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let created =
        crate::app::subjects::record_competence(&state, &principal, subject, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `POST /v1/subjects/{id}/staff-designations`.
pub(crate) async fn designate(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    Body(body): Body<NewDesignation>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let created = crate::app::subjects::designate(&state, &principal, subject, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
