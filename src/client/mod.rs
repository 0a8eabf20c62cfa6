//! The typed endpoint client. (Stub: the client work fills it in.)

use crate::config::Config;
use crate::error::Error;

/// Client of the Humanloop-style endpoint.
#[derive(Clone, Debug)]
pub struct Client {
    _private: (),
}

impl Client {
    /// A client configured like `config` (base URL, key, timeouts, retry policy).
    pub fn from_config(config: &Config) -> Result<Client, Error> {
        let _ = config;
        Ok(Client { _private: () })
    }
}
