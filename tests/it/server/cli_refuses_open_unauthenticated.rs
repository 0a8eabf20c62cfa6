//! `humanloop-tracing serve` on a non-loopback address without API keys is refused with a
//! message naming the ways out, before anything is bound (issue 13, item 6).
#![cfg(feature = "server")]

use std::process::Command;

#[test]
fn a_non_loopback_address_without_keys_is_refused() {
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:8787"] {
        let out = Command::new(env!("CARGO_BIN_EXE_humanloop-tracing"))
            .args(["serve", "--addr", addr, "--in-memory"])
            .env_remove("HUMANLOOP_SERVER_API_KEYS")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{addr} was served");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("refusing to serve"), "{addr}: {err}");
        for way_out in [
            "--api-key",
            "HUMANLOOP_SERVER_API_KEYS",
            "127.0.0.1",
            "--allow-unauthenticated",
        ] {
            assert!(
                err.contains(way_out),
                "{addr}: {err} does not name {way_out}"
            );
        }
        assert!(
            out.stdout.is_empty(),
            "{addr}: it printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn with_a_key_or_the_flag_the_check_passes() {
    // 192.0.2.1 (TEST-NET-1) is not an address of this machine: once the check passes, the
    // bind fails, which shows the check let it through without serving anything.
    for extra in [&["--api-key", "k"][..], &["--allow-unauthenticated"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_humanloop-tracing"))
            .args(["serve", "--addr", "192.0.2.1:8787", "--in-memory"])
            .args(extra)
            .env_remove("HUMANLOOP_SERVER_API_KEYS")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("refusing to serve"), "{extra:?}: {err}");
        assert!(err.contains("cannot serve"), "{extra:?}: {err}");
    }
}
