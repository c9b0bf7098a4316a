//! The one error type of every decoder in this crate.

/// Why a payload could not be turned into spans. Decoders never panic on hostile input;
/// they return one of these, and the receiver counts it and answers 400/InvalidArgument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unexpected end of input at byte {0}")]
    Truncated(usize),
    #[error("malformed {format} payload: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    #[error("payload exceeds a limit: {0}")]
    TooLarge(String),
}

impl DecodeError {
    pub fn malformed(format: &'static str, reason: impl Into<String>) -> Self {
        DecodeError::Malformed {
            format,
            reason: reason.into(),
        }
    }
}
