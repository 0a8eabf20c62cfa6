//! The compatible local endpoint. (Stub: the server work fills it in.)
