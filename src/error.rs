//! The endpoint client's error type. (Stub: the client work fills it in.)

/// Errors of the endpoint client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}
