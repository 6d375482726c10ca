//! The offline commands: `check-config` and `hash-password`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use argon2::{Argon2, PasswordHasher};

/// Exit status for a bad configuration (EX_USAGE).
pub const BAD_CONFIG: u8 = 64;

pub fn check_config(file: &Path) -> ExitCode {
    match config::load(file, config::parse) {
        Ok(config::Settings::Dmz(_)) => ok(file, "DMZ"),
        Ok(config::Settings::Inner(_)) => ok(file, "inner"),
        Err(problems) => report(&problems),
    }
}

fn ok(file: &Path, role: &str) -> ExitCode {
    println!("{}: valid {role} config", file.display());
    ExitCode::SUCCESS
}

/// Prints every problem, one per line, and returns the bad-config status.
pub fn report(problems: &[String]) -> ExitCode {
    eprintln!("{} problem(s) in the configuration:", problems.len());
    for problem in problems {
        eprintln!("  {problem}");
    }
    ExitCode::from(BAD_CONFIG)
}

pub fn hash_password() -> ExitCode {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (input is shown): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    if let Err(error) = stdin.lock().read_line(&mut line) {
        eprintln!("cannot read the password: {error}");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        eprintln!("refusing an empty password");
        return ExitCode::FAILURE;
    }
    match Argon2::default().hash_password(password.as_bytes()) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot hash: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `keygen FILE`: loads or makes an ed25519 key and prints its public line.
pub fn keygen(file: &Path) -> ExitCode {
    match sftp::keys::load_or_generate(file) {
        Ok(key) => {
            println!("{}", sftp::keys::public_line(key.public_key()));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("portcullis keygen: {error}");
            ExitCode::FAILURE
        }
    }
}
