mod common;

use broker::vocab::Role;

#[tokio::test]
async fn a_dsl_with_a_dev_certificate_and_token_reads_an_empty_inbox() {
    let server = common::TestServer::start().await;
    let client = server.client("school-hillside");
    let token = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let response = client.get("/v1/inbox", &token).await.unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), serde_json::json!([]));
    server.stop().await;
}
