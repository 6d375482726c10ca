//! SSH user authentication: a private key (OpenSSH, PKCS#8 or PKCS#1 PEM, with
//! an optional passphrase), or a password, sent as `password` and, if the server
//! only takes `keyboard-interactive` (PAM setups), as the answer to its prompts.

use std::sync::Arc;

use russh::MethodKind;
use russh::client::{AuthResult, Handle, KeyboardInteractiveAuthResponse};
use russh::keys::PrivateKeyWithHashAlg;

use super::host_key::HostKeyCheck;
use crate::endpoint::Secret;
use crate::error::RemoteError;

/// Rounds of keyboard-interactive prompts answered before giving up.
const PROMPT_ROUNDS: usize = 3;

/// Logs in as `user` with `secret`.
pub(super) async fn login(ssh: &mut Handle<HostKeyCheck>, user: &str, secret: &Secret) -> Result<(), RemoteError> {
    match secret {
        Secret::PrivateKey { pem, passphrase } => with_key(ssh, user, pem, passphrase.as_deref()).await,
        Secret::Password(password) => with_password(ssh, user, password).await,
    }
}

async fn with_key(
    ssh: &mut Handle<HostKeyCheck>,
    user: &str,
    pem: &str,
    passphrase: Option<&str>,
) -> Result<(), RemoteError> {
    let key = russh::keys::decode_secret_key(pem, passphrase)
        .map_err(|e| RemoteError::Config(format!("the SSH private key cannot be read: {e}")))?;
    let rsa_hash = ssh.best_supported_rsa_hash().await.ok().flatten().flatten();
    let key = PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash);
    let result = ssh.authenticate_publickey(user, key).await.map_err(|e| broken(&e))?;
    outcome(user, &result, "public key refused")
}

async fn with_password(ssh: &mut Handle<HostKeyCheck>, user: &str, password: &str) -> Result<(), RemoteError> {
    let result = ssh.authenticate_password(user, password).await.map_err(|e| broken(&e))?;
    match &result {
        AuthResult::Failure { remaining_methods, .. }
            if remaining_methods.contains(&MethodKind::KeyboardInteractive) =>
        {
            keyboard_interactive(ssh, user, password).await
        }
        _ => outcome(user, &result, "password refused"),
    }
}

/// Answers every prompt with the password, for a few rounds.
async fn keyboard_interactive(ssh: &mut Handle<HostKeyCheck>, user: &str, password: &str) -> Result<(), RemoteError> {
    let mut reply = ssh.authenticate_keyboard_interactive_start(user, None).await.map_err(|e| broken(&e))?;
    for _ in 0..PROMPT_ROUNDS {
        match reply {
            KeyboardInteractiveAuthResponse::Success => return Ok(()),
            KeyboardInteractiveAuthResponse::Failure { .. } => break,
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                let answers = prompts.iter().map(|_| password.to_owned()).collect();
                reply = ssh.authenticate_keyboard_interactive_respond(answers).await.map_err(|e| broken(&e))?;
            }
        }
    }
    match reply {
        KeyboardInteractiveAuthResponse::Success => Ok(()),
        _ => Err(refused(user, "password refused (keyboard-interactive)")),
    }
}

fn outcome(user: &str, result: &AuthResult, refusal: &str) -> Result<(), RemoteError> {
    match result {
        AuthResult::Success => Ok(()),
        AuthResult::Failure { partial_success: true, .. } => {
            Err(refused(user, "the server wants a second authentication method, which is not supported"))
        }
        AuthResult::Failure { .. } => Err(refused(user, refusal)),
    }
}

fn refused(user: &str, reply: &str) -> RemoteError {
    RemoteError::Login { user: user.to_owned(), reply: reply.to_owned() }
}

fn broken(error: &russh::Error) -> RemoteError {
    RemoteError::Broken { what: "SSH login".into(), reason: error.to_string() }
}
