//! The `tongban` binary's library half, so tests can drive the router
//! without a socket. From the bottom up: the shared [`state`] and the swap
//! of the serving table, and the [`follower`] of the deployment log that
//! decides when to swap; the application layer ([`flows`]), which knows no
//! HTTP; the two front doors over it, the JSON API ([`api`]) and the pages
//! ([`web`]); the background [`workers`]; and the command line ([`cli`]).

pub mod admission;
pub mod api;
pub mod cli;
pub mod compiler;
pub mod config;
pub mod demo;
pub mod error;
pub mod flows;
pub mod follower;
pub mod metrics;
pub mod request_log;
pub mod state;
pub mod web;
pub mod workers;
