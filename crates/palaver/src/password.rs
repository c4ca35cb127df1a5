//! Reading a password for `hash-password` and `admin register`/`reset-password`: from the
//! terminal without echo, asked twice since a typo cannot be seen, or from the first line of
//! standard input when that is not a terminal (scripts).

use std::io::IsTerminal;

use anyhow::Context;

pub fn read() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let password =
            rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let again = rpassword::prompt_password("Again: ").context("cannot read the password")?;
        anyhow::ensure!(password == again, "the two passwords differ");
        password
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.strip_suffix('\n').unwrap_or(&line);
        password.strip_suffix('\r').unwrap_or(password).to_owned()
    };
    anyhow::ensure!(!password.is_empty(), "the password is empty");
    Ok(password)
}
