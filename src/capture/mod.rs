//! The body tee and the in-flight call record. (Stub: the capture work fills it in.)
