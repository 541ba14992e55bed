//! Why a JSON encode or decode fails, and the messages of the exceptions the
//! original raises in those places.

use std::fmt;

/// Why a JSON encode or decode failed, and what the original returns or does
/// in that case.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonError {
    /// `{:error, {:invalid_additional_data, message}}` (message is exact).
    #[error("{0}")]
    InvalidAdditionalData(String),
    /// The original raises `ArgumentError` inside its rescue:
    /// `{:error, %ArgumentError{message: message}}`.
    #[error("{0}")]
    Argument(String),
    /// The original raises some other exception (`FunctionClauseError`,
    /// `KeyError`, `BadMapError`, `CaseClauseError`, `Protocol.UndefinedError`,
    /// an `ErlangError` from the JSON encoder) that escapes its rescue and
    /// crashes the caller. We return an error instead; the message names
    /// what the original would have raised.
    #[error("{0}")]
    Unsupported(String),
    /// `JSON.decode/1` failed: the original returns `{:error, reason}` with
    /// the reason tuple this describes.
    #[error("{0}")]
    Syntax(SyntaxError),
    /// The file holds the JSON literal `null`. The original treats that like
    /// a missing file: `load_keys` gives `{:error, :not_found}` and
    /// `load_credentials` a fresh `State.new()`.
    #[error("the document is null")]
    Null,
    /// Nesting beyond `limits::MAX_VALUE_DEPTH` / `limits::MAX_JSON_DEPTH`
    /// (the original has no bound).
    #[error("nesting too deep")]
    TooDeep,
    /// A document larger than `limits::MAX_INPUT_BYTES` /
    /// `limits::MAX_OUTPUT_BYTES` (the original has no bound).
    #[error("document too large")]
    TooLarge,
    /// An integer longer than `bigint::MAX_DECIMAL_DIGITS` decimal digits,
    /// in a document read or a value to write (the original has no bound;
    /// converting such an integer takes time quadratic in its length).
    #[error("integer too large")]
    IntegerTooLarge,
}

/// Why `JSON.decode/1` refuses a document; the NIF returns it as the same
/// `{:unexpected_end, offset}` / `{:invalid_byte, offset, byte}` /
/// `{:unexpected_sequence, offset, bytes}` reason the original returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyntaxError {
    UnexpectedEnd { offset: usize },
    InvalidByte { offset: usize, byte: u8 },
    UnexpectedSequence { offset: usize, bytes: Vec<u8> },
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyntaxError::UnexpectedEnd { offset } => {
                write!(
                    f,
                    "unexpected end of JSON binary at position (byte offset) {offset}"
                )
            }
            SyntaxError::InvalidByte { offset, byte } => {
                write!(f, "invalid byte {byte} at position (byte offset) {offset}")
            }
            SyntaxError::UnexpectedSequence { offset, bytes } => write!(
                f,
                "unexpected sequence {:?} at position (byte offset) {offset}",
                String::from_utf8_lossy(bytes)
            ),
        }
    }
}

/// The message of a `FunctionClauseError` in the original module.
pub(crate) fn no_clause(function: &str) -> JsonError {
    JsonError::Unsupported(format!(
        "no function clause matching in BaileysEx.Auth.FilePersistence.{function}"
    ))
}

/// The message of the VM's badarg for `:erlang.list_to_binary/1`.
pub(crate) fn not_iolist() -> JsonError {
    JsonError::Argument(
        "errors were found at the given arguments:\n\n  * 1st argument: not an iolist term\n"
            .to_owned(),
    )
}
