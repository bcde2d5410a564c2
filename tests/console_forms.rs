//! The console's forms decoded strictly, over HTTP without a browser: a field that is not UTF-8
//! once percent-decoded, a body that is not UTF-8, or a field sent twice is refused with a 400
//! page (not JSON) naming the problem, and nothing is stored or audited; the same form, well
//! formed, goes through.

mod common;

use broker::vocab::Role;
use common::console::principal;
use common::flows::{self, head_seq};
use common::{RawAnswer, TestServer};

/// A 400 console page with the code `invalid_form` whose text mentions each of `mentions`.
fn assert_refused_page(answer: &RawAnswer, what: &str, mentions: &[&str]) {
    assert_eq!(answer.status, 400, "{what}: {answer:?}");
    assert!(
        answer.head.contains("content-type: text/html"),
        "{what}: a page, not JSON: {answer:?}"
    );
    assert!(
        answer.body.contains("invalid_form"),
        "{what}: {}",
        answer.body
    );
    for m in mentions {
        assert!(
            answer.body.contains(m),
            "{what}: mentions {m}: {}",
            answer.body
        );
    }
}

async fn sessions(server: &TestServer) -> i64 {
    common::db::count(&server.state.db, "console_sessions").await
}

#[tokio::test]
async fn a_dev_sign_in_form_not_utf8_or_with_a_field_sent_twice_is_refused_with_400_and_opens_no_session()
 {
    let server = TestServer::start().await;
    // the dev form's double-submit token: the cookie and the field carry the same value
    let pre = "__Host-broker_pre=0123456789abcdef";
    let before = head_seq(&server).await;
    for (body, mentions) in [
        (
            &b"csrf=0123456789abcdef&sub=dsl.%FF%FE&role=dsl"[..],
            &["sub", "UTF-8"][..],
        ),
        (
            b"csrf=0123456789abcdef&sub=dsl.\xffjones&role=dsl",
            &["UTF-8"],
        ),
        (
            b"csrf=0123456789abcdef&s%C0%AFb=dsl.jones&role=dsl",
            &["UTF-8"],
        ),
        (
            b"csrf=0123456789abcdef&sub=dsl.jones&role=dsl&sub=head.patel",
            &["sub", "more than once"],
        ),
        (
            b"csrf=0123456789abcdef&sub=dsl.jones&role=dsl&role=head_teacher",
            &["role", "more than once"],
        ),
    ] {
        let what = String::from_utf8_lossy(body).into_owned();
        let answer = server
            .post_form("school-hillside", "/ui/signin/dev", Some(pre), body)
            .await;
        assert_refused_page(&answer, &what, mentions);
        assert!(
            !answer.head.contains("__host-broker_session="),
            "{what}: no session cookie: {answer:?}"
        );
        assert_eq!(sessions(&server).await, 0, "{what}: no session stored");
        assert_eq!(head_seq(&server).await, before, "{what}: nothing audited");
    }
    // the same form, well formed, signs in: the refusals above were the encoding's doing
    let answer = server
        .post_form(
            "school-hillside",
            "/ui/signin/dev",
            Some(pre),
            b"csrf=0123456789abcdef&sub=dsl.jones&role=dsl",
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.head.contains("__host-broker_session="), "{answer:?}");
    assert_eq!(sessions(&server).await, 1);
    assert!(head_seq(&server).await > before, "the sign-in is audited");
    server.stop().await;
}

#[tokio::test]
async fn an_acknowledgement_form_not_utf8_or_with_its_token_sent_twice_is_refused_with_400_and_acknowledges_nothing()
 {
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let pupil = common::hillside_pupil(&csc, &sw).await;
    let request = flows::request(
        &pupil.record,
        "school-hillside",
        Some("dsl"),
        "safeguarding",
        "consent",
    );
    let r = flows::disclose(&csc, &sw, &request).await;
    let packet = flows::permitted(
        &r,
        "limited_summary",
        &["summary", "risk_management"],
        &[],
        &[],
    );
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    flows::open_packet(&server, "school-hillside", &dsl, &packet).await;
    let who = principal(&server, "school-hillside", "dsl.jones", Role::Dsl);
    let session = server.console_session(&who).await;
    let csrf = &session.csrf;
    let path = format!("/ui/inbox/{packet}/ack");
    let before = head_seq(&server).await;
    for (body, mentions) in [
        (
            format!("csrf={csrf}&csrf={csrf}").into_bytes(),
            &["csrf", "more than once"][..],
        ),
        (
            format!("csrf={csrf}&note=%FF").into_bytes(),
            &["note", "UTF-8"],
        ),
        (
            [format!("csrf={csrf}&note=").as_bytes(), b"\xc3\x28"].concat(),
            &["UTF-8"],
        ),
    ] {
        let what = String::from_utf8_lossy(&body).into_owned();
        let answer = server
            .post_form("school-hillside", &path, Some(&session.cookie), &body)
            .await;
        assert_refused_page(&answer, &what, mentions);
        assert_eq!(head_seq(&server).await, before, "{what}: nothing audited");
    }
    // well formed, the same form acknowledges the packet (audited) and goes back to it
    let answer = server
        .post_form(
            "school-hillside",
            &path,
            Some(&session.cookie),
            format!("csrf={csrf}").as_bytes(),
        )
        .await;
    assert_eq!(answer.status, 303, "{answer:?}");
    assert!(
        head_seq(&server).await > before,
        "the acknowledgement is audited"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_review_form_with_a_note_not_utf8_or_an_outcome_sent_twice_is_refused_with_400() {
    let server = TestServer::start().await;
    let who = principal(&server, "partnership", "ig.okafor", Role::IgOfficer);
    let session = server.console_session(&who).await;
    let csrf = &session.csrf;
    let before = head_seq(&server).await;
    for (body, mentions) in [
        (
            format!("csrf={csrf}&outcome=upheld&note=fine%C3"),
            &["note", "UTF-8"][..],
        ),
        (
            format!("csrf={csrf}&outcome=upheld&note=fine&outcome=concern"),
            &["outcome", "more than once"],
        ),
    ] {
        let answer = server
            .post_form(
                "partnership",
                "/ui/audit/reviews/1",
                Some(&session.cookie),
                body.as_bytes(),
            )
            .await;
        assert_refused_page(&answer, &body, mentions);
        assert_eq!(head_seq(&server).await, before, "{body}: nothing audited");
    }
    server.stop().await;
}
