//! Session sampling: decided once per session, deterministically from its key, so a session
//! (its steps and calls included, in every service that joins it) is kept or dropped whole.

/// Whether the session `key` is kept at `ratio` (0.0 keeps none, 1.0 keeps all).
pub(crate) fn session_sampled(key: &str, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    // 53 well-mixed bits as a fraction in [0, 1).
    let fraction = (mix(fnv1a(key.as_bytes())) >> 11) as f64 / (1u64 << 53) as f64;
    fraction < ratio
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// splitmix64's finaliser: FNV alone leaves similar keys with similar high bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_close_to_ratio() {
        let kept = (0..10_000)
            .filter(|i| session_sampled(&format!("session-{i}"), 0.25))
            .count();
        assert!((2_000..3_000).contains(&kept), "kept {kept}");
        for i in 0..100 {
            let k = format!("k{i}");
            assert_eq!(session_sampled(&k, 0.5), session_sampled(&k, 0.5));
        }
        assert!(session_sampled("x", 1.0));
        assert!(!session_sampled("x", 0.0));
    }
}
