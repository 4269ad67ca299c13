//! The `tongban` binary's library half: the HTTP API ([`api`]) and the
//! command line ([`cli`]), so tests can drive the router without a socket.

pub mod api;
pub mod cli;
pub mod compiler;
pub mod config;
pub mod demo;
pub mod error;
pub mod metrics;
pub mod request_log;
pub mod web;
pub mod workers;
