//! Baileys-style JSON codecs (spec section 5).

/// Why a JSON encode or decode failed.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("{0}")]
    InvalidAdditionalData(String),
    #[error("{0}")]
    Argument(String),
}
