//! What IG officers can do with the audit log over the real API: list, filter, page and export
//! it within their agency's scope, review overrides once, read a child's history; and how bad
//! filter values are refused.

mod common;

use broker::client::Response;
use broker::vocab::Role;
use common::audit::{actions, all as audit_all, involves, page as audit_page, seq, seqs, upto};
use common::audited::*;
use common::db::*;
use common::flows::problem;
use serde_json::{Value, json};

// ---- for IG officers -------------------------------------------------------------------------

#[tokio::test]
async fn each_audit_filter_narrows_the_list_to_exactly_the_matching_entries() {
    let b = busy().await;
    let (c, ig) = (&b.case.partnership, &b.case.ig);
    let all = upto(&audit_all(c, ig, "").await, b.last);
    assert_eq!(seqs(&all), (1..=b.last).collect::<Vec<_>>());
    let middle = all[all.len() / 2].clone();
    let at = middle["at"].as_str().unwrap().to_owned();
    let child = b.case.child.clone();
    type Filter = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(String, Filter)> = vec![
        (
            format!("subject_id={child}"),
            Box::new(move |e: &Value| e["subject_id"] == child.as_str()),
        ),
        (
            "agency=police".into(),
            Box::new(|e: &Value| involves(e, "police")),
        ),
        (
            "decision=deny".into(),
            Box::new(|e: &Value| e["decision"] == "deny"),
        ),
        (
            "decision=permit".into(),
            Box::new(|e: &Value| e["decision"] == "permit"),
        ),
        (
            "basis=significant_harm".into(),
            Box::new(|e: &Value| e["basis"] == "significant_harm"),
        ),
        (
            "basis=consent".into(),
            Box::new(|e: &Value| e["basis"] == "consent"),
        ),
        (format!("from={at}"), {
            let at = at.clone();
            Box::new(move |e: &Value| e["at"].as_str().unwrap() >= at.as_str())
        }),
        (format!("to={at}"), {
            let at = at.clone();
            Box::new(move |e: &Value| e["at"].as_str().unwrap() < at.as_str())
        }),
        (format!("after_seq={}", seq(&middle)), {
            let m = seq(&middle);
            Box::new(move |e: &Value| seq(e) > m)
        }),
        (
            format!(
                "decision=permit&agency=school-riverside&subject_id={}",
                b.riverside_child
            ),
            {
                let child = b.riverside_child.clone();
                Box::new(move |e: &Value| {
                    e["decision"] == "permit"
                        && involves(e, "school-riverside")
                        && e["subject_id"] == child.as_str()
                })
            },
        ),
    ];
    for (query, matches) in cases {
        let expected: Vec<i64> = all.iter().filter(|e| matches(e)).map(seq).collect();
        assert!(
            !expected.is_empty() && expected.len() < all.len(),
            "{query} should narrow the list: {expected:?}"
        );
        let got = upto(
            &audit_page(c, ig, &format!("{query}&limit=1000")).await["entries"]
                .as_array()
                .unwrap()
                .clone(),
            b.last,
        );
        assert_eq!(seqs(&got), expected, "GET /v1/audit?{query}");
    }
    let page = audit_page(c, ig, "limit=3").await;
    assert_eq!(seqs(page["entries"].as_array().unwrap()), vec![1, 2, 3]);
    assert_eq!(page["next_after_seq"], 3);
    b.case.stop().await;
}

#[tokio::test]
async fn cursor_paging_walks_every_entry_exactly_once() {
    let b = busy().await;
    let (c, ig) = (&b.case.partnership, &b.case.ig);
    let mut walked = Vec::new();
    let mut after = 0;
    let mut pages = 0;
    loop {
        let page = audit_page(c, ig, &format!("after_seq={after}&limit=4")).await;
        let entries = page["entries"].as_array().unwrap().clone();
        assert!(entries.len() <= 4);
        walked.extend(seqs(&entries));
        pages += 1;
        assert!(pages < 100, "the walk does not end");
        match page["next_after_seq"].as_i64() {
            Some(next) => {
                assert_eq!(entries.len(), 4, "a short page has no next cursor");
                assert_eq!(next, seq(entries.last().unwrap()));
                after = next;
            }
            None => break,
        }
    }
    // Each page's query is itself an entry, so the walk ends past b.last; no seq is skipped
    // or repeated.
    assert!(*walked.last().unwrap() >= b.last);
    assert_eq!(walked, (1..=*walked.last().unwrap()).collect::<Vec<_>>());
    b.case.stop().await;
}

#[tokio::test]
async fn a_partnership_ig_officer_sees_everything_and_a_school_ig_officer_only_its_own_entries() {
    let b = busy().await;
    let all = upto(
        &audit_all(&b.case.partnership, &b.case.ig, "").await,
        b.last,
    );
    assert_eq!(seqs(&all), (1..=b.last).collect::<Vec<_>>());

    let seen = audit_all(&b.riverside, &b.riverside_ig, "").await;
    for entry in &seen {
        assert!(
            involves(entry, "school-riverside"),
            "a Riverside IG officer sees an entry not involving Riverside: {entry}"
        );
    }
    let expected: Vec<i64> = all
        .iter()
        .filter(|e| involves(e, "school-riverside"))
        .map(seq)
        .collect();
    assert_eq!(seqs(&upto(&seen, b.last)), expected);
    for own in [
        b.riverside_permit,
        b.riverside_read,
        b.riverside_deposit,
        b.riverside_concern,
        b.riverside_owned_deny,
    ] {
        assert!(expected.contains(&own), "entry {own} involves Riverside");
    }
    for other in [b.permit, b.deny, b.read, b.override_seq] {
        assert!(
            !expected.contains(&other),
            "entry {other} is not Riverside's"
        );
    }
    // The same scope applies to the export, the history and the review queue.
    let r = get(&b.riverside, "/v1/audit/export.csv", &b.riverside_ig).await;
    let exported: Vec<i64> = r
        .text()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .filter(|s| *s <= b.last)
        .collect();
    assert_eq!(exported, expected, "the Riverside export");
    // A child Riverside has no entry about is answered as an unknown id would be (issue 10),
    // so the answer does not tell Riverside that the child exists.
    let r = get(
        &b.riverside,
        &format!("/v1/subjects/{}/history", b.case.child),
        &b.riverside_ig,
    )
    .await;
    problem(&r, 404, "not_found");
    let ghost = uuid::Uuid::new_v4().to_string();
    let unknown = get(
        &b.riverside,
        &format!("/v1/subjects/{ghost}/history"),
        &b.riverside_ig,
    )
    .await;
    assert_eq!(
        r.text().replace(b.case.child.as_str(), "ID"),
        unknown.text().replace(&ghost, "ID"),
        "another agency's child and an unknown id get the same answer"
    );
    // A child registered by another agency that Riverside received a packet about is known.
    let r = get(
        &b.riverside,
        &format!("/v1/subjects/{}/history", b.riverside_child),
        &b.riverside_ig,
    )
    .await;
    let own = expect(
        &r,
        200,
        "the history of a child Riverside was sent a packet about",
    );
    assert!(
        seqs(own["disclosures"].as_array().unwrap()).contains(&b.riverside_permit),
        "{own}"
    );
    // Riverside's own concern, delivered on legal_obligation, waits for review; nothing else
    let r = get(&b.riverside, "/v1/audit/reviews", &b.riverside_ig).await;
    let queue = expect(&r, 200, "the queue")["awaiting_review"].clone();
    assert_eq!(
        seqs(queue.as_array().unwrap()),
        [b.riverside_concern],
        "{queue}"
    );
    b.case.stop().await;
}

#[tokio::test]
async fn roles_other_than_ig_officer_are_refused_every_audit_endpoint() {
    let case = Case::start().await;
    let head_teacher = case
        .server
        .token("school-hillside", "ht.brown", &[Role::HeadTeacher]);
    let child = case.child.clone();
    for (client, token) in [(&case.csc, &case.sw), (&case.hillside, &head_teacher)] {
        for path in [
            "/v1/audit".to_owned(),
            "/v1/audit/export.csv".to_owned(),
            "/v1/audit/verify".to_owned(),
            "/v1/audit/reviews".to_owned(),
            format!("/v1/subjects/{child}/history"),
        ] {
            let r = get(client, &path, token).await;
            problem(&r, 403, "role_not_permitted");
        }
        let r = post(
            client,
            "/v1/audit/reviews/1",
            token,
            &json!({"outcome": "upheld", "note": "fine"}),
        )
        .await;
        problem(&r, 403, "role_not_permitted");
    }
    case.stop().await;
}

#[tokio::test]
async fn the_csv_export_has_a_header_and_the_same_rows_as_the_json_list() {
    let b = busy().await;
    let (c, ig) = (&b.case.partnership, &b.case.ig);
    let csv_seqs = |text: &str| -> Vec<i64> {
        text.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect()
    };
    let filter = format!("subject_id={}", b.case.child);
    let listed = audit_all(c, ig, &filter).await;
    let r = get(c, &format!("/v1/audit/export.csv?{filter}"), ig).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.content_type().starts_with("text/csv"),
        "{}",
        r.content_type()
    );
    let text = r.text();
    assert!(
        text.starts_with("seq,at,actor_agency,"),
        "a header line: {text}"
    );
    assert_eq!(text.lines().count(), listed.len() + 1);
    assert_eq!(csv_seqs(&text), seqs(&listed));

    // Unfiltered, the export also holds the list's own entry and its own.
    let page = audit_page(c, ig, "limit=1000").await;
    let listed = page["entries"].as_array().unwrap().clone();
    let r = get(c, "/v1/audit/export.csv", ig).await;
    let mut expected = seqs(&listed);
    let query = page["audit_seq"].as_i64().unwrap();
    expected.extend([query, query + 1]);
    assert_eq!(csv_seqs(&r.text()), expected);
    b.case.stop().await;
}

#[tokio::test]
async fn an_override_waits_for_review_until_an_ig_officer_reviews_it_once() {
    let b = busy().await;
    let (c, ig) = (&b.case.partnership, &b.case.ig);
    let queue = |r: Response| -> Vec<i64> {
        seqs(
            expect(&r, 200, "the review queue")["awaiting_review"]
                .as_array()
                .unwrap(),
        )
    };
    let mut awaiting = b.merlin.clone();
    awaiting.extend([b.override_seq, b.riverside_concern]);
    assert_eq!(queue(get(c, "/v1/audit/reviews", ig).await), awaiting);
    let review = json!({"outcome": "upheld", "note": "Threshold met; proportionate."});
    let path = format!("/v1/audit/reviews/{}", b.override_seq);
    let r = post(c, &path, ig, &review).await;
    let done = expect(&r, 201, "the review");
    assert_eq!(done["override_seq"], b.override_seq);
    assert_eq!(done["outcome"], "upheld");
    let mut still = b.merlin.clone();
    still.push(b.riverside_concern);
    assert_eq!(
        queue(get(c, "/v1/audit/reviews", ig).await),
        still,
        "the reviewed override leaves the queue; the MERLIN notices and the concern await theirs"
    );
    let again = post(c, &path, ig, &review).await;
    problem(&again, 409, "already_reviewed");
    let not_override = post(c, &format!("/v1/audit/reviews/{}", b.permit), ig, &review).await;
    problem(&not_override, 404, "not_found");
    let review_entry = stored_row(b.case.db(), done["audit_seq"].as_i64().unwrap()).await;
    assert_eq!(review_entry.action, "audit.review");
    b.case.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_ten_simultaneous_reviews_of_one_override_one_is_accepted_and_nine_are_409() {
    let b = busy().await;
    let path = format!("/v1/audit/reviews/{}", b.override_seq);
    // Every reviewer connects first, then all send at once.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let client = b.case.server.client("partnership");
        let token = b
            .case
            .server
            .token("partnership", &format!("ig.{i}"), &[Role::IgOfficer]);
        let path = path.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            let warm = client
                .send(hyper::Method::GET, "/healthz", None, None)
                .await
                .expect("connecting");
            assert_eq!(warm.status, 200);
            start.wait().await;
            let review = json!({"outcome": "upheld", "note": "Threshold met; proportionate."});
            let r = post(&client, &path, &token, &review).await;
            (r.status.as_u16(), r.text())
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers.sort();
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    let mut expected = vec![409; 9];
    expected.insert(0, 201);
    assert_eq!(statuses, expected, "{answers:#?}");
    assert_eq!(count(b.case.db(), "audit_reviews").await, 1);
    b.case.stop().await;
}

#[tokio::test]
async fn a_subject_history_lists_the_childs_disclosures_and_packet_reads() {
    let b = busy().await;
    let r = get(
        &b.case.partnership,
        &format!("/v1/subjects/{}/history", b.case.child),
        &b.case.ig,
    )
    .await;
    let history = expect(&r, 200, "the history");
    let entries = history["disclosures"].as_array().unwrap();
    assert_eq!(
        seqs(entries),
        [
            vec![b.permit, b.deny, b.read],
            b.merlin.clone(),
            vec![b.override_seq]
        ]
        .concat()
    );
    assert_eq!(
        actions(entries),
        [
            "disclosure",
            "disclosure",
            "packet.read",
            "disclosure",
            "disclosure",
            "disclosure"
        ]
    );
    assert_eq!(entries[0]["recipient"]["agency"], "school-hillside");
    assert_eq!(entries[0]["basis"], "consent");
    assert_eq!(entries[2]["actor"]["agency"], "school-hillside");
    // the MERLIN notices, to youth support and the Contact Service
    for (notice, to) in [(&entries[3], "yos"), (&entries[4], "csc")] {
        assert_eq!(notice["basis"], "legal_obligation", "{notice}");
        assert_eq!(notice["recipient"]["agency"], to, "{notice}");
    }
    assert_eq!(entries[5]["basis"], "significant_harm");
    assert!(entries[5]["justification"].is_string());
    let unknown = get(
        &b.case.partnership,
        &format!("/v1/subjects/{}/history", uuid::Uuid::new_v4()),
        &b.case.ig,
    )
    .await;
    problem(&unknown, 404, "not_found");
    b.case.stop().await;
}

#[tokio::test]
async fn bad_audit_filter_values_are_400_problem_json() {
    let case = Case::start().await;
    let mut wrong = Vec::new();
    for query in [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "decision=maybe",
        "subject_id=x",
        "basis=hunch",
        "from=yesterday",
        "after_seq=last",
        "colour=red",
    ] {
        for endpoint in ["/v1/audit", "/v1/audit/export.csv"] {
            let path = format!("{endpoint}?{query}");
            let r = get(&case.partnership, &path, &case.ig).await;
            let body = r.json();
            if r.status != 400
                || r.content_type() != "application/problem+json"
                || body["status"] != 400
                || !body["code"].is_string()
            {
                wrong.push(format!(
                    "{path}: {} {} {}",
                    r.status,
                    r.content_type(),
                    r.text()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "not a 400 problem+json:\n{}",
        wrong.join("\n")
    );
    case.stop().await;
}

#[tokio::test]
async fn control_characters_in_audit_text_filters_are_400_naming_the_filter() {
    let case = Case::start().await;
    for (query, name) in [
        ("agency=%00", "agency"),
        ("agency=csc%1B%5B2J", "agency"),
        ("action=disclosure%0Aforged", "action"),
        ("action=x%C2%85", "action"),
        ("agency=%E2%80%AEcsc", "agency"),
    ] {
        for endpoint in ["/v1/audit", "/v1/audit/export.csv"] {
            let path = format!("{endpoint}?{query}");
            let r = get(&case.partnership, &path, &case.ig).await;
            let body = expect(&r, 400, &path);
            assert_eq!(r.content_type(), "application/problem+json", "{path}");
            assert_eq!(body["code"], "invalid_query", "{path}: {body}");
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("parameter {name} ")),
                "the refusal names the parameter {name}: {path}: {body}"
            );
        }
    }
    // ordinary text still filters
    let r = get(
        &case.partnership,
        "/v1/audit?agency=csc&action=disclosure",
        &case.ig,
    )
    .await;
    expect(&r, 200, "plain text filters");
    case.stop().await;
}
