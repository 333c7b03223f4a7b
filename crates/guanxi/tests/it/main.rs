//! Guanxi's integration tests: one binary, real HTTP through the real router,
//! every test on SQLite and on PostgreSQL.

#[macro_use]
pub mod harness;

mod api_access;
mod api_accounts;
mod api_activities;
mod api_auth;
mod api_contacts;
mod api_errors;
mod api_import;
pub(crate) mod api_matrix;
mod api_merge_search;
mod api_opportunities;
mod api_pool;
mod browser;
mod cli;
mod crash;
mod exchange;
mod import;
mod notify;
mod ownership;
mod pages_matrix;
mod schema;
mod web;
