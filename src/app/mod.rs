//! The command-line application: clap arguments, per-command settings, the printer and the
//! commands. The only layer that reads the environment, talks to the terminal or prints.

pub mod bundle;
pub mod cli;
pub mod client_config;
pub mod commands;
pub mod endpoint;
pub mod flags;
pub mod hooks;
pub mod keyless_settings;
pub mod metrics;
pub mod printer;
pub mod run;
pub mod settings;
pub mod signing;
pub mod sync;
