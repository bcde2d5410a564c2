//! The IG officer's evidence page (`/ui/audit/verify`): the chain verified end to end, the
//! broker's latest signed checkpoint with its verifier key to download and keep (what makes an
//! agency a witness), and a form to check the log against a checkpoint kept earlier, as
//! `POST /v1/audit/checkpoint/verify` does. Each calls the API's own functions with the
//! session's person, so who may see it and what is audited are the API's.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::form::{Errors, Form};
use super::session::{Session, check_csrf};
use super::view::{Frame, PageResult, page, refused};
use super::{Posted, fields};
use crate::app::audit as app;
use crate::app::evidence::{self, KeptCheckpoint};
use crate::audit::Extension;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "chain.html")]
struct Chain {
    frame: Frame,
    ok: bool,
    entries: String,
    head_hash: String,
    first_bad_seq: String,
    /// The latest checkpoint: entries it covers, when it was signed (UK time).
    checkpoint_size: String,
    checkpoint_signed: String,
    form: Form,
    csrf: String,
    /// The verdict on a checkpoint the person pasted, once they have.
    kept: Option<Kept>,
}

/// A pasted checkpoint's verdict, in words.
struct Kept {
    holds: bool,
    size: u64,
    problem: String,
}

impl Kept {
    fn of(e: &Extension) -> Kept {
        Kept {
            holds: e.ok,
            size: e.checkpoint_size,
            problem: e.problem.clone().unwrap_or_default(),
        }
    }
}

async fn chain_page(
    state: &AppState,
    session: &Session,
    form: Form,
    kept: Option<Kept>,
    status: StatusCode,
) -> PageResult {
    let v = app::verify(state, &session.principal)
        .await
        .map_err(refused)?;
    let latest = evidence::latest(state, &session.principal)
        .await
        .map_err(refused)?;
    // the checkpoint vouches for the entries' hashes; an entry changed in place under its
    // hash, before the checkpoint's last, is the chain's to find, and the page says so
    let mut kept = kept;
    if let (Some(k), Some(bad)) = (kept.as_mut(), v.first_bad_seq)
        && k.holds
        && u64::try_from(bad).is_ok_and(|bad| bad <= k.size)
    {
        k.holds = false;
        k.problem = format!(
            "entry {bad} was changed after it was written: it no longer matches its hash (the \
             chain breaks there)"
        );
    }
    Ok(page(
        status,
        &Chain {
            frame: Frame::of(session, "Audit chain"),
            ok: v.ok,
            entries: v.entries.to_string(),
            head_hash: v.head_hash,
            first_bad_seq: v.first_bad_seq.map(|s| s.to_string()).unwrap_or_default(),
            checkpoint_size: latest.size.to_string(),
            checkpoint_signed: super::time::uk_text(&latest.signed_at),
            form,
            csrf: session.csrf.clone(),
            kept,
        },
    ))
}

/// `GET /ui/audit/verify`.
pub async fn chain(State(state): State<AppState>, session: Session) -> PageResult {
    chain_page(&state, &session, Form::default(), None, StatusCode::OK).await
}

/// `POST /ui/audit/verify`: the pasted checkpoint checked against the log; a note this broker
/// did not sign is shown again with the reason beside it.
pub async fn check(State(state): State<AppState>, session: Session, posted: Posted) -> PageResult {
    let form = fields(posted)?;
    check_csrf(&session, form.get("csrf"))?;
    let text = form.get("checkpoint").unwrap_or_default().trim().to_owned();
    let mut errors = Errors::default();
    if text.is_empty() {
        errors.add("checkpoint", "Paste the checkpoint you kept");
    } else if let Some(why) = crate::text::problem(&text, crate::text::Kind::FreeText) {
        errors.add("checkpoint", &format!("The checkpoint {why}"));
    }
    if !errors.is_empty() {
        let form = Form::refused(form, errors);
        return chain_page(
            &state,
            &session,
            form,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    // a note ends with a newline after its signature line; a paste may have lost it
    let kept = KeptCheckpoint {
        checkpoint: format!("{}\n", text.replace("\r\n", "\n")),
    };
    match evidence::verify_checkpoint(&state, &session.principal, &kept).await {
        Ok(verdict) => {
            chain_page(
                &state,
                &session,
                Form::default(),
                Some(Kept::of(&verdict)),
                StatusCode::OK,
            )
            .await
        }
        Err(e) if e.code == "invalid_checkpoint" => {
            let mut errors = Errors::default();
            errors.add(
                "checkpoint",
                "This is not a checkpoint signed by this broker: check you pasted all of it, \
                 from its first line to its signature line",
            );
            let form = Form::refused(form, errors);
            chain_page(
                &state,
                &session,
                form,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(refused(e)),
    }
}

/// `GET /ui/audit/checkpoint.txt`: the latest checkpoint, to keep.
pub async fn checkpoint_file(State(state): State<AppState>, session: Session) -> PageResult {
    let note = evidence::checkpoint(&state, &session.principal)
        .await
        .map_err(refused)?;
    Ok(download(note, "checkpoint.txt"))
}

/// `GET /ui/audit/log-key.txt`: the verifier key that checks the broker's checkpoints.
pub async fn log_key_file(State(state): State<AppState>, session: Session) -> PageResult {
    let key = evidence::log_key(&state, &session.principal).map_err(refused)?;
    Ok(download(key, "broker-log-key.txt"))
}

fn download(text: String, name: &'static str) -> axum::response::Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        text,
    )
        .into_response()
}
