//! Integration tests: the web UI (one file per guarantee).

mod csp_forbids_inline_script;
mod escapes_hostile_content;
mod login_cookie;
mod pages_show_the_session;
