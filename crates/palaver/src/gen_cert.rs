//! `palaver gen-cert`: a self-signed certificate and its key for trying TLS out, written as
//! `cert.pem` and `key.pem` (the key readable by its owner only).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

/// The files written, in `--out-dir`.
const CERTIFICATE_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";

#[derive(Debug, Args)]
pub struct GenCertArgs {
    /// Where to write cert.pem and key.pem.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out_dir: PathBuf,

    /// A host name or IP address the certificate is for; repeatable. Clients check that the
    /// name they connect to is one of these.
    #[arg(
        long = "name",
        value_name = "HOST",
        default_values = ["localhost", "127.0.0.1", "::1"]
    )]
    names: Vec<String>,

    /// Replace cert.pem and key.pem if they exist.
    #[arg(long)]
    force: bool,
}

pub fn run(args: GenCertArgs) -> anyhow::Result<()> {
    let certificate_path = args.out_dir.join(CERTIFICATE_FILE);
    let key_path = args.out_dir.join(KEY_FILE);
    if !args.force {
        for path in [&certificate_path, &key_path] {
            anyhow::ensure!(
                !path.exists(),
                "{} exists; give --force to replace it",
                path.display()
            );
        }
    }
    let generated = rcgen::generate_simple_self_signed(args.names.clone())
        .context("cannot generate the certificate")?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    write(&certificate_path, generated.cert.pem().as_bytes(), 0o644)?;
    write(
        &key_path,
        generated.signing_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    let fingerprint = palaver_server::tls::fingerprint(generated.cert.der());
    println!(
        "wrote {} (self-signed, for {}; SHA-256 {fingerprint})",
        certificate_path.display(),
        args.names.join(", ")
    );
    println!("wrote {} (its private key)", key_path.display());
    println!(
        "serve with: palaver serve --irc-tls-listen 0.0.0.0:6697 --tls-cert {} --tls-key {}",
        certificate_path.display(),
        key_path.display()
    );
    println!(
        "connect with: palaver connect --ca {} localhost",
        certificate_path.display()
    );
    Ok(())
}

/// Writes `contents` to a new `path` (or over it) with permission bits `mode`.
fn write(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| file.write_all(contents))
        .with_context(|| format!("cannot write {}", path.display()))
}
