//! 查重: finding one organisation under different spellings.
//!
//! [`company_key`] reduces a name; [`compare`] weighs two records (name,
//! USCC, phones, city) and says whether they are the same organisation,
//! possibly the same, a branch and its head office, or different.

pub mod cluster;
mod matcher;
mod name;
pub mod regions;

pub use cluster::{cluster, pairwise_scores, Entry};
pub use matcher::{compare, Reason, Record, Verdict};
pub use name::{company_key, NameKey};
