//! The CLI's one error type. Every command returns [`CliError`] for failures
//! that are not the command's normal answer; its message is printed as is, so
//! it names the problem (the file, the field, the import), lower case and
//! without a trailing period.

use std::process::ExitCode;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The user asked for something that cannot be done as asked.
    #[error("{0}")]
    Usage(String),
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// An external step (cargo) failed; its output was already shown.
    #[error("{0}")]
    Build(String),
    /// The platform itself failed (database, runtime start-up).
    #[error("{0}")]
    Platform(String),
    /// The server refused the request; `code` is the envelope's stable code.
    #[error("服务器拒绝 / refused ({status} {code}): {message}")]
    Api { status: u16, code: String, message: String },
    /// The server could not be reached or did not answer.
    #[error("cannot reach the server {0}")]
    Unreachable(String),
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::Usage(message.into())
    }

    pub fn io(path: &std::path::Path, source: std::io::Error) -> CliError {
        CliError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Usage(_) => ExitCode::from(64),
            CliError::Io { .. } => ExitCode::from(74),
            CliError::Build(_) => ExitCode::from(65),
            CliError::Platform(_) => ExitCode::from(70),
            CliError::Api { .. } => ExitCode::from(1),
            CliError::Unreachable(_) => ExitCode::from(69),
        }
    }
}

impl From<tongban_registry::PackageError> for CliError {
    fn from(e: tongban_registry::PackageError) -> CliError {
        CliError::Usage(e.to_string())
    }
}
