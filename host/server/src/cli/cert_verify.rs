//! `tongban cert verify FILE --public-key HEX`: check an exported certificate
//! or annotated copy offline: its SM3 digest against the document and its SM2
//! seal against the platform public key the verifier trusts (never the key
//! the file itself names). Exits 0 when the seal holds, 1 when it does not.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use tongban_services::certificates::SealedDocument;

use crate::error::CliError;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The exported copy (JSON).
    file: PathBuf,
    /// The platform's SM2 public key (SEC1, hex), from a trusted source.
    #[arg(long, value_name = "HEX", env = "TONGBAN_SEAL_PUBLIC_KEY")]
    public_key: String,
}

pub fn run(args: VerifyArgs) -> Result<ExitCode, CliError> {
    let text = std::fs::read_to_string(&args.file).map_err(|e| CliError::io(&args.file, e))?;
    let sealed =
        SealedDocument::from_json(&text).map_err(|e| CliError::usage(format!("{}: {e}", args.file.display())))?;
    match sealed.verify(&args.public_key) {
        Ok(()) => {
            // A certificate names itself; an annotated copy names the
            // certificate it copies, its purpose and its expiry.
            let document = &sealed.document;
            let id = document
                .get("id")
                .or_else(|| document.get("certificate").and_then(|c| c.get("id")))
                .and_then(|v| v.as_str())
                .unwrap_or("(no id)");
            println!("印章有效 / seal valid: {id} (SM3 {})", sealed.sm3);
            if let Some(purpose) = document
                .get("purpose")
                .and_then(|p| p.get("text"))
                .and_then(|t| t.as_str())
            {
                println!("加注件用途 / copy for: {purpose}");
            }
            if let Some(expires) = document.get("expires-at").and_then(|e| e.as_i64()) {
                println!(
                    "加注件有效期至 / copy valid until: {}",
                    super::remote::show_time(expires)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("印章无效 / seal invalid: {}: {e}", args.file.display());
            Ok(ExitCode::FAILURE)
        }
    }
}
