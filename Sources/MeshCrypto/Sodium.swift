import CSodium

/// libsodium must be initialised once before use; `sodium_init` is idempotent and thread-safe.
enum Sodium {
    static let initialised: Void = {
        // sodium_init returns 0 on first success, 1 if already initialised, -1 on failure.
        // A failure means no usable randomness source: nothing secure can continue.
        precondition(sodium_init() >= 0, "libsodium failed to initialise")
    }()
}
