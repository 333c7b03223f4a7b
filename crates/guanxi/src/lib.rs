//! The `guanxi` command: configuration, subcommands and the demo world.
//! The library part exists so integration tests drive the same code.

pub mod activity_gen;
pub mod bench;
pub mod bench_activities;
pub mod bench_pool;
pub mod cli;
pub mod config;
pub mod crm_gen;
pub mod dedupe_cmd;
pub mod demo;
pub mod dirty;
pub mod import_cmd;
pub mod jobs;
pub mod table;
