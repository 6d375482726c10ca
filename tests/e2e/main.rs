//! Workspace end-to-end tests: they start the real `portcullis` binary as child
//! processes (a DMZ node and an inner node), inject payloads through the DMZ admin
//! API, kill and restart nodes with SIGKILL, and check what lands in the inbox.

mod support;

mod address_rules;
mod audit;
mod bad_input;
mod check_config;
mod config_push;
mod connections;
mod crash;
mod ctl;
mod ctl_send;
mod delivery;
mod demo;
mod inner_down;
mod invisible;
mod keep_config;
mod metrics;
mod outbound_fetch;
mod outbound_mail_as2;
mod outbound_pickup;
mod outbound_responses;
mod outbound_send;
mod partner_as2;
mod partner_bad_input;
mod partner_crash;
mod partner_ftp;
mod partner_mail_bad_input;
mod partner_sftp;
mod partner_sizes;
mod partner_smtp;
mod pause;
mod retry;
mod status_page;
