//! A small deterministic generator (xorshift) for the unit tests' randomised cases, so that
//! they need no dependency and replay the same cases every run.

pub struct Rng(pub u64);

impl Rng {
    /// The next value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}
