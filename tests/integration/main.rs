//! Every integration test, in one crate over one harness ([`harness`], on the fakes' local
//! stack): the function against the loopback fakes, in process and as its binary.

mod harness;

mod aws_cli_scripts;
mod clusters;
mod deferral;
mod deployment;
mod doctor;
mod flavours;
mod lambda_binary;
mod layout;
mod properties;
mod resilience;
mod roles;
mod security;
mod sign_in;
mod sweep;
mod teams;
mod token;
mod token_path;
