//! The console's static files, compiled into the binary from `console/assets/` (rebuilt from
//! the pinned npm packages by `console/vendor.sh`): a fixed table, so nothing else on disk can
//! be served.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

macro_rules! assets {
    ($($path:literal => $media:literal),+ $(,)?) => {
        /// (path under `/ui/assets/`, media type, bytes)
        const ASSETS: &[(&str, &str, &[u8])] = &[
            $(($path, $media, include_bytes!(concat!("../../console/assets/", $path)))),+
        ];
    };
}

assets! {
    "govuk/govuk-frontend.min.css" => "text/css; charset=utf-8",
    "govuk/fonts/bold-affa96571d-v2.woff" => "font/woff",
    "govuk/fonts/bold-b542beb274-v2.woff2" => "font/woff2",
    "govuk/fonts/light-94a07e06a1-v2.woff2" => "font/woff2",
    "govuk/fonts/light-f591b13f7d-v2.woff" => "font/woff",
    "govuk/images/favicon.svg" => "image/svg+xml",
    "govuk/images/govuk-crest.svg" => "image/svg+xml",
    "console.css" => "text/css; charset=utf-8",
    "packet.js" => "text/javascript; charset=utf-8",
    "VERSIONS" => "text/plain; charset=utf-8",
}

pub async fn serve(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((_, media, bytes)) => {
            let mut r = (StatusCode::OK, *bytes).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            r
        }
        None => super::view::error_page(
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is no such file.",
        )
        .into_response(),
    }
}
