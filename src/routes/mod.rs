//! HTTP routes, one module per area, each exposing a `router()`.

pub mod health;
pub mod inbox;
