//! Thin adapters over the capture core. (Stub: the capture work fills it in.)
