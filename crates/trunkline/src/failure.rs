//! How a command fails, and the exit status each failure gets. Scripts can tell a mistake in
//! the command line or the settings from a failure at run time, and both from `trunks test`'s
//! verdict that a trunk is unhealthy; the client commands (`sip …`, `call …`) also tell a
//! request the server refused from a server that could not be reached.
//!
//! One table for the whole binary: 0 done, 1 failed at run time, 2 "no" (`trunks test`: the
//! trunk is unusable; client commands: the server refused the request), 3 the server could not
//! be reached, 64 a usage mistake. Usage is 64 (sysexits' EX_USAGE), not 1, because 1 already
//! means a run-time failure for the operator commands and scripts rely on that.

use std::process::ExitCode;

/// Exit status of `trunks test` when the trunk does not look usable.
pub const EXIT_UNHEALTHY: u8 = 2;
/// Exit status of a command-line or settings mistake (sysexits.h's EX_USAGE); clap's own
/// default, 2, would be taken for an unhealthy trunk.
pub const EXIT_USAGE: u8 = 64;
/// Exit status of a client command the server answered with an error (4xx or 5xx).
pub const EXIT_REFUSED: u8 = 2;
/// Exit status of a client command whose server could not be reached, or did not answer.
pub const EXIT_UNREACHABLE: u8 = 3;

#[derive(Debug)]
pub enum Failure {
    /// A flag, argument or setting (environment variable) is wrong: exit 64.
    Usage(String),
    /// Anything else (database, files, network, a missing trunk): exit 1.
    Runtime(String),
    /// A client command's request was answered with an error: exit 2. The message holds the
    /// server's message and, one per line, each field error.
    Refused(String),
    /// A client command could not reach the server, or got no answer in time: exit 3.
    Unreachable(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::Runtime(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Self::Runtime(message.to_owned())
    }
}

impl Failure {
    pub fn exit(self) -> ExitCode {
        let (message, code) = match self {
            Self::Usage(m) => (m, EXIT_USAGE),
            Self::Runtime(m) => (m, 1),
            Self::Refused(m) => (m, EXIT_REFUSED),
            Self::Unreachable(m) => (m, EXIT_UNREACHABLE),
        };
        eprintln!("error: {message}");
        ExitCode::from(code)
    }
}

/// A parse failure from clap: help and version go to stdout with status 0; a value one of
/// our parsers refused is shown as that parser's message alone (it names the variable and
/// the flag); the rest as clap renders it. All exit 64.
pub fn clap_exit(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::ValueValidation => {
            match std::error::Error::source(&e) {
                Some(why) => eprintln!("error: {why}"),
                None => {
                    let _ = e.print();
                }
            }
            ExitCode::from(EXIT_USAGE)
        }
        _ => {
            let _ = e.print();
            ExitCode::from(EXIT_USAGE)
        }
    }
}
