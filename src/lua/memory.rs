//! Keeps running out of memory a Lua error ("not enough memory", catchable by `pcall`, reported
//! for a callback) instead of an abort of the whole process.
//!
//! mlua's allocator aborts when the system allocator fails, but it refuses an allocation that
//! would pass the state's memory limit, and Lua turns that refusal into its memory error (after
//! an emergency collection). So when the process runs under an address-space limit
//! (`ulimit -v`, `RLIMIT_AS`), the Lua state gets a limit that stops it well before the process
//! reaches the system's: Lua is refused first, and Rust (buffers, sockets) keeps the rest.

use mlua::Lua;

/// What stays out of Lua's share for the process's own allocations, at least.
const RESERVE_MIN: u64 = 16 << 20;

/// Gives the Lua state a memory limit when the process has an address-space limit.
/// Returns the limit set, in bytes.
pub fn limit_to_address_space(lua: &Lua) -> Option<u64> {
    let limit = address_space_limit()?;
    let used = virtual_size().unwrap_or(0);
    let lua_share = lua_share(limit, used);
    lua.set_memory_limit(usize::try_from(lua_share).unwrap_or(usize::MAX))
        .ok()?;
    Some(lua_share)
}

/// Sets the Lua state's memory limit to `bytes` (`--memory-limit`), replacing the one derived
/// from the address-space limit.
pub fn set_limit(lua: &Lua, bytes: u64) -> mlua::Result<()> {
    lua.set_memory_limit(usize::try_from(bytes).unwrap_or(usize::MAX).max(1 << 20))?;
    Ok(())
}

/// Lua's share of the address space left: three quarters, less a fixed reserve.
fn lua_share(limit: u64, used: u64) -> u64 {
    let free = limit.saturating_sub(used);
    let reserve = (free / 4).max(RESERVE_MIN);
    free.saturating_sub(reserve).max(free / 4).max(1 << 20)
}

/// The soft `RLIMIT_AS` in bytes, if there is one.
fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) };
    if status != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    Some(limit.rlim_cur)
}

/// The process's virtual size now (`VmSize`), in bytes.
fn virtual_size() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmSize:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_gets_three_quarters_of_what_is_left_and_rust_keeps_a_reserve() {
        let mib = 1u64 << 20;
        assert_eq!(lua_share(300 * mib, 100 * mib), 150 * mib);
        // Little left: the fixed reserve dominates, Lua still gets a quarter.
        assert_eq!(lua_share(120 * mib, 100 * mib), 5 * mib);
        // Nothing left: a minimal share rather than none (which would mean "no limit").
        assert_eq!(lua_share(100 * mib, 200 * mib), mib);
    }
}
