//! `server admin create-owner --email EMAIL`: creates an owner account from the command line. The
//! password is read from the terminal without echo (asked twice), or as one line from standard
//! input when that is not a terminal (for scripts: `printf '%s\n' "$PW" | server admin …`).

use super::db::AdminDb;
use super::login::parse_email;
use super::password::{self, Password};
use anyhow::{bail, Context};
use std::io::{BufRead, IsTerminal};

/// Creates an owner account, stamped by the shop's `clock`.
pub async fn create_owner(
    db: &AdminDb,
    email: &str,
    clock: &app::rules::Clock,
) -> anyhow::Result<String> {
    let email = parse_email(email).map_err(anyhow::Error::msg)?;
    let raw = read_password()?;
    let password = Password::parse(&raw).map_err(anyhow::Error::msg)?;
    let hash = password::hash(password).await.map_err(anyhow::Error::msg)?;
    let created = db
        .add_owner(&email, &hash, clock.now().instant(), false)
        .await
        .context("could not store the owner")?;
    if !created {
        bail!("an owner with the email {email} already exists");
    }
    Ok(email)
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password (at least 12 characters): ")?;
        let again = rpassword::prompt_password("The same password again: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("could not read the password from standard input")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}
