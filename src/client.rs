//! A small mTLS HTTP/1.1 client with one keep-alive connection, used by `broker demo`, the
//! load generator and the integration tests: it talks to the broker as an agency would.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub struct Client {
    addr: SocketAddr,
    connector: TlsConnector,
    sender: Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl Client {
    pub fn new(addr: SocketAddr, tls: Arc<rustls::ClientConfig>) -> Client {
        Client {
            addr,
            connector: TlsConnector::from(tls),
            sender: Mutex::new(None),
        }
    }

    /// A client presenting an agency's certificate from PEM files, trusting `ca`.
    pub fn from_files(
        addr: SocketAddr,
        ca: &Path,
        cert: &Path,
        key: &Path,
    ) -> anyhow::Result<Client> {
        let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
        let tls = crate::crypto::client_tls_config(&read(ca)?, &read(cert)?, &read(key)?)?;
        Ok(Client::new(addr, tls))
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from("localhost")?.to_owned();
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .context("TLS handshake")?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends one request; `body` is sent as JSON when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<Response> {
        let bytes = match body {
            Some(v) => Bytes::from(serde_json::to_vec(v)?),
            None => Bytes::new(),
        };
        self.send_raw(method, path, token, body.map(|_| "application/json"), bytes)
            .await
    }

    /// Sends raw bytes with an optional content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Bytes,
    ) -> anyhow::Result<Response> {
        let mut guard = self.sender.lock().await;
        let mut sender = match guard.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        sender.ready().await.context("connection not ready")?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .body(Full::new(body))?;
        if let Some(token) = token {
            request.headers_mut().insert(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {token}"))?,
            );
        }
        if let Some(ct) = content_type {
            request
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_str(ct)?);
        }
        let response = sender
            .send_request(request)
            .await
            .context("sending the request")?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .context("reading the response")?
            .to_bytes();
        *guard = Some(sender);
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<Response> {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<Response> {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<Response> {
        self.send(Method::PUT, path, Some(token), Some(body)).await
    }
}
