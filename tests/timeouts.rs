//! Slow and idle clients over real TCP and mTLS ([server] timeouts and caps): a silent TCP
//! connection, a connection idle after its handshake or between requests, headers and a body
//! trickled at one byte a second, and the cap on connections per agency. Each server runs with
//! bounds of a second or two, so every case ends in seconds.

mod common;

use std::time::{Duration, Instant};

use broker::vocab::Role;
use common::TestServer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Reads until the server closes the connection (EOF or reset), at most `bound`; returns how
/// long that took and what was read. Panics when the connection is still open after `bound`.
async fn until_closed<S: AsyncRead + Unpin>(stream: &mut S, bound: Duration) -> (Duration, String) {
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + bound).into(), stream.read(&mut buf)).await {
            Err(_) => panic!(
                "the connection was still open after {bound:?}; read so far: {:?}",
                String::from_utf8_lossy(&seen)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (start.elapsed(), String::from_utf8_lossy(&seen).into_owned());
            }
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// `[server]` settings: connections idle for a second are closed; headers may take 8 s.
const IDLE_1S: &str = "idle_timeout_ms = 1000\nheader_read_timeout_ms = 8000";
/// `[server]` settings: connections idle for a second are closed; a body may take 8 s.
const IDLE_1S_BODY_8S: &str = "idle_timeout_ms = 1000\nbody_read_timeout_ms = 8000";
/// `[server]` settings: a head must arrive within 2 s; idle connections live 30 s.
const HEADERS_2S: &str = "header_read_timeout_ms = 2000\nidle_timeout_ms = 30000";
/// `[server]` settings: a body must arrive within 2 s; idle connections live 30 s.
const BODY_2S: &str = "body_read_timeout_ms = 2000\nidle_timeout_ms = 30000";
/// `[server]` settings: a head must arrive within 1 s; idle connections live 30 s.
const HEADERS_1S: &str = "header_read_timeout_ms = 1000\nidle_timeout_ms = 30000";

const SECOND: Duration = Duration::from_secs(1);
const TEN_SECONDS: Duration = Duration::from_secs(10);

/// Writes `bytes` one a second (`every`) until the server stops taking them or `bound`
/// passes; returns how long the server took to stop the trickle.
async fn trickle<S: AsyncWrite + AsyncRead + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    every: Duration,
    bound: Duration,
) -> (Duration, String) {
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    for b in bytes.iter().cycle() {
        assert!(
            start.elapsed() < bound,
            "the server still took the trickle after {bound:?}; read so far: {:?}",
            String::from_utf8_lossy(&seen)
        );
        if stream.write_all(&[*b]).await.is_err() || stream.flush().await.is_err() {
            return (start.elapsed(), String::from_utf8_lossy(&seen).into_owned());
        }
        match tokio::time::timeout(every, stream.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (start.elapsed(), String::from_utf8_lossy(&seen).into_owned());
            }
            Ok(Ok(n)) => {
                seen.extend_from_slice(&buf[..n]);
                // an answer arrived: read the rest until the server closes
                let (_, rest) = until_closed(stream, Duration::from_secs(5)).await;
                seen.extend_from_slice(rest.as_bytes());
                return (start.elapsed(), String::from_utf8_lossy(&seen).into_owned());
            }
        }
    }
    unreachable!("cycle never ends")
}

/// The head of `POST /v1/subjects` with a JSON body of `len` bytes to follow.
fn post_subject_head(token: &str, len: usize) -> String {
    format!(
        "POST /v1/subjects HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: {len}\r\n\r\n"
    )
}

/// A raw mTLS connection as csc's social worker that has sent the head of a `POST
/// /v1/subjects` announcing a body of `len` bytes, and none of the body yet.
async fn posting_a_subject(
    server: &TestServer,
    len: usize,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let token = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let mut tls = server.tls_stream("csc").await;
    start_posting(&mut tls, &token, len).await;
    tls
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// Sends on `tls`, as `token`'s person, the head of a `POST /v1/subjects` announcing a body
/// of `len` bytes, and none of the body: a request in flight until its body arrives.
async fn start_posting(tls: &mut Tls, token: &str, len: usize) {
    tls.write_all(post_subject_head(token, len).as_bytes())
        .await
        .unwrap();
    tls.flush().await.unwrap();
}

/// One HTTP/1.1 answer read off `tls` (head and `content-length` body) within 5 s, the
/// connection left open.
async fn read_answer(tls: &mut Tls) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let text = String::from_utf8_lossy(&seen).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= len {
                    return text;
                }
            }
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&seen).into_owned(),
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.expect("an answer within 5 s")
}

/// `GET /v1/whoami` as `token`'s person on `tls`; the answer.
async fn whoami_on(tls: &mut Tls, token: &str) -> String {
    let head = format!(
        "GET /v1/whoami HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\n\r\n"
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    read_answer(tls).await
}

/// A connection of `agency`'s dev certificate that has been answered 200 as `token`'s person
/// and then holds a request in flight (a body awaited), so no newcomer may close it.
async fn served_then_busy(server: &TestServer, agency: &str, token: &str) -> Tls {
    let mut tls = server.tls_stream(agency).await;
    let answer = whoami_on(&mut tls, token).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    start_posting(&mut tls, token, 64).await;
    tls
}

/// Writes one byte of a head that never ends on `tls` every 300 ms until the connection
/// fails: a client trickling its headers, which has no request in flight.
fn trickle_a_head(mut tls: Tls) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tls
            .write_all(b"GET /healthz HTTP/1.1\r\nx-slow: ")
            .await
            .is_err()
        {
            return;
        }
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if tls.write_all(b"a").await.is_err() || tls.flush().await.is_err() {
                return;
            }
        }
    })
}

/// Waits until `count` reaches `at_least` (at most 5 s).
async fn until_counted(count: impl Fn() -> u64, at_least: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while count() < at_least {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {at_least}",
            count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_silent_tcp_connection_is_closed_at_the_tls_handshake_timeout() {
    let server = TestServer::start_with("tls_handshake_timeout_ms = 800").await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (took, _) = until_closed(&mut tcp, Duration::from_secs(5)).await;
    println!("silent TCP connection closed after {took:?} (bound 800 ms)");
    assert!(
        took >= Duration::from_millis(700),
        "closed too early: {took:?}"
    );
    assert!(server.state.metrics.refused_handshakes() >= 1);
    server.stop().await;
}

#[tokio::test]
async fn a_connection_idle_after_the_handshake_is_closed_within_the_idle_timeout() {
    // the header read timeout is longer, so it is the idle bound that closes the connection
    let server = TestServer::start_with(IDLE_1S).await;
    let mut tls = server.tls_stream("csc").await;
    let (took, read) = until_closed(&mut tls, Duration::from_secs(5)).await;
    println!("connection idle after the handshake closed after {took:?} (bound 1000 ms)");
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
    assert!(
        read.is_empty(),
        "nothing is sent to an idle connection: {read:?}"
    );
    assert_eq!(server.state.metrics.idle_closed(), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_connection_idle_between_requests_is_closed_within_the_idle_timeout() {
    let server = TestServer::start_with(IDLE_1S).await;
    let mut tls = server.tls_stream("csc").await;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = tls.read(&mut buf).await.unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (took, _) = until_closed(&mut tls, Duration::from_secs(5)).await;
    println!("keep-alive connection idle after a request closed after {took:?} (bound 1000 ms)");
    assert!(
        took >= Duration::from_millis(800),
        "closed too early: {took:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_request_in_flight_is_not_cut_off_as_idle() {
    // the body arrives over about 2.5 s, longer than the idle bound, within the body bound
    let server = TestServer::start_with(IDLE_1S_BODY_8S).await;
    let body = br#"{"x": 1}"#;
    let mut tls = posting_a_subject(&server, body.len()).await;
    for b in body {
        tokio::time::sleep(Duration::from_millis(300)).await;
        tls.write_all(&[*b]).await.unwrap();
        tls.flush().await.unwrap();
    }
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(
        answer.starts_with("HTTP/1.1 422"),
        "the whole body was read and judged: {answer}"
    );
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert_eq!(server.state.metrics.idle_closed(), 0);
    server.stop().await;
}

#[tokio::test]
async fn headers_trickled_at_one_byte_a_second_are_cut_off_at_the_header_read_timeout() {
    let server = TestServer::start_with(HEADERS_2S).await;
    let mut tls = server.tls_stream("csc").await;
    let head =
        b"GET /healthz HTTP/1.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let (took, read) = trickle(&mut tls, head, SECOND, TEN_SECONDS).await;
    println!("headers at 1 byte/s cut off after {took:?} (bound 2000 ms)");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        !read.contains("200 OK"),
        "no answer to a head never finished: {read}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_body_trickled_at_one_byte_a_second_is_answered_408_problem_json() {
    let server = TestServer::start_with(BODY_2S).await;
    let before = common::audit_head(&server).await;
    let body = br#"{"date_of_birth": "2015-01-01", "local_authority": "somewhere far away"}"#;
    let mut tls = posting_a_subject(&server, body.len()).await;
    let (took, read) = trickle(&mut tls, body, SECOND, TEN_SECONDS).await;
    println!("a body at 1 byte/s cut off after {took:?} (bound 2000 ms)");
    assert!(read.starts_with("HTTP/1.1 408"), "{read}");
    assert!(read.contains("application/problem+json"), "{read}");
    assert!(read.contains("\"code\":\"body_timeout\""), "{read}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(
        common::audit_head(&server).await,
        before,
        "nothing was written"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_agency_beyond_its_connection_cap_is_answered_429_and_counted() {
    let server = TestServer::start_with("max_connections_per_agency = 3").await;
    let token = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    // each of the three is served, then holds a request in flight: none is idle to make room
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(served_then_busy(&server, "csc", &token).await);
    }
    let fourth = server.client("csc");
    let r = fourth.get("/v1/whoami", &token).await.unwrap();
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.content_type(), "application/problem+json");
    assert_eq!(r.json()["code"], "too_many_connections", "{}", r.text());
    assert_eq!(server.state.metrics.refused_connections(), 1);
    // another agency has its own slots
    let police = server.person("police", "pc.jones", Role::PoliceOfficer);
    let r = police.get("/v1/whoami").await;
    assert_eq!(r.status, 200, "{}", r.text());
    // closing one frees a slot
    drop(open);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = server
            .client("csc")
            .get("/v1/whoami", &token)
            .await
            .unwrap();
        if r.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a slot was never freed: {}",
            r.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn an_http1_connection_waiting_for_its_next_request_is_also_bounded_by_the_header_read_timeout()
 {
    // hyper starts the header read timer as soon as it waits for a head, so on HTTP/1 the
    // effective keep-alive bound is the smaller of the two timeouts
    let server = TestServer::start_with(HEADERS_1S).await;
    let mut tls = server.tls_stream("csc").await;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = tls.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let (took, _) = until_closed(&mut tls, Duration::from_secs(5)).await;
    println!(
        "keep-alive connection closed by the header read timeout after {took:?} (bound 1000 ms)"
    );
    assert!(
        took >= Duration::from_millis(800),
        "closed too early: {took:?}"
    );
    assert_eq!(
        server.state.metrics.idle_closed(),
        0,
        "not the idle watchdog"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_new_connection_at_the_agency_cap_closes_the_agencys_longest_idle_connection() {
    let server = TestServer::start_with("max_connections_per_agency = 3").await;
    let token = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut tls = server.tls_stream("csc").await;
        assert!(
            whoami_on(&mut tls, &token)
                .await
                .starts_with("HTTP/1.1 200")
        );
        open.push(tls);
    }
    // idle long enough (a second) to give way to a newcomer
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let r = server
        .client("csc")
        .get("/v1/whoami", &token)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(server.state.metrics.room_closed(), 1);
    assert_eq!(server.state.metrics.refused_connections(), 0);
    // the first opened, idle the longest, was the one closed
    let (_, read) = until_closed(&mut open[0], Duration::from_secs(5)).await;
    assert!(read.is_empty(), "closed without a word: {read:?}");
    server.stop().await;
}

/// Every user of csc shares its certificate: one person holds all four of the agency's
/// connections, two with a request in flight whose body trickles and two trickling a head.
#[tokio::test]
async fn one_client_trickling_on_every_connection_of_its_agency_cannot_lock_out_its_other_users() {
    let server = TestServer::start_with(
        "max_connections_per_agency = 4\nmax_connections_per_person = 2\n\
         header_read_timeout_ms = 20000\nbody_read_timeout_ms = 20000\nidle_timeout_ms = 30000",
    )
    .await;
    let mallory = server.token("csc", "sw.mallory", &[Role::SocialWorker]);
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut tls = server.tls_stream("csc").await;
        start_posting(&mut tls, &mallory, 64).await;
        busy.push(tls);
    }
    // a third request of the same person in flight is refused: it cannot be held
    let mut third = server.tls_stream("csc").await;
    start_posting(&mut third, &mallory, 64).await;
    let answer = read_answer(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.contains("\"code\":\"too_many_requests_in_flight\""),
        "{answer}"
    );
    // (its body unread, the connection is closed after the answer)
    until_closed(&mut third, Duration::from_secs(5)).await;
    // so the other two connections trickle a head instead
    let mut trickles = Vec::new();
    for _ in 0..2 {
        trickles.push(trickle_a_head(server.tls_stream("csc").await));
    }
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // another person over the same certificate, and another certificate of csc: both served
    let amara = server.person("csc", "sw.amara", Role::SocialWorker);
    let r = amara.get("/v1/whoami").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let laptop = server
        .dev_ca()
        .client_cert("Bob's laptop", Some("csc"))
        .unwrap();
    let bob = server.token("csc", "sw.bob", &[Role::SocialWorker]);
    let r = server
        .client_with(&laptop)
        .get("/v1/whoami", &bob)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let metrics = server.state.metrics.clone();
    until_counted(
        || metrics.room_closed(),
        2,
        "trickling connections closed for room",
    )
    .await;
    assert_eq!(metrics.refused_connections(), 0);
    for t in trickles {
        tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .expect("the trickles were cut off")
            .unwrap();
    }
    drop(busy);
    server.stop().await;
}

#[tokio::test]
async fn one_certificate_cannot_take_more_than_its_cap_of_its_agencys_connections() {
    let server =
        TestServer::start_with("max_connections_per_agency = 4\nmax_connections_per_client = 2")
            .await;
    let laptop = server
        .dev_ca()
        .client_cert("A csc laptop", Some("csc"))
        .unwrap();
    let token = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut tls = server.tls_stream_with(&laptop).await.unwrap();
        start_posting(&mut tls, &token, 64).await;
        busy.push(tls);
    }
    let r = server
        .client_with(&laptop)
        .get("/v1/whoami", &token)
        .await
        .unwrap();
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["code"], "too_many_connections", "{}", r.text());
    let detail = r.json()["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains("max_connections_per_client"), "{detail}");
    // the agency's other certificate is served
    let r = server
        .client("csc")
        .get("/v1/whoami", &token)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    drop(busy);
    server.stop().await;
}

#[tokio::test]
async fn a_person_whose_requests_are_done_may_use_a_new_connection_again() {
    let server = TestServer::start_with("max_connections_per_person = 1").await;
    let token = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let mut first = server.tls_stream("csc").await;
    start_posting(&mut first, &token, 64).await;
    let mut second = server.tls_stream("csc").await;
    let answer = whoami_on(&mut second, &token).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("max_connections_per_person"), "{answer}");
    // once the first request ends (here: its connection closes), the person may go on
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = whoami_on(&mut second, &token).await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}
