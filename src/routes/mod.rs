//! HTTP routes, one module per area, each exposing a `router()`.

pub mod audit;
pub mod disclosures;
pub mod extract;
pub mod health;
pub mod inbox;
pub mod records;
pub mod subjects;
