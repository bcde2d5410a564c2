//! The child's page's other forms over HTTP without a browser (the browser flows of
//! tests/console.rs register, consent, designate and record a MAPPA decision): an assessment,
//! a change of school, the MAPPA status and a consent's withdrawal, each refused once (the
//! page shown again, 422, with what was typed and the message) and then done (back to the
//! child's page), audited once under the person; and each form is offered only to whom the
//! policy lets do it.

mod common;

use broker::vocab::Role;
use common::console::{ConsoleSession, principal};
use common::{RawAnswer, TestServer};
use serde_json::json;

/// The page at `path` as the session's person sees it.
async fn get_page(
    server: &TestServer,
    agency: &str,
    session: &ConsoleSession,
    path: &str,
) -> RawAnswer {
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: localhost\r\ncookie: {}\r\nconnection: close\r\n\r\n",
        session.cookie
    );
    server.raw_exchange(agency, request.as_bytes()).await
}

/// `fields` posted with the session's cookie and CSRF token.
async fn post(
    server: &TestServer,
    agency: &str,
    session: &ConsoleSession,
    path: &str,
    fields: &str,
) -> RawAnswer {
    let body = format!("csrf={}&{fields}", session.csrf);
    server
        .post_form(agency, path, Some(&session.cookie), body.as_bytes())
        .await
}

/// The form was refused: the child's page again, 422, with the error summary, `message` and
/// each of `kept` (what was typed).
fn refused(answer: &RawAnswer, message: &str, kept: &[&str]) {
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(
        answer.body.contains("id=\"error-summary\""),
        "{}",
        answer.body
    );
    assert!(answer.body.contains(message), "{message}: {}", answer.body);
    for k in kept {
        assert!(answer.body.contains(k), "what was typed is kept: {k}");
    }
}

/// The form was done: back to the child's page, whose banner says `what`.
fn done(answer: &RawAnswer, child: &str, what: &str) {
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert!(
        answer
            .head
            .contains(&format!("location: /ui/children/{child}?done={what}")),
        "{}",
        answer.head
    );
}

/// How many `action` entries `sub` has about `child`.
async fn audited(server: &TestServer, child: &str, sub: &str, action: &str) -> usize {
    common::audit::about(server, child)
        .await
        .iter()
        .filter(|e| e["action"] == action && e["actor"]["sub"] == sub)
        .count()
}

#[tokio::test]
async fn an_assessment_a_school_a_mappa_status_and_a_withdrawal_are_refused_once_then_done() {
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let pupil = common::hillside_pupil(&csc, &sw).await;
    let child = pupil.child.as_str();
    let page = format!("/ui/children/{child}");
    let social_worker = server
        .console_session(&principal(&server, "csc", "sw.amara", Role::SocialWorker))
        .await;

    // a social worker is offered the assessment, the school and the withdrawal, not MAPPA
    let shown = get_page(&server, "csc", &social_worker, &page).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    for form in [
        "competence-form",
        "school-form",
        "consent-form",
        "/withdraw",
    ] {
        assert!(shown.body.contains(form), "{form} is offered");
    }
    for form in ["mappa-form", "designation-form"] {
        assert!(!shown.body.contains(form), "{form} is not offered");
    }

    // an assessment dated in the future, then on a real day
    let path = format!("{page}/competence");
    let answer = post(
        &server,
        "csc",
        &social_worker,
        &path,
        "assessment=gillick&outcome=true&assessed_on-day=1&assessed_on-month=1&assessed_on-year=2099",
    )
    .await;
    refused(
        &answer,
        "Date of the assessment is in the future",
        &["value=\"2099\""],
    );
    let answer = post(
        &server,
        "csc",
        &social_worker,
        &path,
        "assessment=gillick&outcome=true&assessed_on-day=1&assessed_on-month=9&assessed_on-year=2025",
    )
    .await;
    done(&answer, child, "competence");
    assert_eq!(
        audited(&server, child, "sw.amara", "competence.record").await,
        1
    );

    // no school chosen, then Riverside
    let path = format!("{page}/school");
    let answer = post(&server, "csc", &social_worker, &path, "school_agency=").await;
    refused(&answer, "Choose the child&#39;s school", &[]);
    let answer = post(
        &server,
        "csc",
        &social_worker,
        &path,
        "school_agency=school-riverside",
    )
    .await;
    done(&answer, child, "school");
    let view = csc
        .get(&format!("/v1/subjects/{child}"), &sw)
        .await
        .unwrap();
    assert_eq!(view.json()["school_agency"], "school-riverside");
    assert_eq!(view.json()["competence"][0]["assessment"], "gillick");

    // the consent withdrawn; withdrawn again, the page says it already is
    let path = format!("{page}/consents/{}/withdraw", pupil.consent);
    done(
        &post(&server, "csc", &social_worker, &path, "").await,
        child,
        "withdrawn",
    );
    refused(
        &post(&server, "csc", &social_worker, &path, "").await,
        "This consent has already been withdrawn",
        &[],
    );
    assert_eq!(
        audited(&server, child, "sw.amara", "consent.withdraw").await,
        1
    );

    // the MAPPA coordinator: a category out of range, then the status set
    let coordinator = server
        .console_session(&principal(
            &server,
            "mappa",
            "coord.reid",
            Role::MappaCoordinator,
        ))
        .await;
    let mappa = server.token("mappa", "coord.reid", &[Role::MappaCoordinator]);
    // the forum's agency knows the child once it has set its status: through the API first
    let r = server
        .client("mappa")
        .put(
            &format!("/v1/subjects/{child}/mappa"),
            &mappa,
            &json!({"active": false, "category": 1, "level": 1}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let shown = get_page(&server, "mappa", &coordinator, &page).await;
    assert!(
        shown.body.contains("mappa-form"),
        "the coordinator may set it"
    );
    let path = format!("{page}/mappa");
    let answer = post(
        &server,
        "mappa",
        &coordinator,
        &path,
        "active=true&category=5&level=2",
    )
    .await;
    refused(&answer, "Category must be 1, 2 or 3", &[]);
    let answer = post(
        &server,
        "mappa",
        &coordinator,
        &path,
        "active=true&category=2&level=2",
    )
    .await;
    done(&answer, child, "mappa");
    assert_eq!(
        audited(&server, child, "coord.reid", "mappa.status").await,
        2
    );
    let shown = get_page(
        &server,
        "mappa",
        &coordinator,
        &format!("{page}?done=mappa"),
    )
    .await;
    assert!(shown.body.contains("The MAPPA status has been set."));
    assert!(shown.body.contains("Under active MAPPA management"));

    // a form posted without the session's CSRF token changes nothing
    let answer = server
        .post_form(
            "mappa",
            &path,
            Some(&coordinator.cookie),
            b"active=false&category=1&level=1",
        )
        .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(
        audited(&server, child, "coord.reid", "mappa.status").await,
        2
    );
    server.stop().await;
}
